//! The environment model shared by the detector, the builder and the launcher.
//!
//! Values are OS strings: env files are used raw (no trimming, no UTF-8 requirement).

mod action;
mod files;
mod kind;

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

pub use action::{Action, PATH_LIST_SEPARATOR, default_action};
pub use kind::{
    BUILD_ENV_INCLUDE_LIST, BUILD_ROOT_DIRS, EnvKind, LAUNCH_ENV_EXCLUDE_LIST, LAUNCH_ROOT_DIRS,
    LIFECYCLE_DIR, PROCESS_DIR,
};

use action::Suffix;
use files::{env_files, read_raw};

/// Name of the env-file directory under `<platform>` and `<build-config>`, and of a
/// layer's env directory.
pub const ENV_DIR: &str = "env";

/// Why an environment could not be assembled.
#[derive(Debug, thiserror::Error)]
pub enum EnvError {
    /// An env-file directory could not be read (message as in the reference).
    #[error("apply env files from dir '{}': {source}", dir.display())]
    EnvDir {
        /// The directory.
        dir: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// A layer directory could not be inspected.
    #[error("failed to inspect {}: {source}", path.display())]
    RootDir {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
}

/// A set of environment variables (sorted by name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Env {
    kind: EnvKind,
    vars: BTreeMap<OsString, OsString>,
}

impl Env {
    /// The base environment for `/bin/detect`, `/bin/build` and `/bin/generate`: only
    /// [`BUILD_ENV_INCLUDE_LIST`] and the layer path variables of `environ` survive.
    pub fn for_build<I, K, V>(environ: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<OsString>,
        V: Into<OsString>,
    {
        let vars = environ
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .filter(|(k, _)| {
                k.to_str().is_some_and(|k| {
                    BUILD_ENV_INCLUDE_LIST.contains(&k) || EnvKind::Build.is_path_var(k)
                })
            })
            .collect();
        Env {
            kind: EnvKind::Build,
            vars,
        }
    }

    /// The base environment of a launched process: `environ` minus
    /// [`LAUNCH_ENV_EXCLUDE_LIST`], with every [`PROCESS_DIR`] and [`LIFECYCLE_DIR`]
    /// entry removed from `PATH`.
    pub fn for_launch<I, K, V>(environ: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<OsString>,
        V: Into<OsString>,
    {
        let mut vars: BTreeMap<OsString, OsString> = environ
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .filter(|(k, _)| !LAUNCH_ENV_EXCLUDE_LIST.iter().any(|x| k == x))
            .collect();
        if let Some(path) = vars.get_mut(OsStr::new("PATH")) {
            let kept: Vec<&[u8]> = path
                .as_bytes()
                .split(|b| *b == b':')
                .filter(|p| *p != PROCESS_DIR.as_bytes() && *p != LIFECYCLE_DIR.as_bytes())
                .collect();
            *path = OsStr::from_bytes(&kept.join(&b':')).to_os_string();
        }
        Env {
            kind: EnvKind::Launch,
            vars,
        }
    }

    /// Build or launch.
    pub fn kind(&self) -> EnvKind {
        self.kind
    }

    /// The value of `name`, if set.
    pub fn get(&self, name: impl AsRef<OsStr>) -> Option<&OsStr> {
        self.vars.get(name.as_ref()).map(OsString::as_os_str)
    }

    /// Sets `name` to `value` (exec.d output, `CNB_*` variables).
    pub fn set(&mut self, name: impl Into<OsString>, value: impl Into<OsString>) {
        self.vars.insert(name.into(), value.into());
    }

    /// The variables, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = (&OsStr, &OsStr)> {
        self.vars
            .iter()
            .map(|(k, v)| (k.as_os_str(), v.as_os_str()))
    }

    /// The variables as owned pairs, sorted by name (for `Command::envs`).
    pub fn to_vec(&self) -> Vec<(OsString, OsString)> {
        self.vars.clone().into_iter().collect()
    }

    fn current(&self, name: &OsStr) -> &OsStr {
        self.get(name).unwrap_or_default()
    }

    /// Prepends the existing subdirectories of layer `dir` to their path variables
    /// (`bin` to `PATH`, `lib` to `LD_LIBRARY_PATH` and at build `LIBRARY_PATH`, and at
    /// build `include` to `CPATH`, `pkgconfig` to `PKG_CONFIG_PATH`), separated by `:`.
    /// `dir` is made absolute first. Like the reference, anything existing under the
    /// name counts (following symlinks).
    pub fn add_root_dir(&mut self, dir: &Path) -> Result<(), EnvError> {
        let abs = std::path::absolute(dir).map_err(|source| EnvError::RootDir {
            path: dir.to_path_buf(),
            source,
        })?;
        for (sub, vars) in self.kind.root_dirs() {
            let child = abs.join(sub);
            match std::fs::metadata(&child) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(source) => {
                    return Err(EnvError::RootDir {
                        path: child,
                        source,
                    });
                }
            }
            for var in *vars {
                let var = OsStr::new(var);
                let value = action::prepend(
                    child.as_os_str(),
                    OsStr::new(PATH_LIST_SEPARATOR),
                    self.current(var),
                );
                self.vars.insert(var.to_os_string(), value);
            }
        }
        Ok(())
    }

    /// Applies the env files of `dir` in name order: the variable is the file name up to
    /// the first `.`, the rest picks the [`Action`] (`default_action` when there is no
    /// dot; `.delim` and unknown suffixes change nothing). Prepend and append use the
    /// raw contents of `<dir>/<NAME>.delim` as delimiter, or nothing without that file.
    /// A missing directory changes nothing. Files whose variable name would be empty
    /// (`.override`) are skipped.
    pub fn add_env_dir(&mut self, dir: &Path, default_action: Action) -> Result<(), EnvError> {
        let env_dir_err = |source| EnvError::EnvDir {
            dir: dir.to_path_buf(),
            source,
        };
        for (file_name, value) in env_files(dir).map_err(env_dir_err)? {
            let bytes = file_name.as_bytes();
            let mut parts = bytes.splitn(2, |b| *b == b'.');
            let name = parts.next().unwrap_or_default();
            let suffix = parts.next();
            let action = match Suffix::parse(suffix) {
                Suffix::Bare => default_action,
                Suffix::Action(a) => a,
                Suffix::Ignored => continue,
            };
            if name.is_empty() {
                continue;
            }
            let name = OsStr::from_bytes(name);
            let delim = match action {
                Action::Prepend | Action::Append | Action::PrependPath => {
                    let mut delim_file = name.to_os_string();
                    delim_file.push(".delim");
                    read_raw(&dir.join(delim_file)).ok()
                }
                Action::Override | Action::Default => None,
            };
            if let Some(new) = action.apply(self.current(name), &value, delim.as_deref()) {
                self.vars.insert(name.to_os_string(), new);
            }
        }
        Ok(())
    }

    /// The environment for one module run (the reference's `WithOverrides`): a copy of
    /// `self`, then the user's `<platform>/env` files (`None` when the module has
    /// `clear-env = true`) where the whole file name is the variable, layer path
    /// variables get the value prepended with `:` and others are overridden; then the
    /// operator's `<build-config>/env` files with the suffix rules and `default` for
    /// unsuffixed files.
    pub fn with_platform_and_build_config(
        &self,
        platform_dir: Option<&Path>,
        build_config_dir: Option<&Path>,
    ) -> Result<Env, EnvError> {
        let mut out = self.clone();
        if let Some(platform) = platform_dir {
            let dir = platform.join(ENV_DIR);
            let files = env_files(&dir).map_err(|source| EnvError::EnvDir { dir, source })?;
            for (name, value) in files {
                let is_path_var = name.to_str().is_some_and(|n| self.kind.is_path_var(n));
                let new = if is_path_var {
                    action::prepend(&value, OsStr::new(PATH_LIST_SEPARATOR), out.current(&name))
                } else {
                    value
                };
                out.vars.insert(name, new);
            }
        }
        if let Some(build_config) = build_config_dir {
            out.add_env_dir(&build_config.join(ENV_DIR), Action::Default)?;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests;

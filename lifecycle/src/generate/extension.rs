//! One extension's generate: its buildpack plan written to a fresh file, `/bin/generate`
//! run in `<app>` with the build environment and its output directory (or, without
//! `/bin/generate`, the extension's `generate/` directory copied there as pre-populated
//! output), then the output checked: `extend-config.toml`, the Dockerfiles and the
//! context directories.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use buildpack_api::api::ApiVersion;
use buildpack_api::descriptor::{ExtensionDescriptor, ModuleDescriptor};
use buildpack_api::dockerfile::{self, ExtendConfig, Kind};
use buildpack_api::env::Env;
use buildpack_api::group::GroupElement;
use buildpack_api::plan::BuildpackPlan;

use super::layout::copy_tree;
use super::{DockerfileInfo, GenerateError, GenerateInputs};
use crate::exec::run_streaming;
use crate::log::Logger;
use buildpack_api::goerr::path_error;

/// Context directories: shared, or one per image kind.
const SHARED_CONTEXT: &str = "context";
const KIND_CONTEXTS: [&str; 2] = ["context.build", "context.run"];

/// What one extension produced.
pub(super) struct Output {
    /// Its Dockerfiles (run first, then build).
    pub dockerfiles: Vec<DockerfileInfo>,
    /// Plan entry names it met: all of those in its plan.
    pub met_requires: Vec<String>,
}

/// An extension found in the store.
pub(super) struct Extension {
    /// Its ID.
    id: String,
    /// Its absolute root directory.
    dir: PathBuf,
    /// Its Buildpack API (`None` if unparsable, treated as older than every gate).
    api: Option<ApiVersion>,
    /// `clear-env = true`: no user env from `<platform>/env`.
    clear_env: bool,
}

fn other(e: impl ToString) -> GenerateError {
    GenerateError::Other(e.to_string())
}

impl Extension {
    /// Reads `<extensions>/<escaped id>/<version>/extension.toml`.
    pub fn lookup(extensions_dir: &Path, el: &GroupElement) -> Result<Self, GenerateError> {
        let dir = extensions_dir.join(el.escaped_id()).join(&el.version);
        let descriptor = ExtensionDescriptor::read_dir(&dir).map_err(other)?;
        let dir = std::path::absolute(&dir).map_err(other)?;
        Ok(Extension {
            id: el.id.clone(),
            dir,
            api: descriptor.api().ok(),
            clear_env: descriptor.extension.clear_env,
        })
    }

    /// Runs (or reads the pre-populated output of) the extension, its output directory
    /// being `<output_root>/<escaped id>`.
    pub fn generate(
        &self,
        inputs: &GenerateInputs,
        plan: &BuildpackPlan,
        output_root: &Path,
        logger: &Logger,
    ) -> Result<Output, GenerateError> {
        logger.debug("Creating plan directory");
        let escaped = buildpack_api::id::escape(&self.id);
        let plan_dir = tempfile::Builder::new()
            .prefix(&format!("{escaped}-"))
            .tempdir()
            .map_err(other)?;
        logger.debug("Preparing paths");
        let out_dir = output_root.join(&escaped);
        std::fs::create_dir_all(&out_dir).map_err(|e| other(path_error("mkdir", &out_dir, &e)))?;
        let child_plan_dir = plan_dir.path().join(&escaped);
        std::fs::create_dir_all(&child_plan_dir)
            .map_err(|e| other(path_error("mkdir", &child_plan_dir, &e)))?;
        let plan_path = child_plan_dir.join("plan.toml");
        plan.write(&plan_path).map_err(other)?;

        logger.debug("Running generate command");
        let program = self.dir.join("bin").join("generate");
        match std::fs::metadata(&program) {
            Ok(_) => self.run(&program, inputs, &out_dir, &plan_path)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let prepopulated = self.dir.join("generate");
                if prepopulated.is_dir() {
                    copy_tree(&prepopulated, &out_dir).map_err(other)?;
                }
            }
            Err(e) => return Err(other(path_error("stat", &program, &e))),
        }

        logger.debug("Reading output files");
        self.read_output(&out_dir, plan, logger)
    }

    /// The environment `/bin/generate` runs with.
    fn env(
        &self,
        inputs: &GenerateInputs,
        out_dir: &Path,
        plan_path: &Path,
    ) -> Result<Vec<(OsString, OsString)>, GenerateError> {
        let platform = (!self.clear_env).then_some(inputs.platform_dir.as_path());
        let mut vars = Env::for_build(inputs.environ.iter().cloned())
            .with_platform_and_build_config(platform, Some(&inputs.build_config_dir))
            .map_err(other)?
            .to_vec();
        for (key, value) in [
            ("CNB_BP_PLAN_PATH", plan_path),
            ("CNB_EXTENSION_DIR", self.dir.as_path()),
            ("CNB_OUTPUT_DIR", out_dir),
            ("CNB_PLATFORM_DIR", inputs.platform_dir.as_path()),
        ] {
            vars.push((key.into(), value.as_os_str().to_os_string()));
        }
        if self.api.is_some_and(|api| api.at_least(0, 10)) {
            vars.extend(
                inputs
                    .target_env
                    .iter()
                    .map(|(k, v)| (OsString::from(k), OsString::from(v))),
            );
        }
        Ok(vars)
    }

    /// Runs `/bin/generate <output> <platform> <plan>` in `<app>`, its stdout and stderr
    /// going to the lifecycle's stdout.
    fn run(
        &self,
        program: &Path,
        inputs: &GenerateInputs,
        out_dir: &Path,
        plan_path: &Path,
    ) -> Result<(), GenerateError> {
        let env = self.env(inputs, out_dir, plan_path)?;
        let args = [out_dir, inputs.platform_dir.as_path(), plan_path]
            .map(|p| p.as_os_str().to_os_string());
        run_streaming(program, &args, &inputs.app_dir, &env)
            .map_err(|e| GenerateError::ExtensionFailed(e.to_string()))
    }

    /// Checks the output directory and collects its Dockerfiles.
    fn read_output(
        &self,
        out_dir: &Path,
        plan: &BuildpackPlan,
        logger: &Logger,
    ) -> Result<Output, GenerateError> {
        let met_requires = plan.entries.iter().map(|r| r.name.clone()).collect();
        ExtendConfig::check_file(&out_dir.join("extend-config.toml")).map_err(other)?;
        let mut dockerfiles = Vec::new();
        for kind in [Kind::Run, Kind::Build] {
            if let Some(info) = self.dockerfile(out_dir, kind, logger)? {
                logger.debug(format!("Found {} for processing", kind.file_name()));
                dockerfiles.push(info);
            }
        }
        let contexts = check_contexts(out_dir, logger)?;
        logger.debug(format!("Found '{contexts}' Build Contexts for processing"));
        Ok(Output {
            dockerfiles,
            met_requires,
        })
    }

    /// Reads and validates `<out>/<kind>.Dockerfile`, if there is one.
    fn dockerfile(
        &self,
        out_dir: &Path,
        kind: Kind,
        logger: &Logger,
    ) -> Result<Option<DockerfileInfo>, GenerateError> {
        let path = out_dir.join(kind.file_name());
        match std::fs::metadata(&path) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(other(path_error("stat", &path, &e))),
        }
        let failed = |msg: String| {
            other(format!(
                "failed to parse {} for extension {}: {msg}",
                kind.file_name(),
                self.id
            ))
        };
        let text = std::fs::read(&path).map_err(|e| failed(path_error("open", &path, &e)))?;
        let text = String::from_utf8_lossy(&text);
        let mut info = DockerfileInfo {
            extension_id: self.id.clone(),
            kind,
            path,
            with_base: None,
            extend: false,
            ignore: false,
        };
        match kind {
            Kind::Build => {
                for w in dockerfile::validate_build(&text).map_err(|e| failed(e.to_string()))? {
                    logger.warn(w);
                }
            }
            Kind::Run => {
                let run = dockerfile::validate_run(&text).map_err(|e| failed(e.to_string()))?;
                for w in &run.warnings {
                    logger.warn(w);
                }
                info.with_base = run.with_base;
                info.extend = run.extend;
            }
        }
        Ok(Some(info))
    }
}

/// Counts the context directories, failing when the shared one comes with a
/// kind-specific one.
fn check_contexts(out_dir: &Path, logger: &Logger) -> Result<usize, GenerateError> {
    let is_dir = |name: &str| -> Result<bool, GenerateError> {
        let path = out_dir.join(name);
        match std::fs::metadata(&path) {
            Ok(m) => Ok(m.is_dir()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(other(path_error("stat", &path, &e))),
        }
    };
    let shared = is_dir(SHARED_CONTEXT)?;
    let mut count = usize::from(shared);
    if shared {
        logger.debug(format!(
            "found shared extension context {:?}",
            out_dir.join(SHARED_CONTEXT).display().to_string()
        ));
    }
    for name in KIND_CONTEXTS {
        if is_dir(name)? {
            if shared {
                return Err(other(
                    "image-specific context dir is provided together with a shared context",
                ));
            }
            logger.debug(format!(
                "found extension context {:?}",
                out_dir.join(name).display().to_string()
            ));
            count += 1;
        }
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contexts() {
        let logger = Logger::new(crate::log::Level::Error);
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(check_contexts(dir.path(), &logger).unwrap(), 0);
        std::fs::create_dir(dir.path().join("context.build")).unwrap();
        std::fs::create_dir(dir.path().join("context.run")).unwrap();
        std::fs::write(dir.path().join("context"), "a file is not a context").unwrap();
        assert_eq!(check_contexts(dir.path(), &logger).unwrap(), 2);
        std::fs::remove_file(dir.path().join("context")).unwrap();
        std::fs::create_dir(dir.path().join("context")).unwrap();
        assert_eq!(
            check_contexts(dir.path(), &logger).unwrap_err().to_string(),
            "failed to build: image-specific context dir is provided together with a shared context"
        );
    }
}

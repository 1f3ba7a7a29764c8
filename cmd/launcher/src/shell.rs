//! Shell processes (user commands without `--`, and processes of older buildpacks with
//! `direct = false`): one `/bin/bash` sources the profile scripts (each layer's
//! `profile.d/*` then `profile.d/<type>/*`, then the app's `.profile`), changes to the
//! working directory and `exec`s a nested bash running the command: as a script when
//! there are no arguments, else with every token evaluated (`$(eval echo ...)`) so that
//! `$VAR` in arguments expands. `$0` of the profile scripts is the launcher's `argv[0]`.

use std::convert::Infallible;
use std::ffi::{OsStr, OsString};
use std::io;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;

use buildpack_api::env::Env;
use buildpack_api::goerr;
use platform_api::launch::LaunchProcess;

use crate::error::LaunchError;
use crate::layers::{BuildpackLayers, files};
use crate::sys;

/// The shell.
const BASH: &str = "/bin/bash";
/// The app's profile script, sourced relative to the app directory.
const APP_PROFILE: &str = ".profile";

/// How the nested shell runs the command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// The command string is a script (`bash -c "<command>"`).
    Script,
    /// The command and each argument are tokens, each evaluated by the shell.
    Tokens,
}

/// What the shell is given.
pub(crate) struct ShellLaunch<'a> {
    /// The process.
    pub(crate) process: &'a LaunchProcess,
    /// The launcher's `argv[0]`, `$0` of the profile scripts.
    pub(crate) caller: &'a OsStr,
    /// Profile scripts to source, in order.
    pub(crate) profiles: Vec<OsString>,
    /// Where the command runs.
    pub(crate) working_dir: &'a Path,
    /// Script or tokens.
    pub(crate) mode: Mode,
}

/// The profile scripts for `process_type` (empty for a user command): the layers'
/// scripts, then `.profile` when `<app>/.profile` exists and is not a directory.
pub(crate) fn profiles(
    buildpacks: &[BuildpackLayers],
    process_type: &str,
    app_dir: &Path,
) -> Result<Vec<OsString>, LaunchError> {
    let mut found = Vec::new();
    for layer in buildpacks.iter().flat_map(|bp| &bp.layers) {
        let dir = layer.join("profile.d");
        found.extend(files(&dir)?.into_iter().map(Into::into));
        if !process_type.is_empty() {
            found.extend(files(&dir.join(process_type))?.into_iter().map(Into::into));
        }
    }
    let app_profile = app_dir.join(APP_PROFILE);
    match std::fs::metadata(&app_profile) {
        Ok(meta) if !meta.is_dir() => found.push(APP_PROFILE.into()),
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(
                LaunchError::path("stat", &app_profile, &e).context(&format!(
                    "failed to determine if app profile script exists at path '{}'",
                    app_profile.display()
                )),
            );
        }
    }
    Ok(found)
}

impl ShellLaunch<'_> {
    /// The outer shell's script: source the profiles, `cd`, exec the nested shell.
    fn script(&self) -> OsString {
        let mut s: Vec<u8> = Vec::new();
        for profile in &self.profiles {
            s.extend_from_slice(b"source \"");
            s.extend_from_slice(profile.as_bytes());
            s.extend_from_slice(b"\"\n");
        }
        s.extend_from_slice(b"cd \"");
        s.extend_from_slice(self.working_dir.as_os_str().as_bytes());
        s.extend_from_slice(b"\"\n");
        match self.mode {
            Mode::Script => s.extend_from_slice(b"exec bash -c \"$@\""),
            Mode::Tokens => {
                s.extend_from_slice(tokens_command(self.process.args.len() + 1).as_bytes())
            }
        }
        OsString::from_vec(s)
    }

    /// The command entries joined by spaces.
    fn command(&self) -> OsString {
        let mut joined = Vec::new();
        for (i, part) in self.process.command.iter().enumerate() {
            if i > 0 {
                joined.push(b' ');
            }
            joined.extend_from_slice(part.as_bytes());
        }
        OsString::from_vec(joined)
    }

    /// Replaces the launcher with bash (`execve`, as the reference); returns only on
    /// failure.
    pub(crate) fn exec(&self, env: &Env) -> Result<Infallible, LaunchError> {
        let (script, command) = (self.script(), self.command());
        let argv = [
            OsStr::new("bash"),
            OsStr::new("-c"),
            &script,
            self.caller,
            &command,
        ]
        .into_iter()
        .chain(self.process.args.iter().map(OsString::as_os_str));
        let err = sys::exec(Path::new(BASH), argv, env.iter());
        Err(LaunchError::new(goerr::text(&err)).context("bash exec"))
    }
}

/// The nested shell for `n` tokens (`$0` is the command, `$1`.. the arguments), each
/// evaluated and quoted: `exec bash -c '"$(eval echo \"$0\")" "$(eval echo \"${1}\")"' "${@:1}"`.
fn tokens_command(n: usize) -> String {
    let mut tokens = String::from(r#""$(eval echo \"$0\")""#);
    for i in 1..n {
        tokens.push_str(&format!(r#" "$(eval echo \"${{{i}}}\")""#));
    }
    format!(r#"exec bash -c '{tokens}' "${{@:1}}""#)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::launch_layers;
    use platform_api::launch::VerifiedBuildpack;
    use std::fs;

    #[test]
    fn token_commands() {
        assert_eq!(
            tokens_command(1),
            r#"exec bash -c '"$(eval echo \"$0\")"' "${@:1}""#
        );
        assert_eq!(
            tokens_command(3),
            r#"exec bash -c '"$(eval echo \"$0\")" "$(eval echo \"${1}\")" "$(eval echo \"${2}\")"' "${@:1}""#
        );
    }

    #[test]
    fn scripts() {
        let process = LaunchProcess {
            command: vec!["printf".into(), "x".into()],
            args: vec!["a".into()],
            ..Default::default()
        };
        let launch = ShellLaunch {
            process: &process,
            caller: OsStr::new("/cnb/process/web"),
            profiles: vec!["/layers/bp/l/profile.d/p".into(), ".profile".into()],
            working_dir: Path::new("/workspace"),
            mode: Mode::Tokens,
        };
        assert_eq!(
            launch.script(),
            "source \"/layers/bp/l/profile.d/p\"\nsource \".profile\"\ncd \"/workspace\"\n\
             exec bash -c '\"$(eval echo \\\"$0\\\")\" \"$(eval echo \\\"${1}\\\")\"' \"${@:1}\""
        );
        assert_eq!(launch.command(), "printf x");
        let launch = ShellLaunch {
            profiles: Vec::new(),
            mode: Mode::Script,
            ..launch
        };
        assert_eq!(launch.script(), "cd \"/workspace\"\nexec bash -c \"$@\"");
    }

    #[test]
    fn profile_order() {
        let root = tempfile::tempdir().unwrap();
        let l = root.path().join("layers");
        let app = root.path().join("app");
        for f in [
            "b_bp/y/profile.d/web/2",
            "b_bp/y/profile.d/1",
            "b_bp/x/profile.d/worker/0",
            "b_bp/x/profile.d/z",
            "a/l/profile.d/a",
        ] {
            let p = l.join(f);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, "").unwrap();
        }
        fs::create_dir_all(&app).unwrap();
        let bps = [
            VerifiedBuildpack {
                id: "b/bp".into(),
                api: "0.8".parse().unwrap(),
            },
            VerifiedBuildpack {
                id: "a".into(),
                api: "0.7".parse().unwrap(),
            },
        ];
        let layers = launch_layers(&l, &bps).unwrap();
        let got = profiles(&layers, "web", &app).unwrap();
        let want: Vec<OsString> = [
            "b_bp/x/profile.d/z",
            "b_bp/y/profile.d/1",
            "b_bp/y/profile.d/web/2",
            "a/l/profile.d/a",
        ]
        .iter()
        .map(|f| l.join(f).into())
        .collect();
        assert_eq!(got, want);
        fs::create_dir(app.join(".profile")).unwrap();
        assert_eq!(profiles(&layers, "", &app).unwrap().len(), 3);
        fs::remove_dir(app.join(".profile")).unwrap();
        fs::write(app.join(".profile"), "").unwrap();
        assert_eq!(
            profiles(&layers, "", &app).unwrap().last().unwrap(),
            ".profile"
        );
    }
}

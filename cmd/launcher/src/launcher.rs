//! One launch, in the reference's order: choose the process, change to the app
//! directory, apply the layers' environment, run exec.d programs, then replace the
//! launcher with the process, directly or through bash.

use std::convert::Infallible;
use std::ffi::{OsStr, OsString};
use std::path::Path;

use buildpack_api::env::Env;
use platform_api::launch::{LaunchProcess, ProcessSelector};

use crate::error::{Context, LaunchError};
use crate::shell::{Mode, ShellLaunch};
use crate::{direct, environment, execd, layers, shell};

/// What a launch works from.
pub(crate) struct Launcher<'a> {
    /// `<layers>`.
    pub(crate) layers_dir: &'a Path,
    /// `<app>`.
    pub(crate) app_dir: &'a Path,
    /// The buildpacks and processes of `metadata.toml` with the Platform API.
    pub(crate) selector: ProcessSelector<'a>,
}

impl Launcher<'_> {
    /// Launches the process for `default_type` and the user's `args`, with `env` (the
    /// container environment, already filtered) as the base of the launch
    /// environment. `argv0` is the launcher's own name. Returns only on failure.
    pub(crate) fn launch(
        &self,
        argv0: &OsStr,
        default_type: Option<&str>,
        args: &[OsString],
        env: Env,
    ) -> Result<Infallible, LaunchError> {
        let process = self
            .selector
            .process_for(default_type, args)
            .map_err(|e| LaunchError::new(e.to_string()))
            .context("determine start command")?;
        self.launch_process(argv0, &process, env)
    }

    fn launch_process(
        &self,
        argv0: &OsStr,
        process: &LaunchProcess,
        mut env: Env,
    ) -> Result<Infallible, LaunchError> {
        std::env::set_current_dir(self.app_dir)
            .map_err(|e| LaunchError::path("chdir", self.app_dir, &e))
            .context("change to app directory")?;
        let process_type = process.process_type.as_str();
        let layers = layers::launch_layers(self.layers_dir, self.selector.buildpacks)
            .context("modify env")?;
        environment::apply_layers(&mut env, &layers, process_type).context("modify env")?;
        execd::run_all(&mut env, &layers, process_type).context("exec.d")?;
        let working_dir = if process.working_dir.is_empty() {
            self.app_dir
        } else {
            Path::new(&process.working_dir)
        };
        if process.direct {
            return direct::exec(process, &env, working_dir);
        }
        let profiles =
            shell::profiles(&layers, process_type, self.app_dir).context("find profiles")?;
        let mode = match self.selector.is_script(process) {
            Ok(true) => Mode::Script,
            Ok(false) => Mode::Tokens,
            Err(e) => return Err(LaunchError::new(e.to_string())),
        };
        ShellLaunch {
            process,
            caller: argv0,
            profiles,
            working_dir,
            mode,
        }
        .exec(&env)
    }
}

//! Direct processes: the command is looked up on the launch `PATH` (with the app
//! directory as working directory, so relative names resolve there), then the launcher
//! changes to the process's working directory and replaces itself with the command
//! (`execve`, so a file without a `#!` line fails with `exec format error` as in the
//! reference, instead of being run by `/bin/sh`).

use std::convert::Infallible;
use std::path::Path;

use buildpack_api::env::Env;
use buildpack_api::goerr;
use platform_api::flags::strconv::quote;
use platform_api::launch::LaunchProcess;

use crate::error::{Context, LaunchError};
use crate::lookpath::look_path;
use crate::sys;

/// Executes `process` in place of the launcher; returns only on failure.
pub(crate) fn exec(
    process: &LaunchProcess,
    env: &Env,
    working_dir: &Path,
) -> Result<Infallible, LaunchError> {
    let Some((command, leading_args)) = process.command.split_first() else {
        return Err(LaunchError::new(format!(
            "no command provided for process type {}",
            quote(&process.process_type)
        )));
    };
    let path_var = env.get("PATH").unwrap_or_default();
    let binary = look_path(command, path_var).context("path lookup")?;
    std::env::set_current_dir(working_dir)
        .map_err(|e| LaunchError::path("chdir", working_dir, &e))
        .context("change directory")?;
    let argv = std::iter::once(command)
        .chain(leading_args)
        .chain(&process.args)
        .map(|arg| arg.as_os_str());
    let err = sys::exec(&binary, argv, env.iter());
    Err(LaunchError::new(goerr::text(&err)).context("direct exec"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_before_exec() {
        let env = Env::for_launch([("PATH", "/nonexistent")]);
        let mut p = LaunchProcess {
            process_type: "web".into(),
            ..Default::default()
        };
        let wd = Path::new("/");
        assert_eq!(
            exec(&p, &env, wd).unwrap_err().to_string(),
            "no command provided for process type \"web\""
        );
        p.command = vec!["no-such-tool".into()];
        assert_eq!(
            exec(&p, &env, wd).unwrap_err().to_string(),
            "path lookup: exec: \"no-such-tool\": executable file not found in $PATH"
        );
        p.command = vec!["/bin/sh".into()];
        assert_eq!(
            exec(&p, &env, Path::new("/nonexistent"))
                .unwrap_err()
                .to_string(),
            "change directory: chdir /nonexistent: no such file or directory"
        );
    }
}

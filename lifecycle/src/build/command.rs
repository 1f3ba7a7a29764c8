//! Running `/bin/build` with its output streamed as it is written: like the
//! reference, both its stdout and its stderr go to the lifecycle's stdout (where the
//! lifecycle's own log lines go too), and it reads nothing from stdin.

use std::ffi::OsString;
use std::io::Write;
use std::os::fd::AsFd;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};

use super::error::BuildpackExit;

/// Runs `program` with `args` in `cwd` with exactly `env`, waiting for it to finish.
pub(crate) fn run_streaming(
    program: &Path,
    args: &[OsString],
    cwd: &Path,
    env: &[(OsString, OsString)],
) -> Result<(), BuildpackExit> {
    let stdout = std::io::stdout();
    // Our buffered output must come before the buildpack's.
    let _ = stdout.lock().flush();
    // The buildpack's stderr shares the lifecycle's stdout, as in the reference; when
    // the descriptor cannot be duplicated it keeps the lifecycle's stderr.
    let stderr = match stdout.as_fd().try_clone_to_owned() {
        Ok(fd) => Stdio::from(fd),
        Err(_) => Stdio::inherit(),
    };
    let mut child = Command::new(program)
        .args(args)
        .current_dir(cwd)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::inherit())
        .stderr(stderr)
        .spawn()
        .map_err(|source| BuildpackExit::Spawn {
            program: program.to_path_buf(),
            source,
        })?;
    let status = child.wait().map_err(BuildpackExit::Wait)?;
    match (status.code(), status.signal()) {
        (Some(0), _) => Ok(()),
        (Some(code), _) => Err(BuildpackExit::Status(code)),
        (None, Some(signal)) => Err(BuildpackExit::Signal(signal)),
        (None, None) => Err(BuildpackExit::Status(-1)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Result<(), BuildpackExit> {
        run_streaming(
            Path::new("/bin/sh"),
            &["-c".into(), script.into()],
            Path::new("/"),
            &[("PATH".into(), "/usr/bin:/bin".into())],
        )
    }

    #[test]
    fn outcomes() {
        assert!(sh("exit 0").is_ok());
        assert!(matches!(sh("exit 7"), Err(BuildpackExit::Status(7))));
        assert!(matches!(sh("kill -9 $$"), Err(BuildpackExit::Signal(9))));
        let missing = run_streaming(Path::new("/nonexistent/build"), &[], Path::new("/"), &[]);
        assert_eq!(
            missing.unwrap_err().to_string(),
            "fork/exec /nonexistent/build: no such file or directory"
        );
    }

    #[test]
    fn environment_and_cwd_are_exactly_the_given_ones() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let script = format!("env > {0}; pwd >> {0}; cat >> {0}", out.display());
        run_streaming(
            Path::new("/bin/sh"),
            &["-c".into(), script.into()],
            dir.path(),
            &[("ONLY".into(), "this".into())],
        )
        .unwrap();
        let text = std::fs::read_to_string(&out).unwrap();
        assert!(text.contains("ONLY=this"), "{text}");
        assert!(!text.contains("CARGO"), "{text}");
        assert!(text.contains(&dir.path().display().to_string()), "{text}");
    }
}

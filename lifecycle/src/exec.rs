//! Running buildpack executables (`/bin/detect`, `/bin/generate`, …) with an explicit
//! environment and working directory, their stdout and stderr captured together into
//! one bounded buffer (a buildpack printing megabytes cannot exhaust memory).

use std::ffi::OsString;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};

/// At most this many bytes of a program's output are kept; the rest is counted.
pub const OUTPUT_LIMIT: usize = 1 << 20;

/// What a finished program left.
#[derive(Debug, Clone, Default)]
pub struct Captured {
    /// Exit code; `None` when the program could not be started or was killed by a signal.
    pub code: Option<i32>,
    /// Combined stdout and stderr (truncated at [`OUTPUT_LIMIT`], with a note).
    pub output: Vec<u8>,
    /// Why the program could not be started, or the signal that ended it.
    pub error: Option<String>,
}

/// Runs `program` with `args` in `cwd` with exactly `env`, capturing its output.
pub fn run_captured(
    program: &Path,
    args: &[OsString],
    cwd: &Path,
    env: &[(OsString, OsString)],
) -> Captured {
    let (mut reader, writer) = match std::io::pipe() {
        Ok(p) => p,
        Err(e) => return failed(program, e),
    };
    let writer_err = match writer.try_clone() {
        Ok(w) => w,
        Err(e) => return failed(program, e),
    };
    let mut cmd = Command::new(program);
    cmd.args(args)
        .current_dir(cwd)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(writer_err);
    let spawned = cmd.spawn();
    // Drop our copies of the pipe's write end so reading ends when the program exits.
    drop(cmd);
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => return failed(program, e),
    };
    let output = read_bounded(&mut reader);
    match child.wait() {
        Ok(status) => Captured {
            code: status.code(),
            output,
            error: status
                .code()
                .is_none()
                .then(|| format!("{}: {status}", program.display())),
        },
        Err(e) => Captured {
            output,
            ..failed(program, e)
        },
    }
}

fn failed(program: &Path, e: std::io::Error) -> Captured {
    Captured {
        code: None,
        output: Vec::new(),
        error: Some(format!("fork/exec {}: {e}", program.display())),
    }
}

/// Reads everything, keeping the first [`OUTPUT_LIMIT`] bytes.
fn read_bounded(r: &mut impl Read) -> Vec<u8> {
    let mut kept = Vec::new();
    let mut dropped: u64 = 0;
    let mut buf = [0u8; 64 * 1024];
    loop {
        match r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                let room = OUTPUT_LIMIT.saturating_sub(kept.len());
                let take = room.min(n);
                kept.extend_from_slice(&buf[..take]);
                dropped += (n - take) as u64;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        }
    }
    if dropped > 0 {
        kept.extend_from_slice(format!("\n[output truncated: {dropped} more bytes]\n").as_bytes());
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Captured {
        run_captured(
            Path::new("/bin/sh"),
            &["-c".into(), script.into()],
            Path::new("/"),
            &[("PATH".into(), "/usr/bin:/bin".into())],
        )
    }

    #[test]
    fn captures_both_streams_and_code() {
        let c = sh("echo out; echo err >&2; exit 7");
        assert_eq!(c.code, Some(7));
        let text = String::from_utf8(c.output).unwrap();
        assert!(text.contains("out\n") && text.contains("err\n"));
    }

    #[test]
    fn environment_is_exactly_the_given_one() {
        let c = sh("env");
        let text = String::from_utf8(c.output).unwrap();
        assert!(
            text.lines().all(|l| l.starts_with("PATH=")
                || l.starts_with("PWD=")
                || l.starts_with("SHLVL=")
                || l.starts_with("_=")),
            "{text}"
        );
    }

    #[test]
    fn huge_output_is_bounded() {
        let c = sh("head -c 5000000 /dev/zero");
        assert_eq!(c.code, Some(0));
        assert!(c.output.len() < OUTPUT_LIMIT + 100);
        assert!(String::from_utf8_lossy(&c.output).contains("more bytes"));
    }

    #[test]
    fn missing_program_is_an_error_not_a_panic() {
        let c = run_captured(Path::new("/nonexistent/detect"), &[], Path::new("/"), &[]);
        assert_eq!(c.code, None);
        assert!(c.error.unwrap().contains("/nonexistent/detect"));
    }

    #[test]
    fn killed_program_reports_signal() {
        let c = sh("kill -9 $$");
        assert_eq!(c.code, None);
        assert!(c.error.is_some());
    }
}

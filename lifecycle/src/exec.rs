//! Running buildpack and extension executables (`/bin/detect`, `/bin/build`,
//! `/bin/generate`) with an explicit environment and working directory, and wording
//! their failures as the reference (Go's `os/exec`) does.
//!
//! Like the reference, a program's stdout and stderr both go to one place: the
//! lifecycle's stdout when streamed, or one bounded buffer when captured (a buildpack
//! printing megabytes cannot exhaust memory).

use std::ffi::OsString;
use std::fmt;
use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};

use buildpack_api::goerr;

/// At most this many bytes of a captured program's output are kept; the rest is counted.
pub const OUTPUT_LIMIT: usize = 1 << 20;

/// How a program failed, worded like Go's `os/exec` errors.
#[derive(Debug)]
pub enum ProgramExit {
    /// It exited with a non-zero status (`exit status N`).
    Status(i32),
    /// A signal ended it (`signal: killed`).
    Signal {
        /// The signal number.
        signal: i32,
        /// Whether it dumped core.
        core: bool,
    },
    /// Its working directory is unusable (`chdir <dir>: <reason>`).
    Chdir {
        /// The directory.
        dir: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// It could not be started (`fork/exec <path>: <reason>`).
    Spawn {
        /// The executable.
        program: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// Waiting for it or reading its output failed.
    Wait(io::Error),
}

impl fmt::Display for ProgramExit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProgramExit::Status(code) => write!(f, "exit status {code}"),
            ProgramExit::Signal { signal, core } => write!(
                f,
                "signal: {}{}",
                goerr::signal_name(*signal),
                if *core { " (core dumped)" } else { "" }
            ),
            ProgramExit::Chdir { dir, source } => {
                f.write_str(&goerr::path_error("chdir", dir, source))
            }
            ProgramExit::Spawn { program, source } => {
                f.write_str(&goerr::path_error("fork/exec", program, source))
            }
            ProgramExit::Wait(source) => write!(f, "wait: {}", goerr::text(source)),
        }
    }
}

impl std::error::Error for ProgramExit {}

fn outcome(status: ExitStatus) -> Result<(), ProgramExit> {
    match (status.code(), status.signal()) {
        (Some(0), _) => Ok(()),
        (Some(code), _) => Err(ProgramExit::Status(code)),
        (None, Some(signal)) => Err(ProgramExit::Signal {
            signal,
            core: status.core_dumped(),
        }),
        (None, None) => Err(ProgramExit::Status(-1)),
    }
}

/// A command with exactly `env`, `cwd` checked first (so a missing app directory is
/// reported as such, not as a missing program), and no stdin.
fn command(
    program: &Path,
    args: &[OsString],
    cwd: &Path,
    env: &[(OsString, OsString)],
) -> Result<Command, ProgramExit> {
    let usable = match std::fs::metadata(cwd) {
        Ok(m) if m.is_dir() => Ok(()),
        // ENOTDIR, as chdir(2) reports it.
        Ok(_) => Err(io::Error::from_raw_os_error(20)),
        Err(e) => Err(e),
    };
    if let Err(source) = usable {
        return Err(ProgramExit::Chdir {
            dir: cwd.to_path_buf(),
            source,
        });
    }
    let mut cmd = Command::new(program);
    cmd.args(args)
        .current_dir(cwd)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null());
    Ok(cmd)
}

fn spawn_error(program: &Path, source: io::Error) -> ProgramExit {
    ProgramExit::Spawn {
        program: program.to_path_buf(),
        source,
    }
}

/// Runs `program` with `args` in `cwd` with exactly `env`, its stdout and stderr both
/// streamed to the lifecycle's stdout as they are written; waits for it.
pub fn run_streaming(
    program: &Path,
    args: &[OsString],
    cwd: &Path,
    env: &[(OsString, OsString)],
) -> Result<(), ProgramExit> {
    let mut cmd = command(program, args, cwd, env)?;
    let stdout = io::stdout();
    // Our buffered output must come before the program's.
    let _ = stdout.lock().flush();
    // The program's stderr shares the lifecycle's stdout; if the descriptor cannot be
    // duplicated it keeps the lifecycle's stderr.
    let stderr = match stdout.as_fd().try_clone_to_owned() {
        Ok(fd) => Stdio::from(fd),
        Err(_) => Stdio::inherit(),
    };
    let status = cmd
        .stdout(Stdio::inherit())
        .stderr(stderr)
        .status()
        .map_err(|e| spawn_error(program, e))?;
    outcome(status)
}

/// What a captured program left.
#[derive(Debug)]
pub struct Captured {
    /// How it ended.
    pub exit: Result<(), ProgramExit>,
    /// Combined stdout and stderr (truncated at [`OUTPUT_LIMIT`], with a note).
    pub output: Vec<u8>,
}

/// Runs `program` with `args` in `cwd` with exactly `env`, capturing its output.
pub fn run_captured(
    program: &Path,
    args: &[OsString],
    cwd: &Path,
    env: &[(OsString, OsString)],
) -> Captured {
    let failed = |exit| Captured {
        exit: Err(exit),
        output: Vec::new(),
    };
    let mut cmd = match command(program, args, cwd, env) {
        Ok(c) => c,
        Err(e) => return failed(e),
    };
    let pipe = io::pipe().and_then(|(r, w)| Ok((r, w.try_clone()?, w)));
    let (mut reader, writer_err, writer) = match pipe {
        Ok(p) => p,
        Err(e) => return failed(ProgramExit::Wait(e)),
    };
    cmd.stdout(writer).stderr(writer_err);
    let spawned = cmd.spawn();
    // Drop our copies of the pipe's write end so reading ends when the program exits.
    drop(cmd);
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => return failed(spawn_error(program, e)),
    };
    let read = read_bounded(&mut reader);
    // Closing the read end first means a program still writing gets EPIPE instead of
    // blocking forever on a full pipe.
    drop(reader);
    let waited = child.wait();
    let (output, read_err) = read;
    let exit = match (waited, read_err) {
        (Ok(status), None) => outcome(status),
        (Ok(_), Some(e)) | (Err(e), _) => Err(ProgramExit::Wait(e)),
    };
    Captured { exit, output }
}

/// Reads everything, keeping the first [`OUTPUT_LIMIT`] bytes.
fn read_bounded(r: &mut impl Read) -> (Vec<u8>, Option<io::Error>) {
    let mut kept = Vec::new();
    let mut dropped: u64 = 0;
    let mut buf = [0u8; 64 * 1024];
    let err = loop {
        match r.read(&mut buf) {
            Ok(0) => break None,
            Ok(n) => {
                let take = OUTPUT_LIMIT.saturating_sub(kept.len()).min(n);
                kept.extend_from_slice(&buf[..take]);
                dropped += (n - take) as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => break Some(e),
        }
    };
    if dropped > 0 {
        kept.extend_from_slice(format!("\n[output truncated: {dropped} more bytes]\n").as_bytes());
    }
    (kept, err)
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

    fn streamed(script: &str, cwd: &Path, env: &[(OsString, OsString)]) -> Result<(), ProgramExit> {
        run_streaming(
            Path::new("/bin/sh"),
            &["-c".into(), script.into()],
            cwd,
            env,
        )
    }

    #[test]
    fn captures_both_streams_and_status() {
        let c = sh("echo out; echo err >&2; exit 7");
        assert!(matches!(c.exit, Err(ProgramExit::Status(7))));
        let text = String::from_utf8(c.output).unwrap();
        assert!(text.contains("out\n") && text.contains("err\n"));
        assert!(sh("true").exit.is_ok());
    }

    #[test]
    fn environment_and_cwd_are_exactly_the_given_ones() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let script = format!("env > {0}; pwd >> {0}; cat >> {0}", out.display());
        streamed(&script, dir.path(), &[("ONLY".into(), "this".into())]).unwrap();
        let text = std::fs::read_to_string(&out).unwrap();
        assert!(text.contains("ONLY=this"), "{text}");
        assert!(!text.contains("CARGO"), "{text}");
        assert!(text.contains(&dir.path().display().to_string()), "{text}");
    }

    #[test]
    fn huge_output_is_bounded() {
        let c = sh("head -c 5000000 /dev/zero");
        assert!(c.exit.is_ok());
        assert!(c.output.len() < OUTPUT_LIMIT + 100);
        assert!(String::from_utf8_lossy(&c.output).contains("more bytes"));
    }

    #[test]
    fn failures_are_worded_like_go() {
        let c = run_captured(Path::new("/nonexistent/detect"), &[], Path::new("/"), &[]);
        assert_eq!(
            c.exit.unwrap_err().to_string(),
            "fork/exec /nonexistent/detect: no such file or directory"
        );
        let c = run_captured(
            Path::new("/bin/true"),
            &[],
            Path::new("/nonexistent-app"),
            &[],
        );
        assert_eq!(
            c.exit.unwrap_err().to_string(),
            "chdir /nonexistent-app: no such file or directory"
        );
        assert_eq!(
            sh("kill -9 $$").exit.unwrap_err().to_string(),
            "signal: killed"
        );
        assert_eq!(
            streamed("exit 3", Path::new("/"), &[])
                .unwrap_err()
                .to_string(),
            "exit status 3"
        );
        assert_eq!(
            ProgramExit::Signal {
                signal: 11,
                core: true
            }
            .to_string(),
            "signal: segmentation fault (core dumped)"
        );
        assert_eq!(
            ProgramExit::Signal {
                signal: 40,
                core: false
            }
            .to_string(),
            "signal: signal 40"
        );
    }
}

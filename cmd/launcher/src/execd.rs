//! exec.d: every file in each layer's `exec.d/` and then `exec.d/<type>/` is run (in
//! buildpack, layer and file-name order) with the app directory as working directory,
//! the launch environment, standard input from `/dev/null`, the launcher's standard
//! output and error, and a pipe on fd 3. Its fd-3 output (TOML `NAME = "value"` lines,
//! at most [`OUTPUT_LIMIT`] bytes) overrides the launch environment before the next
//! program runs.

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;
use std::process::{Child, Command};

use buildpack_api::env::Env;
use buildpack_api::execd::parse_exec_d_output;
use buildpack_api::goerr;

use crate::error::LaunchError;
use crate::layers::{BuildpackLayers, files};
use crate::sys::{self, OUTPUT_FD, SpawnError};
use crate::wait_status;

/// The most an exec.d program may write to fd 3; more fails the launch.
const OUTPUT_LIMIT: usize = 1 << 20;
/// An exec.d program's standard input.
const DEV_NULL: &str = "/dev/null";

/// Runs every exec.d program of the launch layers for `process_type` (empty for a
/// user command), updating `env`.
pub(crate) fn run_all(
    env: &mut Env,
    buildpacks: &[BuildpackLayers],
    process_type: &str,
) -> Result<(), LaunchError> {
    for layer in buildpacks.iter().flat_map(|bp| &bp.layers) {
        let dir = layer.join("exec.d");
        for program in files(&dir)? {
            run(&program, env)?;
        }
        if !process_type.is_empty() {
            for program in files(&dir.join(process_type))? {
                run(&program, env)?;
            }
        }
    }
    Ok(())
}

/// Runs one exec.d program and applies its output to `env`.
fn run(program: &Path, env: &mut Env) -> Result<(), LaunchError> {
    let at = program.display();
    let exec_err = |reason: String| {
        LaunchError::new(format!(
            "failed to execute exec.d file at path '{at}': {reason}"
        ))
    };
    let dev_null = Path::new(DEV_NULL);
    let stdin = File::open(dev_null)
        .and_then(off_output_fd)
        .map_err(|e| exec_err(goerr::path_error("open", dev_null, &e)))?;
    let (mut reader, writer) = io::pipe()
        .and_then(|(r, w)| Ok((off_output_fd(r)?, off_output_fd(w)?)))
        .map_err(|e| LaunchError::new(format!("failed to create pipe: {}", goerr::text(&e))))?;
    let mut cmd = Command::new(program);
    cmd.stdin(stdin).env_clear().envs(env.iter());
    let spawned = sys::spawn_with_output_fd(&mut cmd, writer.as_fd());
    // Only the child may hold the write end, so reading ends when it is done.
    drop(writer);
    let mut child = match spawned {
        Ok(child) => child,
        Err(SpawnError::Spawn(e)) => {
            return Err(exec_err(goerr::path_error("fork/exec", program, &e)));
        }
        Err(SpawnError::Restore(e, child)) => {
            drop(reader);
            return Err(restore_failed(program, &e, child));
        }
    };
    let mut output = Vec::new();
    let read = (&mut reader)
        .take(OUTPUT_LIMIT as u64 + 1)
        .read_to_end(&mut output);
    // A program still writing gets EPIPE (or SIGPIPE) rather than blocking forever.
    drop(reader);
    let status = child
        .wait()
        .map_err(|e| exec_err(format!("wait: {}", goerr::text(&e))))?;
    let read_err = |reason: String| {
        LaunchError::new(format!(
            "failed to read output from exec.d file at path '{at}': {reason}"
        ))
    };
    // Checked first: cutting the output short is likely what made the program fail.
    if output.len() > OUTPUT_LIMIT {
        return Err(read_err(format!(
            "output exceeds the limit of {OUTPUT_LIMIT} bytes"
        )));
    }
    if !status.success() {
        return Err(exec_err(wait_status::describe(status)));
    }
    read.map_err(|e| read_err(goerr::text(&e)))?;
    let decode_err = |reason: String| {
        LaunchError::new(format!(
            "failed to decode output from exec.d file at path '{at}': {reason}"
        ))
    };
    let text = String::from_utf8(output).map_err(|e| decode_err(e.to_string()))?;
    for (name, value) in parse_exec_d_output(&text).map_err(|e| decode_err(e.to_string()))? {
        env.set(name, value);
    }
    Ok(())
}

/// The launch failure when the launcher's own descriptor 3 could not be put back after
/// `child` was spawned: reported once the child has finished (its output is not read).
fn restore_failed(program: &Path, err: &io::Error, mut child: Child) -> LaunchError {
    // Its status does not matter: the launch fails either way.
    let _ = child.wait();
    LaunchError::new(format!(
        "failed to execute exec.d file at path '{}': restore fd {OUTPUT_FD}: {}",
        program.display(),
        goerr::text(err)
    ))
}

/// `io` on a descriptor other than [`OUTPUT_FD`]: while the child is spawned that
/// number holds the pipe's write end, so none of the launcher's own descriptors may
/// sit there.
fn off_output_fd<T: From<OwnedFd> + Into<OwnedFd>>(io: T) -> std::io::Result<T> {
    let fd: OwnedFd = io.into();
    if fd.as_raw_fd() != OUTPUT_FD {
        return Ok(T::from(fd));
    }
    // The copy takes the lowest free descriptor above 3; the original is then closed.
    fd.try_clone().map(T::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_restore_waits_for_the_child_and_says_so() {
        let child = Command::new("/bin/sh")
            .args(["-c", "exit 3"])
            .spawn()
            .unwrap();
        let proc_dir = Path::new("/proc").join(child.id().to_string());
        let err = restore_failed(
            Path::new("/layers/bp/l/exec.d/x"),
            &io::Error::from_raw_os_error(9),
            child,
        );
        assert_eq!(
            err.to_string(),
            "failed to execute exec.d file at path '/layers/bp/l/exec.d/x': restore fd 3: bad file descriptor"
        );
        assert!(!proc_dir.exists(), "the child was reaped");
    }
}

//! exec.d: every file in each layer's `exec.d/` and then `exec.d/<type>/` is run (in
//! buildpack, layer and file-name order) with the app directory as working directory,
//! the launch environment, standard input from `/dev/null`, the launcher's standard
//! output and error, and a pipe on fd 3. Its fd-3 output (TOML `NAME = "value"` lines)
//! overrides the launch environment before the next program runs.

use std::fs::File;
use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;
use std::process::Command;

use buildpack_api::env::Env;
use buildpack_api::execd::parse_exec_d_output;
use buildpack_api::goerr;

use crate::error::LaunchError;
use crate::layers::{BuildpackLayers, files};
use crate::{sys, wait_status};

/// The descriptor an exec.d program writes its output to.
const OUTPUT_FD: i32 = 3;
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
    let (mut reader, writer) = std::io::pipe()
        .and_then(|(r, w)| Ok((off_output_fd(r)?, off_output_fd(w)?)))
        .map_err(|e| LaunchError::new(format!("failed to create pipe: {}", goerr::text(&e))))?;
    let mut cmd = Command::new(program);
    cmd.stdin(stdin).env_clear().envs(env.iter());
    let spawned = sys::with_inherited_fd(writer.as_raw_fd(), OUTPUT_FD, || cmd.spawn())
        .map_err(|e| LaunchError::new(format!("failed to create pipe: {}", goerr::text(&e))))?;
    // Only the child may hold the write end, so reading ends when it is done.
    drop(writer);
    let mut child = spawned.map_err(|e| exec_err(goerr::path_error("fork/exec", program, &e)))?;
    let mut output = Vec::new();
    let read = reader.read_to_end(&mut output);
    let status = child
        .wait()
        .map_err(|e| exec_err(format!("wait: {}", goerr::text(&e))))?;
    if !status.success() {
        return Err(exec_err(wait_status::describe(status)));
    }
    read.map_err(|e| {
        LaunchError::new(format!(
            "failed to read output from exec.d file at path '{at}': {}",
            goerr::text(&e)
        ))
    })?;
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

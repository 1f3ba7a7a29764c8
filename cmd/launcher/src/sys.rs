//! The C library calls the standard library does not offer: `execve` (to replace the
//! launcher as Go's `syscall.Exec` does), descriptor juggling (`fcntl`, `dup2`,
//! `close`) to hand an exec.d program its fd 3 while still letting the standard library
//! spawn it with `posix_spawn`, and `faccessat` with `AT_EACCESS` (to test
//! executability for the effective user, as Go's `exec.LookPath` does). No crate is
//! pulled in for them; the C library is linked anyway.
//!
//! The constants are Linux's (glibc and musl agree on them), so the module is only
//! built for Linux.

use std::ffi::{CString, OsStr, c_char, c_int, c_ulong};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::{Child, Command};

/// `AT_FDCWD`.
const AT_FDCWD: c_int = -100;
/// `AT_EACCESS`.
const AT_EACCESS: c_int = 0x200;
/// `X_OK`.
const X_OK: c_int = 1;
/// `F_DUPFD_CLOEXEC`.
const F_DUPFD_CLOEXEC: c_int = 1030;
/// `EBADF`.
const EBADF: i32 = 9;
/// `EINVAL`.
const EINVAL: i32 = 22;
/// `SIGPIPE`.
const SIGPIPE: c_int = 13;
/// `SIG_DFL`.
const SIG_DFL: usize = 0;
/// `SIG_ERR`.
const SIG_ERR: usize = usize::MAX;
/// `SIG_SETMASK`.
const SIG_SETMASK: c_int = 2;

/// `sigset_t`: 1024 bits in glibc and musl.
type SigSet = [c_ulong; 128 / size_of::<c_ulong>()];

/// The descriptor an exec.d program writes its output to.
pub(crate) const OUTPUT_FD: c_int = 3;

unsafe extern "C" {
    fn close(fd: c_int) -> c_int;
    fn dup2(oldfd: c_int, newfd: c_int) -> c_int;
    fn execve(path: *const c_char, argv: *const *const c_char, envp: *const *const c_char)
    -> c_int;
    fn faccessat(dirfd: c_int, pathname: *const c_char, mode: c_int, flags: c_int) -> c_int;
    fn fcntl(fd: c_int, cmd: c_int, ...) -> c_int;
    fn signal(signum: c_int, handler: usize) -> usize;
    fn sigprocmask(how: c_int, set: *const SigSet, oldset: *mut SigSet) -> c_int;
}

/// A C string of `bytes`; a NUL byte inside is `EINVAL`, as in Go.
fn c_string(bytes: &[u8]) -> io::Result<CString> {
    CString::new(bytes).map_err(|_| io::Error::from_raw_os_error(EINVAL))
}

/// The NULL-terminated pointer array over `strings` (which must outlive its use).
fn pointers(strings: &[CString]) -> Vec<*const c_char> {
    strings
        .iter()
        .map(|s| s.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect()
}

/// Replaces the launcher with the program at `path`, run with `argv` and the
/// environment `env`, through `execve(2)` as Go's `syscall.Exec` does: a file the
/// kernel cannot execute (such as a script without a `#!` line) fails with `ENOEXEC`
/// rather than being handed to `/bin/sh` as the C library's `execvp` does. A NUL byte
/// in any string fails with `EINVAL` before anything is attempted. The program starts
/// with no signal blocked and `SIGPIPE` at its default action (the Rust runtime ignores
/// it, and ignored signals survive `execve`), as the standard library's `exec` would
/// start it. Returns only on failure, with the launcher as it was.
pub(crate) fn exec<'a>(
    path: &Path,
    argv: impl IntoIterator<Item = &'a OsStr>,
    env: impl IntoIterator<Item = (&'a OsStr, &'a OsStr)>,
) -> io::Error {
    let prepared = (|| {
        let path = c_string(path.as_os_str().as_bytes())?;
        let argv = argv
            .into_iter()
            .map(|arg| c_string(arg.as_bytes()))
            .collect::<io::Result<Vec<_>>>()?;
        let envp = env
            .into_iter()
            .map(|(name, value)| {
                let mut entry = Vec::with_capacity(name.len() + value.len() + 1);
                entry.extend_from_slice(name.as_bytes());
                entry.push(b'=');
                entry.extend_from_slice(value.as_bytes());
                c_string(&entry)
            })
            .collect::<io::Result<Vec<_>>>()?;
        io::Result::Ok((path, argv, envp))
    })();
    let (path, argv, envp) = match prepared {
        Ok(prepared) => prepared,
        Err(err) => return err,
    };
    let (argv, envp) = (pointers(&argv), pointers(&envp));
    let (empty, mut blocked): (SigSet, SigSet) = Default::default();
    // SAFETY: both sets are valid `sigset_t`s; this only changes the signal mask.
    let unblocked = unsafe { sigprocmask(SIG_SETMASK, &empty, &mut blocked) } == 0;
    // SAFETY: `signal` only changes how the process treats SIGPIPE.
    let previous = unsafe { signal(SIGPIPE, SIG_DFL) };
    // SAFETY: `path` and every entry of the NULL-terminated `argv` and `envp` point at
    // NUL-terminated strings that outlive the call.
    unsafe { execve(path.as_ptr(), argv.as_ptr(), envp.as_ptr()) };
    let err = io::Error::last_os_error();
    // What the launcher had is put back for the rest of its (short) life.
    if previous != SIG_ERR {
        // SAFETY: as above.
        unsafe { signal(SIGPIPE, previous) };
    }
    if unblocked {
        // SAFETY: as above.
        unsafe { sigprocmask(SIG_SETMASK, &blocked, std::ptr::null_mut()) };
    }
    err
}

/// Makes `newfd` a copy of `oldfd` (without close-on-exec).
fn dup_to(oldfd: c_int, newfd: c_int) -> io::Result<()> {
    // SAFETY: dup2 only operates on descriptor numbers; invalid ones yield EBADF.
    if unsafe { dup2(oldfd, newfd) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Closes a descriptor number this module put in place.
fn close_fd(fd: c_int) {
    // SAFETY: only called on descriptors this module created or placed, which nothing
    // else owns.
    unsafe { close(fd) };
}

/// Why [`spawn_with_output_fd`] failed.
#[derive(Debug)]
pub(crate) enum SpawnError {
    /// No child runs: descriptor 3 could not be set up, or the spawn itself failed.
    Spawn(io::Error),
    /// The child runs, but the launcher's own descriptor 3 could not be put back (it is
    /// closed, so only the child holds the pipe); the child still has to be waited for.
    Restore(io::Error, Child),
}

/// Spawns `cmd` with `pipe` as its descriptor 3 ([`OUTPUT_FD`]), then puts back the
/// launcher's own descriptor 3: closed, or the descriptor it inherited (inherited
/// descriptors reach the launcher without close-on-exec, and must reach the process it
/// execs). `pipe` must not be descriptor 3 (`EINVAL`).
pub(crate) fn spawn_with_output_fd(
    cmd: &mut Command,
    pipe: BorrowedFd<'_>,
) -> Result<Child, SpawnError> {
    // SAFETY: descriptor 3 is the launcher's to juggle: it keeps none of its own
    // descriptors there (exec.d moves them off it), and it has a single thread, so
    // nothing else uses or opens that number meanwhile.
    unsafe { spawn_with_fd(cmd, pipe, OUTPUT_FD) }
}

/// [`spawn_with_output_fd`] for descriptor `target`.
///
/// # Safety
///
/// Nothing else may own `target` (no `OwnedFd` or `File` of the process), nor use or
/// open descriptors until this returns (no other thread): `target` is overwritten, then
/// restored or closed.
unsafe fn spawn_with_fd(
    cmd: &mut Command,
    pipe: BorrowedFd<'_>,
    target: c_int,
) -> Result<Child, SpawnError> {
    let pipe = pipe.as_raw_fd();
    if pipe == target {
        return Err(SpawnError::Spawn(io::Error::from_raw_os_error(EINVAL)));
    }
    // SAFETY: F_DUPFD_CLOEXEC takes an integer argument and only creates a descriptor.
    let saved = unsafe { fcntl(target, F_DUPFD_CLOEXEC, target + 1) };
    let saved = if saved >= 0 {
        Some(saved)
    } else {
        let err = io::Error::last_os_error();
        if err.raw_os_error() != Some(EBADF) {
            return Err(SpawnError::Spawn(err));
        }
        None
    };
    if let Err(err) = dup_to(pipe, target) {
        saved.into_iter().for_each(close_fd);
        return Err(SpawnError::Spawn(err));
    }
    let spawned = cmd.spawn();
    let restored = match saved {
        Some(saved) => {
            let restored = dup_to(saved, target);
            close_fd(saved);
            restored
        }
        None => {
            close_fd(target);
            Ok(())
        }
    };
    if restored.is_err() {
        // `target` still holds the pipe: let the child's exit end the output.
        close_fd(target);
    }
    match (spawned, restored) {
        (Ok(child), Ok(())) => Ok(child),
        (Ok(child), Err(err)) => Err(SpawnError::Restore(err, child)),
        (Err(err), _) => Err(SpawnError::Spawn(err)),
    }
}

/// Whether the effective user may execute `path`.
pub(crate) fn access_executable(path: &Path) -> io::Result<()> {
    let c_path = c_string(path.as_os_str().as_bytes())?;
    // SAFETY: `c_path` is a valid NUL-terminated string that outlives the call.
    if unsafe { faccessat(AT_FDCWD, c_path.as_ptr(), X_OK, AT_EACCESS) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::fd::{AsFd, FromRawFd, OwnedFd};
    use std::os::unix::fs::PermissionsExt;

    /// `F_GETFD`.
    const F_GETFD: c_int = 1;
    /// `SIG_IGN`.
    const SIG_IGN: usize = 1;

    #[test]
    fn access() {
        assert!(access_executable(Path::new("/bin/sh")).is_ok());
        let err = access_executable(Path::new("/nonexistent")).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
    }

    /// Runs `exec`, which must fail, and returns the error's text (retrying while a
    /// freshly written file is still held open by a child another test forks).
    fn exec_fails(path: &Path, argv: &[&str]) -> String {
        loop {
            let argv = argv.iter().map(OsStr::new);
            let env = [(OsStr::new("A"), OsStr::new("b"))];
            let err = exec(path, argv, env);
            if err.raw_os_error() != Some(26) {
                return buildpack_api::goerr::text(&err);
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }

    #[test]
    fn exec_fails_like_go() {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("no-shebang");
        std::fs::write(&script, "echo run by a shell\n").unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(exec_fails(&script, &["no-shebang"]), "exec format error");
        assert_eq!(
            exec_fails(&dir.path().join("missing"), &["x"]),
            "no such file or directory"
        );
        assert_eq!(
            exec_fails(Path::new("/bin/sh"), &["a\0b"]),
            "invalid argument"
        );
        // SIGPIPE is ignored again after a failure (the Rust runtime ignores it).
        // SAFETY: sets SIGPIPE's disposition to what it is expected to be already.
        assert_eq!(unsafe { signal(SIGPIPE, SIG_IGN) }, SIG_IGN);
    }

    #[test]
    fn output_fd_is_set_then_restored() {
        let target = 200;
        let spawn = |pipe: BorrowedFd<'_>| {
            let mut cmd = Command::new("/bin/sh");
            cmd.args(["-c", "printf out >/dev/fd/200"]);
            // SAFETY: no descriptor of the tests is at 200, and only this test uses it.
            let mut child = unsafe { spawn_with_fd(&mut cmd, pipe, target) }.unwrap();
            assert!(child.wait().unwrap().success());
        };
        // 200 closed before: closed again afterwards.
        let (mut r, w) = io::pipe().unwrap();
        spawn(w.as_fd());
        drop(w);
        let mut got = String::new();
        r.read_to_string(&mut got).unwrap();
        assert_eq!(got, "out");
        // SAFETY: F_GETFD on a descriptor number; reads flags only.
        assert_eq!(unsafe { fcntl(target, F_GETFD) }, -1);
        // 200 open before: the same file again afterwards.
        let (mut before_r, before_w) = io::pipe().unwrap();
        dup_to(before_w.as_raw_fd(), target).unwrap();
        drop(before_w);
        let (mut r, w) = io::pipe().unwrap();
        spawn(w.as_fd());
        drop(w);
        let mut got = String::new();
        r.read_to_string(&mut got).unwrap();
        assert_eq!(got, "out");
        // SAFETY: 200 is open (restored) and owned by nothing else.
        let mut restored = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(target) });
        restored.write_all(b"still mine").unwrap();
        drop(restored);
        let mut got = String::new();
        before_r.read_to_string(&mut got).unwrap();
        assert_eq!(got, "still mine");
    }
}

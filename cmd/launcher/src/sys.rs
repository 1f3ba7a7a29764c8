//! The C library calls the standard library does not offer: descriptor juggling
//! (`fcntl`, `dup2`, `close`) to hand an exec.d program its fd 3 while still letting the
//! standard library spawn it with `posix_spawn`, and `faccessat` with `AT_EACCESS` (to
//! test executability for the effective user, as Go's `exec.LookPath` does). No crate
//! is pulled in for them; the C library is linked anyway.

use std::ffi::{CString, c_char, c_int};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// `AT_FDCWD` on Linux.
const AT_FDCWD: c_int = -100;
/// `AT_EACCESS` on Linux.
const AT_EACCESS: c_int = 0x200;
/// `X_OK`.
const X_OK: c_int = 1;

/// `F_DUPFD_CLOEXEC` on Linux.
const F_DUPFD_CLOEXEC: c_int = 1030;
/// `EBADF`.
const EBADF: i32 = 9;

unsafe extern "C" {
    fn close(fd: c_int) -> c_int;
    fn dup2(oldfd: c_int, newfd: c_int) -> c_int;
    fn faccessat(dirfd: c_int, pathname: *const c_char, mode: c_int, flags: c_int) -> c_int;
    fn fcntl(fd: c_int, cmd: c_int, ...) -> c_int;
}

/// Makes `newfd` a copy of `oldfd` (without close-on-exec).
fn dup_to(oldfd: c_int, newfd: c_int) -> io::Result<()> {
    // SAFETY: dup2 only operates on descriptor numbers; invalid ones yield EBADF.
    if unsafe { dup2(oldfd, newfd) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Closes a descriptor this module created.
fn close_fd(fd: c_int) {
    // SAFETY: only called on descriptors created here and owned by nothing else.
    unsafe { close(fd) };
}

/// Runs `f` (which spawns children) while descriptor `target` is an inheritable copy
/// of `fd`, then puts back what `target` was: closed, or the descriptor it held
/// (inherited descriptors reach the launcher without close-on-exec, so none is lost).
/// `fd` must not be `target`. The launcher has a single thread, so no other spawn can
/// see `target` meanwhile.
pub(crate) fn with_inherited_fd<T>(
    fd: c_int,
    target: c_int,
    f: impl FnOnce() -> T,
) -> io::Result<T> {
    // SAFETY: F_DUPFD_CLOEXEC takes an integer argument and only creates a descriptor.
    let saved = unsafe { fcntl(target, F_DUPFD_CLOEXEC, target + 1) };
    let saved = if saved >= 0 {
        Some(saved)
    } else {
        let err = io::Error::last_os_error();
        if err.raw_os_error() != Some(EBADF) {
            return Err(err);
        }
        None
    };
    if let Err(err) = dup_to(fd, target) {
        saved.into_iter().for_each(close_fd);
        return Err(err);
    }
    let out = f();
    match saved {
        Some(saved) => {
            let restored = dup_to(saved, target);
            close_fd(saved);
            restored?;
        }
        None => close_fd(target),
    }
    Ok(out)
}

/// Whether the effective user may execute `path`.
pub(crate) fn access_executable(path: &Path) -> io::Result<()> {
    let c_path = CString::new(path.as_os_str().as_bytes())
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    // SAFETY: `c_path` is a valid NUL-terminated string that outlives the call.
    if unsafe { faccessat(AT_FDCWD, c_path.as_ptr(), X_OK, AT_EACCESS) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access() {
        assert!(access_executable(Path::new("/bin/sh")).is_ok());
        let err = access_executable(Path::new("/nonexistent")).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
    }

    #[test]
    fn inherited_fd_is_set_then_restored() {
        use std::os::fd::AsRawFd;
        let (_r, w) = std::io::pipe().unwrap();
        let target = 200;
        let during = with_inherited_fd(w.as_raw_fd(), target, || {
            // SAFETY: F_GETFD on a descriptor number; reads flags only.
            unsafe { fcntl(target, 1) }
        })
        .unwrap();
        assert_eq!(during, 0, "open without close-on-exec while spawning");
        // SAFETY: as above.
        assert_eq!(unsafe { fcntl(target, 1) }, -1, "closed again afterwards");
        assert!(with_inherited_fd(-1, target, || ()).is_err());
    }
}

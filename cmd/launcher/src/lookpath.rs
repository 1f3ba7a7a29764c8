//! Finding a direct process's executable as Go's `exec.LookPath` does: a name with a
//! `/` is used as is, anything else is searched in the launch `PATH` (an empty entry
//! meaning `.`), and a match that is not an absolute path is refused. Errors read
//! `exec: "<name>": <reason>`.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use buildpack_api::goerr;
use platform_api::flags::strconv::quote;

use crate::error::LaunchError;
use crate::sys;

/// The executable `file` names, searched in `path_var` (a `PATH` value).
pub(crate) fn look_path(file: &OsStr, path_var: &OsStr) -> Result<PathBuf, LaunchError> {
    let fail = |reason: &str| {
        LaunchError::new(format!(
            "exec: {}: {reason}",
            quote(&file.to_string_lossy())
        ))
    };
    if file.as_bytes().contains(&b'/') {
        let path = PathBuf::from(file);
        return match find_executable(&path) {
            Ok(()) => Ok(path),
            Err(reason) => Err(fail(&reason)),
        };
    }
    if !path_var.is_empty() {
        for dir in path_var.as_bytes().split(|b| *b == b':') {
            let dir = if dir.is_empty() {
                Path::new(".")
            } else {
                Path::new(OsStr::from_bytes(dir))
            };
            let candidate = dir.join(file);
            if find_executable(&candidate).is_ok() {
                if !candidate.is_absolute() {
                    return Err(fail(
                        "cannot run executable found relative to current directory",
                    ));
                }
                return Ok(candidate);
            }
        }
    }
    Err(fail("executable file not found in $PATH"))
}

/// Whether `path` is an executable non-directory; the reason as Go words it otherwise.
fn find_executable(path: &Path) -> Result<(), String> {
    let meta = std::fs::metadata(path).map_err(|e| goerr::path_error("stat", path, &e))?;
    if meta.is_dir() {
        return Err("is a directory".into());
    }
    match sys::access_executable(path) {
        Ok(()) => Ok(()),
        // Without a usable access check (ENOSYS, or EPERM from a seccomp filter), the
        // permission bits decide.
        Err(e) if matches!(e.raw_os_error(), Some(1 | 38)) => {
            if meta.permissions().mode() & 0o111 != 0 {
                Ok(())
            } else {
                Err("permission denied".into())
            }
        }
        Err(e) => Err(goerr::text(&e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn exe(dir: &Path, name: &str, mode: u32) -> PathBuf {
        let p = dir.join(name);
        fs::write(&p, "#!/bin/sh\n").unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(mode)).unwrap();
        p
    }

    fn look(file: &str, path: &str) -> Result<PathBuf, String> {
        look_path(OsStr::new(file), OsStr::new(path)).map_err(|e| e.to_string())
    }

    #[test]
    fn searches_path_in_order() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        exe(a.path(), "tool", 0o644);
        let want = exe(b.path(), "tool", 0o755);
        fs::create_dir(a.path().join("dir")).unwrap();
        let path = format!("{}:{}", a.path().display(), b.path().display());
        assert_eq!(look("tool", &path), Ok(want));
        assert_eq!(
            look("dir", &path),
            Err("exec: \"dir\": executable file not found in $PATH".into())
        );
        assert_eq!(
            look("tool", ""),
            Err("exec: \"tool\": executable file not found in $PATH".into())
        );
    }

    #[test]
    fn names_with_a_slash_are_not_searched() {
        let a = tempfile::tempdir().unwrap();
        let p = exe(a.path(), "x", 0o755);
        assert_eq!(look(p.to_str().unwrap(), ""), Ok(p.clone()));
        let missing = a.path().join("missing");
        assert_eq!(
            look(missing.to_str().unwrap(), "/bin"),
            Err(format!(
                "exec: \"{0}\": stat {0}: no such file or directory",
                missing.display()
            ))
        );
        assert_eq!(
            look(a.path().to_str().unwrap(), ""),
            Err(format!("exec: \"{}\": is a directory", a.path().display()))
        );
    }

    #[test]
    fn relative_matches_are_refused() {
        // Run from a directory holding an executable found through an empty entry.
        let a = tempfile::tempdir().unwrap();
        exe(a.path(), "here", 0o755);
        let rel = a.path().strip_prefix("/").unwrap();
        let up = "../".repeat(std::env::current_dir().unwrap().components().count() - 1);
        let relative_dir = format!("{up}{}", rel.display());
        assert_eq!(
            look("here", &relative_dir),
            Err("exec: \"here\": cannot run executable found relative to current directory".into())
        );
    }
}

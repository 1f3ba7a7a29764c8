//! Reading env-file directories.

use std::ffi::OsString;
use std::io;
use std::path::Path;

/// The regular files (or symlinks to them) of `dir` as `(file name, raw contents)`,
/// sorted by name. A missing directory has no files; subdirectories and symlinks to
/// directories are skipped; a dangling symlink or an unreadable file is an error (as in
/// the reference).
pub(crate) fn env_files(dir: &Path) -> io::Result<Vec<(OsString, OsString)>> {
    let mut names = Vec::new();
    for (name, file_type) in crate::dirs::sorted_entries(dir)? {
        if file_type.is_dir()
            || (file_type.is_symlink() && std::fs::metadata(dir.join(&name))?.is_dir())
        {
            continue;
        }
        names.push(name);
    }
    names
        .into_iter()
        .map(|name| {
            let contents = read_raw(&dir.join(&name))?;
            Ok((name, contents))
        })
        .collect()
}

/// The raw bytes of a file as an OS string (no trimming, no UTF-8 requirement).
pub(crate) fn read_raw(path: &Path) -> io::Result<OsString> {
    use std::os::unix::ffi::OsStringExt;
    std::fs::read(path).map(OsString::from_vec)
}

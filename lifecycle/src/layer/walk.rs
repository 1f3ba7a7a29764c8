//! The file system as the reference's layer writer sees it: `lstat` metadata, the
//! lexical depth-first walk of Go's `filepath.Walk` (a directory before its children,
//! names sorted by bytes, symlinks not followed), the parent directories of a layer
//! directory (`stat`, following symlinks) and absolute, lexically cleaned paths.

use std::ffi::OsString;
use std::fs::{self, Metadata};
use std::io;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use super::error::LayerError;
use super::gopath;
use super::gotar::EntryType;

/// What a layer needs to know about one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stat {
    /// The type, `None` for a socket (never archived).
    pub entry_type: Option<EntryType>,
    /// Permission, setuid, setgid and sticky bits.
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Length of a regular file, else 0.
    pub size: u64,
    /// Device major and minor numbers, as Go splits Linux's `st_rdev`.
    pub dev: (u64, u64),
}

impl Stat {
    /// The metadata of `path` as the walk read it.
    pub(crate) fn from_metadata(meta: &Metadata) -> Stat {
        let file_type = meta.file_type();
        let entry_type = if file_type.is_file() {
            Some(EntryType::Regular)
        } else if file_type.is_dir() {
            Some(EntryType::Dir)
        } else if file_type.is_symlink() {
            Some(EntryType::Symlink)
        } else if file_type.is_char_device() {
            Some(EntryType::Char)
        } else if file_type.is_block_device() {
            Some(EntryType::Block)
        } else if file_type.is_fifo() {
            Some(EntryType::Fifo)
        } else {
            None
        };
        let dev = match entry_type {
            Some(EntryType::Char | EntryType::Block) => {
                let rdev = meta.rdev();
                let major =
                    ((rdev & 0x0000_0000_000f_ff00) >> 8) | ((rdev & 0xffff_f000_0000_0000) >> 32);
                let minor = (rdev & 0x0000_0000_0000_00ff) | ((rdev & 0x0000_0fff_fff0_0000) >> 12);
                (major, minor)
            }
            _ => (0, 0),
        };
        Stat {
            entry_type,
            mode: meta.mode() & 0o7777,
            uid: meta.uid(),
            gid: meta.gid(),
            size: if entry_type == Some(EntryType::Regular) {
                meta.len()
            } else {
                0
            },
            dev,
        }
    }

    /// Whether this is a directory.
    pub(crate) fn is_dir(&self) -> bool {
        self.entry_type == Some(EntryType::Dir)
    }
}

/// `lstat` of `path`, failing as Go words it.
pub(crate) fn lstat(path: &Path) -> Result<Stat, LayerError> {
    fs::symlink_metadata(path)
        .map(|meta| Stat::from_metadata(&meta))
        .map_err(|e| LayerError::io("lstat", path, e))
}

/// Go's `filepath.Abs`: `path` made absolute against the working directory and cleaned.
pub(crate) fn absolute(path: &Path) -> Result<PathBuf, LayerError> {
    let joined = if path.is_absolute() {
        path.to_path_buf()
    } else {
        let cwd =
            std::env::current_dir().map_err(|e| LayerError::io("getwd", Path::new("."), e))?;
        cwd.join(path)
    };
    Ok(PathBuf::from(OsString::from_vec(gopath::clean(
        joined.as_os_str().as_bytes(),
    ))))
}

/// The directories above `path` (not `/`), outermost first, each with its `stat`
/// metadata (symlinks followed), as the reference's `parents` lists them.
pub(crate) fn parents(path: &Path) -> Result<Vec<(PathBuf, Stat)>, LayerError> {
    let mut found = Vec::new();
    let mut current = path.parent();
    while let Some(dir) = current {
        if dir.as_os_str().as_bytes() == b"/" {
            break;
        }
        let meta = fs::metadata(dir).map_err(|e| LayerError::io("stat", dir, e))?;
        found.push((dir.to_path_buf(), Stat::from_metadata(&meta)));
        current = dir.parent();
    }
    found.reverse();
    Ok(found)
}

/// Walks `root` like Go's `filepath.Walk`: `visit` sees `root` and everything below it,
/// each directory before its children, siblings sorted by name bytes, symlinks not
/// followed. The first error (a failed `lstat` or directory read, or one returned by
/// `visit`) ends the walk.
pub(crate) fn walk(
    root: &Path,
    mut visit: impl FnMut(&Path, &Stat) -> Result<(), LayerError>,
) -> Result<(), LayerError> {
    let stat = lstat(root)?;
    // Directories being walked: their path and the names still to visit, reversed.
    let mut stack: Vec<(PathBuf, Vec<OsString>)> = Vec::new();
    let mut enter = |path: PathBuf, stat: &Stat, stack: &mut Vec<(PathBuf, Vec<OsString>)>| {
        if stat.is_dir() {
            let mut names = sorted_names(&path).map_err(|e| LayerError::io("open", &path, e))?;
            visit(&path, stat)?;
            names.reverse();
            stack.push((path, names));
            Ok(())
        } else {
            visit(&path, stat)
        }
    };
    enter(root.to_path_buf(), &stat, &mut stack)?;
    while let Some((dir, names)) = stack.last_mut() {
        let Some(name) = names.pop() else {
            stack.pop();
            continue;
        };
        let path = dir.join(name);
        let stat = lstat(&path)?;
        enter(path, &stat, &mut stack)?;
    }
    Ok(())
}

/// The names in `dir`, sorted by bytes as Go's `sort.Strings` sorts them.
fn sorted_names(dir: &Path) -> io::Result<Vec<OsString>> {
    let mut names = fs::read_dir(dir)?
        .map(|entry| entry.map(|e| e.file_name()))
        .collect::<io::Result<Vec<_>>>()?;
    names.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walk_is_lexical_by_bytes_and_depth_first() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("root");
        for dir in ["a", "a/c", "b"] {
            fs::create_dir_all(root.join(dir)).unwrap();
        }
        for file in ["a-b", "a.txt", "a/c/z", "a/d", "B", "b/x"] {
            fs::write(root.join(file), file).unwrap();
        }
        std::os::unix::fs::symlink("a", root.join("link")).unwrap();
        let mut seen = Vec::new();
        walk(&root, |path, stat| {
            let rel = path
                .strip_prefix(&root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            seen.push((rel, stat.entry_type.unwrap()));
            Ok(())
        })
        .unwrap();
        let names: Vec<&str> = seen.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "", "B", "a", "a/c", "a/c/z", "a/d", "a-b", "a.txt", "b", "b/x", "link"
            ]
        );
        assert_eq!(seen[10].1, EntryType::Symlink);
        assert_eq!(seen[2].1, EntryType::Dir);
    }

    #[test]
    fn walk_stops_at_the_first_error() {
        let tmp = tempfile::tempdir().unwrap();
        let missing = tmp.path().join("missing");
        let err = walk(&missing, |_, _| Ok(())).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("lstat {}: no such file or directory", missing.display())
        );
    }

    #[test]
    fn parents_are_outermost_first_without_root() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("x/y");
        fs::create_dir_all(&dir).unwrap();
        let found: Vec<PathBuf> = parents(&dir).unwrap().into_iter().map(|(p, _)| p).collect();
        let mut want: Vec<PathBuf> = dir.ancestors().skip(1).map(Path::to_path_buf).collect();
        want.pop(); // "/"
        want.reverse();
        assert_eq!(found, want);
    }

    #[test]
    fn absolute_cleans_lexically() {
        assert_eq!(
            absolute(Path::new("/a/b/../c/./d/")).unwrap(),
            Path::new("/a/c/d")
        );
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(absolute(Path::new("x/..")).unwrap(), cwd);
    }
}

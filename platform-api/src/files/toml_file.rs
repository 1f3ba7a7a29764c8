//! Reading and atomically writing a platform file as TOML.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use buildpack_api::gotoml;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::error::{FileAction, FileError, FileKind};

/// Reads and decodes `path`.
pub(crate) fn read<T: DeserializeOwned>(path: &Path, kind: FileKind) -> Result<T, FileError> {
    let text = read_text(path, kind)?;
    parse(&text, path, kind)
}

/// Like [`read`], but a missing file is `None`.
pub(crate) fn read_optional<T: DeserializeOwned>(
    path: &Path,
    kind: FileKind,
) -> Result<Option<T>, FileError> {
    match read(path, kind) {
        Ok(value) => Ok(Some(value)),
        Err(err) if err.is_not_found() => Ok(None),
        Err(err) => Err(err),
    }
}

/// Decodes TOML text that came from `path`.
fn parse<T: DeserializeOwned>(text: &str, path: &Path, kind: FileKind) -> Result<T, FileError> {
    toml::from_str(text).map_err(|err| FileError::Syntax {
        kind,
        path: path.to_path_buf(),
        line: buildpack_api::goerr::toml_line(text, &err),
        message: err.message().to_string(),
    })
}

/// Encodes `value` as the reference would and replaces `path` with it atomically,
/// creating missing parent directories.
pub(crate) fn write<T: Serialize>(path: &Path, kind: FileKind, value: &T) -> Result<(), FileError> {
    let text = gotoml::to_string(value).map_err(|source| FileError::Encode {
        kind,
        path: path.to_path_buf(),
        cause: source,
    })?;
    write_atomically(path, text.as_bytes()).map_err(|(op, path, source)| FileError::Io {
        action: FileAction::Write,
        kind,
        op,
        path,
        cause: source,
    })
}

fn read_text(path: &Path, kind: FileKind) -> Result<String, FileError> {
    let io_err = |op: &'static str| {
        move |source: io::Error| FileError::Io {
            action: FileAction::Read,
            kind,
            op,
            path: path.to_path_buf(),
            cause: source,
        }
    };
    let mut text = String::new();
    File::open(path)
        .map_err(io_err("open"))?
        .read_to_string(&mut text)
        .map_err(io_err("read"))?;
    Ok(text)
}

type IoFailure = (&'static str, PathBuf, io::Error);

/// Writes to a temporary file next to `path`, then renames it over `path`; the
/// temporary file is removed on failure.
fn write_atomically(path: &Path, contents: &[u8]) -> Result<(), IoFailure> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    fs::create_dir_all(dir).map_err(|e| ("mkdir", dir.to_path_buf(), e))?;
    let (tmp, mut file) = create_temp(dir, path).map_err(|e| ("open", path.to_path_buf(), e))?;
    let result = file
        .write_all(contents)
        .map_err(|e| ("write", path.to_path_buf(), e))
        .and_then(|()| {
            drop(file);
            fs::rename(&tmp, path).map_err(|e| ("rename", path.to_path_buf(), e))
        });
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

fn create_temp(dir: &Path, target: &Path) -> io::Result<(PathBuf, File)> {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let name = target
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a file path"))?
        .to_string_lossy();
    for _ in 0..64 {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let tmp = dir.join(format!(".{name}.{}-{n}.tmp", std::process::id()));
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o666);
        match options.open(&tmp) {
            Ok(file) => return Ok((tmp, file)),
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(err) => return Err(err),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        "no free temporary file name",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, serde::Deserialize)]
    struct Doc {
        key: String,
    }

    #[test]
    fn writes_atomically_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/dir/doc.toml");
        let doc = Doc { key: "v".into() };
        write(&path, FileKind::Group, &doc).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "key = \"v\"\n");
        write(&path, FileKind::Group, &Doc { key: "w".into() }).unwrap();
        let back: Doc = read(&path, FileKind::Group).unwrap();
        assert_eq!(back.key, "w");
        let leftovers: Vec<_> = fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers, vec![std::ffi::OsString::from("doc.toml")]);
    }

    #[test]
    fn read_errors_name_the_file_and_cause() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("group.toml");
        let err = read::<Doc>(&missing, FileKind::Group).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "failed to read group file: open {}: no such file or directory",
                missing.display()
            )
        );
        assert!(
            read_optional::<Doc>(&missing, FileKind::Group)
                .unwrap()
                .is_none()
        );

        let err = read::<Doc>(dir.path(), FileKind::Group).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "failed to read group file: read {}: is a directory",
                dir.path().display()
            )
        );

        fs::write(&missing, "key = \"a\"\n\nkey = 1\n").unwrap();
        let err = read::<Doc>(&missing, FileKind::Group).unwrap_err();
        assert_eq!(
            err.to_string(),
            "failed to read group file: toml: line 3: duplicate key"
        );
    }

    #[test]
    fn write_failure_leaves_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("group.toml");
        fs::create_dir(&target).unwrap();
        fs::write(target.join("x"), "").unwrap();
        let err = write(&target, FileKind::Group, &Doc { key: "v".into() }).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("failed to write group file: rename "),
            "{err}"
        );
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("group.toml")]);
    }
}

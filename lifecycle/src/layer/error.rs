//! Why a layer could not be described, written or hashed.

use std::io;
use std::path::{Path, PathBuf};

use buildpack_api::goerr;
use buildpack_api::id::IdError;

/// Why a layer could not be described, written or hashed. File system failures are
/// worded as Go words them (`lstat /layers/x: permission denied`).
#[derive(Debug, thiserror::Error)]
pub enum LayerError {
    /// A file operation failed (`op` is Go's name for it: `lstat`, `open`, `read`,
    /// `readlink`, `write`, `rename`, ...).
    #[error("{}", goerr::path_error(.op, .path, .source))]
    Io {
        /// The operation.
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// A regular file's size changed between its `lstat` and the end of its copy into
    /// the layer (the reference fails with `archive/tar: write too long`).
    #[error("file {} changed while it was archived: its size was {size} bytes, {}", .path.display(),
        match .read { Some(read) => format!("only {read} could be read"), None => "more could be read".to_string() })]
    FileChanged {
        /// The file.
        path: PathBuf,
        /// Its size when it was listed.
        size: u64,
        /// How many bytes could be read when it shrank (`None`: it grew).
        read: Option<u64>,
    },
    /// An entry cannot be encoded in a tar header Go would write.
    #[error("{}: {reason}", .path.display())]
    Header {
        /// The entry.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A process type cannot be a symlink name (the reference's wording).
    #[error(transparent)]
    ProcessType(#[from] IdError),
    /// A slice glob is malformed (the reference's wording).
    #[error("failed to check if '{name}' matches '{pattern}': syntax error in pattern")]
    BadPattern {
        /// The app-relative path it was matched against.
        name: String,
        /// The glob, cleaned.
        pattern: String,
    },
    /// The launcher cannot be read (the reference's wording).
    #[error("failed to {op} launcher at path '{}': {}", .path.display(), goerr::path_error(.op, .path, .source))]
    Launcher {
        /// `stat` or `open`.
        op: &'static str,
        /// The launcher.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The launcher is not a regular file.
    #[error("launcher at path '{}' is not a regular file", .path.display())]
    LauncherNotAFile {
        /// The launcher.
        path: PathBuf,
    },
    /// The compressor failed (it does not, short of a bug).
    #[error("compressing layer: {0}")]
    Compress(String),
}

impl LayerError {
    /// A failed file operation.
    pub(crate) fn io(op: &'static str, path: &Path, source: io::Error) -> Self {
        LayerError::Io {
            op,
            path: path.to_path_buf(),
            source,
        }
    }
}

//! Why an export failed, and the exit code each failure maps to.

use std::path::{Path, PathBuf};

use platform_api::exit::{EXPORT_ERROR, ExitCode, FAILED};

use crate::image::StoreError;

/// Why an export failed. Most exit with the export error code (62), as the reference
/// reports failures inside its exporter; see [`ExportError::exit_code`].
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// A file could not be read or written.
    #[error("{action} {}: {cause}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        cause: std::io::Error,
    },
    /// A platform or buildpack file is malformed.
    #[error("{context}: {message}")]
    File {
        /// What was being read.
        context: String,
        /// The cause.
        message: String,
    },
    /// A layer could not be made.
    #[error("creating layer '{id}': {message}")]
    Layer {
        /// The layer.
        id: String,
        /// The cause.
        message: String,
    },
    /// A launch layer kept only as metadata is also a cache layer.
    #[error("layer '{0}' is cache=true but has no contents")]
    CacheWithoutContents(String),
    /// A launch layer kept only as metadata is not in the previous image.
    #[error("cannot reuse '{0}', previous image has no metadata for layer '{0}'")]
    NoPreviousMetadata(String),
    /// The previous image does not have a layer its metadata names.
    #[error("reusing layer: '{id}': previous image has no layer {sha}")]
    MissingPreviousLayer {
        /// The layer.
        id: String,
        /// Its recorded diff ID.
        sha: String,
    },
    /// Layers whose metadata does not parse.
    #[error("failed to parse metadata for layers '[{}]'", .0.join(" "))]
    MalformedLayers(Vec<String>),
    /// `-process-type` names no process.
    #[error("determining entrypoint: tried to set {0} to default but it doesn't exist")]
    UnknownProcessType(String),
    /// A process type cannot be a file name under `/cnb/process`.
    #[error("creating layer 'buildpacksio/lifecycle:process-types': invalid process type '{0}'")]
    InvalidProcessType(String),
    /// The run image (or another image) could not be read.
    #[error("{context}: {cause}")]
    Store {
        /// What was being done.
        context: String,
        /// The cause.
        cause: StoreError,
    },
    /// The run image or the previous image could not be read (exit 1, as the
    /// reference fails before its exporter starts).
    #[error("{context}: {cause}")]
    ImageAccess {
        /// What was being done.
        context: String,
        /// The cause.
        cause: StoreError,
    },
    /// An image named in analyzed.toml is not in the store.
    #[error("{0}")]
    MissingImage(String),
    /// Some names could not be saved.
    #[error("failed to write image to the following tags: {}", .0.iter().map(|(n, c)| format!("[{n}: {c}]")).collect::<Vec<_>>().join(","))]
    Save(Vec<(String, String)>),
}

impl ExportError {
    /// An I/O error on `path`.
    pub fn io(action: &'static str, path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            action,
            path: path.to_path_buf(),
            cause: source,
        }
    }

    /// A store error with context.
    pub fn store(context: impl Into<String>, source: StoreError) -> Self {
        Self::Store {
            context: context.into(),
            cause: source,
        }
    }

    /// An image access error with context.
    pub fn access(context: impl Into<String>, source: StoreError) -> Self {
        Self::ImageAccess {
            context: context.into(),
            cause: source,
        }
    }

    /// The exit code: 1 when an image could not be read, else the export error code.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Self::ImageAccess { .. } => FAILED,
            _ => EXPORT_ERROR,
        }
    }
}

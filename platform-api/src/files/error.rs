//! The error every platform file read or write returns.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use buildpack_api::gotoml;

/// Which platform file, named as the reference names it in messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// `analyzed.toml`.
    Analyzed,
    /// `group.toml`.
    Group,
    /// `order.toml`.
    Order,
    /// `plan.toml`.
    Plan,
    /// `<layers>/config/metadata.toml`.
    BuildMetadata,
    /// `project-metadata.toml`.
    ProjectMetadata,
    /// `report.toml`.
    Report,
    /// `run.toml`.
    Run,
    /// `stack.toml`.
    Stack,
    /// `system.toml`.
    System,
}

impl fmt::Display for FileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FileKind::Analyzed => "analyzed",
            FileKind::Group => "group",
            FileKind::Order => "order",
            FileKind::Plan => "plan",
            FileKind::BuildMetadata => "build metadata",
            FileKind::ProjectMetadata => "project metadata",
            FileKind::Report => "report",
            FileKind::Run => "run",
            FileKind::Stack => "stack",
            FileKind::System => "system",
        })
    }
}

/// Whether a file was being read or written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileAction {
    /// Reading.
    Read,
    /// Writing.
    Write,
}

impl fmt::Display for FileAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FileAction::Read => "read",
            FileAction::Write => "write",
        })
    }
}

/// Why a platform file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// A system call failed (`op` is Go's name for it: `open`, `read`, `write`, `mkdir`,
    /// `rename`).
    #[error("failed to {action} {kind} file: {op} {}: {}", path.display(), buildpack_api::goerr::text(cause))]
    Io {
        /// Reading or writing.
        action: FileAction,
        /// The file.
        kind: FileKind,
        /// The failing operation.
        op: &'static str,
        /// The path the operation was applied to.
        path: PathBuf,
        /// The OS error (in the message, so not a `source` repeated after it).
        cause: io::Error,
    },
    /// The file is not valid TOML, or a key has the wrong type.
    #[error("failed to read {kind} file: toml: {}{message}", line.map(|l| format!("line {l}: ")).unwrap_or_default())]
    Syntax {
        /// The file.
        kind: FileKind,
        /// Its path.
        path: PathBuf,
        /// 1-based line of the error, when known.
        line: Option<usize>,
        /// What is wrong.
        message: String,
    },
    /// The value cannot be written as TOML.
    #[error("failed to write {kind} file: {cause}")]
    Encode {
        /// The file.
        kind: FileKind,
        /// Its path.
        path: PathBuf,
        /// The encoder's error.
        cause: gotoml::Error,
    },
}

impl FileError {
    /// Whether the file does not exist (which several phases tolerate).
    pub fn is_not_found(&self) -> bool {
        matches!(self, FileError::Io { cause, .. } if cause.kind() == io::ErrorKind::NotFound)
    }

    /// The path of the file the error is about.
    pub fn path(&self) -> &Path {
        match self {
            FileError::Io { path, .. }
            | FileError::Syntax { path, .. }
            | FileError::Encode { path, .. } => path,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_look_like_the_reference() {
        let err = FileError::Io {
            action: FileAction::Read,
            kind: FileKind::Group,
            op: "open",
            path: "/layers/group.toml".into(),
            cause: io::Error::from_raw_os_error(2),
        };
        assert_eq!(
            err.to_string(),
            "failed to read group file: open /layers/group.toml: no such file or directory"
        );
        assert!(err.is_not_found());
        let err = FileError::Syntax {
            kind: FileKind::BuildMetadata,
            path: "/m.toml".into(),
            line: Some(3),
            message: "duplicate key".into(),
        };
        assert_eq!(
            err.to_string(),
            "failed to read build metadata file: toml: line 3: duplicate key"
        );
        assert!(!err.is_not_found());
        assert_eq!(err.path(), Path::new("/m.toml"));
    }
}

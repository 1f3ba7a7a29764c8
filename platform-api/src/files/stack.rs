//! `stack.toml` (deprecated, Platform API < 0.12): the run image and its mirrors. Its
//! `[run-image]` table is also the deprecated `stack.runImage` key of the lifecycle
//! metadata label.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::run::RunImageForExport;
use super::{FileError, FileKind, toml_file};
use crate::labels::nullable;

/// `stack.toml` (`[build-image]` is ignored, as the reference ignores it), and the
/// label's `stack` object.
///
/// Read from `run-image` (TOML) or `runImage` (JSON); serialized with the label's key
/// `runImage` (`analyzed.toml` writes its own TOML form).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stack {
    /// The run image and its mirrors.
    #[serde(
        rename(serialize = "runImage", deserialize = "run-image"),
        alias = "runImage",
        default,
        deserialize_with = "nullable"
    )]
    pub run_image: RunImageForExport,
}

impl Stack {
    /// Reads `stack.toml`.
    pub fn read(path: &Path) -> Result<Self, FileError> {
        toml_file::read(path, FileKind::Stack)
    }

    /// Reads `stack.toml`; `None` when it does not exist (which the reference treats as
    /// an empty file, logging it).
    pub fn read_optional(path: &Path) -> Result<Option<Self>, FileError> {
        toml_file::read_optional(path, FileKind::Stack)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_stack_toml() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stack.toml");
        std::fs::write(
            &path,
            "[run-image]\n  image = \"cnbs/run:bionic\"\n  mirrors = [\"gcr.io/cnbs/run:bionic\"]\n\n[build-image]\n  image = \"cnbs/build:bionic\"\n",
        )
        .unwrap();
        let stack = Stack::read(&path).unwrap();
        assert_eq!(stack.run_image.image, "cnbs/run:bionic");
        assert_eq!(stack.run_image.mirrors, vec!["gcr.io/cnbs/run:bionic"]);
        assert!(
            Stack::read_optional(&dir.path().join("x"))
                .unwrap()
                .is_none()
        );
        let json: Stack =
            serde_json::from_str(r#"{"runImage":{"image":"a","mirrors":null}}"#).unwrap();
        assert_eq!(json.run_image.image, "a");
        assert_eq!(
            serde_json::to_string(&json).unwrap(),
            r#"{"runImage":{"image":"a"}}"#
        );
    }
}

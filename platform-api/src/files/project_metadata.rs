//! `project-metadata.toml`: where the app source came from, exported as the
//! `io.buildpacks.project.metadata` label.

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{FileError, FileKind, freeform, toml_file};
use crate::labels::{self, LabelError};

/// `[source]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProjectSource {
    /// Kind of location (`git`, `s3`, ...).
    #[serde(rename = "type", default, skip_serializing_if = "String::is_empty")]
    pub source_type: String,
    /// Free-form data identifying the source version.
    #[serde(
        default,
        deserialize_with = "freeform::deserialize_map",
        skip_serializing_if = "Map::is_empty"
    )]
    pub version: Map<String, Value>,
    /// Free-form data about the source.
    #[serde(
        default,
        deserialize_with = "freeform::deserialize_map",
        skip_serializing_if = "Map::is_empty"
    )]
    pub metadata: Map<String, Value>,
}

/// `project-metadata.toml` (and the label, which has the same keys).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProjectMetadata {
    /// The source, when the platform described it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<ProjectSource>,
}

impl ProjectMetadata {
    /// Reads `project-metadata.toml`.
    pub fn read(path: &Path) -> Result<Self, FileError> {
        toml_file::read(path, FileKind::ProjectMetadata)
    }

    /// Reads `project-metadata.toml`; `None` when it does not exist (the label is then
    /// `{}`).
    pub fn read_optional(path: &Path) -> Result<Option<Self>, FileError> {
        toml_file::read_optional(path, FileKind::ProjectMetadata)
    }

    /// The `io.buildpacks.project.metadata` label text.
    pub fn to_label_json(&self) -> Result<String, LabelError> {
        labels::to_json(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_converts_to_the_label() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("project-metadata.toml");
        std::fs::write(
            &path,
            r#"[source]
type = "git"
[source.version]
commit = "abc"
[source.metadata]
repository = "https://github.com/example/app"
refs = ["main", "v1"]
built = 2024-01-02T03:04:05Z
"#,
        )
        .unwrap();
        let md = ProjectMetadata::read(&path).unwrap();
        assert_eq!(
            md.to_label_json().unwrap(),
            r#"{"source":{"type":"git","version":{"commit":"abc"},"metadata":{"built":"2024-01-02T03:04:05Z","refs":["main","v1"],"repository":"https://github.com/example/app"}}}"#
        );
        assert_eq!(ProjectMetadata::default().to_label_json().unwrap(), "{}");
        std::fs::write(&path, "[source]\n").unwrap();
        assert_eq!(
            ProjectMetadata::read(&path)
                .unwrap()
                .to_label_json()
                .unwrap(),
            r#"{"source":{}}"#
        );
        assert!(
            ProjectMetadata::read_optional(&dir.path().join("none"))
                .unwrap()
                .is_none()
        );
        std::fs::write(&path, "[source]\nversion = \"1\"\n").unwrap();
        assert!(ProjectMetadata::read(&path).is_err());
    }
}

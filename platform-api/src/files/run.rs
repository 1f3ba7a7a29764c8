//! `run.toml` (Platform API 0.12+): the run images the exporter may use and their
//! mirrors.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::image_name::same_image;
use super::{FileError, FileKind, toml_file};
use crate::labels::nullable;

/// A run image and its mirrors: an `[[images]]` entry of `run.toml`, the `[run-image]`
/// of `stack.toml`, and the image/mirrors recorded in the lifecycle metadata label (the
/// same keys in TOML and JSON, each left out when empty).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunImageForExport {
    /// Image name (normally a tag reference).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub image: String,
    /// Mirrors of `image` on other registries.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub mirrors: Vec<String>,
}

impl RunImageForExport {
    /// Whether `name` is the image or one of its mirrors (digests ignored, names
    /// normalised, as the reference compares them).
    pub fn contains(&self, name: &str) -> bool {
        same_image(&self.image, name) || self.mirrors.iter().any(|m| same_image(m, name))
    }
}

/// `run.toml`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Run {
    /// `[[images]]`; only the first is used to pick a run image, the others serve to
    /// look up mirrors.
    #[serde(default)]
    pub images: Vec<RunImageForExport>,
}

impl Run {
    /// Reads `run.toml`.
    pub fn read(path: &Path) -> Result<Self, FileError> {
        toml_file::read(path, FileKind::Run)
    }

    /// Reads `run.toml`; `None` when it does not exist (which the reference treats as
    /// an empty file, logging it).
    pub fn read_optional(path: &Path) -> Result<Option<Self>, FileError> {
        toml_file::read_optional(path, FileKind::Run)
    }

    /// Whether some entry's image or mirror is `name`.
    pub fn contains(&self, name: &str) -> bool {
        self.images.iter().any(|i| i.contains(name))
    }

    /// The first entry whose image or a mirror is `name`.
    pub fn find(&self, name: &str) -> Option<&RunImageForExport> {
        self.images.iter().find(|i| i.contains(name))
    }

    /// The image and mirrors to record for run image `name`: the first entry whose
    /// image or a mirror is `name`, otherwise the first entry, otherwise nothing.
    pub fn metadata_for(&self, name: &str) -> RunImageForExport {
        self.find(name)
            .or_else(|| self.images.first())
            .cloned()
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RUN_TOML: &str = r#"
[[images]]
  image = "cnbs/sample-stack-run:jammy"
  mirrors = ["registry.example.com/cnbs/run:jammy", "gcr.io/cnbs/run:jammy"]

[[images]]
  image = "other.example.com/run:alt"

[[images]]
"#;

    #[test]
    fn reads_and_looks_up_mirrors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.toml");
        std::fs::write(&path, RUN_TOML).unwrap();
        let run = Run::read(&path).unwrap();
        assert_eq!(run.images.len(), 3);
        assert_eq!(run.images[2], RunImageForExport::default());

        assert!(run.contains("index.docker.io/cnbs/sample-stack-run:jammy"));
        assert!(run.contains("gcr.io/cnbs/run:jammy@sha256:0123"));
        assert!(!run.contains("gcr.io/cnbs/run:other"));
        assert_eq!(
            run.metadata_for("registry.example.com/cnbs/run:jammy")
                .image,
            "cnbs/sample-stack-run:jammy"
        );
        assert_eq!(
            run.metadata_for("other.example.com/run:alt").image,
            "other.example.com/run:alt"
        );
        assert_eq!(
            run.metadata_for("unknown/image").image,
            "cnbs/sample-stack-run:jammy"
        );
        assert_eq!(
            Run::default().metadata_for("x"),
            RunImageForExport::default()
        );
        assert!(run.find("unknown/image").is_none());

        assert!(
            Run::read_optional(&dir.path().join("none.toml"))
                .unwrap()
                .is_none()
        );
        std::fs::write(&path, "[[images]]\nmirrors = \"x\"\n").unwrap();
        let err = Run::read(&path).unwrap_err().to_string();
        assert!(
            err.starts_with("failed to read run file: toml: line 2: "),
            "{err}"
        );
    }
}

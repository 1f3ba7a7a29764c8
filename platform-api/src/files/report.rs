//! `report.toml`: what the exporter (or rebaser) saved.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::metadata::BomEntry;
use super::{FileError, FileKind, toml_file};

/// The legacy build bill of materials (Platform API < 0.9).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BuildReport {
    /// BOM entries from the buildpacks' `build.toml`.
    #[serde(default)]
    pub bom: Vec<BomEntry>,
}

impl BuildReport {
    fn is_empty(&self) -> bool {
        self.bom.is_empty()
    }
}

/// The saved image.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageReport {
    /// Every name the image was saved under successfully.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Image ID (daemon export).
    #[serde(rename = "image-id", default, skip_serializing_if = "String::is_empty")]
    pub image_id: String,
    /// Manifest digest (registry or layout export).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub digest: String,
    /// Manifest size in bytes, when known (an integer, as the reference writes it).
    #[serde(rename = "manifest-size", default, skip_serializing_if = "is_zero")]
    pub manifest_size: i64,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

/// `report.toml`. The rebaser's report is the same with an empty `build`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Legacy build BOM, written only when it has entries.
    #[serde(default, skip_serializing_if = "BuildReport::is_empty")]
    pub build: BuildReport,
    /// The saved image.
    #[serde(default)]
    pub image: ImageReport,
}

impl Report {
    /// Writes `report.toml`.
    pub fn write(&self, path: &Path) -> Result<(), FileError> {
        toml_file::write(path, FileKind::Report, self)
    }
}

#[cfg(test)]
mod tests {
    use buildpack_api::group::GroupElement;

    use super::*;

    #[test]
    fn writes_registry_and_daemon_reports() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.toml");
        let report = Report {
            image: ImageReport {
                tags: vec![
                    "registry.example.com/app:latest".into(),
                    "registry.example.com/app:v1".into(),
                ],
                digest: "sha256:d".into(),
                manifest_size: 1234,
                ..Default::default()
            },
            ..Default::default()
        };
        report.write(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            "[image]\n  tags = [\"registry.example.com/app:latest\", \"registry.example.com/app:v1\"]\n  digest = \"sha256:d\"\n  manifest-size = 1234\n"
        );
        assert_eq!(toml::from_str::<Report>(&text).unwrap(), report);

        let daemon = Report {
            image: ImageReport {
                tags: vec!["app".into()],
                image_id: "abc123".into(),
                ..Default::default()
            },
            ..Default::default()
        };
        daemon.write(&path).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "[image]\n  tags = [\"app\"]\n  image-id = \"abc123\"\n"
        );
    }

    #[test]
    fn legacy_build_bom() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.toml");
        let report = Report {
            build: BuildReport {
                bom: vec![BomEntry {
                    name: "dep".into(),
                    buildpack: GroupElement {
                        id: "A".into(),
                        version: "v1".into(),
                        ..Default::default()
                    },
                    ..Default::default()
                }],
            },
            image: ImageReport {
                tags: vec!["app".into()],
                ..Default::default()
            },
        };
        report.write(&path).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "[build]\n\n  [[build.bom]]\n    name = \"dep\"\n    [build.bom.buildpack]\n      id = \"A\"\n      version = \"v1\"\n\n[image]\n  tags = [\"app\"]\n"
        );
    }
}

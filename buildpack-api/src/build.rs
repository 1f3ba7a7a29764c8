//! `build.toml`: the plan entries a buildpack did not meet (`[[unmet]]`) and the
//! deprecated `[[bom]]`.

use std::io;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::bom::{BomError, validate_legacy_bom};
use crate::plan::{BuildpackPlan, Require};

/// An `[[unmet]]` entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Unmet {
    /// Name of a buildpack plan entry the buildpack did not satisfy.
    #[serde(default)]
    pub name: String,
}

/// A parsed `build.toml`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct BuildToml {
    /// `[[unmet]]`.
    #[serde(default)]
    pub unmet: Vec<Unmet>,
    /// Deprecated `[[bom]]` entries.
    #[serde(default)]
    pub bom: Vec<Require>,
}

/// Why a `build.toml` is rejected.
#[derive(Debug, thiserror::Error)]
pub enum BuildTomlError {
    /// The file could not be read.
    #[error("failed to read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// Not valid TOML, or a key of the wrong type.
    #[error("failed to parse build.toml: {0}")]
    Parse(#[from] toml::de::Error),
    /// A `[[bom]]` entry has a top-level version.
    #[error(transparent)]
    Bom(#[from] BomError),
    /// An `[[unmet]]` entry without a name (same message as the reference).
    #[error("unmet.name is required")]
    UnmetNameMissing,
    /// An `[[unmet]]` name that is not in the buildpack plan (same message as the
    /// reference).
    #[error("unmet.name '{0}' must match a requested dependency")]
    UnmetNotInPlan(String),
}

impl BuildToml {
    /// Parses `build.toml` text.
    pub fn parse(text: &str) -> Result<Self, BuildTomlError> {
        Ok(toml::from_str(text)?)
    }

    /// Reads `path`; a missing file is an empty `build.toml`.
    pub fn read(path: &Path) -> Result<Self, BuildTomlError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::parse(&text),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Self::default()),
            Err(source) => Err(BuildTomlError::Read {
                path: path.to_path_buf(),
                source,
            }),
        }
    }

    /// The reference's checks against the plan the buildpack received, in its order:
    /// legacy BOM entries first, then every unmet name non-empty and in the plan.
    pub fn validate(&self, plan: &BuildpackPlan) -> Result<(), BuildTomlError> {
        validate_legacy_bom(&self.bom)?;
        for unmet in &self.unmet {
            if unmet.name.is_empty() {
                return Err(BuildTomlError::UnmetNameMissing);
            }
            if !plan.entries.iter().any(|e| e.name == unmet.name) {
                return Err(BuildTomlError::UnmetNotInPlan(unmet.name.clone()));
            }
        }
        Ok(())
    }

    /// Names of the plan entries the buildpack met (every entry not listed as unmet), in
    /// plan order, duplicates kept.
    pub fn met_requires(&self, plan: &BuildpackPlan) -> Vec<String> {
        plan.entries
            .iter()
            .filter(|e| !self.unmet.iter().any(|u| u.name == e.name))
            .map(|e| e.name.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(names: &[&str]) -> BuildpackPlan {
        BuildpackPlan {
            entries: names
                .iter()
                .map(|n| Require {
                    name: n.to_string(),
                    ..Require::default()
                })
                .collect(),
        }
    }

    #[test]
    fn unmet_entries() {
        let b = BuildToml::parse("[[unmet]]\nname = \"yarn\"\n").unwrap();
        let p = plan(&["node", "yarn", "node"]);
        b.validate(&p).unwrap();
        assert_eq!(b.met_requires(&p), ["node", "node"]);
        assert_eq!(
            b.validate(&plan(&["node"])).unwrap_err().to_string(),
            "unmet.name 'yarn' must match a requested dependency"
        );
        let nameless = BuildToml::parse("[[unmet]]\n").unwrap();
        assert_eq!(
            nameless.validate(&p).unwrap_err().to_string(),
            "unmet.name is required"
        );
    }

    #[test]
    fn bom() {
        let b = BuildToml::parse("[[bom]]\nname = \"gcc\"\n[bom.metadata]\nversion = \"12\"\n")
            .unwrap();
        assert_eq!(b.bom.len(), 1);
        b.validate(&plan(&[])).unwrap();
        let versioned = BuildToml::parse("[[bom]]\nname = \"gcc\"\nversion = \"12\"\n").unwrap();
        assert!(matches!(
            versioned.validate(&plan(&[])),
            Err(BuildTomlError::Bom(_))
        ));
    }

    #[test]
    fn read_and_malformed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("build.toml");
        assert_eq!(BuildToml::read(&path).unwrap(), BuildToml::default());
        std::fs::write(&path, "unmet = \"x\"\n").unwrap();
        assert!(matches!(
            BuildToml::read(&path),
            Err(BuildTomlError::Parse(_))
        ));
        assert!(BuildToml::parse("[[unmet]]\nname = 3\n").is_err());
    }
}

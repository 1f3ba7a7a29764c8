//! Build plans: what `/bin/detect` writes (provides, requires, `or` alternatives) and
//! the buildpack plan handed to `/bin/build` and `/bin/generate`.

use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::descriptor::ModuleKind;

/// A requirement: a dependency name with free-form metadata.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Require {
    /// Dependency name (empty when missing, which the reference accepts).
    #[serde(default)]
    pub name: String,
    /// Deprecated top-level version (read only to reject it, as the reference does).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub version: String,
    /// Free-form metadata; `None` when the buildpack wrote no `metadata` table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<toml::Table>,
}

/// A provision: a dependency name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provide {
    /// Dependency name (empty when missing, which the reference accepts).
    #[serde(default)]
    pub name: String,
}

/// One set of provides and requires: the top level of a build plan or one `[[or]]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PlanSection {
    /// `[[provides]]`.
    #[serde(default)]
    pub provides: Vec<Provide>,
    /// `[[requires]]`.
    #[serde(default)]
    pub requires: Vec<Require>,
}

/// The build plan a module's `/bin/detect` writes to `$CNB_BUILD_PLAN_PATH` (or an
/// extension's pre-populated `detect/plan.toml`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct BuildPlan {
    /// Top-level `[[provides]]`.
    #[serde(default)]
    pub provides: Vec<Provide>,
    /// Top-level `[[requires]]`.
    #[serde(default)]
    pub requires: Vec<Require>,
    /// `[[or]]` alternatives (an `or` nested inside an `or` is ignored).
    #[serde(default)]
    pub or: Vec<PlanSection>,
}

/// Why a build plan or buildpack plan is unusable.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// The plan is not valid TOML or has keys of the wrong type.
    #[error("{0}")]
    Parse(String),
    /// A require has a top-level `version` (rejected for every supported Buildpack API,
    /// with or without `metadata.version`; same message as the reference).
    #[error(
        "{kind} {id} has a \"version\" key which is not supported. \"metadata.version\" should be used instead"
    )]
    TopLevelVersion {
        /// Buildpack or extension.
        kind: ModuleKind,
        /// Module ID.
        id: String,
    },
    /// An extension's plan has requires (same message as the reference).
    #[error("extension {id} outputs \"requires\" which is not allowed")]
    ExtensionRequires {
        /// Extension ID.
        id: String,
    },
    /// The buildpack plan could not be serialized.
    #[error("failed to encode buildpack plan: {0}")]
    Encode(#[from] toml::ser::Error),
    /// The buildpack plan could not be written.
    #[error("failed to write {}: {source}", path.display())]
    Write {
        /// Destination.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
}

impl BuildPlan {
    /// Parses and validates the plan written by module `id` of kind `kind`, with the
    /// reference's checks: an extension may not require anything (this error takes
    /// precedence) and no require may carry a top-level `version`.
    pub fn parse(text: &str, kind: ModuleKind, id: &str) -> Result<Self, PlanError> {
        let plan: BuildPlan =
            toml::from_str(text).map_err(|e| PlanError::Parse(crate::goerr::toml(text, &e)))?;
        let sections = plan.alternatives();
        if kind == ModuleKind::Extension && sections.iter().any(|s| !s.requires.is_empty()) {
            return Err(PlanError::ExtensionRequires { id: id.to_string() });
        }
        if sections
            .iter()
            .flat_map(|s| &s.requires)
            .any(|r| !r.version.is_empty())
        {
            return Err(PlanError::TopLevelVersion {
                kind,
                id: id.to_string(),
            });
        }
        Ok(plan)
    }

    /// The options this plan offers to plan resolution, in order: the top-level section
    /// first, then each `[[or]]`.
    pub fn alternatives(&self) -> Vec<PlanSection> {
        let top = PlanSection {
            provides: self.provides.clone(),
            requires: self.requires.clone(),
        };
        std::iter::once(top)
            .chain(self.or.iter().cloned())
            .collect()
    }
}

/// The buildpack plan written to `$CNB_BP_PLAN_PATH` for `/bin/build` and
/// `/bin/generate`: the requires of the resolved plan that this module serves.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BuildpackPlan {
    /// `[[entries]]` (omitted when empty, as the reference writes an empty file).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entries: Vec<Require>,
}

impl BuildpackPlan {
    /// The TOML text of the plan.
    pub fn to_toml(&self) -> Result<String, PlanError> {
        Ok(toml::to_string(self)?)
    }

    /// Writes the plan to `path`.
    pub fn write(&self, path: &Path) -> Result<(), PlanError> {
        std::fs::write(path, self.to_toml()?).map_err(|source| PlanError::Write {
            path: path.to_path_buf(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HELLO_MOON: &str = r#"
[[requires]]
name = "some-world"

[requires.metadata]
world = "Earth-616"
"#;

    const WITH_OR: &str = r#"
[[provides]]
name = "node"

[[requires]]
name = "node"
[requires.metadata]
version = "20.x"
launch = true

[[or]]
[[or.provides]]
name = "yarn"
[[or.requires]]
name = "yarn"
[[or.requires]]
name = "node"

[[or]]
[[or.requires]]
name = "node"
[[or.or]]
[[or.or.provides]]
name = "nested-is-ignored"
"#;

    #[test]
    fn requires_with_metadata() {
        let plan =
            BuildPlan::parse(HELLO_MOON, ModuleKind::Buildpack, "samples/hello-moon").unwrap();
        assert!(plan.provides.is_empty());
        let meta = plan.requires[0].metadata.as_ref().unwrap();
        assert_eq!(meta["world"].as_str(), Some("Earth-616"));
        assert_eq!(plan.alternatives().len(), 1);
    }

    #[test]
    fn alternatives_in_order() {
        let plan = BuildPlan::parse(WITH_OR, ModuleKind::Buildpack, "node").unwrap();
        let alts = plan.alternatives();
        assert_eq!(alts.len(), 3);
        assert_eq!(alts[0].provides[0].name, "node");
        assert_eq!(alts[1].provides[0].name, "yarn");
        assert_eq!(alts[1].requires.len(), 2);
        assert!(alts[2].provides.is_empty());
        assert_eq!(alts[2].requires[0].name, "node");
    }

    #[test]
    fn empty_plan() {
        let plan = BuildPlan::parse("", ModuleKind::Buildpack, "x").unwrap();
        assert_eq!(plan, BuildPlan::default());
        assert_eq!(plan.alternatives(), vec![PlanSection::default()]);
    }

    #[test]
    fn top_level_version_rejected() {
        let text = "[[requires]]\nname = \"ruby\"\nversion = \"3.2\"\n";
        let err = BuildPlan::parse(text, ModuleKind::Buildpack, "heroku/ruby").unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"buildpack heroku/ruby has a "version" key which is not supported. "metadata.version" should be used instead"#
        );
        let both = "[[or]]\n[[or.requires]]\nname = \"ruby\"\nversion = \"3.2\"\n[or.requires.metadata]\nversion = \"3.2\"\n";
        assert!(matches!(
            BuildPlan::parse(both, ModuleKind::Buildpack, "b"),
            Err(PlanError::TopLevelVersion { .. })
        ));
        // metadata.version alone is the supported form.
        let ok = "[[requires]]\nname = \"ruby\"\n[requires.metadata]\nversion = \"3.2\"\n";
        assert!(BuildPlan::parse(ok, ModuleKind::Buildpack, "b").is_ok());
    }

    #[test]
    fn extensions_only_provide() {
        let ok = "[[provides]]\nname = \"curl\"\n[[or]]\n[[or.provides]]\nname = \"wget\"\n";
        assert!(BuildPlan::parse(ok, ModuleKind::Extension, "samples/curl").is_ok());
        let bad = "[[or]]\n[[or.requires]]\nname = \"curl\"\nversion = \"1\"\n";
        let err = BuildPlan::parse(bad, ModuleKind::Extension, "samples/curl").unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"extension samples/curl outputs "requires" which is not allowed"#
        );
        let versioned = BuildPlan::parse(
            "[[requires]]\nname = \"x\"\nversion = \"1\"\n",
            ModuleKind::Buildpack,
            "b",
        );
        assert!(
            versioned
                .unwrap_err()
                .to_string()
                .starts_with("buildpack b ")
        );
    }

    #[test]
    fn malformed_plans() {
        for bad in [
            "requires = \"node\"\n",
            "[[provides]]\nname = 1\n",
            "[[requires]]\nname = \"x\"\nmetadata = \"y\"\n",
            "[[requires]\n",
        ] {
            assert!(
                matches!(
                    BuildPlan::parse(bad, ModuleKind::Buildpack, "b"),
                    Err(PlanError::Parse(_))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn buildpack_plan_writer() {
        assert_eq!(BuildpackPlan::default().to_toml().unwrap(), "");
        let plan = BuildPlan::parse(HELLO_MOON, ModuleKind::Buildpack, "b").unwrap();
        let bp_plan = BuildpackPlan {
            entries: vec![
                plan.requires[0].clone(),
                Require {
                    name: "bare".into(),
                    ..Require::default()
                },
            ],
        };
        let text = bp_plan.to_toml().unwrap();
        assert!(!text.contains("version"), "{text}");
        let back: BuildpackPlan = toml::from_str(&text).unwrap();
        assert_eq!(back, bp_plan);

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plan.toml");
        bp_plan.write(&path).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
        let err = bp_plan
            .write(&dir.path().join("missing/plan.toml"))
            .unwrap_err();
        assert!(err.to_string().contains("missing/plan.toml"), "{err}");
    }
}

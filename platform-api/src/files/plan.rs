//! `plan.toml`: the resolved build plan the detector writes, from which each module
//! gets the entries it provides.

use std::path::Path;

use buildpack_api::descriptor::ModuleKind;
use buildpack_api::group::GroupElement;
use buildpack_api::plan::{BuildpackPlan, Require};
use serde::{Deserialize, Serialize};

use super::{FileError, FileKind, toml_file};

/// One dependency: the modules that provide it and the requirements for it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PlanEntry {
    /// Providers (`id`, `version`, and `extension = true` for extensions).
    #[serde(default)]
    pub providers: Vec<GroupElement>,
    /// Requirements, all with the same `name`.
    #[serde(default)]
    pub requires: Vec<Require>,
}

impl PlanEntry {
    /// The entry with its providers reduced to the keys the reference writes (no `api`,
    /// `homepage` or `optional`).
    pub fn no_opt(mut self) -> Self {
        for provider in &mut self.providers {
            provider.api.clear();
            provider.homepage.clear();
            provider.optional = false;
        }
        self
    }
}

/// `plan.toml`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// `[[entries]]` (may be empty; the file is then empty).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entries: Vec<PlanEntry>,
}

impl Plan {
    /// Reads `plan.toml`.
    pub fn read(path: &Path) -> Result<Self, FileError> {
        toml_file::read(path, FileKind::Plan)
    }

    /// Writes `plan.toml` as the detector does.
    pub fn write(&self, path: &Path) -> Result<(), FileError> {
        let plan = Plan {
            entries: self
                .entries
                .iter()
                .cloned()
                .map(PlanEntry::no_opt)
                .collect(),
        };
        toml_file::write(path, FileKind::Plan, &plan)
    }

    /// The buildpack plan for module `id` of `kind`: the requires of every entry it
    /// provides, in entry order.
    pub fn find(&self, kind: ModuleKind, id: &str) -> BuildpackPlan {
        let extension = kind == ModuleKind::Extension;
        let entries = self
            .entries
            .iter()
            .filter(|entry| {
                entry
                    .providers
                    .iter()
                    .any(|p| p.id == id && p.extension == extension)
            })
            .flat_map(|entry| entry.requires.iter().cloned())
            .collect();
        BuildpackPlan { entries }
    }

    /// The plan without the entries a module met: an entry goes when any of its
    /// requires is named in `met` (as the reference filters after each build).
    pub fn filter(&self, met: &[String]) -> Plan {
        Plan {
            entries: self
                .entries
                .iter()
                .filter(|entry| !entry.requires.iter().any(|r| met.contains(&r.name)))
                .cloned()
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `plan.toml` as the reference's detector writes it.
    const PLAN_TOML: &str = r#"[[entries]]

  [[entries.providers]]
    id = "paketo-buildpacks/node-engine"
    version = "3.0.1"

  [[entries.providers]]
    id = "samples/node"
    version = "0.0.1"
    extension = true

  [[entries.requires]]
    name = "node"
    [entries.requires.metadata]
      build = true
      version = "18.*"
      version-source = ".nvmrc"

  [[entries.requires]]
    name = "node"
    [entries.requires.metadata]
      launch = true
      [entries.requires.metadata.nested]
        list = ["a", "b"]

[[entries]]

  [[entries.providers]]
    id = "paketo-buildpacks/npm-install"
    version = "1.1.0"

  [[entries.requires]]
    name = "node_modules"
"#;

    fn plan() -> Plan {
        toml::from_str(PLAN_TOML).unwrap()
    }

    #[test]
    fn round_trips_the_reference_shape() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plan.toml");
        plan().write(&path).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), PLAN_TOML);
        assert_eq!(Plan::read(&path).unwrap(), plan());
    }

    #[test]
    fn providers_are_written_without_optional_api_or_homepage() {
        let mut plan = plan();
        let provider = &mut plan.entries[1].providers[0];
        provider.api = "0.9".into();
        provider.homepage = "https://x".into();
        provider.optional = true;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plan.toml");
        plan.write(&path).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), PLAN_TOML);
    }

    #[test]
    fn empty_plan_is_an_empty_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plan.toml");
        Plan::default().write(&path).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "");
        assert_eq!(Plan::read(&path).unwrap(), Plan::default());
    }

    #[test]
    fn find_and_filter() {
        let plan = plan();
        let node = plan.find(ModuleKind::Buildpack, "paketo-buildpacks/node-engine");
        assert_eq!(node.entries.len(), 2);
        assert!(
            plan.find(ModuleKind::Buildpack, "samples/node")
                .entries
                .is_empty()
        );
        assert_eq!(
            plan.find(ModuleKind::Extension, "samples/node")
                .entries
                .len(),
            2
        );
        assert!(plan.find(ModuleKind::Buildpack, "other").entries.is_empty());

        let rest = plan.filter(&["node".to_string()]);
        assert_eq!(rest.entries.len(), 1);
        assert_eq!(rest.entries[0].requires[0].name, "node_modules");
        assert_eq!(plan.filter(&[]).entries.len(), 2);
    }
}

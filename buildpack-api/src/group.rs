//! Group elements: a buildpack or extension referenced by a composite buildpack's
//! `[[order.group]]`, by the platform's `order.toml` or `system.toml`, or recorded in
//! `group.toml` (and as plan providers).

use serde::{Deserialize, Serialize};

fn is_false(b: &bool) -> bool {
    !*b
}

/// A buildpack or extension reference. Which fields are meaningful depends on the file:
/// `optional` in orders, `api`/`homepage` in `group.toml`, `extension` in plan providers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct GroupElement {
    /// Buildpack or extension ID.
    pub id: String,
    /// Version (may be empty in a platform order, meaning "the only one installed").
    #[serde(default)]
    pub version: String,
    /// Buildpack API the module implements (group.toml only).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api: String,
    /// Homepage (group.toml only).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub homepage: String,
    /// Whether the element is an image extension (plan providers only).
    #[serde(default, skip_serializing_if = "is_false")]
    pub extension: bool,
    /// Whether the group still passes without this element (orders only).
    #[serde(default, skip_serializing_if = "is_false")]
    pub optional: bool,
    /// Execution environments this element is restricted to (Buildpack API 0.12 order
    /// groups; read for completeness, never written).
    #[serde(default, rename = "exec-env", skip_serializing)]
    pub exec_env: Vec<String>,
}

impl GroupElement {
    /// `id@version`, as the reference prints elements.
    pub fn display_name(&self) -> String {
        format!("{}@{}", self.id, self.version)
    }

    /// The element's ID with `/` replaced by `_`, as used for directories under
    /// `<layers>`, `<buildpacks>` and the SBOM trees.
    pub fn escaped_id(&self) -> String {
        crate::id::escape(&self.id)
    }
}

/// An ordered list of group elements plus, in group.toml, the extensions that run first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    /// Buildpacks (or, in an extensions order, extensions).
    #[serde(default)]
    pub group: Vec<GroupElement>,
    /// Extensions of the selected group (group.toml only).
    #[serde(
        default,
        rename = "group-extensions",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub group_extensions: Vec<GroupElement>,
}

/// An order: groups tried one after another.
pub type Order = Vec<Group>;

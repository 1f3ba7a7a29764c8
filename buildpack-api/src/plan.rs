//! Build plans: what `/bin/detect` writes (provides, requires, `or` alternatives) and
//! the buildpack plan handed to `/bin/build` and `/bin/generate`.

use serde::{Deserialize, Serialize};

/// A requirement: a dependency name with free-form metadata.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Require {
    /// Dependency name.
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
    /// Dependency name.
    pub name: String,
}

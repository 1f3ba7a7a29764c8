//! `order.toml`: the groups of buildpacks the detector tries, and the extensions order.

use std::path::Path;

use buildpack_api::group::Order;
use serde::Deserialize;

use super::{FileError, FileKind, toml_file};

/// `order.toml`. Elements of `order-extensions` are marked `extension` and `optional`
/// when read, as the reference marks them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(from = "RawOrderFile")]
pub struct OrderFile {
    /// `[[order]]`: buildpack groups, tried in turn.
    pub order: Order,
    /// `[[order-extensions]]`: extension groups (Platform API 0.10+).
    pub order_extensions: Order,
}

#[derive(Deserialize)]
struct RawOrderFile {
    #[serde(default)]
    order: Order,
    #[serde(default, rename = "order-extensions")]
    order_extensions: Order,
}

impl From<RawOrderFile> for OrderFile {
    fn from(raw: RawOrderFile) -> Self {
        let mut order_extensions = raw.order_extensions;
        for element in order_extensions.iter_mut().flat_map(|g| g.group.iter_mut()) {
            element.extension = true;
            element.optional = true;
        }
        OrderFile {
            order: raw.order,
            order_extensions,
        }
    }
}

impl OrderFile {
    /// Reads `order.toml`.
    pub fn read(path: &Path) -> Result<Self, FileError> {
        toml_file::read(path, FileKind::Order)
    }

    /// Reads `order.toml`; `None` when it does not exist (the platform then falls back
    /// from `<layers>/order.toml` to `/cnb/order.toml`).
    pub fn read_optional(path: &Path) -> Result<Option<Self>, FileError> {
        toml_file::read_optional(path, FileKind::Order)
    }

    /// Whether the order has extension groups.
    pub fn has_extensions(&self) -> bool {
        !self.order_extensions.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORDER_TOML: &str = r#"
[[order]]
  [[order.group]]
    id = "paketo-buildpacks/ca-certificates"
    version = "3.6.3"
    optional = true

  [[order.group]]
    id = "paketo-buildpacks/node-engine"
    version = "3.0.1"

[[order]]
  [[order.group]]
    id = "paketo-buildpacks/procfile"
    version = ""

[[order-extensions]]
  [[order-extensions.group]]
    id = "samples/curl"
    version = "0.0.1"

  [[order-extensions.group]]
    id = "samples/tree"
    version = "0.0.1"
"#;

    #[test]
    fn reads_groups_optional_entries_and_extensions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("order.toml");
        std::fs::write(&path, ORDER_TOML).unwrap();
        let order = OrderFile::read(&path).unwrap();
        assert_eq!(order.order.len(), 2);
        let first = &order.order[0].group;
        assert!(first[0].optional && !first[1].optional);
        assert!(!first[0].extension);
        assert_eq!(order.order[1].group[0].version, "");
        assert!(order.has_extensions());
        let exts = &order.order_extensions[0].group;
        assert_eq!(exts.len(), 2);
        assert!(exts.iter().all(|e| e.extension && e.optional));
    }

    #[test]
    fn missing_and_empty_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("order.toml");
        assert_eq!(OrderFile::read_optional(&path).unwrap(), None);
        std::fs::write(&path, "").unwrap();
        let order = OrderFile::read_optional(&path).unwrap().unwrap();
        assert!(order.order.is_empty() && !order.has_extensions());
        std::fs::write(&path, "[[order]]\n[[order.group]]\nversion = \"1\"\n").unwrap();
        let err = OrderFile::read(&path).unwrap_err().to_string();
        assert!(
            err.starts_with("failed to read order file: toml: line "),
            "{err}"
        );
    }
}

//! The legacy bill of materials: `[[bom]]` in `launch.toml` and `build.toml`
//! (deprecated since Buildpack API 0.7, still accepted).

use crate::plan::Require;

/// The warning the reference prints when a buildpack writes `[[bom]]` entries but no
/// SBOM files.
pub const LEGACY_BOM_WARNING: &str = "BOM table is deprecated in this buildpack api version, though it remains supported for backwards compatibility. Buildpack authors should write BOM information to <layer>.sbom.<ext>, launch.sbom.<ext>, or build.sbom.<ext>.";

/// Why legacy BOM entries are rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BomError {
    /// An entry has a top-level `version` (same message as the reference).
    #[error(
        "bom entry '{0}' has a top level version which is not allowed. The buildpack should instead set metadata.version"
    )]
    TopLevelVersion(String),
}

/// Checks legacy BOM entries as the reference does: no top-level `version`.
pub fn validate_legacy_bom(entries: &[Require]) -> Result<(), BomError> {
    match entries.iter().find(|e| !e.version.is_empty()) {
        Some(e) => Err(BomError::TopLevelVersion(e.name.clone())),
        None => Ok(()),
    }
}

/// The deprecation warning to print, if any: only when there are entries and the
/// buildpack wrote no SBOM files (a buildpack writing both is migrating, and the
/// reference stays quiet).
pub fn legacy_bom_warning(entries: &[Require], has_sbom_files: bool) -> Option<&'static str> {
    (!entries.is_empty() && !has_sbom_files).then_some(LEGACY_BOM_WARNING)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, version: &str) -> Require {
        Require {
            name: name.into(),
            version: version.into(),
            metadata: None,
        }
    }

    #[test]
    fn validation() {
        assert_eq!(validate_legacy_bom(&[entry("jdk", "")]), Ok(()));
        assert_eq!(
            validate_legacy_bom(&[entry("jdk", ""), entry("jre", "17")])
                .unwrap_err()
                .to_string(),
            "bom entry 'jre' has a top level version which is not allowed. The buildpack should instead set metadata.version"
        );
    }

    #[test]
    fn warning() {
        assert_eq!(legacy_bom_warning(&[], false), None);
        assert_eq!(legacy_bom_warning(&[entry("a", "")], true), None);
        assert_eq!(
            legacy_bom_warning(&[entry("a", "")], false),
            Some(LEGACY_BOM_WARNING)
        );
    }
}

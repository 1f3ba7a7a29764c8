//! Identifier rules: buildpack/extension IDs, process types and layer names.

/// Replaces `/` with `_`, as the reference does for directory names derived from IDs.
pub fn escape(id: &str) -> String {
    id.replace('/', "_")
}

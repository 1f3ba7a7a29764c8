//! The legacy bill of materials (`[[bom]]` in `launch.toml` and `build.toml`,
//! deprecated since Buildpack API 0.7): entries tagged with their buildpack, recorded in
//! `metadata.toml` for Platform API < 0.9 and written to
//! `<layers>/sbom/{launch,build}/sbom.legacy.json` from 0.9.

use std::path::Path;

use buildpack_api::group::GroupElement;
use buildpack_api::plan::Require;
use platform_api::files::freeform;
use platform_api::files::metadata::BomEntry;
use platform_api::labels::{self, LabelError};
use serde_json::{Map, Value, json};

use super::error::StepError;

/// Name of the legacy BOM file in `<layers>/sbom/launch` and `<layers>/sbom/build`.
pub(crate) const LEGACY_FILE: &str = "sbom.legacy.json";

/// The entries tagged with the buildpack (`id` and `version` only).
pub fn tag(entries: Vec<Require>, id: &str, version: &str) -> Vec<BomEntry> {
    entries
        .into_iter()
        .map(|r| BomEntry {
            name: r.name,
            version: r.version,
            metadata: r.metadata,
            buildpack: GroupElement {
                id: id.to_string(),
                version: version.to_string(),
                ..GroupElement::default()
            },
        })
        .collect()
}

/// The JSON text the reference writes for `entries`: `null` when there are none,
/// `metadata` as `null` when absent, written by Go's JSON rules (HTML-significant
/// characters escaped, floats in Go's form), and a final line feed.
pub(crate) fn to_json(entries: &[BomEntry]) -> Result<String, LabelError> {
    let value = if entries.is_empty() {
        Value::Null
    } else {
        Value::Array(entries.iter().map(entry_json).collect())
    };
    Ok(format!("{}\n", labels::to_json(&value)?))
}

fn entry_json(entry: &BomEntry) -> Value {
    let mut out = Map::new();
    out.insert("name".into(), json!(entry.name));
    if !entry.version.is_empty() {
        out.insert("version".into(), json!(entry.version));
    }
    let metadata = entry
        .metadata
        .as_ref()
        .map_or(Value::Null, |t| Value::Object(freeform::from_toml_table(t)));
    out.insert("metadata".into(), metadata);
    out.insert(
        "buildpack".into(),
        json!({"id": entry.buildpack.id, "version": entry.buildpack.version}),
    );
    Value::Object(out)
}

/// Writes `<sbom_dir>/<scope>/sbom.legacy.json`.
pub(crate) fn write(
    sbom_dir: &Path,
    scope: &'static str,
    entries: &[BomEntry],
) -> Result<(), StepError> {
    let dir = sbom_dir.join(scope);
    let err = |e: std::io::Error| StepError::LegacyBom {
        scope,
        reason: buildpack_api::goerr::text(&e),
    };
    let text = to_json(entries).map_err(|e| StepError::LegacyBom {
        scope,
        reason: e.to_string(),
    })?;
    std::fs::create_dir_all(&dir).map_err(err)?;
    std::fs::write(dir.join(LEGACY_FILE), text).map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_like_the_reference() {
        assert_eq!(to_json(&[]).unwrap(), "null\n");
        let entries = tag(
            vec![
                Require {
                    name: "some-dep".into(),
                    metadata: Some(toml::from_str("version = \"1<2\"\ncount = 3").unwrap()),
                    ..Require::default()
                },
                Require {
                    name: "bare".into(),
                    ..Require::default()
                },
            ],
            "A",
            "v1",
        );
        assert_eq!(
            to_json(&entries).unwrap(),
            r#"[{"name":"some-dep","metadata":{"count":3,"version":"1\u003c2"},"buildpack":{"id":"A","version":"v1"}},{"name":"bare","metadata":null,"buildpack":{"id":"A","version":"v1"}}]"#
                .to_string()
                + "\n"
        );
    }

    #[test]
    fn writes_files() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "launch", &[]).unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("launch/sbom.legacy.json")).unwrap(),
            "null\n"
        );
        std::fs::write(dir.path().join("build"), "").unwrap();
        assert_eq!(
            write(dir.path(), "build", &[]).unwrap_err().to_string(),
            "encoding build bom: file exists"
        );
    }
}

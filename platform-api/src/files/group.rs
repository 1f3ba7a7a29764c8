//! `group.toml`: the buildpacks and image extensions the detector selected, read by
//! every later phase.

use std::path::Path;

use buildpack_api::group::{Group, GroupElement};

use super::{FileError, FileKind, toml_file};

/// Reads `group.toml`. Extensions are marked `extension` and `optional`, as the
/// reference marks them (extensions are always optional).
pub fn read(path: &Path) -> Result<Group, FileError> {
    let mut group: Group = toml_file::read(path, FileKind::Group)?;
    for ext in &mut group.group_extensions {
        ext.extension = true;
        ext.optional = true;
    }
    Ok(group)
}

/// Writes `group.toml` as the detector does: `id`, `version`, `api` and `homepage`
/// only (the `extension` and `optional` markers are never written).
pub fn write(path: &Path, group: &Group) -> Result<(), FileError> {
    let strip = |elements: &[GroupElement]| -> Vec<GroupElement> {
        elements
            .iter()
            .map(|e| GroupElement {
                extension: false,
                optional: false,
                ..e.clone()
            })
            .collect()
    };
    let group = Group {
        group: strip(&group.group),
        group_extensions: strip(&group.group_extensions),
    };
    toml_file::write(path, FileKind::Group, &group)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `group.toml` as the reference's detector writes it.
    const GROUP_TOML: &str = r#"[[group]]
  id = "paketo-buildpacks/ca-certificates"
  version = "3.6.3"
  api = "0.7"
  homepage = "https://github.com/paketo-buildpacks/ca-certificates"

[[group]]
  id = "paketo-buildpacks/node-engine"
  version = "3.0.1"
  api = "0.8"

[[group-extensions]]
  id = "samples/curl"
  version = "0.0.1"
  api = "0.9"
"#;

    #[test]
    fn round_trips_the_reference_shape() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("group.toml");
        std::fs::write(&path, GROUP_TOML).unwrap();
        let group = read(&path).unwrap();
        assert_eq!(group.group.len(), 2);
        assert_eq!(group.group[0].api, "0.7");
        assert!(!group.group[0].optional && !group.group[0].extension);
        assert!(group.group_extensions[0].extension && group.group_extensions[0].optional);

        let out = dir.path().join("out/group.toml");
        write(&out, &group).unwrap();
        assert_eq!(std::fs::read_to_string(&out).unwrap(), GROUP_TOML);
    }

    #[test]
    fn optional_buildpacks_and_unknown_keys() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("group.toml");
        std::fs::write(
            &path,
            "unknown = 1\n[[group]]\nid = \"a\"\nversion = \"1\"\napi = \"0.9\"\noptional = true\nextra = \"x\"\n",
        )
        .unwrap();
        let group = read(&path).unwrap();
        assert!(group.group[0].optional);
        write(&path, &group).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "[[group]]\n  id = \"a\"\n  version = \"1\"\n  api = \"0.9\"\n"
        );
    }

    #[test]
    fn malformed_group_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("group.toml");
        std::fs::write(&path, "[[group]]\nid = \"a\"\nversion = [\n").unwrap();
        let err = read(&path).unwrap_err().to_string();
        assert!(
            err.starts_with("failed to read group file: toml: line 3: "),
            "{err}"
        );
        let err = read(&dir.path().join("none.toml")).unwrap_err();
        assert!(err.is_not_found());
    }
}

//! `io.buildpacks.build.metadata`: the buildpacks, extensions, processes and launcher of
//! the app image, for platforms (e.g. `pack inspect`).

use buildpack_api::api::ApiVersion;
use buildpack_api::group::GroupElement;
use serde::ser::SerializeStruct;
use serde::{Deserialize, Serialize, Serializer};

use super::{BUILD_METADATA, LabelError, nullable, parse, to_json};
use crate::files::metadata::{BomEntry, BomEntryJson, GroupElementJson, Process, ProcessOut};

/// Where the launcher's source is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GitMetadata {
    /// Repository URL.
    #[serde(default, deserialize_with = "nullable")]
    pub repository: String,
    /// Commit.
    #[serde(default, deserialize_with = "nullable")]
    pub commit: String,
}

/// The launcher's source.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceMetadata {
    /// Git source.
    #[serde(default, deserialize_with = "nullable")]
    pub git: GitMetadata,
}

/// The launcher in the app image.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LauncherMetadata {
    /// Launcher version.
    #[serde(default, deserialize_with = "nullable")]
    pub version: String,
    /// Launcher source.
    #[serde(default, deserialize_with = "nullable")]
    pub source: SourceMetadata,
}

/// The `io.buildpacks.build.metadata` label.
///
/// Written as the reference writes it for a Platform API: `bom` only below 0.9 (`null`
/// when empty), commands as strings below 0.10, `args` `null` when a 0.10+ process has
/// none. Group elements also carry `api`, which the specification requires and the
/// reference leaves out.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct BuildMetadataLabel {
    /// Legacy bill of materials (Platform API < 0.9).
    #[serde(default, deserialize_with = "nullable")]
    pub bom: Vec<BomEntry>,
    /// The buildpacks of the group.
    #[serde(default, deserialize_with = "nullable")]
    pub buildpacks: Vec<GroupElement>,
    /// The extensions of the group.
    #[serde(default, deserialize_with = "nullable")]
    pub extensions: Vec<GroupElement>,
    /// The launcher.
    #[serde(default, deserialize_with = "nullable")]
    pub launcher: LauncherMetadata,
    /// The processes.
    #[serde(default, deserialize_with = "nullable")]
    pub processes: Vec<Process>,
    /// The buildpacks' default process type.
    #[serde(
        rename = "buildpack-default-process-type",
        default,
        deserialize_with = "nullable"
    )]
    pub buildpack_default_process_type: String,
}

impl BuildMetadataLabel {
    /// Parses the label (commands as strings or arrays).
    pub fn parse(label: &str) -> Result<Self, LabelError> {
        parse(BUILD_METADATA, label)
    }

    /// The label text for `platform_api`.
    pub fn to_json(&self, platform_api: ApiVersion) -> Result<String, LabelError> {
        to_json(&LabelOut {
            label: self,
            platform_api,
        })
    }
}

struct LabelOut<'a> {
    label: &'a BuildMetadataLabel,
    platform_api: ApiVersion,
}

impl<'a> Serialize for LabelOut<'a> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let label = self.label;
        let mut s = serializer.serialize_struct("BuildMetadata", 6)?;
        if self.platform_api.less_than(0, 9) {
            let bom: Option<Vec<BomEntryJson<'_>>> =
                (!label.bom.is_empty()).then(|| label.bom.iter().map(BomEntryJson::from).collect());
            s.serialize_field("bom", &bom)?;
        }
        let elements = |list: &'a [GroupElement]| -> Vec<GroupElementJson<'a>> {
            list.iter().map(GroupElementJson::from).collect()
        };
        s.serialize_field("buildpacks", &elements(&label.buildpacks))?;
        if !label.extensions.is_empty() {
            s.serialize_field("extensions", &elements(&label.extensions))?;
        }
        s.serialize_field("launcher", &label.launcher)?;
        let processes: Vec<ProcessOut<'_>> = label
            .processes
            .iter()
            .map(|process| ProcessOut {
                process,
                platform_api: self.platform_api,
                json: true,
            })
            .collect();
        s.serialize_field("processes", &processes)?;
        if !label.buildpack_default_process_type.is_empty() {
            s.serialize_field(
                "buildpack-default-process-type",
                &label.buildpack_default_process_type,
            )?;
        }
        s.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::files::metadata::BuildMetadata;

    fn api(s: &str) -> ApiVersion {
        s.parse().unwrap()
    }

    fn build_metadata() -> BuildMetadata {
        toml::from_str(
            r#"
buildpack-default-process-type = "web"
[[buildpacks]]
id = "A"
version = "v1"
api = "0.9"
[[extensions]]
id = "E"
version = "v2"
api = "0.9"
extension = true
optional = true
[[processes]]
type = "web"
command = ["node", "a&b.js"]
direct = true
buildpack-id = "A"
[[processes]]
type = "worker"
command = ["run"]
args = ["x"]
direct = true
buildpack-id = "A"
working-dir = "/w"
[[bom]]
name = "dep"
[bom.buildpack]
id = "A"
version = "v1"
"#,
        )
        .unwrap()
    }

    fn launcher() -> LauncherMetadata {
        LauncherMetadata {
            version: "0.20.0".into(),
            source: SourceMetadata {
                git: GitMetadata {
                    repository: "github.com/buildpacks/lifecycle".into(),
                    commit: "abc".into(),
                },
            },
        }
    }

    #[test]
    fn writes_the_reference_shape_per_platform() {
        let label = build_metadata().to_label(launcher());
        assert_eq!(
            label.to_json(api("0.12")).unwrap(),
            r#"{"buildpacks":[{"id":"A","version":"v1","api":"0.9"}],"extensions":[{"id":"E","version":"v2","api":"0.9"}],"launcher":{"version":"0.20.0","source":{"git":{"repository":"github.com/buildpacks/lifecycle","commit":"abc"}}},"processes":[{"type":"web","command":["node","a\u0026b.js"],"args":null,"direct":true,"buildpackID":"A"},{"type":"worker","command":["run"],"args":["x"],"direct":true,"buildpackID":"A","working-dir":"/w"}],"buildpack-default-process-type":"web"}"#
        );
        assert_eq!(
            label.to_json(api("0.8")).unwrap(),
            r#"{"bom":[{"name":"dep","metadata":null,"buildpack":{"id":"A","version":"v1"}}],"buildpacks":[{"id":"A","version":"v1","api":"0.9"}],"extensions":[{"id":"E","version":"v2","api":"0.9"}],"launcher":{"version":"0.20.0","source":{"git":{"repository":"github.com/buildpacks/lifecycle","commit":"abc"}}},"processes":[{"type":"web","command":"node","args":["a\u0026b.js"],"direct":true,"buildpackID":"A"},{"type":"worker","command":"run","args":["x"],"direct":true,"buildpackID":"A","working-dir":"/w"}],"buildpack-default-process-type":"web"}"#
        );
        let empty = BuildMetadataLabel::default();
        assert_eq!(
            empty.to_json(api("0.8")).unwrap(),
            r#"{"bom":null,"buildpacks":[],"launcher":{"version":"","source":{"git":{"repository":"","commit":""}}},"processes":[]}"#
        );
    }

    #[test]
    fn parses_labels_written_by_the_reference() {
        let old = r#"{"bom":[{"name":"dep","metadata":{"v":"1"},"buildpack":{"id":"A","version":"v1"}}],"buildpacks":[{"id":"A","version":"v1"}],"launcher":{"version":"","source":{"git":{"repository":"","commit":""}}},"processes":[{"type":"web","command":"node","args":["x"],"direct":false,"buildpackID":"A"}]}"#;
        let label = BuildMetadataLabel::parse(old).unwrap();
        assert_eq!(label.processes[0].command, vec!["node"]);
        assert_eq!(label.processes[0].buildpack_id, "A");
        assert_eq!(
            label.bom[0].metadata.as_ref().unwrap()["v"].as_str(),
            Some("1")
        );
        let new = r#"{"buildpacks":null,"launcher":{"version":"","source":{"git":{"repository":"","commit":""}}},"processes":[{"type":"web","command":["a","b"],"args":null,"direct":true,"buildpackID":"A"}]}"#;
        let label = BuildMetadataLabel::parse(new).unwrap();
        assert_eq!(label.processes[0].command, vec!["a", "b"]);
        assert!(label.processes[0].args.is_empty());
        assert!(BuildMetadataLabel::parse(r#"{"processes":[{"command":{}}]}"#).is_err());
    }
}

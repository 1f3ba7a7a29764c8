//! `<layers>/config/metadata.toml`: what the builder learnt (buildpacks, extensions,
//! processes, labels, slices, legacy BOM), read by the exporter and, inside the app
//! image, by the launcher.
//!
//! Process commands are arrays from Platform API 0.10 and a single string before, with
//! any further entries moved to the front of `args`.

use std::fmt;
use std::path::Path;

use buildpack_api::api::ApiVersion;
use buildpack_api::gotoml::JsonQuoted;
use buildpack_api::group::GroupElement;
use serde::de::{self, SeqAccess, Visitor};
use serde::ser::SerializeStruct;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{FileError, FileKind, freeform, toml_file};
use crate::labels::{BuildMetadataLabel, LauncherMetadata, nullable};

/// An image label a buildpack asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Label {
    /// Label key.
    #[serde(default)]
    pub key: String,
    /// Label value.
    #[serde(default)]
    pub value: String,
}

/// App-directory globs exported as their own layer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slice {
    /// Globs.
    #[serde(default)]
    pub paths: Vec<String>,
}

/// A legacy bill-of-materials entry (Platform API < 0.9): a requirement and the
/// buildpack that contributed it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BomEntry {
    /// Dependency name.
    #[serde(default)]
    pub name: String,
    /// Deprecated top-level version.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub version: String,
    /// Free-form metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<toml::Table>,
    /// The contributing buildpack (`id` and `version`).
    #[serde(default)]
    pub buildpack: GroupElement,
}

/// A process the app image can run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Process {
    /// Process type (`type`).
    #[serde(rename = "type", default)]
    pub process_type: String,
    /// The command and, from Platform API 0.10, its leading arguments. Read from a
    /// string or an array (whose non-string entries are turned into text, as the
    /// reference does).
    #[serde(default, deserialize_with = "command_entries")]
    pub command: Vec<String>,
    /// Arguments.
    #[serde(default, deserialize_with = "nullable")]
    pub args: Vec<String>,
    /// Whether the command runs without a shell.
    #[serde(default, deserialize_with = "nullable")]
    pub direct: bool,
    /// Whether this was the buildpack's default process (never written: the builder
    /// records the default in `buildpack-default-process-type`).
    #[serde(default, deserialize_with = "nullable")]
    pub default: bool,
    /// The buildpack that defined the process (`buildpack-id`; `buildpackID` in the
    /// build metadata label).
    #[serde(
        rename = "buildpack-id",
        alias = "buildpackID",
        default,
        deserialize_with = "nullable"
    )]
    pub buildpack_id: String,
    /// Working directory; empty means the app directory.
    #[serde(rename = "working-dir", default, deserialize_with = "nullable")]
    pub working_dir: String,
    /// Execution environments the process is restricted to (Platform API 0.15); empty
    /// means all, like `["*"]`.
    #[serde(rename = "exec-env", default, deserialize_with = "nullable")]
    pub exec_env: Vec<String>,
}

impl Process {
    /// The process as used with `platform_api`: below 0.10 only the first command entry
    /// is the command, the others are moved to the front of `args` (as the reference
    /// does on reading and before writing).
    pub fn with_platform_api(mut self, platform_api: ApiVersion) -> Self {
        if platform_api.less_than(0, 10) && !self.command.is_empty() {
            let extra = self.command.split_off(1);
            self.args.splice(0..0, extra);
        }
        self
    }
}

/// How a process is written: the TOML of `metadata.toml` or the JSON of the build
/// metadata label, for a Platform API.
pub(crate) struct ProcessOut<'a> {
    /// The process.
    pub(crate) process: &'a Process,
    /// The Platform API that decides the command's shape.
    pub(crate) platform_api: ApiVersion,
    /// JSON (label) instead of TOML (file).
    pub(crate) json: bool,
}

impl Serialize for ProcessOut<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let p = self.process.clone().with_platform_api(self.platform_api);
        let arrays = self.platform_api.at_least(0, 10);
        let first = p.command.first().map_or("", String::as_str);
        let mut s = serializer.serialize_struct("Process", 8)?;
        s.serialize_field("type", &p.process_type)?;
        // The reference writes commands into the TOML through Go's JSON quoting.
        match (arrays, self.json) {
            (true, false) => s.serialize_field("command", &JsonQuoted(&p.command))?,
            (false, false) => s.serialize_field("command", &JsonQuoted(first))?,
            (true, true) => s.serialize_field("command", &p.command)?,
            (false, true) => s.serialize_field("command", first)?,
        }
        // The reference's args are nil (not written, `null` in JSON) only when the
        // buildpack gave none on Platform API 0.10+.
        if !p.args.is_empty() || !arrays {
            s.serialize_field("args", &p.args)?;
        } else if self.json {
            s.serialize_field("args", &None::<Vec<String>>)?;
        }
        s.serialize_field("direct", &p.direct)?;
        if p.default {
            s.serialize_field("default", &true)?;
        }
        let id_key = if self.json {
            "buildpackID"
        } else {
            "buildpack-id"
        };
        s.serialize_field(id_key, &p.buildpack_id)?;
        if !p.working_dir.is_empty() {
            s.serialize_field("working-dir", &p.working_dir)?;
        }
        if !p.exec_env.is_empty() {
            s.serialize_field("exec-env", &p.exec_env)?;
        }
        s.end()
    }
}

/// A group element without the `extension` and `optional` markers (which the builder
/// does not record for extensions).
pub(crate) fn unmarked(elements: &[GroupElement]) -> Vec<GroupElement> {
    elements
        .iter()
        .map(|e| GroupElement {
            extension: false,
            optional: false,
            ..e.clone()
        })
        .collect()
}

/// `metadata.toml`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct BuildMetadata {
    /// Legacy bill of materials (Platform API < 0.9 only).
    #[serde(default)]
    pub bom: Vec<BomEntry>,
    /// The buildpacks of the group.
    #[serde(default)]
    pub buildpacks: Vec<GroupElement>,
    /// The extensions of the group.
    #[serde(default)]
    pub extensions: Vec<GroupElement>,
    /// Labels the buildpacks asked for, in order (a later key wins when applied).
    #[serde(default)]
    pub labels: Vec<Label>,
    /// The merged processes, sorted by type.
    #[serde(default)]
    pub processes: Vec<Process>,
    /// App slices.
    #[serde(default)]
    pub slices: Vec<Slice>,
    /// The default process type the buildpacks chose (empty when none).
    #[serde(rename = "buildpack-default-process-type", default)]
    pub buildpack_default_process_type: String,
}

impl BuildMetadata {
    /// Reads `metadata.toml` for `platform_api` (see [`Process::with_platform_api`]).
    pub fn read(path: &Path, platform_api: ApiVersion) -> Result<Self, FileError> {
        let mut metadata: Self = toml_file::read(path, FileKind::BuildMetadata)?;
        metadata.processes = metadata
            .processes
            .into_iter()
            .map(|p| p.with_platform_api(platform_api))
            .collect();
        Ok(metadata)
    }

    /// Writes `metadata.toml` as the reference's builder does for `platform_api`.
    pub fn write(&self, path: &Path, platform_api: ApiVersion) -> Result<(), FileError> {
        let extensions = unmarked(&self.extensions);
        let file = MetadataToml {
            bom: &self.bom,
            buildpacks: &self.buildpacks,
            extensions: &extensions,
            labels: &self.labels,
            processes: self
                .processes
                .iter()
                .map(|process| ProcessOut {
                    process,
                    platform_api,
                    json: false,
                })
                .collect(),
            slices: &self.slices,
            buildpack_default_process_type: &self.buildpack_default_process_type,
        };
        toml_file::write(path, FileKind::BuildMetadata, &file)
    }

    /// The process of type `process_type`.
    pub fn find_process(&self, process_type: &str) -> Option<&Process> {
        self.processes
            .iter()
            .find(|p| p.process_type == process_type)
    }

    /// The `io.buildpacks.build.metadata` label for this build.
    pub fn to_label(&self, launcher: LauncherMetadata) -> BuildMetadataLabel {
        BuildMetadataLabel {
            bom: self.bom.clone(),
            buildpacks: self.buildpacks.clone(),
            extensions: unmarked(&self.extensions),
            launcher,
            processes: self.processes.clone(),
            buildpack_default_process_type: self.buildpack_default_process_type.clone(),
        }
    }
}

/// The TOML shape of `metadata.toml` (key order and omissions as the reference).
#[derive(Serialize)]
struct MetadataToml<'a> {
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    bom: &'a [BomEntry],
    buildpacks: &'a [GroupElement],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    extensions: &'a [GroupElement],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    labels: &'a [Label],
    processes: Vec<ProcessOut<'a>>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    slices: &'a [Slice],
    #[serde(
        rename = "buildpack-default-process-type",
        skip_serializing_if = "str::is_empty"
    )]
    buildpack_default_process_type: &'a str,
}

/// The JSON shape of a legacy BOM entry in the build metadata label.
#[derive(Serialize)]
pub(crate) struct BomEntryJson<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    version: &'a str,
    metadata: Option<serde_json::Map<String, serde_json::Value>>,
    buildpack: GroupElementJson<'a>,
}

impl<'a> From<&'a BomEntry> for BomEntryJson<'a> {
    fn from(entry: &'a BomEntry) -> Self {
        BomEntryJson {
            name: &entry.name,
            version: &entry.version,
            metadata: entry.metadata.as_ref().map(freeform::from_toml_table),
            buildpack: GroupElementJson::from(&entry.buildpack),
        }
    }
}

/// The JSON shape of a group element in the build metadata label: the reference's
/// keys plus `api`, which the specification requires there.
#[derive(Serialize)]
pub(crate) struct GroupElementJson<'a> {
    id: &'a str,
    version: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    api: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    homepage: &'a str,
    #[serde(skip_serializing_if = "is_false")]
    optional: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl<'a> From<&'a GroupElement> for GroupElementJson<'a> {
    fn from(e: &'a GroupElement) -> Self {
        GroupElementJson {
            id: &e.id,
            version: &e.version,
            api: &e.api,
            homepage: &e.homepage,
            optional: e.optional,
        }
    }
}

/// Reads a command given as a string or an array.
fn command_entries<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    deserializer.deserialize_any(CommandVisitor)
}

struct CommandVisitor;

impl<'de> Visitor<'de> for CommandVisitor {
    type Value = Vec<String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a command string or array")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(vec![v.to_string()])
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut entries = Vec::new();
        while let Some(CommandEntry(entry)) = seq.next_element()? {
            entries.push(entry);
        }
        Ok(entries)
    }
}

/// One command entry; scalars other than strings are turned into text.
struct CommandEntry(String);

impl<'de> Deserialize<'de> for CommandEntry {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_any(CommandEntryVisitor)
            .map(CommandEntry)
    }
}

struct CommandEntryVisitor;

impl Visitor<'_> for CommandEntryVisitor {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a command entry")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        Ok(v.to_string())
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<String, E> {
        Ok(v.to_string())
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
        Ok(v.to_string())
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
        Ok(v.to_string())
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<String, E> {
        Ok(v.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(s: &str) -> ApiVersion {
        s.parse().unwrap()
    }

    /// `metadata.toml` as the reference's builder writes it for Platform API 0.10+.
    const METADATA_TOML: &str = r#"buildpack-default-process-type = "web"

[[buildpacks]]
  id = "paketo-buildpacks/node-engine"
  version = "3.0.1"
  api = "0.8"
  homepage = "https://github.com/paketo-buildpacks/node-engine"

[[buildpacks]]
  id = "paketo-buildpacks/npm-start"
  version = "1.0.0"
  api = "0.8"

[[extensions]]
  id = "samples/curl"
  version = "0.0.1"
  api = "0.9"

[[labels]]
  key = "org.example.team"
  value = "blue"

[[processes]]
  type = "web"
  command = ["bash", "-c", "node server.js \u0026\u0026 echo \u003cdone\u003e"]
  direct = true
  buildpack-id = "paketo-buildpacks/npm-start"
  working-dir = "/workspace/app"

[[processes]]
  type = "worker"
  command = ["node"]
  args = ["worker.js"]
  direct = true
  buildpack-id = "paketo-buildpacks/npm-start"
  exec-env = ["production"]

[[slices]]
  paths = ["public/*"]
"#;

    #[test]
    fn round_trips_the_reference_shape() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config/metadata.toml");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, METADATA_TOML).unwrap();
        let md = BuildMetadata::read(&path, api("0.12")).unwrap();
        assert_eq!(md.processes[0].command[2], "node server.js && echo <done>");
        assert_eq!(md.find_process("worker").unwrap().args, vec!["worker.js"]);
        assert!(md.find_process("none").is_none());
        assert_eq!(md.buildpack_default_process_type, "web");
        md.write(&path, api("0.12")).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), METADATA_TOML);
    }

    /// The Platform API < 0.10 shape: commands as strings, extra entries in args.
    #[test]
    fn old_platforms_write_string_commands() {
        let md = BuildMetadata {
            buildpacks: vec![GroupElement {
                id: "bp".into(),
                version: "1".into(),
                api: "0.9".into(),
                ..Default::default()
            }],
            processes: vec![
                Process {
                    process_type: "web".into(),
                    command: vec!["node".into(), "server.js".into()],
                    args: vec!["--port".into()],
                    direct: true,
                    buildpack_id: "bp".into(),
                    ..Default::default()
                },
                Process {
                    process_type: "shell".into(),
                    command: vec!["echo hi".into()],
                    buildpack_id: "bp".into(),
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metadata.toml");
        md.write(&path, api("0.9")).unwrap();
        let want = r#"
[[buildpacks]]
  id = "bp"
  version = "1"
  api = "0.9"

[[processes]]
  type = "web"
  command = "node"
  args = ["server.js", "--port"]
  direct = true
  buildpack-id = "bp"

[[processes]]
  type = "shell"
  command = "echo hi"
  args = []
  direct = false
  buildpack-id = "bp"
"#;
        assert_eq!(std::fs::read_to_string(&path).unwrap(), &want[1..]);

        let back = BuildMetadata::read(&path, api("0.9")).unwrap();
        assert_eq!(back.processes[0].command, vec!["node"]);
        assert_eq!(back.processes[0].args, vec!["server.js", "--port"]);
        // An array command read on an old platform is split the same way.
        std::fs::write(
            &path,
            "[[processes]]\ntype = \"web\"\ncommand = [\"a\", 1, true]\nargs = [\"b\"]\n",
        )
        .unwrap();
        let back = BuildMetadata::read(&path, api("0.8")).unwrap();
        assert_eq!(back.processes[0].command, vec!["a"]);
        assert_eq!(back.processes[0].args, vec!["1", "true", "b"]);
        let back = BuildMetadata::read(&path, api("0.10")).unwrap();
        assert_eq!(back.processes[0].command, vec!["a", "1", "true"]);
    }

    #[test]
    fn empty_build_and_legacy_bom() {
        let md = BuildMetadata {
            bom: vec![BomEntry {
                name: "node".into(),
                metadata: Some(toml::from_str("version = \"18\"").unwrap()),
                buildpack: GroupElement {
                    id: "bp".into(),
                    version: "1".into(),
                    ..Default::default()
                },
                ..Default::default()
            }],
            ..Default::default()
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metadata.toml");
        md.write(&path, api("0.8")).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "buildpacks = []\nprocesses = []\n\n[[bom]]\n  name = \"node\"\n  [bom.metadata]\n    version = \"18\"\n  [bom.buildpack]\n    id = \"bp\"\n    version = \"1\"\n"
        );
        assert_eq!(BuildMetadata::read(&path, api("0.8")).unwrap(), md);
    }

    #[test]
    fn malformed_metadata_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metadata.toml");
        std::fs::write(
            &path,
            "[[processes]]\ntype = \"web\"\ncommand = { a = 1 }\n",
        )
        .unwrap();
        let err = BuildMetadata::read(&path, api("0.12"))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("failed to read build metadata file: toml: line 3: "),
            "{err}"
        );
    }
}

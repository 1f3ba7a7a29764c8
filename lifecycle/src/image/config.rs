//! The image configuration (`application/vnd.oci.image.config.v1+json` and Docker's
//! equivalent), with the fields and JSON key order go-containerregistry's `ConfigFile`
//! uses, so a config we rewrite looks like one the reference rewrites. Fields neither
//! knows are dropped, as the reference drops them.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

fn is_false(b: &bool) -> bool {
    !*b
}

/// `null` read as the type's default (Go writes nil slices and maps as `null`).
fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// One entry of the image history.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    /// Who made the layer.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "nullable"
    )]
    pub author: String,
    /// When (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// What made the layer.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "nullable"
    )]
    pub created_by: String,
    /// A comment.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "nullable"
    )]
    pub comment: String,
    /// Whether the entry has no layer.
    #[serde(
        default,
        skip_serializing_if = "is_false",
        deserialize_with = "nullable"
    )]
    pub empty_layer: bool,
}

impl History {
    /// An entry with only a creation time and creator.
    pub fn new(created: &str, created_by: &str) -> Self {
        Self {
            created: Some(created.to_string()),
            created_by: created_by.to_string(),
            ..Self::default()
        }
    }
}

/// The layers of the image, by uncompressed digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RootFs {
    /// Always `layers`.
    #[serde(rename = "type", default = "layers_type")]
    pub kind: String,
    /// Diff IDs, bottom first.
    #[serde(default, deserialize_with = "nullable")]
    pub diff_ids: Vec<String>,
}

fn layers_type() -> String {
    "layers".to_string()
}

impl Default for RootFs {
    fn default() -> Self {
        Self {
            kind: layers_type(),
            diff_ids: Vec::new(),
        }
    }
}

/// The execution parameters of the image (Docker's container config keys).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerConfig {
    #[serde(
        default,
        skip_serializing_if = "is_false",
        deserialize_with = "nullable"
    )]
    #[allow(missing_docs)]
    pub attach_stderr: bool,
    #[serde(
        default,
        skip_serializing_if = "is_false",
        deserialize_with = "nullable"
    )]
    #[allow(missing_docs)]
    pub attach_stdin: bool,
    #[serde(
        default,
        skip_serializing_if = "is_false",
        deserialize_with = "nullable"
    )]
    #[allow(missing_docs)]
    pub attach_stdout: bool,
    /// Default arguments.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "nullable"
    )]
    pub cmd: Vec<String>,
    /// Health check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<Value>,
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "nullable"
    )]
    #[allow(missing_docs)]
    pub domainname: String,
    /// The entrypoint.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "nullable"
    )]
    pub entrypoint: Vec<String>,
    /// `KEY=value` entries.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "nullable"
    )]
    pub env: Vec<String>,
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "nullable"
    )]
    #[allow(missing_docs)]
    pub hostname: String,
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "nullable"
    )]
    #[allow(missing_docs)]
    pub image: String,
    /// Labels, sorted by key (as Go writes maps).
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "nullable"
    )]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[allow(missing_docs)]
    pub on_build: Option<Value>,
    #[serde(
        default,
        skip_serializing_if = "is_false",
        deserialize_with = "nullable"
    )]
    #[allow(missing_docs)]
    pub open_stdin: bool,
    #[serde(
        default,
        skip_serializing_if = "is_false",
        deserialize_with = "nullable"
    )]
    #[allow(missing_docs)]
    pub stdin_once: bool,
    #[serde(
        default,
        skip_serializing_if = "is_false",
        deserialize_with = "nullable"
    )]
    #[allow(missing_docs)]
    pub tty: bool,
    /// The user the process runs as.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "nullable"
    )]
    pub user: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[allow(missing_docs)]
    pub volumes: Option<Value>,
    /// The working directory.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "nullable"
    )]
    pub working_dir: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[allow(missing_docs)]
    pub exposed_ports: Option<Value>,
    #[serde(
        default,
        skip_serializing_if = "is_false",
        deserialize_with = "nullable"
    )]
    #[allow(missing_docs)]
    pub args_escaped: bool,
    #[serde(
        default,
        skip_serializing_if = "is_false",
        deserialize_with = "nullable"
    )]
    #[allow(missing_docs)]
    pub network_disabled: bool,
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "nullable"
    )]
    #[allow(missing_docs)]
    pub mac_address: String,
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "nullable"
    )]
    #[allow(missing_docs)]
    pub stop_signal: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[allow(missing_docs)]
    pub shell: Option<Value>,
}

impl ContainerConfig {
    /// The value of `key` in `Env`.
    pub fn env_var(&self, key: &str) -> Option<&str> {
        self.env
            .iter()
            .find_map(|e| e.strip_prefix(key).and_then(|rest| rest.strip_prefix('=')))
    }

    /// Sets `key=value` in `Env`, replacing an existing entry in place.
    pub fn set_env(&mut self, key: &str, value: &str) {
        let entry = format!("{key}={value}");
        match self
            .env
            .iter_mut()
            .find(|e| e.split_once('=').map_or(e.as_str(), |(k, _)| k) == key)
        {
            Some(existing) => *existing = entry,
            None => self.env.push(entry),
        }
    }
}

/// An image configuration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ImageConfig {
    /// CPU architecture.
    #[serde(default, deserialize_with = "nullable")]
    pub architecture: String,
    /// Author.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "nullable"
    )]
    pub author: String,
    /// Builder container (cleared on export, as the reference does).
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "nullable"
    )]
    pub container: String,
    /// Creation time (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "nullable"
    )]
    #[allow(missing_docs)]
    pub docker_version: String,
    /// History, one entry per layer (plus empty-layer entries).
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "nullable"
    )]
    pub history: Vec<History>,
    /// Operating system.
    #[serde(default, deserialize_with = "nullable")]
    pub os: String,
    /// The layers.
    #[serde(default)]
    pub rootfs: RootFs,
    /// Execution parameters.
    #[serde(default)]
    pub config: ContainerConfig,
    /// OS version.
    #[serde(
        rename = "os.version",
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "nullable"
    )]
    pub os_version: String,
    /// Architecture variant.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "nullable"
    )]
    pub variant: String,
    /// OS features.
    #[serde(
        rename = "os.features",
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "nullable"
    )]
    pub os_features: Vec<String>,
}

impl ImageConfig {
    /// Parses a config blob.
    pub fn parse(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(bytes)
    }

    /// The config as the bytes that are stored and hashed.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("image config serializes")
    }

    /// A label's value.
    pub fn label(&self, key: &str) -> Option<&str> {
        self.config.labels.get(key).map(String::as_str)
    }

    /// History with one entry per layer: entries of empty layers dropped, and blank
    /// entries when what is left does not match the layers (as the reference does).
    pub fn normalized_history(&self) -> Vec<History> {
        let kept: Vec<History> = self
            .history
            .iter()
            .filter(|h| !h.empty_layer)
            .cloned()
            .collect();
        if kept.len() == self.rootfs.diff_ids.len() {
            kept
        } else {
            vec![History::default(); self.rootfs.diff_ids.len()]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_known_fields_in_go_order() {
        let text = r#"{"architecture":"amd64","config":{"Env":["PATH=/bin"],"Cmd":null,"Labels":{"b":"2","a":"1"},"User":"1000:1000","Unknown":1},"created":"2020-01-01T00:00:00Z","history":[{"created_by":"x"},{"empty_layer":true}],"os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:a"]},"extra":true}"#;
        let c = ImageConfig::parse(text.as_bytes()).unwrap();
        assert_eq!(c.config.env_var("PATH"), Some("/bin"));
        assert_eq!(c.label("a"), Some("1"));
        assert_eq!(c.normalized_history().len(), 1);
        assert_eq!(
            String::from_utf8(c.to_bytes()).unwrap(),
            r#"{"architecture":"amd64","created":"2020-01-01T00:00:00Z","history":[{"created_by":"x"},{"empty_layer":true}],"os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:a"]},"config":{"Env":["PATH=/bin"],"Labels":{"a":"1","b":"2"},"User":"1000:1000"}}"#
        );
    }

    #[test]
    fn set_env_replaces_in_place() {
        let mut c = ContainerConfig::default();
        c.set_env("A", "1");
        c.set_env("B", "2");
        c.set_env("A", "3");
        assert_eq!(c.env, vec!["A=3", "B=2"]);
        assert_eq!(c.env_var("A"), Some("3"));
        assert_eq!(c.env_var("C"), None);
    }

    #[test]
    fn mismatched_history_is_replaced_by_blank_entries() {
        let mut c = ImageConfig::default();
        c.rootfs.diff_ids = vec!["sha256:a".into(), "sha256:b".into()];
        c.history = vec![History::new("t", "x")];
        assert_eq!(c.normalized_history(), vec![History::default(); 2]);
    }
}

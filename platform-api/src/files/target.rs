//! The target data of a base image (the run image in `analyzed.toml`): OS,
//! architecture, variant, distribution and target ID.

use std::collections::HashMap;
use std::fmt;

use serde::{Deserialize, Serialize};

pub use buildpack_api::target::Distro as OsDistro;
use buildpack_api::target::TargetQuery;

use crate::labels;

/// A base image's target data, as `[run-image.target]` in `analyzed.toml` holds it.
///
/// Read from `arch-variant` (the reference's key) or `variant` (the specification's;
/// `arch-variant` wins when both are present); written as the reference writes it, with
/// `id`, `arch-variant` and `distro` left out when empty.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "RawTargetMetadata")]
pub struct TargetMetadata {
    /// Target ID (label `io.buildpacks.base.id`).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// Operating system (`linux`, `windows`).
    pub os: String,
    /// Architecture (`amd64`, `arm64`, ...).
    pub arch: String,
    /// Architecture variant (`v8`, ...).
    #[serde(rename = "arch-variant", skip_serializing_if = "String::is_empty")]
    pub arch_variant: String,
    /// Distribution; `None` when the image says nothing about it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distro: Option<OsDistro>,
}

#[derive(Deserialize)]
struct RawTargetMetadata {
    #[serde(default)]
    id: String,
    #[serde(default)]
    os: String,
    #[serde(default)]
    arch: String,
    #[serde(default, rename = "arch-variant")]
    arch_variant: Option<String>,
    #[serde(default)]
    variant: Option<String>,
    #[serde(default)]
    distro: Option<OsDistro>,
}

impl From<RawTargetMetadata> for TargetMetadata {
    fn from(raw: RawTargetMetadata) -> Self {
        TargetMetadata {
            id: raw.id,
            os: raw.os,
            arch: raw.arch,
            arch_variant: raw.arch_variant.or(raw.variant).unwrap_or_default(),
            distro: raw.distro,
        }
    }
}

impl TargetMetadata {
    /// The target data of an image, from its config's `os`, `architecture` and `variant`
    /// and its labels, as the reference gathers it: the distribution is set when either
    /// distribution label exists, the ID when the ID label exists.
    pub fn from_image(
        os: &str,
        arch: &str,
        variant: &str,
        image_labels: &HashMap<String, String>,
    ) -> Self {
        let name = image_labels.get(labels::BASE_DISTRO_NAME);
        let version = image_labels.get(labels::BASE_DISTRO_VERSION);
        let distro = (name.is_some() || version.is_some()).then(|| OsDistro {
            name: name.cloned().unwrap_or_default(),
            version: version.cloned().unwrap_or_default(),
        });
        TargetMetadata {
            id: image_labels
                .get(labels::BASE_ID)
                .cloned()
                .unwrap_or_default(),
            os: os.to_string(),
            arch: arch.to_string(),
            arch_variant: variant.to_string(),
            distro,
        }
    }
}

impl TargetMetadata {
    /// The image side of a match against a module's `[[targets]]`.
    pub fn query(&self) -> TargetQuery {
        TargetQuery {
            os: self.os.clone(),
            arch: self.arch.clone(),
            arch_variant: self.arch_variant.clone(),
            distro: self.distro.clone(),
        }
    }
}

impl fmt::Display for TargetMetadata {
    /// The JSON form the reference prints targets with in log messages.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&labels::to_json(self).map_err(|_| fmt::Error)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_both_variant_keys() {
        let t: TargetMetadata =
            toml::from_str("os = \"linux\"\narch = \"arm\"\nvariant = \"v7\"\n").unwrap();
        assert_eq!(t.arch_variant, "v7");
        let t: TargetMetadata = toml::from_str(
            "os = \"linux\"\narch = \"arm\"\nvariant = \"v7\"\narch-variant = \"v6\"\n",
        )
        .unwrap();
        assert_eq!(t.arch_variant, "v6");
        let t: TargetMetadata = toml::from_str("").unwrap();
        assert_eq!(t, TargetMetadata::default());
    }

    #[test]
    fn from_image_labels() {
        let image_labels = HashMap::from([
            (
                labels::BASE_ID.to_string(),
                "io.buildpacks.stacks.jammy".to_string(),
            ),
            (labels::BASE_DISTRO_NAME.to_string(), "ubuntu".to_string()),
        ]);
        let t = TargetMetadata::from_image("linux", "amd64", "", &image_labels);
        assert_eq!(t.id, "io.buildpacks.stacks.jammy");
        assert_eq!(
            t.distro,
            Some(OsDistro {
                name: "ubuntu".into(),
                version: String::new()
            })
        );
        assert_eq!(
            t.to_string(),
            r#"{"id":"io.buildpacks.stacks.jammy","os":"linux","arch":"amd64","distro":{"name":"ubuntu","version":""}}"#
        );
        let t = TargetMetadata::from_image("linux", "arm64", "v8", &HashMap::new());
        assert_eq!(t.distro, None);
        assert_eq!(
            t.to_string(),
            r#"{"os":"linux","arch":"arm64","arch-variant":"v8"}"#
        );
    }
}

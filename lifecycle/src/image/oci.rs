//! Manifests, indexes and descriptors of the OCI image spec and Docker's schema 2.
//!
//! Own serde types rather than `oci-spec`'s: annotations are kept in sorted maps (so the
//! bytes, and with them the digest, are the same on every run) and fields this code does
//! not know about are carried over untouched when a base image's manifest is rewritten.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// OCI image manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image index.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// OCI image config.
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// OCI gzip-compressed layer.
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
/// OCI uncompressed layer.
pub const OCI_LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
/// Docker schema 2 manifest.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker manifest list.
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// Docker image config.
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
/// Docker gzip-compressed layer.
pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";

/// Which family of media types an image uses; a new image keeps its base image's family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MediaFamily {
    /// `application/vnd.oci.*`
    #[default]
    Oci,
    /// `application/vnd.docker.*` (schema 2)
    Docker,
}

impl MediaFamily {
    /// The family of a manifest media type (OCI when absent or unknown).
    pub fn of_manifest(media_type: Option<&str>) -> Self {
        match media_type {
            Some(DOCKER_MANIFEST) => Self::Docker,
            _ => Self::Oci,
        }
    }

    /// Media type of a manifest of this family.
    pub fn manifest(self) -> &'static str {
        match self {
            Self::Oci => OCI_MANIFEST,
            Self::Docker => DOCKER_MANIFEST,
        }
    }

    /// Media type of a config of this family.
    pub fn config(self) -> &'static str {
        match self {
            Self::Oci => OCI_CONFIG,
            Self::Docker => DOCKER_CONFIG,
        }
    }

    /// Media type of a gzip layer of this family.
    pub fn gzip_layer(self) -> &'static str {
        match self {
            Self::Oci => OCI_LAYER_GZIP,
            Self::Docker => DOCKER_LAYER_GZIP,
        }
    }
}

/// The platform a manifest of an index is for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Platform {
    /// CPU architecture (`amd64`).
    #[serde(default)]
    pub architecture: String,
    /// Operating system (`linux`).
    #[serde(default)]
    pub os: String,
    /// Architecture variant (`v8`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// A reference to content by digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Descriptor {
    /// Media type of the content.
    #[serde(rename = "mediaType", default)]
    pub media_type: String,
    /// `sha256:<hex>` of the content.
    pub digest: String,
    /// Size of the content in bytes.
    pub size: u64,
    /// Annotations, sorted by key.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// The platform (index entries).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    /// Fields not modelled here (`urls`, `artifactType`, ...).
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

impl Descriptor {
    /// A descriptor with no annotations or platform.
    pub fn new(media_type: &str, digest: &str, size: u64) -> Self {
        Self {
            media_type: media_type.to_string(),
            digest: digest.to_string(),
            size,
            annotations: BTreeMap::new(),
            platform: None,
            other: Map::new(),
        }
    }
}

/// An image manifest (OCI or Docker schema 2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always 2.
    #[serde(rename = "schemaVersion")]
    pub schema_version: u32,
    /// The manifest's media type (optional in OCI manifests).
    #[serde(rename = "mediaType", default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// The image config.
    pub config: Descriptor,
    /// The layers, bottom first.
    #[serde(default)]
    pub layers: Vec<Descriptor>,
    /// Annotations, sorted by key.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// An image index or Docker manifest list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Index {
    /// Always 2.
    #[serde(rename = "schemaVersion")]
    pub schema_version: u32,
    /// The index's media type.
    #[serde(rename = "mediaType", default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// The manifests.
    #[serde(default)]
    pub manifests: Vec<Descriptor>,
    /// Annotations, sorted by key.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

impl Index {
    /// An empty OCI index.
    pub fn new() -> Self {
        Self {
            schema_version: 2,
            media_type: Some(OCI_INDEX.to_string()),
            manifests: Vec::new(),
            annotations: BTreeMap::new(),
            other: Map::new(),
        }
    }

    /// The manifest for `os`/`architecture` (and `variant` when given), or the only
    /// manifest when there is just one.
    pub fn select(
        &self,
        os: &str,
        architecture: &str,
        variant: Option<&str>,
    ) -> Option<&Descriptor> {
        let matching = |d: &&Descriptor| {
            d.platform.as_ref().is_some_and(|p| {
                p.os == os
                    && p.architecture == architecture
                    && variant.is_none_or(|v| p.variant.as_deref() == Some(v))
            })
        };
        self.manifests
            .iter()
            .find(matching)
            .or(match self.manifests.as_slice() {
                [only] => Some(only),
                _ => None,
            })
    }
}

impl Default for Index {
    fn default() -> Self {
        Self::new()
    }
}

/// Whether a media type names an index or manifest list.
pub fn is_index(media_type: &str) -> bool {
    media_type == OCI_INDEX || media_type == DOCKER_MANIFEST_LIST
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_round_trip_keeps_unknown_fields_and_sorts_annotations() {
        let text = r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:aa","size":3},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:bb","size":5,"urls":["u"]}],"annotations":{"z":"1","a":"2"},"subject":{"x":1}}"#;
        let m: Manifest = serde_json::from_str(text).unwrap();
        let out = serde_json::to_string(&m).unwrap();
        assert_eq!(
            out,
            r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:aa","size":3},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:bb","size":5,"urls":["u"]}],"annotations":{"a":"2","z":"1"},"subject":{"x":1}}"#
        );
    }

    #[test]
    fn index_selects_platform_or_the_only_manifest() {
        let text = r#"{"schemaVersion":2,"manifests":[
            {"mediaType":"m","digest":"sha256:arm","size":1,"platform":{"architecture":"arm64","os":"linux","variant":"v8"}},
            {"mediaType":"m","digest":"sha256:amd","size":1,"platform":{"architecture":"amd64","os":"linux"}}]}"#;
        let i: Index = serde_json::from_str(text).unwrap();
        assert_eq!(
            i.select("linux", "amd64", None).unwrap().digest,
            "sha256:amd"
        );
        assert_eq!(
            i.select("linux", "arm64", Some("v8")).unwrap().digest,
            "sha256:arm"
        );
        assert!(i.select("linux", "arm64", Some("v7")).is_none());
        assert!(i.select("windows", "amd64", None).is_none());
        let one: Index = serde_json::from_str(
            r#"{"schemaVersion":2,"manifests":[{"mediaType":"m","digest":"sha256:x","size":1}]}"#,
        )
        .unwrap();
        assert_eq!(
            one.select("linux", "amd64", None).unwrap().digest,
            "sha256:x"
        );
    }
}

//! Manifests as the registry serves them: media types, descriptors, and picking a
//! platform's image out of an index.

use serde::Deserialize;

/// OCI image manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image index.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// Docker image manifest, schema 2.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker manifest list.
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

/// The `Accept` header of manifest requests: both image and both index formats.
pub(crate) const ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, \
application/vnd.docker.distribution.manifest.v2+json, \
application/vnd.oci.image.index.v1+json, \
application/vnd.docker.distribution.manifest.list.v2+json";

/// The largest manifest accepted (Distribution's own limit).
pub(crate) const MAX_MANIFEST_BYTES: u64 = 4 << 20;

/// A manifest exactly as served: its bytes, media type and (verified) digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// The raw bytes; their SHA-256 is `digest`.
    pub bytes: Vec<u8>,
    /// The media type (from `Content-Type`, else the document's `mediaType`).
    pub media_type: String,
    /// `sha256:<hex>` of `bytes`.
    pub digest: String,
}

impl Manifest {
    /// Whether this is an index (OCI image index or Docker manifest list).
    pub fn is_index(&self) -> bool {
        is_index_type(&self.media_type)
    }

    /// The descriptor of the child image for `platform`, when this is an index.
    pub fn platform_child(&self, platform: &Platform) -> Option<Descriptor> {
        if !self.is_index() {
            return None;
        }
        let index: Index = serde_json::from_slice(&self.bytes).ok()?;
        index
            .manifests
            .into_iter()
            .find(|m| m.platform.as_ref().is_some_and(|p| platform.matches(p)))
            .map(|m| Descriptor {
                media_type: m.media_type,
                digest: m.digest,
                size: m.size,
            })
    }
}

/// Whether `media_type` is an index type.
pub fn is_index_type(media_type: &str) -> bool {
    media_type == OCI_INDEX || media_type == DOCKER_MANIFEST_LIST
}

/// What a blob or manifest is: digest, size and media type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Descriptor {
    /// The media type.
    pub media_type: String,
    /// `sha256:<hex>`.
    pub digest: String,
    /// Size in bytes.
    pub size: u64,
}

/// A platform to pick from an index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    /// `linux`, …
    pub os: String,
    /// `amd64`, `arm64`, …
    pub architecture: String,
    /// `v8`, …; empty matches any variant.
    pub variant: String,
}

impl Default for Platform {
    /// linux/amd64, the reference's default.
    fn default() -> Self {
        Platform {
            os: "linux".into(),
            architecture: "amd64".into(),
            variant: String::new(),
        }
    }
}

impl Platform {
    fn matches(&self, p: &IndexPlatform) -> bool {
        p.os == self.os
            && p.architecture == self.architecture
            && (self.variant.is_empty() || p.variant == self.variant)
    }
}

#[derive(Deserialize)]
struct Index {
    #[serde(default)]
    manifests: Vec<IndexEntry>,
}

#[derive(Deserialize)]
struct IndexEntry {
    #[serde(rename = "mediaType", default)]
    media_type: String,
    digest: String,
    #[serde(default)]
    size: u64,
    platform: Option<IndexPlatform>,
}

#[derive(Deserialize)]
struct IndexPlatform {
    #[serde(default)]
    os: String,
    #[serde(default)]
    architecture: String,
    #[serde(default)]
    variant: String,
}

/// The `mediaType` field of a manifest document, for registries that do not say it in
/// `Content-Type`.
pub(crate) fn media_type_of(bytes: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct Probe {
        #[serde(rename = "mediaType")]
        media_type: Option<String>,
        manifests: Option<serde_json::Value>,
    }
    let probe: Probe = serde_json::from_slice(bytes).ok()?;
    probe
        .media_type
        .or_else(|| probe.manifests.is_some().then(|| OCI_INDEX.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index() -> Manifest {
        let bytes = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[
            {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:aa","size":10,"platform":{"architecture":"arm64","os":"linux","variant":"v8"}},
            {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:bb","size":11,"platform":{"architecture":"amd64","os":"linux"}},
            {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:cc","size":12}
        ]}"#;
        Manifest {
            bytes: bytes.to_vec(),
            media_type: OCI_INDEX.into(),
            digest: "sha256:x".into(),
        }
    }

    #[test]
    fn picks_the_platform() {
        let m = index();
        assert_eq!(
            m.platform_child(&Platform::default()).unwrap(),
            Descriptor {
                media_type: OCI_MANIFEST.into(),
                digest: "sha256:bb".into(),
                size: 11
            }
        );
        let arm = Platform {
            os: "linux".into(),
            architecture: "arm64".into(),
            variant: "v8".into(),
        };
        assert_eq!(m.platform_child(&arm).unwrap().digest, "sha256:aa");
        let arm_v7 = Platform {
            variant: "v7".into(),
            ..arm
        };
        assert_eq!(m.platform_child(&arm_v7), None);
        let image = Manifest {
            media_type: OCI_MANIFEST.into(),
            ..index()
        };
        assert_eq!(image.platform_child(&Platform::default()), None);
    }

    #[test]
    fn media_type_from_document() {
        assert_eq!(media_type_of(&index().bytes).as_deref(), Some(OCI_INDEX));
        assert_eq!(
            media_type_of(br#"{"manifests":[]}"#).as_deref(),
            Some(OCI_INDEX)
        );
        assert_eq!(media_type_of(br#"{"layers":[]}"#), None);
        assert_eq!(media_type_of(b"nope"), None);
    }
}

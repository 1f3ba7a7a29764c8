//! `io.buildpacks.lifecycle.cache.metadata`: what a cache (image or volume) holds.

use serde::{Deserialize, Serialize};

use super::lifecycle::floats_in_data;
use super::{
    BuildpackLayersMetadata, CACHE_METADATA, LabelError, LayerMetadata, nullable, parse, to_json,
};

/// The cache metadata: the cached SBOM layer and each buildpack's cached layers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CacheMetadata {
    /// The build SBOM layer (empty `sha` when there is none).
    #[serde(default, deserialize_with = "nullable")]
    pub sbom: LayerMetadata,
    /// Cached layers by buildpack.
    #[serde(default, deserialize_with = "nullable")]
    pub buildpacks: Vec<BuildpackLayersMetadata>,
}

impl CacheMetadata {
    /// Parses the label (or the volume cache's metadata file). An empty text is empty
    /// metadata; numbers in layer data become floats, as in the reference.
    pub fn parse(text: &str) -> Result<Self, LabelError> {
        if text.is_empty() {
            return Ok(Self::default());
        }
        let mut metadata: Self = parse(CACHE_METADATA, text)?;
        metadata.buildpacks.iter_mut().for_each(floats_in_data);
        Ok(metadata)
    }

    /// The label text.
    pub fn to_json(&self) -> Result<String, LabelError> {
        to_json(self)
    }

    /// The cached layers of buildpack `id`.
    pub fn for_buildpack(&self, id: &str) -> Option<&BuildpackLayersMetadata> {
        self.buildpacks.iter().find(|bp| bp.id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_the_reference_form() {
        let text = r#"{"sbom":{"sha":"sha256:s"},"buildpacks":[{"key":"bp","version":"1","layers":{"cache-layer":{"sha":"sha256:c","data":{"n":2},"build":false,"launch":false,"cache":true}}}]}"#;
        let md = CacheMetadata::parse(text).unwrap();
        assert!(md.for_buildpack("bp").unwrap().layers["cache-layer"].cache);
        assert!(md.for_buildpack("other").is_none());
        assert_eq!(md.to_json().unwrap(), text);
        assert_eq!(
            CacheMetadata::default().to_json().unwrap(),
            r#"{"sbom":{"sha":""},"buildpacks":[]}"#
        );
        assert_eq!(
            CacheMetadata::parse(r#"{"sbom":{"sha":""},"buildpacks":null}"#).unwrap(),
            CacheMetadata::default()
        );
        assert!(CacheMetadata::parse(r#"{"sbom":1}"#).is_err());
    }
}

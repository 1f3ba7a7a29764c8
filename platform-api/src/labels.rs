//! Image labels: their names, the JSON types of the labels the lifecycle writes and
//! reads, and a JSON writer that produces the reference's exact text.
//!
//! Parsing is lenient: labels written by the reference (including its `null`s for
//! empty lists and maps) parse; unknown keys are ignored; a corrupt label is an error.

mod build;
mod cache;
mod json;
mod lifecycle;

use serde::{Deserialize, Deserializer, Serialize};

pub use build::{BuildMetadataLabel, GitMetadata, LauncherMetadata, SourceMetadata};
pub use cache::CacheMetadata;
pub use lifecycle::{
    BuildpackLayerMetadata, BuildpackLayersMetadata, LayerMetadata, LayersMetadata,
    RunImageForRebase, StoreMetadata,
};

/// Layer metadata of the app image (JSON): [`LayersMetadata`].
pub const LIFECYCLE_METADATA: &str = "io.buildpacks.lifecycle.metadata";
/// Build metadata of the app image (JSON): [`BuildMetadataLabel`].
pub const BUILD_METADATA: &str = "io.buildpacks.build.metadata";
/// Project source metadata of the app image (JSON of `project-metadata.toml`).
pub const PROJECT_METADATA: &str = "io.buildpacks.project.metadata";
/// Layer metadata of a cache image (JSON): [`CacheMetadata`]. Also the file name of
/// the same JSON in a volume cache.
pub const CACHE_METADATA: &str = "io.buildpacks.lifecycle.cache.metadata";
/// Whether the app image may be rebased (`"true"` / `"false"`).
pub const REBASABLE: &str = "io.buildpacks.rebasable";
/// The execution environment the app image was built for (Platform API 0.15).
pub const EXEC_ENV: &str = "io.buildpacks.exec-env";

/// Prefix of the base-image labels, synchronised from the run image at rebase.
pub const BASE_PREFIX: &str = "io.buildpacks.base.";
/// Target ID of a base image.
pub const BASE_ID: &str = "io.buildpacks.base.id";
/// Maintainer of a base image.
pub const BASE_MAINTAINER: &str = "io.buildpacks.base.maintainer";
/// Homepage of a base image.
pub const BASE_HOMEPAGE: &str = "io.buildpacks.base.homepage";
/// Release date of a base image.
pub const BASE_RELEASED: &str = "io.buildpacks.base.released";
/// Description of a base image.
pub const BASE_DESCRIPTION: &str = "io.buildpacks.base.description";
/// Additional metadata of a base image.
pub const BASE_METADATA: &str = "io.buildpacks.base.metadata";
/// OS distribution name of a base image.
pub const BASE_DISTRO_NAME: &str = "io.buildpacks.base.distro.name";
/// OS distribution version of a base image.
pub const BASE_DISTRO_VERSION: &str = "io.buildpacks.base.distro.version";

/// Prefix of the deprecated stack labels (Platform API < 0.12).
pub const STACK_PREFIX: &str = "io.buildpacks.stack.";
/// Deprecated stack ID of a base image.
pub const STACK_ID: &str = "io.buildpacks.stack.id";
/// Deprecated mixins of a base image (JSON array of names).
pub const STACK_MIXINS: &str = "io.buildpacks.stack.mixins";

/// Why a label could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum LabelError {
    /// The label's JSON is malformed or has a value of the wrong type.
    #[error("failed to unmarshal context of label '{label}': {source}")]
    Parse {
        /// The label name.
        label: &'static str,
        /// What is wrong.
        source: serde_json::Error,
    },
    /// The value cannot be written as JSON.
    #[error("failed to marshal label: {0}")]
    Encode(serde_json::Error),
}

/// Writes `value` as JSON exactly as Go's `json.Marshal` would for the same data:
/// compact, `<`, `>` and `&` escaped, floats in Go's shortest form. (Map keys come out
/// in the value's own order; the types of this crate keep free-form maps sorted, as Go
/// writes them.)
pub fn to_json<T: ?Sized + Serialize>(value: &T) -> Result<String, LabelError> {
    json::to_string(value).map_err(LabelError::Encode)
}

/// Parses label JSON, naming the label on error. Like the reference, the label must be
/// a JSON object (or `null`, which is empty).
fn parse<T: serde::de::DeserializeOwned + Default>(
    label: &'static str,
    text: &str,
) -> Result<T, LabelError> {
    let error = |source| LabelError::Parse { label, source };
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') {
        serde_json::from_str(text).map_err(error)
    } else {
        match serde_json::from_str::<()>(text) {
            Ok(()) => Ok(T::default()),
            Err(_) => Err(error(serde::de::Error::custom(format!(
                "cannot unmarshal {} into an object",
                trimmed
                    .chars()
                    .next()
                    .map_or("nothing".into(), |c| format!("'{c}'"))
            )))),
        }
    }
}

/// Serde helper: `null` (which the reference writes for empty lists and maps) reads as
/// the default value.
pub(crate) fn nullable<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_errors_name_the_label() {
        let err = parse::<LayersMetadata>(LIFECYCLE_METADATA, "{").unwrap_err();
        assert!(
            err.to_string().starts_with(
                "failed to unmarshal context of label 'io.buildpacks.lifecycle.metadata': "
            ),
            "{err}"
        );
    }
}

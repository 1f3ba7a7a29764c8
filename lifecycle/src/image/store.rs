//! One interface over the places images live: an OCI layout directory, a registry, the
//! Docker daemon.

use std::path::PathBuf;

use super::layer_stream::LayerStream;
use super::model::{Image, Layer, Saved};

/// How new layers must be handed to a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerFormat {
    /// Gzip blobs (registry, OCI layout).
    Gzip,
    /// Uncompressed tars (Docker daemon).
    Tar,
}

/// An image read from a store.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredImage {
    /// The image; its layers are [`super::LayerData::Stored`].
    pub image: Image,
    /// How the image is identified for `analyzed.toml` and the metadata label: a digest
    /// reference (`<repo>@sha256:…`), a layout path with digest, or a daemon image ID.
    pub identifier: String,
}

impl StoredImage {
    /// The image's target data: `os`, `architecture` and `variant` of its config and
    /// its `io.buildpacks.base.*` labels.
    pub fn target(&self) -> platform_api::files::target::TargetMetadata {
        let config = &self.image.config;
        let labels: std::collections::HashMap<String, String> = config
            .config
            .labels
            .iter()
            .filter(|(k, _)| k.starts_with(platform_api::labels::BASE_PREFIX))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        platform_api::files::target::TargetMetadata::from_image(
            &config.os,
            &config.architecture,
            &config.variant,
            &labels,
        )
    }
}

/// Why a store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A file could not be read or written.
    #[error("{action} {}: {cause}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        cause: std::io::Error,
    },
    /// An image reference could not be parsed.
    #[error("{0}")]
    Reference(String),
    /// Stored data is not what the image format says it must be.
    #[error("{0}")]
    Invalid(String),
    /// A layer cannot be written to this store from where it is.
    #[error("{0}")]
    Unsupported(String),
    /// The registry failed.
    #[error("{0}")]
    Registry(Box<dyn std::error::Error + Send + Sync>),
    /// The Docker daemon failed.
    #[error("{0}")]
    Daemon(Box<dyn std::error::Error + Send + Sync>),
}

impl StoreError {
    /// An I/O error on `path`.
    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            action,
            path: path.into(),
            cause: source,
        }
    }
}

/// A place images are read from and written to.
pub trait ImageStore: Send + Sync {
    /// Reads the image `name` refers to (`None` when it does not exist). Layers are not
    /// downloaded: they stay where they are and are referenced when saving.
    fn read(&self, name: &str) -> Result<Option<StoredImage>, StoreError>;

    /// How the store names the image `name` in messages and reports (a layout store
    /// names it by its directory).
    fn display_name(&self, name: &str) -> String {
        name.to_string()
    }

    /// Something to pass a new layer's blob to while it is being made, so it reaches
    /// the store before [`ImageStore::save`] (which then finds it there). `None` when
    /// the store gains nothing from it.
    fn early_upload(&self, _names: &[String]) -> Option<Box<dyn crate::layer::BlobTee>> {
        None
    }

    /// Whether every layer blob of `image` (read from this store) is still there; a
    /// store that cannot tell says yes.
    fn layers_present(&self, _image: &StoredImage) -> Result<bool, StoreError> {
        Ok(true)
    }

    /// The uncompressed tar of the layer `diff_id` of `image` (read from this store),
    /// checked against its diff ID as it is read.
    fn open_layer(&self, image: &StoredImage, diff_id: &str) -> Result<LayerStream, StoreError>;

    /// The form new layers must have for [`ImageStore::save`].
    fn layer_format(&self) -> LayerFormat;

    /// Writes `image` under every name; a failure for one name does not stop the others
    /// (they are listed in [`Saved::failed`]); an error means nothing could be saved.
    fn save(&self, image: &Image, names: &[String]) -> Result<Saved, StoreError>;
}

/// The layer `diff_id` of `image` and its blob descriptor, or why it cannot be read.
pub(super) fn stored_blob<'a>(
    image: &'a StoredImage,
    diff_id: &str,
) -> Result<(&'a Layer, &'a super::oci::Descriptor), StoreError> {
    let layer = image
        .image
        .layer(diff_id)
        .ok_or_else(|| StoreError::Invalid(format!("the image has no layer {diff_id}")))?;
    let blob = layer
        .blob
        .as_ref()
        .ok_or_else(|| StoreError::Unsupported(format!("layer {diff_id} has no blob to read")))?;
    Ok((layer, blob))
}

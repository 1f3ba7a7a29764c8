//! An image being read or built: its config, and for every layer its diff ID, its blob
//! descriptor and where its bytes are.

use std::path::PathBuf;
use std::sync::Arc;

use sha2::{Digest as _, Sha256};

use super::config::{History, ImageConfig};
use super::oci::{Descriptor, MediaFamily};

/// `sha256:<hex>` of `bytes`.
pub fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex(&Sha256::digest(bytes)))
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The image a stored layer belongs to, as the store that read it can reach it again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A repository of a registry (`registry/repository`), for blob mounts.
    Registry(String),
    /// An OCI layout directory.
    Layout(PathBuf),
    /// An image in the Docker daemon, by ID (the daemon has the layer already).
    Daemon(String),
}

/// Where the bytes of a layer are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LayerData {
    /// A gzip blob on local disk, written by the layer pipeline.
    BlobFile(PathBuf),
    /// An uncompressed tar on local disk.
    TarFile(PathBuf),
    /// A layer of an image in a store (the base image or the previous image).
    Stored(Arc<Origin>),
}

/// One layer of an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    /// Digest of the uncompressed tar.
    pub diff_id: String,
    /// The compressed blob, when known (not for uncompressed tars and daemon layers).
    pub blob: Option<Descriptor>,
    /// Where the bytes are.
    pub data: LayerData,
}

/// An image: a config and its layers, bottom first.
#[derive(Debug, Clone, PartialEq)]
pub struct Image {
    /// OCI or Docker media types (a new image keeps its base image's).
    pub family: MediaFamily,
    /// The config; `rootfs.diff_ids` and `history` follow the layers.
    pub config: ImageConfig,
    /// The layers, bottom first.
    pub layers: Vec<Layer>,
    /// Manifest annotations (kept from the base image, as the reference keeps them).
    pub annotations: std::collections::BTreeMap<String, String>,
}

/// The time the reference stamps on images and layers: 1980-01-01T00:00:01Z.
pub const NORMALIZED_TIME: &str = "1980-01-01T00:00:01Z";

impl Image {
    /// An image from a config and its layers, with history normalized to one entry per
    /// layer.
    pub fn new(family: MediaFamily, mut config: ImageConfig, layers: Vec<Layer>) -> Self {
        config.history = config.normalized_history();
        Self {
            family,
            config,
            layers,
            annotations: Default::default(),
        }
    }

    /// Appends a layer with its history entry.
    pub fn push_layer(&mut self, layer: Layer, history: History) {
        self.config.rootfs.diff_ids.push(layer.diff_id.clone());
        self.config.history.push(history);
        self.layers.push(layer);
    }

    /// Diff ID of the top layer (empty without layers).
    pub fn top_layer(&self) -> &str {
        self.layers.last().map_or("", |l| l.diff_id.as_str())
    }

    /// The layer with `diff_id`, if the image has it.
    pub fn layer(&self, diff_id: &str) -> Option<&Layer> {
        self.layers.iter().find(|l| l.diff_id == diff_id)
    }

    /// Stamps the creation time on the config and on every history entry; without
    /// `keep_history` each entry is reduced to its time (as the reference does before
    /// Platform API 0.12). The builder container name is cleared.
    pub fn set_created(&mut self, created: &str, keep_history: bool) {
        self.config.created = Some(created.to_string());
        self.config.container.clear();
        self.config.history = self.config.normalized_history();
        for h in &mut self.config.history {
            if !keep_history {
                *h = History::default();
            }
            h.created = Some(created.to_string());
        }
    }
}

impl Image {
    /// An image read from a store: `manifest`'s layers paired with `config`'s diff IDs,
    /// all stored at `origin`, with the manifest's annotations. `name` is for messages.
    pub fn from_manifest(
        manifest: &super::oci::Manifest,
        config: ImageConfig,
        origin: Origin,
        name: &str,
    ) -> Result<Self, super::store::StoreError> {
        if config.rootfs.diff_ids.len() != manifest.layers.len() {
            return Err(super::store::StoreError::Invalid(format!(
                "image {name} has {} layers but {} diff IDs",
                manifest.layers.len(),
                config.rootfs.diff_ids.len()
            )));
        }
        let origin = Arc::new(origin);
        let layers = manifest
            .layers
            .iter()
            .zip(&config.rootfs.diff_ids)
            .map(|(blob, diff_id)| Layer {
                diff_id: diff_id.clone(),
                blob: Some(blob.clone()),
                data: LayerData::Stored(origin.clone()),
            })
            .collect();
        let family = MediaFamily::of_manifest(manifest.media_type.as_deref());
        let mut image = Self::new(family, config, layers);
        image.annotations = manifest.annotations.clone();
        Ok(image)
    }
}

/// What a store says about an image it saved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Saved {
    /// The names that were written.
    pub saved: Vec<String>,
    /// Names that failed, with the cause.
    pub failed: Vec<(String, String)>,
    /// Manifest digest (registry, layout).
    pub digest: Option<String>,
    /// Image ID (daemon).
    pub image_id: Option<String>,
    /// Size of the manifest in bytes, when there is one.
    pub manifest_size: Option<u64>,
}

impl Saved {
    /// The outcome of writing one manifest under every name with `save_one`: a failure
    /// for one name does not stop the others.
    pub fn each(
        manifest: &[u8],
        names: &[String],
        mut save_one: impl FnMut(&str) -> Result<(), super::store::StoreError>,
    ) -> Self {
        let mut saved = Saved {
            digest: Some(sha256_digest(manifest)),
            manifest_size: Some(manifest.len() as u64),
            ..Saved::default()
        };
        for name in names {
            match save_one(name) {
                Ok(()) => saved.saved.push(name.clone()),
                Err(e) => saved.failed.push((name.clone(), e.to_string())),
            }
        }
        saved
    }
}

/// RFC 3339 UTC time (`2022-01-05T05:05:05Z`) of seconds since the Unix epoch.
pub fn rfc3339(epoch_seconds: i64) -> String {
    let days = epoch_seconds.div_euclid(86_400);
    let secs = epoch_seconds.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (proleptic Gregorian calendar).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_rfc3339() {
        assert_eq!(rfc3339(315_532_801), NORMALIZED_TIME);
        assert_eq!(rfc3339(1_641_359_105), "2022-01-05T05:05:05Z");
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59Z");
    }

    #[test]
    fn digests_bytes() {
        assert_eq!(
            sha256_digest(b""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn set_created_stamps_history() {
        let mut config = ImageConfig::default();
        config.rootfs.diff_ids = vec!["sha256:a".into()];
        config.history = vec![History::new("2000-01-01T00:00:00Z", "base")];
        config.container = "abc".into();
        let mut image = Image::new(MediaFamily::Oci, config, vec![]);
        let mut plain = image.clone();
        image.set_created(NORMALIZED_TIME, true);
        assert_eq!(
            image.config.history,
            vec![History::new(NORMALIZED_TIME, "base")]
        );
        assert_eq!(image.config.container, "");
        plain.set_created(NORMALIZED_TIME, false);
        assert_eq!(
            plain.config.history,
            vec![History::new(NORMALIZED_TIME, "")]
        );
    }
}

//! The restore phase as a function over explicit inputs: puts back what the previous
//! build left for the buildpacks of this build.
//!
//! 1. `store.toml` of every group buildpack, from the previous image's metadata (even
//!    with `skip_layers`).
//! 2. `<layer>.toml` files, per the restore matrix ([`metadata`]): launch layers from the
//!    previous image's metadata, cached layers from the cache's.
//! 3. Cached layers' contents ([`cache`]): a layer whose recorded diffID differs from the
//!    cache's is removed; the others are streamed out of the cache into their own
//!    directory (and nowhere else), hashed as they are read, on a bounded pool of
//!    threads. A layer that turns out missing or corrupted is removed (directory and
//!    `<layer>.toml`) with a warning, so metadata and contents come back together or not
//!    at all.
//! 4. Per-layer SBOMs ([`sbom`], Platform API 0.8+): the cache's SBOM layer is
//!    extracted, then every `<layers>/sbom/{cache,launch}/<bp>/<layer>/sbom.<ext>` is
//!    copied to `<layers>/<bp>/<layer>.sbom.<ext>` and `<layers>/sbom` is removed.
//!
//! The caller opens the cache (and drops privileges) first; the creator calls
//! [`restore`] the same way, with `skip_layers` for its `-skip-restore`.

pub mod cache;
pub mod metadata;
pub mod sbom;

use std::io;
use std::path::{Path, PathBuf};

use buildpack_api::api::ApiVersion;
use buildpack_api::group::GroupElement;
use platform_api::labels::{CACHE_METADATA, CacheMetadata, LayersMetadata};

use crate::cache::volume::{VolumeCache, VolumeCacheError};
use crate::image::{ImageStore, StoredImage};
use crate::layer::Owner;
use crate::layer::extract::ExtractError;
use crate::log::Logger;

/// What [`restore`] works on.
#[derive(Debug, Clone)]
pub struct RestoreInputs {
    /// The layers directory (absolute).
    pub layers_dir: PathBuf,
    /// The buildpacks of the group (extensions are not restored).
    pub buildpacks: Vec<GroupElement>,
    /// The previous image's metadata (`[metadata]` of analyzed.toml).
    pub app_metadata: LayersMetadata,
    /// The Platform API.
    pub platform_api: ApiVersion,
    /// Restore `store.toml` only (`-skip-layers`, the creator's `-skip-restore`).
    pub skip_layers: bool,
    /// The user and group the exporter will tar layers with, for the fingerprints that
    /// let it prove restored layers unchanged.
    pub owner: Owner,
}

/// The cache layers are restored from.
pub enum Cache<'a> {
    /// A volume cache (`-cache-dir`).
    Volume(VolumeCache),
    /// A cache image (`-cache-image`) read from `store`; `None` when it does not exist.
    Image {
        /// The store holding it (a registry).
        store: &'a dyn ImageStore,
        /// The cache image.
        image: Option<Box<StoredImage>>,
    },
}

impl Cache<'_> {
    /// The cache's metadata: empty for a new cache, and (as in the reference) for
    /// metadata that cannot be parsed.
    pub fn metadata(&self, logger: &Logger) -> Result<CacheMetadata, RestoreError> {
        match self {
            Cache::Volume(volume) => match volume.metadata() {
                Ok(metadata) => Ok(metadata),
                Err(VolumeCacheError::Metadata { .. }) => Ok(CacheMetadata::default()),
                Err(err) => Err(RestoreError::CacheMetadata(Box::new(err))),
            },
            Cache::Image { image: None, .. } => {
                logger.info("Layer cache not found");
                Ok(CacheMetadata::default())
            }
            Cache::Image {
                image: Some(image), ..
            } => Ok(image
                .image
                .config
                .label(CACHE_METADATA)
                .and_then(|label| CacheMetadata::parse(label).ok())
                .unwrap_or_default()),
        }
    }
}

/// Why the restore failed (exit code 42 at the command's edge).
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    /// The cache's metadata cannot be read.
    #[error("retrieving cache metadata: {0}")]
    CacheMetadata(Box<dyn std::error::Error + Send + Sync>),
    /// A file could not be read, written or removed.
    #[error("{action} {}: {cause}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        cause: io::Error,
    },
    /// A metadata file could not be encoded.
    #[error("encoding {}: {cause}", path.display())]
    Encode {
        /// The file.
        path: PathBuf,
        /// Why.
        cause: buildpack_api::gotoml::Error,
    },
    /// A cached layer could not be extracted (an entry was refused or could not be
    /// written); what it wrote was removed.
    #[error("restoring layer {identifier}: {cause}")]
    Extract {
        /// `<bp>:<layer>`.
        identifier: String,
        /// Why.
        cause: ExtractError,
    },
    /// A cached layer could not be read from the cache (other than missing or
    /// corrupted, which are warnings).
    #[error("restoring layer {identifier}: {cause}")]
    Cache {
        /// `<bp>:<layer>`, or `SBOM`.
        identifier: String,
        /// Why.
        cause: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl RestoreError {
    /// An I/O error on `path`.
    fn io(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> RestoreError {
        let path = path.to_path_buf();
        move |cause| RestoreError::Io {
            action,
            path,
            cause,
        }
    }
}

/// Restores store.toml, layer metadata, cached layer contents and per-layer SBOMs for
/// the buildpacks of `inputs` from the previous image's metadata and `cache` (none:
/// only what the previous image's metadata gives).
pub fn restore(
    inputs: &RestoreInputs,
    cache: Option<&Cache>,
    logger: &Logger,
) -> Result<(), RestoreError> {
    let cache_metadata = match cache {
        Some(cache) => cache.metadata(logger)?,
        None => {
            logger.debug("Usable cache not provided, using empty cache metadata");
            CacheMetadata::default()
        }
    };
    metadata::restore_stores(inputs)?;
    if inputs.skip_layers {
        logger.info("Skipping buildpack layer analysis");
        return Ok(());
    }
    logger.debug("Restoring Layer Metadata");
    let written = metadata::restore_layer_metadata(inputs, &cache_metadata, logger)?;
    let plan = cache::plan(inputs, &cache_metadata, &written, logger)?;
    let sbom_sha = (inputs.platform_api >= ApiVersion::new(0, 8))
        .then(|| cache_metadata.sbom.sha.clone())
        .filter(|sha| !sha.is_empty() && cache.is_some());
    let removed = cache::run(inputs, cache, plan, sbom_sha.as_deref(), logger)?;
    if inputs.platform_api >= ApiVersion::new(0, 8) {
        sbom::copy_to_buildpack_layers(inputs, &removed)?;
    }
    Ok(())
}

/// Removes a layer: its directory, `<layer>.sha` and `<layer>.toml`.
pub(crate) fn remove_layer(layer_dir: &Path) -> Result<(), RestoreError> {
    remove_dir(layer_dir)?;
    for ext in ["sha", "toml"] {
        let path = sibling(layer_dir, ext);
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                return Err(RestoreError::io("remove", &path)(e));
            }
            _ => {}
        }
    }
    Ok(())
}

/// Removes `dir` and everything in it, if it exists.
pub(crate) fn remove_dir(dir: &Path) -> Result<(), RestoreError> {
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(RestoreError::io("remove", dir)(e)),
        _ => Ok(()),
    }
}

/// `<layer_dir>.<ext>` (layer names may contain dots, so not `with_extension`).
pub(crate) fn sibling(layer_dir: &Path, ext: &str) -> PathBuf {
    let mut name = layer_dir.as_os_str().to_owned();
    name.push(".");
    name.push(ext);
    PathBuf::from(name)
}

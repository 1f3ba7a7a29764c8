//! The cache step of the exporter: every `cache = true` layer (and the cache SBOM
//! layer) stored in the volume cache or the cache image, reusing what is unchanged.

use buildpack_api::api::ApiVersion;
use platform_api::labels::{BuildpackLayersMetadata, CACHE_METADATA, CacheMetadata, LayerMetadata};

use super::produce::{Forms, Maker, Memo};
use super::{ExportError, ExportInputs};
use crate::cache::volume::VolumeCache;
use crate::image::oci::MediaFamily;
use crate::image::{History, Image, ImageConfig, ImageStore, Layer, LayerData, NORMALIZED_TIME};
use crate::layer::{LayerSource, Owner};
use crate::log::Logger;
use crate::unchanged::{IndexedLayer, LayerIndex};

const CACHE_SBOM_ID: &str = "buildpacksio/lifecycle:cache.sbom";

/// Where cache layers go.
pub enum CacheTarget<'a> {
    /// A volume cache directory (`-cache-dir`).
    Volume(VolumeCache),
    /// An image in a registry (`-cache-image`).
    Image {
        /// The registry store.
        store: &'a dyn ImageStore,
        /// The cache image name.
        name: String,
    },
}

impl std::fmt::Debug for CacheTarget<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Volume(v) => write!(f, "Volume({})", v.dir().display()),
            Self::Image { name, .. } => write!(f, "Image({name})"),
        }
    }
}

/// A cache being filled: the volume's staging area, or the new cache image.
enum Sink<'a> {
    Volume(VolumeCache),
    Image {
        store: &'a dyn ImageStore,
        name: String,
        previous: Option<Box<Image>>,
        image: Box<Image>,
    },
}

impl Sink<'_> {
    /// Stores the layer made by `source`, reusing the previous cache's when its diff
    /// ID is `previous_sha` (proven by `indexed`'s fingerprint when it can be, else
    /// hashed); returns the diff ID.
    fn add_or_reuse(
        &mut self,
        maker: &Maker<'_>,
        id: &str,
        source: &LayerSource,
        indexed: Option<&IndexedLayer>,
        previous_sha: &str,
        created_by: &str,
    ) -> Result<String, ExportError> {
        let logger = maker.logger;
        let volume = matches!(self, Sink::Volume(_));
        let diff_id = if previous_sha.is_empty() {
            None
        } else {
            Some(maker.diff_id(id, source, indexed)?)
        };
        if let Some(diff_id) = diff_id.as_deref().filter(|d| *d == previous_sha) {
            match self {
                Sink::Volume(cache) => match cache.reuse_layer(diff_id) {
                    Ok(()) => {
                        logger.info(format!("Reusing cache layer '{id}'\n"));
                        logger.debug(format!("Layer '{id}' SHA: {diff_id}\n"));
                        return Ok(diff_id.to_string());
                    }
                    Err(e) if e.is_read_error() => {
                        logger.warn(format!("Skipping reuse for layer {id}: {e}"));
                    }
                    Err(e) => {
                        return Err(ExportError::File {
                            context: format!("verifying layer '{id}'"),
                            message: e.to_string(),
                        });
                    }
                },
                Sink::Image {
                    previous, image, ..
                } => {
                    if let Some(layer) = previous.as_ref().and_then(|p| p.layer(diff_id)) {
                        logger.info(format!("Reusing cache layer '{id}'\n"));
                        logger.debug(format!("Layer '{id}' SHA: {diff_id}\n"));
                        image.push_layer(layer.clone(), History::new(NORMALIZED_TIME, created_by));
                        return Ok(diff_id.to_string());
                    }
                }
            }
        }
        logger.info(format!("Adding cache layer '{id}'\n"));
        let forms = Forms {
            gzip: !volume,
            tar: volume,
        };
        let produced = maker.produce(id, source, forms, indexed)?;
        logger.debug(format!("Layer '{id}' SHA: {}\n", produced.diff_id));
        match self {
            Sink::Volume(cache) => {
                let tar = produced.tar.as_ref().expect("tar made");
                cache
                    .add_layer(tar, &produced.diff_id)
                    .map_err(|e| ExportError::File {
                        context: format!("caching layer '{id}'"),
                        message: e.to_string(),
                    })?;
            }
            Sink::Image { image, .. } => {
                let layer = produced.layer(image.family, false).expect("gzip made");
                image.push_layer(layer, History::new(NORMALIZED_TIME, created_by));
            }
        }
        Ok(produced.diff_id)
    }
}

/// Stores the cache layers of the build.
pub fn export_cache(
    inputs: &ExportInputs,
    target: CacheTarget<'_>,
    memo: &Memo,
    logger: &Logger,
) -> Result<(), ExportError> {
    let (mut sink, orig) = match target {
        CacheTarget::Volume(cache) => {
            // Unreadable metadata means no previous cache, as in the reference.
            let orig = cache.metadata().unwrap_or_else(|e| {
                logger.debug(format!("Ignoring the previous cache metadata: {e}"));
                CacheMetadata::default()
            });
            let stamps = LayerIndex::new(&inputs.layers_dir).cache_stamps();
            (Sink::Volume(cache.with_stamps(stamps)), orig)
        }
        CacheTarget::Image { store, name } => {
            let mut previous = store
                .read(&name)
                .map_err(|e| ExportError::store("reading previous cache image", e))?;
            match &previous {
                None => logger.info("Layer cache not found"),
                // A cache image with missing blobs cannot lend them: start afresh.
                Some(p) if !store.layers_present(p).unwrap_or(false) => {
                    logger.info(format!(
                        "Ignoring cache image {name:?} because it was corrupt"
                    ));
                    previous = None;
                }
                Some(_) => {}
            }
            let orig = previous
                .as_ref()
                .and_then(|p| p.image.config.label(CACHE_METADATA))
                .and_then(|l| CacheMetadata::parse(l).ok())
                .unwrap_or_default();
            let family = previous
                .as_ref()
                .map_or(MediaFamily::Oci, |p| p.image.family);
            let config = ImageConfig {
                os: "linux".into(),
                architecture: crate::target::host_arch().into(),
                ..ImageConfig::default()
            };
            let sink = Sink::Image {
                store,
                name,
                previous: previous.map(|p| Box::new(p.image)),
                image: Box::new(Image::new(family, config, Vec::new())),
            };
            (sink, orig)
        }
    };

    let owner = Owner {
        uid: inputs.uid,
        gid: inputs.gid,
    };
    let maker = Maker {
        work_dir: &inputs.work_dir,
        memo,
        upload: None,
        logger,
    };
    let index = LayerIndex::new(&inputs.layers_dir);
    let mut meta = CacheMetadata::default();
    for bp in &inputs.group {
        let dir = super::layers::read_layers_dir(inputs, &bp.id)?;
        let mut bp_meta = BuildpackLayersMetadata {
            id: bp.id.clone(),
            version: bp.version.clone(),
            ..Default::default()
        };
        for layer in &dir.layers {
            let record = match layer.read() {
                Ok(record) if record.content.types.cache => record,
                // Malformed metadata fails the image export, not here (as the reference).
                Ok(_) | Err(_) => continue,
            };
            if !layer.has_contents() {
                logger.warn(format!(
                    "Failed to cache layer '{}' because it has no contents",
                    layer.identifier
                ));
                continue;
            }
            let previous_sha = orig
                .for_buildpack(&bp.id)
                .and_then(|b| b.layers.get(&layer.name))
                .map(|l| l.sha.clone())
                .unwrap_or_default();
            let created_by = format!(
                "Layer: '{}', Created by buildpack: {}@{}",
                layer.name, bp.id, bp.version
            );
            let source = LayerSource::dir(&layer.path, owner).map_err(|e| ExportError::Layer {
                id: layer.identifier.clone(),
                message: e.to_string(),
            });
            let indexed = index.layer(&layer.path, owner, &bp.id, &layer.name);
            match source.and_then(|source| {
                sink.add_or_reuse(
                    &maker,
                    &layer.identifier,
                    &source,
                    Some(&indexed),
                    &previous_sha,
                    &created_by,
                )
            }) {
                Ok(sha) => {
                    bp_meta
                        .layers
                        .insert(layer.name.clone(), record.to_label(&sha));
                }
                Err(e) => logger.warn(format!("Failed to cache layer '{}': {e}", layer.identifier)),
            }
        }
        meta.buildpacks.push(bp_meta);
    }

    let sbom_dir = inputs.layers_dir.join("sbom/cache");
    if inputs.platform_api >= ApiVersion::new(0, 8) && sbom_dir.is_dir() {
        logger.debug(format!(
            "Found SBOM of type cache for at {}",
            sbom_dir.display()
        ));
        let sha = sink.add_or_reuse(
            &maker,
            CACHE_SBOM_ID,
            &LayerSource::dir(&sbom_dir, owner).map_err(|e| ExportError::Layer {
                id: CACHE_SBOM_ID.into(),
                message: e.to_string(),
            })?,
            None,
            &orig.sbom.sha,
            "Software Bill-of-Materials",
        )?;
        meta.sbom = LayerMetadata { sha };
    }

    match sink {
        Sink::Volume(cache) => cache.commit(Some(&meta)).map_err(|e| ExportError::File {
            context: "committing cache".into(),
            message: e.to_string(),
        }),
        Sink::Image {
            store,
            name,
            mut image,
            ..
        } => {
            if image.layers.is_empty() {
                image.push_layer(
                    empty_layer(&inputs.work_dir)?,
                    History::new(NORMALIZED_TIME, ""),
                );
            }
            let label = meta.to_json().map_err(|e| ExportError::File {
                context: "setting cache metadata".into(),
                message: e.to_string(),
            })?;
            image
                .config
                .config
                .labels
                .insert(CACHE_METADATA.to_string(), label);
            image.set_created(NORMALIZED_TIME, false);
            let saved = store
                .save(&image, std::slice::from_ref(&name))
                .map_err(|e| ExportError::store("saving cache image", e))?;
            match saved.failed.into_iter().next() {
                Some((_, cause)) => Err(ExportError::File {
                    context: format!("saving cache image {name}"),
                    message: cause,
                }),
                None => Ok(()),
            }
        }
    }
}

/// The layer an otherwise empty cache image gets: an empty tar archive (1024 zero
/// bytes), since some registries refuse images without layers.
fn empty_layer(work_dir: &std::path::Path) -> Result<Layer, ExportError> {
    use std::io::Write;
    let tar = [0u8; 1024];
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&tar).expect("write to memory");
    let blob = gz.finish().expect("write to memory");
    let digest = crate::image::model::sha256_digest(&blob);
    let path = work_dir.join("empty-layer.tar.gz");
    std::fs::write(&path, &blob).map_err(|e| ExportError::io("write", &path, e))?;
    Ok(Layer {
        diff_id: crate::image::model::sha256_digest(&tar),
        blob: Some(crate::image::oci::Descriptor::new(
            crate::image::oci::OCI_LAYER_GZIP,
            &digest,
            blob.len() as u64,
        )),
        data: LayerData::BlobFile(path),
    })
}

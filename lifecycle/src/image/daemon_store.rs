//! Images in the Docker daemon: read by inspecting them, saved by streaming a
//! `docker load` archive of uncompressed layer tars. Layers the daemon already has as
//! part of the same chain (the run image's, an unchanged prefix of the previous
//! image's) are sent as empty placeholders, as the reference does with the classic
//! store; other reused layers come from the launch cache or, failing that, from
//! `docker save` of the image that has them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::layer_stream::LayerStream;
use super::model::{Image, Layer, LayerData, Origin, Saved};
use super::oci::MediaFamily;
use super::store::{ImageStore, LayerFormat, StoreError, StoredImage};
use crate::cache::volume::VolumeCache;
use crate::daemon::{ArchiveLayer, Daemon, DaemonError, LoadArchive, read_saved};

/// The Docker daemon as an image store.
pub struct DaemonStore {
    daemon: Daemon,
    /// Where layers fetched with `docker save` are kept while saving.
    work_dir: PathBuf,
    /// `-launch-cache`: tars of the layers of images saved here, by diff ID.
    launch_cache: Mutex<Option<VolumeCache>>,
    /// Diff ID chains of the images read, which the daemon therefore has.
    chains: Mutex<Vec<Vec<String>>>,
}

impl std::fmt::Debug for DaemonStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DaemonStore({})", self.daemon.host())
    }
}

fn daemon_error(e: DaemonError) -> StoreError {
    StoreError::Daemon(Box::new(e))
}

/// `name` as `docker load` wants a repo tag: with `:latest` when it has no tag.
fn repo_tag(name: &str) -> Option<String> {
    if name.contains('@') {
        return None;
    }
    let last = name.rsplit('/').next().unwrap_or(name);
    Some(if last.contains(':') {
        name.to_string()
    } else {
        format!("{name}:latest")
    })
}

/// An image ID without its `sha256:` prefix.
fn bare_id(id: &str) -> &str {
    id.strip_prefix("sha256:").unwrap_or(id)
}

/// Length of the longest prefix of `ids` that is also a prefix of one of `chains`.
fn shared_prefix(ids: &[String], chains: &[Vec<String>]) -> usize {
    chains
        .iter()
        .map(|c| c.iter().zip(ids).take_while(|(a, b)| a == b).count())
        .max()
        .unwrap_or(0)
}

impl DaemonStore {
    /// A store over `daemon`, fetching layers into `work_dir` when needed and keeping
    /// the layers of saved images in `launch_cache`.
    pub fn new(daemon: Daemon, work_dir: &Path, launch_cache: Option<VolumeCache>) -> Self {
        Self {
            daemon,
            work_dir: work_dir.to_path_buf(),
            launch_cache: Mutex::new(launch_cache),
            chains: Mutex::new(Vec::new()),
        }
    }

    /// Tars for the layers of `wanted` (diff IDs) kept in the launch cache, or else
    /// fetched with `docker save` of the images in `sources`.
    fn fetch_layers(
        &self,
        wanted: &BTreeSet<String>,
        sources: &BTreeSet<String>,
    ) -> Result<BTreeMap<String, PathBuf>, StoreError> {
        let mut found = BTreeMap::new();
        if let Some(cache) = self.launch_cache.lock().expect("launch cache").as_ref() {
            for diff_id in wanted {
                if cache.verify_layer(diff_id).is_ok() {
                    let path = cache
                        .layer_path(diff_id)
                        .map_err(|e| StoreError::Invalid(e.to_string()))?;
                    found.insert(diff_id.clone(), path);
                }
            }
        }
        let missing: BTreeSet<&String> =
            wanted.iter().filter(|d| !found.contains_key(*d)).collect();
        if missing.is_empty() {
            return Ok(found);
        }
        let dest = self.work_dir.join("saved");
        std::fs::create_dir_all(&dest).map_err(|e| StoreError::io("create", &dest, e))?;
        let names: Vec<&str> = sources.iter().map(String::as_str).collect();
        let stream = self.daemon.save(&names).map_err(daemon_error)?;
        let saved = read_saved(stream, &dest, |d| missing.contains(&d.to_string()))
            .map_err(|e| daemon_error(e.into()))?;
        for diff_id in missing {
            let path = saved
                .layers
                .get(diff_id)
                .ok_or_else(|| StoreError::Invalid(format!("the daemon has no layer {diff_id}")))?;
            found.insert(diff_id.clone(), path.clone());
        }
        Ok(found)
    }

    /// The archive's layers: new tars as they are, stored layers as placeholders below
    /// `placeholders`, else as tars from `fetched`.
    fn archive_layers(
        image: &Image,
        placeholders: usize,
        fetched: &BTreeMap<String, PathBuf>,
    ) -> Result<Vec<ArchiveLayer>, StoreError> {
        image
            .layers
            .iter()
            .enumerate()
            .map(|(i, layer)| match &layer.data {
                LayerData::TarFile(path) => Ok(ArchiveLayer::Tar(path.clone())),
                LayerData::Stored(origin) if matches!(origin.as_ref(), Origin::Daemon(_)) => {
                    if i < placeholders {
                        Ok(ArchiveLayer::Placeholder)
                    } else {
                        Ok(ArchiveLayer::Tar(fetched[&layer.diff_id].clone()))
                    }
                }
                other => Err(StoreError::Unsupported(format!(
                    "cannot load layer {} into the Docker daemon from {other:?}",
                    layer.diff_id
                ))),
            })
            .collect()
    }

    /// Stored layers at or above `from`, and the images they come from.
    fn stored_from(image: &Image, from: usize) -> (BTreeSet<String>, BTreeSet<String>) {
        let mut wanted = BTreeSet::new();
        let mut sources = BTreeSet::new();
        for layer in &image.layers[from.min(image.layers.len())..] {
            if let LayerData::Stored(origin) = &layer.data
                && let Origin::Daemon(id) = origin.as_ref()
            {
                wanted.insert(layer.diff_id.clone());
                sources.insert(id.clone());
            }
        }
        (wanted, sources)
    }

    fn load(&self, image: &Image, repo_tags: Vec<String>) -> Result<String, StoreError> {
        let config = image.config.to_bytes();
        let containerd = self.daemon.uses_containerd_store().map_err(daemon_error)?;
        let placeholders = if containerd {
            0
        } else {
            shared_prefix(
                &image.config.rootfs.diff_ids,
                &self.chains.lock().expect("chains"),
            )
        };
        let (wanted, sources) = Self::stored_from(image, placeholders);
        let fetched = self.fetch_layers(&wanted, &sources)?;
        let layers = Self::archive_layers(image, placeholders, &fetched)?;
        let archive = LoadArchive::new(config.clone(), repo_tags.clone(), layers)
            .map_err(|e| daemon_error(e.into()))?;
        match self.daemon.load_image(&archive) {
            Err(DaemonError::MissingLayers { .. }) => {
                // The daemon lacks a chain it was thought to have: send every layer.
                let (wanted, sources) = Self::stored_from(image, 0);
                let fetched = self.fetch_layers(&wanted, &sources)?;
                let layers = Self::archive_layers(image, 0, &fetched)?;
                let archive = LoadArchive::new(config, repo_tags, layers)
                    .map_err(|e| daemon_error(e.into()))?;
                self.daemon.load_image(&archive).map_err(daemon_error)
            }
            other => other.map_err(daemon_error),
        }
    }

    /// Keeps the tars of the new layers in the launch cache, for the next export.
    fn fill_launch_cache(&self, image: &Image) -> Result<(), StoreError> {
        let Some(cache) = self.launch_cache.lock().expect("launch cache").take() else {
            return Ok(());
        };
        for layer in &image.layers {
            if let LayerData::TarFile(path) = &layer.data {
                cache
                    .add_layer(path, &layer.diff_id)
                    .map_err(|e| StoreError::Invalid(format!("launch cache: {e}")))?;
            } else if cache.has_layer(&layer.diff_id).unwrap_or(false) {
                let _ = cache.reuse_layer(&layer.diff_id);
            }
        }
        cache
            .commit(None)
            .map_err(|e| StoreError::Invalid(format!("launch cache: {e}")))
    }
}

impl ImageStore for DaemonStore {
    fn read(&self, name: &str) -> Result<Option<StoredImage>, StoreError> {
        let Some(inspect) = self.daemon.inspect_image(name).map_err(daemon_error)? else {
            return Ok(None);
        };
        let config = inspect.image_config();
        let origin = Arc::new(Origin::Daemon(inspect.id.clone()));
        let layers = config
            .rootfs
            .diff_ids
            .iter()
            .map(|diff_id| Layer {
                diff_id: diff_id.clone(),
                blob: None,
                data: LayerData::Stored(origin.clone()),
            })
            .collect();
        self.chains
            .lock()
            .expect("chains")
            .push(config.rootfs.diff_ids.clone());
        Ok(Some(StoredImage {
            image: Image::new(MediaFamily::Docker, config, layers),
            // The reference records daemon images by the bare hex of their ID.
            identifier: bare_id(&inspect.id).to_string(),
        }))
    }

    fn open_layer(&self, image: &StoredImage, diff_id: &str) -> Result<LayerStream, StoreError> {
        let (wanted, sources) = Self::stored_from(&image.image, 0);
        if !wanted.contains(diff_id) {
            return Err(StoreError::Invalid(format!(
                "the image has no layer {diff_id} in the Docker daemon"
            )));
        }
        let wanted = BTreeSet::from([diff_id.to_string()]);
        let path = self
            .fetch_layers(&wanted, &sources)?
            .remove(diff_id)
            .ok_or_else(|| StoreError::Invalid(format!("the daemon has no layer {diff_id}")))?;
        let file = std::fs::File::open(&path).map_err(|e| StoreError::io("open", &path, e))?;
        LayerStream::new(file, diff_id).map_err(|e| StoreError::io("read", &path, e))
    }

    fn layer_format(&self) -> LayerFormat {
        LayerFormat::Tar
    }

    fn save(&self, image: &Image, names: &[String]) -> Result<Saved, StoreError> {
        let mut saved = Saved::default();
        let mut repo_tags = Vec::new();
        for name in names {
            match repo_tag(name) {
                Some(tag) => {
                    repo_tags.push(tag);
                    saved.saved.push(name.clone());
                }
                None => saved
                    .failed
                    .push((name.clone(), format!("cannot tag an image as {name}"))),
            }
        }
        let id = self.load(image, repo_tags)?;
        self.fill_launch_cache(image)?;
        saved.image_id = Some(bare_id(&id).to_string());
        Ok(saved)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repo_tags_get_latest() {
        assert_eq!(repo_tag("app").as_deref(), Some("app:latest"));
        assert_eq!(repo_tag("app:v1").as_deref(), Some("app:v1"));
        assert_eq!(
            repo_tag("127.0.0.1:5000/app").as_deref(),
            Some("127.0.0.1:5000/app:latest")
        );
        assert_eq!(repo_tag("app@sha256:abc"), None);
    }

    #[test]
    fn placeholders_cover_a_shared_chain_prefix() {
        let ids = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let image = ids(&["a", "b", "c", "d"]);
        assert_eq!(
            shared_prefix(&image, &[ids(&["a", "b"]), ids(&["a", "b", "x", "d"])]),
            2
        );
        assert_eq!(shared_prefix(&image, &[ids(&["a", "b", "c", "d", "e"])]), 4);
        assert_eq!(shared_prefix(&image, &[ids(&["x"])]), 0);
        assert_eq!(shared_prefix(&image, &[]), 0);
    }
}

//! The exporter's use of the layer pipeline: which forms a layer is made in, each layer
//! made at most once per export even when the image and the cache step both need it.
//!
//! A buildpack layer comes with its place in the [`LayerIndex`](crate::unchanged):
//! when its fingerprint proves it unchanged since its diffID was recorded (by the
//! restorer, or by an earlier export hashing it), that diffID is used without reading
//! the layer; when it is hashed, its fingerprint is recorded for the next build.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use super::ExportError;
use crate::image::oci::{Descriptor, MediaFamily, OCI_LAYER_GZIP};
use crate::image::{ImageStore, Layer, LayerData};
use crate::layer::{self, LayerOutputs, LayerSource};
use crate::log::Logger;
use crate::unchanged::IndexedLayer;

/// The forms a layer is wanted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Forms {
    /// A gzip blob (registry, layout, image cache).
    pub gzip: bool,
    /// An uncompressed tar (daemon, volume cache).
    pub tar: bool,
}

/// A layer made by the pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Produced {
    /// Diff ID.
    pub diff_id: String,
    /// The gzip blob, when made.
    pub gzip: Option<Layer>,
    /// The uncompressed tar, when made.
    pub tar: Option<PathBuf>,
}

impl Produced {
    /// The layer in the form a store wants, with the blob media type of `family`.
    pub fn layer(&self, family: MediaFamily, want_tar: bool) -> Option<Layer> {
        if want_tar {
            return self.tar.as_ref().map(|path| Layer {
                diff_id: self.diff_id.clone(),
                blob: None,
                data: LayerData::TarFile(path.clone()),
            });
        }
        self.gzip.clone().map(|mut l| {
            if let Some(blob) = &mut l.blob {
                blob.media_type = family.gzip_layer().to_string();
            }
            l
        })
    }
}

type Slot<T> = Arc<OnceLock<Result<T, String>>>;

/// Layers made in this export, by identifier, shared by the image and the cache step
/// (which may run at the same time: the second asker waits for the first).
#[derive(Default)]
pub struct Memo {
    produced: Mutex<HashMap<String, Slot<Produced>>>,
    hashed: Mutex<HashMap<String, Slot<String>>>,
    /// Numbers the tar files, so no two layers share one.
    files: std::sync::atomic::AtomicUsize,
}

impl std::fmt::Debug for Maker<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Maker")
            .field("work_dir", &self.work_dir)
            .finish()
    }
}

impl std::fmt::Debug for Memo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Memo")
    }
}

fn slot<T>(map: &Mutex<HashMap<String, Slot<T>>>, id: &str) -> Slot<T> {
    map.lock()
        .expect("memo lock")
        .entry(id.to_string())
        .or_default()
        .clone()
}

fn layer_error(id: &str) -> impl Fn(String) -> ExportError + '_ {
    move |message| ExportError::Layer {
        id: id.to_string(),
        message,
    }
}

/// Makes layers into a scratch directory, remembering what it made.
pub struct Maker<'a> {
    /// Scratch directory for blobs and tars.
    pub work_dir: &'a Path,
    /// Shared results.
    pub memo: &'a Memo,
    /// The store and names new blobs may be sent to while they are made.
    pub upload: Option<(&'a dyn ImageStore, &'a [String])>,
    /// Where layers proven unchanged are told.
    pub logger: &'a Logger,
}

impl Maker<'_> {
    /// The diff ID of a layer, without writing it anywhere: the one recorded in the
    /// layer index when `indexed` is given and proven unchanged (nothing is read), else
    /// its hash (then recorded in the index).
    pub fn diff_id(
        &self,
        id: &str,
        source: &LayerSource,
        indexed: Option<&IndexedLayer>,
    ) -> Result<String, ExportError> {
        if let Some(Ok(made)) = slot(&self.memo.produced, id).get() {
            return Ok(made.diff_id.clone());
        }
        slot(&self.memo.hashed, id)
            .get_or_init(|| {
                if let Some(diff_id) = indexed.and_then(IndexedLayer::unchanged_diff_id) {
                    self.logger.debug(format!(
                        "Layer '{id}' proven unchanged by its file index: {diff_id} (not read)"
                    ));
                    return Ok(diff_id);
                }
                self.recording(id, indexed, || layer::diff_id(source), String::as_str)
                    .map_err(|e| e.to_string())
            })
            .clone()
            .map_err(layer_error(id))
    }

    /// Runs `hash` (which reads the layer of `indexed`), recording the layer's
    /// fingerprint with the diff ID `diff_id` finds in its result. Recording is best
    /// effort: a failure is only logged.
    fn recording<T, E>(
        &self,
        id: &str,
        indexed: Option<&IndexedLayer>,
        hash: impl FnOnce() -> Result<T, E>,
        diff_id: impl FnOnce(&T) -> &str,
    ) -> Result<T, E> {
        let Some(indexed) = indexed else {
            return hash();
        };
        let before = indexed.before_hashing();
        let hashed = hash()?;
        if let Some(fingerprint) = before {
            match indexed.save(&fingerprint, diff_id(&hashed)) {
                Ok(true) => self
                    .logger
                    .debug(format!("Layer '{id}': file index recorded")),
                Ok(false) => {}
                Err(e) => self
                    .logger
                    .debug(format!("Layer '{id}': file index not recorded: {e}")),
            }
        }
        Ok(hashed)
    }

    /// Makes a layer in (at least) `forms`; a layer already made in those forms is
    /// not made again. The fingerprint of `indexed` is recorded with its diff ID.
    pub fn produce(
        &self,
        id: &str,
        source: &LayerSource,
        forms: Forms,
        indexed: Option<&IndexedLayer>,
    ) -> Result<Produced, ExportError> {
        let make = |id: &str| {
            let made = || self.make(id, source, forms);
            self.recording(id, indexed, made, |p: &Produced| p.diff_id.as_str())
        };
        let made = slot(&self.memo.produced, id)
            .get_or_init(|| make(id))
            .clone()
            .map_err(layer_error(id))?;
        if (!forms.gzip || made.gzip.is_some()) && (!forms.tar || made.tar.is_some()) {
            return Ok(made);
        }
        // Another form than the first asker's: made separately.
        let suffix = if forms.tar { "-tar" } else { "-gzip" };
        make(&format!("{id}{suffix}")).map_err(layer_error(id))
    }

    fn make(&self, id: &str, source: &LayerSource, forms: Forms) -> Result<Produced, String> {
        let n = self
            .memo
            .files
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let stem = format!("{n}-{}", id.replace('/', "_"));
        let tar = forms.tar.then(|| self.work_dir.join(format!("{stem}.tar")));
        let blob_dir = self.work_dir.join("blobs");
        if forms.gzip {
            std::fs::create_dir_all(&blob_dir).map_err(|e| e.to_string())?;
        }
        let outputs = LayerOutputs {
            blob_dir: forms.gzip.then_some(blob_dir),
            tar_file: tar.clone(),
            ..LayerOutputs::default()
        };
        let tee = match self.upload {
            Some((store, names)) if forms.gzip => store.early_upload(names),
            _ => None,
        };
        let made = layer::write_layer_teeing(source, &outputs, tee).map_err(|e| e.to_string())?;
        Ok(Produced {
            gzip: made.blob.map(|blob| Layer {
                diff_id: made.diff_id.clone(),
                blob: Some(Descriptor::new(OCI_LAYER_GZIP, &blob.digest, blob.size)),
                data: LayerData::BlobFile(blob.path),
            }),
            tar,
            diff_id: made.diff_id,
        })
    }
}

//! The exporter's use of the layer pipeline: which forms a layer is made in, each layer
//! made at most once per export even when the image and the cache step both need it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use super::ExportError;
use crate::image::oci::{Descriptor, MediaFamily, OCI_LAYER_GZIP};
use crate::image::{ImageStore, Layer, LayerData};
use crate::layer::{self, LayerOutputs, LayerSource};

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
}

impl Maker<'_> {
    /// The diff ID of a layer, without writing it anywhere.
    pub fn diff_id(&self, id: &str, source: &LayerSource) -> Result<String, ExportError> {
        if let Some(Ok(made)) = slot(&self.memo.produced, id).get() {
            return Ok(made.diff_id.clone());
        }
        slot(&self.memo.hashed, id)
            .get_or_init(|| layer::diff_id(source).map_err(|e| e.to_string()))
            .clone()
            .map_err(layer_error(id))
    }

    /// Makes a layer in (at least) `forms`; a layer already made in those forms is
    /// not made again.
    pub fn produce(
        &self,
        id: &str,
        source: &LayerSource,
        forms: Forms,
    ) -> Result<Produced, ExportError> {
        let made = slot(&self.memo.produced, id)
            .get_or_init(|| self.make(id, source, forms))
            .clone()
            .map_err(layer_error(id))?;
        if (!forms.gzip || made.gzip.is_some()) && (!forms.tar || made.tar.is_some()) {
            return Ok(made);
        }
        // Another form than the first asker's: made separately.
        let suffix = if forms.tar { "-tar" } else { "-gzip" };
        self.make(&format!("{id}{suffix}"), source, forms)
            .map_err(layer_error(id))
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

//! Buildpack layers proven unchanged without reading them: when the restorer puts a
//! layer back (or the exporter hashes one), it saves a [`Fingerprint`] of the layer
//! directory with its diffID under `<layers>/.fingerprints/`; the exporter and the cache
//! step then take a fresh fingerprint and, when nothing differs, use the saved diffID
//! instead of tarring and hashing the layer. Anything that differs, or a fingerprint
//! that is missing or damaged, means hashing as usual.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::layer::fingerprint::Fingerprint;
use crate::layer::{self, LayerError, LayerSource, Owner};

/// The directory below `<layers>` holding the fingerprints.
const DIR: &str = ".fingerprints";
/// The directory below [`DIR`] holding the volume cache's verification stamps (no
/// buildpack ID starts with a dot).
const STAMPS: &str = ".cache-verified";
/// How long to wait for freshly written files' change times to settle (a clock tick;
/// two seconds on file systems that keep whole seconds).
const SETTLE: Duration = Duration::from_millis(2100);
/// How long the exporter waits for a layer's change times to settle before hashing it:
/// a clock tick at most. Layers on file systems keeping whole seconds, written in the
/// last two seconds, are hashed without being recorded rather than delaying the export.
const SETTLE_BEFORE_HASHING: Duration = Duration::from_millis(50);

/// The fingerprints of one build's `<layers>` directory.
#[derive(Debug, Clone)]
pub struct LayerIndex {
    dir: PathBuf,
}

impl LayerIndex {
    /// The fingerprints kept for `layers_dir`.
    pub fn new(layers_dir: &Path) -> Self {
        Self {
            dir: layers_dir.join(DIR),
        }
    }

    /// Where this build keeps the volume cache's verification stamps (see
    /// [`VolumeCache::with_stamps`](crate::cache::volume::VolumeCache::with_stamps)):
    /// the restorer and the exporter of one build share them through `<layers>`.
    pub fn cache_stamps(&self) -> PathBuf {
        self.dir.join(STAMPS)
    }

    /// Where the fingerprint of layer `name` of buildpack `buildpack_id` is kept.
    pub fn path(&self, buildpack_id: &str, name: &str) -> PathBuf {
        self.dir
            .join(buildpack_id.replace('/', "_"))
            .join(format!("{name}.fp"))
    }

    /// The layer `layer_dir` (layer `name` of `buildpack_id`, tarred with `owner`) with
    /// the place of its fingerprint in this index.
    pub fn layer(
        &self,
        layer_dir: &Path,
        owner: Owner,
        buildpack_id: &str,
        name: &str,
    ) -> IndexedLayer {
        IndexedLayer {
            dir: layer_dir.to_path_buf(),
            owner,
            saved: self.path(buildpack_id, name),
        }
    }

    /// Records that `layer_dir`, just extracted by [`crate::layer::extract::extract`]
    /// from a tar whose digest was then verified to be `diff_id` (the caller checks that
    /// first) and whose skeleton digest the extraction reported as `skeleton`, is the
    /// layer `diff_id`; otherwise removes any older record. Returns whether it was
    /// recorded.
    ///
    /// Why this is sound without reading the files again: the extraction wrote every
    /// regular file's content from the tar's bytes; the fingerprint, taken after the
    /// extraction (nothing but the restorer writes the layer in between) and saved only
    /// if nothing changed while the skeleton was computed, shows the directory is as
    /// extracted; and equal skeleton digests show the exporter's writer (with `owner`)
    /// emits the same headers, order, padding and end for this directory as the tar
    /// holds. Together: the tar of the directory is the verified tar, byte for byte. A
    /// tar in another format (another writer, hard links, other parents) gives another
    /// skeleton and is simply not recorded.
    pub fn record(
        &self,
        layer_dir: &Path,
        owner: Owner,
        buildpack_id: &str,
        name: &str,
        diff_id: &str,
        skeleton: &str,
    ) -> Result<bool, LayerError> {
        let layer = self.layer(layer_dir, owner, buildpack_id, name);
        let fingerprint = Fingerprint::take_settled(layer_dir, owner, SETTLE)?;
        let found = layer::skeleton_digest(&LayerSource::dir(layer_dir, owner)?)?;
        if found != skeleton {
            layer.forget()?;
            return Ok(false);
        }
        layer.save(&fingerprint, diff_id)
    }

    /// The diffID of `layer_dir` (layer `name` of `buildpack_id`, tarred with `owner`)
    /// when a fingerprint proves it unchanged since it was recorded.
    pub fn unchanged_diff_id(
        &self,
        layer_dir: &Path,
        owner: Owner,
        buildpack_id: &str,
        name: &str,
    ) -> Option<String> {
        self.layer(layer_dir, owner, buildpack_id, name)
            .unchanged_diff_id()
    }
}

/// One buildpack layer directory and where its fingerprint is kept (see
/// [`LayerIndex::layer`]): what the exporter needs to skip hashing it, or to record it
/// when it hashes it.
#[derive(Debug, Clone)]
pub struct IndexedLayer {
    dir: PathBuf,
    owner: Owner,
    saved: PathBuf,
}

impl IndexedLayer {
    /// The recorded diffID, when a fresh fingerprint of the directory proves it
    /// unchanged since it was recorded; `None` when anything differs or nothing usable
    /// was recorded.
    pub fn unchanged_diff_id(&self) -> Option<String> {
        Fingerprint::unchanged_diff_id(&self.dir, self.owner, &self.saved)
    }

    /// A fingerprint taken right before the layer is hashed, for [`IndexedLayer::save`]
    /// once the hash is known. Waits a clock tick at most for recent change times to
    /// settle (an unsettled fingerprint is never saved). `None` when the directory
    /// cannot be walked (hashing it will say why).
    pub fn before_hashing(&self) -> Option<Fingerprint> {
        Fingerprint::take_settled(&self.dir, self.owner, SETTLE_BEFORE_HASHING).ok()
    }

    /// Saves `fingerprint` (taken before `diff_id` was hashed from the directory) with
    /// `diff_id` when it is settled and the directory still matches it; otherwise
    /// removes what was recorded. Whether it was saved.
    pub fn save(&self, fingerprint: &Fingerprint, diff_id: &str) -> Result<bool, LayerError> {
        if let Some(parent) = self.saved.parent() {
            std::fs::create_dir_all(parent).map_err(|e| LayerError::io("create", parent, e))?;
        }
        fingerprint.save_if_unchanged(diff_id, &self.saved)
    }

    /// Removes what was recorded for the layer, if anything.
    fn forget(&self) -> Result<(), LayerError> {
        match std::fs::remove_file(&self.saved) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(LayerError::io("remove", &self.saved, e))
            }
            _ => Ok(()),
        }
    }
}

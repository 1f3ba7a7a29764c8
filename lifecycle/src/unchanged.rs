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
/// How long to wait for freshly written files' change times to settle (a clock tick;
/// two seconds on file systems that keep whole seconds).
const SETTLE: Duration = Duration::from_millis(2100);

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

    /// Where the fingerprint of layer `name` of buildpack `buildpack_id` is kept.
    pub fn path(&self, buildpack_id: &str, name: &str) -> PathBuf {
        self.dir
            .join(buildpack_id.replace('/', "_"))
            .join(format!("{name}.fp"))
    }

    /// Records that `layer_dir` (just restored from a tar with `diff_id`, or about to be
    /// left alone) is the layer `diff_id`, when tarring it as the exporter will (with
    /// `owner`) gives exactly that diffID; otherwise removes any older record. Returns
    /// whether it was recorded. Costs one read of the layer (the same as the hash the
    /// exporter would otherwise make on every rebuild).
    pub fn record(
        &self,
        layer_dir: &Path,
        owner: Owner,
        buildpack_id: &str,
        name: &str,
        diff_id: &str,
    ) -> Result<bool, LayerError> {
        let path = self.path(buildpack_id, name);
        let fingerprint = Fingerprint::take_settled(layer_dir, owner, SETTLE)?;
        let found = layer::diff_id(&LayerSource::dir(layer_dir, owner)?)?;
        if found != diff_id {
            return match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    Err(LayerError::io("remove", &path, e))
                }
                _ => Ok(false),
            };
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| LayerError::io("create", parent, e))?;
        }
        fingerprint.save_if_unchanged(diff_id, &path)
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
        Fingerprint::unchanged_diff_id(layer_dir, owner, &self.path(buildpack_id, name))
    }
}

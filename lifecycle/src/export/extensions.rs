//! Run-image extension (Platform API 0.12+). The extender applies the extensions'
//! `run.Dockerfile`s to the run image and leaves the result as a sparse OCI layout in
//! `<extended>/run/<one directory>`: the run image's own layers are listed there but
//! absent, the layers the Dockerfiles added are present. The exporter puts those
//! layers right above the run image's, rewritten as the reference's `TarLayer`
//! rewrites them ([`LayerSource::tarball`](crate::layer::LayerSource::tarball)), each
//! with the history entry the extender recorded for it; and when analyzed.toml says
//! the run image was extended, the app image takes the extended image's config (its
//! environment, labels such as `io.buildpacks.rebasable=false`, user, entrypoint...)
//! in place of the run image's.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use buildpack_api::api::ApiVersion;

use super::{ExportError, ExportInputs};
use crate::image::ImageConfig;
use crate::image::oci::{Descriptor, Index, Manifest};

/// The extended run image in the extender's layout.
#[derive(Debug, Clone)]
pub struct ExtendedRunImage {
    /// The layout directory (`<extended>/run/<dir>`).
    pub dir: PathBuf,
    /// The image's config, as stored (history not normalized).
    pub config: ImageConfig,
    /// The manifest's layers, bottom first.
    layers: Vec<Descriptor>,
}

/// A layer an extension added to the run image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtensionLayer {
    /// How the reference identifies it: `from extensions:extended-layer-<index>` (its
    /// parse of the extension ID out of the history never succeeds).
    pub id: String,
    /// Its blob in the layout (a gzip or plain tar).
    pub blob: PathBuf,
    /// Its history `created_by`, as the extender recorded it
    /// (`Layer: '<instruction>', Created by extension: <id>`).
    pub created_by: String,
}

fn invalid(message: String) -> ExportError {
    ExportError::File {
        context: "reading extended run image".into(),
        message,
    }
}

/// Where the blob `digest` (`<algorithm>:<hex>`) is in the layout at `dir`.
fn blob_path(dir: &Path, digest: &str) -> Result<PathBuf, ExportError> {
    match digest.split_once(':') {
        Some((algorithm, hex))
            if !algorithm.is_empty()
                && !hex.is_empty()
                && algorithm.bytes().all(|b| b.is_ascii_alphanumeric())
                && hex.bytes().all(|b| b.is_ascii_hexdigit()) =>
        {
            Ok(dir.join("blobs").join(algorithm).join(hex))
        }
        _ => Err(invalid(format!("invalid digest {digest:?}"))),
    }
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, ExportError> {
    let bytes = fs::read(path).map_err(|e| ExportError::io("read", path, e))?;
    serde_json::from_slice(&bytes).map_err(|e| invalid(format!("parse {}: {e}", path.display())))
}

impl ExtendedRunImage {
    /// Reads the image under `<extended_dir>/run` as the reference's `FromLayoutPath`
    /// does: `None` when that directory is missing or empty; an error when it holds
    /// more than one entry or its layout more than one manifest.
    pub fn read(extended_dir: &Path) -> Result<Option<Self>, ExportError> {
        let parent = extended_dir.join("run");
        let entries = match fs::read_dir(&parent) {
            Ok(entries) => entries
                .collect::<io::Result<Vec<_>>>()
                .map_err(|e| ExportError::io("read", &parent, e))?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(ExportError::io("read", &parent, e)),
        };
        let dir = match entries.as_slice() {
            [] => return Ok(None),
            [entry] => entry.path(),
            _ => {
                return Err(invalid(format!(
                    "expected directory {:?} to have only 1 item; found {}",
                    parent.display().to_string(),
                    entries.len()
                )));
            }
        };
        let index: Index = read_json(&dir.join("index.json"))?;
        let [descriptor] = index.manifests.as_slice() else {
            return Err(invalid(format!(
                "expected image index at {:?} to have only 1 manifest; found {}",
                dir.display().to_string(),
                index.manifests.len()
            )));
        };
        let manifest: Manifest = read_json(&blob_path(&dir, &descriptor.digest)?)?;
        let config_path = blob_path(&dir, &manifest.config.digest)?;
        let bytes = fs::read(&config_path).map_err(|e| ExportError::io("read", &config_path, e))?;
        let config = ImageConfig::parse(&bytes)
            .map_err(|e| invalid(format!("parse {}: {e}", config_path.display())))?;
        Ok(Some(ExtendedRunImage {
            dir,
            config,
            layers: manifest.layers,
        }))
    }

    /// The layers extensions added: those whose blob is in the layout (the others are
    /// the run image's), bottom first, with the history entry of the same index among
    /// the entries that have a layer.
    pub fn extension_layers(&self) -> Result<Vec<ExtensionLayer>, ExportError> {
        if self.config.rootfs.diff_ids.len() < self.layers.len() {
            return Err(invalid(format!(
                "failed to get layer info: the image at {} has {} layers but {} diff IDs",
                self.dir.display(),
                self.layers.len(),
                self.config.rootfs.diff_ids.len()
            )));
        }
        let mut history = self.config.history.iter().filter(|h| !h.empty_layer);
        let mut found = Vec::new();
        for (index, layer) in self.layers.iter().enumerate() {
            let created_by = history
                .next()
                .map(|h| h.created_by.clone())
                .unwrap_or_default();
            let blob = blob_path(&self.dir, &layer.digest)?;
            match fs::metadata(&blob) {
                Ok(_) => found.push(ExtensionLayer {
                    id: format!("from extensions:extended-layer-{index}"),
                    blob,
                    created_by,
                }),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(ExportError::io("stat", &blob, e)),
            }
        }
        Ok(found)
    }
}

/// Whether `<extended_dir>/run` has any entry (the reference's `hasExtendedLayers`):
/// below Platform API 0.13 exporting them is experimental.
pub fn has_extended_layers(extended_dir: &Path) -> bool {
    fs::read_dir(extended_dir.join("run")).is_ok_and(|mut entries| entries.next().is_some())
}

/// The layers extensions added to the run image, for the export's inputs (none below
/// Platform API 0.12 or without an extended directory).
pub(super) fn layers(inputs: &ExportInputs) -> Result<Vec<ExtensionLayer>, ExportError> {
    let Some(dir) = &inputs.extended_dir else {
        return Ok(Vec::new());
    };
    if inputs.platform_api < ApiVersion::new(0, 12) {
        return Ok(Vec::new());
    }
    match ExtendedRunImage::read(dir)? {
        Some(image) => image.extension_layers(),
        None => Ok(Vec::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::model::sha256_digest;

    /// Writes a sparse layout: three layers, the first absent (the run image's).
    fn layout(extended: &Path) -> PathBuf {
        let dir = extended.join("run/sha256_abc");
        fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
        let blob = |bytes: &[u8], keep: bool| {
            let digest = sha256_digest(bytes);
            if keep {
                fs::write(blob_path(&dir, &digest).unwrap(), bytes).unwrap();
            }
            digest
        };
        let layers: Vec<String> = [("base", false), ("ext-1", true), ("ext-2", true)]
            .iter()
            .map(|(b, keep)| blob(b.as_bytes(), *keep))
            .collect();
        let config = serde_json::json!({
            "architecture": "amd64", "os": "linux",
            "config": {"Env": ["EXT=1"], "Labels": {"io.buildpacks.rebasable": "false"}},
            "rootfs": {"type": "layers", "diff_ids": ["sha256:1", "sha256:2", "sha256:3"]},
            "history": [
                {"created_by": "base"},
                {"created_by": "ENV EXT=1", "empty_layer": true},
                {"created_by": "Layer: 'RUN a', Created by extension: ext-a"},
                {"created_by": "Layer: 'RUN b', Created by extension: ext-b"},
            ],
        });
        let config = blob(&serde_json::to_vec(&config).unwrap(), true);
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": 1},
            "layers": layers.iter().map(|d| serde_json::json!({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": d, "size": 1})).collect::<Vec<_>>(),
        });
        let manifest = blob(&serde_json::to_vec(&manifest).unwrap(), true);
        let index = serde_json::json!({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": manifest, "size": 1}]});
        fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
        dir
    }

    #[test]
    fn extension_layers_are_the_layers_whose_blobs_are_present() {
        let extended = tempfile::tempdir().unwrap();
        let dir = layout(extended.path());
        assert!(has_extended_layers(extended.path()));
        let image = ExtendedRunImage::read(extended.path()).unwrap().unwrap();
        assert_eq!(image.dir, dir);
        assert_eq!(image.config.config.env, ["EXT=1"]);
        let layers = image.extension_layers().unwrap();
        let ids: Vec<_> = layers.iter().map(|l| l.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "from extensions:extended-layer-1",
                "from extensions:extended-layer-2"
            ]
        );
        assert_eq!(
            layers[1].created_by,
            "Layer: 'RUN b', Created by extension: ext-b"
        );
        assert_eq!(
            fs::read(&layers[0].blob).unwrap(),
            b"ext-1",
            "{:?}",
            layers[0]
        );
    }

    #[test]
    fn missing_empty_and_crowded_directories() {
        let extended = tempfile::tempdir().unwrap();
        assert!(ExtendedRunImage::read(extended.path()).unwrap().is_none());
        assert!(!has_extended_layers(extended.path()));
        fs::create_dir(extended.path().join("run")).unwrap();
        assert!(ExtendedRunImage::read(extended.path()).unwrap().is_none());
        assert!(!has_extended_layers(extended.path()));
        layout(extended.path());
        fs::create_dir(extended.path().join("run/other")).unwrap();
        let err = ExtendedRunImage::read(extended.path()).unwrap_err();
        assert!(
            err.to_string().contains("to have only 1 item; found 2"),
            "{err}"
        );
    }
}

//! Images in OCI image layout directories (`-layout`): `oci-layout`, `index.json` and
//! `blobs/sha256/*`, one layout per image at `<layout-dir>/<registry>/<repo>/<tag>` (or
//! `…/sha256/<hex>` for digest references). Base images may be sparse (layer blobs
//! absent); a new image then references those layers without carrying them, as the
//! reference does.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::config::ImageConfig;
use super::layer_stream::LayerStream;
use super::model::{Image, LayerData, Origin, Saved, sha256_digest};
use super::oci::{Descriptor, Index, Manifest, is_index};
use super::reference::Reference;
use super::store::{ImageStore, LayerFormat, StoreError, StoredImage};

/// Annotation naming the image in `index.json`.
const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// Images under one layout root directory.
#[derive(Debug, Clone)]
pub struct LayoutStore {
    root: PathBuf,
}

impl LayoutStore {
    /// A store rooted at `root` (`-layout-dir`).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The layout directory of `name`, and the manifest digest it pins, if any: an
    /// absolute path (`/dir[@sha256:…]`, as analyzed.toml records layout images) is
    /// taken as it is; an image reference is mapped under the root.
    pub fn locate(&self, name: &str) -> Result<(PathBuf, Option<String>), StoreError> {
        if name.starts_with('/') {
            return Ok(match name.split_once('@') {
                Some((path, digest)) => (PathBuf::from(path), Some(digest.to_string())),
                None => (PathBuf::from(name), None),
            });
        }
        let reference = Reference::parse(name).map_err(|e| StoreError::Reference(e.to_string()))?;
        Ok((self.root.join(reference.layout_path()), None))
    }
}

fn read_blob(dir: &Path, digest: &str) -> Result<Vec<u8>, StoreError> {
    let path = blob_path(dir, digest)?;
    let bytes = fs::read(&path).map_err(|e| StoreError::io("read", &path, e))?;
    if sha256_digest(&bytes) != digest {
        return Err(StoreError::Invalid(format!(
            "blob {} does not match its digest",
            path.display()
        )));
    }
    Ok(bytes)
}

fn blob_path(dir: &Path, digest: &str) -> Result<PathBuf, StoreError> {
    match digest.split_once(':') {
        Some(("sha256", hex)) if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
            Ok(dir.join("blobs/sha256").join(hex))
        }
        _ => Err(StoreError::Invalid(format!("invalid digest '{digest}'"))),
    }
}

fn parse<T: serde::de::DeserializeOwned>(bytes: &[u8], what: &Path) -> Result<T, StoreError> {
    serde_json::from_slice(bytes)
        .map_err(|e| StoreError::Invalid(format!("parse {}: {e}", what.display())))
}

/// Reads the manifest `desc` points at, descending into a nested index.
fn read_manifest(dir: &Path, desc: &Descriptor) -> Result<(Manifest, Descriptor), StoreError> {
    let bytes = read_blob(dir, &desc.digest)?;
    if is_index(&desc.media_type) {
        let index: Index = parse(&bytes, &blob_path(dir, &desc.digest)?)?;
        let child = index
            .select("linux", crate::target::host_arch(), None)
            .ok_or_else(|| {
                StoreError::Invalid(format!("no linux image in index {}", desc.digest))
            })?;
        return read_manifest(dir, &child.clone());
    }
    Ok((parse(&bytes, &blob_path(dir, &desc.digest)?)?, desc.clone()))
}

impl ImageStore for LayoutStore {
    fn read(&self, name: &str) -> Result<Option<StoredImage>, StoreError> {
        let (dir, digest) = self.locate(name)?;
        let index_path = dir.join("index.json");
        let bytes = match fs::read(&index_path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(StoreError::io("read", &index_path, e)),
        };
        let index: Index = parse(&bytes, &index_path)?;
        let desc = match &digest {
            Some(d) => index.manifests.iter().find(|m| &m.digest == d),
            None => index.manifests.first(),
        };
        let Some(desc) = desc else {
            return Ok(None);
        };
        let (manifest, desc) = read_manifest(&dir, desc)?;
        let config_bytes = read_blob(&dir, &manifest.config.digest)?;
        let config = ImageConfig::parse(&config_bytes).map_err(|e| {
            StoreError::Invalid(format!("parse config {}: {e}", manifest.config.digest))
        })?;
        let origin = Origin::Layout(dir.clone());
        let image = Image::from_manifest(&manifest, config, origin, &dir.display().to_string())?;
        Ok(Some(StoredImage {
            image,
            identifier: format!("{}@{}", dir.display(), desc.digest),
        }))
    }

    fn open_layer(&self, image: &StoredImage, diff_id: &str) -> Result<LayerStream, StoreError> {
        let (layer, blob) = super::store::stored_blob(image, diff_id)?;
        let LayerData::Stored(origin) = &layer.data else {
            return Err(StoreError::Unsupported(format!(
                "layer {diff_id} is not stored"
            )));
        };
        let Origin::Layout(dir) = origin.as_ref() else {
            return Err(StoreError::Unsupported(format!(
                "layer {diff_id} is not in an OCI layout"
            )));
        };
        let path = blob_path(dir, &blob.digest)?;
        let file = fs::File::open(&path).map_err(|e| StoreError::io("open", &path, e))?;
        LayerStream::new(file, diff_id).map_err(|e| StoreError::io("read", &path, e))
    }

    fn display_name(&self, name: &str) -> String {
        self.locate(name)
            .map_or_else(|_| name.to_string(), |(path, _)| path.display().to_string())
    }

    fn layer_format(&self) -> LayerFormat {
        LayerFormat::Gzip
    }

    fn save(&self, image: &Image, names: &[String]) -> Result<Saved, StoreError> {
        // The image is named in its manifest too, as the reference annotates it.
        let ref_name = match names.first() {
            Some(name) if !name.starts_with('/') => Reference::parse(name)
                .map(|r| r.identifier().to_string())
                .unwrap_or_default(),
            _ => String::new(),
        };
        let extra: Vec<(&str, &str)> = if ref_name.is_empty() {
            Vec::new()
        } else {
            vec![(REF_NAME, ref_name.as_str())]
        };
        let (config, manifest) = manifest_bytes(image, &extra)?;
        Ok(Saved::each(&manifest, names, |name| {
            self.save_one(image, name, &config, &manifest)
        }))
    }
}

/// The config and manifest bytes of `image` with `extra` annotations; every layer must
/// have a blob descriptor.
pub fn manifest_bytes(
    image: &Image,
    extra: &[(&str, &str)],
) -> Result<(Vec<u8>, Vec<u8>), StoreError> {
    let config = image.config.to_bytes();
    let layers = image
        .layers
        .iter()
        .map(|l| {
            l.blob.clone().ok_or_else(|| {
                StoreError::Unsupported(format!("layer {} has no compressed blob", l.diff_id))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let manifest = Manifest {
        schema_version: 2,
        media_type: Some(image.family.manifest().to_string()),
        config: Descriptor::new(
            image.family.config(),
            &sha256_digest(&config),
            config.len() as u64,
        ),
        layers,
        annotations: image
            .annotations
            .clone()
            .into_iter()
            .chain(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())))
            .collect(),
        other: Default::default(),
    };
    let manifest = serde_json::to_vec(&manifest).expect("manifest serializes");
    Ok((config, manifest))
}

impl LayoutStore {
    fn save_one(
        &self,
        image: &Image,
        name: &str,
        config: &[u8],
        manifest: &[u8],
    ) -> Result<(), StoreError> {
        let (dir, _) = self.locate(name)?;
        let blobs = dir.join("blobs/sha256");
        fs::create_dir_all(&blobs).map_err(|e| StoreError::io("create", &blobs, e))?;
        write_file(
            &dir.join("oci-layout"),
            br#"{"imageLayoutVersion":"1.0.0"}"#,
        )?;
        for layer in &image.layers {
            let digest = &layer
                .blob
                .as_ref()
                .expect("checked by manifest_bytes")
                .digest;
            let to = blob_path(&dir, digest)?;
            match &layer.data {
                LayerData::BlobFile(from) => link_or_copy(from, &to)?,
                LayerData::Stored(origin) => match origin.as_ref() {
                    Origin::Layout(src) => {
                        let from = blob_path(src, digest)?;
                        // A sparse base image has no layer blobs: reference them only.
                        if from.exists() {
                            link_or_copy(&from, &to)?;
                        }
                    }
                    other => {
                        return Err(StoreError::Unsupported(format!(
                            "cannot write a layer from {other:?} into an OCI layout"
                        )));
                    }
                },
                LayerData::TarFile(path) => {
                    return Err(StoreError::Unsupported(format!(
                        "an OCI layout needs compressed layers, not {}",
                        path.display()
                    )));
                }
            }
        }
        let config_digest = sha256_digest(config);
        write_blob(&dir, &config_digest, config)?;
        let manifest_digest = sha256_digest(manifest);
        write_blob(&dir, &manifest_digest, manifest)?;
        let mut desc = Descriptor::new(
            image.family.manifest(),
            &manifest_digest,
            manifest.len() as u64,
        );
        if !name.starts_with('/') {
            let reference =
                Reference::parse(name).map_err(|e| StoreError::Reference(e.to_string()))?;
            desc.annotations
                .insert(REF_NAME.to_string(), reference.identifier().to_string());
        }
        let mut index = Index::new();
        index.manifests.push(desc);
        // index.json last, and atomically: a reader sees the old image or the new one.
        write_file(
            &dir.join("index.json"),
            &serde_json::to_vec(&index).expect("index"),
        )
    }
}

fn write_blob(dir: &Path, digest: &str, bytes: &[u8]) -> Result<(), StoreError> {
    let path = blob_path(dir, digest)?;
    if path.exists() {
        return Ok(());
    }
    write_file(&path, bytes)
}

/// Writes `bytes` to a temporary file next to `path`, then renames it into place.
fn write_file(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let dir = path.parent().expect("file in a directory");
    let mut tmp =
        tempfile::NamedTempFile::new_in(dir).map_err(|e| StoreError::io("create", dir, e))?;
    tmp.write_all(bytes)
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(|e| StoreError::io("write", tmp.path().to_path_buf(), e))?;
    tmp.persist(path)
        .map_err(|e| StoreError::io("rename", path, e.error))?;
    Ok(())
}

/// Hard-links `from` to `to` (blobs are immutable), copying when a link is impossible.
pub fn link_or_copy(from: &Path, to: &Path) -> Result<(), StoreError> {
    if to.exists() {
        return Ok(());
    }
    match fs::hard_link(from, to) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(_) => {
            let dir = to.parent().expect("file in a directory");
            let tmp = tempfile::NamedTempFile::new_in(dir)
                .map_err(|e| StoreError::io("create", dir, e))?;
            fs::copy(from, tmp.path()).map_err(|e| StoreError::io("copy", from, e))?;
            tmp.persist(to)
                .map_err(|e| StoreError::io("rename", to, e.error))?;
            Ok(())
        }
    }
}

//! Images in a registry: read without downloading layers, saved by pushing only the
//! blobs the repository lacks (mounting them from the repository they came from when
//! the registry can), several at a time.

use std::fs::File;
use std::io::{self, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use super::config::ImageConfig;
use super::layer_stream::LayerStream;
use super::layout::manifest_bytes;
use super::model::{Image, Layer, LayerData, Origin, Saved};
use super::oci::{Index, Manifest, is_index};
use super::reference::{Reference, Repository};
use super::store::{ImageStore, LayerFormat, StoreError, StoredImage};
use crate::layer::BlobTee;
use crate::registry::{Client, Error};

/// Blob pieces waiting for the upload.
const STREAM_QUEUE: usize = 64;

/// A blob uploaded while it is made: a thread streams what [`BlobTee::write`] gets to
/// the registry (one chunked `PATCH`, then `PUT ?digest=`). Any failure just ends the
/// upload; saving the image pushes the blob again if it is not there.
struct StreamUpload {
    tx: Option<SyncSender<Option<Vec<u8>>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl StreamUpload {
    fn start(client: Arc<Client>, repo: Repository) -> Self {
        let (tx, rx) = sync_channel(STREAM_QUEUE);
        let thread = std::thread::spawn(move || {
            let mut rx = Some(rx);
            // The stream cannot be read twice: a retry fails, and save uploads instead.
            let _ = client.upload_blob_stream(&repo, || {
                rx.take()
                    .map(ChannelReader::new)
                    .ok_or_else(|| io::Error::other("the streamed blob cannot be read again"))
            });
        });
        Self {
            tx: Some(tx),
            thread: Some(thread),
        }
    }
}

impl BlobTee for StreamUpload {
    fn write(&mut self, bytes: &[u8]) {
        if let Some(tx) = &self.tx
            && tx.send(Some(bytes.to_vec())).is_err()
        {
            self.tx = None;
        }
    }

    fn finish(mut self: Box<Self>, digest: Option<&str>) {
        if let Some(tx) = self.tx.take()
            && digest.is_none()
        {
            // Abandoned: fail the upload rather than let it store a partial blob.
            let _ = tx.send(None);
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The reading end of a [`StreamUpload`]: `None` from the channel is an error.
struct ChannelReader {
    rx: Receiver<Option<Vec<u8>>>,
    piece: Vec<u8>,
    at: usize,
}

impl ChannelReader {
    fn new(rx: Receiver<Option<Vec<u8>>>) -> Self {
        Self {
            rx,
            piece: Vec::new(),
            at: 0,
        }
    }
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.at == self.piece.len() {
            match self.rx.recv() {
                Ok(Some(piece)) => {
                    self.piece = piece;
                    self.at = 0;
                }
                Ok(None) => return Err(io::Error::other("the layer was abandoned")),
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.piece.len() - self.at);
        buf[..n].copy_from_slice(&self.piece[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// Blobs pushed at the same time per image.
const UPLOAD_JOBS: usize = 4;
/// Largest config blob read.
const MAX_CONFIG: u64 = 64 << 20;

/// A registry, reached through `client`.
pub struct RegistryStore {
    client: Arc<Client>,
}

impl std::fmt::Debug for RegistryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RegistryStore")
    }
}

fn registry_error(e: Error) -> StoreError {
    StoreError::Registry(Box::new(e))
}

fn parse_reference(name: &str) -> Result<Reference, StoreError> {
    Reference::parse(name).map_err(|e| StoreError::Reference(e.to_string()))
}

impl RegistryStore {
    /// A store using `client`.
    pub fn new(client: Client) -> Self {
        Self {
            client: Arc::new(client),
        }
    }

    /// The client, for access checks.
    pub fn client(&self) -> &Client {
        &self.client
    }

    fn push_layer(&self, repo: &Repository, layer: &Layer) -> Result<(), StoreError> {
        let blob = layer.blob.as_ref().ok_or_else(|| {
            StoreError::Unsupported(format!("layer {} has no compressed blob", layer.diff_id))
        })?;
        let (digest, size) = (blob.digest.as_str(), blob.size);
        let pushed = match &layer.data {
            LayerData::BlobFile(path) => self
                .client
                .push_blob(repo, digest, size, None, || File::open(path)),
            LayerData::Stored(origin) => match origin.as_ref() {
                Origin::Registry(from) => {
                    let from = parse_reference(from)?.repo().clone();
                    let client = &self.client;
                    // Mounted when the registry can; else copied from where it is.
                    self.client.push_blob(repo, digest, size, Some(&from), || {
                        client
                            .get_blob(&from, digest)
                            .map(|r| Box::new(r) as Box<dyn Read>)
                            .map_err(io::Error::other)
                    })
                }
                Origin::Layout(dir) => {
                    let path = dir
                        .join("blobs/sha256")
                        .join(digest.trim_start_matches("sha256:"));
                    self.client
                        .push_blob(repo, digest, size, None, || File::open(&path))
                }
                Origin::Daemon(_) => {
                    return Err(StoreError::Unsupported(format!(
                        "layer {} is in the Docker daemon, not in a registry",
                        layer.diff_id
                    )));
                }
            },
            LayerData::TarFile(path) => {
                return Err(StoreError::Unsupported(format!(
                    "a registry needs compressed layers, not {}",
                    path.display()
                )));
            }
        };
        pushed.map(|_| ()).map_err(registry_error)
    }

    fn save_one(
        &self,
        image: &Image,
        name: &str,
        config: &[u8],
        manifest: &[u8],
    ) -> Result<(), StoreError> {
        let reference = parse_reference(name)?;
        let repo = reference.repo().clone();
        let next = AtomicUsize::new(0);
        let failure = std::sync::Mutex::new(None);
        std::thread::scope(|s| {
            for _ in 0..UPLOAD_JOBS.min(image.layers.len()) {
                s.spawn(|| {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(layer) = image.layers.get(i) else {
                            break;
                        };
                        if let Err(e) = self.push_layer(&repo, layer) {
                            failure.lock().expect("failure slot").get_or_insert(e);
                            break;
                        }
                    }
                });
            }
        });
        if let Some(e) = failure.into_inner().expect("failure slot") {
            return Err(e);
        }
        let config_digest = super::model::sha256_digest(config);
        self.client
            .push_blob(&repo, &config_digest, config.len() as u64, None, || {
                Ok(config)
            })
            .map_err(registry_error)?;
        self.client
            .put_manifest(&reference, image.family.manifest(), manifest)
            .map_err(registry_error)?;
        Ok(())
    }
}

impl ImageStore for RegistryStore {
    fn open_layer(&self, image: &StoredImage, diff_id: &str) -> Result<LayerStream, StoreError> {
        let (layer, blob) = super::store::stored_blob(image, diff_id)?;
        let LayerData::Stored(origin) = &layer.data else {
            return Err(StoreError::Unsupported(format!(
                "layer {diff_id} is not stored"
            )));
        };
        let Origin::Registry(from) = origin.as_ref() else {
            return Err(StoreError::Unsupported(format!(
                "layer {diff_id} is not in a registry"
            )));
        };
        let repo = parse_reference(from)?.repo().clone();
        let reader = self
            .client
            .get_blob(&repo, &blob.digest)
            .map_err(registry_error)?;
        LayerStream::new(reader, diff_id).map_err(|e| StoreError::Registry(Box::new(e)))
    }

    fn read(&self, name: &str) -> Result<Option<StoredImage>, StoreError> {
        let reference = parse_reference(name)?;
        let Some(mut found) = self
            .client
            .get_manifest(&reference)
            .map_err(registry_error)?
        else {
            return Ok(None);
        };
        if is_index(&found.media_type) {
            let index: Index = serde_json::from_slice(&found.bytes)
                .map_err(|e| StoreError::Invalid(format!("parse index of {name}: {e}")))?;
            let child = index
                .select("linux", crate::target::host_arch(), None)
                .ok_or_else(|| StoreError::Invalid(format!("no linux image in {name}")))?;
            let child_ref = reference.repo().digest(&child.digest);
            found = self
                .client
                .get_manifest(&child_ref)
                .map_err(registry_error)?
                .ok_or_else(|| {
                    StoreError::Invalid(format!("{name}: missing manifest {}", child.digest))
                })?;
        }
        let manifest: Manifest = serde_json::from_slice(&found.bytes)
            .map_err(|e| StoreError::Invalid(format!("parse manifest of {name}: {e}")))?;
        let config_bytes = self
            .client
            .get_blob_bytes(reference.repo(), &manifest.config.digest, MAX_CONFIG)
            .map_err(registry_error)?;
        let config = ImageConfig::parse(&config_bytes)
            .map_err(|e| StoreError::Invalid(format!("parse config of {name}: {e}")))?;
        let repo_name = reference.repo().name();
        // The manifest's own media type may be absent; the registry's answer says it.
        let mut manifest = manifest;
        manifest.media_type.get_or_insert(found.media_type.clone());
        let image =
            Image::from_manifest(&manifest, config, Origin::Registry(repo_name.clone()), name)?;
        Ok(Some(StoredImage {
            image,
            identifier: format!("{repo_name}@{}", found.digest),
        }))
    }

    fn layer_format(&self) -> LayerFormat {
        LayerFormat::Gzip
    }

    fn layers_present(&self, image: &StoredImage) -> Result<bool, StoreError> {
        for layer in &image.image.layers {
            let (LayerData::Stored(origin), Some(blob)) = (&layer.data, &layer.blob) else {
                continue;
            };
            let Origin::Registry(repo) = origin.as_ref() else {
                continue;
            };
            let repo = parse_reference(repo)?.repo().clone();
            if self
                .client
                .blob_exists(&repo, &blob.digest)
                .map_err(registry_error)?
                .is_none()
            {
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn early_upload(&self, names: &[String]) -> Option<Box<dyn BlobTee>> {
        let repo = parse_reference(names.first()?).ok()?.repo().clone();
        Some(Box::new(StreamUpload::start(self.client.clone(), repo)))
    }

    fn save(&self, image: &Image, names: &[String]) -> Result<Saved, StoreError> {
        let (config, manifest) = manifest_bytes(image, &[])?;
        Ok(Saved::each(&manifest, names, |name| {
            self.save_one(image, name, &config, &manifest)
        }))
    }
}

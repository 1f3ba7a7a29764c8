//! The archive `docker load` takes (the format `docker save` wrote before Docker 25):
//! `manifest.json` naming the config and one tar per layer, the config as
//! `<config digest hex>.json`, and the uncompressed layer tars, streamed from disk.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::error::ArchiveError;
use crate::image::model::sha256_digest;

/// One layer of an image to load, bottom first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArchiveLayer {
    /// An uncompressed layer tar on disk; its digest must be the diff ID at its position.
    Tar(PathBuf),
    /// A layer the daemon already has at this position, sent as an empty placeholder.
    /// The daemon (classic graph-driver store) skips loading layer *i* when it already
    /// has the chain of the first *i*+1 diff IDs, i.e. an image whose bottom *i*+1 layers
    /// are exactly this image's. Otherwise the load fails; the containerd image store
    /// never accepts placeholders.
    Placeholder,
}

/// An image ready to be written as a `docker load` archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadArchive {
    config: Vec<u8>,
    config_digest: String,
    diff_ids: Vec<String>,
    repo_tags: Vec<String>,
    layers: Vec<ArchiveLayer>,
}

/// The part of a config the archive needs.
#[derive(Deserialize)]
struct ConfigRootFs {
    rootfs: RootFsDiffIds,
}

#[derive(Deserialize)]
struct RootFsDiffIds {
    #[serde(default)]
    diff_ids: Option<Vec<String>>,
}

/// One image of `manifest.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ManifestEntry {
    pub(super) config: String,
    #[serde(default)]
    pub(super) repo_tags: Option<Vec<String>>,
    pub(super) layers: Vec<String>,
}

/// The diff IDs of a config's `rootfs`.
pub(super) fn config_diff_ids(config: &[u8]) -> Result<Vec<String>, ArchiveError> {
    let parsed: ConfigRootFs = serde_json::from_slice(config)
        .map_err(|e| ArchiveError::Invalid(format!("image config: {e}")))?;
    Ok(parsed.rootfs.diff_ids.unwrap_or_default())
}

impl LoadArchive {
    /// An archive of the image with config `config` (its exact bytes: their digest becomes
    /// the image ID), named `repo_tags` (`repo:tag`, may be empty) and with one layer per
    /// diff ID of the config.
    pub fn new(
        config: Vec<u8>,
        repo_tags: Vec<String>,
        layers: Vec<ArchiveLayer>,
    ) -> Result<LoadArchive, ArchiveError> {
        let diff_ids = config_diff_ids(&config)?;
        if diff_ids.len() != layers.len() {
            return Err(ArchiveError::Invalid(format!(
                "the config has {} diff IDs but {} layers were given",
                diff_ids.len(),
                layers.len()
            )));
        }
        if let Some(bad) = diff_ids.iter().find(|d| hex_of(d).is_none()) {
            return Err(ArchiveError::Invalid(format!("invalid diff ID {bad:?}")));
        }
        Ok(LoadArchive {
            config_digest: sha256_digest(&config),
            config,
            diff_ids,
            repo_tags,
            layers,
        })
    }

    /// The digest of the config (`sha256:…`): the ID the classic store gives the image.
    pub fn config_digest(&self) -> &str {
        &self.config_digest
    }

    /// The config's diff IDs, bottom first.
    pub fn diff_ids(&self) -> &[String] {
        &self.diff_ids
    }

    /// The names the image gets.
    pub fn repo_tags(&self) -> &[String] {
        &self.repo_tags
    }

    /// Whether some layer is a placeholder.
    pub fn has_placeholders(&self) -> bool {
        self.layers.contains(&ArchiveLayer::Placeholder)
    }

    /// Writes the archive: the config, each layer tar (once per diff ID) or placeholder,
    /// then `manifest.json`. Layer files are streamed; a layer file whose size changes
    /// while it is written fails the write.
    pub fn write_to(&self, out: &mut dyn Write) -> Result<(), ArchiveError> {
        let write_err = ArchiveError::Write;
        let mut tar = tar::Builder::new(out);
        let config_name = format!(
            "{}.json",
            hex_of(&self.config_digest).expect("sha256 digest")
        );
        append(
            &mut tar,
            &config_name,
            self.config.len() as u64,
            &self.config[..],
        )
        .map_err(write_err)?;
        let mut names: Vec<String> = Vec::with_capacity(self.layers.len());
        for (i, (layer, diff_id)) in self.layers.iter().zip(&self.diff_ids).enumerate() {
            let name = match layer {
                ArchiveLayer::Placeholder => {
                    let name = format!("blank_{i}");
                    append(&mut tar, &name, 0, io::empty()).map_err(write_err)?;
                    name
                }
                ArchiveLayer::Tar(path) => {
                    let name = format!("{}.tar", hex_of(diff_id).expect("checked in new"));
                    if !names.contains(&name) {
                        let io_err = |action| {
                            move |cause| ArchiveError::Io {
                                action,
                                path: path.clone(),
                                cause,
                            }
                        };
                        let file = File::open(path).map_err(io_err("open"))?;
                        let size = file.metadata().map_err(io_err("stat"))?.len();
                        let data = ExactSize {
                            inner: file.take(size),
                            left: size,
                        };
                        append(&mut tar, &name, size, data).map_err(|cause| {
                            if cause.kind() == io::ErrorKind::UnexpectedEof {
                                io_err("read")(cause)
                            } else {
                                write_err(cause)
                            }
                        })?;
                    }
                    name
                }
            };
            names.push(name);
        }
        let manifest = serde_json::to_vec(&[ManifestEntry {
            config: config_name,
            repo_tags: Some(self.repo_tags.clone()),
            layers: names,
        }])
        .expect("manifest serializes");
        append(
            &mut tar,
            "manifest.json",
            manifest.len() as u64,
            &manifest[..],
        )
        .map_err(write_err)?;
        tar.into_inner().map_err(write_err)?;
        Ok(())
    }
}

/// The hex part of a `sha256:<64 hex>` digest.
pub(super) fn hex_of(digest: &str) -> Option<&str> {
    digest
        .strip_prefix("sha256:")
        .filter(|h| h.len() == 64 && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
}

fn append(
    tar: &mut tar::Builder<&mut dyn Write>,
    name: &str,
    size: u64,
    data: impl Read,
) -> io::Result<()> {
    let mut header = tar::Header::new_ustar();
    header.set_path(name)?;
    header.set_size(size);
    header.set_mode(0o644);
    header.set_entry_type(tar::EntryType::Regular);
    header.set_cksum();
    tar.append(&header, data)
}

/// A reader that fails unless it yields exactly its announced size (a tar entry must).
struct ExactSize<R> {
    inner: R,
    left: u64,
}

impl<R: Read> Read for ExactSize<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && self.left > 0 && !buf.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "file shrank while it was being archived",
            ));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn config(diff_ids: &[&str]) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "architecture": "amd64", "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        }))
        .unwrap()
    }

    fn entries(archive: &[u8]) -> BTreeMap<String, Vec<u8>> {
        let mut out = BTreeMap::new();
        for e in tar::Archive::new(archive).entries().unwrap() {
            let mut e = e.unwrap();
            let name = e.path().unwrap().display().to_string();
            let mut data = Vec::new();
            e.read_to_end(&mut data).unwrap();
            out.insert(name, data);
        }
        out
    }

    #[test]
    fn writes_config_layers_placeholders_and_manifest() {
        let dir = tempfile::tempdir().unwrap();
        let layer = dir.path().join("l.tar");
        std::fs::write(&layer, vec![7u8; 3000]).unwrap();
        let d1 = sha256_digest(b"base");
        let d2 = sha256_digest(&[7u8; 3000]);
        let cfg = config(&[&d1, &d2, &d2]);
        let archive = LoadArchive::new(
            cfg.clone(),
            vec!["app:latest".into()],
            vec![
                ArchiveLayer::Placeholder,
                ArchiveLayer::Tar(layer.clone()),
                ArchiveLayer::Tar(layer),
            ],
        )
        .unwrap();
        assert!(archive.has_placeholders());
        assert_eq!(archive.config_digest(), sha256_digest(&cfg));
        let mut out = Vec::new();
        archive.write_to(&mut out).unwrap();
        let files = entries(&out);
        let hex = |d: &str| hex_of(d).unwrap().to_string();
        let config_name = format!("{}.json", hex(archive.config_digest()));
        assert_eq!(files[&config_name], cfg);
        assert_eq!(files["blank_0"], b"");
        // A layer used twice is written once.
        assert_eq!(files.len(), 4);
        assert_eq!(files[&format!("{}.tar", hex(&d2))], vec![7u8; 3000]);
        let manifest: Vec<ManifestEntry> = serde_json::from_slice(&files["manifest.json"]).unwrap();
        assert_eq!(
            manifest,
            [ManifestEntry {
                config: config_name,
                repo_tags: Some(vec!["app:latest".into()]),
                layers: vec![
                    "blank_0".into(),
                    format!("{}.tar", hex(&d2)),
                    format!("{}.tar", hex(&d2))
                ],
            }]
        );
    }

    #[test]
    fn checks_layers_against_the_config() {
        let d = sha256_digest(b"x");
        let err = LoadArchive::new(config(&[&d]), vec![], vec![]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid image archive: the config has 1 diff IDs but 0 layers were given"
        );
        let err = LoadArchive::new(
            config(&["sha256:abc"]),
            vec![],
            vec![ArchiveLayer::Placeholder],
        )
        .unwrap_err();
        assert!(err.to_string().contains("invalid diff ID"), "{err}");
        assert!(LoadArchive::new(b"{}".to_vec(), vec![], vec![]).is_err());
    }

    #[test]
    fn missing_and_shrinking_layer_files_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let d = sha256_digest(b"x");
        let missing = dir.path().join("missing.tar");
        let archive = LoadArchive::new(
            config(&[&d]),
            vec![],
            vec![ArchiveLayer::Tar(missing.clone())],
        )
        .unwrap();
        let err = archive.write_to(&mut Vec::new()).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("open {}: no such file or directory", missing.display())
        );
        let mut short = ExactSize {
            inner: &b"abc"[..],
            left: 5,
        };
        let err = io::copy(&mut short, &mut io::sink()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }
}

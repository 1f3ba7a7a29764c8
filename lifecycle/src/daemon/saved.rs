//! Reading what `docker save` streams: the images of `manifest.json` with their configs,
//! and their layers written to a directory as `<diff ID hex>.tar`.
//!
//! `manifest.json` comes last in the stream, so each entry that is not JSON is spooled to
//! disk while its diff ID is computed (gunzipped first when it is gzip, as layers saved
//! from the containerd image store can be), then kept under its diff ID when wanted.
//! JSON entries (configs, manifests) are kept in memory. Docker 20.10's layout
//! (`<id>/layer.tar`, symlinks for repeated layers) and Docker 25+'s OCI layout
//! (`blobs/sha256/<hex>`) both work, as does podman's.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::path::{Component, Path, PathBuf};

use flate2::read::MultiGzDecoder;
use sha2::{Digest as _, Sha256};

use super::archive::{ManifestEntry, config_diff_ids, hex_of};
use super::error::ArchiveError;
use crate::image::model::hex;

/// JSON entries up to this size are kept in memory; anything else is spooled to disk.
const JSON_LIMIT: u64 = 64 * 1024 * 1024;
/// The copy buffer for spooled entries.
const COPY_BUFFER: usize = 256 * 1024;

/// One image of a saved archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedImage {
    /// `repo:tag` names it was saved under.
    pub repo_tags: Vec<String>,
    /// The config's exact bytes.
    pub config: Vec<u8>,
    /// The config's diff IDs, bottom first.
    pub diff_ids: Vec<String>,
}

/// What was read from a saved archive.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SavedArchive {
    /// The images, in `manifest.json` order.
    pub images: Vec<SavedImage>,
    /// The wanted layers, by diff ID, as uncompressed tars in the destination directory.
    pub layers: BTreeMap<String, PathBuf>,
}

/// An entry of the archive, by its normalized path.
enum Entry {
    /// A JSON file, in memory.
    Json(Vec<u8>),
    /// Any other file, with the digest of its (uncompressed) bytes.
    Blob { diff_id: String },
    /// A symbolic or hard link to another entry.
    Link(String),
}

/// Reads a `docker save` stream to its very end. Layers whose diff ID `wanted` accepts are
/// written to `dest` (an existing directory on the filesystem where they should stay)
/// as `<hex>.tar`; the others are only hashed. Every layer of every image is checked
/// against its config's diff ID.
pub fn read_saved(
    archive: impl Read,
    dest: &Path,
    wanted: impl Fn(&str) -> bool,
) -> Result<SavedArchive, ArchiveError> {
    let mut entries: BTreeMap<String, Entry> = BTreeMap::new();
    let mut layers = BTreeMap::new();
    let mut tar = tar::Archive::new(archive);
    let mut buffer = vec![0u8; COPY_BUFFER];
    for entry in tar.entries().map_err(ArchiveError::Read)? {
        let mut entry = entry.map_err(ArchiveError::Read)?;
        let name = normalize(&entry.path().map_err(ArchiveError::Read)?);
        let kind = entry.header().entry_type();
        if kind.is_symlink() || kind.is_hard_link() {
            let Some(target) = entry.link_name().map_err(ArchiveError::Read)? else {
                continue;
            };
            let target = if kind.is_symlink() {
                Path::new(&name)
                    .parent()
                    .unwrap_or(Path::new(""))
                    .join(target)
            } else {
                target.into_owned()
            };
            entries.insert(name, Entry::Link(normalize(&target)));
            continue;
        }
        if !kind.is_file() {
            continue;
        }
        let size = entry.size();
        let mut first = [0u8; 2];
        let got = read_up_to(&mut entry, &mut first).map_err(ArchiveError::Read)?;
        let first = &first[..got];
        if matches!(first.first(), Some(b'{' | b'[')) && size <= JSON_LIMIT {
            let mut json = first.to_vec();
            entry.read_to_end(&mut json).map_err(ArchiveError::Read)?;
            entries.insert(name, Entry::Json(json));
            continue;
        }
        let gzip = first == [0x1f, 0x8b];
        let source = first.chain(entry);
        let (diff_id, file) = if gzip {
            spool(MultiGzDecoder::new(source), dest, &mut buffer)?
        } else {
            spool(source, dest, &mut buffer)?
        };
        keep_if_wanted(&diff_id, file, dest, &wanted, &mut layers)?;
        entries.insert(name, Entry::Blob { diff_id });
    }
    // Past the end-of-archive blocks, so a daemon stream is read to its end and its
    // connection can be reused.
    io::copy(&mut tar.into_inner(), &mut io::sink()).map_err(ArchiveError::Read)?;

    let manifest = match resolve(&entries, "manifest.json") {
        Some(Entry::Json(bytes)) => bytes,
        _ => return Err(invalid("no manifest.json")),
    };
    let manifest: Vec<ManifestEntry> =
        serde_json::from_slice(manifest).map_err(|e| invalid(format!("manifest.json: {e}")))?;
    let mut images = Vec::with_capacity(manifest.len());
    for item in manifest {
        let config = match resolve(&entries, &normalize(Path::new(&item.config))) {
            Some(Entry::Json(bytes)) => bytes.clone(),
            _ => return Err(invalid(format!("config {} is missing", item.config))),
        };
        let diff_ids = config_diff_ids(&config)?;
        if diff_ids.len() != item.layers.len() {
            return Err(invalid(format!(
                "config {} has {} diff IDs for {} layers",
                item.config,
                diff_ids.len(),
                item.layers.len()
            )));
        }
        for (path, expected) in item.layers.iter().zip(&diff_ids) {
            let actual = match resolve(&entries, &normalize(Path::new(path))) {
                Some(Entry::Blob { diff_id }) => diff_id.clone(),
                // A layer tar whose first file name starts with `{` was taken for JSON.
                Some(Entry::Json(bytes)) => {
                    let (diff_id, file) = spool(&bytes[..], dest, &mut buffer)?;
                    keep_if_wanted(&diff_id, file, dest, &wanted, &mut layers)?;
                    diff_id
                }
                _ => return Err(invalid(format!("layer {path} is missing"))),
            };
            if &actual != expected {
                return Err(invalid(format!(
                    "layer {path} has diff ID {actual}, but the config says {expected}"
                )));
            }
        }
        images.push(SavedImage {
            repo_tags: item.repo_tags.unwrap_or_default(),
            config,
            diff_ids,
        });
    }
    Ok(SavedArchive { images, layers })
}

fn invalid(detail: impl Into<String>) -> ArchiveError {
    ArchiveError::Invalid(detail.into())
}

/// Reads until `buf` is full or the input ends; returns how much was read.
fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// A path inside the archive without `.`, `..`, a leading `/` or `./`.
fn normalize(path: &Path) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in path.components() {
        match c {
            Component::Normal(p) => parts.push(p.to_str().unwrap_or_default()),
            Component::ParentDir => {
                parts.pop();
            }
            Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
        }
    }
    parts.join("/")
}

/// The entry at `name`, following links (at most 16).
fn resolve<'a>(entries: &'a BTreeMap<String, Entry>, name: &str) -> Option<&'a Entry> {
    let mut entry = entries.get(name)?;
    for _ in 0..16 {
        match entry {
            Entry::Link(target) => entry = entries.get(target)?,
            found => return Some(found),
        }
    }
    None
}

/// Copies `source` into a temporary file in `dest`, returning the digest of the bytes.
fn spool(
    mut source: impl Read,
    dest: &Path,
    buffer: &mut [u8],
) -> Result<(String, tempfile::NamedTempFile), ArchiveError> {
    let dest_err = |action| {
        move |cause| ArchiveError::Io {
            action,
            path: dest.to_path_buf(),
            cause,
        }
    };
    let mut file = tempfile::Builder::new()
        .prefix(".saved-layer-")
        .tempfile_in(dest)
        .map_err(dest_err("create temporary file in"))?;
    let mut hasher = Sha256::new();
    loop {
        let n = match source.read(buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(ArchiveError::Read(e)),
        };
        hasher.update(&buffer[..n]);
        file.write_all(&buffer[..n])
            .map_err(dest_err("write layer in"))?;
    }
    Ok((format!("sha256:{}", hex(&hasher.finalize())), file))
}

fn keep_if_wanted(
    diff_id: &str,
    file: tempfile::NamedTempFile,
    dest: &Path,
    wanted: &impl Fn(&str) -> bool,
    layers: &mut BTreeMap<String, PathBuf>,
) -> Result<(), ArchiveError> {
    if layers.contains_key(diff_id) || !wanted(diff_id) {
        return Ok(());
    }
    let path = dest.join(format!("{}.tar", hex_of(diff_id).expect("sha256 digest")));
    file.persist(&path).map_err(|e| ArchiveError::Io {
        action: "rename layer to",
        path: path.clone(),
        cause: e.error,
    })?;
    layers.insert(diff_id.to_string(), path);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::model::sha256_digest;
    use flate2::Compression;
    use flate2::write::GzEncoder;

    fn add(tar: &mut tar::Builder<Vec<u8>>, name: &str, data: &[u8]) {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        tar.append_data(&mut h, name, data).unwrap();
    }

    fn symlink(tar: &mut tar::Builder<Vec<u8>>, name: &str, target: &str) {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        tar.append_link(&mut h, name, target).unwrap();
    }

    fn layer_tar(content: &[u8]) -> Vec<u8> {
        let mut t = tar::Builder::new(Vec::new());
        add(&mut t, "file", content);
        t.into_inner().unwrap()
    }

    fn config(diff_ids: &[&str]) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({"rootfs": {"type": "layers", "diff_ids": diff_ids}}))
            .unwrap()
    }

    #[test]
    fn reads_the_docker_20_layout_with_symlinked_layers() {
        let l1 = layer_tar(b"one");
        let l2 = layer_tar(b"two");
        let (d1, d2) = (sha256_digest(&l1), sha256_digest(&l2));
        let cfg = config(&[&d1, &d2, &d1]);
        let mut t = tar::Builder::new(Vec::new());
        add(&mut t, "aaa/layer.tar", &l1);
        add(&mut t, "aaa/VERSION", b"1.0");
        add(&mut t, "aaa/json", b"{\"id\":\"aaa\"}");
        add(&mut t, "bbb/layer.tar", &l2);
        symlink(&mut t, "ccc/layer.tar", "../aaa/layer.tar");
        add(&mut t, "cfg.json", &cfg);
        let manifest = serde_json::json!([{"Config": "cfg.json", "RepoTags": ["a:b"],
            "Layers": ["aaa/layer.tar", "bbb/layer.tar", "ccc/layer.tar"]}]);
        add(&mut t, "manifest.json", manifest.to_string().as_bytes());
        add(&mut t, "repositories", b"{}");
        let archive = t.into_inner().unwrap();

        let dir = tempfile::tempdir().unwrap();
        let saved = read_saved(&archive[..], dir.path(), |d| d == d2).unwrap();
        assert_eq!(
            saved.images,
            [SavedImage {
                repo_tags: vec!["a:b".into()],
                config: cfg,
                diff_ids: vec![d1.clone(), d2.clone(), d1.clone()],
            }]
        );
        assert_eq!(saved.layers.keys().collect::<Vec<_>>(), [&d2]);
        assert_eq!(std::fs::read(&saved.layers[&d2]).unwrap(), l2);
        // Nothing else is left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn gunzips_compressed_blobs_of_the_oci_layout() {
        let l1 = layer_tar(b"zipped");
        let d1 = sha256_digest(&l1);
        let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
        gz.write_all(&l1).unwrap();
        let blob = gz.finish().unwrap();
        let cfg = config(&[&d1]);
        let mut t = tar::Builder::new(Vec::new());
        add(&mut t, "blobs/sha256/1111", &blob);
        add(&mut t, "blobs/sha256/2222", &cfg);
        add(&mut t, "index.json", b"{}");
        add(&mut t, "oci-layout", b"{\"imageLayoutVersion\":\"1.0.0\"}");
        let manifest = serde_json::json!([{"Config": "blobs/sha256/2222", "RepoTags": null,
            "Layers": ["blobs/sha256/1111"]}]);
        add(&mut t, "manifest.json", manifest.to_string().as_bytes());
        let dir = tempfile::tempdir().unwrap();
        let saved = read_saved(&t.into_inner().unwrap()[..], dir.path(), |_| true).unwrap();
        assert!(saved.images[0].repo_tags.is_empty());
        assert_eq!(std::fs::read(&saved.layers[&d1]).unwrap(), l1);
    }

    #[test]
    fn rejects_layers_that_do_not_match_their_config() {
        let l1 = layer_tar(b"one");
        let wrong = sha256_digest(b"other");
        let mut t = tar::Builder::new(Vec::new());
        add(&mut t, "x/layer.tar", &l1);
        add(&mut t, "c.json", &config(&[&wrong]));
        add(
            &mut t,
            "manifest.json",
            br#"[{"Config":"c.json","RepoTags":[],"Layers":["x/layer.tar"]}]"#,
        );
        let dir = tempfile::tempdir().unwrap();
        let err = read_saved(&t.into_inner().unwrap()[..], dir.path(), |_| true).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "invalid image archive: layer x/layer.tar has diff ID {}, but the config says {wrong}",
                sha256_digest(&l1)
            )
        );
        let err = read_saved(&layer_tar(b"no manifest")[..], dir.path(), |_| true).unwrap_err();
        assert_eq!(err.to_string(), "invalid image archive: no manifest.json");
    }

    #[test]
    fn normalizes_paths() {
        assert_eq!(normalize(Path::new("./a/b/../c")), "a/c");
        assert_eq!(normalize(Path::new("/sha256:ab.tar")), "sha256:ab.tar");
    }
}

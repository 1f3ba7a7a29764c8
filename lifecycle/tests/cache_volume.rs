//! The volume cache: opening and recovery, metadata, staging by hard link, verification
//! of committed layers, commit and pruning, ownership, and a cache laid out by hand as
//! the Go lifecycle lays it out.

use std::collections::BTreeMap;
use std::fs;
use std::io::{ErrorKind, Read};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use lifecycle::cache::volume::{Owner, VolumeCache, VolumeCacheError};
use platform_api::labels::{
    BuildpackLayerMetadata, BuildpackLayersMetadata, CACHE_METADATA, CacheMetadata, LayerMetadata,
};
use sha2::{Digest, Sha256};

/// `sha256:<hex>` of `bytes`.
fn diff_id(bytes: &[u8]) -> String {
    let hex: String = Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256:{hex}")
}

/// A cache directory in a fresh temporary directory.
struct Fixture {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
}

impl Fixture {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("cache");
        fs::create_dir(&dir).unwrap();
        Fixture { _tmp: tmp, dir }
    }

    fn open(&self) -> VolumeCache {
        VolumeCache::open(&self.dir, None).unwrap()
    }

    fn committed(&self) -> PathBuf {
        self.dir.join("committed")
    }

    fn staging(&self) -> PathBuf {
        self.dir.join("staging")
    }

    /// File name -> contents of `committed/`.
    fn committed_files(&self) -> BTreeMap<String, Vec<u8>> {
        files_in(&self.committed())
    }

    /// Commits a cache holding `layers`, referenced by metadata of buildpack `bp`.
    fn commit_layers(&self, layers: &[&[u8]]) -> CacheMetadata {
        let cache = self.open();
        for layer in layers {
            cache
                .add_layer_from_reader(&mut &layer[..], &diff_id(layer))
                .unwrap();
        }
        let metadata = metadata_for(layers);
        cache.commit(Some(&metadata)).unwrap();
        metadata
    }
}

fn files_in(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fs::read_dir(dir)
        .unwrap()
        .map(|entry| {
            let entry = entry.unwrap();
            (
                entry.file_name().into_string().unwrap(),
                fs::read(entry.path()).unwrap(),
            )
        })
        .collect()
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

fn inode(path: &Path) -> u64 {
    fs::metadata(path).unwrap().ino()
}

/// Metadata with one cached layer `layer-<i>` per entry of `layers`.
fn metadata_for(layers: &[&[u8]]) -> CacheMetadata {
    let layers = layers
        .iter()
        .enumerate()
        .map(|(i, layer)| {
            (
                format!("layer-{i}"),
                BuildpackLayerMetadata {
                    sha: diff_id(layer),
                    cache: true,
                    ..Default::default()
                },
            )
        })
        .collect();
    CacheMetadata {
        sbom: LayerMetadata::default(),
        buildpacks: vec![BuildpackLayersMetadata {
            id: "example/bp".into(),
            version: "1.0.0".into(),
            layers,
            store: None,
        }],
    }
}

fn sorted(mut names: Vec<String>) -> Vec<String> {
    names.sort();
    names
}

fn layer_file(diff_id: &str) -> String {
    format!("{diff_id}.tar")
}

#[test]
fn open_needs_an_existing_directory() {
    let fixture = Fixture::new();
    let missing = fixture.dir.join("missing");
    let err = VolumeCache::open(&missing, None).unwrap_err();
    assert!(
        matches!(&err, VolumeCacheError::Io { cause, .. } if cause.kind() == ErrorKind::NotFound),
        "{err:?}"
    );
    let file = fixture.dir.join("file");
    fs::write(&file, "x").unwrap();
    assert!(VolumeCache::open(&file, None).is_err());
}

#[test]
fn open_creates_the_directories_and_drops_leftovers() {
    let fixture = Fixture::new();
    let cache = fixture.open();
    assert_eq!(cache.dir(), fixture.dir);
    assert_eq!(names_in(&fixture.dir), ["committed", "staging"]);
    assert!(names_in(&fixture.committed()).is_empty());
    drop(cache);

    // A staging directory and a backup left by a crash next to a committed cache.
    let metadata = fixture.commit_layers(&[b"kept"]);
    fs::create_dir_all(fixture.staging().join("nested")).unwrap();
    fs::write(fixture.staging().join("junk.tar"), "junk").unwrap();
    fs::create_dir(fixture.dir.join("committed-backup")).unwrap();
    fs::write(fixture.dir.join("committed-backup/old.tar"), "old").unwrap();
    let cache = fixture.open();
    assert_eq!(names_in(&fixture.dir), ["committed", "staging"]);
    assert!(names_in(&fixture.staging()).is_empty());
    assert_eq!(cache.metadata().unwrap(), metadata);
    cache.verify_layer(&diff_id(b"kept")).unwrap();
}

#[test]
fn open_puts_back_the_backup_when_committed_is_missing() {
    let fixture = Fixture::new();
    let metadata = fixture.commit_layers(&[b"one", b"two"]);
    let before = fixture.committed_files();
    // The state between the two renames of a commit.
    fs::rename(fixture.committed(), fixture.dir.join("committed-backup")).unwrap();
    fs::create_dir(fixture.staging()).unwrap();
    fs::write(fixture.staging().join(layer_file(&diff_id(b"new"))), "new").unwrap();

    let cache = fixture.open();
    assert_eq!(names_in(&fixture.dir), ["committed", "staging"]);
    assert_eq!(fixture.committed_files(), before);
    assert_eq!(cache.metadata().unwrap(), metadata);
    assert!(names_in(&fixture.staging()).is_empty());
}

#[test]
fn metadata_is_empty_when_missing_and_an_error_when_corrupt() {
    let fixture = Fixture::new();
    let cache = fixture.open();
    assert_eq!(cache.metadata().unwrap(), CacheMetadata::default());

    let path = fixture.committed().join(CACHE_METADATA);
    fs::write(&path, "garbage").unwrap();
    let err = cache.metadata().unwrap_err();
    assert!(
        matches!(&err, VolumeCacheError::Metadata { path: p, .. } if *p == path),
        "{err:?}"
    );
    assert!(!err.is_read_error());
    assert!(
        err.to_string().starts_with("reading cache metadata '"),
        "{err}"
    );

    fs::write(&path, r#"{"sbom":1}"#).unwrap();
    assert!(matches!(
        cache.metadata(),
        Err(VolumeCacheError::Metadata { .. })
    ));

    // Not a file at all: an I/O error, not empty metadata.
    fs::remove_file(&path).unwrap();
    fs::create_dir(&path).unwrap();
    assert!(matches!(cache.metadata(), Err(VolumeCacheError::Io { .. })));
}

/// A cache as the Go lifecycle leaves it: `committed/sha256:<hex>.tar` files and the
/// metadata JSON written by Go's `json.Encoder` (compact, keys in struct order, maps
/// sorted, a final newline).
#[test]
fn reads_a_cache_laid_out_by_the_reference() {
    let fixture = Fixture::new();
    let committed = fixture.committed();
    fs::create_dir(&committed).unwrap();
    let deps = b"deps layer tar".as_slice();
    let sbom = b"sbom layer tar".as_slice();
    let (deps_id, sbom_id) = (diff_id(deps), diff_id(sbom));
    fs::write(committed.join(format!("{deps_id}.tar")), deps).unwrap();
    fs::write(committed.join(format!("{sbom_id}.tar")), sbom).unwrap();
    let go_json = format!(
        concat!(
            r#"{{"sbom":{{"sha":"{sbom}"}},"buildpacks":[{{"key":"example/node","version":"1.2.3","layers":{{"#,
            r#""deps":{{"sha":"{deps}","data":{{"checksum":"abc","count":5,"url":"https://x/y?a=1\u0026b=2"}},"build":true,"launch":false,"cache":true}}}}}},"#,
            r#"{{"key":"example/empty","version":"0.1.0","layers":{{}}}}]}}"#,
            "\n"
        ),
        sbom = sbom_id,
        deps = deps_id
    );
    fs::write(committed.join(CACHE_METADATA), &go_json).unwrap();

    let cache = fixture.open();
    let metadata = cache.metadata().unwrap();
    assert_eq!(metadata.sbom.sha, sbom_id);
    let node = metadata.for_buildpack("example/node").unwrap();
    assert_eq!(node.version, "1.2.3");
    let layer = &node.layers["deps"];
    assert_eq!(layer.sha, deps_id);
    assert!(layer.build && layer.cache && !layer.launch);
    assert_eq!(layer.data["checksum"], "abc");
    assert_eq!(layer.data["url"], "https://x/y?a=1&b=2");
    assert!(
        metadata
            .for_buildpack("example/empty")
            .unwrap()
            .layers
            .is_empty()
    );

    assert!(cache.has_layer(&deps_id).unwrap());
    assert_eq!(
        cache.layer_path(&deps_id).unwrap(),
        committed.join(format!("{deps_id}.tar"))
    );
    let mut streamed = Vec::new();
    cache
        .open_layer(&sbom_id)
        .unwrap()
        .read_to_end(&mut streamed)
        .unwrap();
    assert_eq!(streamed, sbom);

    // Reusing everything and committing the same metadata writes the same bytes back.
    cache.reuse_layer(&deps_id).unwrap();
    cache.reuse_layer(&sbom_id).unwrap();
    cache.commit(Some(&metadata)).unwrap();
    let files = fixture.committed_files();
    assert_eq!(
        files.keys().cloned().collect::<Vec<_>>(),
        sorted(vec![
            CACHE_METADATA.to_string(),
            layer_file(&deps_id),
            layer_file(&sbom_id)
        ])
    );
    assert_eq!(
        String::from_utf8(files[CACHE_METADATA].clone()).unwrap(),
        go_json
    );
}

#[test]
fn added_layers_are_hard_links_to_what_the_exporter_wrote() {
    let fixture = Fixture::new();
    let cache = fixture.open();
    let first = cache.new_layer_path();
    let second = cache.new_layer_path();
    assert_ne!(first, second);
    assert_eq!(first.parent(), Some(fixture.staging().as_path()));
    assert!(!first.exists());

    fs::write(&first, b"layer one").unwrap();
    let id = diff_id(b"layer one");
    cache.add_layer(&first, &id).unwrap();
    let staged = fixture.staging().join(layer_file(&id));
    assert_eq!(inode(&staged), inode(&first));
    // The written file stays usable by the exporter until the commit.
    assert_eq!(fs::read(&first).unwrap(), b"layer one");

    // Written outside the cache (same file system): linked too.
    let outside = fixture.dir.parent().unwrap().join("outside.tar");
    fs::write(&outside, b"layer two").unwrap();
    let id2 = diff_id(b"layer two");
    cache.add_layer(&outside, &id2).unwrap();
    let ino2 = inode(&outside);
    assert_eq!(inode(&fixture.staging().join(layer_file(&id2))), ino2);

    // Adding a diffID again keeps the first file.
    fs::write(&second, b"other bytes").unwrap();
    cache.add_layer(&second, &id).unwrap();
    assert_eq!(fs::read(&staged).unwrap(), b"layer one");

    let ino1 = inode(&first);
    cache
        .commit(Some(&metadata_for(&[b"layer one", b"layer two"])))
        .unwrap();
    let committed = fixture.committed();
    assert_eq!(inode(&committed.join(layer_file(&id))), ino1);
    assert_eq!(inode(&committed.join(layer_file(&id2))), ino2);
    assert_eq!(
        names_in(&committed),
        sorted(vec![
            CACHE_METADATA.to_string(),
            layer_file(&id),
            layer_file(&id2)
        ])
    );
    // The new-layer paths are gone with the staging directory.
    assert!(!first.exists() && !second.exists());
}

#[test]
fn a_layer_on_another_file_system_is_copied() {
    let fixture = Fixture::new();
    let Ok(shm) = tempfile::tempdir_in("/dev/shm") else {
        eprintln!("no /dev/shm: cannot test copying across file systems");
        return;
    };
    if fs::metadata(shm.path()).unwrap().dev() == fs::metadata(&fixture.dir).unwrap().dev() {
        eprintln!("/dev/shm is on the cache's file system: cannot test copying");
        return;
    }
    let written = shm.path().join("layer.tar");
    fs::write(&written, b"far away").unwrap();
    let id = diff_id(b"far away");
    let cache = fixture.open();
    cache.add_layer(&written, &id).unwrap();
    cache.commit(Some(&metadata_for(&[b"far away"]))).unwrap();
    let cached = fixture.committed().join(layer_file(&id));
    assert_eq!(fs::read(&cached).unwrap(), b"far away");
    assert_ne!(inode(&cached), inode(&written));
    assert!(written.exists());
}

#[test]
fn reused_layers_are_verified_hard_links_to_the_committed_ones() {
    let fixture = Fixture::new();
    fixture.commit_layers(&[b"keep me", b"drop me"]);
    let keep = diff_id(b"keep me");
    let committed_file = fixture.committed().join(layer_file(&keep));
    let ino = inode(&committed_file);

    let cache = fixture.open();
    cache.reuse_layer(&keep).unwrap();
    assert_eq!(inode(&fixture.staging().join(layer_file(&keep))), ino);
    // Reusing twice is fine.
    cache.reuse_layer(&keep).unwrap();
    cache.commit(Some(&metadata_for(&[b"keep me"]))).unwrap();
    assert_eq!(inode(&committed_file), ino);
    assert_eq!(fs::metadata(&committed_file).unwrap().nlink(), 1);
    assert_eq!(
        names_in(&fixture.committed()),
        [CACHE_METADATA.to_string(), layer_file(&keep)]
    );
}

#[test]
fn corrupted_layers_are_read_errors() {
    let fixture = Fixture::new();
    fixture.commit_layers(&[b"original contents", b"truncated contents"]);
    let id = diff_id(b"original contents");
    let truncated = diff_id(b"truncated contents");
    fs::write(
        fixture.committed().join(layer_file(&id)),
        b"tampered contents",
    )
    .unwrap();
    fs::write(fixture.committed().join(layer_file(&truncated)), b"trunc").unwrap();
    let cache = fixture.open();
    let found = diff_id(b"tampered contents");

    let err = cache.verify_layer(&id).unwrap_err();
    assert!(err.is_read_error());
    assert_eq!(
        err.to_string(),
        format!("expected layer contents to have SHA '{id}'; found '{found}'")
    );
    match &err {
        VolumeCacheError::LayerCorrupt { diff_id, found: f } => {
            assert_eq!(*diff_id, id);
            assert_eq!(*f, found);
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        cache.verify_layer(&truncated),
        Err(VolumeCacheError::LayerCorrupt { .. })
    ));

    // Reuse refuses it and stages nothing.
    let err = cache.reuse_layer(&id).unwrap_err();
    assert!(
        matches!(err, VolumeCacheError::LayerCorrupt { .. }),
        "{err:?}"
    );
    assert!(names_in(&fixture.staging()).is_empty());

    // Streaming: the read that reaches the end fails, carrying the typed error.
    let mut reader = cache.open_layer(&id).unwrap();
    assert_eq!(reader.diff_id(), id);
    let mut out = Vec::new();
    let err = reader.read_to_end(&mut out).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidData);
    let inner = err
        .get_ref()
        .and_then(|e| e.downcast_ref::<VolumeCacheError>())
        .unwrap();
    assert!(matches!(inner, VolumeCacheError::LayerCorrupt { found: f, .. } if *f == found));
    assert_eq!(out, b"tampered contents");
    // The verdict stays the same.
    assert!(reader.read(&mut [0; 8]).is_err());
    assert!(matches!(
        reader.finish(),
        Err(VolumeCacheError::LayerCorrupt { .. })
    ));

    // A consumer that stops early learns it from finish().
    let mut reader = cache.open_layer(&id).unwrap();
    let mut head = [0; 4];
    reader.read_exact(&mut head).unwrap();
    assert!(matches!(
        reader.finish(),
        Err(VolumeCacheError::LayerCorrupt { .. })
    ));
}

#[test]
fn sound_layers_stream_and_finish_cleanly() {
    let fixture = Fixture::new();
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    fixture.commit_layers(&[&big]);
    let cache = fixture.open();
    let id = diff_id(&big);
    let mut reader = cache.open_layer(&id).unwrap();
    let mut out = Vec::new();
    reader.read_to_end(&mut out).unwrap();
    assert!(out == big);
    reader.finish().unwrap();

    let mut reader = cache.open_layer(&id).unwrap();
    let mut head = vec![0; 1000];
    reader.read_exact(&mut head).unwrap();
    assert_eq!(head, big[..1000]);
    reader.finish().unwrap();
    cache.verify_layer(&id).unwrap();
}

#[test]
fn missing_layers_are_read_errors() {
    let fixture = Fixture::new();
    let cache = fixture.open();
    let id = diff_id(b"never cached");
    let message = format!("failed to find cache layer with SHA '{id}'");
    for err in [
        cache.verify_layer(&id).unwrap_err(),
        cache.open_layer(&id).unwrap_err(),
        cache.reuse_layer(&id).unwrap_err(),
        cache.layer_path(&id).unwrap_err(),
    ] {
        assert!(
            matches!(err, VolumeCacheError::LayerNotFound { .. }),
            "{err:?}"
        );
        assert!(err.is_read_error());
        assert_eq!(err.to_string(), message);
    }
    assert!(!cache.has_layer(&id).unwrap());

    // Something that is not a diffID names no layer and no path outside the cache.
    fs::write(fixture.dir.join("escape.tar"), "x").unwrap();
    for bad in ["../escape", "sha256:ABC", "some-sha", ""] {
        assert!(!cache.has_layer(bad).unwrap());
        assert!(matches!(
            cache.open_layer(bad),
            Err(VolumeCacheError::LayerNotFound { .. })
        ));
        let err = cache
            .add_layer(&fixture.dir.join("escape.tar"), bad)
            .unwrap_err();
        assert!(matches!(err, VolumeCacheError::InvalidDiffId(_)), "{err:?}");
        assert!(!err.is_read_error());
        assert!(matches!(
            cache.add_layer_from_reader(&mut &b"x"[..], bad),
            Err(VolumeCacheError::InvalidDiffId(_))
        ));
    }
    assert!(names_in(&fixture.staging()).is_empty());
}

#[test]
fn a_layer_read_from_a_stream_must_match_its_diff_id() {
    let fixture = Fixture::new();
    let cache = fixture.open();
    let claimed = diff_id(b"claimed");
    let err = cache
        .add_layer_from_reader(&mut &b"actual"[..], &claimed)
        .unwrap_err();
    match &err {
        VolumeCacheError::LayerMismatch { diff_id: d, found } => {
            assert_eq!(*d, claimed);
            assert_eq!(*found, diff_id(b"actual"));
        }
        other => panic!("{other:?}"),
    }
    assert!(names_in(&fixture.staging()).is_empty());

    // A failing reader stages nothing either.
    struct Failing;
    impl Read for Failing {
        fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("daemon went away"))
        }
    }
    let err = cache
        .add_layer_from_reader(&mut Failing, &claimed)
        .unwrap_err();
    assert!(
        matches!(&err, VolumeCacheError::Io { cause, .. } if cause.to_string() == "daemon went away"),
        "{err:?}"
    );
    assert!(!err.is_read_error());
    cache.commit(None).unwrap();
    assert!(names_in(&fixture.committed()).is_empty());

    let cache = fixture.open();
    let id = diff_id(b"actual");
    cache
        .add_layer_from_reader(&mut &b"actual"[..], &id)
        .unwrap();
    assert_eq!(names_in(&fixture.staging()), [layer_file(&id)]);
}

#[test]
fn commit_keeps_only_what_the_metadata_references() {
    let fixture = Fixture::new();
    fixture.commit_layers(&[b"a", b"b"]);
    let cache = fixture.open();
    let (a, c, d, sbom) = (
        diff_id(b"a"),
        diff_id(b"c"),
        diff_id(b"d"),
        diff_id(b"sbom"),
    );
    cache.reuse_layer(&a).unwrap();
    cache.reuse_layer(&diff_id(b"b")).unwrap();
    cache.add_layer_from_reader(&mut &b"c"[..], &c).unwrap();
    cache.add_layer_from_reader(&mut &b"d"[..], &d).unwrap();
    cache
        .add_layer_from_reader(&mut &b"sbom"[..], &sbom)
        .unwrap();
    let leftover = cache.new_layer_path();
    fs::write(&leftover, "written but never added").unwrap();

    let mut metadata = metadata_for(&[b"a", b"c"]);
    metadata.sbom.sha = sbom.clone();
    cache.commit(Some(&metadata)).unwrap();

    let files = fixture.committed_files();
    let mut expected = vec![
        CACHE_METADATA.to_string(),
        layer_file(&a),
        layer_file(&c),
        layer_file(&sbom),
    ];
    expected.sort();
    assert_eq!(files.keys().cloned().collect::<Vec<_>>(), expected);
    assert_eq!(files[&layer_file(&c)], b"c");
    assert_eq!(
        files[CACHE_METADATA],
        format!("{}\n", metadata.to_json().unwrap()).into_bytes()
    );
    assert_eq!(names_in(&fixture.dir), ["committed"]);

    let cache = fixture.open();
    assert_eq!(cache.metadata().unwrap(), metadata);
    for id in [&a, &c, &sbom] {
        cache.verify_layer(id).unwrap();
    }
    assert!(!cache.has_layer(&d).unwrap());
}

#[test]
fn commit_without_metadata_keeps_every_staged_layer() {
    // The launch cache: layers only, no metadata file.
    let fixture = Fixture::new();
    fixture.commit_layers(&[b"old"]);
    let cache = fixture.open();
    let written = cache.new_layer_path();
    fs::write(&written, "new").unwrap();
    cache.add_layer(&written, &diff_id(b"new")).unwrap();
    cache.reuse_layer(&diff_id(b"old")).unwrap();
    let unused = cache.new_layer_path();
    fs::write(&unused, "unused").unwrap();
    cache.commit(None).unwrap();

    let mut expected = vec![layer_file(&diff_id(b"new")), layer_file(&diff_id(b"old"))];
    expected.sort();
    assert_eq!(names_in(&fixture.committed()), expected);
    assert_eq!(fixture.open().metadata().unwrap(), CacheMetadata::default());
}

#[test]
fn commit_works_when_committed_vanished() {
    let fixture = Fixture::new();
    let cache = fixture.open();
    cache
        .add_layer_from_reader(&mut &b"x"[..], &diff_id(b"x"))
        .unwrap();
    fs::remove_dir(fixture.committed()).unwrap();
    cache.commit(Some(&metadata_for(&[b"x"]))).unwrap();
    assert_eq!(
        names_in(&fixture.committed()),
        [CACHE_METADATA.to_string(), layer_file(&diff_id(b"x"))]
    );
}

#[test]
fn a_failed_swap_puts_the_old_cache_back() {
    let fixture = Fixture::new();
    let metadata = fixture.commit_layers(&[b"old"]);
    let before = fixture.committed_files();
    let cache = fixture.open();
    cache
        .add_layer_from_reader(&mut &b"new"[..], &diff_id(b"new"))
        .unwrap();
    // Replacing staging with a file makes the second rename fail (ENOTDIR) after the
    // first one moved committed/ away; the old cache must come back.
    fs::rename(fixture.staging(), fixture.dir.join("elsewhere")).unwrap();
    let err = cache.commit(Some(&metadata_for(&[b"new"]))).unwrap_err();
    assert!(matches!(err, VolumeCacheError::Io { .. }), "{err:?}");
    assert_eq!(fixture.committed_files(), before);
    assert!(!fixture.dir.join("committed-backup").exists());
    assert_eq!(fixture.open().metadata().unwrap(), metadata);
}

#[test]
fn created_entries_belong_to_the_given_owner() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("needs root to give files away");
        return;
    }
    let fixture = Fixture::new();
    let owner = Owner {
        uid: 4242,
        gid: 4343,
    };
    let owned = |path: &Path| {
        let meta = fs::symlink_metadata(path).unwrap();
        (meta.uid(), meta.gid()) == (owner.uid, owner.gid)
    };
    let cache = VolumeCache::open(&fixture.dir, Some(owner)).unwrap();
    assert!(owned(&fixture.staging()));
    assert!(owned(&fixture.committed()));
    let written = cache.new_layer_path();
    fs::write(&written, "root wrote this").unwrap();
    cache
        .add_layer(&written, &diff_id(b"root wrote this"))
        .unwrap();
    cache
        .add_layer_from_reader(&mut &b"streamed"[..], &diff_id(b"streamed"))
        .unwrap();
    cache
        .commit(Some(&metadata_for(&[b"root wrote this", b"streamed"])))
        .unwrap();
    assert!(owned(&fixture.committed()));
    for name in names_in(&fixture.committed()) {
        assert!(owned(&fixture.committed().join(&name)), "{name}");
    }
    // Without an owner, entries belong to the process (root here), as in the reference.
    let cache = VolumeCache::open(&fixture.dir, None).unwrap();
    assert_eq!(fs::metadata(fixture.staging()).unwrap().uid(), 0);
    drop(cache);
}

#[test]
fn layers_can_be_staged_from_several_threads() {
    let fixture = Fixture::new();
    let contents: Vec<Vec<u8>> = (0..16).map(|i| format!("layer {i}").into_bytes()).collect();
    let cache = fixture.open();
    std::thread::scope(|scope| {
        for (i, layer) in contents.iter().enumerate() {
            let cache = &cache;
            scope.spawn(move || {
                if i % 2 == 0 {
                    let path = cache.new_layer_path();
                    fs::write(&path, layer).unwrap();
                    cache.add_layer(&path, &diff_id(layer)).unwrap();
                } else {
                    cache
                        .add_layer_from_reader(&mut &layer[..], &diff_id(layer))
                        .unwrap();
                }
            });
        }
    });
    let refs: Vec<&[u8]> = contents.iter().map(Vec::as_slice).collect();
    cache.commit(Some(&metadata_for(&refs))).unwrap();
    let cache = fixture.open();
    for layer in &contents {
        cache.verify_layer(&diff_id(layer)).unwrap();
    }
    assert_eq!(names_in(&fixture.committed()).len(), contents.len() + 1);
}

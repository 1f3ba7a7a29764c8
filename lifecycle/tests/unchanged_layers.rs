//! Layers restored from a tar and left alone are proven unchanged by their file index
//! without being read; every way of changing a restored layer (even with its size and
//! times put back) makes the proof fail, so the exporter hashes it. The volume cache's
//! verification stamps spare a second read of a tar verified in the same build, and
//! never outlive a change of it.

use std::fs::{self, File, FileTimes};
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt, lchown, symlink};
use std::path::{Path, PathBuf};

use lifecycle::cache::volume::VolumeCache;
use lifecycle::layer::extract::{ExtractOptions, extract};
use lifecycle::layer::{LayerOutputs, LayerSource, Owner, diff_id, write_layer};
use lifecycle::unchanged::LayerIndex;
use proptest::prelude::*;

const OWNER: Owner = Owner {
    uid: 2222,
    gid: 3333,
};
const BP: &str = "test/bp";
const NAME: &str = "layer";
const DIRS: [&str; 3] = ["", "d1", "d1/d2"];

/// A file of the layer: name, index into [`DIRS`], size, seed of its contents.
type FileSpec = (String, usize, usize, u8);

/// A layer written as a tar by the layer pipeline, then restored from that tar into a
/// fresh directory at the same path and recorded in the layer index, as the restorer
/// does.
struct Restored {
    tmp: tempfile::TempDir,
    layer: PathBuf,
    index: LayerIndex,
    diff_id: String,
}

impl Restored {
    fn new(files: &[FileSpec]) -> Restored {
        let tmp = tempfile::tempdir().unwrap();
        let layers = tmp.path().join("layers");
        let layer = layers.join("test_bp").join(NAME);
        for dir in DIRS {
            fs::create_dir_all(layer.join(dir)).unwrap();
        }
        for (name, dir, size, seed) in files {
            let data: Vec<u8> = (0..*size).map(|i| (i as u8).wrapping_mul(*seed)).collect();
            fs::write(layer.join(DIRS[*dir]).join(name), data).unwrap();
        }
        symlink("target-aaaa", layer.join("d1/link")).unwrap();
        let tar = tmp.path().join("layer.tar");
        let outputs = LayerOutputs {
            tar_file: Some(tar.clone()),
            ..LayerOutputs::default()
        };
        let written = write_layer(&LayerSource::dir(&layer, OWNER).unwrap(), &outputs).unwrap();
        fs::remove_dir_all(&layer).unwrap();
        let report = extract(
            File::open(&tar).unwrap(),
            Path::new("/"),
            &layer,
            &ExtractOptions::default(),
        )
        .unwrap();
        let skeleton = report.skeleton.expect("the whole tar was read");
        let index = LayerIndex::new(&layers);
        assert!(
            index
                .record(&layer, OWNER, BP, NAME, &written.diff_id, &skeleton)
                .unwrap(),
            "a restored layer tars back to its diffID"
        );
        Restored {
            tmp,
            layer,
            index,
            diff_id: written.diff_id,
        }
    }

    /// What the exporter is told about the layer without reading it.
    fn unchanged(&self) -> Option<String> {
        self.index.unchanged_diff_id(&self.layer, OWNER, BP, NAME)
    }

    fn files(&self, files: &[FileSpec]) -> Vec<PathBuf> {
        files
            .iter()
            .map(|(name, dir, _, _)| self.layer.join(DIRS[*dir]).join(name))
            .collect()
    }
}

/// Writes `data` over `path` in place, then puts its modification and access times back.
fn rewrite_keeping_times(path: &Path, data: &[u8]) {
    let meta = fs::metadata(path).unwrap();
    let mut file = fs::OpenOptions::new().write(true).open(path).unwrap();
    file.write_all(data).unwrap();
    file.set_times(
        FileTimes::new()
            .set_modified(meta.modified().unwrap())
            .set_accessed(meta.accessed().unwrap()),
    )
    .unwrap();
}

/// Every byte of the file flipped: same size, other content.
fn flipped(path: &Path) -> Vec<u8> {
    fs::read(path).unwrap().iter().map(|b| !b).collect()
}

const MUTATIONS: usize = 10;

/// Applies mutation `which` to `target`, a regular file of the restored layer; says
/// what it did and whether the tar of the layer changes with it.
fn mutate(which: usize, r: &Restored, target: &Path) -> (&'static str, bool) {
    let outside = r.tmp.path();
    match which {
        0 => {
            rewrite_keeping_times(target, &flipped(target));
            ("content rewritten, same size, times restored", true)
        }
        1 => {
            let mode = fs::metadata(target).unwrap().mode();
            fs::set_permissions(target, fs::Permissions::from_mode((mode ^ 0o010) & 0o7777))
                .unwrap();
            ("chmod", true)
        }
        2 => {
            let mut renamed = target.as_os_str().to_owned();
            renamed.push("z");
            fs::rename(target, renamed).unwrap();
            ("rename", true)
        }
        3 => {
            fs::write(r.layer.join("d1/d2/new-file"), b"").unwrap();
            ("a file added", true)
        }
        4 => {
            fs::remove_file(target).unwrap();
            ("a file removed", true)
        }
        5 => {
            fs::remove_file(r.layer.join("d1/link")).unwrap();
            symlink("target-bbbb", r.layer.join("d1/link")).unwrap();
            ("symlink retargeted (same length)", true)
        }
        6 => {
            let link = outside.join("outside-link");
            fs::hard_link(target, &link).unwrap();
            // Only the link count changed: the tar holds the same bytes.
            ("hard link made from outside the layer", false)
        }
        7 => {
            let link = outside.join("outside-link");
            fs::hard_link(target, &link).unwrap();
            rewrite_keeping_times(&link, &flipped(target));
            fs::remove_file(&link).unwrap();
            (
                "written through a hard link from outside, times restored, link removed",
                true,
            )
        }
        8 => {
            let uid = fs::metadata(target).unwrap().uid();
            lchown(target, Some(uid + 1), None).unwrap();
            // The tar gives every file the layer's owner.
            ("chown", false)
        }
        9 => {
            let meta = fs::metadata(target).unwrap();
            let copy = outside.join("copy");
            fs::copy(target, &copy).unwrap();
            File::options()
                .write(true)
                .open(&copy)
                .unwrap()
                .set_times(FileTimes::new().set_modified(meta.modified().unwrap()))
                .unwrap();
            lchown(&copy, Some(meta.uid()), Some(meta.gid())).unwrap();
            fs::rename(&copy, target).unwrap();
            (
                "replaced by an identical copy (another inode, same mtime)",
                false,
            )
        }
        _ => unreachable!(),
    }
}

fn files_strategy() -> impl Strategy<Value = Vec<FileSpec>> {
    prop::collection::btree_map("[a-d]{1,3}", (0..DIRS.len(), 1usize..8192, 1u8..=255), 1..8)
        .prop_map(|files| {
            files
                .into_iter()
                .map(|(name, (dir, size, seed))| (name, dir, size, seed))
                .collect()
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn an_untouched_restored_layer_is_proven_unchanged(files in files_strategy()) {
        let r = Restored::new(&files);
        // Reading the files (as a buildpack checking them would) changes nothing.
        for file in r.files(&files) {
            fs::read(file).unwrap();
        }
        prop_assert_eq!(r.unchanged(), Some(r.diff_id.clone()));
    }

    #[test]
    fn every_mutation_of_a_restored_layer_is_detected(
        files in files_strategy(),
        which in 0..MUTATIONS,
        pick in any::<prop::sample::Index>(),
    ) {
        let r = Restored::new(&files);
        prop_assert_eq!(r.unchanged(), Some(r.diff_id.clone()));
        let targets = r.files(&files);
        let (what, tar_changes) = mutate(which, &r, pick.get::<PathBuf>(&targets));
        prop_assert_eq!(r.unchanged(), None, "not detected: {}", what);
        // So the exporter hashes it, and finds what really changed.
        let hashed = diff_id(&LayerSource::dir(&r.layer, OWNER).unwrap()).unwrap();
        prop_assert_eq!(hashed != r.diff_id, tar_changes, "{}", what);
    }
}

#[test]
fn each_mutation_of_each_file_is_detected() {
    let files: Vec<FileSpec> = vec![
        ("a".into(), 0, 300, 3),
        ("b".into(), 1, 4096, 5),
        ("c".into(), 2, 1, 7),
    ];
    for which in 0..MUTATIONS {
        for target in 0..files.len() {
            let r = Restored::new(&files);
            let (what, _) = mutate(which, &r, &r.files(&files)[target]);
            assert_eq!(r.unchanged(), None, "not detected: {what}");
        }
    }
}

#[test]
fn a_layer_whose_tar_was_in_another_form_is_not_recorded() {
    let files: Vec<FileSpec> = vec![("a".into(), 0, 100, 3)];
    let r = Restored::new(&files);
    let other = "sha256:0000000000000000000000000000000000000000000000000000000000000000";
    let diff_id = r.unchanged().expect("recorded when restored");
    assert!(
        !r.index
            .record(&r.layer, OWNER, BP, NAME, &diff_id, other)
            .unwrap()
    );
    assert!(!r.index.path(BP, NAME).exists(), "the older record is gone");
    assert_eq!(r.unchanged(), None);
}

/// A volume cache holding one committed layer, with stamps kept in `stamps`.
fn cache_with(contents: &[u8]) -> (tempfile::TempDir, PathBuf, String) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("cache");
    fs::create_dir(&dir).unwrap();
    let cache = VolumeCache::open(&dir, None).unwrap();
    let id = {
        use sha2::Digest;
        let hex: String = sha2::Sha256::digest(contents)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        format!("sha256:{hex}")
    };
    cache
        .add_layer_from_reader(&mut &contents[..], &id)
        .unwrap();
    let mut metadata = platform_api::labels::CacheMetadata::default();
    metadata.sbom.sha = id.clone();
    cache.commit(Some(&metadata)).unwrap();
    (tmp, dir, id)
}

/// Number of bytes this thread has read through `read(2)` and friends.
fn bytes_read() -> u64 {
    let io = fs::read_to_string("/proc/thread-self/io").unwrap();
    io.lines()
        .find_map(|l| l.strip_prefix("rchar: "))
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn a_tar_read_whole_in_this_build_is_not_read_again() {
    let contents: Vec<u8> = (0..4_000_000u32).map(|i| (i % 253) as u8).collect();
    let (tmp, dir, id) = cache_with(&contents);
    let stamps = tmp.path().join("layers/.fingerprints/.cache-verified");
    let cache = VolumeCache::open(&dir, None).unwrap().with_stamps(&stamps);

    // The restorer streams it to its end: stamped.
    let mut reader = cache.open_layer(&id).unwrap();
    let mut out = Vec::new();
    reader.read_to_end(&mut out).unwrap();
    reader.finish().unwrap();
    assert!(stamps.join(&id).is_file());

    let before = bytes_read();
    cache.verify_layer(&id).unwrap();
    cache.reuse_layer(&id).unwrap();
    assert!(bytes_read() - before < 100_000, "the tar was read again");

    // Without stamps, or in another build, it is read again.
    let unstamped = VolumeCache::open(&dir, None).unwrap();
    let before = bytes_read();
    unstamped.verify_layer(&id).unwrap();
    assert!(bytes_read() - before >= contents.len() as u64);
    drop(unstamped);

    // The commit removes the stamps.
    let cache = VolumeCache::open(&dir, None).unwrap().with_stamps(&stamps);
    cache.verify_layer(&id).unwrap();
    assert!(stamps.join(&id).is_file());
    cache.reuse_layer(&id).unwrap();
    let mut metadata = platform_api::labels::CacheMetadata::default();
    metadata.sbom.sha = id.clone();
    cache.commit(Some(&metadata)).unwrap();
    assert!(!stamps.exists());
    // The cache directory is laid out as the reference's.
    let mut names: Vec<_> = fs::read_dir(dir.join("committed"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "io.buildpacks.lifecycle.cache.metadata".to_string(),
            format!("{id}.tar")
        ]
    );
}

#[test]
fn a_stamp_never_outlives_a_change_of_the_tar() {
    let contents = b"the original layer tar contents".to_vec();
    let (tmp, dir, id) = cache_with(&contents);
    let stamps = tmp.path().join("stamps");
    let tar = dir.join("committed").join(format!("{id}.tar"));
    let stamp = stamps.join(&id);
    let stamped = || {
        let cache = VolumeCache::open(&dir, None).unwrap().with_stamps(&stamps);
        cache.verify_layer(&id).unwrap();
        assert!(stamp.is_file());
        cache
    };

    // Rewritten in place with the same size and mtime: the change time moved.
    let cache = stamped();
    rewrite_keeping_times(&tar, &flipped(&tar));
    assert!(cache.verify_layer(&id).unwrap_err().is_read_error());
    rewrite_keeping_times(&tar, &contents);

    // Replaced (renamed over) by a file of the same size and mtime but other contents:
    // another inode.
    let cache = stamped();
    let copy = tmp.path().join("copy");
    fs::write(&copy, flipped(&tar)).unwrap();
    let mtime = fs::metadata(&tar).unwrap().modified().unwrap();
    File::options()
        .write(true)
        .open(&copy)
        .unwrap()
        .set_times(FileTimes::new().set_modified(mtime))
        .unwrap();
    fs::rename(&copy, &tar).unwrap();
    assert!(cache.verify_layer(&id).unwrap_err().is_read_error());
    fs::write(&tar, &contents).unwrap();

    // A damaged, truncated or foreign stamp holds nothing: the tar is read again.
    for damage in [
        |b: &mut Vec<u8>| b[20] ^= 1,
        |b: &mut Vec<u8>| b.truncate(b.len() - 1),
        |b: &mut Vec<u8>| b.push(b'\n'),
        |b: &mut Vec<u8>| *b = b"{\"sha\":\"ok\"}".to_vec(),
    ] {
        let cache = stamped();
        let mut bytes = fs::read(&stamp).unwrap();
        damage(&mut bytes);
        fs::write(&stamp, &bytes).unwrap();
        let before = bytes_read();
        cache.verify_layer(&id).unwrap();
        assert!(bytes_read() - before >= contents.len() as u64);
    }

    // A stamp for another diffID does not vouch for this one.
    let cache = stamped();
    let other = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
    fs::copy(&stamp, stamps.join(other)).unwrap();
    fs::copy(&tar, dir.join("committed").join(format!("{other}.tar"))).unwrap();
    assert!(cache.verify_layer(other).unwrap_err().is_read_error());
}

#[test]
fn a_tar_of_the_same_files_in_another_format_is_not_recorded() {
    // GNU tar writes the same files with other header fields (times, owner names,
    // magic), so the directory would not tar back to that tar: no record.
    let tmp = tempfile::tempdir().unwrap();
    let layers = tmp.path().join("layers");
    let layer = layers.join("test_bp").join(NAME);
    fs::create_dir_all(layer.join("d1")).unwrap();
    fs::write(layer.join("d1/file"), b"same contents").unwrap();
    let tar = tmp.path().join("gnu.tar");
    let rel = layer.strip_prefix("/").unwrap();
    let status = std::process::Command::new("tar")
        .arg("-C")
        .arg("/")
        .arg("-cf")
        .arg(&tar)
        .arg(rel)
        .status()
        .unwrap();
    assert!(status.success());
    let gnu_diff_id = format!("sha256:{}", sha256_hex(&fs::read(&tar).unwrap()));
    fs::remove_dir_all(&layer).unwrap();
    let report = extract(
        File::open(&tar).unwrap(),
        Path::new("/"),
        &layer,
        &ExtractOptions::default(),
    )
    .unwrap();
    assert_eq!(fs::read(layer.join("d1/file")).unwrap(), b"same contents");
    let index = LayerIndex::new(&layers);
    let skeleton = report.skeleton.expect("the whole tar was read");
    assert!(
        !index
            .record(&layer, OWNER, BP, NAME, &gnu_diff_id, &skeleton)
            .unwrap()
    );
    assert_eq!(index.unchanged_diff_id(&layer, OWNER, BP, NAME), None);
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

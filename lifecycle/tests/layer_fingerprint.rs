//! Layer fingerprints: every way of changing a layer directory after its fingerprint was
//! taken is detected (even right after it was taken, in the same clock tick), an
//! untouched directory matches, and a saved fingerprint that is damaged, foreign or of
//! another version never does.
//!
//! The `fingerprint_vs_diff_id` measurement compares a fingerprint check with hashing
//! the same 1 GiB, 10,000-file tree; run it in release:
//!
//! ```sh
//! cargo test -p lifecycle --release --test layer_fingerprint -- --ignored --nocapture
//! ```

use std::fs::{self, File, FileTimes};
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt, lchown, symlink};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use lifecycle::layer::fingerprint::Fingerprint;
use lifecycle::layer::{LayerSource, Owner, diff_id};
use proptest::prelude::*;
use sha2::{Digest, Sha256};

const OWNER: Owner = Owner {
    uid: 1000,
    gid: 1001,
};
const SETTLE: Duration = Duration::from_secs(5);
const DIRS: [&str; 3] = ["", "d1", "d1/d2"];

/// A layer directory `layer` in a fresh temporary directory, with `files` (name, index
/// into [`DIRS`], size, seed) and a symlink.
fn make_tree(files: &[(String, usize, usize, u8)]) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let layer = tmp.path().join("layers/bp/layer");
    for dir in DIRS {
        fs::create_dir_all(layer.join(dir)).unwrap();
    }
    for (name, dir, size, seed) in files {
        let data: Vec<u8> = (0..*size).map(|i| (i as u8).wrapping_mul(*seed)).collect();
        fs::write(layer.join(DIRS[*dir]).join(name), data).unwrap();
    }
    symlink("target-aaaa", layer.join("d1/link")).unwrap();
    (tmp, layer)
}

/// The regular files of the tree.
fn regular_files(files: &[(String, usize, usize, u8)], layer: &Path) -> Vec<PathBuf> {
    files
        .iter()
        .map(|(name, dir, _, _)| layer.join(DIRS[*dir]).join(name))
        .collect()
}

/// Writes `data` over `path` in place, then puts its modification and access times back.
fn rewrite_keeping_times(path: &Path, data: &[u8], truncate_first: bool) {
    let meta = fs::metadata(path).unwrap();
    let mut file = fs::OpenOptions::new().write(true).open(path).unwrap();
    if truncate_first {
        file.set_len(0).unwrap();
    }
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

const MUTATIONS: usize = 12;

/// Applies mutation `which` to `target` (a regular file of the tree rooted at `layer`).
fn mutate(which: usize, layer: &Path, target: &Path, outside: &Path) -> &'static str {
    match which {
        0 => {
            rewrite_keeping_times(target, &flipped(target), false);
            "content rewritten, same size, times restored"
        }
        1 => {
            let mode = fs::metadata(target).unwrap().mode();
            fs::set_permissions(target, fs::Permissions::from_mode((mode ^ 0o010) & 0o7777))
                .unwrap();
            "chmod"
        }
        2 => {
            let uid = fs::metadata(target).unwrap().uid();
            lchown(target, Some(uid + 1), None).unwrap();
            "chown"
        }
        3 => {
            let mut renamed = target.as_os_str().to_owned();
            renamed.push("z");
            fs::rename(target, renamed).unwrap();
            "rename"
        }
        4 => {
            fs::write(layer.join("d1/d2/new-file"), b"").unwrap();
            "add a file"
        }
        5 => {
            fs::remove_file(target).unwrap();
            "remove a file"
        }
        6 => {
            fs::remove_file(layer.join("d1/link")).unwrap();
            symlink("target-bbbb", layer.join("d1/link")).unwrap();
            "symlink retargeted (same length)"
        }
        7 => {
            fs::hard_link(target, layer.join("hard-link")).unwrap();
            "hard link added in the layer"
        }
        8 => {
            rewrite_keeping_times(target, &flipped(target), true);
            "truncated and rewritten, same size, times restored"
        }
        9 => {
            let dir = target.parent().unwrap();
            let modified = fs::metadata(dir).unwrap().modified().unwrap();
            File::open(dir)
                .unwrap()
                .set_times(FileTimes::new().set_modified(modified))
                .unwrap();
            "directory touched with its own mtime"
        }
        10 => {
            let link = outside.join("outside-link");
            fs::hard_link(target, &link).unwrap();
            rewrite_keeping_times(&link, &flipped(target), false);
            "written through a hard link outside the layer, times restored"
        }
        11 => {
            let meta = fs::metadata(target).unwrap();
            let copy = outside.join("copy");
            fs::copy(target, &copy).unwrap();
            File::options()
                .write(true)
                .open(&copy)
                .unwrap()
                .set_times(FileTimes::new().set_modified(meta.modified().unwrap()))
                .unwrap();
            fs::rename(&copy, target).unwrap();
            "replaced by an identical copy with the same mtime"
        }
        _ => unreachable!(),
    }
}

#[test]
fn each_mutation_is_detected_right_after_the_fingerprint() {
    let files = [
        ("a".to_string(), 0, 300, 3),
        ("b".to_string(), 1, 4096, 5),
        ("c".to_string(), 2, 1, 7),
    ];
    for which in 0..MUTATIONS {
        for target in 0..files.len() {
            let (tmp, layer) = make_tree(&files);
            let saved = Fingerprint::take_settled(&layer, OWNER, SETTLE).unwrap();
            assert!(saved.matches(&Fingerprint::take(&layer, OWNER).unwrap()));
            let targets = regular_files(&files, &layer);
            let what = mutate(which, &layer, &targets[target], tmp.path());
            let current = Fingerprint::take(&layer, OWNER).unwrap();
            assert!(!saved.matches(&current), "not detected: {what}");
        }
    }
}

fn files_strategy() -> impl Strategy<Value = Vec<(String, usize, usize, u8)>> {
    prop::collection::btree_map("[a-d]{1,3}", (0..DIRS.len(), 1usize..4096, 1u8..=255), 1..8)
        .prop_map(|files| {
            files
                .into_iter()
                .map(|(name, (dir, size, seed))| (name, dir, size, seed))
                .collect()
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn every_mutation_is_detected(
        files in files_strategy(),
        which in 0..MUTATIONS,
        pick in any::<prop::sample::Index>(),
    ) {
        let (tmp, layer) = make_tree(&files);
        let saved = Fingerprint::take_settled(&layer, OWNER, SETTLE).unwrap();
        prop_assert!(saved.is_settled());
        prop_assert!(saved.matches(&Fingerprint::take(&layer, OWNER).unwrap()));
        // Mutated at once: in the same clock tick as the walk more often than not.
        let targets = regular_files(&files, &layer);
        let target = pick.get(&targets);
        let what = mutate(which, &layer, target, tmp.path());
        let current = Fingerprint::take(&layer, OWNER).unwrap();
        prop_assert!(!saved.matches(&current), "not detected: {}", what);
    }

    #[test]
    fn an_untouched_tree_matches_after_a_round_trip(files in files_strategy()) {
        let (tmp, layer) = make_tree(&files);
        let saved = Fingerprint::take_settled(&layer, OWNER, SETTLE).unwrap();
        let file = tmp.path().join("fingerprint");
        saved.write("sha256:abc", &file).unwrap();
        let (read, id) = Fingerprint::read(&file).unwrap();
        prop_assert_eq!(&read, &saved);
        prop_assert_eq!(id, "sha256:abc");
        // Reading files changes nothing that counts.
        for target in regular_files(&files, &layer) {
            fs::read(target).unwrap();
        }
        prop_assert!(read.matches(&Fingerprint::take(&layer, OWNER).unwrap()));
        prop_assert_eq!(
            Fingerprint::unchanged_diff_id(&layer, OWNER, &file),
            Some("sha256:abc".to_string())
        );
    }

    #[test]
    fn a_truncated_or_corrupt_file_never_reads(
        files in files_strategy(),
        cut in any::<prop::sample::Index>(),
        flip in any::<prop::sample::Index>(),
        xor in 1u8..=255,
    ) {
        let (tmp, layer) = make_tree(&files);
        let saved = Fingerprint::take_settled(&layer, OWNER, SETTLE).unwrap();
        let file = tmp.path().join("fingerprint");
        saved.write("sha256:abc", &file).unwrap();
        let bytes = fs::read(&file).unwrap();
        let damaged = tmp.path().join("damaged");

        fs::write(&damaged, &bytes[..cut.index(bytes.len())]).unwrap();
        prop_assert!(Fingerprint::read(&damaged).is_none());
        prop_assert!(Fingerprint::unchanged_diff_id(&layer, OWNER, &damaged).is_none());

        let mut corrupt = bytes.clone();
        corrupt[flip.index(bytes.len())] ^= xor;
        fs::write(&damaged, &corrupt).unwrap();
        prop_assert!(Fingerprint::read(&damaged).is_none());
        prop_assert!(Fingerprint::unchanged_diff_id(&layer, OWNER, &damaged).is_none());
    }
}

/// `bytes` with its body changed by `edit` and the checksum recomputed.
fn rechecksummed(bytes: &[u8], edit: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut body = bytes[..bytes.len() - 32].to_vec();
    edit(&mut body);
    let checksum = Sha256::digest(&body);
    body.extend_from_slice(&checksum);
    body
}

#[test]
fn foreign_files_and_other_versions_never_read() {
    let files = [("a".to_string(), 0, 10, 3)];
    let (tmp, layer) = make_tree(&files);
    let saved = Fingerprint::take_settled(&layer, OWNER, SETTLE).unwrap();
    let file = tmp.path().join("fingerprint");
    saved.write("sha256:abc", &file).unwrap();
    let bytes = fs::read(&file).unwrap();
    let other = tmp.path().join("other");
    let reads = |contents: &[u8]| {
        fs::write(&other, contents).unwrap();
        Fingerprint::read(&other).is_some()
    };
    // The edits below are meaningful: an unedited body with a new checksum still reads.
    assert!(reads(&rechecksummed(&bytes, |_| {})));
    // Another format version (the byte after the magic).
    assert!(!reads(&rechecksummed(&bytes, |b| b[8] += 1)));
    // Another lifecycle version (its length, then its first byte).
    assert!(!reads(&rechecksummed(&bytes, |b| b[10] ^= 1)));
    // Another magic.
    assert!(!reads(&rechecksummed(&bytes, |b| b[0] ^= 0x20)));
    // Trailing bytes.
    assert!(!reads(&rechecksummed(&bytes, |b| b.push(0))));
    // Foreign files.
    assert!(!reads(b""));
    assert!(!reads(b"{\"diffID\":\"sha256:abc\"}"));
    assert!(!reads(&[0u8; 4096]));
    assert!(!reads(&Sha256::digest(b"")));
    assert!(Fingerprint::read(&tmp.path().join("missing")).is_none());
    assert!(Fingerprint::read(tmp.path()).is_none());
}

#[test]
fn the_layer_path_and_owner_are_part_of_the_fingerprint() {
    let files = [("a".to_string(), 1, 100, 7)];
    let (tmp, layer) = make_tree(&files);
    let saved = Fingerprint::take_settled(&layer, OWNER, SETTLE).unwrap();
    let other_owner = Owner { uid: 0, gid: 0 };
    assert!(!saved.matches(&Fingerprint::take(&layer, other_owner).unwrap()));

    // The same tree at another path: `layers` renamed, the layer's inodes untouched.
    fs::rename(tmp.path().join("layers"), tmp.path().join("moved")).unwrap();
    let moved = tmp.path().join("moved/bp/layer");
    assert!(!saved.matches(&Fingerprint::take(&moved, OWNER).unwrap()));
    fs::rename(tmp.path().join("moved"), tmp.path().join("layers")).unwrap();
    assert!(saved.matches(&Fingerprint::take(&layer, OWNER).unwrap()));

    // A parent directory's mode is in the tar, its times are not.
    let parent = tmp.path().join("layers/bp");
    let mode = fs::metadata(&parent).unwrap().mode() & 0o7777;
    fs::set_permissions(&parent, fs::Permissions::from_mode(mode ^ 0o070)).unwrap();
    assert!(!saved.matches(&Fingerprint::take(&layer, OWNER).unwrap()));
    fs::set_permissions(&parent, fs::Permissions::from_mode(mode)).unwrap();
    assert!(saved.matches(&Fingerprint::take(&layer, OWNER).unwrap()));
    fs::write(parent.join("layer.toml"), b"[types]\n").unwrap();
    assert!(saved.matches(&Fingerprint::take(&layer, OWNER).unwrap()));
}

#[test]
fn an_unsettled_fingerprint_never_matches() {
    let (_tmp, layer) = make_tree(&[]);
    fs::write(layer.join("just-written"), b"x").unwrap();
    let racy = Fingerprint::take(&layer, OWNER).unwrap();
    assert!(!racy.is_settled());
    assert!(!racy.matches(&racy.clone()));
    let settled = Fingerprint::take_settled(&layer, OWNER, SETTLE).unwrap();
    assert!(settled.is_settled());
    assert!(settled.matches(&racy));
}

#[test]
fn saved_only_when_the_hashed_tree_did_not_change() {
    let files = [("a".to_string(), 0, 1000, 5), ("b".to_string(), 2, 10, 9)];
    let (tmp, layer) = make_tree(&files);
    let saved_at = tmp.path().join("layer.fingerprint");
    let fingerprint = Fingerprint::take_settled(&layer, OWNER, SETTLE).unwrap();
    let id = diff_id(&fingerprint.source().unwrap()).unwrap();
    assert_eq!(
        id,
        diff_id(&LayerSource::dir(&layer, OWNER).unwrap()).unwrap()
    );
    assert!(fingerprint.save_if_unchanged(&id, &saved_at).unwrap());
    assert_eq!(
        Fingerprint::unchanged_diff_id(&layer, OWNER, &saved_at),
        Some(id.clone())
    );

    // Changed while it was hashed: nothing saved, and the old fingerprint removed.
    let fingerprint = Fingerprint::take_settled(&layer, OWNER, SETTLE).unwrap();
    let id = diff_id(&fingerprint.source().unwrap()).unwrap();
    rewrite_keeping_times(&layer.join("a"), &flipped(&layer.join("a")), false);
    assert!(!fingerprint.save_if_unchanged(&id, &saved_at).unwrap());
    assert!(!saved_at.exists());
    assert_eq!(
        Fingerprint::unchanged_diff_id(&layer, OWNER, &saved_at),
        None
    );
}

#[test]
#[ignore = "a measurement; run in release with --ignored --nocapture"]
fn fingerprint_vs_diff_id() {
    const DIRS: usize = 100;
    const FILES_PER_DIR: usize = 100;
    const SIZE: usize = (1 << 30) / (DIRS * FILES_PER_DIR);
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fingerprint-bench");
    let layer = root.join("layers/bp/layer");
    let done = root.join("complete");
    if !done.exists() {
        let _ = fs::remove_dir_all(&root);
        for d in 0..DIRS {
            let dir = layer.join(format!("dir{d:03}"));
            fs::create_dir_all(&dir).unwrap();
            for f in 0..FILES_PER_DIR {
                let seed = (d * FILES_PER_DIR + f) as u64;
                let data: Vec<u8> = (0..SIZE as u64)
                    .map(|i| (i.wrapping_mul(seed | 1) >> 3) as u8)
                    .collect();
                fs::write(dir.join(format!("file{f:03}")), data).unwrap();
            }
        }
        fs::write(&done, b"").unwrap();
    }
    let saved_at = root.join("fingerprint");
    let started = Instant::now();
    let fingerprint = Fingerprint::take_settled(&layer, OWNER, SETTLE).unwrap();
    let settle = started.elapsed();
    let started = Instant::now();
    let id = diff_id(&LayerSource::dir(&layer, OWNER).unwrap()).unwrap();
    let hashing = started.elapsed();
    assert!(fingerprint.save_if_unchanged(&id, &saved_at).unwrap());
    let size = fs::metadata(&saved_at).unwrap().len();
    let mut best = Duration::MAX;
    for _ in 0..5 {
        let started = Instant::now();
        let reused = Fingerprint::unchanged_diff_id(&layer, OWNER, &saved_at);
        best = best.min(started.elapsed());
        assert_eq!(reused.as_deref(), Some(id.as_str()));
    }
    let mut take = Duration::MAX;
    for _ in 0..5 {
        let started = Instant::now();
        let current = Fingerprint::take(&layer, OWNER).unwrap();
        take = take.min(started.elapsed());
        assert!(fingerprint.matches(&current));
    }
    println!("diff_id (1 GiB, 10,000 files): {hashing:?}");
    println!("take alone (best of 5): {take:?}");
    println!("take_settled before hashing: {settle:?}");
    println!("read + take + compare (best of 5): {best:?}");
    println!("fingerprint file: {size} bytes");
    println!("ratio: {:.5}", best.as_secs_f64() / hashing.as_secs_f64());
}

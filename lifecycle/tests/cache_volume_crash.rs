//! Crash safety of the volume cache. A child process opens a committed cache, stages a
//! new one (reusing, adding and dropping layers) and commits it; strace's fault
//! injection kills it with SIGKILL on entering its n-th call of one system call, for
//! every n and every call that changes the file system. After each kill,
//! `VolumeCache::open` must see exactly the old or exactly the new committed cache.
//! A second test reads the child's system calls to check that everything the new
//! cache holds reaches the disk before the swap, and the swap itself after it.
//!
//! The child is this test binary again, running the same test with
//! `LIFECYCLE_VOLUME_CACHE_CHILD` set to the cache directory.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use lifecycle::cache::volume::VolumeCache;
use platform_api::labels::{
    BuildpackLayerMetadata, BuildpackLayersMetadata, CACHE_METADATA, CacheMetadata, LayerMetadata,
};
use sha2::{Digest, Sha256};

const CHILD_ENV: &str = "LIFECYCLE_VOLUME_CACHE_CHILD";

/// The system calls a kill is injected into: everything that creates, removes,
/// renames, links or flushes files, plus the opens and writes that fill new files.
const SYSCALLS: &[&str] = &[
    "openat",
    "write",
    "mkdir",
    "mkdirat",
    "link",
    "linkat",
    "rename",
    "renameat",
    "renameat2",
    "unlink",
    "unlinkat",
    "rmdir",
    "fsync",
    "fdatasync",
    "copy_file_range",
];

/// strace counts calls per thread, and kills at the first thread to reach the n-th.
/// The loader and the test harness's main thread open and write files before the test
/// starts (and nothing while it runs), so the child first opens and writes `/dev/null`
/// this many times: kills at these calls from [`PAD`] + 1 on then land in the cache
/// code. No other call in [`SYSCALLS`] is made before the test starts. (The threads
/// that flush new layers make one `fsync` each, so only the first of them is killed at
/// its call: it stands for all, as they all run before the swap.)
const PAD: usize = 500;

/// The calls that need [`PAD`].
const PADDED: &[&str] = &["openat", "write"];

fn diff_id(bytes: &[u8]) -> String {
    let hex: String = Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256:{hex}")
}

const A: &[u8] = b"layer a: kept from the old cache";
const B: &[u8] = b"layer b: only in the old cache";
const C: &[u8] = b"layer c: written by the exporter";
const D: &[u8] = b"layer d: the new SBOM layer, streamed";

fn layer(name: &str, contents: &[u8]) -> (String, BuildpackLayerMetadata) {
    (
        name.to_string(),
        BuildpackLayerMetadata {
            sha: diff_id(contents),
            cache: true,
            ..Default::default()
        },
    )
}

fn old_metadata() -> CacheMetadata {
    CacheMetadata {
        sbom: LayerMetadata::default(),
        buildpacks: vec![BuildpackLayersMetadata {
            id: "example/bp".into(),
            version: "1".into(),
            layers: [layer("a", A), layer("b", B)].into_iter().collect(),
            store: None,
        }],
    }
}

fn new_metadata() -> CacheMetadata {
    CacheMetadata {
        sbom: LayerMetadata { sha: diff_id(D) },
        buildpacks: vec![BuildpackLayersMetadata {
            id: "example/bp".into(),
            version: "2".into(),
            layers: [layer("a", A), layer("c", C)].into_iter().collect(),
            store: None,
        }],
    }
}

/// The committed files a cache with `metadata` and `layers` consists of.
fn expected_files(metadata: &CacheMetadata, layers: &[&[u8]]) -> BTreeMap<String, Vec<u8>> {
    let mut files: BTreeMap<String, Vec<u8>> = layers
        .iter()
        .map(|l| (format!("{}.tar", diff_id(l)), l.to_vec()))
        .collect();
    files.insert(
        CACHE_METADATA.to_string(),
        format!("{}\n", metadata.to_json().unwrap()).into_bytes(),
    );
    files
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

/// What the child does: the work of an export's cache step, after the padding.
fn child(dir: &Path) {
    for _ in 0..PAD {
        let mut null = fs::OpenOptions::new()
            .write(true)
            .open("/dev/null")
            .unwrap();
        null.write_all(b"pad").unwrap();
    }
    let cache = VolumeCache::open(dir, None).unwrap();
    cache.reuse_layer(&diff_id(A)).unwrap();
    let written = cache.new_layer_path();
    fs::write(&written, C).unwrap();
    cache.add_layer(&written, &diff_id(C)).unwrap();
    cache
        .add_layer_from_reader(&mut &D[..], &diff_id(D))
        .unwrap();
    cache.commit(Some(&new_metadata())).unwrap();
}

/// A cache directory holding the old cache.
fn old_cache() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("cache");
    fs::create_dir(&dir).unwrap();
    let cache = VolumeCache::open(&dir, None).unwrap();
    for layer in [A, B] {
        cache
            .add_layer_from_reader(&mut &layer[..], &diff_id(layer))
            .unwrap();
    }
    cache.commit(Some(&old_metadata())).unwrap();
    (tmp, dir)
}

/// Runs the child under strace with `strace_args`.
fn run_child(dir: &Path, test: &str, strace_args: &[&str]) -> Output {
    Command::new("strace")
        .args(["-f", "-qq"])
        .args(strace_args)
        .arg(std::env::current_exe().unwrap())
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, dir)
        .output()
        .expect("run strace")
}

fn strace_usable() -> bool {
    let usable = Command::new("strace")
        .args(["-qq", "-o", "/dev/null", "true"])
        .status()
        .is_ok_and(|s| s.success());
    if !usable {
        eprintln!("strace is missing or cannot trace here: skipping");
    }
    usable
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seen {
    Old,
    New,
}

/// Opens the cache after a kill and checks that it is exactly the old or the new one.
fn check(dir: &Path) -> Seen {
    let cache = VolumeCache::open(dir, None).unwrap();
    assert_eq!(names_in(dir), ["committed", "staging"]);
    assert!(names_in(&dir.join("staging")).is_empty());
    let files = files_in(&dir.join("committed"));
    let (seen, metadata) = if files == expected_files(&old_metadata(), &[A, B]) {
        (Seen::Old, old_metadata())
    } else if files == expected_files(&new_metadata(), &[A, C, D]) {
        (Seen::New, new_metadata())
    } else {
        panic!(
            "neither the old nor the new cache: {:?}",
            files.keys().collect::<Vec<_>>()
        );
    };
    assert_eq!(cache.metadata().unwrap(), metadata);
    for name in files.keys().filter(|n| n.ends_with(".tar")) {
        cache.verify_layer(name.trim_end_matches(".tar")).unwrap();
    }
    seen
}

/// What the directory looked like right after the kill.
fn raw_state(dir: &Path) -> String {
    names_in(dir).join(",")
}

#[test]
fn a_kill_at_any_system_call_leaves_the_old_or_the_new_cache() {
    if let Some(dir) = std::env::var_os(CHILD_ENV) {
        child(Path::new(&dir));
        return;
    }
    if !strace_usable() {
        return;
    }
    let test = "a_kill_at_any_system_call_leaves_the_old_or_the_new_cache";
    let results: Vec<(String, usize, Seen, String)> = std::thread::scope(|scope| {
        let workers: Vec<_> = SYSCALLS
            .iter()
            .map(|syscall| {
                scope.spawn(move || {
                    let mut results = Vec::new();
                    let first = if PADDED.contains(syscall) { PAD + 1 } else { 1 };
                    for n in first.. {
                        let (_tmp, dir) = old_cache();
                        let inject = format!("inject={syscall}:signal=KILL:when={n}");
                        let trace = format!("trace={syscall}");
                        let out = run_child(
                            &dir,
                            test,
                            &["-o", "/dev/null", "-e", &trace, "-e", &inject],
                        );
                        let raw = raw_state(&dir);
                        if out.status.success() {
                            // No n-th call: the child ran to the end.
                            assert_eq!(check(&dir), Seen::New, "{syscall} ran to the end");
                            break;
                        }
                        assert_eq!(
                            out.status.signal(),
                            Some(nix::libc::SIGKILL),
                            "{syscall} #{n}: {out:?}"
                        );
                        if n == first && PADDED.contains(syscall) {
                            // The first kill after the padding is in the cache code,
                            // which created staging/ before its first open or write.
                            assert_eq!(raw, "committed,staging", "{syscall} #{n}");
                        }
                        results.push((syscall.to_string(), n, check(&dir), raw));
                    }
                    results
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    });

    let kills = |syscall: &str| results.iter().filter(|r| r.0 == syscall).count();
    assert!(results.iter().any(|r| r.2 == Seen::Old));
    assert!(results.iter().any(|r| r.2 == Seen::New));
    // The commit's renames, removals and flushes were all hit.
    assert!(
        kills("rename") + kills("renameat") + kills("renameat2") >= 3,
        "{results:?}"
    );
    assert!(kills("unlinkat") + kills("unlink") > 0, "{results:?}");
    // A layer flush, the metadata, staging/ (the last two before the swap) and the
    // cache directory (after it).
    assert!(kills("fsync") >= 3, "{results:?}");
    // Both crash windows of the swap were reached: between the renames (no
    // committed/, the backup is the cache) and while the backup is removed.
    assert!(
        results
            .iter()
            .any(|r| r.3 == "committed-backup,staging" && r.2 == Seen::Old),
        "{results:?}"
    );
    assert!(
        results
            .iter()
            .any(|r| r.3 == "committed,committed-backup" && r.2 == Seen::New),
        "{results:?}"
    );
}

#[test]
fn the_new_cache_is_on_disk_before_the_swap() {
    if let Some(dir) = std::env::var_os(CHILD_ENV) {
        child(Path::new(&dir));
        return;
    }
    if !strace_usable() {
        return;
    }
    let (tmp, dir) = old_cache();
    let log = tmp.path().join("strace.log");
    let out = run_child(
        &dir,
        "the_new_cache_is_on_disk_before_the_swap",
        &[
            "-y",
            "-o",
            log.to_str().unwrap(),
            "-e",
            "trace=fsync,fdatasync,rename,renameat,renameat2",
        ],
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(check(&dir), Seen::New);

    let log = fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = log.lines().collect();
    let position = |what: &str, pred: &dyn Fn(&str) -> bool| {
        lines
            .iter()
            .position(|l| pred(l))
            .unwrap_or_else(|| panic!("no {what} in:\n{log}"))
    };
    let staging = dir.join("staging").display().to_string();
    let committed = dir.join("committed").display().to_string();
    let swap = position("swap", &|l| {
        l.contains("rename")
            && l.contains(&format!("\"{staging}\""))
            && l.contains(&format!("\"{committed}\""))
    });
    let synced = |path: &str| {
        position(path, &|l| {
            l.contains("fsync(") && l.contains(&format!("<{path}>"))
        })
    };
    for file in [
        format!("{staging}/{}.tar", diff_id(C)),
        format!("{staging}/{}.tar", diff_id(D)),
        format!("{staging}/{CACHE_METADATA}"),
        staging.clone(),
    ] {
        assert!(
            synced(&file) < swap,
            "{file} flushed after the swap:\n{log}"
        );
    }
    let dir_synced = lines
        .iter()
        .enumerate()
        .skip(swap)
        .any(|(_, l)| l.contains("fsync(") && l.contains(&format!("<{}>", dir.display())));
    assert!(
        dir_synced,
        "cache directory not flushed after the swap:\n{log}"
    );
}

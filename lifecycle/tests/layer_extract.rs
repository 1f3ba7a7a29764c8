//! Layer extraction: round trips of layers made by `write_layer` (the awkward tree, random
//! trees), hand-made tars with hard links and PAX records, every hostile entry refused
//! with nothing written outside the allowed directory, and (ignored, in release) the time
//! of extracting a 1 GiB layer of 10,000 files against `tar -xf`:
//!
//! ```sh
//! cargo test -p lifecycle --release --test layer_extract -- --ignored --nocapture
//! ```

#[path = "golden/support.rs"]
mod support;

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{BufReader, Read};
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use lifecycle::layer::extract::{ExtractError, ExtractOptions, Refusal, extract};
use lifecycle::layer::{LayerOutputs, LayerSource, Owner, write_layer};
use proptest::prelude::*;
use support::{awkward_tree, is_root, random_bytes, text_bytes};

const OWNER: Owner = Owner {
    uid: 1000,
    gid: 1001,
};

/// 1980-01-01T00:00:01Z, the time of every entry `write_layer` writes.
const LAYER_MTIME: i64 = 315_532_801;

/// The allowed directory of the hand-made tars.
const ALLOWED: &str = "/layers/bp/layer";

/// What a file system node is, for comparisons.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Node {
    Dir { mode: u32 },
    File { mode: u32, content: Vec<u8> },
    Symlink { target: PathBuf },
}

/// A node with its owner and modification time.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stat {
    node: Node,
    uid: u32,
    gid: u32,
    mtime: i64,
    mtime_nsec: i64,
}

/// Everything below `dir` (not `dir` itself), by relative path.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Stat> {
    let mut out = BTreeMap::new();
    walk(dir, Path::new(""), &mut out);
    out
}

fn walk(dir: &Path, rel: &Path, out: &mut BTreeMap<PathBuf, Stat>) {
    for entry in fs::read_dir(dir.join(rel)).unwrap() {
        let entry = entry.unwrap();
        let rel = rel.join(entry.file_name());
        out.insert(rel.clone(), stat(&dir.join(&rel)));
        if entry.file_type().unwrap().is_dir() {
            walk(dir, &rel, out);
        }
    }
}

fn stat(path: &Path) -> Stat {
    let meta = fs::symlink_metadata(path).unwrap();
    let mode = meta.mode() & 0o7777;
    let node = if meta.is_dir() {
        Node::Dir { mode }
    } else if meta.is_symlink() {
        Node::Symlink {
            target: fs::read_link(path).unwrap(),
        }
    } else {
        Node::File {
            mode,
            content: fs::read(path).unwrap(),
        }
    };
    Stat {
        node,
        uid: meta.uid(),
        gid: meta.gid(),
        mtime: meta.mtime(),
        mtime_nsec: meta.mtime_nsec(),
    }
}

/// `path` (absolute) under `root`.
fn under(root: &Path, path: &Path) -> PathBuf {
    root.join(path.strip_prefix("/").unwrap())
}

/// Writes the layer of `dir` as a tar, extracts it into the fresh root `out` with `dir`
/// allowed, and checks that the tree below `dir` came back exactly (times as in the
/// layer, owners as asked).
fn round_trip(dir: &Path, out: &Path, options: &ExtractOptions) {
    let tar = out.with_extension("tar");
    write_layer(
        &LayerSource::dir(dir, OWNER).unwrap(),
        &LayerOutputs {
            tar_file: Some(tar.clone()),
            ..LayerOutputs::default()
        },
    )
    .unwrap();
    fs::create_dir(out).unwrap();
    let report = extract(BufReader::new(File::open(&tar).unwrap()), out, dir, options).unwrap();

    let (uid, gid) = if options.same_owner {
        (OWNER.uid, OWNER.gid)
    } else {
        (
            nix::unistd::geteuid().as_raw(),
            nix::unistd::getegid().as_raw(),
        )
    };
    let expected: BTreeMap<PathBuf, Stat> = snapshot(dir)
        .into_iter()
        .map(|(path, stat)| {
            let stat = Stat {
                uid,
                gid,
                mtime: LAYER_MTIME,
                mtime_nsec: 0,
                ..stat
            };
            (path, stat)
        })
        .collect();
    let got = snapshot(&under(out, dir));
    assert_eq!(got.len(), expected.len());
    for (path, want) in &expected {
        assert_eq!(got.get(path), Some(want), "{}", path.display());
    }
    assert_eq!(
        stat(&under(out, dir)),
        Stat {
            uid,
            gid,
            mtime: LAYER_MTIME,
            mtime_nsec: 0,
            ..stat(dir)
        }
    );
    let count = |f: fn(&Node) -> bool| expected.values().filter(|s| f(&s.node)).count() as u64;
    assert_eq!(report.files, count(|n| matches!(n, Node::File { .. })));
    assert_eq!(
        report.symlinks,
        count(|n| matches!(n, Node::Symlink { .. }))
    );
    // The directory's ancestors are in the layer too (not `/`).
    assert_eq!(
        report.dirs,
        count(|n| matches!(n, Node::Dir { .. })) + dir.ancestors().count() as u64 - 1
    );
}

#[test]
fn awkward_tree_round_trips_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    let layer = tmp.path().join("layers/bp/layer");
    awkward_tree(&layer);
    for special in ["fifo", "socket", "null-device"] {
        let _ = fs::remove_file(layer.join(special));
    }
    // Modes the usual umask (022) would change.
    fs::write(layer.join("all-write"), b"w").unwrap();
    fs::set_permissions(layer.join("all-write"), fs::Permissions::from_mode(0o666)).unwrap();
    fs::create_dir(layer.join("open-dir")).unwrap();
    fs::write(layer.join("open-dir/f"), b"f").unwrap();
    fs::set_permissions(layer.join("open-dir"), fs::Permissions::from_mode(0o777)).unwrap();
    // A read-only directory with contents: its mode is set once they are written.
    fs::create_dir(layer.join("read-only")).unwrap();
    fs::write(layer.join("read-only/inside"), b"in").unwrap();
    fs::set_permissions(layer.join("read-only"), fs::Permissions::from_mode(0o555)).unwrap();

    let options = ExtractOptions::default();
    round_trip(&layer, &tmp.path().join("out"), &options);
    if is_root() {
        let not_owner = ExtractOptions { same_owner: false };
        round_trip(&layer, &tmp.path().join("out-own"), &not_owner);
    }

    // The ancestors were created with the modes recorded in the layer.
    let out = tmp.path().join("out");
    for ancestor in layer.ancestors().skip(1) {
        if ancestor == Path::new("/") {
            break;
        }
        let want = fs::metadata(ancestor).unwrap().mode() & 0o7777;
        let got = fs::metadata(under(&out, ancestor)).unwrap().mode() & 0o7777;
        assert_eq!(got, want, "{}", ancestor.display());
    }
}

#[test]
fn default_options_set_owners_only_as_root() {
    assert_eq!(ExtractOptions::default().same_owner, is_root());
}

/// Builds tars entry by entry, with names written as given (no checks).
struct RawTar {
    builder: tar::Builder<Vec<u8>>,
}

impl RawTar {
    fn new() -> RawTar {
        RawTar {
            builder: tar::Builder::new(Vec::new()),
        }
    }

    fn header(name: &[u8], kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
        let mut header = tar::Header::new_ustar();
        header.as_ustar_mut().unwrap().name[..name.len()].copy_from_slice(name);
        header.set_entry_type(kind);
        header.set_mode(mode);
        header.set_size(size);
        header.set_mtime(1_000_000_000);
        header.set_uid(0);
        header.set_gid(0);
        header
    }

    fn append(&mut self, mut header: tar::Header, data: &[u8]) -> &mut Self {
        header.set_cksum();
        self.builder.append(&header, data).unwrap();
        self
    }

    fn dir(&mut self, name: &str, mode: u32) -> &mut Self {
        let header = Self::header(name.as_bytes(), tar::EntryType::Directory, mode, 0);
        self.append(header, b"")
    }

    fn file(&mut self, name: &str, data: &[u8]) -> &mut Self {
        let header = Self::header(name.as_bytes(), tar::EntryType::Regular, 0o644, 0);
        let mut header = header;
        header.set_size(data.len() as u64);
        self.append(header, data)
    }

    fn link(&mut self, kind: tar::EntryType, name: &str, target: &str) -> &mut Self {
        let mut header = Self::header(name.as_bytes(), kind, 0o777, 0);
        header.as_ustar_mut().unwrap().linkname[..target.len()].copy_from_slice(target.as_bytes());
        self.append(header, b"")
    }

    fn symlink(&mut self, name: &str, target: &str) -> &mut Self {
        self.link(tar::EntryType::Symlink, name, target)
    }

    fn hard_link(&mut self, name: &str, target: &str) -> &mut Self {
        self.link(tar::EntryType::Link, name, target)
    }

    fn bytes(&mut self) -> Vec<u8> {
        self.builder
            .get_mut()
            .clone()
            .into_iter()
            .chain([0; 1024])
            .collect()
    }
}

/// A fresh root with the (empty) allowed directory and a sentinel directory `/outside`
/// holding `/outside/keep`.
fn hostile_root() -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    fs::create_dir_all(root.path().join("layers/bp/layer")).unwrap();
    fs::create_dir(root.path().join("outside")).unwrap();
    fs::write(root.path().join("outside/keep"), b"keep").unwrap();
    root
}

fn extract_bytes(tar: &[u8], root: &Path) -> Result<(), ExtractError> {
    extract(tar, root, Path::new(ALLOWED), &ExtractOptions::default()).map(drop)
}

/// Every path under `root`, relative.
fn all_paths(root: &Path) -> Vec<PathBuf> {
    snapshot(root).into_keys().collect()
}

/// Extracts `tar`, expects it refused for `entry` with `reason`, and checks that nothing
/// outside the allowed directory changed.
fn assert_refused(tar: &[u8], entry: &str, reason: Refusal) {
    let root = hostile_root();
    let outside = |root: &Path| -> BTreeMap<PathBuf, Stat> {
        snapshot(root)
            .into_iter()
            .filter(|(path, _)| !path.starts_with("layers/bp/layer"))
            .collect()
    };
    let before = outside(root.path());
    let err = extract_bytes(tar, root.path()).unwrap_err();
    let message = err.to_string();
    match err {
        ExtractError::Refused {
            entry: got_entry,
            reason: got_reason,
        } => {
            assert_eq!(got_entry, Path::new(entry), "{message}");
            assert_eq!(got_reason, reason, "{message}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(message.contains(entry), "{message}");
    assert_eq!(outside(root.path()), before, "{message}");
}

fn allowed() -> PathBuf {
    PathBuf::from(ALLOWED)
}

#[test]
fn dot_dot_names_are_refused() {
    let tar = RawTar::new().file("../outside/evil", b"x").bytes();
    assert_refused(
        &tar,
        "../outside/evil",
        Refusal::DotDot {
            name: "../outside/evil".into(),
        },
    );
    let name = "/layers/bp/layer/../../../outside/evil";
    let tar = RawTar::new().dir(ALLOWED, 0o755).file(name, b"x").bytes();
    assert_refused(&tar, name, Refusal::DotDot { name: name.into() });
}

#[test]
fn entries_outside_the_allowed_directory_are_refused() {
    for name in [
        "/outside/evil",
        "/etc/passwd",
        "/layers/bp/other/x",
        "/layers/bp/layer-sibling",
        "outside/keep",
    ] {
        let tar = RawTar::new().dir(ALLOWED, 0o755).file(name, b"x").bytes();
        let entry = format!("/{}", name.trim_start_matches('/'));
        assert_refused(&tar, &entry, Refusal::Outside { allowed: allowed() });
    }
    // Only directories may be above it.
    let tar = RawTar::new().file("/layers/bp", b"x").bytes();
    assert_refused(
        &tar,
        "/layers/bp",
        Refusal::NotADirAbove {
            kind: "regular file",
            allowed: allowed(),
        },
    );
    let tar = RawTar::new().symlink("/layers", "/outside").bytes();
    assert_refused(
        &tar,
        "/layers",
        Refusal::NotADirAbove {
            kind: "symlink",
            allowed: allowed(),
        },
    );
}

#[test]
fn paths_through_symlinks_are_refused() {
    let link = "/layers/bp/layer/link";
    for target in ["/outside", "../../../outside", "."] {
        for (kind, tar) in [
            (
                "file",
                RawTar::new()
                    .dir(ALLOWED, 0o755)
                    .symlink(link, target)
                    .file("/layers/bp/layer/link/pwned", b"x")
                    .bytes(),
            ),
            (
                "dir",
                RawTar::new()
                    .dir(ALLOWED, 0o755)
                    .symlink(link, target)
                    .dir("/layers/bp/layer/link/sub", 0o755)
                    .bytes(),
            ),
            (
                "symlink",
                RawTar::new()
                    .dir(ALLOWED, 0o755)
                    .symlink(link, target)
                    .symlink("/layers/bp/layer/link/keep", "x")
                    .bytes(),
            ),
        ] {
            let entry = format!("{link}/{}", if kind == "dir" { "sub" } else { "pwned" });
            let entry = if kind == "symlink" {
                format!("{link}/keep")
            } else {
                entry
            };
            assert_refused(&tar, &entry, Refusal::ThroughSymlink { path: link.into() });
        }
    }

    // The symlink itself was written as it is, never followed.
    let root = hostile_root();
    let tar = RawTar::new()
        .dir(ALLOWED, 0o755)
        .symlink(link, "../../../outside")
        .file("/layers/bp/layer/link/pwned", b"x")
        .bytes();
    extract_bytes(&tar, root.path()).unwrap_err();
    assert_eq!(
        fs::read_link(root.path().join("layers/bp/layer/link")).unwrap(),
        Path::new("../../../outside")
    );
    assert!(!root.path().join("outside/pwned").exists());

    // A symlink already on the host in the allowed path is not followed either.
    let root = hostile_root();
    fs::remove_dir(root.path().join("layers/bp/layer")).unwrap();
    symlink(
        root.path().join("outside"),
        root.path().join("layers/bp/layer"),
    )
    .unwrap();
    let tar = RawTar::new().file("/layers/bp/layer/x", b"x").bytes();
    let err = extract_bytes(&tar, root.path()).unwrap_err();
    assert!(
        matches!(&err, ExtractError::Refused { reason: Refusal::ThroughSymlink { path }, .. }
            if path == Path::new(ALLOWED)),
        "{err}"
    );
    assert!(!root.path().join("outside/x").exists());
}

#[test]
fn an_entry_replaces_a_symlink_instead_of_writing_through_it() {
    let root = hostile_root();
    let tar = RawTar::new()
        .dir(ALLOWED, 0o755)
        .symlink("/layers/bp/layer/f", "../../../outside/keep")
        .file("/layers/bp/layer/f", b"new")
        .symlink("/layers/bp/layer/d", "../../../outside")
        .dir("/layers/bp/layer/d", 0o700)
        .bytes();
    extract_bytes(&tar, root.path()).unwrap();
    assert_eq!(fs::read(root.path().join("outside/keep")).unwrap(), b"keep");
    let f = root.path().join("layers/bp/layer/f");
    assert!(fs::symlink_metadata(&f).unwrap().is_file());
    assert_eq!(fs::read(f).unwrap(), b"new");
    let d = fs::symlink_metadata(root.path().join("layers/bp/layer/d")).unwrap();
    assert!(d.is_dir());
    assert_eq!(d.mode() & 0o7777, 0o700);
}

#[test]
fn hard_links_must_point_to_files_extracted_before_them() {
    let passwd_before = fs::symlink_metadata("/etc/passwd").unwrap();
    for target in [
        "/etc/passwd",
        "etc/passwd",
        "/outside/keep",
        "/layers/bp/layer",
    ] {
        let tar = RawTar::new()
            .dir(ALLOWED, 0o755)
            .hard_link("/layers/bp/layer/pw", target)
            .bytes();
        let target = format!("/{}", target.trim_start_matches('/'));
        assert_refused(
            &tar,
            "/layers/bp/layer/pw",
            Refusal::LinkOutside {
                target: target.into(),
                allowed: allowed(),
            },
        );
    }
    let passwd_after = fs::symlink_metadata("/etc/passwd").unwrap();
    assert_eq!(passwd_after.nlink(), passwd_before.nlink());
    assert_eq!(passwd_after.ino(), passwd_before.ino());

    let target = "/layers/bp/layer/../../../etc/passwd";
    let tar = RawTar::new()
        .dir(ALLOWED, 0o755)
        .hard_link("/layers/bp/layer/pw", target)
        .bytes();
    assert_refused(
        &tar,
        "/layers/bp/layer/pw",
        Refusal::DotDot {
            name: target.into(),
        },
    );

    // A file on the host (not extracted by this layer), or one that comes later.
    let root = hostile_root();
    fs::write(root.path().join("layers/bp/layer/old"), b"old").unwrap();
    let tar = RawTar::new()
        .hard_link("/layers/bp/layer/new", "/layers/bp/layer/old")
        .bytes();
    let err = extract_bytes(&tar, root.path()).unwrap_err();
    assert!(
        matches!(&err, ExtractError::Refused { reason: Refusal::LinkNotExtracted { target }, .. }
            if target == Path::new("/layers/bp/layer/old")),
        "{err}"
    );
    assert!(!root.path().join("layers/bp/layer/new").exists());
    let tar = RawTar::new()
        .dir(ALLOWED, 0o755)
        .hard_link("/layers/bp/layer/a", "/layers/bp/layer/b")
        .file("/layers/bp/layer/b", b"b")
        .bytes();
    assert_refused(
        &tar,
        "/layers/bp/layer/a",
        Refusal::LinkNotExtracted {
            target: "/layers/bp/layer/b".into(),
        },
    );
}

#[test]
fn hard_links_to_extracted_files_share_the_inode() {
    let root = hostile_root();
    let tar = RawTar::new()
        .dir(ALLOWED, 0o755)
        .dir("/layers/bp/layer/sub", 0o755)
        .file("/layers/bp/layer/sub/a", b"content")
        .hard_link("/layers/bp/layer/b", "/layers/bp/layer/sub/a")
        .symlink("/layers/bp/layer/s", "/outside/keep")
        .hard_link("/layers/bp/layer/s2", "layers/bp/layer/s")
        .bytes();
    let report = extract(
        tar.as_slice(),
        root.path(),
        Path::new(ALLOWED),
        &ExtractOptions::default(),
    )
    .unwrap();
    assert_eq!(
        (report.files, report.hard_links, report.symlinks),
        (1, 2, 1)
    );
    let layer = root.path().join("layers/bp/layer");
    let a = fs::metadata(layer.join("sub/a")).unwrap();
    let b = fs::metadata(layer.join("b")).unwrap();
    assert_eq!((a.ino(), a.nlink()), (b.ino(), 2));
    // A hard link to a symlink is to the symlink, not to what it points to.
    let s2 = fs::symlink_metadata(layer.join("s2")).unwrap();
    assert!(s2.is_symlink());
    assert_eq!(
        fs::symlink_metadata(root.path().join("outside/keep"))
            .unwrap()
            .nlink(),
        1
    );
}

#[test]
fn devices_and_fifos_are_refused() {
    for (kind, word) in [
        (tar::EntryType::Char, "character device"),
        (tar::EntryType::Block, "block device"),
        (tar::EntryType::Fifo, "FIFO"),
    ] {
        let name = "/layers/bp/layer/dev";
        let mut raw = RawTar::new();
        raw.dir(ALLOWED, 0o755);
        let header = RawTar::header(name.as_bytes(), kind, 0o666, 0);
        let tar = raw.append(header, b"").bytes();
        assert_refused(
            &tar,
            name,
            Refusal::Unsupported {
                kind: word.to_string(),
            },
        );
    }
}

#[test]
fn existing_ancestors_are_left_alone_and_missing_ones_created() {
    let root = tempfile::tempdir().unwrap();
    fs::create_dir(root.path().join("layers")).unwrap();
    fs::set_permissions(
        root.path().join("layers"),
        fs::Permissions::from_mode(0o751),
    )
    .unwrap();
    let tar = RawTar::new()
        .dir("/", 0o700)
        .dir("/layers", 0o700)
        .dir("/layers/bp", 0o750)
        .dir(ALLOWED, 0o705)
        .file("/layers/bp/layer/f", b"f")
        .bytes();
    let root_mode = fs::metadata(root.path()).unwrap().mode();
    let layers_mtime = fs::metadata(root.path().join("layers")).unwrap().mtime();
    extract_bytes(&tar, root.path()).unwrap();
    assert_eq!(fs::metadata(root.path()).unwrap().mode(), root_mode);
    let layers = fs::metadata(root.path().join("layers")).unwrap();
    assert_eq!(layers.mode() & 0o7777, 0o751);
    assert_eq!(layers.mtime(), layers_mtime);
    let bp = fs::metadata(root.path().join("layers/bp")).unwrap();
    assert_eq!((bp.mode() & 0o7777, bp.mtime()), (0o750, 1_000_000_000));
    let layer = fs::metadata(root.path().join("layers/bp/layer")).unwrap();
    assert_eq!(layer.mode() & 0o7777, 0o705);
    assert_eq!(all_paths(root.path()).len(), 4);
}

#[test]
fn pax_records_and_truncated_tars() {
    // PAX mtime with a fraction, and a uid beyond USTAR's reach.
    let mut raw = RawTar::new();
    raw.dir(ALLOWED, 0o755);
    let pax: &[(&str, &[u8])] = &[("mtime", b"1234567890.25"), ("uid", b"4000000000")];
    raw.builder
        .append_pax_extensions(pax.iter().copied())
        .unwrap();
    raw.file("/layers/bp/layer/p", b"pax");
    let tar = raw.bytes();
    let root = hostile_root();
    extract_bytes(&tar, root.path()).unwrap();
    let p = fs::metadata(root.path().join("layers/bp/layer/p")).unwrap();
    assert_eq!((p.mtime(), p.mtime_nsec()), (1_234_567_890, 250_000_000));
    if is_root() {
        assert_eq!(p.uid(), 4_000_000_000);
    }

    // A tar that ends inside a file's data.
    let tar = RawTar::new()
        .dir(ALLOWED, 0o755)
        .file("/layers/bp/layer/big", &random_bytes(10_000, 1))
        .bytes();
    let root = hostile_root();
    let err = extract_bytes(&tar[..512 * 3 + 100], root.path()).unwrap_err();
    assert!(err.to_string().contains("/layers/bp/layer/big"), "{err}");
}

#[test]
fn allowed_must_be_absolute_without_dot_dot() {
    let root = hostile_root();
    for allowed in ["layers/bp/layer", "/layers/bp/../bp/layer"] {
        let err = extract(
            &b""[..],
            root.path(),
            Path::new(allowed),
            &Default::default(),
        );
        assert!(
            matches!(err, Err(ExtractError::Allowed { .. })),
            "{allowed}"
        );
    }
}

/// A random tree: directories, files and symlinks on paths over a small alphabet.
#[derive(Debug, Clone)]
enum Kind {
    Dir(u32),
    File(u32, Vec<u8>),
    Symlink(String),
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        (0o700u32..0o1000).prop_map(|m| Kind::Dir(m | 0o700)),
        (0u32..0o10000, prop::collection::vec(any::<u8>(), 0..3000))
            .prop_map(|(m, c)| Kind::File(m, c)),
        "[a-c/.]{1,12}".prop_map(Kind::Symlink),
    ]
}

fn build(root: &Path, entries: &[(Vec<String>, Kind)]) {
    fs::create_dir_all(root).unwrap();
    for (comps, kind) in entries {
        let path = comps.iter().fold(root.to_path_buf(), |p, c| p.join(c));
        // Only where the parent is a directory and the name is free.
        let parent_ok = fs::symlink_metadata(path.parent().unwrap()).is_ok_and(|m| m.is_dir());
        if !parent_ok || fs::symlink_metadata(&path).is_ok() {
            continue;
        }
        match kind {
            Kind::Dir(mode) => {
                fs::create_dir(&path).unwrap();
                fs::set_permissions(&path, fs::Permissions::from_mode(*mode)).unwrap();
            }
            Kind::File(mode, content) => {
                fs::write(&path, content).unwrap();
                fs::set_permissions(&path, fs::Permissions::from_mode(*mode)).unwrap();
            }
            Kind::Symlink(target) => symlink(target, &path).unwrap(),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn random_trees_round_trip(
        entries in prop::collection::vec(
            (prop::collection::vec("[a-c]{1,2}", 1..4), kind()),
            0..24,
        )
    ) {
        let tmp = tempfile::tempdir().unwrap();
        let layer = tmp.path().join("layers/bp/layer");
        build(&layer, &entries);
        round_trip(&layer, &tmp.path().join("out"), &ExtractOptions::default());
    }
}

/// A tree of `dirs` × `files` files of `size` bytes, half text-like, half random.
fn bench_tree(dir: &Path, dirs: usize, files: usize, size: usize) {
    for d in 0..dirs {
        let sub = dir.join(format!("dir{d:03}"));
        fs::create_dir_all(&sub).unwrap();
        for f in 0..files {
            let seed = (d * files + f) as u64;
            let data = if f % 2 == 0 {
                text_bytes(size, seed)
            } else {
                random_bytes(size, seed)
            };
            fs::write(sub.join(format!("file{f:03}")), data).unwrap();
        }
    }
}

fn time(f: impl FnOnce()) -> Duration {
    let start = Instant::now();
    f();
    start.elapsed()
}

#[test]
#[ignore = "a measurement: run in release with --ignored --nocapture"]
fn extraction_time_against_gnu_tar() {
    let base = Path::new(env!("CARGO_TARGET_TMPDIR")).join("layer-extract-bench");
    let _ = fs::remove_dir_all(&base);
    let layer = base.join("src/layers/bp/layer");
    bench_tree(&layer, 100, 100, (1 << 30) / 10_000);
    let tar = base.join("layer.tar");
    write_layer(
        &LayerSource::dir(&layer, OWNER).unwrap(),
        &LayerOutputs {
            tar_file: Some(tar.clone()),
            ..LayerOutputs::default()
        },
    )
    .unwrap();
    let size = fs::metadata(&tar).unwrap().len();
    let sync = || {
        Command::new("sync").status().unwrap();
    };
    let runs = 3;
    let (mut ours, mut gnu) = (Duration::MAX, Duration::MAX);
    for run in 0..runs {
        let ours_dir = base.join(format!("ours{run}"));
        let gnu_dir = base.join(format!("gnu{run}"));
        fs::create_dir(&ours_dir).unwrap();
        fs::create_dir(&gnu_dir).unwrap();
        sync();
        ours = ours.min(time(|| {
            let mut file = File::open(&tar).unwrap();
            let report = extract(&mut file, &ours_dir, &layer, &ExtractOptions::default()).unwrap();
            assert_eq!(report.files, 10_000);
        }));
        sync();
        gnu = gnu.min(time(|| {
            let status = Command::new("tar")
                .arg("-xpf")
                .arg(&tar)
                .arg("-C")
                .arg(&gnu_dir)
                .status()
                .unwrap();
            assert!(status.success());
        }));
        let mut a = Vec::new();
        File::open(under(&ours_dir, &layer).join("dir042/file042"))
            .unwrap()
            .read_to_end(&mut a)
            .unwrap();
        assert_eq!(
            a,
            fs::read(under(&gnu_dir, &layer).join("dir042/file042")).unwrap()
        );
        fs::remove_dir_all(&ours_dir).unwrap();
        fs::remove_dir_all(&gnu_dir).unwrap();
    }
    let mib = size as f64 / f64::from(1 << 20);
    println!(
        "extract {mib:.0} MiB, 10,000 files (best of {runs}): ours {:.2} s ({:.0} MiB/s), tar -xpf {:.2} s ({:.0} MiB/s)",
        ours.as_secs_f64(),
        mib / ours.as_secs_f64(),
        gnu.as_secs_f64(),
        mib / gnu.as_secs_f64()
    );
    fs::remove_dir_all(&base).unwrap();
}

#[test]
fn a_non_empty_directory_is_not_replaced() {
    let tar = RawTar::new()
        .dir(ALLOWED, 0o755)
        .dir("/layers/bp/layer/d", 0o755)
        .file("/layers/bp/layer/d/f", b"f")
        .symlink("/layers/bp/layer/d", "/outside")
        .bytes();
    assert_refused(&tar, "/layers/bp/layer/d", Refusal::DirectoryInTheWay);
}

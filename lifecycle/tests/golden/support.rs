//! Helpers shared by the layer tests: the Go reference writer (built from
//! `tests/golden/main.go`), generated file trees, and tar inspection.

#![allow(dead_code)] // each test file uses a different part

use std::fs;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use lifecycle::layer::{LayerOutputs, LayerSource, write_layer};

/// The golden writer, built once per test binary; `None` (after saying so) when `go` is
/// not installed. A `go` that is installed but fails to build it is a test failure.
pub fn golden_binary() -> Option<&'static Path> {
    static BINARY: OnceLock<Option<PathBuf>> = OnceLock::new();
    BINARY
        .get_or_init(|| {
            spec_tests::golang::build(
                &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden"),
                &Path::new(env!("CARGO_TARGET_TMPDIR")).join("layer-golden"),
                "golden",
            )
        })
        .as_deref()
}

/// Runs the golden writer with `args`, returning the tar it wrote to `out`.
pub fn golden_tar(binary: &Path, args: &[&std::ffi::OsStr], out: &Path) -> Vec<u8> {
    let output = Command::new(binary)
        .args(args)
        .output()
        .expect("running golden");
    assert!(
        output.status.success(),
        "golden {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    fs::read(out).unwrap()
}

/// Writes `source` as an uncompressed tar (with a blob too, to exercise both outputs)
/// and returns the tar bytes.
pub fn our_tar(source: &LayerSource, scratch: &Path) -> Vec<u8> {
    let tar = scratch.join(format!("ours-{}.tar", unique()));
    let blobs = scratch.join(format!("blobs-{}", unique()));
    fs::create_dir_all(&blobs).unwrap();
    let written = write_layer(
        source,
        &LayerOutputs {
            blob_dir: Some(blobs.clone()),
            tar_file: Some(tar.clone()),
            ..LayerOutputs::default()
        },
    )
    .unwrap();
    let bytes = fs::read(&tar).unwrap();
    assert_eq!(written.diff_id, sha256_hex_prefixed(&bytes));
    assert_eq!(written.tar_size, bytes.len() as u64);
    fs::remove_file(&tar).unwrap();
    fs::remove_dir_all(&blobs).unwrap();
    bytes
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// `sha256:<hex>` of `bytes`, computed by `sha256sum` (an independent implementation).
pub fn sha256_hex_prefixed(bytes: &[u8]) -> String {
    let mut child = Command::new("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let data = bytes.to_vec();
    let writer = std::thread::spawn(move || {
        use std::io::Write;
        stdin.write_all(&data).unwrap();
    });
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap();
    let text = String::from_utf8(output.stdout).unwrap();
    format!("sha256:{}", text.split_whitespace().next().unwrap())
}

/// Asserts two tars are the same bytes, showing both entry lists when they are not.
pub fn assert_same_tar(ours: &[u8], go: &[u8], what: &str) {
    if ours == go {
        return;
    }
    let first = ours
        .iter()
        .zip(go)
        .position(|(a, b)| a != b)
        .unwrap_or(ours.len().min(go.len()));
    panic!(
        "{what}: our tar differs from Go's at byte {first} (block {}, ours {} bytes, Go {} bytes)\nours: {:#?}\ngo:   {:#?}",
        first / 512,
        ours.len(),
        go.len(),
        entries(ours),
        entries(go)
    );
}

/// One tar entry as the `tar` crate reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: Vec<u8>,
    pub kind: char,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub mtime: u64,
    pub size: u64,
    pub link: Option<Vec<u8>>,
    pub uname: Vec<u8>,
    pub gname: Vec<u8>,
    pub content: Vec<u8>,
}

impl Entry {
    pub fn name(&self) -> String {
        String::from_utf8_lossy(&self.name).into_owned()
    }
}

/// The entries of a tar.
pub fn entries(tar: &[u8]) -> Vec<Entry> {
    let mut archive = tar::Archive::new(tar);
    archive
        .entries()
        .unwrap()
        .map(|entry| {
            let mut entry = entry.unwrap();
            let header = entry.header().clone();
            let name = entry.path_bytes().into_owned();
            let link = entry.link_name_bytes().map(|l| l.into_owned());
            let mut content = Vec::new();
            entry.read_to_end(&mut content).unwrap();
            Entry {
                name,
                kind: char::from(header.entry_type().as_byte()),
                mode: header.mode().unwrap(),
                uid: entry.header().uid().unwrap(),
                gid: entry.header().gid().unwrap(),
                mtime: header.mtime().unwrap(),
                size: entry.size(),
                link,
                uname: header.username_bytes().unwrap_or_default().to_vec(),
                gname: header.groupname_bytes().unwrap_or_default().to_vec(),
                content,
            }
        })
        .collect()
}

/// Entry names of a tar, as strings.
pub fn names(tar: &[u8]) -> Vec<String> {
    entries(tar).iter().map(Entry::name).collect()
}

/// A deterministic byte stream (xorshift), incompressible.
pub fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Deterministic text-like bytes, compressible about as well as source code.
pub fn text_bytes(len: usize, seed: u64) -> Vec<u8> {
    const WORDS: &[&str] = &[
        "the",
        "layer",
        "of",
        "and",
        "build",
        "to",
        "export",
        "image",
        "in",
        "buildpack",
        "is",
        "digest",
        "for",
        "cache",
        "with",
        "launch",
        "tar",
        "as",
        "process",
        "registry",
        "on",
        "that",
        "config",
        "by",
        "app",
        "from",
        "lifecycle",
        "at",
        "metadata",
        "{",
        "}",
        "fn",
        "let",
        "return",
        "=",
        ";",
        "if",
        "else",
        "self",
        "String",
        "Vec<u8>",
        "0x1f",
        "1980",
        "sha256",
        "gzip",
        "path",
        "file",
    ];
    let mut x = seed.wrapping_mul(0x2545_F491_4F6C_DD1D) | 1;
    let mut out = Vec::with_capacity(len + 32);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        // Skewed towards the first words, like natural text.
        let r = (x >> 11) as usize;
        let index = (r % WORDS.len()).min((r >> 8) % WORDS.len());
        out.extend_from_slice(WORDS[index].as_bytes());
        out.push(match (x >> 3) % 13 {
            0 => b'\n',
            1 => b'.',
            _ => b' ',
        });
    }
    out.truncate(len);
    out
}

/// Whether this process may chown files and create device nodes.
pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Fills `root` (created) with the awkward cases: long names (USTAR-split and PAX),
/// unicode and non-UTF-8 names, symlinks (short, absolute, long, unicode, dangling),
/// empty directories, odd modes, hard links, a FIFO, a socket, a device (as root),
/// chunk-crossing files and files of mixed content.
pub fn awkward_tree(root: &Path) {
    let dir = |rel: &str| fs::create_dir_all(root.join(rel)).unwrap();
    let file = |rel: &Path, data: &[u8], mode: u32| {
        let path = root.join(rel);
        fs::write(&path, data).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
    };
    fs::create_dir_all(root).unwrap();
    dir("a");
    dir("a/c");
    dir("empty");
    dir("deep/one/two/three");
    file(Path::new("a.txt"), b"hello\n", 0o644);
    file(Path::new("a-b"), b"dash", 0o600);
    file(Path::new("a/c/z"), &text_bytes(10_000, 1), 0o640);
    file(Path::new("B"), b"", 0o444);
    file(Path::new("exec.sh"), b"#!/bin/sh\necho hi\n", 0o755);
    file(Path::new("setuid"), b"s", 0o4755);
    file(Path::new("setgid"), b"g", 0o2750);
    file(Path::new("none"), b"locked", 0o000);
    dir("sticky");
    fs::set_permissions(root.join("sticky"), fs::Permissions::from_mode(0o1777)).unwrap();
    dir("private");
    fs::set_permissions(root.join("private"), fs::Permissions::from_mode(0o700)).unwrap();
    // Exactly 100 bytes, splittable long, unsplittable long, long and deep.
    let n100 = "n".repeat(100);
    file(Path::new(&n100), b"100", 0o644);
    let long_dir = "d".repeat(120);
    dir(&long_dir);
    file(&Path::new(&long_dir).join("f".repeat(90)), b"split", 0o644);
    file(Path::new(&"p".repeat(200)), b"pax", 0o644);
    let mut deep = PathBuf::from("deep");
    for i in 0..6 {
        deep.push(format!("{i}{}", "x".repeat(60)));
    }
    fs::create_dir_all(root.join(&deep)).unwrap();
    file(&deep.join("leaf"), b"deep", 0o644);
    // Unicode and non-UTF-8 names.
    file(Path::new("é-ü-名前.txt"), "ünïcödé".as_bytes(), 0o644);
    dir("каталог");
    file(Path::new("каталог/файл"), b"cyrillic", 0o644);
    file(
        Path::new(std::ffi::OsStr::from_bytes(b"latin1-\xe9\xff")),
        b"bytes",
        0o644,
    );
    // Symlinks.
    symlink("a.txt", root.join("link-short")).unwrap();
    symlink("/etc/passwd", root.join("link-abs")).unwrap();
    symlink("t".repeat(150), root.join("link-long")).unwrap();
    symlink("é/ü", root.join("link-unicode")).unwrap();
    symlink("a", root.join("link-dir")).unwrap();
    symlink("missing", root.join("link-dangling")).unwrap();
    // Hard links are archived as two full copies.
    file(Path::new("hard-1"), b"same inode", 0o644);
    fs::hard_link(root.join("hard-1"), root.join("hard-2")).unwrap();
    // Special files.
    nix::unistd::mkfifo(
        &root.join("fifo"),
        nix::sys::stat::Mode::from_bits_truncate(0o644),
    )
    .unwrap();
    let _socket = std::os::unix::net::UnixListener::bind(root.join("socket")).unwrap();
    if is_root() {
        nix::sys::stat::mknod(
            &root.join("null-device"),
            nix::sys::stat::SFlag::S_IFCHR,
            nix::sys::stat::Mode::from_bits_truncate(0o666),
            nix::sys::stat::makedev(1, 3),
        )
        .unwrap();
    }
    // Bigger files: crossing 1 MiB chunk boundaries, mixed content.
    let mut big = text_bytes(1_500_000, 2);
    big.extend_from_slice(&random_bytes(2_000_000, 3));
    file(Path::new("big.bin"), &big, 0o644);
    file(Path::new("random.bin"), &random_bytes(777_777, 4), 0o644);
}

//! A multi-hundred-megabyte blob through the client with bounded memory: uploaded from a
//! file (monolithic PUT and chunked PATCH) and streamed back, the process's peak RSS
//! growing by a small fraction of the blob. Prints the loopback throughput.
//!
//! One test in its own binary, so no other test's allocations count against the bound.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::time::Instant;

use lifecycle::image::reference::Reference;
use lifecycle::registry::{Client, ClientConfig, Keychain};
use sha2::{Digest, Sha256};
use spec_tests::registry::Registry;

const SIZE: u64 = 320 << 20;
/// Allowed growth of the peak RSS: a tenth of the blob.
const MEMORY_BOUND: u64 = SIZE / 10;

/// The process's peak resident set size, in bytes.
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM");
    kb * 1024
}

/// Writes `SIZE` bytes of varied content to `path` and returns their digest.
fn write_blob(path: &std::path::Path) -> String {
    let mut out = BufWriter::new(File::create(path).expect("create"));
    let mut hasher = Sha256::new();
    let mut block = vec![0u8; 1 << 20];
    for (i, b) in block.iter_mut().enumerate() {
        *b = (i * 31 % 251) as u8;
    }
    for n in 0..(SIZE >> 20) {
        block[..8].copy_from_slice(&n.to_le_bytes());
        hasher.update(&block);
        out.write_all(&block).expect("write");
    }
    out.flush().expect("flush");
    let hex: String = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256:{hex}")
}

fn mib_per_s(bytes: u64, started: Instant) -> f64 {
    bytes as f64 / (1 << 20) as f64 / started.elapsed().as_secs_f64()
}

#[test]
fn large_blob_round_trip_in_bounded_memory() {
    let reg = Registry::anonymous();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("layer.tar");
    let digest = write_blob(&path);
    let c = Client::new(ClientConfig::default(), Keychain::anonymous()).unwrap();
    let r = Reference::parse(&reg.image("big/layer:1")).unwrap();
    let baseline = peak_rss();

    let started = Instant::now();
    c.upload_blob(r.repo(), &digest, SIZE, || File::open(&path))
        .expect("monolithic upload");
    eprintln!(
        "monolithic PUT upload: {:.0} MiB/s",
        mib_per_s(SIZE, started)
    );
    assert_eq!(c.blob_exists(r.repo(), &digest).unwrap(), Some(SIZE));

    let other = Reference::parse(&reg.image("big/streamed:1")).unwrap();
    let started = Instant::now();
    let blob = c
        .upload_blob_stream(other.repo(), || File::open(&path))
        .expect("streamed upload");
    eprintln!(
        "chunked PATCH upload: {:.0} MiB/s",
        mib_per_s(SIZE, started)
    );
    assert_eq!((blob.digest.as_str(), blob.size), (digest.as_str(), SIZE));

    let started = Instant::now();
    let mut reader = c.get_blob(other.repo(), &digest).unwrap();
    assert_eq!(io::copy(&mut reader, &mut io::sink()).unwrap(), SIZE);
    eprintln!(
        "streamed GET (verified): {:.0} MiB/s",
        mib_per_s(SIZE, started)
    );

    let grown = peak_rss().saturating_sub(baseline);
    eprintln!("peak RSS growth: {} KiB", grown >> 10);
    assert!(
        grown < MEMORY_BOUND,
        "peak RSS grew by {grown} bytes moving a {SIZE}-byte blob"
    );
}

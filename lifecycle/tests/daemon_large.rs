//! A layer of hundreds of MB goes to the daemon and comes back through `docker save`
//! with memory bounded well below its size (its own test binary, so the peak resident
//! size measured is this test's alone).

use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::path::Path;
use std::time::Instant;

use lifecycle::daemon::{ArchiveLayer, Daemon, LoadArchive, read_saved};
use lifecycle::image::model::hex;
use lifecycle::image::{History, NORMALIZED_TIME};
use sha2::{Digest, Sha256};
use spec_tests::dockerd;

const LAYER_FILE_SIZE: u64 = 384 << 20;
/// How much the peak resident size may grow while a layer is loaded or saved.
const MEMORY_BUDGET: u64 = 48 << 20;

/// Pseudo-random bytes (xorshift), so nothing along the way can shortcut zeros.
struct Noise {
    left: u64,
    state: u64,
}

impl Read for Noise {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        for chunk in buf[..n].chunks_mut(8) {
            self.state ^= self.state << 13;
            self.state ^= self.state >> 7;
            self.state ^= self.state << 17;
            chunk.copy_from_slice(&self.state.to_le_bytes()[..chunk.len()]);
        }
        self.left -= n as u64;
        Ok(n)
    }
}

fn sha256_file(path: &Path) -> String {
    let mut hasher = Sha256::new();
    let mut file = File::open(path).unwrap();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    format!("sha256:{}", hex(&hasher.finalize()))
}

fn status_kib(field: &str) -> u64 {
    let status = fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with(field))
        .unwrap_or_else(|| panic!("{field} in /proc/self/status"));
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Runs `f` and returns its result with how far the peak resident size rose above the
/// resident size at the start, in bytes.
fn peak_growth<T>(f: impl FnOnce() -> T) -> (T, u64) {
    // Writing 5 resets VmHWM to the current resident size.
    fs::write("/proc/self/clear_refs", "5").unwrap();
    let before = status_kib("VmRSS:");
    let value = f();
    let peak = status_kib("VmHWM:");
    (value, peak.saturating_sub(before) * 1024)
}

#[test]
fn a_large_layer_is_loaded_and_saved_with_bounded_memory() {
    let d = dockerd::shared();
    let dir = tempfile::tempdir().unwrap();
    dockerd::busybox_layout(&dir.path().join("oci"), "base", &[]);
    d.load_oci(&dir.path().join("oci"), "base", "cnb-test/base:large");
    let daemon = Daemon::connect(Some(d.host())).unwrap();
    let base = daemon
        .inspect_image("cnb-test/base:large")
        .unwrap()
        .unwrap();

    let layer = dir.path().join("big.tar");
    {
        let mut tar = tar::Builder::new(BufWriter::new(File::create(&layer).unwrap()));
        let mut h = tar::Header::new_ustar();
        h.set_size(LAYER_FILE_SIZE);
        h.set_mode(0o644);
        h.set_mtime(315_532_801);
        h.set_cksum();
        let noise = Noise {
            left: LAYER_FILE_SIZE,
            state: 0x9E37_79B9_7F4A_7C15,
        };
        tar.append_data(&mut h, "big.bin", noise).unwrap();
        tar.into_inner().unwrap().flush().unwrap();
    }
    let size = fs::metadata(&layer).unwrap().len();
    let diff_id = sha256_file(&layer);

    let mut config = base.image_config();
    config.rootfs.diff_ids.push(diff_id.clone());
    config.history.push(History::new(NORMALIZED_TIME, "big"));
    let mut layers = vec![ArchiveLayer::Placeholder; base.diff_ids.len()];
    layers.push(ArchiveLayer::Tar(layer.clone()));
    let archive =
        LoadArchive::new(config.to_bytes(), vec!["cnb-test/app:large".into()], layers).unwrap();

    let start = Instant::now();
    let (id, growth) = peak_growth(|| daemon.load_image(&archive).unwrap());
    let load_time = start.elapsed();
    assert_eq!(id, archive.config_digest());
    assert!(
        growth < MEMORY_BUDGET,
        "loading a {size}-byte layer raised the peak resident size by {growth} bytes"
    );

    let out = dir.path().join("saved");
    fs::create_dir(&out).unwrap();
    let start = Instant::now();
    let (saved, growth) = peak_growth(|| {
        let stream = daemon.save(&["cnb-test/app:large"]).unwrap();
        read_saved(stream, &out, |d| d == diff_id).unwrap()
    });
    let save_time = start.elapsed();
    assert!(
        growth < MEMORY_BUDGET,
        "saving a {size}-byte layer raised the peak resident size by {growth} bytes"
    );
    let back = &saved.layers[&diff_id];
    assert_eq!(fs::metadata(back).unwrap().len(), size);
    assert_eq!(sha256_file(back), diff_id);
    let mib = size as f64 / f64::from(1 << 20);
    eprintln!(
        "{mib:.0} MiB layer: load {:.2} s ({:.0} MiB/s), save + read {:.2} s ({:.0} MiB/s)",
        load_time.as_secs_f64(),
        mib / load_time.as_secs_f64(),
        save_time.as_secs_f64(),
        mib / save_time.as_secs_f64()
    );
}

//! Throughput of the layer pipeline against `tar -cf - DIR | pigz -1 -p<cores> |
//! sha256sum` on the same files (GNU tar with `--hard-dereference`, since layers store
//! hard links as full copies as the reference does): a fresh 1 GiB app of 10,000 files, half text-like and
//! half random, written as one layer (diffID, gzip blob, digest). A measurement, not a
//! check; run it in release:
//!
//! ```sh
//! cargo test -p lifecycle --release --test layer_bench -- --ignored --nocapture
//! ```
//!
//! `LAYER_BENCH_DIR` keeps the generated tree between runs (default: a directory under
//! Cargo's target tmp dir); `LAYER_BENCH_APP` measures an existing directory instead;
//! `LAYER_BENCH_LEVEL` sets our gzip level (default `Gzip::FASTEST_ZLIB`); `LAYER_BENCH_RUNS` sets the
//! repetitions (default 3, the best run of each side is reported).

#[path = "golden/support.rs"]
mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use lifecycle::layer::{Gzip, LayerOutputs, LayerSource, Owner, diff_id, write_layer};

const DIRS: usize = 100;
const FILES_PER_DIR: usize = 100;
const TOTAL: usize = 1 << 30;

fn tree() -> PathBuf {
    if let Some(app) = std::env::var_os("LAYER_BENCH_APP") {
        return PathBuf::from(app);
    }
    let root = std::env::var_os("LAYER_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_TARGET_TMPDIR")).join("layer-bench"));
    let app = root.join("app");
    let done = root.join("complete");
    if done.exists() {
        return app;
    }
    let _ = fs::remove_dir_all(&app);
    let size = TOTAL / (DIRS * FILES_PER_DIR);
    for d in 0..DIRS {
        let dir = app.join(format!("dir{d:03}"));
        fs::create_dir_all(&dir).unwrap();
        for f in 0..FILES_PER_DIR {
            let seed = (d * FILES_PER_DIR + f) as u64;
            let data = if f % 2 == 0 {
                support::text_bytes(size, seed)
            } else {
                support::random_bytes(size, seed)
            };
            fs::write(dir.join(format!("file{f:03}")), data).unwrap();
        }
    }
    fs::write(done, b"").unwrap();
    app
}

fn shell(script: &str) -> (Duration, String) {
    let start = Instant::now();
    let output = Command::new("bash").args(["-c", script]).output().unwrap();
    let elapsed = start.elapsed();
    assert!(
        output.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    (
        elapsed,
        String::from_utf8_lossy(&output.stdout).trim().to_string(),
    )
}

fn best<T>(runs: usize, mut f: impl FnMut() -> (Duration, T)) -> (Duration, T) {
    let mut best: Option<(Duration, T)> = None;
    for _ in 0..runs {
        let (took, value) = f();
        if best.as_ref().is_none_or(|(b, _)| took < *b) {
            best = Some((took, value));
        }
    }
    best.unwrap()
}

fn mib_per_s(bytes: u64, took: Duration) -> f64 {
    bytes as f64 / (1 << 20) as f64 / took.as_secs_f64()
}

#[test]
#[ignore = "a 1 GiB measurement; run explicitly in release"]
fn one_gib_layer_against_pigz() {
    let runs: usize = std::env::var("LAYER_BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3);
    let level: u32 = std::env::var("LAYER_BENCH_LEVEL")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(Gzip::FASTEST_ZLIB);
    let app = tree();
    let app_str = app.to_str().unwrap();
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    // Warm the page cache (through cat: GNU tar skips reading when writing to /dev/null).
    shell(&format!(
        "tar --hard-dereference -cf - {app_str} 2>/dev/null | cat >/dev/null"
    ));

    let pigz = format!(
        "tar --hard-dereference -cf - {app_str} 2>/dev/null | pigz -1 -p{cores} | sha256sum"
    );
    let (pigz_time, _) = best(runs, || shell(&pigz));
    let (_, pigz_size) = shell(&format!(
        "tar --hard-dereference -cf - {app_str} 2>/dev/null | pigz -1 -p{cores} | wc -c"
    ));
    let (tar_sha_time, _) = best(runs, || {
        shell(&format!(
            "tar --hard-dereference -cf - {app_str} 2>/dev/null | sha256sum"
        ))
    });

    let source = LayerSource::dir(
        &app,
        Owner {
            uid: 1000,
            gid: 1000,
        },
    )
    .unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let (ours_time, written) = best(runs, || {
        let blobs = scratch.path().join("blobs");
        let _ = fs::remove_dir_all(&blobs);
        fs::create_dir(&blobs).unwrap();
        let start = Instant::now();
        let written = write_layer(
            &source,
            &LayerOutputs {
                blob_dir: Some(blobs),
                tar_file: None,
                gzip: Gzip {
                    level,
                    ..Gzip::default()
                },
            },
        )
        .unwrap();
        (start.elapsed(), written)
    });
    let (one_thread_time, _) = best(1, || {
        let blobs = scratch.path().join("blobs-1");
        let _ = fs::remove_dir_all(&blobs);
        fs::create_dir(&blobs).unwrap();
        let start = Instant::now();
        let outputs = LayerOutputs {
            blob_dir: Some(blobs),
            tar_file: None,
            gzip: Gzip { level, threads: 1 },
        };
        let written = write_layer(&source, &outputs).unwrap();
        (start.elapsed(), written)
    });
    let (hash_time, _) = best(runs, || {
        let start = Instant::now();
        let id = diff_id(&source).unwrap();
        (start.elapsed(), id)
    });

    let tar_size = written.tar_size;
    let blob = written.blob.unwrap();
    let mib = |b: u64| b as f64 / (1 << 20) as f64;
    println!(
        "layer bench: {app_str}, tar {:.0} MiB, {cores} cores, our level {level}, best of {runs}",
        mib(tar_size)
    );
    println!(
        "  tar | pigz -1 -p{cores} | sha256sum   {:6.2} s  {:6.1} MiB/s  gzip {:.0} MiB (ratio {:.3})",
        pigz_time.as_secs_f64(),
        mib_per_s(tar_size, pigz_time),
        mib(pigz_size.parse().unwrap()),
        pigz_size.parse::<f64>().unwrap() / tar_size as f64
    );
    println!(
        "  write_layer (blob, {cores} threads)     {:6.2} s  {:6.1} MiB/s  gzip {:.0} MiB (ratio {:.3})  = {:.2}x pigz",
        ours_time.as_secs_f64(),
        mib_per_s(tar_size, ours_time),
        mib(blob.size),
        blob.size as f64 / tar_size as f64,
        ours_time.as_secs_f64() / pigz_time.as_secs_f64()
    );
    println!(
        "  write_layer (blob, 1 thread)        {:6.2} s  {:6.1} MiB/s",
        one_thread_time.as_secs_f64(),
        mib_per_s(tar_size, one_thread_time)
    );
    println!(
        "  tar | sha256sum                     {:6.2} s  {:6.1} MiB/s",
        tar_sha_time.as_secs_f64(),
        mib_per_s(tar_size, tar_sha_time)
    );
    println!(
        "  diff_id (hash only)                 {:6.2} s  {:6.1} MiB/s",
        hash_time.as_secs_f64(),
        mib_per_s(tar_size, hash_time)
    );
}

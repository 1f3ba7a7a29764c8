//! The layer pipeline end to end: blobs that gzip and zcat accept and whose content is
//! the tar of the diffID, the same digest on any thread count, tars GNU tar and Python
//! read back, the hash-only path, the synthetic layers' entries, and failures (a file
//! changing size, a missing directory) that leave nothing behind.

#[path = "golden/support.rs"]
mod support;

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Command, Stdio};

use lifecycle::layer::{
    Gzip, LayerError, LayerOutputs, LayerSource, Owner, app_slices, diff_id, write_layer,
};
use platform_api::files::metadata::Slice;
use support::{awkward_tree, entries, names, random_bytes, sha256_hex_prefixed, text_bytes};

const OWNER: Owner = Owner {
    uid: 1000,
    gid: 1001,
};

fn run(cmd: &str, args: &[&str]) -> Vec<u8> {
    let output = Command::new(cmd)
        .args(args)
        .stderr(Stdio::inherit())
        .output()
        .unwrap();
    assert!(output.status.success(), "{cmd} {args:?} failed");
    output.stdout
}

fn dir_entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn blob_is_gzip_of_the_tar_and_named_by_its_digest() {
    let tmp = tempfile::tempdir().unwrap();
    let layer = tmp.path().join("layers/bp/layer");
    awkward_tree(&layer);
    let blobs = tmp.path().join("blobs");
    fs::create_dir(&blobs).unwrap();
    let tar = tmp.path().join("layer.tar");
    let source = LayerSource::dir(&layer, OWNER).unwrap();
    let written = write_layer(
        &source,
        &LayerOutputs {
            blob_dir: Some(blobs.clone()),
            tar_file: Some(tar.clone()),
            gzip: Gzip::default(),
        },
    )
    .unwrap();
    let blob = written.blob.clone().unwrap();
    let blob_str = blob.path.to_str().unwrap();

    run("gzip", &["-t", blob_str]);
    let unzipped = run("zcat", &[blob_str]);
    assert_eq!(sha256_hex_prefixed(&unzipped), written.diff_id);
    let tar_bytes = fs::read(&tar).unwrap();
    assert_eq!(unzipped, tar_bytes);
    assert_eq!(written.tar_size, tar_bytes.len() as u64);

    let blob_bytes = fs::read(&blob.path).unwrap();
    assert_eq!(sha256_hex_prefixed(&blob_bytes), blob.digest);
    assert_eq!(blob.size, blob_bytes.len() as u64);
    assert_eq!(
        blob.path,
        blobs.join(blob.digest.strip_prefix("sha256:").unwrap())
    );
    // Nothing but the blob is left in the blob directory, nothing but the tar beside it.
    assert_eq!(
        dir_entries(&blobs),
        [blob.digest.strip_prefix("sha256:").unwrap()]
    );
    assert_eq!(dir_entries(tmp.path()), ["blobs", "layer.tar", "layers"]);

    assert_eq!(diff_id(&source).unwrap(), written.diff_id);
}

#[test]
fn the_digest_does_not_depend_on_threads_or_outputs() {
    let tmp = tempfile::tempdir().unwrap();
    let layer = tmp.path().join("layer");
    fs::create_dir(&layer).unwrap();
    // Several chunks of mixed content, so that chunks really run in parallel.
    for i in 0..12u64 {
        let data = if i % 2 == 0 {
            text_bytes(700_000, i)
        } else {
            random_bytes(600_000, i)
        };
        fs::write(layer.join(format!("f{i:02}")), data).unwrap();
    }
    let source = LayerSource::dir(&layer, OWNER).unwrap();
    let mut seen = Vec::new();
    for threads in [1, 2, 3, 8] {
        let blobs = tmp.path().join(format!("blobs-{threads}"));
        fs::create_dir(&blobs).unwrap();
        let outputs = LayerOutputs {
            blob_dir: Some(blobs),
            tar_file: None,
            gzip: Gzip {
                threads,
                ..Gzip::default()
            },
        };
        let written = write_layer(&source, &outputs).unwrap();
        let blob = written.blob.unwrap();
        seen.push((written.diff_id, blob.digest, fs::read(&blob.path).unwrap()));
    }
    for other in &seen[1..] {
        assert_eq!(other.0, seen[0].0);
        assert_eq!(other.1, seen[0].1);
        assert!(other.2 == seen[0].2);
    }
    // The random half is stored, the text half compressed: well under the tar size
    // but above half of it.
    let tar_len = 6 * 700_000 + 6 * 600_000;
    let blob_len = seen[0].2.len();
    assert!(
        blob_len < tar_len * 3 / 4 && blob_len > 6 * 600_000,
        "{blob_len}"
    );
    // Other levels give other, still valid, blobs.
    let blobs = tmp.path().join("blobs-6");
    fs::create_dir(&blobs).unwrap();
    let level6 = write_layer(
        &source,
        &LayerOutputs {
            blob_dir: Some(blobs),
            tar_file: None,
            gzip: Gzip {
                level: 6,
                threads: 2,
            },
        },
    )
    .unwrap();
    assert_eq!(level6.diff_id, seen[0].0);
    let blob = level6.blob.unwrap();
    assert_ne!(blob.digest, seen[0].1);
    assert_eq!(
        sha256_hex_prefixed(&run("zcat", &[blob.path.to_str().unwrap()])),
        seen[0].0
    );
}

#[test]
fn gnu_tar_extracts_what_was_archived() {
    let tmp = tempfile::tempdir().unwrap();
    let layer = tmp.path().join("src/layer");
    awkward_tree(&layer);
    let tar = tmp.path().join("layer.tar");
    let source = LayerSource::dir(&layer, OWNER).unwrap();
    write_layer(
        &source,
        &LayerOutputs {
            tar_file: Some(tar.clone()),
            ..LayerOutputs::default()
        },
    )
    .unwrap();

    let listing =
        String::from_utf8_lossy(&run("tar", &["-tf", tar.to_str().unwrap()])).into_owned();
    assert!(
        listing
            .lines()
            .any(|l| l == format!("{}/exec.sh", layer.display())),
        "{listing}"
    );
    let layer_name = layer.to_str().unwrap().trim_start_matches('/');

    let out = tmp.path().join("out");
    fs::create_dir(&out).unwrap();
    run(
        "tar",
        &[
            "-xpf",
            tar.to_str().unwrap(),
            "-C",
            out.to_str().unwrap(),
            "--numeric-owner",
        ],
    );
    let extracted = out.join(layer_name);
    for rel in [
        "a.txt",
        "a/c/z",
        "big.bin",
        "random.bin",
        "é-ü-名前.txt",
        "hard-2",
    ] {
        assert_eq!(
            fs::read(extracted.join(rel)).unwrap(),
            fs::read(layer.join(rel)).unwrap(),
            "{rel}"
        );
    }
    let long = "d".repeat(120) + "/" + &"f".repeat(90);
    assert_eq!(fs::read(extracted.join(&long)).unwrap(), b"split");
    assert_eq!(fs::read(extracted.join("p".repeat(200))).unwrap(), b"pax");
    assert_eq!(
        fs::read_link(extracted.join("link-long"))
            .unwrap()
            .to_str()
            .unwrap(),
        "t".repeat(150)
    );
    assert_eq!(
        fs::read_link(extracted.join("link-unicode"))
            .unwrap()
            .to_str()
            .unwrap(),
        "é/ü"
    );
    let meta = fs::symlink_metadata(extracted.join("setuid")).unwrap();
    assert_eq!(meta.mode() & 0o7777, 0o4755);
    assert_eq!(
        fs::symlink_metadata(extracted.join("sticky"))
            .unwrap()
            .mode()
            & 0o7777,
        0o1777
    );
    assert!(
        fs::symlink_metadata(extracted.join("fifo"))
            .unwrap()
            .file_type()
            .is_fifo()
    );
    // Sockets are not archived.
    assert!(!extracted.join("socket").exists());
    // Hard links became two independent files.
    let (h1, h2) = (extracted.join("hard-1"), extracted.join("hard-2"));
    assert_ne!(
        fs::metadata(h1).unwrap().ino(),
        fs::metadata(h2).unwrap().ino()
    );
    if support::is_root() {
        assert_eq!(meta.uid(), OWNER.uid);
        assert_eq!(meta.gid(), OWNER.gid);
    }
}

use std::os::unix::fs::FileTypeExt;

#[test]
fn headers_are_normalized() {
    let tmp = tempfile::tempdir().unwrap();
    let layer = tmp.path().join("layers/bp/layer");
    awkward_tree(&layer);
    let source = LayerSource::dir(&layer, OWNER).unwrap();
    let tar = support::our_tar(&source, tmp.path());
    let all = entries(&tar);
    let layer_name = layer.to_str().unwrap();
    let mut below = 0;
    for entry in &all {
        let name = entry.name();
        assert!(name.starts_with('/') && !name.ends_with('/'), "{name}");
        assert_eq!(entry.mtime, 315_532_801, "{name}");
        assert!(entry.uname.is_empty() && entry.gname.is_empty(), "{name}");
        if name == layer_name || name.starts_with(&format!("{layer_name}/")) {
            below += 1;
            assert_eq!((entry.uid, entry.gid), (1000, 1001), "{name}");
        } else {
            // A parent: its own owner and mode.
            let meta = fs::metadata(&name).unwrap();
            assert_eq!(
                (entry.uid, entry.gid),
                (u64::from(meta.uid()), u64::from(meta.gid())),
                "{name}"
            );
            assert_eq!(entry.mode, meta.mode() & 0o7777, "{name}");
            assert_eq!(entry.kind, '5');
        }
    }
    // The parents are the directories from the top down, then the layer dir itself.
    let listed = names(&tar);
    let tmp_components = tmp.path().components().count() - 1;
    assert_eq!(listed.len() - below, tmp_components + 2);
    assert_eq!(listed[tmp_components + 2], layer_name);
    // Walk order: lexical by bytes, depth first.
    let pos = |rel: &str| {
        listed
            .iter()
            .position(|n| *n == format!("{layer_name}/{rel}"))
            .unwrap()
    };
    assert!(
        pos("B") < pos("a")
            && pos("a") < pos("a/c/z")
            && pos("a/c/z") < pos("a-b")
            && pos("a-b") < pos("a.txt")
    );
    // Entry types: a symlink keeps its target, a hard link is a full copy.
    let get = |rel: &str| {
        all.iter()
            .find(|e| e.name() == format!("{layer_name}/{rel}"))
            .unwrap()
    };
    assert_eq!(get("link-short").kind, '2');
    assert_eq!(get("link-short").link.as_deref(), Some(&b"a.txt"[..]));
    assert_eq!(get("hard-2").kind, '0');
    assert_eq!(get("hard-2").content, b"same inode");
    assert_eq!(get("fifo").kind, '6');
    assert!(!all.iter().any(|e| e.name().ends_with("/socket")));
}

#[test]
fn python_tarfile_reads_the_layer() {
    if Command::new("python3").arg("--version").output().is_err() {
        eprintln!("SKIPPED: python3 is not installed");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let layer = tmp.path().join("layer");
    awkward_tree(&layer);
    let tar = tmp.path().join("layer.tar");
    let source = LayerSource::dir(
        &layer,
        Owner {
            uid: 3_000_000,
            gid: 7,
        },
    )
    .unwrap();
    write_layer(
        &source,
        &LayerOutputs {
            tar_file: Some(tar.clone()),
            ..LayerOutputs::default()
        },
    )
    .unwrap();
    let script = r#"
import sys, tarfile
with tarfile.open(sys.argv[1], encoding="utf-8", errors="surrogateescape") as t:
    for m in t.getmembers():
        if m.name.startswith(sys.argv[2].lstrip("/")) or m.name.startswith(sys.argv[2]):
            assert (m.uid, m.gid) == (3000000, 7), (m.name, m.uid, m.gid)
        assert m.mtime == 315532801, m.name
        assert m.uname == "" and m.gname == "", m.name
        if m.isfile():
            data = t.extractfile(m).read()
            assert len(data) == m.size, m.name
    print(len(t.getmembers()))
"#;
    let out = run(
        "python3",
        &["-c", script, tar.to_str().unwrap(), layer.to_str().unwrap()],
    );
    let count: usize = String::from_utf8(out).unwrap().trim().parse().unwrap();
    assert_eq!(count, names(&fs::read(&tar).unwrap()).len());
}

#[test]
fn launcher_and_process_type_layers() {
    let tmp = tempfile::tempdir().unwrap();
    let launcher = tmp.path().join("launcher");
    fs::write(&launcher, b"#!launcher").unwrap();
    let tar = support::our_tar(&LayerSource::launcher(&launcher), tmp.path());
    let all = entries(&tar);
    let summary: Vec<(String, char, u32, u64, u64)> = all
        .iter()
        .map(|e| (e.name(), e.kind, e.mode, e.uid, e.gid))
        .collect();
    assert_eq!(
        summary,
        [
            ("/cnb".to_string(), '5', 0o755, 0, 0),
            ("/cnb/lifecycle".to_string(), '5', 0o755, 0, 0),
            ("/cnb/lifecycle/launcher".to_string(), '0', 0o755, 0, 0),
        ]
    );
    assert_eq!(all[2].content, b"#!launcher");

    let tar = support::our_tar(
        &LayerSource::process_types(["web", "worker"]).unwrap(),
        tmp.path(),
    );
    let links: Vec<(String, Option<Vec<u8>>)> = entries(&tar)
        .into_iter()
        .map(|e| (e.name(), e.link))
        .collect();
    let launcher_path = Some(b"/cnb/lifecycle/launcher".to_vec());
    assert_eq!(
        links,
        [
            ("/cnb".to_string(), None),
            ("/cnb/process".to_string(), None),
            ("/cnb/process/web".to_string(), launcher_path.clone()),
            ("/cnb/process/worker".to_string(), launcher_path),
        ]
    );

    for (bad, message) in [
        ("", "type is required for all processes"),
        (
            "a/b",
            "invalid process type 'a/b': type may not contain characters '/><:|&\\'",
        ),
        (
            "a&b",
            "invalid process type 'a&b': type may not contain characters '/><:|&\\'",
        ),
    ] {
        let err = LayerSource::process_types(["web", bad]).unwrap_err();
        assert_eq!(err.to_string(), message);
    }

    let missing = tmp.path().join("no-launcher");
    let err = write_layer(&LayerSource::launcher(&missing), &LayerOutputs::default()).unwrap_err();
    let m = missing.display();
    assert_eq!(
        err.to_string(),
        format!("failed to stat launcher at path '{m}': stat {m}: no such file or directory")
    );
}

#[test]
fn a_file_changing_size_fails_and_leaves_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let app = tmp.path().join("app");
    fs::create_dir(&app).unwrap();
    fs::write(app.join("a"), b"before").unwrap();
    fs::write(app.join("z"), random_bytes(3_000_000, 1)).unwrap();
    let blobs = tmp.path().join("blobs");
    fs::create_dir(&blobs).unwrap();
    let tar = tmp.path().join("out.tar");
    let outputs = LayerOutputs {
        blob_dir: Some(blobs.clone()),
        tar_file: Some(tar.clone()),
        gzip: Gzip {
            level: 1,
            threads: 2,
        },
    };
    // The slices list the tree (sizes included) before anything is written, as the
    // reference does; changing a file in between is what a concurrent writer does.
    let layers = app_slices(&app, &[], OWNER).unwrap();
    fs::write(app.join("a"), b"before and after").unwrap();
    let err = write_layer(&layers[0], &outputs).unwrap_err();
    assert!(
        matches!(
            err,
            LayerError::FileChanged {
                read: None,
                size: 6,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "file {} changed while it was archived: its size was 6 bytes, more could be read",
            app.join("a").display()
        )
    );
    assert!(dir_entries(&blobs).is_empty());
    assert!(!tar.exists());

    let layers = app_slices(&app, &[], OWNER).unwrap();
    fs::write(app.join("z"), b"short").unwrap();
    let err = write_layer(&layers[0], &outputs).unwrap_err();
    assert!(
        matches!(
            err,
            LayerError::FileChanged {
                read: Some(5),
                size: 3_000_000,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(dir_entries(&blobs).is_empty());
    assert!(!tar.exists());
    assert_eq!(dir_entries(tmp.path()), ["app", "blobs"]);
}

#[test]
fn a_missing_directory_fails_with_go_wording() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("layers/bp/missing");
    fs::create_dir_all(missing.parent().unwrap()).unwrap();
    let err = diff_id(&LayerSource::dir(&missing, OWNER).unwrap()).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("lstat {}: no such file or directory", missing.display())
    );
    let blobs = tmp.path().join("nowhere");
    let err = write_layer(
        &LayerSource::launcher(Path::new("/bin/sh")),
        &LayerOutputs {
            blob_dir: Some(blobs.clone()),
            ..LayerOutputs::default()
        },
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .starts_with(&format!("open {}: ", blobs.display())),
        "{err}"
    );
}

#[test]
fn relative_dirs_are_taken_from_the_working_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let layer = tmp.path().join("layer");
    fs::create_dir(&layer).unwrap();
    fs::write(layer.join("f"), b"x").unwrap();
    let cwd = std::env::current_dir().unwrap();
    let relative = pathdiff(&layer, &cwd);
    let by_relative = diff_id(&LayerSource::dir(&relative, OWNER).unwrap()).unwrap();
    let by_absolute = diff_id(&LayerSource::dir(&layer, OWNER).unwrap()).unwrap();
    assert_eq!(by_relative, by_absolute);
}

/// `path` relative to `base` (both absolute), through `..` as needed.
fn pathdiff(path: &Path, base: &Path) -> std::path::PathBuf {
    let ups = base.components().count() - 1;
    let mut out = std::path::PathBuf::new();
    for _ in 0..ups {
        out.push("..");
    }
    out.join(path.strip_prefix("/").unwrap())
}

#[test]
fn an_empty_slice_is_the_empty_tar() {
    let tmp = tempfile::tempdir().unwrap();
    let app = tmp.path().join("app");
    fs::create_dir(&app).unwrap();
    fs::write(app.join("only"), b"x").unwrap();
    let layers = app_slices(
        &app,
        &[Slice {
            paths: vec!["*".into()],
        }],
        OWNER,
    )
    .unwrap();
    let tar = support::our_tar(&layers[1], tmp.path());
    assert_eq!(tar, vec![0u8; 1024]);
    // The well-known diffID of an empty layer.
    assert_eq!(
        diff_id(&layers[1]).unwrap(),
        "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"
    );
    let blobs = tmp.path().join("blobs");
    fs::create_dir(&blobs).unwrap();
    let written = write_layer(
        &layers[1],
        &LayerOutputs {
            blob_dir: Some(blobs),
            ..LayerOutputs::default()
        },
    )
    .unwrap();
    let blob = written.blob.unwrap();
    run("gzip", &["-t", blob.path.to_str().unwrap()]);
    assert_eq!(run("zcat", &[blob.path.to_str().unwrap()]), vec![0u8; 1024]);
}

//! Byte compatibility with Go: the layers we write must be the very bytes Go's
//! `archive/tar` writes for the same files the way the reference lifecycle writes them
//! (`tests/golden/main.go`), so our diffIDs equal the reference's and layers of images it
//! exported are reused. Skipped, with a message, only when `go` is not installed.

#[path = "golden/support.rs"]
mod support;

use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use lifecycle::layer::{LayerSource, Owner, app_slices, diff_id};
use platform_api::files::metadata::Slice;
use support::{assert_same_tar, awkward_tree, golden_binary, golden_tar, is_root, our_tar};

/// `<tmp>/owned/huge/layer` with the awkward tree in `layer`; as root the two parents
/// get their own owners (one beyond USTAR's 2097151, so Go writes PAX records) and modes.
fn layer_dir(tmp: &Path) -> PathBuf {
    let owned = tmp.join("owned");
    let huge = owned.join("huge");
    let layer = huge.join("layer");
    awkward_tree(&layer);
    fs::set_permissions(&owned, fs::Permissions::from_mode(0o750)).unwrap();
    fs::set_permissions(&huge, fs::Permissions::from_mode(0o711)).unwrap();
    if is_root() {
        chown(&owned, 4321, 8765);
        chown(&huge, 3_000_000, 3_000_001);
    }
    layer
}

fn chown(path: &Path, uid: u32, gid: u32) {
    nix::unistd::chown(path, Some(uid.into()), Some(gid.into())).unwrap();
}

fn os(s: &str) -> &OsStr {
    OsStr::new(s)
}

#[test]
fn dir_layer_matches_go() {
    let Some(golden) = golden_binary() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let layer = layer_dir(tmp.path());
    for (uid, gid) in [(1000, 1001), (0, 0), (3_000_000, 2_500_000)] {
        let source = LayerSource::dir(&layer, Owner { uid, gid }).unwrap();
        let out = tmp.path().join("go.tar");
        let go = golden_tar(
            golden,
            &[
                os("dir"),
                layer.as_os_str(),
                os(&uid.to_string()),
                os(&gid.to_string()),
                out.as_os_str(),
            ],
            &out,
        );
        let ours = our_tar(&source, tmp.path());
        assert_same_tar(&ours, &go, &format!("dir layer owned by {uid}:{gid}"));
        assert_eq!(diff_id(&source).unwrap(), support::sha256_hex_prefixed(&go));
    }
}

#[test]
fn small_and_empty_dir_layers_match_go() {
    let Some(golden) = golden_binary() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let empty = tmp.path().join("layers/bp/empty");
    fs::create_dir_all(&empty).unwrap();
    let config = tmp.path().join("layers/config");
    fs::create_dir_all(&config).unwrap();
    fs::write(
        config.join("metadata.toml"),
        "[[processes]]\ntype = \"web\"\n",
    )
    .unwrap();
    for dir in [&empty, &config] {
        let source = LayerSource::dir(
            dir,
            Owner {
                uid: 1000,
                gid: 1000,
            },
        )
        .unwrap();
        let out = tmp.path().join("go.tar");
        let go = golden_tar(
            golden,
            &[
                os("dir"),
                dir.as_os_str(),
                os("1000"),
                os("1000"),
                out.as_os_str(),
            ],
            &out,
        );
        assert_same_tar(
            &our_tar(&source, tmp.path()),
            &go,
            &dir.display().to_string(),
        );
    }
}

#[test]
fn launcher_layer_matches_go() {
    let Some(golden) = golden_binary() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let launcher = tmp.path().join("launcher");
    fs::write(&launcher, support::random_bytes(1_234_567, 9)).unwrap();
    // The reference forces mode 0755 whatever the file's own mode.
    fs::set_permissions(&launcher, fs::Permissions::from_mode(0o4700)).unwrap();
    let out = tmp.path().join("go.tar");
    let go = golden_tar(
        golden,
        &[os("launcher"), launcher.as_os_str(), out.as_os_str()],
        &out,
    );
    let ours = our_tar(&LayerSource::launcher(&launcher), tmp.path());
    assert_same_tar(&ours, &go, "launcher layer");
}

#[test]
fn process_types_layer_matches_go() {
    let Some(golden) = golden_binary() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let long = "x".repeat(120);
    let types = [
        "web",
        "worker",
        "with space",
        "ünïcödé",
        long.as_str(),
        "z.v2",
    ];
    let out = tmp.path().join("go.tar");
    let mut args = vec![os("process-types"), out.as_os_str()];
    args.extend(types.iter().map(|t| os(t)));
    let go = golden_tar(golden, &args, &out);
    let ours = our_tar(&LayerSource::process_types(types).unwrap(), tmp.path());
    assert_same_tar(&ours, &go, "process-types layer");
}

#[test]
fn app_slice_layers_match_go() {
    let Some(golden) = golden_binary() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let app = layer_dir(tmp.path());
    let slices = [
        Slice {
            paths: vec!["*.txt".into(), "a".into(), "deep/*/two".into()],
        },
        Slice {
            paths: vec!["d*/*".into(), "link-*".into()],
        },
        Slice {
            paths: vec!["no-match".into()],
        },
    ];
    let owner = Owner {
        uid: 2000,
        gid: 3000,
    };
    let layers = app_slices(&app, &slices, owner).unwrap();
    assert_eq!(layers.len(), 4);
    let above: Vec<&Path> = app.ancestors().skip(1).collect();
    for (i, layer) in layers.iter().enumerate() {
        let ours = our_tar(layer, tmp.path());
        // Hand Go the same file set (everything but the parents of the app dir); it sorts
        // and encodes it as the reference does.
        let mut list = Vec::new();
        for entry in support::entries(&ours) {
            if !above
                .iter()
                .any(|p| p.as_os_str().as_bytes() == entry.name.as_slice())
            {
                list.extend_from_slice(&entry.name);
                list.push(b'\n');
            }
        }
        let list_path = tmp.path().join("list");
        fs::write(&list_path, &list).unwrap();
        let out = tmp.path().join("go.tar");
        let go = golden_tar(
            golden,
            &[
                os("files"),
                app.as_os_str(),
                os("2000"),
                os("3000"),
                list_path.as_os_str(),
                out.as_os_str(),
            ],
            &out,
        );
        assert_same_tar(&ours, &go, &format!("app layer {}", i + 1));
    }
}

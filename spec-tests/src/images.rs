//! Test images built offline: a small run image (busybox-static and bash-static on an
//! otherwise empty root file system) written as an OCI image layout, the way a
//! platform's run image looks, deterministic so its digests are the same every run.

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

/// An OCI layout holding one image.
#[derive(Debug, Clone)]
pub struct LayoutImage {
    /// The layout directory.
    pub path: PathBuf,
    /// Manifest digest.
    pub digest: String,
    /// Diff ID of the top layer.
    pub top_layer: String,
}

impl LayoutImage {
    /// The reference the lifecycle records for a layout image: `<path>@<digest>`.
    pub fn identifier(&self) -> String {
        format!("{}@{}", self.path.display(), self.digest)
    }
}

fn sha256_file(path: &Path) -> String {
    let out = Command::new("sha256sum")
        .arg(path)
        .output()
        .expect("sha256sum");
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    format!("sha256:{}", text.split_whitespace().next().unwrap())
}

fn sha256_bytes(dir: &Path, bytes: &[u8]) -> (String, PathBuf) {
    let tmp = dir.join("tmp-blob");
    fs::write(&tmp, bytes).unwrap();
    let digest = sha256_file(&tmp);
    let to = dir.join("blobs/sha256").join(&digest["sha256:".len()..]);
    fs::rename(&tmp, &to).unwrap();
    (digest, to)
}

/// The run image's root file system: `/bin/busybox` with its applets as links, `/bin/bash`,
/// `/tmp`, `/etc/passwd` with the build user, and a home directory.
fn run_rootfs(root: &Path) {
    for dir in ["bin", "tmp", "etc", "home/cnb", "usr/bin"] {
        fs::create_dir_all(root.join(dir)).unwrap();
    }
    fs::set_permissions(root.join("tmp"), fs::Permissions::from_mode(0o1777)).unwrap();
    fs::copy("/bin/busybox", root.join("bin/busybox")).expect("busybox-static is installed");
    fs::copy("/bin/bash-static", root.join("bin/bash")).expect("bash-static is installed");
    for applet in [
        "sh", "env", "echo", "cat", "ls", "id", "printenv", "sleep", "true", "false", "test",
        "pwd", "find", "grep", "wc", "head",
    ] {
        symlink("busybox", root.join("bin").join(applet)).unwrap();
    }
    fs::write(
        root.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\ncnb:x:1000:1000:cnb:/home/cnb:/bin/sh\n",
    )
    .unwrap();
    fs::write(root.join("etc/group"), "root:x:0:\ncnb:x:1000:\n").unwrap();
    fs::write(
        root.join("etc/os-release"),
        "ID=testos\nVERSION_ID=\"1.0\"\nNAME=\"Test OS\"\n",
    )
    .unwrap();
}

/// Builds the run image as an OCI layout at `dir` (created), with `labels` added to the
/// usual base-image labels.
pub fn run_image(dir: &Path, labels: &[(&str, &str)]) -> LayoutImage {
    let work = tempfile::tempdir().unwrap();
    let root = work.path().join("rootfs");
    run_rootfs(&root);
    fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
    let tar = work.path().join("layer.tar");
    let status = Command::new("tar")
        .args([
            "--sort=name",
            "--mtime=@0",
            "--owner=0",
            "--group=0",
            "--numeric-owner",
        ])
        .arg("-C")
        .arg(&root)
        .arg("-cf")
        .arg(&tar)
        .arg(".")
        .status()
        .unwrap();
    assert!(status.success());
    let diff_id = sha256_file(&tar);
    let status = Command::new("gzip")
        .args(["-n", "-1"])
        .arg(&tar)
        .status()
        .unwrap();
    assert!(status.success());
    let gz = work.path().join("layer.tar.gz");
    let layer_size = fs::metadata(&gz).unwrap().len();
    let layer_digest = sha256_file(&gz);
    fs::rename(
        &gz,
        dir.join("blobs/sha256")
            .join(&layer_digest["sha256:".len()..]),
    )
    .unwrap();

    let mut all_labels = serde_json::Map::new();
    for (k, v) in [
        ("io.buildpacks.stack.id", "test.stack"),
        ("io.buildpacks.base.distro.name", "testos"),
        ("io.buildpacks.base.distro.version", "1.0"),
    ]
    .into_iter()
    .chain(labels.iter().copied())
    {
        all_labels.insert(k.into(), v.into());
    }
    let config = json!({
        "architecture": "amd64",
        "created": "2000-01-01T00:00:00Z",
        "history": [{"created": "2000-01-01T00:00:00Z", "created_by": "test run image"}],
        "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "config": {
            "Env": ["PATH=/usr/local/bin:/usr/bin:/bin"],
            "User": "1000:1000",
            "Labels": all_labels,
        },
    });
    let config = serde_json::to_vec(&config).unwrap();
    let (config_digest, _) = sha256_bytes(dir, &config);
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer_digest, "size": layer_size}],
    });
    let manifest = serde_json::to_vec(&manifest).unwrap();
    let (digest, _) = sha256_bytes(dir, &manifest);
    let index = json!({
        "schemaVersion": 2,
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest, "size": manifest.len(),
                       "annotations": {"org.opencontainers.image.ref.name": "latest"}}],
    });
    fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    LayoutImage {
        path: dir.to_path_buf(),
        digest,
        top_layer: diff_id,
    }
}

/// Unpacks the image at layout `dir` into `rootfs` with umoci (checking the layout on
/// the way) and returns nothing; panics with umoci's output on failure.
pub fn unpack(layout: &Path, rootfs_bundle: &Path) {
    let out = Command::new("umoci")
        .args(["unpack", "--image"])
        .arg(format!("{}:latest", layout.display()))
        .arg(rootfs_bundle)
        .output()
        .expect("umoci is installed");
    assert!(
        out.status.success(),
        "umoci unpack failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The image of a layout, checked with other tools and unpacked (umoci) into a root
/// file system with a `/dev/null`, ready to run processes in.
pub struct Unpacked {
    bundle: tempfile::TempDir,
    /// The image's config.
    pub config: Value,
}

impl Unpacked {
    /// Validates the image at layout `dir` (oci-image-tool, skopeo) and unpacks it.
    pub fn new(dir: &Path) -> Unpacked {
        crate::export::tool(
            Command::new("oci-image-tool")
                .args(["validate", "--type", "image"])
                .arg(dir),
        );
        let inspect = crate::export::tool(
            Command::new("skopeo").args(["inspect", &format!("oci:{}:latest", dir.display())]),
        );
        assert!(
            inspect.contains("io.buildpacks.lifecycle.metadata"),
            "{inspect}"
        );
        let (_, _, config) = crate::export::read_image(dir);
        let bundle = tempfile::tempdir().unwrap();
        unpack(dir, bundle.path());
        // A container runtime gives every container /dev/null, which the launcher (like
        // the reference's) opens as the exec.d programs' standard input.
        let dev = bundle.path().join("rootfs/dev");
        fs::create_dir_all(&dev).unwrap();
        crate::export::tool(
            Command::new("mknod")
                .args(["-m", "666"])
                .arg(dev.join("null"))
                .args(["c", "1", "3"]),
        );
        Unpacked { bundle, config }
    }

    /// Runs `process` (a `/cnb/process` link; the entrypoint, the default process, for
    /// `None`) as the image's user and returns its output.
    pub fn run(&self, process: Option<&str>) -> String {
        let argv: Vec<String> = match process {
            Some(p) => vec![format!("/cnb/process/{p}")],
            None => entrypoint(&self.config),
        };
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        crate::export::run_in_image(&self.bundle.path().join("rootfs"), &self.config, &argv)
    }
}

fn entrypoint(config: &Value) -> Vec<String> {
    config["config"]["Entrypoint"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

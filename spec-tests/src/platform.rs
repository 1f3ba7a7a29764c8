//! What the platform tests share: a pod (or a pack build) — the example builder image,
//! the volumes a platform mounts into its phase containers, and containers started from
//! the builder image with its environment (`CNB_USER_ID`, `CNB_GROUP_ID`) and `/cnb`.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::container::Container;
use crate::examples::{self, BuilderImage};
use crate::export::tool;
use crate::registry::Registry;
use crate::{BUILD_GID, BUILD_UID, Ran};

/// The builder image and the platform's volumes (directories under one temporary root,
/// kept until drop).
pub struct Pod {
    /// The builder image.
    pub builder: BuilderImage,
    volumes: tempfile::TempDir,
}

impl Pod {
    /// A pod whose builder image names `run_image` in `/cnb/run.toml` and
    /// `/cnb/stack.toml`.
    pub fn new(run_image: &str) -> Pod {
        let volumes = tempfile::Builder::new()
            .prefix("cnb-pod-")
            .tempdir()
            .unwrap();
        fs::set_permissions(volumes.path(), fs::Permissions::from_mode(0o755)).unwrap();
        Pod {
            builder: BuilderImage::examples(run_image),
            volumes,
        }
    }

    /// The volume `name`, created empty (root's, mode 0755) on first use.
    pub fn volume(&self, name: &str) -> PathBuf {
        let dir = self.volumes.path().join(name);
        if !dir.exists() {
            fs::create_dir_all(&dir).unwrap();
            fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        }
        dir
    }

    /// Replaces volume `name` by an empty one (a new build's volume).
    pub fn fresh_volume(&self, name: &str) -> PathBuf {
        let dir = self.volumes.path().join(name);
        if dir.exists() {
            fs::remove_dir_all(&dir).unwrap();
        }
        self.volume(name)
    }

    /// A new Kubernetes emptyDir volume `name` (replacing the last build's): mode 0777,
    /// as the kubelet makes them.
    pub fn empty_dir(&self, name: &str) -> PathBuf {
        let dir = self.fresh_volume(name);
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o777)).unwrap();
        dir
    }

    /// A container of the builder image: `/cnb` mounted read-only, the image's
    /// environment (`CNB_USER_ID`, `CNB_GROUP_ID`, `PATH`) set, in its working directory
    /// `/layers` (which every platform mounts); as root until [`Container::user`] is
    /// called.
    pub fn container(&self) -> Container {
        Container::new(self.builder.root())
            .mount_ro(&self.builder.cnb(), "/cnb")
            .workdir("/layers")
            .env("CNB_USER_ID", &BUILD_UID.to_string())
            .env("CNB_GROUP_ID", &BUILD_GID.to_string())
    }

    /// The example app copied into volume `name`, owned by the build user (as pack copies
    /// it and as kpack's and Tekton's source steps leave it).
    pub fn app_volume(&self, name: &str) -> PathBuf {
        let dir = self.fresh_volume(name);
        examples::app_source(&dir);
        dir
    }
}

/// Runs a phase container and asserts it succeeded; returns its output.
pub fn phase_ok(container: &Container, argv: &[&str]) -> Ran {
    let ran = container.run(argv);
    ran.expect_code(0);
    ran
}

/// A registry's `--creds` argument for skopeo, when it has credentials.
fn skopeo_creds(registry: &Registry, flag: &str) -> Vec<String> {
    registry
        .credentials()
        .map(|(u, p)| vec![format!("--{flag}={u}:{p}")])
        .unwrap_or_default()
}

/// Pulls `name` from `registry` into a layout and checks and runs the example image
/// (see [`examples::check_layout_image`]); returns the image config.
pub fn check_registry_image(registry: &Registry, name: &str, release: u32) -> serde_json::Value {
    let pulled = tempfile::tempdir().unwrap();
    let layout = pulled.path().join("image");
    tool(
        Command::new("skopeo")
            .args(["copy", "-q", "--src-tls-verify=false"])
            .args(skopeo_creds(registry, "src-creds"))
            .arg(format!("docker://{name}"))
            .arg(format!("oci:{}:latest", layout.display())),
    );
    examples::check_layout_image(&layout, release);
    crate::export::read_image(&layout).2
}

/// The docker config (`<home>/.docker/config.json`) with `registry`'s credentials, as
/// kpack's build-init and Tekton's credential initialisation write it, owned by `uid`.
pub fn docker_config_in_home(registry: &Registry, home: &Path, uid: u32, gid: u32) {
    let dir = home.join(".docker");
    fs::create_dir_all(&dir).unwrap();
    registry.docker_config(&dir);
    examples::chown_tree(home, uid, gid);
}

//! The bundled example (`examples/`) as platforms see it: a builder image's file system
//! with the lifecycle, the example buildpacks (every supported Buildpack API) and the
//! app's own buildpack, the README's run image, the app source, and what the built
//! image prints.

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::dockerd::Dockerd;
use crate::export::{static_launcher, tool};
use crate::images::Unpacked;
use crate::{BUILD_GID, BUILD_UID, PHASES, lifecycle_dir, run};

/// A path in the repository.
pub fn repo_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
}

/// Writes the README's run image (`make_run_image` of scripts/lib/run-image.sh: busybox,
/// bash, a `cnb` user, `RELEASE` in `/etc/run-image-release`) as an OCI layout at `dir`
/// and returns its manifest digest.
pub fn run_image(dir: &Path, release: u32) -> String {
    let lib = repo_path("scripts/lib/run-image.sh");
    let ran = run(Command::new("bash")
        .arg("-c")
        .arg(format!(
            ". '{}' && make_run_image \"$1\" {release}",
            lib.display()
        ))
        .arg("bash")
        .arg(dir));
    ran.expect_code(0);
    let digest = ran.stdout.trim().rsplit('@').next().unwrap().to_string();
    assert!(digest.starts_with("sha256:"), "{}", ran.all());
    digest
}

/// What the example app's default process prints on a run image of `release`.
pub fn app_output(release: u32) -> String {
    format!(
        "Hello from the example app, built by the Rust CNB lifecycle!\n  \
         Hello, app! (greeted at launch by an exec.d program)\n  \
         tools on PATH: example-tool 1.2.3\n  static files: index.html\n  \
         run image release: {release}\n"
    )
}

/// The other process types of the example and what each prints.
pub const PROCESSES: [(&str, &str); 3] = [
    (
        "hello",
        "Hello, Earth-616,Luna! (a shell process of Buildpack API 0.7)\n",
    ),
    ("moon", "/tmp\n"),
    (
        "greet",
        "Hello, world! (greeted at launch by an exec.d program)\n",
    ),
];

/// Copies the example app into `dir` (created), as a platform puts the source in its
/// workspace volume, owned by the build user.
pub fn app_source(dir: &Path) {
    copy_tree(&repo_path("examples/app"), dir);
    chown_tree(dir, BUILD_UID, BUILD_GID);
}

/// A second user of the builder image (`other`), for platforms' `-uid`/`-gid` overrides.
pub const OTHER_UID: u32 = 4444;
/// Its group.
pub const OTHER_GID: u32 = 5555;

/// A builder image's file system: `/cnb/lifecycle` (the built lifecycle, its phase links
/// and the launcher), `/cnb/buildpacks` (the example buildpacks and the app's own, added
/// as pack adds a project's buildpacks), `/cnb/order.toml`, the run image named in
/// `/cnb/run.toml` (Platform API ≥ 0.12) or `/cnb/stack.toml`, and `/etc/passwd` with the
/// build user `cnb` (2222:3333) and [`OTHER_UID`].
pub struct BuilderImage {
    root: tempfile::TempDir,
}

impl BuilderImage {
    /// The example builder whose run image is `run_image` (a reference).
    pub fn examples(run_image: &str) -> BuilderImage {
        let root = tempfile::Builder::new()
            .prefix("cnb-builder-")
            .tempdir()
            .unwrap();
        let cnb = root.path().join("cnb");
        fs::create_dir_all(cnb.join("lifecycle")).unwrap();
        for (bin, from) in [
            ("lifecycle", lifecycle_dir().join("lifecycle")),
            ("launcher", static_launcher()),
        ] {
            let to = cnb.join("lifecycle").join(bin);
            if fs::hard_link(&from, &to).is_err() {
                fs::copy(&from, &to).unwrap();
            }
        }
        for phase in PHASES {
            symlink("lifecycle", cnb.join("lifecycle").join(phase)).unwrap();
        }
        copy_tree(&repo_path("examples/buildpacks"), &cnb.join("buildpacks"));
        copy_tree(
            &repo_path("examples/app/local-buildpack"),
            &cnb.join("buildpacks/examples_app-local/0.0.1"),
        );
        let order = fs::read_to_string(repo_path("examples/order.toml")).unwrap();
        fs::write(
            cnb.join("order.toml"),
            format!("{order}\n[[order.group]]\nid = \"examples/app-local\"\nversion = \"0.0.1\"\n"),
        )
        .unwrap();
        fs::write(
            cnb.join("run.toml"),
            format!("[[images]]\nimage = \"{run_image}\"\n"),
        )
        .unwrap();
        fs::write(
            cnb.join("stack.toml"),
            format!("[run-image]\nimage = \"{run_image}\"\n"),
        )
        .unwrap();
        fs::create_dir_all(root.path().join("etc")).unwrap();
        let passwd = fs::read_to_string("/etc/passwd").unwrap();
        fs::write(
            root.path().join("etc/passwd"),
            format!(
                "{passwd}cnb:x:{BUILD_UID}:{BUILD_GID}:CNB build user:/home/cnb:/bin/bash\n\
                 other:x:{OTHER_UID}:{OTHER_GID}:another user:/home/other:/bin/bash\n"
            ),
        )
        .unwrap();
        let group = fs::read_to_string("/etc/group").unwrap();
        fs::write(
            root.path().join("etc/group"),
            format!("{group}cnb:x:{BUILD_GID}:\nother:x:{OTHER_GID}:\n"),
        )
        .unwrap();
        for dir in [root.path(), &cnb] {
            fs::set_permissions(dir, fs::Permissions::from_mode(0o755)).unwrap();
        }
        BuilderImage { root }
    }

    /// The image's root (its `etc/` holds the passwd and group files).
    pub fn root(&self) -> &Path {
        self.root.path()
    }

    /// Its `/cnb` directory.
    pub fn cnb(&self) -> PathBuf {
        self.root.path().join("cnb")
    }

    /// Writes it as an image (tag `latest`) into the OCI layout `dir` with umoci: `/cnb`
    /// in a layer, the builder's user, environment and working directory (`/layers`) in
    /// the config, as pack makes builder images.
    pub fn write_layout(&self, dir: &Path) {
        let image = format!("{}:latest", dir.display());
        let umoci = |args: &[&str]| {
            tool(Command::new("umoci").args(args));
        };
        umoci(&["init", "--layout", &dir.display().to_string()]);
        umoci(&["new", "--image", &image]);
        umoci(&[
            "insert",
            "--image",
            &image,
            &self.cnb().display().to_string(),
            "/cnb",
        ]);
        umoci(&[
            "config",
            "--image",
            &image,
            &format!("--config.user={BUILD_UID}:{BUILD_GID}"),
            &format!("--config.env=CNB_USER_ID={BUILD_UID}"),
            &format!("--config.env=CNB_GROUP_ID={BUILD_GID}"),
            "--config.workingdir=/layers",
        ]);
    }
}

/// Copies a directory tree (files, links, modes).
fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    let ran = run(Command::new("cp")
        .arg("-a")
        .arg(format!("{}/.", from.display()))
        .arg(to));
    ran.expect_code(0);
}

/// Gives a tree to `uid:gid`.
pub fn chown_tree(dir: &Path, uid: u32, gid: u32) {
    for entry in walkdir::WalkDir::new(dir).into_iter().flatten() {
        std::os::unix::fs::lchown(entry.path(), Some(uid), Some(gid)).unwrap();
    }
}

/// Checks the example image of the OCI layout `dir` with other tools, then runs its
/// entrypoint (the default process) and each of [`PROCESSES`] as a container runtime
/// would, asserting what each prints.
pub fn check_layout_image(dir: &Path, release: u32) {
    let image = Unpacked::new(dir);
    assert_eq!(image.run(None), app_output(release));
    for (process, output) in PROCESSES {
        assert_eq!(image.run(Some(process)), output, "process {process}");
    }
}

/// Runs the example image `name` of the daemon with `docker run`: its default process
/// and each of [`PROCESSES`].
pub fn check_daemon_image(daemon: &Dockerd, name: &str, release: u32) {
    let ran = daemon.run(name, &[]);
    assert_eq!(ran.stdout, app_output(release), "{}", ran.stderr);
    for (process, output) in PROCESSES {
        let entrypoint = format!("/cnb/process/{process}");
        let ran = daemon.run_entrypoint(&entrypoint, name, &[]);
        assert_eq!(ran.stdout, output, "process {process}: {}", ran.stderr);
    }
}

/// What a second build of the example shows: the cache restored, the unchanged layers
/// reused.
pub fn assert_rebuild(out: &str) {
    for expected in [
        "Restoring data for \"examples/tools:tools\" from cache",
        "tools restored from the cache: example-tool 1.2.3",
        "greeting layer v2 is in the previous image: reusing it",
        "Reusing layer 'examples/greeting:greeting'",
        "Reusing layer 'examples/tools:tools'",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in\n{out}");
    }
}

/// What a first build of the example shows: every layer made, buildpacks of every
/// supported Buildpack API run.
pub fn assert_first_build(out: &str) {
    for expected in ["installing tools", "Adding layer 'examples/tools:tools'"] {
        assert!(out.contains(expected), "missing {expected:?} in\n{out}");
    }
    for api in ["0.7", "0.8", "0.9", "0.10", "0.11", "0.12"] {
        assert!(
            out.contains(&format!("(Buildpack API {api}")),
            "API {api}:\n{out}"
        );
    }
}

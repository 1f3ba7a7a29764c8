//! Harness for the black-box tests: installs the built binaries the way a builder image
//! lays them out, makes platform directories (layers, app, platform, buildpacks, order
//! files) owned by an unprivileged build user, writes bash buildpacks, and runs phases
//! as that user the way a platform would.

pub mod container;
pub mod dockerd;
pub mod examples;
pub mod export;
pub mod golang;
pub mod images;
pub mod libcnb;
pub mod pack;
pub mod platform;
pub mod registry;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The build user the tests run phases as (like the reference's acceptance tests).
pub const BUILD_UID: u32 = 2222;
/// The build user's group.
pub const BUILD_GID: u32 = 3333;

/// Phase names the multicall binary answers to.
pub const PHASES: [&str; 8] = [
    "analyzer", "detector", "restorer", "builder", "exporter", "rebaser", "creator", "extender",
];

/// Directory of the cargo-built binaries (`target/debug` next to the test executable),
/// or `CNB_TEST_BIN_DIR`.
pub fn cargo_bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CNB_TEST_BIN_DIR") {
        return PathBuf::from(dir);
    }
    let exe = std::env::current_exe().expect("test executable path");
    // target/debug/deps/<test> -> target/debug
    exe.parent()
        .and_then(Path::parent)
        .expect("target dir")
        .to_path_buf()
}

/// A world-readable copy of the binaries laid out like `/cnb/lifecycle` in a builder
/// (the lifecycle, its phase links and the launcher), shared by every test of a process.
pub fn lifecycle_dir() -> &'static Path {
    LIFECYCLE_DIR.get_or_init(|| {
        let root = tempfile::Builder::new()
            .prefix("cnb-lifecycle-")
            .tempdir()
            .expect("tempdir")
            .keep();
        fs::set_permissions(&root, fs::Permissions::from_mode(0o755)).expect("chmod");
        let src = cargo_bin_dir();
        for bin in ["lifecycle", "launcher"] {
            // The shipped static launcher when scripts/test built one, so the launcher
            // scenarios run the binary that goes into images.
            let from = match std::env::var_os("CNB_TEST_STATIC_LAUNCHER") {
                Some(path) if bin == "launcher" => PathBuf::from(path),
                _ => src.join(bin),
            };
            assert!(
                from.exists(),
                "{} is missing: run `cargo build` before the spec tests",
                from.display()
            );
            // A hard link costs no space; a copy when the file systems differ.
            if fs::hard_link(&from, root.join(bin)).is_err() {
                fs::copy(&from, root.join(bin)).expect("copy binary");
            }
            fs::set_permissions(root.join(bin), fs::Permissions::from_mode(0o755)).expect("chmod");
        }
        for phase in PHASES {
            symlink("lifecycle", root.join(phase)).expect("phase link");
        }
        // SAFETY: registers a plain function without arguments; it runs once at exit.
        let registered = unsafe { libc::atexit(remove_lifecycle_dir) };
        assert_eq!(registered, 0, "atexit registration failed");
        root
    })
}

/// The directory [`lifecycle_dir`] made, once it exists.
static LIFECYCLE_DIR: OnceLock<PathBuf> = OnceLock::new();

extern "C" fn remove_lifecycle_dir() {
    if let Some(dir) = LIFECYCLE_DIR.get() {
        let _ = fs::remove_dir_all(dir);
    }
}

/// A platform's view of one build: layers, app, platform and builder directories in a
/// temporary root, owned by the build user.
pub struct Build {
    root: tempfile::TempDir,
    env: BTreeMap<String, String>,
}

impl Build {
    /// A fresh build tree with `CNB_PLATFORM_API` set to `platform_api`.
    pub fn new(platform_api: &str) -> Self {
        let root = tempfile::Builder::new()
            .prefix("cnb-build-")
            .tempdir()
            .expect("tempdir");
        fs::set_permissions(root.path(), fs::Permissions::from_mode(0o755)).expect("chmod");
        let b = Build {
            root,
            env: BTreeMap::new(),
        };
        for d in [
            "layers",
            "workspace",
            "platform/env",
            "cnb/buildpacks",
            "cnb/extensions",
            "cnb/build-config/env",
        ] {
            fs::create_dir_all(b.path(d)).expect("mkdir");
        }
        b.with_env("CNB_PLATFORM_API", platform_api)
    }

    /// Sets an environment variable for phases run from this build.
    pub fn with_env(mut self, key: &str, value: &str) -> Self {
        self.env.insert(key.into(), value.into());
        self
    }

    /// Removes an environment variable.
    pub fn without_env(mut self, key: &str) -> Self {
        self.env.remove(key);
        self
    }

    /// A path inside the build root.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.path().join(rel)
    }

    /// Writes a file (creating parents) inside the build root.
    pub fn write(&self, rel: &str, contents: &str) -> PathBuf {
        let p = self.path(rel);
        fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        fs::write(&p, contents).expect("write");
        p
    }

    /// Reads a file inside the build root.
    pub fn read(&self, rel: &str) -> String {
        fs::read_to_string(self.path(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
    }

    /// Writes an executable script.
    pub fn write_script(&self, rel: &str, body: &str) -> PathBuf {
        let p = self.write(rel, &format!("#!/usr/bin/env bash\n{body}"));
        fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).expect("chmod");
        p
    }

    /// Adds a component buildpack at `cnb/buildpacks/<id>/<version>` with the given
    /// descriptor extra TOML (appended after `[buildpack]`), detect and build scripts.
    pub fn buildpack(&self, bp: &Bp) -> PathBuf {
        let dir = format!("cnb/buildpacks/{}/{}", bp.id.replace('/', "_"), bp.version);
        self.write(
            &format!("{dir}/buildpack.toml"),
            &format!(
                "api = \"{}\"\n\n[buildpack]\nid = \"{}\"\nversion = \"{}\"\nname = \"{}\"\n{}\n",
                bp.api, bp.id, bp.version, bp.id, bp.extra
            ),
        );
        if !bp.composite {
            self.write_script(&format!("{dir}/bin/detect"), &bp.detect);
            self.write_script(&format!("{dir}/bin/build"), &bp.build);
        }
        self.path(&dir)
    }

    /// Adds an image extension at `cnb/extensions/<id>/<version>` with its
    /// `extension.toml` and, for each body given, a `bin/detect` / `bin/generate` script.
    pub fn extension(
        &self,
        id: &str,
        version: &str,
        api: &str,
        detect: Option<&str>,
        generate: Option<&str>,
    ) -> PathBuf {
        let dir = format!("cnb/extensions/{}/{}", id.replace('/', "_"), version);
        self.write(
            &format!("{dir}/extension.toml"),
            &format!(
                "api = \"{api}\"\n\n[extension]\nid = \"{id}\"\nversion = \"{version}\"\nname = \"{id}\"\n"
            ),
        );
        for (name, body) in [("detect", detect), ("generate", generate)] {
            if let Some(body) = body {
                self.write_script(&format!("{dir}/bin/{name}"), body);
            }
        }
        self.path(&dir)
    }

    /// Writes `cnb/order.toml`.
    pub fn order(&self, toml: &str) -> PathBuf {
        self.write("cnb/order.toml", toml)
    }

    /// Gives everything in the tree to the build user (as a platform prepares volumes).
    pub fn chown(&self) {
        for entry in walkdir::WalkDir::new(self.root.path())
            .into_iter()
            .flatten()
        {
            let _ = std::os::unix::fs::lchown(entry.path(), Some(BUILD_UID), Some(BUILD_GID));
        }
    }

    /// The standard flags pointing a phase at this tree.
    pub fn dir_flags(&self) -> Vec<String> {
        vec![
            "-layers".into(),
            self.path("layers").display().to_string(),
            "-app".into(),
            self.path("workspace").display().to_string(),
            "-platform".into(),
            self.path("platform").display().to_string(),
            "-buildpacks".into(),
            self.path("cnb/buildpacks").display().to_string(),
        ]
    }

    /// A command running `phase` (a phase link name) with this build's environment,
    /// as the build user.
    pub fn phase(&self, phase: &str, args: &[&str]) -> Command {
        let mut cmd = self.phase_as_root(phase, args);
        cmd.uid(BUILD_UID).gid(BUILD_GID);
        cmd
    }

    /// The creator as a platform starts it: as root, with this build's directories, its
    /// `cnb/order.toml`, the static launcher, `-uid`/`-gid` of the build user, then
    /// `args`.
    pub fn creator_as_root(&self, args: &[&str]) -> Command {
        let launcher = export::static_launcher().display().to_string();
        let order = self.path("cnb/order.toml").display().to_string();
        let (uid, gid) = (BUILD_UID.to_string(), BUILD_GID.to_string());
        let mut all = self.dir_flags();
        all.extend(
            [
                "-order",
                &order,
                "-launcher",
                &launcher,
                "-uid",
                &uid,
                "-gid",
                &gid,
            ]
            .map(String::from),
        );
        all.extend(args.iter().map(|a| a.to_string()));
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        self.phase_as_root("creator", &all)
    }

    /// Like [`Build::phase`] but without dropping to the build user.
    pub fn phase_as_root(&self, phase: &str, args: &[&str]) -> Command {
        self.chown();
        let mut cmd = Command::new(lifecycle_dir().join(phase));
        cmd.args(args)
            .env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("HOME", self.path("home"))
            .envs(&self.env)
            .current_dir(self.root.path());
        cmd
    }
}

/// A test buildpack description.
pub struct Bp {
    /// Buildpack ID.
    pub id: String,
    /// Version.
    pub version: String,
    /// Buildpack API.
    pub api: String,
    /// Body of `bin/detect` (bash).
    pub detect: String,
    /// Body of `bin/build` (bash).
    pub build: String,
    /// Extra descriptor TOML (targets, order, …).
    pub extra: String,
    /// Composite: no executables.
    pub composite: bool,
}

impl Bp {
    /// A component buildpack whose detect passes with an empty plan.
    pub fn new(id: &str, version: &str, api: &str) -> Self {
        Bp {
            id: id.into(),
            version: version.into(),
            api: api.into(),
            detect: "exit 0\n".into(),
            build: "exit 0\n".into(),
            extra: String::new(),
            composite: false,
        }
    }

    /// Sets the detect script body.
    pub fn detect(mut self, body: &str) -> Self {
        self.detect = body.into();
        self
    }

    /// Sets the build script body.
    pub fn build(mut self, body: &str) -> Self {
        self.build = body.into();
        self
    }

    /// Appends descriptor TOML.
    pub fn extra(mut self, toml: &str) -> Self {
        self.extra.push_str(toml);
        self
    }

    /// Makes it a composite buildpack with the given `[[order]]` TOML.
    pub fn composite(mut self, order_toml: &str) -> Self {
        self.composite = true;
        self.extra.push_str(order_toml);
        self
    }
}

/// Prints a line of figures (fault counts and the like) where `cargo test` shows it even
/// for passing tests: straight to the standard error, past the test harness's capture.
pub fn figures(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// Runs a command and returns its output, with stdout and stderr as text.
pub fn run(cmd: &mut Command) -> Ran {
    let out: Output = cmd.output().expect("spawn phase");
    Ran {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A finished phase run.
#[derive(Debug)]
pub struct Ran {
    /// Exit code (-1 if killed).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Ran {
    /// Both streams, for substring assertions.
    pub fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }

    /// Asserts the exit code, printing the output on mismatch.
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "unexpected exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }

    /// Asserts the combined output contains `needle`.
    pub fn expect_output(&self, needle: &str) -> &Self {
        assert!(
            self.all().contains(needle),
            "output lacks {needle:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    /// Asserts the combined output does not contain `needle`.
    pub fn expect_no_output(&self, needle: &str) -> &Self {
        assert!(
            !self.all().contains(needle),
            "output unexpectedly has {needle:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout,
            self.stderr
        );
        self
    }
}

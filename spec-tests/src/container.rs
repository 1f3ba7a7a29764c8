//! Phases run the way platforms run them: each in a container's view of the file system
//! (`/cnb`, `/layers`, `/workspace`, `/platform`, `/cache`, … mounted at the paths the
//! platform uses, so the lifecycle's defaults apply), with the platform's environment
//! only, as root or as a user with no capabilities at all. A container is a `bwrap`
//! mount namespace over the host's `/usr` and `/etc` (with a builder's passwd and group
//! files over the host's); the network is the host's, so loopback registries answer.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{Ran, run};

/// One container's mounts, environment, user and working directory.
#[derive(Clone, Debug)]
pub struct Container {
    mounts: Vec<(PathBuf, String, bool)>,
    env: BTreeMap<String, String>,
    user: Option<(u32, u32)>,
    workdir: String,
}

impl Container {
    /// A container whose `/etc/passwd` and `/etc/group` are `etc/passwd` and `etc/group`
    /// of `image_root` (a builder image's), the rest of `/etc` and `/usr` the host's
    /// (read-only), a private `/tmp`, and `PATH` set.
    pub fn new(image_root: &Path) -> Container {
        Container {
            mounts: vec![
                (image_root.join("etc/passwd"), "/etc/passwd".into(), false),
                (image_root.join("etc/group"), "/etc/group".into(), false),
            ],
            env: BTreeMap::from([(
                "PATH".to_string(),
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_string(),
            )]),
            user: None,
            workdir: "/".into(),
        }
    }

    /// Mounts `host` at `path`, writable.
    pub fn mount(mut self, host: &Path, path: &str) -> Container {
        self.mounts.push((host.to_path_buf(), path.into(), true));
        self
    }

    /// Mounts `host` at `path`, read-only.
    pub fn mount_ro(mut self, host: &Path, path: &str) -> Container {
        self.mounts.push((host.to_path_buf(), path.into(), false));
        self
    }

    /// Sets an environment variable (`value` taken literally, empty included).
    pub fn env(mut self, key: &str, value: &str) -> Container {
        self.env.insert(key.into(), value.into());
        self
    }

    /// Runs as `uid:gid` with no supplementary groups and no capabilities (permitted,
    /// effective, inheritable, ambient and bounding sets all empty), as a pod with
    /// `runAsUser`, `allowPrivilegeEscalation: false` and `capabilities: drop: [ALL]`.
    pub fn user(mut self, uid: u32, gid: u32) -> Container {
        self.user = Some((uid, gid));
        self
    }

    /// The working directory.
    pub fn workdir(mut self, path: &str) -> Container {
        self.workdir = path.into();
        self
    }

    /// The command running `argv` in this container.
    pub fn command(&self, argv: &[&str]) -> Command {
        let mut cmd = Command::new("bwrap");
        cmd.env_clear()
            .args(["--ro-bind", "/usr", "/usr"])
            .args(["--symlink", "usr/bin", "/bin"])
            .args(["--symlink", "usr/sbin", "/sbin"])
            .args(["--symlink", "usr/lib", "/lib"])
            .args(["--symlink", "usr/lib64", "/lib64"])
            .args(["--ro-bind", "/etc", "/etc"])
            .args(["--proc", "/proc", "--dev", "/dev"])
            .args(["--perms", "1777", "--tmpfs", "/tmp"])
            .arg("--die-with-parent");
        // Mount points' parents made as container runtimes make them (0755; bwrap's own
        // are 0700), except in the host's /etc.
        let mut parents: Vec<&Path> = vec![];
        for (_, path, _) in &self.mounts {
            for parent in Path::new(path).ancestors().skip(1) {
                if parent != Path::new("/")
                    && !parent.starts_with("/etc")
                    && !parents.contains(&parent)
                {
                    parents.push(parent);
                }
            }
        }
        parents.sort_by_key(|p| p.components().count());
        for parent in parents {
            cmd.args(["--perms", "0755", "--dir"]).arg(parent);
        }
        for (host, path, writable) in &self.mounts {
            cmd.arg(if *writable { "--bind" } else { "--ro-bind" })
                .arg(host)
                .arg(path);
        }
        cmd.args(["--chdir", &self.workdir]);
        for (k, v) in &self.env {
            cmd.args(["--setenv", k, v]);
        }
        cmd.arg("--");
        if let Some((uid, gid)) = self.user {
            cmd.arg("setpriv")
                .arg(format!("--reuid={uid}"))
                .arg(format!("--regid={gid}"))
                .args([
                    "--clear-groups",
                    "--inh-caps=-all",
                    "--ambient-caps=-all",
                    "--bounding-set=-all",
                    "--no-new-privs",
                ]);
        }
        cmd.args(argv);
        cmd
    }

    /// Runs `argv` in this container.
    pub fn run(&self, argv: &[&str]) -> Ran {
        run(&mut self.command(argv))
    }
}

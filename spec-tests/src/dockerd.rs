//! A Docker daemon (dockerd) started for the tests in a private directory, and stopped with
//! the test process.
//!
//! Starting a daemon takes about 0.2 s but stopping one takes 2–3 s, so all tests of one
//! test binary share one daemon ([`shared`]): it is started on first use and stopped by an
//! `atexit` hook when the test process exits, whether the tests passed or not (the test
//! harness ends through `exit`). Should the test process be killed instead, the daemon gets
//! SIGTERM from the kernel as its parent-death signal.
//!
//! The daemon uses the vfs storage driver, sets up no networking (`--bridge=none`, no
//! iptables), keeps its data, exec root, socket, pidfile and log in a temporary directory,
//! and ignores the machine's `/etc/docker/daemon.json`. Test images are built offline with
//! [`busybox_layout`] and loaded with [`Dockerd::load_oci`].

use std::fs;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::Ran;

/// How long the daemon may take to answer after it was started.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a graceful stop may take before the daemon is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(20);

/// A running dockerd.
pub struct Dockerd {
    root: PathBuf,
    host: String,
    child: Mutex<Option<Child>>,
}

static SHARED: OnceLock<Dockerd> = OnceLock::new();

/// The daemon shared by the tests of this process, started on first use.
///
/// # Panics
/// When `dockerd` is not installed or does not answer within 30 s (the panic message
/// carries the daemon's log).
pub fn shared() -> &'static Dockerd {
    SHARED.get_or_init(|| {
        let daemon = Dockerd::start();
        // SAFETY: registers a plain function without arguments; it runs once at exit.
        let registered = unsafe { libc::atexit(stop_shared) };
        assert_eq!(registered, 0, "atexit registration failed");
        daemon
    })
}

extern "C" fn stop_shared() {
    if let Some(daemon) = SHARED.get() {
        daemon.stop();
    }
}

/// Spawns commands from one thread that lives as long as the process, so a parent-death
/// signal set in the child fires when the process ends and not when the test thread that
/// happened to start the daemon finishes.
fn spawn_from_long_lived_thread(cmd: Command) -> std::io::Result<Child> {
    type Request = (Command, mpsc::Sender<std::io::Result<Child>>);
    static SPAWNER: OnceLock<Mutex<mpsc::Sender<Request>>> = OnceLock::new();
    let sender = SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Request>();
        std::thread::Builder::new()
            .name("dockerd-spawner".into())
            .spawn(move || {
                for (mut cmd, reply) in rx {
                    let _ = reply.send(cmd.spawn());
                }
                // The senders live in a static: this thread never ends before the process.
            })
            .expect("spawner thread");
        Mutex::new(tx)
    });
    let (reply_tx, reply_rx) = mpsc::channel();
    sender
        .lock()
        .expect("spawner lock")
        .send((cmd, reply_tx))
        .expect("spawner alive");
    reply_rx.recv().expect("spawner reply")
}

impl Dockerd {
    fn start() -> Dockerd {
        let root = tempfile::Builder::new()
            .prefix("dockerd-")
            .tempdir()
            .expect("tempdir")
            .keep();
        fs::write(root.join("daemon.json"), "{}").expect("write daemon.json");
        let log = fs::File::create(root.join("dockerd.log")).expect("dockerd log");
        let socket = root.join("docker.sock");
        let mut cmd = Command::new("dockerd");
        cmd.arg("--config-file")
            .arg(root.join("daemon.json"))
            .arg("--data-root")
            .arg(root.join("data"))
            .arg("--exec-root")
            .arg(root.join("exec"))
            .arg("--pidfile")
            .arg(root.join("dockerd.pid"))
            .arg("-H")
            .arg(format!("unix://{}", socket.display()))
            .args([
                "--storage-driver=vfs",
                "--iptables=false",
                "--ip6tables=false",
                "--bridge=none",
                "--ip-masq=false",
                "--userland-proxy=false",
            ])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log fd"))
            .stderr(log);
        // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
        unsafe {
            cmd.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) == 0 {
                    Ok(())
                } else {
                    Err(std::io::Error::last_os_error())
                }
            });
        }
        let child = spawn_from_long_lived_thread(cmd).unwrap_or_else(|e| {
            panic!("cannot start dockerd ({e}): install docker.io (Debian) to run these tests")
        });
        let daemon = Dockerd {
            host: format!("unix://{}", socket.display()),
            root,
            child: Mutex::new(Some(child)),
        };
        daemon.wait_ready(&socket);
        daemon
    }

    fn wait_ready(&self, socket: &Path) {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if ping(socket) {
                return;
            }
            let exited = self
                .child
                .lock()
                .expect("child lock")
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            if exited.is_some() || Instant::now() > deadline {
                let log = self.log();
                self.stop();
                panic!("dockerd did not start ({exited:?}); its log:\n{log}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The `DOCKER_HOST` value that reaches this daemon (`unix:///…/docker.sock`).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The daemon's Unix socket.
    pub fn socket(&self) -> PathBuf {
        self.root.join("docker.sock")
    }

    /// The daemon's log so far.
    pub fn log(&self) -> String {
        fs::read_to_string(self.root.join("dockerd.log")).unwrap_or_default()
    }

    /// A `docker` CLI command talking to this daemon (the CLI negotiates the API version).
    pub fn docker(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("docker");
        cmd.args(args)
            .env("DOCKER_HOST", &self.host)
            .env("DOCKER_CONFIG", self.root.join("cli"));
        cmd
    }

    /// Runs the `docker` CLI and returns its trimmed stdout.
    ///
    /// # Panics
    /// When it fails (the panic message carries its output).
    pub fn docker_ok(&self, args: &[&str]) -> String {
        let ran = crate::run(&mut self.docker(args));
        assert_eq!(ran.code, 0, "docker {args:?} failed:\n{}", ran.all());
        ran.stdout.trim().to_string()
    }

    /// The ID (`sha256:…`) of an image in the daemon, or `None` when it has no such image.
    pub fn image_id(&self, name: &str) -> Option<String> {
        let ran = crate::run(&mut self.docker(&["image", "inspect", "--format", "{{.Id}}", name]));
        (ran.code == 0).then(|| ran.stdout.trim().to_string())
    }

    /// Copies image `tag` of the OCI layout `layout` into the daemon as `name` (`repo:tag`)
    /// with skopeo (`docker load` of OCI archives fails on dockerd 20.10).
    pub fn load_oci(&self, layout: &Path, tag: &str, name: &str) {
        let ran = crate::run(
            Command::new("skopeo")
                .args(["copy", "-q", "--dest-daemon-host", &self.host])
                .arg(format!("oci:{}:{tag}", layout.display()))
                .arg(format!("docker-daemon:{name}")),
        );
        assert_eq!(
            ran.code,
            0,
            "skopeo copy to the daemon failed:\n{}",
            ran.all()
        );
    }

    /// Loads a `docker save`-format archive with the docker CLI.
    pub fn load_archive(&self, archive: &Path) {
        self.docker_ok(&["load", "-q", "-i", &archive.display().to_string()]);
    }

    /// Runs `image` with `args` in a throwaway container without network, never pulling.
    pub fn run(&self, image: &str, args: &[&str]) -> Ran {
        self.run_with(&[], image, args)
    }

    /// Like [`Dockerd::run`], with `entrypoint` instead of the image's.
    pub fn run_entrypoint(&self, entrypoint: &str, image: &str, args: &[&str]) -> Ran {
        self.run_with(&["--entrypoint", entrypoint], image, args)
    }

    fn run_with(&self, options: &[&str], image: &str, args: &[&str]) -> Ran {
        let mut all = vec!["run", "--rm", "--pull", "never", "--network", "none"];
        all.extend_from_slice(options);
        all.push(image);
        all.extend_from_slice(args);
        crate::run(&mut self.docker(&all))
    }

    /// Stops the daemon (SIGTERM, then SIGKILL after 20 s), unmounts what it left mounted
    /// below its directory and removes the directory. Idempotent.
    fn stop(&self) {
        let Some(mut child) = self.child.lock().map(|mut c| c.take()).unwrap_or(None) else {
            return;
        };
        // SAFETY: plain kill(2) of our own child.
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
        let deadline = Instant::now() + STOP_TIMEOUT;
        while matches!(child.try_wait(), Ok(None)) {
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        unmount_below(&self.root);
        let _ = fs::remove_dir_all(&self.root);
    }
}

/// Whether the daemon behind `socket` answers `GET /_ping` with 200.
fn ping(socket: &Path) -> bool {
    let Ok(mut s) = UnixStream::connect(socket) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(b"GET /_ping HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut response = String::new();
    let _ = s.read_to_string(&mut response);
    response.starts_with("HTTP/1.1 200")
}

/// Lazily unmounts every mount point at or below `root`, deepest first (a container run
/// can leave `<exec-root>/netns/default` behind).
fn unmount_below(root: &Path) {
    let Ok(mountinfo) = fs::read_to_string("/proc/self/mountinfo") else {
        return;
    };
    let mut points: Vec<PathBuf> = mountinfo
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .map(|p| PathBuf::from(p.replace("\\040", " ")))
        .filter(|p| p.starts_with(root))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    for point in points {
        let Ok(c) = std::ffi::CString::new(point.as_os_str().as_encoded_bytes()) else {
            continue;
        };
        // SAFETY: c is a valid NUL-terminated path.
        unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
    }
}

/// Builds the OCI layout `dir` (created if missing) holding image `tag`: one layer with
/// the static busybox (`/bin/busybox`, `/bin/sh`, `/tmp`), `PATH=/bin`, entrypoint
/// `/bin/sh`, linux on the host's architecture, then the extra `umoci config` flags in `config` (for example
/// `--config.label=key=value`). Needs `umoci` and `busybox-static`; takes about 0.15 s.
pub fn busybox_layout(dir: &Path, tag: &str, config: &[&str]) {
    let image = format!("{}:{tag}", dir.display());
    let bundle = tempfile::tempdir().expect("tempdir");
    let bundle_dir = bundle.path().join("bundle");
    let umoci = |args: &[&str]| {
        let ran = crate::run(Command::new("umoci").args(args));
        assert_eq!(ran.code, 0, "umoci {args:?} failed:\n{}", ran.all());
    };
    if !dir.join("index.json").exists() {
        umoci(&["init", "--layout", &dir.display().to_string()]);
    }
    umoci(&["new", "--image", &image]);
    umoci(&[
        "unpack",
        "--image",
        &image,
        &bundle_dir.display().to_string(),
    ]);
    let rootfs = bundle_dir.join("rootfs");
    fs::create_dir_all(rootfs.join("bin")).expect("mkdir bin");
    fs::create_dir_all(rootfs.join("tmp")).expect("mkdir tmp");
    fs::copy("/bin/busybox", rootfs.join("bin/busybox"))
        .expect("copy /bin/busybox (install busybox-static)");
    std::os::unix::fs::symlink("busybox", rootfs.join("bin/sh")).expect("symlink sh");
    umoci(&[
        "repack",
        "--image",
        &image,
        &bundle_dir.display().to_string(),
    ]);
    let arch = format!("--architecture={}", go_arch());
    let mut args = vec![
        "config",
        "--image",
        &image,
        "--config.env=PATH=/bin",
        "--config.entrypoint=/bin/sh",
        &arch,
        "--os=linux",
    ];
    args.extend_from_slice(config);
    umoci(&args);
    umoci(&["gc", "--layout", &dir.display().to_string()]);
}

/// The host's architecture as Go (and image configs) name it.
fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    }
}

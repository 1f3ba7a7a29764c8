//! The launcher binary run as an app image runs it, for what only a whole launch
//! shows: which `metadata.toml` files it accepts, how it replaces itself with the
//! process, and how much exec.d output it takes.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Output};

/// An app image's `/layers` and `/workspace`.
struct App {
    root: tempfile::TempDir,
}

impl App {
    fn new(metadata: &str) -> Self {
        let app = App {
            root: tempfile::tempdir().unwrap(),
        };
        app.write("layers/config/metadata.toml", metadata, 0o644);
        fs::create_dir_all(app.path("app")).unwrap();
        app
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.root.path().join(rel)
    }

    fn write(&self, rel: &str, contents: &str, mode: u32) -> PathBuf {
        let path = self.path(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, contents).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
        path
    }

    /// Runs the launcher as `argv0` with `args` (retrying while a file another test
    /// just wrote is still open in a child it forked: `text file busy`).
    fn launch(&self, argv0: &str, args: &[&str]) -> Output {
        self.launch_with(argv0, args, |_| {})
    }

    /// [`App::launch`] after `prepare` adjusted the command.
    fn launch_with(&self, argv0: &str, args: &[&str], prepare: impl Fn(&mut Command)) -> Output {
        loop {
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_launcher"));
            prepare(&mut cmd);
            let out = cmd
                .arg0(argv0)
                .args(args)
                .env_clear()
                .env("CNB_PLATFORM_API", "0.15")
                .env("CNB_LAYERS_DIR", self.path("layers"))
                .env("CNB_APP_DIR", self.path("app"))
                .env("CNB_NO_COLOR", "true")
                .env("PATH", "/usr/bin:/bin")
                .output()
                .unwrap();
            if !stdout(&out).contains("text file busy") {
                return out;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

const BUILDPACK: &str = "[[buildpacks]]\nid = \"bp\"\napi = \"0.9\"\n";

#[test]
fn keys_the_reference_ignores_may_hold_anything() {
    let app = App::new(
        r#"slices = "x"
labels = 5
bom = "none"
buildpack-default-process-type = 1

[[buildpacks]]
id = "bp"
api = "0.9"
version = 1
homepage = 5

[[extensions]]
id = 7

[[processes]]
type = "web"
command = ["echo", "hi"]
args = ["there"]
direct = true
buildpack-id = "bp"
"#,
    );
    let out = app.launch("/cnb/process/web", &[]);
    assert_eq!(stdout(&out), "hi there\n");
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn files_without_a_shebang_are_not_run_by_sh() {
    let app = App::new(BUILDPACK);
    let script = app.write("app/no-shebang", "echo run by sh\n", 0o755);
    let out = app.launch("launcher", &["--", script.to_str().unwrap()]);
    assert_eq!(
        stdout(&out),
        "ERROR: failed to launch: direct exec: exec format error\n"
    );
    assert_eq!(out.status.code(), Some(82));
}

/// `sigset_t`: 1024 bits.
type SigSet = [u64; 16];

unsafe extern "C" {
    fn sigprocmask(how: i32, set: *const SigSet, oldset: *mut SigSet) -> i32;
}

/// The blocked (`SigBlk`) and ignored (`SigIgn`) signal masks in `status`, the
/// `/proc/<pid>/status` lines of those two.
fn signal_masks(status: &str) -> (u64, u64) {
    let mask = |key: &str| {
        let line = status.lines().find(|l| l.starts_with(key)).unwrap();
        u64::from_str_radix(line[key.len()..].trim(), 16).unwrap()
    };
    (mask("SigBlk:"), mask("SigIgn:"))
}

#[test]
fn processes_start_with_no_signal_blocked_and_sigpipe_at_its_default() {
    let app = App::new(BUILDPACK);
    let sigpipe = 1 << (13 - 1);
    // The launcher starts with SIGTERM blocked.
    let block_sigterm = |cmd: &mut Command| {
        // SAFETY: sigprocmask is async-signal-safe and the set is a valid sigset_t.
        unsafe {
            cmd.pre_exec(|| {
                let mut set: SigSet = [0; 16];
                set[0] = 1 << (15 - 1);
                if sigprocmask(0, &set, std::ptr::null_mut()) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            })
        };
    };
    let status = "/proc/self/status";
    for args in [
        &["--", "grep", "-E", "^Sig(Blk|Ign)", status][..],
        &["grep -E '^Sig(Blk|Ign)' /proc/self/status"],
    ] {
        let out = app.launch_with("launcher", args, block_sigterm);
        assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
        let (blocked, ignored) = signal_masks(&stdout(&out));
        assert_eq!(blocked, 0, "{args:?}");
        assert_eq!(ignored & sigpipe, 0, "{args:?}");
    }
}

/// An exec.d program writing `n` lines `V<i> = "<1000 x>"` to fd 3.
fn exec_d_lines(n: usize) -> String {
    format!(
        "#!/bin/sh\nx=$(head -c 1000 /dev/zero | tr '\\0' x)\ni=0\n\
         while [ $i -lt {n} ]; do printf 'V%d = \"%s\"\\n' $i \"$x\"; i=$((i+1)); done >&3\n"
    )
}

#[test]
fn exec_d_output_is_capped() {
    let app = App::new(BUILDPACK);
    // About 1.08 MB: refused, whatever the program does after its output is cut.
    let program = app.write("layers/bp/layer/exec.d/big", &exec_d_lines(1070), 0o755);
    let out = app.launch("launcher", &["--", "true"]);
    assert_eq!(
        stdout(&out),
        format!(
            "ERROR: failed to launch: exec.d: failed to read output from exec.d file at path \
             '{}': output exceeds the limit of 1048576 bytes\n",
            program.display()
        )
    );
    assert_eq!(out.status.code(), Some(82));
    // About 0.9 MB is taken whole.
    fs::write(&program, exec_d_lines(900)).unwrap();
    let out = app.launch(
        "launcher",
        &["--", "sh", "-c", "printf %s \"$V0$V899\" | wc -c"],
    );
    assert_eq!(stdout(&out).trim(), "2000");
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn unreadable_metadata_is_exit_1() {
    let app = App::new("[[processes]]\ndirect = \"yes\"\n");
    let out = app.launch("launcher", &["--", "true"]);
    assert!(
        stdout(&out).starts_with("ERROR: failed to read metadata: toml: line 2: "),
        "{}",
        stdout(&out)
    );
    assert_eq!(out.status.code(), Some(1));
}

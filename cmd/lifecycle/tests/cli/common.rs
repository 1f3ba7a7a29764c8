//! Running the built `lifecycle` binary under phase names, with a controlled environment.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The version line `-version` prints.
pub const VERSION_LINE: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    "+",
    env!("LIFECYCLE_COMMIT"),
    "\n"
);

/// The phase executables, as the symlinks in `/cnb/lifecycle` are called.
pub const PHASE_BINARIES: [&str; 8] = [
    "analyzer", "detector", "restorer", "builder", "exporter", "rebaser", "creator", "extender",
];

/// A directory with the binary linked under every phase name.
pub struct Install {
    dir: tempfile::TempDir,
}

impl Install {
    /// Links the binary as `lifecycle` and every phase name.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let bin = Path::new(env!("CARGO_BIN_EXE_lifecycle"));
        for name in PHASE_BINARIES.iter().chain(&["lifecycle"]) {
            std::os::unix::fs::symlink(bin, dir.path().join(name)).expect("symlink");
        }
        Self { dir }
    }

    /// The path of `name` in the install directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Runs `name` with `args` and exactly the variables in `env` (plus PATH).
    pub fn run(&self, name: &str, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut cmd = Command::new(self.path(name));
        cmd.args(args)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .current_dir(self.dir.path());
        for (k, v) in env {
            cmd.env(k, v);
        }
        Run(cmd.output().expect("run lifecycle"))
    }

    /// Runs `name` at Platform API `api`.
    pub fn run_api(&self, name: &str, api: &str, args: &[&str]) -> Run {
        self.run(name, args, &[("CNB_PLATFORM_API", api)])
    }
}

/// The result of one run.
pub struct Run(pub Output);

impl Run {
    /// The exit code.
    pub fn code(&self) -> i32 {
        self.0.status.code().expect("exited normally")
    }

    /// Standard output as text.
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.0.stdout).into_owned()
    }

    /// Standard error as text.
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.0.stderr).into_owned()
    }

    /// Asserts the exit code and the exact standard output.
    pub fn expect(&self, code: i32, stdout: &str) {
        assert_eq!(
            (self.code(), self.stdout().as_str()),
            (code, stdout),
            "stderr: {}",
            self.stderr()
        );
    }
}

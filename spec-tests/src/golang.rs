//! Go programs the tests compare with (Go's `archive/tar` is what the reference writes
//! layers with), built with the machine's Go toolchain, offline.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Builds the Go module in `src` into `<work>/<name>` (the Go build cache under `work`)
/// and returns the binary; `None`, after saying so, when `go` is not installed. A `go`
/// that is installed but fails to build is a test failure.
pub fn build(src: &Path, work: &Path, name: &str) -> Option<PathBuf> {
    if !Command::new("go")
        .arg("version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
    {
        eprintln!(
            "SKIPPED: `go` is not installed; install golang-go to compare with Go's archive/tar"
        );
        return None;
    }
    fs::create_dir_all(work).expect("go work dir");
    let staging = tempfile::Builder::new()
        .prefix("go-build-")
        .tempdir_in(work)
        .expect("staging dir");
    let built = staging.path().join(name);
    let output = Command::new("go")
        .args(["build", "-o"])
        .arg(&built)
        .arg(".")
        .current_dir(src)
        .env("GOCACHE", work.join("gocache"))
        .env("GOPATH", work.join("gopath"))
        .env("GOFLAGS", "-mod=mod")
        .env("GO111MODULE", "on")
        .env("GOPROXY", "off")
        .env("GOTOOLCHAIN", "local")
        .env("CGO_ENABLED", "0")
        .output()
        .expect("running go build");
    assert!(
        output.status.success(),
        "go build of {} failed:\n{}",
        src.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    // Renaming is atomic, even over a binary another test process is running.
    let binary = work.join(name);
    fs::rename(&built, &binary).expect("install go binary");
    Some(binary)
}

/// Builds a one-file Go program (`main.go` text) as [`build`] does.
pub fn build_program(main_go: &str, work: &Path, name: &str) -> Option<PathBuf> {
    fs::create_dir_all(work).expect("go work dir");
    let src = tempfile::Builder::new()
        .prefix("go-src-")
        .tempdir_in(work)
        .expect("source dir");
    fs::write(src.path().join("main.go"), main_go).expect("main.go");
    fs::write(
        src.path().join("go.mod"),
        format!("module {name}\n\ngo 1.19\n"),
    )
    .expect("go.mod");
    build(src.path(), work, name)
}

//! What each phase does once its command line is valid: the detector and builder refuse
//! root; phases not written yet fail with their exit code, never a fake success.

use crate::common::Install;

fn running_as_root() -> bool {
    nix::unistd::getuid().is_root()
}

#[test]
fn detector_and_builder_refuse_root() {
    if !running_as_root() {
        return;
    }
    let install = Install::new();
    install
        .run_api("detector", "0.15", &[])
        .expect(1, "ERROR: failed to detect: refusing to run as root\n");
    install
        .run_api("builder", "0.15", &[])
        .expect(1, "ERROR: failed to build: refusing to run as root\n");
    install
        .run_api("lifecycle", "0.12", &["detect", "-app", "/x"])
        .expect(1, "ERROR: failed to detect: refusing to run as root\n");
}

#[test]
fn the_extender_is_not_implemented() {
    Install::new()
        .run_api("extender", "0.15", &[])
        .expect(102, "ERROR: failed to extend: not implemented\n");
}

#[test]
fn phases_without_their_inputs_fail_as_the_reference() {
    let install = Install::new();
    let no_run = "No run metadata found at path \"/cnb/run.toml\"\n\
ERROR: failed to resolve inputs: -run-image is required when there is no run metadata available\n";
    install
        .run_api("analyzer", "0.15", &["img"])
        .expect(3, no_run);
    install
        .run_api("creator", "0.15", &["-cache-dir", "/c", "img"])
        .expect(3, no_run);
    install.run_api("restorer", "0.15", &[]).expect(
        1,
        "Warning: No cached data will be used, no cache specified.\n\
ERROR: failed to read group file: open /layers/group.toml: no such file or directory\n",
    );
}

#[test]
fn warnings_follow_the_log_level() {
    Install::new()
        .run_api("restorer", "0.15", &["-log-level", "error"])
        .expect(
            1,
            "ERROR: failed to read group file: open /layers/group.toml: no such file or directory\n",
        );
}

#[test]
fn detector_runs_detection_when_not_root() {
    // Needs root to switch to an unprivileged user, and setpriv to do it.
    if !running_as_root() || !std::path::Path::new("/usr/bin/setpriv").exists() {
        return;
    }
    let out = std::process::Command::new("/usr/bin/setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_lifecycle"))
        .args([
            "detect",
            "-order=/nonexistent/order.toml",
            "-layers=/nonexistent",
        ])
        .env_clear()
        .env("CNB_PLATFORM_API", "0.15")
        .current_dir("/")
        .output()
        .expect("run setpriv");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!stdout.contains("refusing to run as root"), "{stdout}");
    assert!(stdout.contains("ERROR: "), "{stdout}");
    assert_ne!(out.status.code(), Some(0), "{stdout}");
}

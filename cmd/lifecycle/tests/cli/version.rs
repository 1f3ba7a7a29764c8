//! `-version`: printed before any validation, by every phase and by `lifecycle`.

use crate::common::{Install, PHASE_BINARIES, VERSION_LINE};

#[test]
fn every_phase_prints_the_version() {
    let install = Install::new();
    for name in PHASE_BINARIES {
        for api in ["0.7", "0.12", "0.15"] {
            install
                .run_api(name, api, &["-version"])
                .expect(0, VERSION_LINE);
        }
    }
}

#[test]
fn version_among_other_flags() {
    let install = Install::new();
    let cases: [(&str, &[&str]); 8] = [
        ("detector", &["-app=/some/dir", "-version"]),
        ("analyzer", &["-daemon", "-version"]),
        ("restorer", &["-cache-dir=/some/dir", "-version"]),
        ("builder", &["-app=/some/dir", "-version"]),
        ("exporter", &["-analyzed=/some/file", "-version", "-daemon"]),
        ("rebaser", &["-daemon", "-version", "img"]),
        ("creator", &["-version", "img", "extra"]),
        ("extender", &["--version=true", "unexpected"]),
    ];
    for (name, args) in cases {
        let run = install.run_api(name, "0.15", args);
        run.expect(0, VERSION_LINE);
        assert_eq!(run.stderr(), "");
    }
}

#[test]
fn lifecycle_version_needs_no_platform_api() {
    let install = Install::new();
    install
        .run("lifecycle", &["-version"], &[])
        .expect(0, VERSION_LINE);
    install
        .run_api("lifecycle", "0.15", &["detect", "-version"])
        .expect(0, VERSION_LINE);
}

#[test]
fn version_after_a_positional_is_not_a_flag() {
    let install = Install::new();
    let run = install.run_api("analyzer", "0.15", &["img", "-version"]);
    assert_eq!(run.code(), 3);
    assert!(!run.stdout().contains(VERSION_LINE));
}

#[test]
fn version_does_not_hide_flag_errors() {
    let install = Install::new();
    let run = install.run_api("detector", "0.15", &["-version", "-nope"]);
    assert_eq!(run.code(), 2);
    assert_eq!(run.stdout(), "");
}

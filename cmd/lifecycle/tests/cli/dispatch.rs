//! Choosing the phase by program name or subcommand, and the Platform API check that
//! comes first.

use crate::common::{Install, PHASE_BINARIES};

const UNSET: &str = "ERROR: failed to get platform API version; please set 'CNB_PLATFORM_API' to specify the desired platform API version\n";

#[test]
fn lifecycle_without_arguments() {
    Install::new()
        .run("lifecycle", &[], &[])
        .expect(3, "ERROR: failed to parse arguments\n");
}

#[test]
fn unknown_subcommand() {
    Install::new().run_api("lifecycle", "0.15", &["frobnicate"]).expect(
        3,
        "ERROR: failed to recognize phase: frobnicate \nValid phases: detect, analyze, restore, build, export, rebase, create, extend\n",
    );
}

#[test]
fn subcommands_run_their_phase() {
    let install = Install::new();
    install.run_api("lifecycle", "0.15", &["analyze"]).expect(
        3,
        "ERROR: failed to parse arguments: received 0 arguments, but expected 1\n",
    );
    install
        .run_api("lifecycle", "0.15", &["/any/dir/restore", "x"])
        .expect(
            3,
            "ERROR: failed to parse arguments: received unexpected Args\n",
        );
}

#[test]
fn platform_api_unset_or_blank() {
    let install = Install::new();
    for name in PHASE_BINARIES {
        install.run(name, &[], &[]).expect(11, UNSET);
        install.run_api(name, "  ", &[]).expect(11, UNSET);
    }
    install.run("lifecycle", &["detect"], &[]).expect(11, UNSET);
}

#[test]
fn platform_api_unsupported_or_malformed() {
    let install = Install::new();
    for name in PHASE_BINARIES {
        install.run_api(name, "0.6", &["-version"]).expect(
            11,
            "ERROR: failed to set platform API: platform API version '0.6' is incompatible with the lifecycle\n",
        );
        install.run_api(name, "0.2wrongapiblabla", &[]).expect(
            11,
            "ERROR: failed to parse platform API '0.2wrongapiblabla'\n",
        );
    }
    install.run_api("lifecycle", "0.16", &["nonsense"]).expect(
        11,
        "ERROR: failed to set platform API: platform API version '0.16' is incompatible with the lifecycle\n",
    );
}

#[test]
fn platform_api_is_checked_before_flags() {
    Install::new()
        .run_api("detector", "9.9", &["-nope"])
        .expect(
            11,
            "ERROR: failed to set platform API: platform API version '9.9' is incompatible with the lifecycle\n",
        );
}

//! Go `flag` errors (exit 2), flags gated by Platform API, and positional arguments
//! (exit 3).

use crate::common::Install;

#[test]
fn undefined_flag_prints_usage_to_stderr() {
    let run = Install::new().run_api("detector", "0.15", &["-nope"]);
    assert_eq!(run.code(), 2);
    assert_eq!(run.stdout(), "");
    let err = run.stderr();
    assert!(
        err.starts_with("flag provided but not defined: -nope\nUsage of lifecycle:\n  -analyzed string\n    \tpath to analyzed.toml (default \"<layers>/analyzed.toml\")\n"),
        "{err}"
    );
    assert!(err.contains("  -version\n    \tshow version\n"), "{err}");
    assert!(
        err.contains(
            "  -system string\n    \tpath to system.toml (default \"/cnb/system.toml\")\n"
        )
    );
}

#[test]
fn usage_defaults_come_from_the_environment() {
    let run = Install::new().run(
        "analyzer",
        &["-h"],
        &[
            ("CNB_PLATFORM_API", "0.15"),
            ("CNB_USER_ID", "1000"),
            ("CNB_LAYERS_DIR", "/l"),
        ],
    );
    assert_eq!(run.code(), 0);
    assert_eq!(run.stdout(), "");
    let err = run.stderr();
    assert!(err.starts_with("Usage of lifecycle:\n"), "{err}");
    assert!(err.contains(
        "  -uid int\n    \tUID of user in the stack's build and run images (default 1000)\n"
    ));
    assert!(err.contains("  -layers string\n    \tpath to layers directory (default \"/l\")\n"));
}

#[test]
fn go_flag_error_texts() {
    let install = Install::new();
    let cases: [(&str, &[&str], &str); 5] = [
        (
            "analyzer",
            &["-uid", "me", "img"],
            "invalid value \"me\" for flag -uid: parse error\n",
        ),
        (
            "analyzer",
            &["-daemon=yes", "img"],
            "invalid boolean value \"yes\" for -daemon: parse error\n",
        ),
        (
            "detector",
            &["-layers"],
            "flag needs an argument: -layers\n",
        ),
        ("detector", &["---layers"], "bad flag syntax: ---layers\n"),
        (
            "extender",
            &["-kaniko-cache-ttl", "soon"],
            "invalid value \"soon\" for flag -kaniko-cache-ttl: parse error\n",
        ),
    ];
    for (name, args, first_line) in cases {
        let run = install.run_api(name, "0.15", args);
        assert_eq!(run.code(), 2, "{name} {args:?}");
        assert!(run.stderr().starts_with(first_line), "{}", run.stderr());
    }
}

#[test]
fn flags_of_newer_platform_apis_are_undefined() {
    let install = Install::new();
    let cases: [(&str, &str, &[&str], &str); 8] = [
        ("detector", "0.14", &["-system", "/s.toml"], "system"),
        ("restorer", "0.13", &["-run", "/r.toml"], "run"),
        ("analyzer", "0.11", &["-layout", "img"], "layout"),
        (
            "analyzer",
            "0.12",
            &["-insecure-registry", "r", "img"],
            "insecure-registry",
        ),
        ("analyzer", "0.8", &["-skip-layers", "img"], "skip-layers"),
        ("analyzer", "0.12", &["-stack", "/s", "img"], "stack"),
        (
            "exporter",
            "0.10",
            &["-launcher-sbom", "/x", "img"],
            "launcher-sbom",
        ),
        ("detector", "0.9", &["-extensions", "/x"], "extensions"),
    ];
    for (name, api, args, flag) in cases {
        let run = install.run_api(name, api, args);
        assert_eq!(run.code(), 2, "{name} {api} {args:?}");
        let want = format!("flag provided but not defined: -{flag}\n");
        assert!(run.stderr().starts_with(&want), "{}", run.stderr());
    }
}

#[test]
fn wrong_positional_counts() {
    let install = Install::new();
    let cases: [(&str, &[&str], &str); 10] = [
        ("analyzer", &[], "received 0 arguments, but expected 1"),
        (
            "analyzer",
            &["a", "b"],
            "received 2 arguments, but expected 1",
        ),
        ("creator", &[], "received 0 arguments, but expected 1"),
        (
            "creator",
            &["a", "b"],
            "received 2 arguments, but expected 1",
        ),
        ("detector", &["x"], "received unexpected arguments"),
        ("builder", &["x"], "received unexpected arguments"),
        ("extender", &["x"], "received unexpected arguments"),
        ("restorer", &["x"], "received unexpected Args"),
        ("exporter", &[], "at least one image argument is required"),
        ("rebaser", &[], "at least one image argument is required"),
    ];
    for (name, args, cause) in cases {
        for api in ["0.7", "0.15"] {
            install
                .run_api(name, api, args)
                .expect(3, &format!("ERROR: failed to parse arguments: {cause}\n"));
        }
    }
}

#[test]
fn flag_like_positionals_are_warned_about() {
    let run = Install::new().run_api("analyzer", "0.15", &["img", "-daemon"]);
    run.expect(
        3,
        "Warning: Warning: unconsumed flag-like positional arg: \n\t-daemon\n\t This will not be interpreted as a flag.\n\t Did you mean to put this before the first positional argument?\n\
ERROR: failed to parse arguments: received 2 arguments, but expected 1\n",
    );
}

#[test]
fn empty_image_argument() {
    Install::new().run_api("analyzer", "0.15", &[""]).expect(
        3,
        "ERROR: failed to resolve inputs: image argument is required\n",
    );
}

#[test]
fn exporter_rejects_run_image_flags() {
    let install = Install::new();
    install
        .run_api("exporter", "0.15", &["-run-image", "r", "img"])
        .expect(
            3,
            "ERROR: failed to resolve inputs: -run-image is unsupported\n",
        );
    install
        .run_api("exporter", "0.7", &["-image", "r", "img"])
        .expect(
            3,
            "ERROR: failed to resolve inputs: -image is unsupported\n",
        );
}

#[test]
fn invalid_log_level() {
    let install = Install::new();
    install
        .run_api("detector", "0.15", &["-log-level=bogus"])
        .expect(1, "ERROR: failed to parse log level: invalid level\n");
    install
        .run(
            "builder",
            &[],
            &[("CNB_PLATFORM_API", "0.15"), ("CNB_LOG_LEVEL", "loud")],
        )
        .expect(1, "ERROR: failed to parse log level: invalid level\n");
}

#[test]
fn layout_is_experimental() {
    let install = Install::new();
    install
        .run_api("analyzer", "0.12", &["-layout", "img"])
        .expect(
            1,
            "ERROR: Platform requested experimental feature 'export to OCI layout format'\n\
ERROR: experimental features are disabled by CNB_EXPERIMENTAL_MODE=error\n",
        );
    install
        .run(
            "analyzer",
            &["-layout", "img"],
            &[
                ("CNB_PLATFORM_API", "0.12"),
                ("CNB_EXPERIMENTAL_MODE", "warn"),
            ],
        )
        .expect(
            3,
            "Warning: Platform requested experimental feature 'export to OCI layout format'\n\
No run metadata found at path \"/cnb/run.toml\"\n\
ERROR: failed to resolve inputs: -run-image is required when there is no run metadata available\n",
        );
}

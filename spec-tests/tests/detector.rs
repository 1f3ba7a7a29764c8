//! The detector driven as a platform drives it: the reference's acceptance scenarios
//! and the DET-* checklist items, against the built binary, run as a build user.

use spec_tests::{Bp, Build, run};

const LATEST: &str = "0.15";

/// The host architecture under its Go/OCI name.
fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// The reference's detector fixtures: a simple buildpack that provides and requires,
/// one that always passes and prints its environment, one that opts out, one with an
/// unsupported API.
fn fixtures(api: &str) -> Build {
    let b = Build::new(api);
    b.buildpack(
        &Bp::new("simple_buildpack", "simple_buildpack_version", "0.9").detect(
            r#"cat >> "$2" <<'EOF'
[[provides]]
name = "some_requirement"

[[requires]]
name = "some_requirement"
[requires.metadata]
some_metadata_key = "some_metadata_val"
version = "some_version"
EOF
"#,
        ),
    );
    b.buildpack(
        &Bp::new(
            "always_detect_buildpack",
            "always_detect_buildpack_version",
            "0.10",
        )
        .detect(
            r#"echo "platform_path: $1"
echo "app_dir: $(pwd)"
echo "FOO=${FOO:-unset} USER_VAR=${USER_VAR:-unset} PATH=$PATH"
echo "CNB_PLATFORM_API=${CNB_PLATFORM_API:-unset} HOME=${HOME:-unset}"
env | grep '^CNB_TARGET_' | sort
"#,
        ),
    );
    b.buildpack(
        &Bp::new("fail_detect_buildpack", "some_version", "0.9")
            .detect("echo 'Opted out of detection'\nexit 100\n"),
    );
    b.buildpack(&Bp::new("bad_api", "bad_api_version", "0.1"));
    b
}

fn order(b: &Build, groups: &[&[(&str, &str)]]) {
    let mut toml = String::new();
    for g in groups {
        toml.push_str("[[order]]\n");
        for (id, version) in *g {
            toml.push_str(&format!(
                "  [[order.group]]\n  id = \"{id}\"\n  version = \"{version}\"\n"
            ));
        }
    }
    b.order(&toml);
}

fn detect(b: &Build, extra: &[&str]) -> spec_tests::Ran {
    let order = b.path("cnb/order.toml").display().to_string();
    let mut args: Vec<String> = b.dir_flags();
    args.extend(["-order".to_string(), order]);
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run(&mut b.phase("detector", &args))
}

#[test]
fn refuses_to_run_as_root() {
    let b = fixtures(LATEST);
    run(&mut b.phase_as_root("detector", &[]))
        .expect_code(1)
        .expect_output("ERROR: failed to detect: refusing to run as root");
}

#[test]
fn missing_order_file() {
    let b = fixtures(LATEST);
    let r = run(&mut b.phase("detector", &["-order=/custom/order.toml"]));
    r.expect_code(1).expect_output(
        "failed to initialize detector: reading order: failed to read order file: open /custom/order.toml: no such file or directory",
    );
}

#[test]
fn no_group_passes() {
    let b = fixtures(LATEST);
    order(&b, &[&[("fail_detect_buildpack", "some_version")]]);
    let r = detect(&b, &[]);
    r.expect_code(20)
        .expect_output("======== Output: fail_detect_buildpack@some_version ========")
        .expect_output("Opted out of detection")
        .expect_output("======== Results ========")
        .expect_output("fail: fail_detect_buildpack@some_version")
        .expect_output("No buildpack groups passed detection.")
        .expect_output("ERROR: failed to detect: no buildpacks participating");
    assert!(
        !b.path("layers/group.toml").exists(),
        "no group.toml on failure"
    );
}

#[test]
fn group_passes_and_files_are_written_as_the_reference_writes_them() {
    let b = fixtures(LATEST);
    order(&b, &[&[("simple_buildpack", "simple_buildpack_version")]]);
    let r = detect(&b, &[]);
    r.expect_code(0)
        .expect_output("simple_buildpack simple_buildpack_version")
        .expect_no_output("======== Results ========");
    assert_eq!(
        b.read("layers/group.toml"),
        "[[group]]\n  id = \"simple_buildpack\"\n  version = \"simple_buildpack_version\"\n  api = \"0.9\"\n"
    );
    assert_eq!(
        b.read("layers/plan.toml"),
        "[[entries]]\n\n  [[entries.providers]]\n    id = \"simple_buildpack\"\n    version = \"simple_buildpack_version\"\n\n  [[entries.requires]]\n    name = \"some_requirement\"\n    [entries.requires.metadata]\n      some_metadata_key = \"some_metadata_val\"\n      version = \"some_version\"\n"
    );
}

#[test]
fn debug_level_shows_results_on_success() {
    let b = fixtures(LATEST);
    order(&b, &[&[("simple_buildpack", "simple_buildpack_version")]]);
    detect(&b, &["-log-level", "debug"])
        .expect_code(0)
        .expect_output("======== Results ========")
        .expect_output("pass: simple_buildpack@simple_buildpack_version")
        .expect_output("Resolving plan... (try #1)");
}

#[test]
fn env_configured_paths() {
    let b = fixtures(LATEST);
    b.write(
        "custom/order.toml",
        "[[order]]\n[[order.group]]\nid = \"always_detect_buildpack\"\nversion = \"always_detect_buildpack_version\"\n",
    );
    std::fs::create_dir_all(b.path("custom_workspace")).unwrap();
    std::fs::create_dir_all(b.path("custom_platform")).unwrap();
    std::fs::rename(b.path("cnb/buildpacks"), b.path("custom_buildpacks")).unwrap();
    let root = b.path("");
    let p = |rel: &str| root.join(rel).display().to_string();
    let b2 = b
        .with_env("CNB_ORDER_PATH", &p("custom/order.toml"))
        .with_env("CNB_BUILDPACKS_DIR", &p("custom_buildpacks"))
        .with_env("CNB_APP_DIR", &p("custom_workspace"))
        .with_env("CNB_GROUP_PATH", "./custom_group.toml")
        .with_env("CNB_PLAN_PATH", &p("custom/plan.toml"))
        .with_env("CNB_PLATFORM_DIR", &p("custom_platform"))
        .with_env("CNB_LAYERS_DIR", &p("layers"))
        .with_env("CNB_LOG_LEVEL", "debug");
    let r = run(&mut b2.phase("detector", &[]));
    r.expect_code(0)
        .expect_output(&format!("platform_path: {}", p("custom_platform")))
        .expect_output(&format!("app_dir: {}", p("custom_workspace")));
    // the relative group path is taken from the working directory (the build root)
    assert!(
        b2.read("custom_group.toml")
            .contains("always_detect_buildpack")
    );
    assert_eq!(
        b2.read("custom/plan.toml"),
        "",
        "nothing required: empty plan"
    );
}

#[test]
fn unsupported_buildpack_api_exits_12() {
    let b = fixtures(LATEST);
    order(&b, &[&[("bad_api", "bad_api_version")]]);
    detect(&b, &[])
        .expect_code(12)
        .expect_output("buildpack API version '0.1' is incompatible with the lifecycle");
}

#[test]
fn system_buildpacks_are_merged_on_0_15_only() {
    let b = fixtures("0.15");
    order(&b, &[&[("simple_buildpack", "simple_buildpack_version")]]);
    b.write(
        "cnb/system.toml",
        "[system]\n[[system.pre.buildpacks]]\nid = \"always_detect_buildpack\"\nversion = \"always_detect_buildpack_version\"\n\n[[system.post.buildpacks]]\nid = \"simple_buildpack\"\nversion = \"simple_buildpack_version\"\n",
    );
    let system = b.path("cnb/system.toml").display().to_string();
    detect(&b, &["-system", &system, "-log-level", "debug"])
        .expect_code(0)
        .expect_output("Prepending 1 system buildpack(s) to group")
        .expect_no_output("Appending");
    let group = b.read("layers/group.toml");
    let always = group.find("always_detect_buildpack").unwrap();
    let simple = group.find("\"simple_buildpack\"").unwrap();
    assert!(always < simple, "{group}");

    let old = fixtures("0.14");
    order(&old, &[&[("simple_buildpack", "simple_buildpack_version")]]);
    detect(&old, &["-system", "/x"])
        .expect_code(2)
        .expect_output("flag provided but not defined: -system");
}

#[test]
fn buildpack_errors_exit_21_with_output_at_info() {
    let b = fixtures(LATEST);
    b.buildpack(&Bp::new("crashing", "1", "0.10").detect("echo 'about to crash'\nexit 3\n"));
    order(&b, &[&[("crashing", "1")]]);
    detect(&b, &[])
        .expect_code(21)
        .expect_output("======== Output: crashing@1 ========")
        .expect_output("about to crash")
        .expect_output("err:  crashing@1 (3)")
        .expect_output("ERROR: failed to detect: buildpack(s) failed with err");
}

#[test]
fn invalid_plans_are_buildpack_errors() {
    let b = fixtures(LATEST);
    b.buildpack(
        &Bp::new("garbage", "1", "0.10")
            .detect("echo 'this is [ not toml' > \"$CNB_BUILD_PLAN_PATH\"\n"),
    );
    b.buildpack(&Bp::new("versioned", "1", "0.10").detect(
        "printf '[[requires]]\\nname = \"x\"\\nversion = \"1\"\\n' > \"$CNB_BUILD_PLAN_PATH\"\n",
    ));
    order(&b, &[&[("garbage", "1")], &[("versioned", "1")]]);
    detect(&b, &[])
        .expect_code(21)
        .expect_output("======== Error: garbage@1 ========")
        .expect_output("err:  garbage@1")
        .expect_output(
            "buildpack versioned has a \"version\" key which is not supported. \"metadata.version\" should be used instead",
        );
}

#[test]
fn megabytes_of_output_are_bounded() {
    let b = fixtures(LATEST);
    b.buildpack(
        &Bp::new("chatty", "1", "0.10")
            .detect("head -c 8000000 /dev/zero | tr '\\0' x\nexit 100\n"),
    );
    order(&b, &[&[("chatty", "1")]]);
    let r = detect(&b, &[]);
    r.expect_code(20).expect_output("[output truncated:");
    assert!(
        r.stdout.len() < 2 << 20,
        "output was {} bytes",
        r.stdout.len()
    );
}

#[test]
fn composite_buildpacks_expand_depth_first_with_optional_fallback() {
    let b = fixtures(LATEST);
    for id in ["A", "B", "C", "D", "E"] {
        b.buildpack(&Bp::new(id, "1", "0.10"));
    }
    b.buildpack(&Bp::new("F", "1", "0.10").detect("exit 100"));
    // O = [[A, F], [C, D]]: the first sub-group fails on F, the second passes.
    b.buildpack(&Bp::new("O", "1", "0.10").composite(
        "[[order]]\n[[order.group]]\nid = \"A\"\nversion = \"1\"\n[[order.group]]\nid = \"F\"\nversion = \"1\"\n[[order]]\n[[order.group]]\nid = \"C\"\nversion = \"1\"\n[[order.group]]\nid = \"D\"\nversion = \"1\"\n",
    ));
    order(&b, &[&[("E", "1"), ("O", "1"), ("B", "1")]]);
    detect(&b, &[]).expect_code(0);
    let group = b.read("layers/group.toml");
    let ids: Vec<&str> = group
        .lines()
        .filter_map(|l| l.trim().strip_prefix("id = \""))
        .map(|l| l.trim_end_matches('"'))
        .collect();
    assert_eq!(ids, ["E", "C", "D", "B"]);
}

#[test]
fn duplicate_ids_in_an_expanded_group_are_skipped() {
    let b = fixtures(LATEST);
    b.buildpack(&Bp::new("A", "1", "0.10"));
    b.buildpack(&Bp::new("A", "2", "0.10"));
    b.buildpack(
        &Bp::new("O", "1", "0.10")
            .composite("[[order]]\n[[order.group]]\nid = \"A\"\nversion = \"2\"\n"),
    );
    order(&b, &[&[("A", "1"), ("O", "1")]]);
    detect(&b, &[]).expect_code(0);
    let group = b.read("layers/group.toml");
    assert_eq!(group.matches("id = \"A\"").count(), 1, "{group}");
    assert!(group.contains("version = \"1\""));
}

#[test]
fn composite_cycles_are_an_error_not_a_crash() {
    let b = fixtures(LATEST);
    b.buildpack(
        &Bp::new("X", "1", "0.10")
            .composite("[[order]]\n[[order.group]]\nid = \"Y\"\nversion = \"1\"\n"),
    );
    b.buildpack(
        &Bp::new("Y", "1", "0.10")
            .composite("[[order]]\n[[order.group]]\nid = \"X\"\nversion = \"1\"\n"),
    );
    order(&b, &[&[("X", "1")]]);
    detect(&b, &[])
        .expect_code(22)
        .expect_output("cycle: X@1 -> Y@1 -> X@1");
}

#[test]
fn later_groups_are_tried_and_results_reused() {
    let b = fixtures(LATEST);
    // counts its own runs in the app dir... which is read-only for detect; use /tmp.
    let counter = b.path("runs");
    std::fs::create_dir_all(&counter).unwrap();
    b.buildpack(
        &Bp::new("counted", "1", "0.10")
            .detect(&format!("echo x >> {}/count\nexit 0\n", counter.display())),
    );
    order(
        &b,
        &[
            &[("counted", "1"), ("fail_detect_buildpack", "some_version")],
            &[("counted", "1")],
        ],
    );
    detect(&b, &[]).expect_code(0);
    assert_eq!(b.read("runs/count").lines().count(), 1, "detected once");
    assert!(!b.read("layers/group.toml").contains("fail_detect"));
}

#[test]
fn environment_of_detect() {
    let b = fixtures(LATEST)
        .with_env("CNB_LOG_LEVEL", "info")
        .with_env("SECRET_TOKEN", "should-not-leak");
    order(
        &b,
        &[&[("always_detect_buildpack", "always_detect_buildpack_version")]],
    );
    b.write("platform/env/USER_VAR", "from-user");
    b.write("platform/env/PATH", "/user/bin");
    b.write("cnb/build-config/env/FOO", "val-from-build-config");
    let bc = b.path("cnb/build-config").display().to_string();
    let r = detect(&b, &["-build-config", &bc, "-log-level", "debug"]);
    r.expect_code(0)
        .expect_output("FOO=val-from-build-config USER_VAR=from-user PATH=/user/bin:/usr/local/bin:/usr/bin:/bin")
        .expect_output("CNB_PLATFORM_API=unset")
        .expect_output("CNB_TARGET_OS=linux")
        .expect_output(&format!("CNB_TARGET_ARCH={}\n", go_arch()))
        .expect_no_output("should-not-leak");

    // clear-env hides user env but not operator env
    let c = fixtures(LATEST);
    c.buildpack(
        &Bp::new("clear", "1", "0.10")
            .extra("clear-env = true\n")
            .detect("echo \"FOO=${FOO:-unset} USER_VAR=${USER_VAR:-unset}\"\n"),
    );
    order(&c, &[&[("clear", "1")]]);
    c.write("platform/env/USER_VAR", "from-user");
    c.write("cnb/build-config/env/FOO", "op");
    let bc = c.path("cnb/build-config").display().to_string();
    detect(&c, &["-build-config", &bc, "-log-level", "debug"])
        .expect_code(0)
        .expect_output("FOO=op USER_VAR=unset");
}

#[test]
fn target_env_only_for_api_0_10_and_later() {
    let b = fixtures(LATEST);
    b.buildpack(&Bp::new("old", "1", "0.9").detect("env | grep -c '^CNB_TARGET_' || true\n"));
    order(&b, &[&[("old", "1")]]);
    let r = detect(&b, &["-log-level", "debug"]);
    r.expect_code(0)
        .expect_output("======== Output: old@1 ========\n0\n");
}

#[test]
fn target_mismatch_fails_the_group_on_0_12_and_later() {
    let b = fixtures("0.12");
    b.buildpack(
        &Bp::new("armonly", "1", "0.10").extra("\n[[targets]]\nos = \"linux\"\narch = \"arm64\"\n"),
    );
    order(&b, &[&[("armonly", "1")]]);
    b.write(
        "layers/analyzed.toml",
        "[run-image]\n  reference = \"r\"\n  [run-image.target]\n    os = \"linux\"\n    arch = \"amd64\"\n    [run-image.target.distro]\n      name = \"ubuntu\"\n      version = \"22.04\"\n",
    );
    detect(&b, &[])
        .expect_code(21)
        .expect_output("unable to satisfy target os/arch constraints")
        .expect_output("\"arch\":\"arm64\"");

    // the same buildpack passes when the image matches, and sees the image's target
    b.write(
        "layers/analyzed.toml",
        "[run-image]\n  reference = \"r\"\n  [run-image.target]\n    os = \"linux\"\n    arch = \"arm64\"\n    arch-variant = \"v8\"\n    [run-image.target.distro]\n      name = \"ubuntu\"\n      version = \"22.04\"\n",
    );
    b.buildpack(
        &Bp::new("armonly", "1", "0.10")
            .extra("\n[[targets]]\nos = \"linux\"\narch = \"arm64\"\n")
            .detect("env | grep '^CNB_TARGET_' | sort\n"),
    );
    detect(&b, &["-log-level", "debug"])
        .expect_code(0)
        .expect_output("CNB_TARGET_ARCH=arm64\nCNB_TARGET_ARCH_VARIANT=v8\nCNB_TARGET_DISTRO_NAME=ubuntu\nCNB_TARGET_DISTRO_VERSION=22.04\nCNB_TARGET_OS=linux");
}

#[test]
fn exec_env_filters_buildpacks_on_0_15() {
    let b = fixtures("0.15");
    b.buildpack(
        &Bp::new("testonly", "1", "0.12")
            .extra("exec-env = [\"test\"]\n")
            .detect("echo \"exec-env: $CNB_EXEC_ENV\"\n"),
    );
    b.buildpack(&Bp::new("everywhere", "1", "0.12").detect("echo \"exec-env: $CNB_EXEC_ENV\"\n"));
    order(&b, &[&[("testonly", "1"), ("everywhere", "1")]]);
    detect(&b, &[]).expect_code(0);
    assert!(!b.read("layers/group.toml").contains("testonly"));

    let t = b.with_env("CNB_EXEC_ENV", "test");
    detect(&t, &["-log-level", "debug"])
        .expect_code(0)
        .expect_output("exec-env: test");
    assert!(t.read("layers/group.toml").contains("testonly"));
}

#[test]
fn optional_buildpacks_with_unused_provides_are_dropped() {
    let b = fixtures(LATEST);
    b.buildpack(
        &Bp::new("provider", "1", "0.10")
            .detect("printf '[[provides]]\\nname = \"unused\"\\n' > \"$CNB_BUILD_PLAN_PATH\"\n"),
    );
    b.order(
        "[[order]]\n[[order.group]]\nid = \"provider\"\nversion = \"1\"\noptional = true\n[[order.group]]\nid = \"simple_buildpack\"\nversion = \"simple_buildpack_version\"\n",
    );
    detect(&b, &[])
        .expect_code(0)
        .expect_output("1 of 2 buildpacks participating");
    assert!(!b.read("layers/group.toml").contains("provider"));
}

#[test]
fn garbage_inputs_are_clear_errors() {
    let b = fixtures(LATEST);
    b.order("[[order]\nthis is not toml");
    detect(&b, &[])
        .expect_code(1)
        .expect_output("ERROR: failed to initialize detector: reading order: failed to read order file: toml: line 1");

    order(&b, &[&[("simple_buildpack", "simple_buildpack_version")]]);
    b.write("layers/analyzed.toml", "[run-image\n");
    detect(&b, &[])
        .expect_code(1)
        .expect_output("failed to initialize detector: failed to read analyzed file: toml: line 1");

    std::fs::remove_file(b.path("layers/analyzed.toml")).unwrap();
    b.write(
        "cnb/buildpacks/simple_buildpack/simple_buildpack_version/buildpack.toml",
        "api = 0.9\n[buildpack\n",
    );
    let r = detect(&b, &[]);
    r.expect_code(1)
        .expect_output("failed to initialize detector:")
        .expect_output("simple_buildpack_version/buildpack.toml");
    assert!(!r.all().contains("panicked"));
}

#[test]
fn missing_module_in_a_composite_is_a_detect_error() {
    let b = fixtures(LATEST);
    b.buildpack(
        &Bp::new("O", "1", "0.10")
            .composite("[[order]]\n[[order.group]]\nid = \"ghost\"\nversion = \"1\"\n"),
    );
    order(&b, &[&[("O", "1")]]);
    detect(&b, &[])
        .expect_code(22)
        .expect_output("ERROR: failed to detect:")
        .expect_output("ghost/1/buildpack.toml");
}

#[test]
fn unwritable_group_path_fails_without_writing_a_plan() {
    let b = fixtures(LATEST);
    order(&b, &[&[("simple_buildpack", "simple_buildpack_version")]]);
    std::fs::create_dir_all(b.path("layers/group.toml")).unwrap();
    detect(&b, &[])
        .expect_code(1)
        .expect_output("ERROR: failed to write group file:");
    assert!(!b.path("layers/plan.toml").exists());
}

#[test]
fn exec_env_is_passed_but_not_filtered_below_0_15() {
    let b = fixtures("0.14");
    b.buildpack(
        &Bp::new("testonly", "1", "0.12")
            .extra("exec-env = [\"test\"]\n")
            .detect("echo \"exec-env: $CNB_EXEC_ENV\"\n"),
    );
    b.buildpack(&Bp::new("older", "1", "0.11").detect("echo \"older: ${CNB_EXEC_ENV:-unset}\"\n"));
    order(&b, &[&[("testonly", "1"), ("older", "1")]]);
    detect(&b, &["-log-level", "debug"])
        .expect_code(0)
        .expect_output("exec-env: production")
        .expect_output("older: unset");
    assert!(b.read("layers/group.toml").contains("testonly"));
}

#[test]
fn optional_buildpacks_with_mismatched_targets_still_run_detect() {
    let b = fixtures("0.12");
    let marker = b.path("ran");
    std::fs::create_dir_all(&marker).unwrap();
    b.buildpack(
        &Bp::new("armonly", "1", "0.10")
            .extra("\n[[targets]]\nos = \"linux\"\narch = \"arm64\"\n")
            .detect(&format!("touch {}/armonly\nexit 100\n", marker.display())),
    );
    b.order(
        "[[order]]\n[[order.group]]\nid = \"armonly\"\nversion = \"1\"\noptional = true\n[[order.group]]\nid = \"simple_buildpack\"\nversion = \"simple_buildpack_version\"\n",
    );
    b.write(
        "layers/analyzed.toml",
        "[run-image]\n  reference = \"r\"\n  [run-image.target]\n    os = \"linux\"\n    arch = \"amd64\"\n",
    );
    detect(&b, &[]).expect_code(0);
    assert!(
        marker.join("armonly").exists(),
        "detect ran for the optional element"
    );
    assert!(!b.read("layers/group.toml").contains("armonly"));
}

//! The detector with image extensions, driven as a platform drives it: the reference's
//! "order with extensions" acceptance scenario on Platform APIs 0.12, 0.13 and 0.15,
//! and the generate step's failures and pre-populated extensions (DET-60..65).

use spec_tests::{Bp, Build, Ran, run};

/// The run image the reference's fixture extension switches to.
const SWITCHED: &str = "some-run-image-from-extension";

/// The reference's fixtures for this scenario: `simple_extension` provides
/// `some_requirement` and switches the run image, `buildpack_for_ext` requires it and
/// prints its environment, and the operator sets `FOO` in `<build-config>/env`.
fn fixtures(api: &str) -> Build {
    let b = Build::new(api);
    b.extension(
        "simple_extension",
        "simple_extension_version",
        "0.9",
        Some(
            r#"cat >> "$2" <<EOL
[[provides]]
name = "some_requirement"
EOL
echo "simple_extension: output from /bin/detect"
"#,
        ),
        Some(
            r#"cat >> "${CNB_OUTPUT_DIR}/run.Dockerfile" <<EOL
FROM some-run-image-from-extension
EOL
echo "simple_extension: output from /bin/generate"
echo "simple_extension: stderr from /bin/generate" >&2
"#,
        ),
    );
    b.buildpack(
        &Bp::new("buildpack_for_ext", "buildpack_for_ext_version", "0.10").detect(
            r#"echo "ENV"
env
cat >> "$2" <<EOL
[[requires]]
name = "some_requirement"
[requires.metadata]
version = "some_version"
some_metadata_key = "some_metadata_val"
EOL
"#,
        ),
    );
    b.write("cnb/build-config/env/FOO", "val-from-build-config");
    order_with(&b, "simple_extension", "simple_extension_version");
    b
}

/// `order.toml`: `buildpack_for_ext` with one extension in `[[order-extensions]]`.
fn order_with(b: &Build, ext: &str, version: &str) {
    b.order(&format!(
        r#"[[order]]
  [[order.group]]
    id = "buildpack_for_ext"
    version = "buildpack_for_ext_version"

[[order-extensions]]
  [[order-extensions.group]]
    id = "{ext}"
    version = "{version}"
"#
    ));
}

/// Runs the detector with the flags the reference's acceptance test passes
/// (`-analyzed`, `-extensions`, `-generated`, `-log-level=debug`, `-run`).
fn detect(b: &Build, run_toml: &str) -> Ran {
    let mut args = b.dir_flags();
    for (flag, value) in [
        ("-order", b.path("cnb/order.toml")),
        ("-build-config", b.path("cnb/build-config")),
        ("-extensions", b.path("cnb/extensions")),
        ("-analyzed", b.path("layers/analyzed.toml")),
        ("-generated", b.path("layers/generated")),
        ("-run", b.path(run_toml)),
    ] {
        args.extend([flag.to_string(), value.display().to_string()]);
    }
    args.push("-log-level=debug".into());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run(&mut b.phase("detector", &args))
}

fn toml_file(b: &Build, rel: &str) -> toml::Table {
    b.read(rel)
        .parse()
        .unwrap_or_else(|e| panic!("{rel} is not TOML: {e}"))
}

/// `[[name]]` entries' `key` values.
fn values(table: &toml::Table, name: &str, key: &str) -> Vec<String> {
    table
        .get(name)
        .and_then(toml::Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|e| e.get(key).and_then(toml::Value::as_str))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn run_image(b: &Build) -> toml::Table {
    toml_file(b, "layers/analyzed.toml")
        .get("run-image")
        .and_then(toml::Value::as_table)
        .cloned()
        .expect("analyzed.toml has [run-image]")
}

/// The reference's scenario, with its quirk that `-run` points at a missing file.
fn order_with_extensions(api: &str, legacy_layout: bool) {
    let experimental = if legacy_layout { "warn" } else { "error" };
    let b = fixtures(api).with_env("CNB_EXPERIMENTAL_MODE", experimental);
    let r = detect(&b, "layers/run.toml");
    r.expect_code(0)
        .expect_output("FOO=val-from-build-config")
        .expect_output("simple_extension: output from /bin/detect")
        .expect_output("simple_extension: output from /bin/generate")
        .expect_output("simple_extension: stderr from /bin/generate")
        .expect_output(&format!(
            "Warning: new runtime base image '{SWITCHED}' not found in run metadata"
        ));
    if legacy_layout {
        r.expect_output("Platform requested experimental feature 'Dockerfiles'");
    } else {
        r.expect_no_output("experimental feature");
    }

    let group = toml_file(&b, "layers/group.toml");
    assert_eq!(
        values(&group, "group-extensions", "id"),
        ["simple_extension"]
    );
    assert_eq!(
        values(&group, "group-extensions", "version"),
        ["simple_extension_version"]
    );
    assert_eq!(values(&group, "group", "id"), ["buildpack_for_ext"]);
    assert!(!b.read("layers/group.toml").contains("extension = true"));

    // The only entry was provided by the extension, so the plan is left empty.
    let plan = toml_file(&b, "layers/plan.toml");
    assert!(values(&plan, "entries", "requires").is_empty(), "{plan}");
    assert!(!plan.contains_key("entries"), "{plan}");

    let dockerfile = if legacy_layout {
        "layers/generated/run/simple_extension/Dockerfile"
    } else {
        "layers/generated/simple_extension/run.Dockerfile"
    };
    assert_eq!(b.read(dockerfile), format!("FROM {SWITCHED}\n"));

    let ri = run_image(&b);
    assert_eq!(
        ri.get("image").and_then(toml::Value::as_str),
        Some(SWITCHED)
    );
    assert_eq!(
        ri.get("reference").and_then(toml::Value::as_str),
        Some(SWITCHED)
    );
    assert!(!ri.contains_key("target"));
    assert!(
        !ri.contains_key("extend"),
        "switching only: nothing to extend"
    );
}

#[test]
fn order_with_extensions_platform_0_12() {
    order_with_extensions("0.12", true);
}

#[test]
fn order_with_extensions_platform_0_13() {
    order_with_extensions("0.13", false);
}

#[test]
fn order_with_extensions_platform_0_15() {
    order_with_extensions("0.15", false);
}

#[test]
fn extensions_need_experimental_mode_below_0_13() {
    let b = fixtures("0.12").with_env("CNB_EXPERIMENTAL_MODE", "error");
    detect(&b, "cnb/run.toml")
        .expect_code(1)
        .expect_no_output("output from /bin/generate");
}

#[test]
fn a_listed_run_image_keeps_analyzed_data_and_is_not_warned_about() {
    let b = fixtures("0.15");
    b.write(
        "cnb/run.toml",
        &format!(
            "[[images]]\n image = \"{SWITCHED}\"\n\n[[images]]\n image = \"some-other-run-image\"\n"
        ),
    );
    b.write(
        "layers/analyzed.toml",
        "[image]\n  reference = \"\"\n\n[run-image]\n  reference = \"some-other-run-image@sha256:1\"\n  image = \"some-other-run-image\"\n  [run-image.target]\n    os = \"linux\"\n    arch = \"amd64\"\n",
    );
    let r = detect(&b, "cnb/run.toml");
    r.expect_code(0)
        .expect_no_output("not found in run metadata");
    let analyzed = toml_file(&b, "layers/analyzed.toml");
    assert!(
        analyzed.contains_key("image"),
        "previous image kept: {analyzed}"
    );
    let ri = run_image(&b);
    assert_eq!(
        ri.get("image").and_then(toml::Value::as_str),
        Some(SWITCHED)
    );
    assert!(!ri.contains_key("target"), "target cleared on switch: {ri}");
}

#[test]
fn extending_the_run_image_keeps_it_and_sets_extend() {
    let b = fixtures("0.13");
    b.extension(
        "simple_extension",
        "simple_extension_version",
        "0.9",
        Some("printf '[[provides]]\\nname = \"some_requirement\"\\n' >> \"$2\"\n"),
        Some(
            "printf 'FROM ${base_image}\\nRUN echo hi\\n' > \"$1/run.Dockerfile\"\n\
             printf 'ARG base_image\\nFROM ${base_image}\\nCMD [\"x\"]\\n' > \"$1/build.Dockerfile\"\n",
        ),
    );
    b.write(
        "layers/analyzed.toml",
        "[run-image]\n  reference = \"orig@sha256:1\"\n  image = \"orig\"\n",
    );
    let r = detect(&b, "cnb/run.toml");
    r.expect_code(0)
        .expect_output("Warning: build.Dockerfile command CMD on line 3 is not recommended");
    let ri = run_image(&b);
    assert_eq!(ri.get("image").and_then(toml::Value::as_str), Some("orig"));
    assert_eq!(ri.get("extend").and_then(toml::Value::as_bool), Some(true));
    assert!(
        b.path("layers/generated/simple_extension/build.Dockerfile")
            .exists()
    );
}

#[test]
fn a_failing_generate_exits_91() {
    let b = fixtures("0.13");
    b.write_script(
        "cnb/extensions/simple_extension/simple_extension_version/bin/generate",
        "echo 'about to fail'\nexit 1\n",
    );
    let r = detect(&b, "cnb/run.toml");
    r.expect_code(91)
        .expect_output("about to fail")
        .expect_output("ERROR: failed to build: exit status 1");
    // group.toml and plan.toml were written before the generate step; the plan still
    // lists the extension's entry.
    assert!(b.read("layers/plan.toml").contains("some_requirement"));
    assert!(!b.path("layers/analyzed.toml").exists());
}

#[test]
fn an_invalid_dockerfile_exits_92() {
    let b = fixtures("0.13");
    b.write_script(
        "cnb/extensions/simple_extension/simple_extension_version/bin/generate",
        "printf 'FROM a\\nFROM b\\n' > \"$CNB_OUTPUT_DIR/run.Dockerfile\"\n",
    );
    detect(&b, "cnb/run.toml").expect_code(92).expect_output(
        "ERROR: failed to build: failed to parse run.Dockerfile for extension simple_extension: run.Dockerfile is not permitted to use multistage build",
    );

    let b = fixtures("0.13");
    b.write_script(
        "cnb/extensions/simple_extension/simple_extension_version/bin/generate",
        "printf 'FROM ${base_image}\\nRUN x\\n' > \"$CNB_OUTPUT_DIR/build.Dockerfile\"\n",
    );
    detect(&b, "cnb/run.toml").expect_code(92).expect_output(
        "ERROR: failed to build: failed to parse build.Dockerfile for extension simple_extension: build.Dockerfile did not start with required ARG command",
    );
}

/// An extension without `bin/detect` and `bin/generate`: `detect/plan.toml` is its plan
/// and `generate/` its output.
fn prepopulated(api: &str) -> Build {
    let b = fixtures(api).with_env("CNB_EXPERIMENTAL_MODE", "warn");
    let dir = "cnb/extensions/static_extension/static_extension_version";
    b.extension(
        "static_extension",
        "static_extension_version",
        "0.9",
        None,
        None,
    );
    b.write(
        &format!("{dir}/detect/plan.toml"),
        "[[provides]]\nname = \"some_requirement\"\n",
    );
    b.write(
        &format!("{dir}/generate/run.Dockerfile"),
        "FROM some-static-run-image\n",
    );
    b.write(
        &format!("{dir}/generate/build.Dockerfile"),
        "ARG base_image\nFROM ${base_image}\nRUN echo static\n",
    );
    b.write(
        &format!("{dir}/generate/extend-config.toml"),
        "[[build.args]]\nname = \"some_arg\"\nvalue = \"some_value\"\n",
    );
    order_with(&b, "static_extension", "static_extension_version");
    b
}

#[test]
fn prepopulated_extension_platform_0_12() {
    let b = prepopulated("0.12");
    detect(&b, "cnb/run.toml").expect_code(0);
    let group = toml_file(&b, "layers/group.toml");
    assert_eq!(
        values(&group, "group-extensions", "id"),
        ["static_extension"]
    );
    assert!(!toml_file(&b, "layers/plan.toml").contains_key("entries"));
    assert_eq!(
        b.read("layers/generated/run/static_extension/Dockerfile"),
        "FROM some-static-run-image\n"
    );
    assert!(
        b.read("layers/generated/build/static_extension/Dockerfile")
            .contains("RUN echo static")
    );
    assert!(
        b.read("layers/generated/build/static_extension/extend-config.toml")
            .contains("some_arg")
    );
    let ri = run_image(&b);
    assert_eq!(
        ri.get("image").and_then(toml::Value::as_str),
        Some("some-static-run-image")
    );
}

#[test]
fn prepopulated_extension_platform_0_13() {
    let b = prepopulated("0.13");
    detect(&b, "cnb/run.toml").expect_code(0);
    assert!(!toml_file(&b, "layers/plan.toml").contains_key("entries"));
    let out = "layers/generated/static_extension";
    assert_eq!(
        b.read(&format!("{out}/run.Dockerfile")),
        "FROM some-static-run-image\n"
    );
    assert!(
        b.read(&format!("{out}/build.Dockerfile"))
            .contains("RUN echo static")
    );
    assert!(
        b.read(&format!("{out}/extend-config.toml"))
            .contains("some_arg")
    );
    let ri = run_image(&b);
    assert_eq!(
        ri.get("image").and_then(toml::Value::as_str),
        Some("some-static-run-image")
    );
}

#[test]
fn no_extensions_in_the_group_means_no_generate_step() {
    let b = fixtures("0.15");
    // The extension passes detection, but nothing requires what it provides, so it is
    // dropped from the group and generate never runs.
    b.order(
        "[[order-extensions]]\n  [[order-extensions.group]]\n    id = \"simple_extension\"\n    version = \"simple_extension_version\"\n\n[[order]]\n  [[order.group]]\n    id = \"other\"\n    version = \"1\"\n",
    );
    b.buildpack(&Bp::new("other", "1", "0.10"));
    detect(&b, "cnb/run.toml")
        .expect_code(0)
        .expect_no_output("output from /bin/generate");
    assert!(!b.read("layers/group.toml").contains("simple_extension"));
    assert!(!b.path("layers/analyzed.toml").exists());
    assert!(!b.path("layers/generated").exists());
}

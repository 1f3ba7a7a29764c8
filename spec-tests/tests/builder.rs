//! The builder driven as a platform drives it: the reference's acceptance scenarios
//! and the BLD-* / ENV-* checklist items, against the built binary, run as a build user.

use spec_tests::{Bp, Build, Ran, run};

const LATEST: &str = "0.15";

/// The reference's `hello_world` fixture, in this harness's words: prints where it
/// runs and what it got, then declares a `hello` process.
const HELLO_WORLD: &str = r#"set -eo pipefail
echo "---> Hello World buildpack"
echo "CNB_APP_DIR: ${PWD}"
echo "CNB_BUILDPACK_DIR: ${CNB_BUILDPACK_DIR}"
echo "PLATFORM_DIR: $2"
echo "LAYERS_DIR: $1"
echo "PLAN_PATH: $3"
echo "plan contents:"
cat "$3"
echo
cat > "$1/launch.toml" <<'EOF'
[[processes]]
type = "hello"
command = ["echo world"]
args = ["arg1"]
EOF
echo "---> Done"
"#;

/// Like [`HELLO_WORLD`], also printing the target variables (the reference's
/// `hello_world_3`).
const HELLO_TARGETS: &str = r#"set -eo pipefail
echo "LAYERS_DIR: $1"
for v in CNB_TARGET_ARCH CNB_TARGET_ARCH_VARIANT CNB_TARGET_OS CNB_TARGET_DISTRO_NAME CNB_TARGET_DISTRO_VERSION; do
  echo "$v: $(printenv $v)"
done
"#;

const HELLO_GROUP: &str =
    "[[group]]\n  api = \"0.10\"\n  id = \"hello_world\"\n  version = \"0.0.1\"\n";

const HELLO_PLAN: &str = r#"[[entries]]

  [[entries.providers]]
    id = "hello_world"
    version = "0.0.1"

  [[entries.requires]]
      name = "different_plan_from_env.toml_reqires_subset_content"
      [entries.requires.metadata]
"#;

/// A build tree whose directories are given to the phase through the environment,
/// with the reference's `hello_world*` buildpacks installed.
fn fixtures(platform_api: &str) -> Build {
    let b = Build::new(platform_api);
    let b = with_dirs(b);
    b.buildpack(&Bp::new("hello_world", "0.0.1", "0.10").build(HELLO_WORLD));
    b.buildpack(&Bp::new("hello_world_2", "0.0.2", "0.10").build(HELLO_WORLD));
    b.buildpack(&Bp::new("hello_world_3", "0.0.3", "0.10").build(HELLO_TARGETS));
    b
}

fn with_dirs(b: Build) -> Build {
    let dirs = [
        ("CNB_LAYERS_DIR", "layers"),
        ("CNB_APP_DIR", "workspace"),
        ("CNB_PLATFORM_DIR", "platform"),
        ("CNB_BUILDPACKS_DIR", "cnb/buildpacks"),
        ("CNB_BUILD_CONFIG_DIR", "cnb/build-config"),
    ];
    let paths: Vec<(String, String)> = dirs
        .iter()
        .map(|(k, rel)| (k.to_string(), b.path(rel).display().to_string()))
        .collect();
    paths.iter().fold(b, |b, (k, v)| b.with_env(k, v))
}

/// Writes group.toml and plan.toml at their default places.
fn group_and_plan(b: &Build, group: &str, plan: &str) {
    b.write("layers/group.toml", group);
    b.write("layers/plan.toml", plan);
}

fn builder(b: &Build, args: &[&str]) -> Ran {
    run(&mut b.phase("builder", args))
}

/// `[[group]]` TOML for buildpacks `(id, version, api)`.
fn group_of(bps: &[(&str, &str, &str)]) -> String {
    bps.iter()
        .map(|(id, version, api)| {
            format!("[[group]]\n  id = \"{id}\"\n  version = \"{version}\"\n  api = \"{api}\"\n")
        })
        .collect()
}

/// Installs buildpacks with the given build scripts (all version "1") and writes a
/// group of them and an empty plan.
fn group_of_scripts(b: &Build, bps: &[(&str, &str, &str)]) {
    for (id, api, script) in bps {
        b.buildpack(&Bp::new(id, "1", api).build(script));
    }
    let group: Vec<(&str, &str, &str)> = bps.iter().map(|(id, api, _)| (*id, "1", *api)).collect();
    group_and_plan(b, &group_of(&group), "");
}

fn metadata(b: &Build) -> String {
    b.read("layers/config/metadata.toml")
}

fn no_metadata(b: &Build) {
    assert!(
        !b.path("layers/config/metadata.toml").exists(),
        "metadata.toml was written"
    );
}

// --- the reference's acceptance scenarios --------------------------------------------

#[test]
fn refuses_positional_arguments() {
    let b = fixtures(LATEST);
    builder(&b, &["some-arg"])
        .expect_code(3)
        .expect_output("failed to parse arguments: received unexpected arguments");
}

#[test]
fn refuses_to_run_as_root() {
    let b = fixtures(LATEST);
    run(&mut b.phase_as_root("builder", &[]))
        .expect_code(1)
        .expect_output("ERROR: failed to build: refusing to run as root");
}

#[test]
fn full_group_and_plan() {
    let b = fixtures(LATEST);
    group_and_plan(&b, HELLO_GROUP, HELLO_PLAN);
    let ran = builder(&b, &[]);
    ran.expect_code(0)
        .expect_output("---> Hello World buildpack")
        .expect_output(&format!("CNB_APP_DIR: {}", b.path("workspace").display()))
        .expect_output(&format!("PLATFORM_DIR: {}", b.path("platform").display()))
        .expect_output(&format!(
            "LAYERS_DIR: {}",
            b.path("layers/hello_world").display()
        ))
        .expect_output("name = \"different_plan_from_env.toml_reqires_subset_content\"");
    let md = metadata(&b);
    assert!(md.contains("id = \"hello_world\""), "{md}");
    assert!(md.contains("version = \"0.0.1\""), "{md}");
    assert!(md.contains("api = \"0.10\""), "{md}");
    assert!(b.path("layers/hello_world").is_dir());
}

#[test]
fn metadata_toml_as_the_reference_writes_it() {
    let b = fixtures(LATEST);
    group_and_plan(&b, HELLO_GROUP, HELLO_PLAN);
    builder(&b, &[]).expect_code(0);
    assert_eq!(
        metadata(&b),
        r#"[[buildpacks]]
  id = "hello_world"
  version = "0.0.1"
  api = "0.10"

[[processes]]
  type = "hello"
  command = ["echo world"]
  args = ["arg1"]
  direct = true
  buildpack-id = "hello_world"
"#
    );
}

#[test]
fn metadata_toml_for_platform_0_9_has_string_commands() {
    let b = fixtures("0.9");
    group_and_plan(&b, HELLO_GROUP, HELLO_PLAN);
    builder(&b, &[]).expect_code(0);
    assert_eq!(
        metadata(&b),
        r#"[[buildpacks]]
  id = "hello_world"
  version = "0.0.1"
  api = "0.10"

[[processes]]
  type = "hello"
  command = "echo world"
  args = ["arg1"]
  direct = true
  buildpack-id = "hello_world"
"#
    );
}

#[test]
fn group_with_extensions_lists_them() {
    let b = fixtures(LATEST);
    group_and_plan(
        &b,
        &format!(
            "{HELLO_GROUP}\n[[group-extensions]]\n  api = \"0.10\"\n  id = \"hello_world\"\n  version = \"0.0.1\"\n"
        ),
        HELLO_PLAN,
    );
    builder(&b, &[]).expect_code(0);
    let md = metadata(&b);
    assert!(
        md.contains(
            "[[extensions]]\n  id = \"hello_world\"\n  version = \"0.0.1\"\n  api = \"0.10\"\n"
        ),
        "{md}"
    );
    assert!(!md.contains("extension ="), "{md}");
    assert!(!md.contains("optional"), "{md}");
}

#[test]
fn group_toml_problems() {
    let b = fixtures(LATEST);
    b.write("layers/plan.toml", HELLO_PLAN);
    builder(&b, &[]).expect_code(1).expect_output(&format!(
        "ERROR: failed to read group file: open {}: no such file or directory",
        b.path("layers/group.toml").display()
    ));

    b.write(
        "layers/group.toml",
        "I am a group.toml file which not correct as context and syntax.\n",
    );
    builder(&b, &[])
        .expect_code(1)
        .expect_output("ERROR: failed to read group file: toml: line 1");

    b.write(
        "layers/group.toml",
        "[[group]]\n  api = \"0.2wrongapiblabla\"\n  id = \"hello_world\"\n  version = \"0.0.1\"\n  ",
    );
    builder(&b, &[])
        .expect_code(12)
        .expect_output("parse buildpack API '<nil>' for buildpack 'hello_world@0.0.1'");

    b.write(
        "layers/group.toml",
        "[[group]]\n  api = \"0.1\"\n  id = \"hello_world\"\n  version = \"0.0.1\"\n",
    );
    builder(&b, &[]).expect_code(12).expect_output(
        "ERROR: failed to set API for Buildpack 'hello_world@0.0.1': buildpack API version '0.1' is incompatible with the lifecycle",
    );
    no_metadata(&b);

    b.write("layers/group.toml", "");
    builder(&b, &[]).expect_code(0);
    assert_eq!(metadata(&b), "buildpacks = []\nprocesses = []\n");
}

#[test]
fn plan_toml_problems() {
    let b = fixtures(LATEST);
    b.write("layers/group.toml", HELLO_GROUP);
    builder(&b, &[]).expect_code(1).expect_output(&format!(
        "ERROR: failed to read plan file: open {}: no such file or directory",
        b.path("layers/plan.toml").display()
    ));
    b.write("layers/plan.toml", "I am a plan.toml file\n");
    builder(&b, &[])
        .expect_code(1)
        .expect_output("ERROR: failed to read plan file: toml: line 1");
    no_metadata(&b);
    b.write("layers/plan.toml", "");
    builder(&b, &[]).expect_code(0);
    assert!(metadata(&b).contains("id = \"hello_world\""));
}

#[test]
fn group_and_plan_are_found_in_the_layers_dir_from_env() {
    let b = fixtures(LATEST);
    let other = b.path("layers/different_layer_dir_from_env");
    let b = b.with_env("CNB_LAYERS_DIR", &other.display().to_string());
    b.write(
        "layers/different_layer_dir_from_env/group.toml",
        "[[group]]\n  api = \"0.10\"\n  id = \"hello_world_2\"\n  version = \"0.0.2\"\n",
    );
    b.write(
        "layers/different_layer_dir_from_env/plan.toml",
        "[[entries]]\n[[entries.providers]]\nid = \"hello_world_2\"\nversion = \"0.0.2\"\n[[entries.requires]]\nname = \"x\"\n",
    );
    builder(&b, &[])
        .expect_code(0)
        .expect_output(&format!("LAYERS_DIR: {}/hello_world_2", other.display()));
    let md = b.read("layers/different_layer_dir_from_env/config/metadata.toml");
    assert!(md.contains("id = \"hello_world_2\""), "{md}");
    assert!(md.contains("version = \"0.0.2\""), "{md}");
}

#[test]
fn directories_and_paths_from_env() {
    let b = fixtures(LATEST);
    let app = b.path("env_folders/different_cnb_app_dir_from_env");
    let platform = b.path("env_folders/different_platform_dir_from_env");
    let store = b.path("env_folders/different_buildpack_dir_from_env");
    std::fs::create_dir_all(&app).unwrap();
    std::fs::create_dir_all(&platform).unwrap();
    b.write(
        "env_folders/different_buildpack_dir_from_env/hello_world/0.0.1/buildpack.toml",
        "api = \"0.10\"\n[buildpack]\nid = \"hello_world\"\nversion = \"0.0.1\"\n",
    );
    b.write_script(
        "env_folders/different_buildpack_dir_from_env/hello_world/0.0.1/bin/build",
        HELLO_WORLD,
    );
    b.write("layers/group.toml", HELLO_GROUP);
    let plan = b.write("custom/plan.toml", HELLO_PLAN);
    let b = b
        .with_env("CNB_APP_DIR", &app.display().to_string())
        .with_env("CNB_PLATFORM_DIR", &platform.display().to_string())
        .with_env("CNB_BUILDPACKS_DIR", &store.display().to_string())
        .with_env("CNB_PLAN_PATH", &plan.display().to_string());
    builder(&b, &[])
        .expect_code(0)
        .expect_output(&format!("CNB_APP_DIR: {}", app.display()))
        .expect_output(&format!("PLATFORM_DIR: {}", platform.display()))
        .expect_output(&format!(
            "CNB_BUILDPACK_DIR: {}/hello_world/0.0.1",
            store.display()
        ))
        .expect_output("name = \"different_plan_from_env.toml_reqires_subset_content\"");
}

#[test]
fn target_variables_come_from_analyzed_toml() {
    let b = fixtures(LATEST);
    group_and_plan(
        &b,
        "[[group]]\n  api = \"0.10\"\n  id = \"hello_world_3\"\n  version = \"0.0.3\"\n",
        "",
    );
    b.write(
        "layers/analyzed.toml",
        r#"[run-image.target]
  id = "my id"
  os = "linux"
  arch = "amd64"
  arch-variant = "some-variant"
  [run-image.target.distro]
    name = "ubuntu"
    version = "some-cute-version"
"#,
    );
    builder(&b, &[])
        .expect_code(0)
        .expect_output("CNB_TARGET_ARCH: amd64")
        .expect_output("CNB_TARGET_ARCH_VARIANT: some-variant")
        .expect_output("CNB_TARGET_OS: linux")
        .expect_output("CNB_TARGET_DISTRO_NAME: ubuntu")
        .expect_output("CNB_TARGET_DISTRO_VERSION: some-cute-version")
        .expect_no_output("No analyzed metadata found");
}

#[test]
fn missing_analyzed_toml_is_a_warning() {
    let b = fixtures(LATEST);
    group_and_plan(&b, HELLO_GROUP, "");
    builder(&b, &[]).expect_code(0).expect_output(&format!(
        "Warning: No analyzed metadata found at path \"{}\"",
        b.path("layers/analyzed.toml").display()
    ));
    b.write("layers/analyzed.toml", "[run-image\n");
    builder(&b, &[]).expect_code(1).expect_output(
        "ERROR: failed to reading analyzed.toml: failed to read analyzed file: toml:",
    );
}

// --- environment (ENV-*, BLD-04) ------------------------------------------------------

#[test]
fn build_layers_feed_later_buildpacks_only() {
    let b = with_dirs(Build::new(LATEST)).with_env("HOSTNAME", "builder-host");
    let b = b.with_env("SECRET_FROM_PLATFORM", "leak");
    group_of_scripts(
        &b,
        &[
            (
                "first",
                "0.10",
                r#"set -e
echo "first sees PATH=$PATH"
for l in aa zz; do
  mkdir -p "$1/$l/bin" "$1/$l/lib" "$1/$l/include" "$1/$l/pkgconfig" "$1/$l/env" "$1/$l/env.build" "$1/$l/env.launch"
  printf '[types]\nbuild = true\n' > "$1/$l.toml"
done
mkdir -p "$1/runtime/bin"
printf '[types]\nlaunch = true\n' > "$1/runtime.toml"
printf 'aa' > "$1/aa/env/OVERRIDDEN"
printf 'zz' > "$1/zz/env/OVERRIDDEN.override"
printf 'first-default' > "$1/aa/env/DEFAULTED.default"
printf 'second-default' > "$1/zz/env/DEFAULTED.default"
printf 'a1' > "$1/aa/env/APPENDED.append"
printf 'a2' > "$1/zz/env/APPENDED.append"
printf ',' > "$1/zz/env/APPENDED.delim"
printf 'p1' > "$1/aa/env/PREPENDED.prepend"
printf 'p2' > "$1/zz/env/PREPENDED.prepend"
printf 'build-only' > "$1/aa/env.build/BUILD_ONLY"
printf 'launch-only' > "$1/aa/env.launch/LAUNCH_ONLY"
echo "first done"
"#,
            ),
            (
                "second",
                "0.10",
                r#"set -e
echo "PATH=$PATH"
echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
echo "LIBRARY_PATH=$LIBRARY_PATH"
echo "CPATH=$CPATH"
echo "PKG_CONFIG_PATH=$PKG_CONFIG_PATH"
echo "OVERRIDDEN=$OVERRIDDEN DEFAULTED=$DEFAULTED APPENDED=$APPENDED PREPENDED=$PREPENDED"
echo "BUILD_ONLY=${BUILD_ONLY:-unset} LAUNCH_ONLY=${LAUNCH_ONLY:-unset}"
echo "HOSTNAME=${HOSTNAME:-unset} SECRET=${SECRET_FROM_PLATFORM:-unset} API=${CNB_PLATFORM_API:-unset}"
"#,
            ),
        ],
    );
    let ran = builder(&b, &[]);
    ran.expect_code(0);
    let l = |rel: &str| b.path("layers/first").join(rel).display().to_string();
    ran.expect_output("first sees PATH=/usr/local/bin:/usr/bin:/bin\n")
        // Layers are applied in ascending order, each prepended.
        .expect_output(&format!(
            "PATH={}:{}:/usr/local/bin:/usr/bin:/bin\n",
            l("zz/bin"),
            l("aa/bin")
        ))
        .expect_output(&format!(
            "LD_LIBRARY_PATH={}:{}\n",
            l("zz/lib"),
            l("aa/lib")
        ))
        .expect_output(&format!("LIBRARY_PATH={}:{}\n", l("zz/lib"), l("aa/lib")))
        .expect_output(&format!("CPATH={}:{}\n", l("zz/include"), l("aa/include")))
        .expect_output(&format!(
            "PKG_CONFIG_PATH={}:{}\n",
            l("zz/pkgconfig"),
            l("aa/pkgconfig")
        ))
        .expect_no_output("runtime/bin")
        // No delimiter unless a .delim file exists in that directory.
        .expect_output("OVERRIDDEN=zz DEFAULTED=first-default APPENDED=a1,a2 PREPENDED=p2p1\n")
        .expect_output("BUILD_ONLY=build-only LAUNCH_ONLY=unset\n")
        .expect_output("HOSTNAME=builder-host SECRET=unset API=unset\n");
}

#[test]
fn user_and_operator_env() {
    let b = with_dirs(Build::new(LATEST));
    b.write("platform/env/USER_VAR", "user-value");
    b.write("platform/env/PATH", "/user/bin");
    b.write("platform/env/SHARED", "from-user");
    b.write("cnb/build-config/env/OP_DEFAULT", "op-default");
    b.write("cnb/build-config/env/SHARED", "from-operator-default");
    b.write("cnb/build-config/env/FORCED.override", "op-forced");
    let show = r#"echo "$CNB_BUILDPACK_DIR: USER_VAR=${USER_VAR:-unset} PATH=$PATH SHARED=$SHARED OP_DEFAULT=$OP_DEFAULT FORCED=$FORCED""#;
    b.buildpack(
        &Bp::new("clear", "1", "0.10")
            .extra("clear-env = true\n")
            .build(show),
    );
    b.buildpack(&Bp::new("full", "1", "0.10").build(show));
    group_and_plan(
        &b,
        &group_of(&[("clear", "1", "0.10"), ("full", "1", "0.10")]),
        "",
    );
    builder(&b, &[])
        .expect_code(0)
        .expect_output("clear/1: USER_VAR=unset PATH=/usr/local/bin:/usr/bin:/bin SHARED=from-operator-default OP_DEFAULT=op-default FORCED=op-forced\n")
        .expect_output("full/1: USER_VAR=user-value PATH=/user/bin:/usr/local/bin:/usr/bin:/bin SHARED=from-user OP_DEFAULT=op-default FORCED=op-forced\n");
}

// --- plans (BLD-01, BLD-05, BLD-06) ---------------------------------------------------

#[test]
fn unmet_entries_go_to_the_next_provider() {
    let b = with_dirs(Build::new(LATEST));
    let show_plan =
        r#"echo "== plan of $CNB_BUILDPACK_DIR"; cat "$CNB_BP_PLAN_PATH"; echo "== end""#;
    b.buildpack(&Bp::new("a", "1", "0.10").build(&format!(
        "{show_plan}\nprintf '[[unmet]]\\nname = \"yarn\"\\n' > \"$1/build.toml\"\n"
    )));
    b.buildpack(&Bp::new("b", "1", "0.10").build(show_plan));
    let plan = r#"
[[entries]]
  [[entries.providers]]
    id = "a"
    version = "1"
  [[entries.providers]]
    id = "b"
    version = "1"
  [[entries.requires]]
    name = "node"
    [entries.requires.metadata]
      version = "20"
[[entries]]
  [[entries.providers]]
    id = "a"
    version = "1"
  [[entries.providers]]
    id = "b"
    version = "1"
  [[entries.requires]]
    name = "yarn"
"#;
    group_and_plan(
        &b,
        &group_of(&[("a", "1", "0.10"), ("b", "1", "0.10")]),
        plan,
    );
    let ran = builder(&b, &[]);
    ran.expect_code(0);
    let out = ran.stdout.clone();
    let a_plan = section(&out, "a/1");
    let b_plan = section(&out, "b/1");
    assert!(
        a_plan.contains("name = \"node\"") && a_plan.contains("name = \"yarn\""),
        "{out}"
    );
    assert!(a_plan.contains("version = \"20\""), "{out}");
    assert!(
        !b_plan.contains("node") && b_plan.contains("name = \"yarn\""),
        "{out}"
    );
}

/// The text printed between `== plan of …<bp>` and `== end`.
fn section<'a>(out: &'a str, bp: &str) -> &'a str {
    let start = out
        .find(&format!("{bp}\n"))
        .unwrap_or_else(|| panic!("no plan for {bp} in {out}"));
    let rest = &out[start..];
    &rest[..rest.find("== end").unwrap_or(rest.len())]
}

#[test]
fn unmet_names_must_be_in_the_plan() {
    let b = with_dirs(Build::new(LATEST));
    group_of_scripts(
        &b,
        &[(
            "a",
            "0.10",
            r#"printf '[[unmet]]\nname = "nope"\n' > "$1/build.toml""#,
        )],
    );
    builder(&b, &[]).expect_code(52).expect_output(
        "ERROR: failed to build: unmet.name 'nope' must match a requested dependency",
    );
    no_metadata(&b);
}

// --- layers (BLD-03, LT-04) -----------------------------------------------------------

#[test]
fn layers_without_types_are_ignored() {
    let b = with_dirs(Build::new(LATEST));
    group_of_scripts(
        &b,
        &[(
            "a",
            "0.10",
            r#"set -e
mkdir -p "$1/scratch" "$1/kept" "$1/notypes"
touch "$1/scratch/file"
printf '[types]\nlaunch = false\nbuild = false\ncache = false\n' > "$1/scratch.toml"
printf '[metadata]\nversion = "1"\n' > "$1/notypes.toml"
printf '[types]\ncache = true\n' > "$1/kept.toml"
mkdir -p "$1/untracked"
"#,
        )],
    );
    builder(&b, &[]).expect_code(0);
    assert!(b.path("layers/a/scratch.ignore/file").exists());
    assert!(!b.path("layers/a/scratch").exists());
    assert!(b.path("layers/a/notypes.ignore").is_dir());
    assert!(b.path("layers/a/kept").is_dir());
    assert!(b.path("layers/a/untracked").is_dir());
    assert!(b.path("layers/a/scratch.toml").exists());
}

// --- SBOMs (BLD-07, BLD-22, BLD-23) ---------------------------------------------------

const WRITE_SBOMS: &str = r#"set -e
for l in run tools both; do mkdir -p "$1/$l"; done
printf '[types]\nlaunch = true\n' > "$1/run.toml"
printf '[types]\nbuild = true\n' > "$1/tools.toml"
printf '[types]\nlaunch = true\ncache = true\n' > "$1/both.toml"
echo '{"launch":1}' > "$1/launch.sbom.cdx.json"
echo '{"build":1}' > "$1/build.sbom.spdx.json"
echo '{"run":1}' > "$1/run.sbom.syft.json"
echo '{"tools":1}' > "$1/tools.sbom.cdx.json"
echo '{"both":1}' > "$1/both.sbom.cdx.json"
echo '{"orphan":1}' > "$1/orphan.sbom.cdx.json"
"#;

const ALL_FORMATS: &str = "sbom-formats = [\"application/vnd.cyclonedx+json\", \"application/spdx+json\", \"application/vnd.syft+json\"]\n";

#[test]
fn sbom_files_are_copied_by_scope() {
    let b = with_dirs(Build::new(LATEST));
    b.buildpack(
        &Bp::new("my/bp", "1", "0.10")
            .extra(ALL_FORMATS)
            .build(WRITE_SBOMS),
    );
    group_and_plan(&b, &group_of(&[("my/bp", "1", "0.10")]), "");
    // Left over from an earlier build: removed.
    b.write("layers/sbom/launch/stale/sbom.cdx.json", "{}");
    builder(&b, &[]).expect_code(0);
    let sbom = |rel: &str| b.read(&format!("layers/sbom/{rel}"));
    assert_eq!(sbom("launch/my_bp/sbom.cdx.json"), "{\"launch\":1}\n");
    assert_eq!(sbom("build/my_bp/sbom.spdx.json"), "{\"build\":1}\n");
    assert_eq!(sbom("launch/my_bp/run/sbom.syft.json"), "{\"run\":1}\n");
    assert_eq!(sbom("build/my_bp/tools/sbom.cdx.json"), "{\"tools\":1}\n");
    assert_eq!(sbom("launch/my_bp/both/sbom.cdx.json"), "{\"both\":1}\n");
    assert_eq!(sbom("cache/my_bp/both/sbom.cdx.json"), "{\"both\":1}\n");
    assert_eq!(sbom("launch/sbom.legacy.json"), "null\n");
    assert_eq!(sbom("build/sbom.legacy.json"), "null\n");
    assert!(!b.path("layers/sbom/launch/stale").exists());
    assert!(!b.path("layers/sbom/launch/my_bp/orphan").exists());
    assert!(!b.path("layers/sbom/build/my_bp/orphan").exists());
}

#[test]
fn sbom_files_are_not_copied_before_platform_0_8() {
    let b = with_dirs(Build::new("0.7"));
    b.buildpack(
        &Bp::new("bp", "1", "0.10")
            .extra(ALL_FORMATS)
            .build(WRITE_SBOMS),
    );
    group_and_plan(&b, &group_of(&[("bp", "1", "0.10")]), "");
    builder(&b, &[]).expect_code(0);
    assert!(!b.path("layers/sbom").exists());

    let b = with_dirs(Build::new("0.8"));
    b.buildpack(
        &Bp::new("bp", "1", "0.10")
            .extra(ALL_FORMATS)
            .build(WRITE_SBOMS),
    );
    group_and_plan(&b, &group_of(&[("bp", "1", "0.10")]), "");
    builder(&b, &[]).expect_code(0);
    assert!(b.path("layers/sbom/launch/bp/sbom.cdx.json").exists());
    assert!(!b.path("layers/sbom/launch/sbom.legacy.json").exists());
}

#[test]
fn sbom_formats_must_be_declared_and_supported() {
    let b = with_dirs(Build::new(LATEST));
    b.buildpack(
        &Bp::new("bp", "1", "0.10")
            .extra("sbom-formats = [\"application/vnd.cyclonedx+json\"]\n")
            .build(r#"echo '{}' > "$1/launch.sbom.spdx.json""#),
    );
    group_and_plan(&b, &group_of(&[("bp", "1", "0.10")]), "");
    builder(&b, &[]).expect_code(52).expect_output(&format!(
        "ERROR: failed to build: validating SBOM file '{}' for buildpack: 'bp@1': undeclared SBOM media type: 'application/spdx+json'",
        b.path("layers/bp/launch.sbom.spdx.json").display()
    ));
    no_metadata(&b);

    let b = with_dirs(Build::new(LATEST));
    b.buildpack(
        &Bp::new("bp", "1", "0.10")
            .extra(ALL_FORMATS)
            .build(r#"echo '{}' > "$1/build.sbom.xml.json""#),
    );
    group_and_plan(&b, &group_of(&[("bp", "1", "0.10")]), "");
    builder(&b, &[]).expect_code(52).expect_output(&format!(
        "ERROR: failed to build: unsupported SBOM file format: '{}'",
        b.path("layers/bp/build.sbom.xml.json").display()
    ));
}

#[test]
fn legacy_bom_entries() {
    let script = r#"printf '[[bom]]\nname = "ruby"\n[bom.metadata]\nversion = "3.2"\n' > "$1/launch.toml"
printf '[[bom]]\nname = "gcc"\n' > "$1/build.toml""#;
    let b = with_dirs(Build::new(LATEST));
    group_of_scripts(&b, &[("old", "0.7", script)]);
    builder(&b, &[])
        .expect_code(0)
        .expect_output("Warning: BOM table is deprecated in this buildpack api version");
    assert_eq!(
        b.read("layers/sbom/launch/sbom.legacy.json"),
        "[{\"name\":\"ruby\",\"metadata\":{\"version\":\"3.2\"},\"buildpack\":{\"id\":\"old\",\"version\":\"1\"}}]\n"
    );
    assert_eq!(
        b.read("layers/sbom/build/sbom.legacy.json"),
        "[{\"name\":\"gcc\",\"metadata\":null,\"buildpack\":{\"id\":\"old\",\"version\":\"1\"}}]\n"
    );
    assert!(!metadata(&b).contains("bom"));

    let b = with_dirs(Build::new("0.8"));
    group_of_scripts(&b, &[("old", "0.7", script)]);
    builder(&b, &[]).expect_code(0);
    let md = metadata(&b);
    assert!(
        md.contains("[[bom]]\n  name = \"ruby\"\n  [bom.metadata]\n    version = \"3.2\"\n  [bom.buildpack]\n    id = \"old\"\n    version = \"1\"\n"),
        "{md}"
    );
    assert!(!md.contains("gcc"), "{md}");
}

// --- processes (BLD-08, BLD-20, BLD-21) -----------------------------------------------

#[test]
fn processes_merge_across_buildpacks() {
    let b = with_dirs(Build::new(LATEST));
    group_of_scripts(
        &b,
        &[
            (
                "a",
                "0.10",
                r#"cat > "$1/launch.toml" <<'EOF'
[[processes]]
type = "web"
command = ["a-web"]
default = true
[[processes]]
type = "worker"
command = ["a-worker"]
[[labels]]
key = "team"
value = "a"
[[slices]]
paths = ["static/*"]
EOF"#,
            ),
            (
                "b",
                "0.10",
                r#"cat > "$1/launch.toml" <<'EOF'
[[processes]]
type = "worker"
command = ["b-worker", "--fast"]
args = ["x"]
working-dir = "/workspace/sub"
exec-env = ["test"]
[[labels]]
key = "team"
value = "b"
EOF"#,
            ),
        ],
    );
    builder(&b, &[]).expect_code(0);
    assert_eq!(
        metadata(&b),
        r#"buildpack-default-process-type = "web"

[[buildpacks]]
  id = "a"
  version = "1"
  api = "0.10"

[[buildpacks]]
  id = "b"
  version = "1"
  api = "0.10"

[[labels]]
  key = "team"
  value = "a"

[[labels]]
  key = "team"
  value = "b"

[[processes]]
  type = "web"
  command = ["a-web"]
  direct = true
  buildpack-id = "a"

[[processes]]
  type = "worker"
  command = ["b-worker", "--fast"]
  args = ["x"]
  direct = true
  buildpack-id = "b"
  working-dir = "/workspace/sub"
  exec-env = ["test"]

[[slices]]
  paths = ["static/*"]
"#
    );
}

#[test]
fn redefining_the_default_without_default_clears_it() {
    let b = with_dirs(Build::new(LATEST));
    let web = |bp: &str, default: bool| {
        format!(
            "printf '[[processes]]\\ntype = \"web\"\\ncommand = [\"{bp}\"]\\ndefault = {default}\\n' > \"$1/launch.toml\""
        )
    };
    group_of_scripts(
        &b,
        &[
            ("a", "0.10", &web("a", true)),
            ("b", "0.10", &web("b", false)),
        ],
    );
    builder(&b, &[]).expect_code(0).expect_output(
        "Warning: Warning: redefining the following default process type with a process not marked as default: web",
    );
    let md = metadata(&b);
    assert!(!md.contains("buildpack-default-process-type"), "{md}");
    assert!(md.contains("command = [\"b\"]"), "{md}");

    // The last default wins.
    let b = with_dirs(Build::new(LATEST));
    let proc = |t: &str| {
        format!(
            "printf '[[processes]]\\ntype = \"{t}\"\\ncommand = [\"x\"]\\ndefault = true\\n' > \"$1/launch.toml\""
        )
    };
    group_of_scripts(
        &b,
        &[("a", "0.10", &proc("web")), ("b", "0.10", &proc("api"))],
    );
    builder(&b, &[]).expect_code(0);
    assert!(metadata(&b).starts_with("buildpack-default-process-type = \"api\"\n"));
}

#[test]
fn one_default_per_buildpack() {
    let b = with_dirs(Build::new(LATEST));
    group_of_scripts(
        &b,
        &[(
            "a",
            "0.10",
            r#"printf '[[processes]]\ntype = "a"\ncommand = ["a"]\ndefault = true\n[[processes]]\ntype = "b"\ncommand = ["b"]\ndefault = true\n' > "$1/launch.toml""#,
        )],
    );
    builder(&b, &[])
        .expect_code(52)
        .expect_output("ERROR: failed to build: multiple default process types aren't allowed");
    no_metadata(&b);
}

// --- Buildpack API differences (G-11, §10.2) -------------------------------------------

const SHOW_API_VARS: &str = r#"echo "$(basename "$(dirname "$CNB_BUILDPACK_DIR")"): LAYERS=${CNB_LAYERS_DIR:-unset} PLATFORM=${CNB_PLATFORM_DIR:-unset} PLAN=${CNB_BP_PLAN_PATH:+set} TARGET=${CNB_TARGET_OS:-unset} EXEC=${CNB_EXEC_ENV:-unset} ARG1=$1""#;

#[test]
fn variables_per_buildpack_api() {
    let b = with_dirs(Build::new(LATEST)).with_env("CNB_EXEC_ENV", "test");
    group_of_scripts(
        &b,
        &[
            ("bp0.7", "0.7", SHOW_API_VARS),
            ("bp0.8", "0.8", SHOW_API_VARS),
            ("bp0.9", "0.9", SHOW_API_VARS),
            ("bp0.10", "0.10", SHOW_API_VARS),
            ("bp0.12", "0.12", SHOW_API_VARS),
        ],
    );
    let ran = builder(&b, &[]);
    ran.expect_code(0);
    let layers = |bp: &str| b.path("layers").join(bp).display().to_string();
    let platform = b.path("platform").display().to_string();
    ran.expect_output(&format!(
        "bp0.7: LAYERS=unset PLATFORM=unset PLAN= TARGET=unset EXEC=unset ARG1={}\n",
        layers("bp0.7")
    ))
    .expect_output(&format!(
        "bp0.8: LAYERS={0} PLATFORM={platform} PLAN=set TARGET=unset EXEC=unset ARG1={0}\n",
        layers("bp0.8")
    ))
    .expect_output(&format!(
        "bp0.10: LAYERS={0} PLATFORM={platform} PLAN=set TARGET=linux EXEC=unset ARG1={0}\n",
        layers("bp0.10")
    ))
    .expect_output(&format!(
        "bp0.12: LAYERS={0} PLATFORM={platform} PLAN=set TARGET=linux EXEC=test ARG1={0}\n",
        layers("bp0.12")
    ));
}

#[test]
fn process_shapes_per_buildpack_api() {
    let b = with_dirs(Build::new(LATEST));
    group_of_scripts(
        &b,
        &[
            (
                "old",
                "0.7",
                r#"cat > "$1/launch.toml" <<'EOF'
[[processes]]
type = "shell"
command = "echo hi"
working-dir = "/ignored"
[[processes]]
type = "direct-old"
command = "/bin/run"
direct = true
EOF"#,
            ),
            (
                "eight",
                "0.8",
                r#"printf '[[processes]]\ntype = "wd"\ncommand = "pwd"\nworking-dir = "/somewhere"\n' > "$1/launch.toml""#,
            ),
        ],
    );
    builder(&b, &[]).expect_code(0).expect_output(
        "Warning: Warning: process working directory isn't supported in this buildpack api version. Ignoring working directory for process 'shell'",
    );
    let md = metadata(&b);
    assert!(
        md.contains("  type = \"shell\"\n  command = [\"echo hi\"]\n  direct = false\n  buildpack-id = \"old\"\n\n"),
        "{md}"
    );
    assert!(
        md.contains("  type = \"direct-old\"\n  command = [\"/bin/run\"]\n  direct = true\n"),
        "{md}"
    );
    assert!(md.contains("working-dir = \"/somewhere\""), "{md}");
    assert!(!md.contains("/ignored"), "{md}");

    // API 0.9+: commands are arrays and `direct` is refused.
    for (script, message) in [
        (
            r#"printf '[[processes]]\ntype = "web"\ncommand = "run"\n' > "$1/launch.toml""#,
            "command must be an array of strings for buildpack API 0.9",
        ),
        (
            r#"printf '[[processes]]\ntype = "web"\ncommand = ["run"]\ndirect = true\n' > "$1/launch.toml""#,
            "process.direct is not supported on this buildpack version",
        ),
    ] {
        let b = with_dirs(Build::new(LATEST));
        group_of_scripts(&b, &[("nine", "0.9", script)]);
        builder(&b, &[]).expect_code(52).expect_output(message);
        no_metadata(&b);
    }
    // API < 0.9: an array command is refused.
    let b = with_dirs(Build::new(LATEST));
    group_of_scripts(
        &b,
        &[(
            "eight",
            "0.8",
            r#"printf '[[processes]]\ntype = "web"\ncommand = ["run"]\n' > "$1/launch.toml""#,
        )],
    );
    builder(&b, &[])
        .expect_code(52)
        .expect_output("command must be a string for buildpack API 0.8");
}

// --- failures and hostile buildpacks ------------------------------------------------

#[test]
fn a_failing_buildpack_exits_51() {
    let b = with_dirs(Build::new(LATEST));
    group_of_scripts(
        &b,
        &[
            ("fails", "0.10", "echo 'about to fail'\nexit 7\n"),
            ("never", "0.10", "touch \"$1/ran\"\n"),
        ],
    );
    builder(&b, &[])
        .expect_code(51)
        .expect_output("about to fail")
        .expect_output("ERROR: failed to build: exit status 7");
    assert!(!b.path("layers/never/ran").exists());
    no_metadata(&b);
}

#[test]
fn a_buildpack_without_bin_build_exits_51() {
    let b = with_dirs(Build::new(LATEST));
    group_of_scripts(&b, &[("nobuild", "0.10", "")]);
    std::fs::remove_file(b.path("cnb/buildpacks/nobuild/1/bin/build")).unwrap();
    builder(&b, &[]).expect_code(51).expect_output(&format!(
        "ERROR: failed to build: fork/exec {}: no such file or directory",
        b.path("cnb/buildpacks/nobuild/1/bin/build").display()
    ));
}

#[test]
fn a_missing_buildpack_exits_52() {
    let b = with_dirs(Build::new(LATEST));
    group_and_plan(&b, &group_of(&[("ghost", "1", "0.10")]), "");
    builder(&b, &[]).expect_code(52).expect_output(&format!(
        "ERROR: failed to build: open {}: no such file or directory",
        b.path("cnb/buildpacks/ghost/1/buildpack.toml").display()
    ));
}

#[test]
fn buildpack_output_is_streamed_to_stdout() {
    let b = with_dirs(Build::new(LATEST));
    group_of_scripts(
        &b,
        &[("talker", "0.10", "echo to-stdout\necho to-stderr >&2\n")],
    );
    let ran = builder(&b, &[]);
    ran.expect_code(0);
    assert!(ran.stdout.contains("to-stdout\nto-stderr\n"), "{ran:?}");
    assert!(!ran.stderr.contains("to-stderr"), "{ran:?}");
}

/// Runs one hostile buildpack and expects exit 52 with `message` and no metadata.
fn hostile(script: &str, message: &str) {
    let b = with_dirs(Build::new(LATEST));
    group_of_scripts(&b, &[("evil", "0.10", script)]);
    builder(&b, &[]).expect_code(52).expect_output(message);
    no_metadata(&b);
    assert!(b.path("layers").is_dir());
}

#[test]
fn traversal_in_layer_names_is_refused() {
    for file in [".toml", "..toml", "...toml"] {
        hostile(
            &format!("touch \"$1/{file}\""),
            &format!("buildpack 'evil' wrote '{file}', which names no valid layer"),
        );
    }
}

#[test]
fn symlinks_out_of_the_layers_dir_are_refused() {
    hostile(
        r#"ln -s /etc "$1/etc" && printf '[types]\nlaunch = true\n' > "$1/etc.toml""#,
        "/layers/evil/etc is a symlink to /etc, outside the layers directory",
    );
    hostile(
        r#"ln -s /etc/passwd "$1/launch.sbom.cdx.json""#,
        "launch.sbom.cdx.json is a symlink to /etc/passwd, outside the layers directory",
    );
    hostile(
        r#"d="$CNB_LAYERS_DIR"; rm -rf "$d"; ln -s /tmp "$d""#,
        "/layers/evil is a symlink to /tmp, outside the layers directory",
    );
}

#[test]
fn a_planted_config_symlink_does_not_redirect_the_metadata() {
    let b = with_dirs(Build::new(LATEST));
    let elsewhere = tempfile::tempdir().unwrap();
    let target = elsewhere.path().join("config");
    group_of_scripts(
        &b,
        &[(
            "evil",
            "0.10",
            &format!("ln -s {} \"$1/../config\"", target.display()),
        )],
    );
    builder(&b, &[]).expect_code(0);
    assert!(metadata(&b).contains("id = \"evil\""));
    assert!(!target.exists());
}

#[test]
fn bad_toml_is_refused() {
    hostile(
        r#"printf '[types\n' > "$1/broken.toml""#,
        "ERROR: failed to build: failed to process buildpack layer: failed to decode layer metadata file: failed to parse",
    );
    hostile(
        r#"printf 'launch = true\n' > "$1/flat.toml""#,
        "the launch, cache and build flags should be in the types table of",
    );
    hostile(
        r#"printf '[[processes]\n' > "$1/launch.toml""#,
        "ERROR: failed to build: failed to parse launch.toml",
    );
    hostile(
        r#"printf 'unmet = 1\n' > "$1/build.toml""#,
        "ERROR: failed to build: failed to parse build.toml",
    );
    hostile(
        r#"printf 'metadata = "x"\n' > "$1/store.toml""#,
        "ERROR: failed to build: failed decoding",
    );
}

#[test]
fn invalid_process_types_are_refused() {
    hostile(
        r#"printf '[[processes]]\ntype = "../../bin/sh"\ncommand = ["x"]\n' > "$1/launch.toml""#,
        "buildpack 'evil' defines an invalid process in launch.toml: invalid process type '../../bin/sh'",
    );
    hostile(
        r#"printf '[[processes]]\ncommand = ["x"]\n' > "$1/launch.toml""#,
        "type is required for all processes",
    );
}

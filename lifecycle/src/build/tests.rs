//! The whole phase over temporary directories with shell-script buildpacks.

use std::fs;
use std::os::unix::fs::PermissionsExt;

use buildpack_api::group::GroupElement;
use platform_api::files::plan::PlanEntry;

use super::*;
use crate::exec::ProgramExit;
use crate::log::Level;
use platform_api::flags::DeprecationMode;

struct World {
    _root: tempfile::TempDir,
    inputs: BuildInputs,
}

impl World {
    fn new(platform_api: &str) -> Self {
        let root = tempfile::tempdir().unwrap();
        let base = fs::canonicalize(root.path()).unwrap();
        for d in [
            "layers",
            "workspace",
            "platform/env",
            "buildpacks",
            "config/env",
        ] {
            fs::create_dir_all(base.join(d)).unwrap();
        }
        let inputs = BuildInputs {
            platform_api: platform_api.parse().unwrap(),
            app_dir: base.join("workspace"),
            buildpacks_dir: base.join("buildpacks"),
            build_config_dir: base.join("config"),
            platform_dir: base.join("platform"),
            layers_dir: base.join("layers"),
            group_path: base.join("layers/group.toml"),
            plan_path: base.join("layers/plan.toml"),
            analyzed_path: base.join("layers/analyzed.toml"),
            exec_env: "production".into(),
            deprecation_mode: DeprecationMode::Warn,
            environ: vec![
                ("PATH".into(), "/usr/bin:/bin".into()),
                ("SECRET".into(), "dropped".into()),
            ],
        };
        World {
            _root: root,
            inputs,
        }
    }

    /// Adds a buildpack whose `bin/build` is `script` (sh), returning its group entry.
    fn buildpack(&self, id: &str, api: &str, extra: &str, script: &str) -> GroupElement {
        let dir = self
            .inputs
            .buildpacks_dir
            .join(id.replace('/', "_"))
            .join("1");
        fs::create_dir_all(dir.join("bin")).unwrap();
        fs::write(
            dir.join("buildpack.toml"),
            format!("api = \"{api}\"\n[buildpack]\nid = \"{id}\"\nversion = \"1\"\n{extra}\n"),
        )
        .unwrap();
        let build = dir.join("bin/build");
        fs::write(&build, format!("#!/bin/sh\nset -e\n{script}\n")).unwrap();
        fs::set_permissions(&build, fs::Permissions::from_mode(0o755)).unwrap();
        GroupElement {
            id: id.into(),
            version: "1".into(),
            api: api.into(),
            ..GroupElement::default()
        }
    }

    fn build(&self, group: &[GroupElement], plan: &Plan) -> Result<BuildMetadata, BuildError> {
        let group = Group {
            group: group.to_vec(),
            group_extensions: Vec::new(),
        };
        build(
            &self.inputs,
            &group,
            plan,
            &Analyzed::default(),
            &Logger::new(Level::Error),
        )
    }

    fn layers(&self, rel: &str) -> PathBuf {
        self.inputs.layers_dir.join(rel)
    }

    fn read(&self, rel: &str) -> String {
        fs::read_to_string(self.layers(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
    }
}

fn entry(name: &str, providers: &[&str]) -> PlanEntry {
    PlanEntry {
        providers: providers
            .iter()
            .map(|id| GroupElement {
                id: id.to_string(),
                version: "1".into(),
                ..GroupElement::default()
            })
            .collect(),
        requires: vec![buildpack_api::plan::Require {
            name: name.into(),
            ..Default::default()
        }],
    }
}

#[test]
fn env_plan_and_processes_flow_between_buildpacks() {
    let w = World::new("0.15");
    fs::write(w.inputs.platform_dir.join("env/USER_VAR"), "from-user").unwrap();
    fs::write(
        w.inputs.build_config_dir.join("env/OP_VAR"),
        "from-operator",
    )
    .unwrap();
    let a = w.buildpack(
        "a/one",
        "0.12",
        "",
        r#"
mkdir -p "$1/tools/bin" "$1/tools/env" "$1/tools/env.build" "$1/run/bin"
printf '[types]\nbuild = true\n' > "$1/tools.toml"
printf '[types]\nlaunch = true\n' > "$1/run.toml"
printf 'x' > "$1/tools/env/APPENDED.append"
printf '|' > "$1/tools/env/APPENDED.delim"
printf 'b-only' > "$1/tools/env.build/BUILD_ONLY"
mkdir -p "$1/scratch" && touch "$1/scratch.toml"
printf '[[unmet]]\nname = "shared"\n' > "$1/build.toml"
cat > "$1/launch.toml" <<'EOF'
[[processes]]
type = "web"
command = ["a-web"]
default = true
[[processes]]
type = "worker"
command = ["a-worker"]
[[labels]]
key = "k1"
value = "v1"
EOF
"#,
    );
    let b = w.buildpack(
        "b",
        "0.12",
        "",
        r#"
{
  echo "PATH=$PATH"
  echo "APPENDED=${APPENDED:-unset}"
  echo "BUILD_ONLY=${BUILD_ONLY:-unset}"
  echo "USER_VAR=${USER_VAR:-unset} OP_VAR=${OP_VAR:-unset} SECRET=${SECRET:-unset}"
  echo "EXEC=$CNB_EXEC_ENV LAYERS=$CNB_LAYERS_DIR PWD=$PWD"
  cat "$CNB_BP_PLAN_PATH"
} > "$CNB_LAYERS_DIR/../b.out"
cat > "$1/launch.toml" <<'EOF'
[[processes]]
type = "worker"
command = ["b-worker"]
args = ["x"]
[[processes]]
type = "api"
command = ["b-api"]
[[labels]]
key = "k2"
value = "v2"
EOF
"#,
    );
    let plan = Plan {
        entries: vec![
            entry("a-only", &["a/one"]),
            entry("shared", &["a/one", "b"]),
        ],
    };
    let md = w.build(&[a.clone(), b.clone()], &plan).unwrap();

    let out = w.read("b.out");
    let tools = w.layers("a_one/tools");
    assert!(
        out.contains(&format!("PATH={}/bin:/usr/bin:/bin", tools.display())),
        "{out}"
    );
    assert!(!out.contains("run/bin"), "{out}");
    assert!(out.contains("APPENDED=x\n"), "{out}");
    assert!(out.contains("BUILD_ONLY=b-only"), "{out}");
    assert!(
        out.contains("USER_VAR=from-user OP_VAR=from-operator SECRET=unset"),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "EXEC=production LAYERS={} PWD={}",
            w.layers("b").display(),
            w.inputs.app_dir.display()
        )),
        "{out}"
    );
    // b receives only the entry a left unmet.
    assert!(out.contains("name = \"shared\""), "{out}");
    assert!(!out.contains("a-only"), "{out}");

    assert!(w.layers("a_one/scratch.ignore").is_dir());
    assert!(!w.layers("a_one/scratch").exists());

    let types: Vec<_> = md
        .processes
        .iter()
        .map(|p| (p.process_type.as_str(), p.buildpack_id.as_str()))
        .collect();
    assert_eq!(types, [("api", "b"), ("web", "a/one"), ("worker", "b")]);
    assert_eq!(md.buildpack_default_process_type, "web");
    assert_eq!(md.labels.len(), 2);
    assert_eq!(md.buildpacks, vec![a, b]);
    // Platform 0.9+: legacy BOM files, even when empty.
    assert_eq!(w.read("sbom/launch/sbom.legacy.json"), "null\n");
    assert_eq!(w.read("sbom/build/sbom.legacy.json"), "null\n");
}

#[test]
fn a_failing_buildpack_stops_the_build() {
    let w = World::new("0.15");
    let a = w.buildpack("a", "0.10", "", "exit 3");
    let b = w.buildpack("b", "0.10", "", "touch \"$1/ran\"");
    let err = w.build(&[a, b], &Plan::default()).unwrap_err();
    assert!(matches!(
        err,
        BuildError::BuildpackFailed(ProgramExit::Status(3))
    ));
    assert_eq!(err.to_string(), "failed to build: exit status 3");
    assert_eq!(err.exit_code(), 51);
    assert!(!w.layers("b/ran").exists());
}

#[test]
fn old_buildpack_apis_get_fewer_variables() {
    let w = World::new("0.15");
    let old = w.buildpack(
        "old",
        "0.7",
        "",
        r#"echo "L=${CNB_LAYERS_DIR:-unset} P=${CNB_PLATFORM_DIR:-unset} T=${CNB_TARGET_OS:-unset} E=${CNB_EXEC_ENV:-unset} D=$CNB_BUILDPACK_DIR ARGS=$1 $2" > "$1/out""#,
    );
    let mid = w.buildpack(
        "mid",
        "0.10",
        "",
        r#"echo "T=${CNB_TARGET_OS:-unset} E=${CNB_EXEC_ENV:-unset}" > "$1/out""#,
    );
    w.build(&[old, mid], &Plan::default()).unwrap();
    let old_out = w.read("old/out");
    assert!(
        old_out.starts_with("L=unset P=unset T=unset E=unset D="),
        "{old_out}"
    );
    assert!(old_out.contains("buildpacks/old/1 ARGS="), "{old_out}");
    assert!(old_out.contains(&w.inputs.platform_dir.display().to_string()));
    let mid_out = w.read("mid/out");
    assert!(mid_out.starts_with("T=linux E=unset"), "{mid_out}");
}

#[test]
fn sbom_directory_is_rebuilt_per_platform_api() {
    for (api, copies, legacy) in [
        ("0.7", false, false),
        ("0.8", true, false),
        ("0.9", true, true),
    ] {
        let w = World::new(api);
        fs::create_dir_all(w.layers("sbom/launch/stale")).unwrap();
        let bp = w.buildpack(
            "bp",
            "0.9",
            "sbom-formats = [\"application/vnd.cyclonedx+json\"]",
            r#"echo '{}' > "$1/launch.sbom.cdx.json""#,
        );
        w.build(&[bp], &Plan::default()).unwrap();
        assert!(!w.layers("sbom/launch/stale").exists(), "{api}");
        assert_eq!(
            w.layers("sbom/launch/bp/sbom.cdx.json").exists(),
            copies,
            "{api}"
        );
        assert_eq!(
            w.layers("sbom/launch/sbom.legacy.json").exists(),
            legacy,
            "{api}"
        );
    }
}

#[test]
fn legacy_bom_goes_to_metadata_before_platform_0_9() {
    let script =
        r#"printf '[[bom]]\nname = "ruby"\n[bom.metadata]\nversion = "3"\n' > "$1/launch.toml""#;
    let w = World::new("0.8");
    let bp = w.buildpack("bp", "0.7", "", script);
    let md = w.build(&[bp], &Plan::default()).unwrap();
    assert_eq!(md.bom.len(), 1);
    assert_eq!(md.bom[0].buildpack.id, "bp");

    let w = World::new("0.9");
    let bp = w.buildpack("bp", "0.7", "", script);
    let md = w.build(&[bp], &Plan::default()).unwrap();
    assert!(md.bom.is_empty());
    assert_eq!(
        w.read("sbom/launch/sbom.legacy.json"),
        "[{\"name\":\"ruby\",\"metadata\":{\"version\":\"3\"},\"buildpack\":{\"id\":\"bp\",\"version\":\"1\"}}]\n"
    );
}

#[test]
fn descriptor_problems() {
    let w = World::new("0.15");
    let missing = GroupElement {
        id: "ghost".into(),
        version: "1".into(),
        api: "0.10".into(),
        ..GroupElement::default()
    };
    let err = w.build(&[missing], &Plan::default()).unwrap_err();
    assert_eq!(err.exit_code(), 52);
    assert!(
        err.to_string()
            .ends_with("buildpacks/ghost/1/buildpack.toml: no such file or directory"),
        "{err}"
    );
    let bad = w.buildpack("bad", "0.1", "", "true");
    let err = w.build(&[bad], &Plan::default()).unwrap_err();
    assert_eq!(err.exit_code(), 12);
}

#[test]
fn group_api_verification() {
    let el = |api: &str| GroupElement {
        id: "hello_world".into(),
        version: "0.0.1".into(),
        api: api.into(),
        ..GroupElement::default()
    };
    let group = |api| Group {
        group: vec![el(api)],
        group_extensions: vec![el("garbage")],
    };
    let logger = Logger::new(crate::log::Level::Error);
    let verify = |g: &Group| verify_buildpack_apis(g, DeprecationMode::Warn, &logger);
    assert!(verify(&group("0.12")).is_ok());
    let err = verify(&group("0.2wrongapiblabla")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "failed to parse buildpack API '<nil>' for buildpack 'hello_world@0.0.1'"
    );
    let err = verify(&group("0.1")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "failed to set API for Buildpack 'hello_world@0.0.1': buildpack API version '0.1' is incompatible with the lifecycle"
    );
    assert_eq!(err.exit_code(), 12);
}

#[test]
fn run_reads_inputs_and_writes_metadata() {
    let w = World::new("0.15");
    let logger = Logger::new(Level::Error);
    let err = run(&w.inputs, &logger).unwrap_err();
    assert!(matches!(err, BuildError::ReadGroup(_)));
    assert_eq!(err.exit_code(), 1);

    let bp = w.buildpack(
        "bp",
        "0.10",
        "",
        r#"printf '[[processes]]\ntype = "hello"\ncommand = ["echo world"]\nargs = ["arg1"]\n' > "$1/launch.toml""#,
    );
    fs::write(
        &w.inputs.group_path,
        format!(
            "[[group]]\nid = \"{}\"\nversion = \"1\"\napi = \"0.10\"\n",
            bp.id
        ),
    )
    .unwrap();
    let err = run(&w.inputs, &logger).unwrap_err();
    assert!(matches!(err, BuildError::ReadPlan(_)));
    fs::write(&w.inputs.plan_path, "").unwrap();
    fs::write(&w.inputs.analyzed_path, "[run-image\n").unwrap();
    let err = run(&w.inputs, &logger).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("failed to reading analyzed.toml: failed to read analyzed file: toml:"),
        "{err}"
    );
    fs::remove_file(&w.inputs.analyzed_path).unwrap();
    run(&w.inputs, &logger).unwrap();
    assert_eq!(
        w.read("config/metadata.toml"),
        "[[buildpacks]]\n  id = \"bp\"\n  version = \"1\"\n  api = \"0.10\"\n\n[[processes]]\n  type = \"hello\"\n  command = [\"echo world\"]\n  args = [\"arg1\"]\n  direct = true\n  buildpack-id = \"bp\"\n"
    );
}

use std::fs;
use std::os::unix::fs::PermissionsExt;

use buildpack_api::plan::Require;
use platform_api::files::analyzed::RunImage;
use platform_api::files::plan::PlanEntry;
use platform_api::files::run::RunImageForExport;
use platform_api::files::target::TargetMetadata;

use super::*;
use crate::log::Level;

struct Fixture {
    root: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Self {
        let root = tempfile::tempdir().unwrap();
        for d in [
            "app",
            "platform/env",
            "build-config/env",
            "extensions",
            "generated",
        ] {
            fs::create_dir_all(root.path().join(d)).unwrap();
        }
        fs::write(
            root.path().join("build-config/env/FOO"),
            "val-from-build-config",
        )
        .unwrap();
        fs::write(root.path().join("platform/env/USER_VAR"), "from-platform").unwrap();
        Fixture { root }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.root.path().join(rel)
    }

    fn read(&self, rel: &str) -> String {
        fs::read_to_string(self.path(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
    }

    fn inputs(&self, minor: u64) -> GenerateInputs {
        GenerateInputs {
            platform_api: ApiVersion::new(0, minor),
            app_dir: self.path("app"),
            platform_dir: self.path("platform"),
            build_config_dir: self.path("build-config"),
            extensions_dir: self.path("extensions"),
            generated_dir: self.path("generated"),
            environ: vec![("PATH".into(), "/usr/bin:/bin".into())],
            target_env: vec![("CNB_TARGET_OS".into(), "linux".into())],
        }
    }

    /// Writes an extension (`extra` appended to `[extension]`), its `bin/generate` when
    /// given, and other files relative to its directory.
    fn extension(
        &self,
        id: &str,
        api: &str,
        extra: &str,
        script: Option<&str>,
        files: &[(&str, &str)],
    ) {
        let dir = self.path(&format!("extensions/{}/1", id.replace('/', "_")));
        fs::create_dir_all(&dir).unwrap();
        fs::write(
            dir.join("extension.toml"),
            format!("api = \"{api}\"\n[extension]\nid = \"{id}\"\nversion = \"1\"\n{extra}"),
        )
        .unwrap();
        if let Some(body) = script {
            fs::create_dir_all(dir.join("bin")).unwrap();
            let p = dir.join("bin/generate");
            fs::write(&p, format!("#!/bin/sh\nset -e\n{body}")).unwrap();
            fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
        }
        for (rel, text) in files {
            let p = dir.join(rel);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, text).unwrap();
        }
    }

    fn run(&self, minor: u64, ids: &[&str], plan: &Plan) -> Result<GenerateResult, GenerateError> {
        let run = Run {
            images: vec![RunImageForExport {
                image: "some-run-image".into(),
                mirrors: vec![],
            }],
        };
        generate(
            &self.inputs(minor),
            &ids.iter().map(|id| el(id)).collect::<Vec<_>>(),
            plan,
            &analyzed(),
            &run,
            &Logger::new(Level::Error),
        )
    }
}

fn el(id: &str) -> GroupElement {
    GroupElement {
        id: id.into(),
        version: "1".into(),
        ..GroupElement::default()
    }
}

fn analyzed() -> Analyzed {
    Analyzed {
        run_image: Some(RunImage {
            reference: "orig@sha256:1".into(),
            image: "orig".into(),
            extend: false,
            target: Some(TargetMetadata {
                os: "linux".into(),
                arch: "amd64".into(),
                ..TargetMetadata::default()
            }),
        }),
        ..Analyzed::default()
    }
}

/// `some_requirement` provided by extension `ext`, `other` by a buildpack.
fn plan(ext: &str) -> Plan {
    let require = |name: &str| Require {
        name: name.into(),
        ..Require::default()
    };
    Plan {
        entries: vec![
            PlanEntry {
                providers: vec![GroupElement {
                    extension: true,
                    ..el(ext)
                }],
                requires: vec![require("some_requirement")],
            },
            PlanEntry {
                providers: vec![el("some-buildpack")],
                requires: vec![require("other")],
            },
        ],
    }
}

const RUN_SWITCH: &str = "FROM some-run-image-from-extension\n";
const RUN_EXTEND: &str = "FROM ${base_image}\nRUN echo extended\n";
const BUILD: &str = "ARG base_image\nFROM ${base_image}\nRUN echo built\n";

#[test]
fn generates_in_place_from_platform_0_13() {
    let f = Fixture::new();
    f.extension(
        "samples/ext",
        "0.10",
        "",
        Some(&format!(
            "printf '%s' '{RUN_SWITCH}' > \"$CNB_OUTPUT_DIR/run.Dockerfile\"\n\
             echo \"args=$1 $2 $3\" > \"$1/seen\"\n\
             echo \"pwd=$(pwd)\" >> \"$1/seen\"\n\
             env | sort >> \"$1/seen\"\n\
             cat \"$3\" >> \"$1/seen\"\n\
             mkdir \"$1/context\"\n"
        )),
        &[],
    );
    let result = f.run(13, &["samples/ext"], &plan("samples/ext")).unwrap();

    let out = f.path("generated/samples_ext");
    assert_eq!(f.read("generated/samples_ext/run.Dockerfile"), RUN_SWITCH);
    let seen = f.read("generated/samples_ext/seen");
    let ext_dir = f.path("extensions/samples_ext/1");
    for needle in [
        format!("pwd={}", f.path("app").display()),
        format!("CNB_OUTPUT_DIR={}", out.display()),
        format!("CNB_EXTENSION_DIR={}", ext_dir.display()),
        format!("CNB_PLATFORM_DIR={}", f.path("platform").display()),
        "CNB_BP_PLAN_PATH=".into(),
        "CNB_TARGET_OS=linux".into(),
        "FOO=val-from-build-config".into(),
        "USER_VAR=from-platform".into(),
        "name = \"some_requirement\"".into(),
        format!("args={} {} ", out.display(), f.path("platform").display()),
    ] {
        assert!(seen.contains(&needle), "{needle} not in\n{seen}");
    }

    let run_image = result.analyzed.run_image.unwrap();
    assert_eq!(
        run_image,
        RunImage {
            reference: "some-run-image-from-extension".into(),
            image: "some-run-image-from-extension".into(),
            extend: false,
            target: None,
        }
    );
    let names: Vec<_> = result
        .plan
        .entries
        .iter()
        .map(|e| e.requires[0].name.as_str())
        .collect();
    assert_eq!(names, ["other"], "entries the extension met are gone");
    assert!(!f.path("generated/run").exists());
}

#[test]
fn legacy_layout_below_platform_0_13() {
    let f = Fixture::new();
    f.extension(
        "a",
        "0.9",
        "",
        Some(&format!(
            "printf '%s' '{RUN_EXTEND}' > \"$1/run.Dockerfile\"\n\
             printf '%s' '{BUILD}' > \"$1/build.Dockerfile\"\n\
             printf '[[build.args]]\\nname = \"x\"\\nvalue = \"1\"\\n' > \"$1/extend-config.toml\"\n"
        )),
        &[],
    );
    f.extension(
        "b",
        "0.9",
        "",
        Some(&format!(
            "printf '%s' '{RUN_SWITCH}' > \"$1/run.Dockerfile\"\n"
        )),
        &[],
    );
    let result = f.run(12, &["a", "b"], &Plan::default()).unwrap();

    assert_eq!(f.read("generated/run/a/Dockerfile.ignore"), RUN_EXTEND);
    assert!(!f.path("generated/run/a/Dockerfile").exists());
    assert_eq!(f.read("generated/build/a/Dockerfile"), BUILD);
    assert!(
        f.read("generated/build/a/extend-config.toml")
            .contains("name = \"x\"")
    );
    assert!(f.path("generated/run/a/extend-config.toml").exists());
    assert_eq!(f.read("generated/run/b/Dockerfile"), RUN_SWITCH);
    assert!(!f.path("generated/run/b/extend-config.toml").exists());
    assert!(
        !f.path("generated/a").exists(),
        "scratch output stays out of <generated>"
    );

    let run_image = result.analyzed.run_image.unwrap();
    assert_eq!(run_image.image, "some-run-image-from-extension");
    assert!(!run_image.extend);
}

#[test]
fn moot_run_dockerfiles_get_an_ignore_suffix_from_0_13() {
    let f = Fixture::new();
    let write_run = |text: &str| format!("printf '%s' '{text}' > \"$1/run.Dockerfile\"\n");
    f.extension("a", "0.9", "", Some(&write_run(RUN_SWITCH)), &[]);
    f.extension("b", "0.9", "", Some(&write_run(RUN_EXTEND)), &[]);
    f.extension(
        "c",
        "0.9",
        "",
        Some(&write_run("FROM some-run-image\n")),
        &[],
    );
    f.extension("d", "0.9", "", Some(&write_run(RUN_EXTEND)), &[]);
    let result = f.run(15, &["a", "b", "c", "d"], &Plan::default()).unwrap();
    for moot in ["a", "b"] {
        assert!(
            f.path(&format!("generated/{moot}/run.Dockerfile.ignore"))
                .exists()
        );
        assert!(!f.path(&format!("generated/{moot}/run.Dockerfile")).exists());
    }
    for kept in ["c", "d"] {
        assert!(f.path(&format!("generated/{kept}/run.Dockerfile")).exists());
    }
    let run_image = result.analyzed.run_image.unwrap();
    assert_eq!(
        (run_image.image.as_str(), run_image.extend),
        ("some-run-image", true)
    );
}

#[test]
fn prepopulated_output_without_bin_generate() {
    for minor in [12, 13] {
        let f = Fixture::new();
        f.extension(
            "pre",
            "0.9",
            "",
            None,
            &[
                ("generate/run.Dockerfile", RUN_EXTEND),
                ("generate/build.Dockerfile", BUILD),
                ("generate/context/file", "data"),
            ],
        );
        let result = f.run(minor, &["pre"], &plan("pre")).unwrap();
        if minor == 12 {
            assert_eq!(f.read("generated/run/pre/Dockerfile"), RUN_EXTEND);
            assert_eq!(f.read("generated/build/pre/Dockerfile"), BUILD);
        } else {
            assert_eq!(f.read("generated/pre/run.Dockerfile"), RUN_EXTEND);
            assert_eq!(f.read("generated/pre/build.Dockerfile"), BUILD);
            assert_eq!(f.read("generated/pre/context/file"), "data");
        }
        let run_image = result.analyzed.run_image.unwrap();
        assert_eq!((run_image.image.as_str(), run_image.extend), ("orig", true));
        assert!(run_image.target.is_some());
        assert_eq!(result.plan.entries.len(), 1);
    }
}

#[test]
fn no_output_changes_nothing_but_the_plan() {
    let f = Fixture::new();
    f.extension("quiet", "0.9", "", Some("true\n"), &[]);
    f.extension("empty", "0.9", "", None, &[]);
    let result = f.run(13, &["quiet", "empty"], &plan("quiet")).unwrap();
    assert_eq!(result.analyzed, analyzed());
    assert_eq!(result.plan.entries.len(), 1);
    assert!(f.path("generated/quiet").is_dir());
}

#[test]
fn target_vars_from_api_0_10_and_clear_env() {
    let f = Fixture::new();
    f.extension(
        "old",
        "0.9",
        "clear-env = true\n",
        Some("env > \"$1/seen\"\n"),
        &[],
    );
    f.run(13, &["old"], &Plan::default()).unwrap();
    let seen = f.read("generated/old/seen");
    assert!(!seen.contains("CNB_TARGET_OS"), "{seen}");
    assert!(
        !seen.contains("USER_VAR"),
        "clear-env drops <platform>/env: {seen}"
    );
    assert!(seen.contains("FOO=val-from-build-config"), "{seen}");
}

fn failure(f: &Fixture, minor: u64, ids: &[&str]) -> GenerateError {
    match f.run(minor, ids, &Plan::default()) {
        Ok(_) => panic!("generate passed"),
        Err(e) => e,
    }
}

#[test]
fn a_failing_extension_exits_91() {
    let f = Fixture::new();
    f.extension("bad", "0.9", "", Some("echo failing\nexit 3\n"), &[]);
    let err = failure(&f, 13, &["bad"]);
    assert_eq!(err, GenerateError::ExtensionFailed("exit status 3".into()));
    assert_eq!(err.exit_code(), 91);
    assert_eq!(err.to_string(), "failed to build: exit status 3");

    let f = Fixture::new();
    f.extension("noexec", "0.9", "", Some("true\n"), &[]);
    let program = f.path("extensions/noexec/1/bin/generate");
    fs::set_permissions(&program, fs::Permissions::from_mode(0o644)).unwrap();
    let err = failure(&f, 13, &["noexec"]);
    assert_eq!(
        err.to_string(),
        format!(
            "failed to build: fork/exec {}: permission denied",
            program.display()
        )
    );
    assert_eq!(err.exit_code(), 91);
}

/// An extension ID, its pre-populated files and the expected message.
type Case = (
    &'static str,
    &'static [(&'static str, &'static str)],
    String,
);

#[test]
fn invalid_output_exits_92() {
    let cases: [Case; 5] = [
        (
            "bad-build",
            &[("generate/build.Dockerfile", "FROM ${base_image}\n")],
            "failed to build: failed to parse build.Dockerfile for extension bad-build: build.Dockerfile did not start with required ARG command".into(),
        ),
        (
            "multi",
            &[("generate/run.Dockerfile", "FROM a\nFROM b\n")],
            "failed to build: failed to parse run.Dockerfile for extension multi: run.Dockerfile is not permitted to use multistage build".into(),
        ),
        (
            "reserved",
            &[("generate/extend-config.toml", "[[run.args]]\nname = \"build_id\"\nvalue = \"1\"\n")],
            "failed to build: validating extend config: invalid content: arg with name \"build_id\" is not allowed".into(),
        ),
        (
            "contexts",
            &[("generate/context/a", ""), ("generate/context.run/b", "")],
            "failed to build: image-specific context dir is provided together with a shared context".into(),
        ),
        (
            "empty",
            &[("generate/run.Dockerfile", "# nothing\n")],
            "failed to build: failed to parse run.Dockerfile for extension empty: file with no instructions".into(),
        ),
    ];
    for (id, files, msg) in cases {
        let f = Fixture::new();
        f.extension(id, "0.9", "", None, files);
        let err = failure(&f, 13, &[id]);
        assert_eq!(err.to_string(), msg);
        assert_eq!(err.exit_code(), 92);
    }

    let f = Fixture::new();
    let err = failure(&f, 13, &["missing"]);
    assert_eq!(err.exit_code(), 92);
    assert!(
        err.to_string().starts_with("failed to build: open ")
            && err
                .to_string()
                .ends_with("extension.toml: no such file or directory"),
        "{err}"
    );
}

#[test]
fn reading_run_metadata() {
    let f = Fixture::new();
    let logger = Logger::new(Level::Error);
    assert_eq!(
        read_run(&f.path("run.toml"), &logger).unwrap(),
        Run::default()
    );
    fs::write(f.path("run.toml"), "[[images]]\nimage = \"x\"\n").unwrap();
    assert_eq!(
        read_run(&f.path("run.toml"), &logger).unwrap().images[0].image,
        "x"
    );
    fs::write(f.path("run.toml"), "images = 3\n").unwrap();
    let err = read_run(&f.path("run.toml"), &logger).unwrap_err();
    assert_eq!(err.exit_code(), 1);
    assert!(
        err.to_string()
            .starts_with("failed to initialize generator: failed to read run file: "),
        "{err}"
    );
}

//! The Tekton catalog's `buildpacks-phases` task, version 0.3 (Platform API 0.13): after
//! a root `prepare` step (ownership of `/layers`, `/tekton/home`, the workspaces; the
//! platform env files), the analyze, detect, restore, build and export steps run from the
//! builder image as its user (`CNB_USER_ID`), in its working directory `/layers`, with
//! `HOME=/tekton/home` (the registry credentials in `.docker/config.json`) and
//! `CNB_EXPERIMENTAL_MODE=silent`. Parameters left at their empty defaults reach the
//! lifecycle as literally empty values (`-run-image=`, `-tag=`, `-insecure-registry=`,
//! `-cache-image=`, and `-cache-dir=` when no cache workspace is bound); the restore
//! step's script passes `-layers=` empty (its `CNB_LAYERS_DIR` is never set) and
//! `-build-image=` the builder image. The `results` step reads the digest from
//! `/layers/report.toml`.

use std::fs;

use spec_tests::container::Container;
use spec_tests::examples::{self, assert_first_build, assert_rebuild};
use spec_tests::platform::{Pod, check_registry_image, docker_config_in_home, phase_ok};
use spec_tests::registry::Registry;
use spec_tests::{BUILD_GID, BUILD_UID};

/// One TaskRun: the task's parameters that the tests vary.
struct TaskRun {
    pod: Pod,
    registry: Registry,
    builder_image: String,
    app_image: String,
    /// `CNB_CACHE_IMAGE` (empty by default).
    cache_image: String,
    /// Whether the `cache` workspace is bound.
    cache_workspace: bool,
}

impl TaskRun {
    fn new(cache_image: Option<&str>, cache_workspace: bool) -> TaskRun {
        let registry = Registry::basic("tekton-bot", "tekton-secret");
        let work = tempfile::tempdir().unwrap();
        examples::run_image(&work.path().join("run"), 1);
        registry.seed(&work.path().join("run"), "latest", "tekton/run:latest");
        let pod = Pod::new(&registry.image("tekton/run:latest"));
        // The builder image is in the registry too: the restore step reads it.
        pod.builder.write_layout(&work.path().join("builder"));
        registry.seed(
            &work.path().join("builder"),
            "latest",
            "tekton/builder:latest",
        );
        TaskRun {
            builder_image: registry.image("tekton/builder:latest"),
            app_image: registry.image("tekton/app"),
            cache_image: cache_image.map(|c| registry.image(c)).unwrap_or_default(),
            cache_workspace,
            pod,
            registry,
        }
    }

    /// `$(workspaces.cache.path)`: the mount path when bound, empty otherwise.
    fn cache_path(&self) -> &'static str {
        if self.cache_workspace {
            "/workspace/cache"
        } else {
            ""
        }
    }

    /// A step of the task: the builder image as its user, with the step template's env,
    /// the workspaces and the task's volumes mounted.
    fn step(&self) -> Container {
        let mut c = self
            .pod
            .container()
            .user(BUILD_UID, BUILD_GID)
            .env("CNB_EXPERIMENTAL_MODE", "silent")
            .env("HOME", "/tekton/home")
            .env("CNB_PLATFORM_API", "0.13")
            .mount(&self.pod.volume("layers"), "/layers")
            .mount(&self.pod.volume("platform"), "/platform")
            .mount(&self.pod.volume("home"), "/tekton/home")
            .mount(&self.pod.volume("kaniko"), "/kaniko")
            .mount(&self.pod.volume("source"), "/workspace/source");
        if self.cache_workspace {
            c = c.mount(&self.pod.volume("cache"), "/workspace/cache");
        }
        c
    }

    /// The task's steps; returns their outputs, concatenated.
    fn run(&self) -> String {
        // Fresh emptyDirs for this TaskRun; the source workspace holds the app; prepare
        // (root) gives them to the builder's user and writes CNB_ENV_VARS to /platform/env.
        for volume in ["layers", "platform", "home", "kaniko"] {
            self.pod.empty_dir(volume);
        }
        self.pod.app_volume("source");
        let platform = self.pod.volume("platform");
        fs::create_dir_all(platform.join("env")).unwrap();
        fs::write(platform.join("env/BP_EXAMPLE"), "from-the-task").unwrap();
        docker_config_in_home(
            &self.registry,
            &self.pod.volume("home"),
            BUILD_UID,
            BUILD_GID,
        );
        for volume in ["layers", "source", "cache"] {
            examples::chown_tree(&self.pod.volume(volume), BUILD_UID, BUILD_GID);
        }

        let uid = format!("-uid={BUILD_UID}");
        let gid = format!("-gid={BUILD_GID}");
        let cache_image = format!("-cache-image={}", self.cache_image);
        let cache_dir = format!("-cache-dir={}", self.cache_path());
        let mut out = String::new();
        out += &phase_ok(
            &self.step(),
            &[
                "/cnb/lifecycle/analyzer",
                "-log-level=info",
                "-layers=/layers",
                "-run-image=",
                &cache_image,
                &uid,
                &gid,
                "-insecure-registry=",
                "-tag=",
                "-skip-layers=false",
                &self.app_image,
            ],
        )
        .all();
        out += &phase_ok(
            &self.step(),
            &[
                "/cnb/lifecycle/detector",
                "-log-level=info",
                "-app=/workspace/source/",
                "-group=/layers/group.toml",
                "-plan=/layers/plan.toml",
                "-layers=/layers",
                "-platform=/platform",
            ],
        )
        .all();
        // The restore step's script, with its variables expanded as bash expands them.
        out += &phase_ok(
            &self.step().env("UID", &BUILD_UID.to_string()),
            &[
                "/cnb/lifecycle/restorer",
                "-log-level=info",
                &format!("-build-image={}", self.builder_image),
                "-group=/layers/group.toml",
                "-layers=",
                &cache_dir,
                &cache_image,
                &uid,
                &gid,
                "-insecure-registry=",
                "-skip-layers=false",
            ],
        )
        .all();
        out += &phase_ok(
            &self.step(),
            &[
                "/cnb/lifecycle/builder",
                "-log-level=info",
                "-app=/workspace/source/",
                "-layers=/layers",
                "-group=/layers/group.toml",
                "-plan=/layers/plan.toml",
                "-platform=/platform",
            ],
        )
        .all();
        out += &phase_ok(
            &self.step(),
            &[
                "/cnb/lifecycle/exporter",
                "-log-level=info",
                "-app=/workspace/source/",
                "-layers=/layers",
                "-group=/layers/group.toml",
                &cache_dir,
                &cache_image,
                "-report=/layers/report.toml",
                "-process-type=web",
                &uid,
                &gid,
                "-insecure-registry=",
                &self.app_image,
            ],
        )
        .all();
        out
    }

    /// The results step: the digest in `/layers/report.toml`; then the image pulled by
    /// it, validated and run.
    fn check_image(&self) {
        let report = fs::read_to_string(self.pod.volume("layers").join("report.toml")).unwrap();
        let report: toml::Value = toml::from_str(&report).unwrap();
        let digest = report["image"]["digest"].as_str().unwrap();
        assert_eq!(
            report["image"]["tags"].as_array().unwrap().len(),
            1,
            "{report}"
        );
        check_registry_image(&self.registry, &format!("{}@{digest}", self.app_image), 1);
    }
}

#[test]
fn the_task_with_a_cache_workspace_and_empty_parameters_builds_and_rebuilds() {
    let run = TaskRun::new(None, true);
    let first = run.run();
    assert_first_build(&first);
    run.check_image();
    let second = run.run();
    assert_rebuild(&second);
    run.check_image();
}

#[test]
fn the_task_with_a_cache_image_and_no_cache_workspace() {
    let run = TaskRun::new(Some("tekton/app-cache"), false);
    assert_first_build(&run.run());
    run.check_image();
    assert_rebuild(&run.run());
    run.check_image();
}

//! kpack's build pod (pkg/apis/build/v1alpha2/build_pod.go of buildpacks-community/kpack,
//! Platform API 0.9): init containers analyze, detect, restore, build and export, each
//! from the builder image as the builder's user with no capabilities at all
//! (`runAsNonRoot`, `allowPrivilegeEscalation: false`, `capabilities: drop: [ALL]`), on
//! emptyDir volumes (`/layers`, `/workspace`, `/platform`, `/builder/home`,
//! `/var/report`) and a cache volume at `/cache` (or an image cache). Registry
//! credentials are in `$HOME/.docker/config.json`, written by kpack's build-init; tags
//! after the first go to the analyzer as `-tag=` and to the exporter as positional
//! arguments; `SOURCE_DATE_EPOCH` and `CNB_RUN_IMAGE` are set on the exporter.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use spec_tests::container::Container;
use spec_tests::examples::{self, assert_first_build, assert_rebuild};
use spec_tests::platform::{Pod, check_registry_image, docker_config_in_home, phase_ok};
use spec_tests::registry::Registry;
use spec_tests::{BUILD_GID, BUILD_UID};

const PLATFORM_API: &str = "0.9";
/// The build's `spec.creationTime`, as epoch seconds, and as the image records it.
const EPOCH: (&str, &str) = ("1600000000", "2020-09-13T12:26:40Z");

/// One kpack Build (the `Image` resource's tags, cache and run image) and its pod.
struct Kpack {
    pod: Pod,
    registry: Registry,
    /// The builder's run image (in /cnb/stack.toml), by tag.
    run_image: String,
    /// The run image as kpack passes it: `<tag>@<digest>`.
    pinned_run_image: String,
    tags: Vec<String>,
    cache_image: Option<String>,
}

impl Kpack {
    fn new(cache_image: Option<&str>) -> Kpack {
        let registry = Registry::basic("kpack-sa", "kpack-secret");
        let run_dir = tempfile::tempdir().unwrap();
        let run_layout = run_dir.path().join("run");
        let digest = examples::run_image(&run_layout, 1);
        registry.seed(&run_layout, "latest", "kpack/run:latest");
        let run_image = registry.image("kpack/run:latest");
        Kpack {
            pod: Pod::new(&run_image),
            tags: vec![
                registry.image("kpack/app"),
                registry.image("kpack/app:build-1"),
            ],
            cache_image: cache_image.map(|c| registry.image(c)),
            registry,
            pinned_run_image: format!("{run_image}@{digest}"),
            run_image,
        }
    }

    /// The cache volume (a PersistentVolumeClaim kept between builds), group-owned by
    /// the pod's `fsGroup` with the set-group-ID bit, as the kubelet prepares it.
    fn cache_volume(&self) -> PathBuf {
        let dir = self.pod.volume("cache");
        std::os::unix::fs::chown(&dir, Some(0), Some(BUILD_GID)).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o2775)).unwrap();
        dir
    }

    /// A step of the pod: the builder image as its user, with no capabilities.
    fn step(&self) -> Container {
        self.pod
            .container()
            .user(BUILD_UID, BUILD_GID)
            .env("CNB_PLATFORM_API", PLATFORM_API)
    }

    /// The cache flag every cache-using step gets, and the cache volume when it is one.
    fn cache(&self, c: Container) -> (Container, String) {
        match &self.cache_image {
            Some(image) => (c, format!("-cache-image={image}")),
            None => (
                c.mount(&self.cache_volume(), "/cache"),
                "-cache-dir=/cache".into(),
            ),
        }
    }

    /// The pod of one build; `previous` is the last build's image (its digest
    /// reference). Returns the steps' outputs, concatenated.
    fn build(&self, previous: Option<&str>) -> String {
        // The emptyDirs, then what build-init (as the builder's user) leaves in them: the
        // source, the platform env, the project metadata, the registry credentials.
        let layers = self.pod.empty_dir("layers");
        let workspace = self.pod.empty_dir("workspace");
        let platform = self.pod.empty_dir("platform");
        let home = self.pod.empty_dir("home");
        let report = self.pod.empty_dir("report");
        examples::app_source(&workspace);
        fs::create_dir_all(platform.join("env")).unwrap();
        fs::write(platform.join("env/BP_EXAMPLE"), "from-the-image-resource").unwrap();
        examples::chown_tree(&platform, BUILD_UID, BUILD_GID);
        fs::write(
            layers.join("project-metadata.toml"),
            "[source]\n  type = \"git\"\n  [source.metadata]\n    repository = \"https://example.com/app.git\"\n    revision = \"0123abcd\"\n",
        )
        .unwrap();
        examples::chown_tree(&layers, BUILD_UID, BUILD_GID);
        docker_config_in_home(&self.registry, &home, BUILD_UID, BUILD_GID);

        let mut out = String::new();
        // analyze
        let mut args = vec![
            "/cnb/lifecycle/analyzer".to_string(),
            "-layers=/layers".into(),
            "-analyzed=/layers/analyzed.toml".into(),
            format!("-run-image={}", self.pinned_run_image),
        ];
        if let Some(image) = &self.cache_image {
            args.push(format!("-cache-image={image}"));
        }
        args.extend(self.tags[1..].iter().map(|t| format!("-tag={t}")));
        if let Some(previous) = previous {
            args.push(format!("-previous-image={previous}"));
        }
        args.push(self.tags[0].clone());
        let analyze = self
            .step()
            .mount(&layers, "/layers")
            .mount(&workspace, "/workspace")
            .mount(&home, "/builder/home")
            .env("HOME", "/builder/home")
            .env("SERVICE_BINDING_ROOT", "/platform/bindings");
        out += &phase_ok(&analyze, &strs(&args)).all();

        // detect
        let detect = self
            .step()
            .mount(&layers, "/layers")
            .mount(&platform, "/platform")
            .mount(&workspace, "/workspace");
        out += &phase_ok(
            &detect,
            &[
                "/cnb/lifecycle/detector",
                "-app=/workspace",
                "-group=/layers/group.toml",
                "-plan=/layers/plan.toml",
            ],
        )
        .all();

        // restore
        let (restore, cache_flag) = self.cache(
            self.step()
                .mount(&layers, "/layers")
                .mount(&home, "/builder/home")
                .env("HOME", "/builder/home"),
        );
        out += &phase_ok(
            &restore,
            &[
                "/cnb/lifecycle/restorer",
                "-group=/layers/group.toml",
                "-layers=/layers",
                &cache_flag,
                "-analyzed=/layers/analyzed.toml",
            ],
        )
        .all();

        // build
        let build = self
            .step()
            .mount(&layers, "/layers")
            .mount(&platform, "/platform")
            .mount(&workspace, "/workspace")
            .env("SERVICE_BINDING_ROOT", "/platform/bindings");
        out += &phase_ok(
            &build,
            &[
                "/cnb/lifecycle/builder",
                "-layers=/layers",
                "-app=/workspace",
                "-group=/layers/group.toml",
                "-plan=/layers/plan.toml",
            ],
        )
        .all();

        // export
        let (export, cache_flag) = self.cache(
            self.step()
                .mount(&layers, "/layers")
                .mount(&workspace, "/workspace")
                .mount(&home, "/builder/home")
                .mount(&report, "/var/report")
                .env("HOME", "/builder/home")
                .env("SOURCE_DATE_EPOCH", EPOCH.0)
                .env("CNB_RUN_IMAGE", &self.pinned_run_image),
        );
        let mut args: Vec<String> = [
            "/cnb/lifecycle/exporter",
            "-layers=/layers",
            "-app=/workspace",
            "-group=/layers/group.toml",
            "-analyzed=/layers/analyzed.toml",
            "-project-metadata=/layers/project-metadata.toml",
            &cache_flag,
            "-process-type=web",
            "-report=/var/report/report.toml",
        ]
        .map(String::from)
        .into();
        args.extend(self.tags.iter().cloned());
        out += &phase_ok(&export, &strs(&args)).all();
        out
    }

    /// The digest kpack's completion step reads from the report.
    fn reported_digest(&self) -> String {
        let report = fs::read_to_string(self.pod.volume("report").join("report.toml")).unwrap();
        let report: toml::Value = toml::from_str(&report).unwrap();
        report["image"]["digest"].as_str().unwrap().to_string()
    }

    /// Pulls each tag, checks it is the reported image and runs it.
    fn check_image(&self) {
        let digest = self.reported_digest();
        // What kpack's completion step and its rebase read: the first tag as given in
        // the report, the stack ID, the launcher version and the run image as
        // /cnb/stack.toml names it (kpack builders have no run.toml).
        let report: toml::Value = toml::from_str(
            &fs::read_to_string(self.pod.volume("report").join("report.toml")).unwrap(),
        )
        .unwrap();
        assert_eq!(
            report["image"]["tags"][0].as_str(),
            Some(self.tags[0].as_str())
        );
        let config = check_registry_image(&self.registry, &self.tags[0], 1);
        let labels = &config["config"]["Labels"];
        assert!(labels["io.buildpacks.stack.id"].is_string(), "{labels}");
        let label = |key: &str| -> serde_json::Value {
            serde_json::from_str(labels[key].as_str().unwrap()).unwrap()
        };
        assert!(label("io.buildpacks.build.metadata")["launcher"]["version"].is_string());
        let lifecycle = label("io.buildpacks.lifecycle.metadata");
        assert!(
            lifecycle["runImage"]["reference"].is_string(),
            "{lifecycle}"
        );
        assert_eq!(
            lifecycle["stack"]["runImage"]["image"].as_str(),
            Some(self.run_image.as_str()),
            "{lifecycle}"
        );
        for tag in &self.tags {
            let config = check_registry_image(&self.registry, tag, 1);
            assert_eq!(
                config["created"].as_str(),
                Some(EPOCH.1),
                "SOURCE_DATE_EPOCH"
            );
            let project = config["config"]["Labels"]["io.buildpacks.project.metadata"]
                .as_str()
                .unwrap();
            assert!(project.contains("0123abcd"), "{project}");
        }
        let by_digest = format!("{}@{digest}", self.tags[0]);
        check_registry_image(&self.registry, &by_digest, 1);
    }
}

fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

#[test]
fn a_build_pod_with_a_volume_cache_and_its_rebuild() {
    let kpack = Kpack::new(None);
    let first = kpack.build(None);
    assert_first_build(&first);
    kpack.check_image();
    let previous = format!("{}@{}", kpack.tags[0], kpack.reported_digest());
    let second = kpack.build(Some(&previous));
    assert_rebuild(&second);
    kpack.check_image();
}

#[test]
fn a_build_pod_with_an_image_cache() {
    let kpack = Kpack::new(Some("kpack/app-cache"));
    assert_first_build(&kpack.build(None));
    kpack.check_image();
    assert_rebuild(&kpack.build(None));
    kpack.check_image();
}

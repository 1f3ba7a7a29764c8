//! The analyzer, run as root the way a platform runs it (it drops to the build user),
//! against a real registry (anonymous, basic auth, and behind a proxy denying some
//! repositories), a real Docker daemon and OCI layouts, across Platform APIs: the
//! analyzed.toml it writes, run-image choice among mirrors, previous images exported by
//! our exporter (metadata and launch SBOM), validation and access failures, ownership.

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use spec_tests::dockerd::{self, Dockerd};
use spec_tests::export::{Exported, built};
use spec_tests::images::{self, LayoutImage};
use spec_tests::registry::{Fault, FaultProxy, FaultRule, Registry};
use spec_tests::{BUILD_GID, BUILD_UID, Build, Ran, run};

/// Platform APIs where the analyzer's behaviour differs: first one, last with
/// stack.toml, first with run.toml and targets, latest.
const APIS: [&str; 4] = ["0.7", "0.11", "0.12", "0.15"];
const LATEST: &str = "0.15";

/// Where the launch SBOM of the exporter fixture's buildpack lands.
const RESTORED_SBOM: &str = "layers/sbom/launch/test_maker/launch-layer/sbom.cdx.json";

fn minor(api: &str) -> u32 {
    api.trim_start_matches("0.").parse().unwrap()
}

/// Runs the analyzer as root on `build`'s layers, as uid/gid of the build user, with
/// `args` (ending with the image) and extra environment.
fn analyzer(build: &Build, args: &[&str], env: &[(&str, &str)]) -> Ran {
    let mut cmd = analyzer_cmd(build, args);
    cmd.envs(env.iter().copied());
    run(&mut cmd)
}

fn analyzer_cmd(build: &Build, args: &[&str]) -> std::process::Command {
    let layers = build.path("layers").display().to_string();
    let (uid, gid) = (BUILD_UID.to_string(), BUILD_GID.to_string());
    let mut all = vec!["-layers", &layers, "-uid", &uid, "-gid", &gid];
    all.extend_from_slice(args);
    build.phase_as_root("analyzer", &all)
}

/// The analyzed.toml at `rel` in the build, parsed.
fn analyzed_at(build: &Build, rel: &str) -> toml::Value {
    toml::from_str(&build.read(rel)).unwrap()
}

fn analyzed(build: &Build) -> toml::Value {
    analyzed_at(build, "layers/analyzed.toml")
}

fn text<'a>(v: &'a toml::Value, path: &[&str]) -> &'a str {
    let mut v = v;
    for key in path {
        v = v.get(key).unwrap_or_else(|| panic!("no {path:?} in {v}"));
    }
    v.as_str().unwrap()
}

/// Writes the run metadata for `api` (run.toml from 0.12, stack.toml before) naming
/// `image` and `mirrors`, and returns the flags pointing at it.
fn run_metadata(build: &Build, api: &str, image: &str, mirrors: &[&str]) -> Vec<String> {
    let mirrors = mirrors
        .iter()
        .map(|m| format!("{m:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    if minor(api) >= 12 {
        let path = build.write(
            "cnb/run.toml",
            &format!("[[images]]\nimage = {image:?}\nmirrors = [{mirrors}]\n"),
        );
        vec!["-run".into(), path.display().to_string()]
    } else {
        let path = build.write(
            "cnb/stack.toml",
            &format!("[run-image]\nimage = {image:?}\nmirrors = [{mirrors}]\n"),
        );
        vec!["-stack".into(), path.display().to_string()]
    }
}

/// A run image layout (the harness's, with a target ID label) under `build`.
fn run_layout(build: &Build) -> LayoutImage {
    images::run_image(
        &build.path("run-image"),
        &[("io.buildpacks.base.id", "test.target")],
    )
}

/// Checks `[run-image]` of analyzed.toml for the harness's run image on `api`.
fn assert_run_image(a: &toml::Value, api: &str, reference: &str, image: &str) {
    let run = &a["run-image"];
    assert_eq!(text(run, &["reference"]), reference, "{a}");
    if minor(api) < 12 {
        assert!(
            run.get("image").is_none() && run.get("target").is_none(),
            "{a}"
        );
        return;
    }
    assert_eq!(text(run, &["image"]), image, "{a}");
    let target = &run["target"];
    assert_eq!(text(target, &["os"]), "linux");
    assert_eq!(text(target, &["arch"]), "amd64");
    assert_eq!(text(target, &["id"]), "test.target");
    assert_eq!(text(target, &["distro", "name"]), "testos");
    assert_eq!(text(target, &["distro", "version"]), "1.0");
}

fn owner(path: &Path) -> (u32, u32) {
    let meta = fs::metadata(path).unwrap();
    (meta.uid(), meta.gid())
}

#[test]
fn first_build_in_a_registry_on_every_platform_api() {
    let registry = Registry::anonymous();
    for api in APIS {
        let build = Build::new(api);
        let run_image = run_layout(&build);
        registry.seed(&run_image.path, "latest", "run:latest");
        let flags = run_metadata(&build, api, &registry.image("run:latest"), &[]);
        let app = registry.image("app:latest");
        let mut args: Vec<&str> = flags.iter().map(String::as_str).collect();
        args.push(&app);
        analyzer(&build, &args, &[])
            .expect_code(0)
            .expect_output(&format!("Image with name {app:?} not found"));
        let a = analyzed(&build);
        assert_eq!(text(&a, &["image", "reference"]), "", "{a}");
        let reference = format!("{}@{}", registry.image("run"), run_image.digest);
        assert_run_image(&a, api, &reference, &registry.image("run:latest"));
        assert_eq!(
            owner(&build.path("layers/analyzed.toml")),
            (BUILD_UID, BUILD_GID)
        );
    }
}

#[test]
fn run_image_from_the_flag_or_the_environment() {
    let registry = Registry::anonymous();
    let build = Build::new(LATEST);
    let run_image = run_layout(&build);
    registry.seed(&run_image.path, "latest", "run:latest");
    let name = registry.image("run:latest");
    let reference = format!("{}@{}", registry.image("run"), run_image.digest);
    let app = registry.image("app");
    analyzer(&build, &["-run-image", &name, &app], &[]).expect_code(0);
    assert_run_image(&analyzed(&build), LATEST, &reference, &name);
    fs::remove_file(build.path("layers/analyzed.toml")).unwrap();
    analyzer(&build, &[&app], &[("CNB_RUN_IMAGE", &name)]).expect_code(0);
    assert_run_image(&analyzed(&build), LATEST, &reference, &name);
}

#[test]
fn the_readable_mirror_on_the_output_registry_wins() {
    let target = Registry::anonymous();
    let other = Registry::anonymous();
    let locked = Registry::basic("user", "secret-pass");
    for api in ["0.11", LATEST] {
        let build = Build::new(api);
        let run_image = run_layout(&build);
        for r in [&target, &other, &locked] {
            r.seed(&run_image.path, "latest", "run:latest");
        }
        let app = target.image("app");
        let cases = [
            // The image is not on the output's registry: its mirror there wins.
            (&other, vec![&target], &target),
            // None on the output's registry: the first readable one, in order.
            (&locked, vec![&other, &target], &target),
            (&locked, vec![&other], &other),
        ];
        for (image, mirrors, chosen) in cases {
            let mirrors: Vec<String> = mirrors.iter().map(|r| r.image("run:latest")).collect();
            let mirrors: Vec<&str> = mirrors.iter().map(String::as_str).collect();
            let flags = run_metadata(&build, api, &image.image("run:latest"), &mirrors);
            let mut args: Vec<&str> = flags.iter().map(String::as_str).collect();
            args.push(&app);
            analyzer(&build, &args, &[]).expect_code(0);
            let reference = format!("{}@{}", chosen.image("run"), run_image.digest);
            assert_run_image(
                &analyzed(&build),
                api,
                &reference,
                &chosen.image("run:latest"),
            );
        }
    }
}

#[test]
fn no_accessible_run_image_or_no_run_metadata_fails() {
    let locked = Registry::basic("user", "secret-pass");
    let open = Registry::anonymous();
    for api in ["0.11", "0.12", LATEST] {
        let build = Build::new(api);
        let run_image = run_layout(&build);
        locked.seed(&run_image.path, "latest", "run:latest");
        let flags = run_metadata(&build, api, &locked.image("run:latest"), &[]);
        let app = open.image("app");
        let mut args: Vec<&str> = flags.iter().map(String::as_str).collect();
        args.push(&app);
        analyzer(&build, &args, &[])
            .expect_code(3)
            .expect_output("ERROR: failed to resolve inputs: failed to find accessible run image");
        assert!(!build.path("layers/analyzed.toml").exists());

        let missing = build.path("cnb/none.toml").display().to_string();
        let flag = if minor(api) >= 12 { "-run" } else { "-stack" };
        let ran = analyzer(&build, &[flag, &missing, &app], &[]);
        ran.expect_code(3);
        if minor(api) >= 12 {
            ran.expect_output(&format!("No run metadata found at path {missing:?}"))
                .expect_output("-run-image is required when there is no run metadata available");
        } else {
            ran.expect_output(&format!("No stack metadata found at path {missing:?}"))
                .expect_output("missing run image metadata (-run-image)");
        }
    }
}

#[test]
fn basic_auth_credentials_are_used_for_every_image() {
    let registry = Registry::basic("user", "secret-pass");
    let build = Build::new(LATEST);
    let run_image = run_layout(&build);
    registry.seed(&run_image.path, "latest", "run:latest");
    let auth = registry.registry_auth();
    let run_name = registry.image("run:latest");
    let app = registry.image("app");
    let tag = registry.image("app:v2");
    let cache = registry.image("cache");
    let args = [
        "-run-image",
        &run_name,
        "-tag",
        &tag,
        "-cache-image",
        &cache,
        &app,
    ];
    analyzer(&build, &args, &[("CNB_REGISTRY_AUTH", &auth)]).expect_code(0);
    let reference = format!("{}@{}", registry.image("run"), run_image.digest);
    assert_run_image(&analyzed(&build), LATEST, &reference, &run_name);
    // Without credentials the first write check (the cache image) fails.
    analyzer(&build, &args, &[])
        .expect_code(32)
        .expect_output(&format!(
            "ERROR: failed to initialize analyzer: validating registry read access: failed to ensure registry read access to {app}"
        ));
}

#[test]
fn a_tag_that_cannot_be_written_fails_before_analyzing() {
    let registry = Registry::anonymous();
    let deny = |path: &str, method: Option<&str>| FaultRule {
        method: method.map(str::to_string),
        path_contains: path.into(),
        fault: Fault::Status(403),
        times: usize::MAX,
    };
    let proxy = FaultProxy::start(
        registry.host(),
        vec![
            deny("/v2/readonly/blobs/uploads", Some("POST")),
            deny("/v2/secret/", None),
        ],
    );
    let build = Build::new(LATEST);
    let run_image = run_layout(&build);
    registry.seed(&run_image.path, "latest", "run:latest");
    let host = proxy.host();
    let run_name = format!("{host}/run:latest");
    let app = format!("{host}/app:latest");
    let good_tag = format!("{host}/app:other");
    analyzer(
        &build,
        &["-run-image", &run_name, "-tag", &good_tag, &app],
        &[],
    )
    .expect_code(0);
    assert_eq!(text(&analyzed(&build), &["image", "reference"]), "");

    let bad_tag = format!("{host}/readonly:v1");
    fs::remove_file(build.path("layers/analyzed.toml")).unwrap();
    analyzer(&build, &["-run-image", &run_name, "-tag", &bad_tag, &app], &[])
        .expect_code(32)
        .expect_output(&format!(
            "ERROR: failed to initialize analyzer: validating registry write access: failed to ensure registry read/write access to {bad_tag}"
        ));
    assert!(!build.path("layers/analyzed.toml").exists());

    let secret = format!("{host}/secret:latest");
    analyzer(
        &build,
        &["-run-image", &run_name, "-previous-image", &secret, &app],
        &[],
    )
    .expect_code(32)
    .expect_output(&format!(
        "failed to ensure registry read access to {secret}"
    ));
}

#[test]
fn validation_of_names_and_flags() {
    let build = Build::new(LATEST);
    let run_flag = ["-run-image", "example.com/run"];
    analyzer(&build, &run_flag, &[])
        .expect_code(3)
        .expect_output("failed to parse arguments: received 0 arguments, but expected 1");
    let mut bad = run_flag.to_vec();
    bad.push("Not/A/Valid:Ref:x");
    analyzer(&build, &bad, &[])
        .expect_code(3)
        .expect_output("ERROR: failed to resolve inputs: ");
    let two = [
        "-run-image",
        "example.com/run",
        "-tag",
        "other.example.com/app:v2",
        "example.com/app",
    ];
    analyzer(&build, &two, &[])
        .expect_code(3)
        .expect_output("writing to multiple registries is unsupported");
    let bad_previous = [
        "-run-image",
        "example.com/run",
        "-previous-image",
        "UPPER/Case",
        "example.com/app",
    ];
    analyzer(&build, &bad_previous, &[]).expect_code(3);
    let layout = build.path("layout").display().to_string();
    analyzer(
        &build,
        &[
            "-layout",
            "-layout-dir",
            &layout,
            "-run-image",
            "run",
            "app",
        ],
        &[("CNB_EXPERIMENTAL_MODE", "error")],
    )
    .expect_code(1)
    .expect_output("experimental features are disabled by CNB_EXPERIMENTAL_MODE=error");
}

#[test]
fn layers_directory_is_given_to_the_build_user_and_analyzed_path_honoured() {
    let registry = Registry::anonymous();
    let build = Build::new(LATEST);
    let run_image = run_layout(&build);
    registry.seed(&run_image.path, "latest", "run:latest");
    build.write(
        "layers/group.toml",
        "[[group]]\nid = \"x\"\nversion = \"1\"\n",
    );
    fs::create_dir_all(build.path("some-dir")).unwrap();
    let run_name = registry.image("run:latest");
    let app = registry.image("app");
    let custom = build
        .path("some-dir/some-analyzed.toml")
        .display()
        .to_string();
    let launch_cache = build.path("launch-cache").display().to_string();
    let mut cmd = analyzer_cmd(
        &build,
        &[
            "-analyzed",
            &custom,
            "-run-image",
            &run_name,
            "-launch-cache",
            &launch_cache,
            &app,
        ],
    );
    // Volumes owned by someone else, as a platform may mount them.
    for entry in walkdir::WalkDir::new(build.path("layers")) {
        let entry = entry.unwrap();
        std::os::unix::fs::lchown(entry.path(), Some(9999), Some(9999)).unwrap();
    }
    let ran = run(&mut cmd);
    ran.expect_code(0)
        .expect_output("Ignoring -launch-cache, only intended for use with -daemon");
    assert_eq!(owner(&build.path("layers")), (BUILD_UID, BUILD_GID));
    assert_eq!(
        owner(&build.path("layers/group.toml")),
        (BUILD_UID, BUILD_GID)
    );
    assert_eq!(
        owner(&build.path("some-dir/some-analyzed.toml")),
        (BUILD_UID, BUILD_GID)
    );
    assert!(!build.path("layers/analyzed.toml").exists());
    let reference = format!("{}@{}", registry.image("run"), run_image.digest);
    assert_run_image(
        &analyzed_at(&build, "some-dir/some-analyzed.toml"),
        LATEST,
        &reference,
        &run_name,
    );
}

#[test]
fn a_corrupt_metadata_label_is_ignored() {
    let registry = Registry::anonymous();
    let build = Build::new(LATEST);
    let run_image = run_layout(&build);
    registry.seed(&run_image.path, "latest", "run:latest");
    let app = images::run_image(
        &build.path("app-image"),
        &[("io.buildpacks.lifecycle.metadata", "{not json")],
    );
    registry.seed(&app.path, "latest", "app:latest");
    let run_name = registry.image("run:latest");
    let app_name = registry.image("app:latest");
    analyzer(&build, &["-run-image", &run_name, &app_name], &[]).expect_code(0);
    let a = analyzed(&build);
    assert_eq!(text(&a, &["image", "reference"]), "", "{a}");
    assert!(a["metadata"].get("buildpacks").is_none(), "{a}");
}

/// The exporter fixture's build exported to `registry` as `app:latest`, with its
/// `layers/sbom` and analyzed.toml removed so the analyzer's restore can be seen.
fn exported_to_registry(registry: &Registry) -> (Exported, String, String) {
    let e = built(LATEST);
    registry.seed(&e.run_image.path, "latest", "run:latest");
    let run_ref = format!("{}@{}", registry.image("run"), e.run_image.digest);
    e.analyze(&run_ref, None);
    let app = registry.image("app:latest");
    e.exporter(&[&app], &[]).expect_code(0);
    fresh(&e);
    (e, app, registry.image("run:latest"))
}

fn fresh(e: &Exported) {
    let sbom = e.build.path("layers/sbom");
    if sbom.exists() {
        fs::remove_dir_all(sbom).unwrap();
    }
    fs::remove_file(e.build.path("layers/analyzed.toml")).unwrap();
}

/// Checks analyzed.toml names the previous image by `reference` with the fixture's
/// buildpack layers in its metadata.
fn assert_previous(b: &Build, reference_prefix: &str) {
    let a = analyzed(b);
    let reference = text(&a, &["image", "reference"]);
    assert!(reference.starts_with(reference_prefix), "{a}");
    let bp = &a["metadata"]["buildpacks"][0];
    assert_eq!(text(bp, &["key"]), "test/maker");
    let layer = &bp["layers"]["launch-layer"];
    assert!(text(layer, &["sha"]).starts_with("sha256:"), "{a}");
    assert_eq!(layer["launch"].as_bool(), Some(true));
    assert_eq!(text(layer, &["metadata", "version"]), "1.2.3");
    assert!(text(&a, &["metadata", "sbom", "sha"]).starts_with("sha256:"));
}

#[test]
fn a_previous_image_in_the_registry_gives_metadata_and_its_sbom() {
    let registry = Registry::anonymous();
    let (e, app, run_name) = exported_to_registry(&registry);
    let b = &e.build;
    analyzer(b, &["-run-image", &run_name, &app], &[])
        .expect_code(0)
        .expect_output("Restoring data for SBOM from previous image");
    assert_previous(b, &format!("{}@sha256:", registry.image("app")));
    let sbom = b.path(RESTORED_SBOM);
    assert!(b.read(RESTORED_SBOM).contains("CycloneDX"));
    assert_eq!(owner(&sbom), (BUILD_UID, BUILD_GID));

    // -previous-image names it when the output image is new.
    fresh(&e);
    let new = registry.image("new-app");
    analyzer(
        b,
        &["-run-image", &run_name, "-previous-image", &app, &new],
        &[],
    )
    .expect_code(0);
    assert_previous(b, &format!("{}@sha256:", registry.image("app")));

    // -skip-layers (0.9+) and Platform API 0.7 leave the SBOM alone; the metadata is
    // still recorded.
    for (api, skip) in [(LATEST, true), ("0.7", false)] {
        fresh(&e);
        let mut args = vec!["-run-image", &run_name];
        if skip {
            args.push("-skip-layers");
        }
        args.push(&app);
        analyzer(b, &args, &[("CNB_PLATFORM_API", api)])
            .expect_code(0)
            .expect_no_output("Restoring data for SBOM");
        assert_previous(b, &format!("{}@sha256:", registry.image("app")));
        assert!(!b.path("layers/sbom").exists());
    }
}

/// Every file under `dir`, relative.
fn files(dir: &Path) -> BTreeSet<String> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| !e.file_type().is_dir())
        .map(|e| e.path().strip_prefix(dir).unwrap().display().to_string())
        .collect()
}

fn load_run_image(d: &Dockerd, layout: &Path, name: &str) -> String {
    d.load_oci(layout, "latest", name);
    d.image_id(name)
        .expect("loaded")
        .trim_start_matches("sha256:")
        .to_string()
}

#[test]
fn daemon_images_by_id_without_layer_metadata_files() {
    let d = dockerd::shared();
    let e = built(LATEST);
    let run_name = "cnb-test/analyzer-run:latest";
    let run_id = load_run_image(d, &e.run_image.path, run_name);
    e.analyze(&run_id, None);
    let app = "cnb-test/analyzer-app:latest";
    e.exporter(&["-daemon", app], &[("DOCKER_HOST", d.host())])
        .expect_code(0);
    let app_id = d.image_id(app).unwrap();
    fresh(&e);
    let b = &e.build;
    let before = files(&b.path("layers"));
    for api in ["0.11", LATEST] {
        let _ = fs::remove_dir_all(b.path("layers/sbom"));
        let env = [("DOCKER_HOST", d.host()), ("CNB_PLATFORM_API", api)];
        analyzer(b, &["-daemon", "-run-image", run_name, app], &env)
            .expect_code(0)
            .expect_output("Restoring data for SBOM from previous image");
        let a = analyzed(b);
        assert_eq!(
            text(&a, &["image", "reference"]),
            app_id.trim_start_matches("sha256:")
        );
        assert_previous(b, "");
        let run = &a["run-image"];
        assert_eq!(text(run, &["reference"]), run_id);
        if minor(api) >= 12 {
            assert_eq!(text(run, &["image"]), run_name);
            assert_eq!(text(run, &["target", "os"]), "linux");
        }
        assert!(b.read(RESTORED_SBOM).contains("CycloneDX"));
        // Only analyzed.toml and the SBOM are new: no layer metadata is restored.
        let added: Vec<String> = files(&b.path("layers"))
            .difference(&before)
            .filter(|f| !f.starts_with("sbom/launch/"))
            .cloned()
            .collect();
        assert_eq!(added, vec!["analyzed.toml".to_string()]);
    }
    // Tags on other registries are fine with the daemon; an absent previous image too.
    analyzer(
        b,
        &[
            "-daemon",
            "-run-image",
            run_name,
            "-tag",
            "other.example.com/x:1",
            "cnb-test/none",
        ],
        &[("DOCKER_HOST", d.host())],
    )
    .expect_code(0)
    .expect_output("Image with name \"cnb-test/none\" not found");
    assert_eq!(text(&analyzed(b), &["image", "reference"]), "");
}

#[test]
fn a_cache_image_must_be_writable_even_with_the_daemon() {
    let d = dockerd::shared();
    let locked = Registry::basic("user", "secret-pass");
    let build = Build::new(LATEST);
    let run_image = run_layout(&build);
    let run_name = "cnb-test/analyzer-cache-run:latest";
    load_run_image(d, &run_image.path, run_name);
    let cache = locked.image("cache");
    let args = [
        "-daemon",
        "-run-image",
        run_name,
        "-cache-image",
        &cache,
        "cnb-test/app",
    ];
    analyzer(&build, &args, &[("DOCKER_HOST", d.host())])
        .expect_code(32)
        .expect_output(&format!(
            "validating registry write access: failed to ensure registry read/write access to {cache}"
        ));
    let auth = locked.registry_auth();
    analyzer(
        &build,
        &args,
        &[("DOCKER_HOST", d.host()), ("CNB_REGISTRY_AUTH", &auth)],
    )
    .expect_code(0);
}

#[test]
fn layout_images_by_path() {
    let e = built(LATEST);
    let b = &e.build;
    let layout = b.path("layout-repo");
    let run_dir = layout.join("index.docker.io/library/busybox/latest");
    let run = images::run_image(&run_dir, &[]);
    let layout_s = layout.display().to_string();
    let env = [("CNB_EXPERIMENTAL_MODE", "warn")];
    e.analyze(&run.identifier(), None);
    e.exporter(&["-layout", "-layout-dir", &layout_s, "my-app"], &env)
        .expect_code(0);
    fresh(&e);
    let ran = analyzer(
        b,
        &[
            "-layout",
            "-layout-dir",
            &layout_s,
            "-run-image",
            "busybox",
            "my-app",
        ],
        &env,
    );
    ran.expect_code(0)
        .expect_output("Restoring data for SBOM from previous image");
    let a = analyzed(b);
    let app_dir = layout.join("index.docker.io/library/my-app/latest");
    assert_previous(b, &format!("{}@sha256:", app_dir.display()));
    assert_eq!(text(&a, &["run-image", "reference"]), run.identifier());
    assert_eq!(
        text(&a, &["run-image", "image"]),
        run_dir.display().to_string()
    );
    assert_eq!(text(&a, &["run-image", "target", "arch"]), "amd64");
    assert!(b.read(RESTORED_SBOM).contains("CycloneDX"));

    // An absent run image in the layout: empty reference, the default platform.
    fs::remove_dir_all(b.path("layers/sbom")).unwrap();
    analyzer(
        b,
        &[
            "-layout",
            "-layout-dir",
            &layout_s,
            "-run-image",
            "absent",
            "-skip-layers",
            "my-app",
        ],
        &env,
    )
    .expect_code(0)
    .expect_output("not found");
    let a = analyzed(b);
    assert_eq!(text(&a, &["run-image", "reference"]), "");
    assert_eq!(text(&a, &["run-image", "target", "os"]), "linux");
}

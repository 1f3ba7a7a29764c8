//! The exporter writing OCI layouts (`-layout`), driven as a platform drives it after
//! detect and build: the image is checked with oci-image-tool, skopeo and umoci, and run
//! (unpacked, chroot) to show the launcher starts the process.

use std::fs;
use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;
use spec_tests::export::{
    Exported, blob, built, in_rootfs, json_file, read_image, run_in_image, tool,
};
use spec_tests::images;
use spec_tests::{BUILD_UID, Ran, run};

const LATEST: &str = "0.15";

fn layout_dir(e: &Exported) -> PathBuf {
    e.build.path("layout-repo")
}

fn image_dir(e: &Exported, name: &str) -> PathBuf {
    layout_dir(e)
        .join("index.docker.io/library")
        .join(name)
        .join("latest")
}

/// Exports to the layout directory with experimental features allowed (warned).
fn export_env(e: &Exported, extra: &[&str], name: &str, env: &[(&str, &str)]) -> Ran {
    let layout = layout_dir(e).display().to_string();
    let mut args = vec!["-layout", "-layout-dir", &layout];
    args.extend_from_slice(extra);
    args.push(name);
    let mut env = env.to_vec();
    env.push(("CNB_EXPERIMENTAL_MODE", "warn"));
    e.exporter(&args, &env)
}

fn export(e: &Exported, extra: &[&str], name: &str) -> Ran {
    export_env(e, extra, name, &[])
}

/// analyzed.toml for a rebuild on top of the image exported as `name`.
fn analyze_previous(e: &Exported, name: &str) {
    let dir = image_dir(e, name);
    let (digest, _, config) = read_image(&dir);
    let reference = format!("{}@{digest}", dir.display());
    e.analyze(&e.run_image.identifier(), Some((&reference, &config)));
}

#[test]
fn exports_a_runnable_image_to_a_layout() {
    let e = built(LATEST);
    let ran = export(&e, &[], "my-app");
    ran.expect_code(0)
        .expect_output(&format!("Saving {}...", image_dir(&e, "my-app").display()))
        .expect_output("Adding layer 'test/maker:launch-layer'")
        .expect_output("Adding layer 'test/maker:launch-cache'")
        .expect_output("Adding layer 'buildpacksio/lifecycle:launch.sbom'")
        .expect_output("Added 1/1 app layer(s)")
        .expect_output("Adding layer 'buildpacksio/lifecycle:launcher'")
        .expect_output("Adding layer 'buildpacksio/lifecycle:config'")
        .expect_output("Adding layer 'buildpacksio/lifecycle:process-types'")
        .expect_output("Adding label 'io.buildpacks.lifecycle.metadata'")
        .expect_output("Adding label 'some.label'")
        .expect_output("Setting default process type 'web'")
        .expect_no_output("test/maker:cache-layer'")
        .expect_no_output("build-only");
    let dir = image_dir(&e, "my-app");
    let (digest, manifest, config) = read_image(&dir);

    // The report names the image and its digest.
    let report = e.build.read("layers/report.toml");
    assert!(
        report.contains(&format!("digest = \"{digest}\"")),
        "{report}"
    );
    assert!(
        report.contains(&format!("\"{}\"", dir.display())),
        "{report}"
    );

    // Checked by other tools.
    tool(
        Command::new("oci-image-tool")
            .args(["validate", "--type", "image"])
            .arg(&dir),
    );
    let inspect =
        tool(Command::new("skopeo").args(["inspect", &format!("oci:{}:latest", dir.display())]));
    assert!(
        inspect.contains("io.buildpacks.lifecycle.metadata"),
        "{inspect}"
    );

    // Layers: run image, launch layers, SBOM, app, launcher, config, process types.
    let diff_ids: Vec<&str> = config["rootfs"]["diff_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap())
        .collect();
    assert_eq!(diff_ids.len(), 8, "{config}");
    assert_eq!(diff_ids[0], e.run_image.top_layer);
    assert_eq!(
        manifest["annotations"]["org.opencontainers.image.ref.name"], "latest",
        "the manifest names the image too"
    );
    let layers = manifest["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 8);
    for (layer, diff_id) in layers.iter().zip(&diff_ids).skip(1) {
        let path = blob(&dir, layer["digest"].as_str().unwrap());
        let out = tool(
            Command::new("sh")
                .arg("-c")
                .arg(format!("zcat {} | sha256sum", path.display())),
        );
        assert_eq!(format!("sha256:{}", &out[..64]), *diff_id);
    }

    // Config.
    let c = &config["config"];
    assert_eq!(c["Entrypoint"], serde_json::json!(["/cnb/process/web"]));
    assert!(c["Cmd"].is_null());
    assert_eq!(
        c["WorkingDir"],
        e.build.path("workspace").display().to_string()
    );
    let env: Vec<&str> = c["Env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        env.contains(&"PATH=/cnb/process:/cnb/lifecycle:/usr/local/bin:/usr/bin:/bin"),
        "{env:?}"
    );
    assert!(env.contains(&"CNB_PLATFORM_API=0.15"), "{env:?}");
    assert!(env.contains(&"CNB_DEPRECATION_MODE=quiet"), "{env:?}");
    let layers_env = format!("CNB_LAYERS_DIR={}", e.build.path("layers").display());
    assert!(env.contains(&layers_env.as_str()), "{env:?}");
    assert_eq!(config["created"], "1980-01-01T00:00:01Z");
    let labels = &c["Labels"];
    assert_eq!(labels["some.label"], "some-value");
    assert_eq!(
        labels["io.buildpacks.stack.id"], "test.stack",
        "run image labels kept"
    );
    assert_eq!(labels["io.buildpacks.exec-env"], "production");
    let meta: Value =
        serde_json::from_str(labels["io.buildpacks.lifecycle.metadata"].as_str().unwrap()).unwrap();
    assert_eq!(meta["runImage"]["topLayer"], e.run_image.top_layer.as_str());
    assert_eq!(meta["runImage"]["reference"], e.run_image.identifier());
    assert_eq!(meta["runImage"]["image"], "example.com/run:latest");
    assert_eq!(
        meta["runImage"]["mirrors"],
        serde_json::json!(["mirror.example.com/run:latest"])
    );
    assert_eq!(meta["stack"]["runImage"]["image"], "example.com/run:latest");
    let bp = &meta["buildpacks"][0];
    assert_eq!(bp["key"], "test/maker");
    assert_eq!(
        bp["layers"]["launch-layer"]["data"],
        serde_json::json!({"version": "1.2.3"})
    );
    assert_eq!(bp["layers"]["launch-cache"]["sha"], diff_ids[1]);
    assert_eq!(bp["layers"]["launch-layer"]["sha"], diff_ids[2]);
    assert_eq!(meta["sbom"]["sha"], diff_ids[3]);
    assert_eq!(meta["app"][0]["sha"], diff_ids[4]);
    assert_eq!(meta["launcher"]["sha"], diff_ids[5]);
    assert_eq!(meta["config"]["sha"], diff_ids[6]);
    assert_eq!(meta["process-types"]["sha"], diff_ids[7]);
    assert_eq!(bp["store"]["metadata"], serde_json::json!({"runs": 1}));
    assert!(bp["layers"].get("cache-layer").is_none());
    let history: Vec<&str> = config["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["created_by"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        history[1..],
        [
            "Layer: 'launch-cache', Created by buildpack: test/maker@1.0.0",
            "Layer: 'launch-layer', Created by buildpack: test/maker@1.0.0",
            "Software Bill-of-Materials",
            "Application Layer",
            "Buildpacks Application Launcher",
            "Buildpacks Launcher Config",
            "Buildpacks Process Types",
        ]
    );

    // Unpacked, the image runs its processes through the launcher.
    let bundle = e.build.path("bundle");
    images::unpack(&dir, &bundle);
    let rootfs = bundle.join("rootfs");
    let layer_file = in_rootfs(
        &rootfs,
        &e.build.path("layers/test_maker/launch-layer/data.txt"),
    );
    assert_eq!(fs::read_to_string(&layer_file).unwrap(), "launch data\n");
    use std::os::unix::fs::MetadataExt;
    assert_eq!(fs::metadata(&layer_file).unwrap().uid(), BUILD_UID);
    let launcher = fs::metadata(rootfs.join("cnb/lifecycle/launcher")).unwrap();
    assert_eq!((launcher.uid(), launcher.mode() & 0o7777), (0, 0o755));
    assert!(!in_rootfs(&rootfs, &e.build.path("layers/test_maker/cache-layer")).exists());
    let app_file = in_rootfs(&rootfs, &e.build.path("workspace/sub/nested.txt"));
    assert_eq!(fs::read_to_string(app_file).unwrap(), "nested\n");
    let out = run_in_image(&rootfs, &config, &["/cnb/process/web"]);
    assert_eq!(out, "hello from web\n");
    let out = run_in_image(&rootfs, &config, &["/cnb/process/shell"]);
    assert!(
        out.contains("shell says layer-value") && out.contains("bp executable ran"),
        "{out}"
    );
}

#[test]
fn the_same_inputs_give_the_same_image_and_a_rebuild_reuses_layers() {
    let e = built(LATEST);
    export(&e, &[], "first").expect_code(0);
    export(&e, &[], "second").expect_code(0);
    let (first, _, _) = read_image(&image_dir(&e, "first"));
    let (second, _, _) = read_image(&image_dir(&e, "second"));
    assert_eq!(first, second, "reproducible digest");

    // SOURCE_DATE_EPOCH sets the creation time (and so changes the digest).
    export_env(&e, &[], "dated", &[("SOURCE_DATE_EPOCH", "1641359105")]).expect_code(0);
    let (dated, _, config) = read_image(&image_dir(&e, "dated"));
    assert_eq!(config["created"], "2022-01-05T05:05:05Z");
    assert!(
        config["history"]
            .as_array()
            .unwrap()
            .iter()
            .all(|h| h["created"] == "2022-01-05T05:05:05Z")
    );
    assert_ne!(dated, first);

    // A rebuild on the first image reuses every unchanged layer, and a layer kept only
    // as metadata is taken from the previous image without its directory.
    analyze_previous(&e, "first");
    fs::remove_dir_all(e.build.path("layers/test_maker/launch-layer")).unwrap();
    export(&e, &[], "third")
        .expect_code(0)
        .expect_output("Reusing layers from image")
        .expect_output("Reusing layer 'test/maker:launch-layer'")
        .expect_output("Reusing layer 'test/maker:launch-cache'")
        .expect_output("Reusing layer 'buildpacksio/lifecycle:launcher'")
        .expect_output("Reusing layer 'buildpacksio/lifecycle:config'")
        .expect_output("Reused 1/1 app layer(s)")
        .expect_no_output("Adding layer");
    let (third, _, _) = read_image(&image_dir(&e, "third"));
    assert_eq!(third, first, "an unchanged rebuild gives the same image");
}

#[test]
fn the_volume_cache_keeps_cache_layers_and_recovers_from_corruption() {
    let e = built(LATEST);
    let cache = e.build.path("cache");
    fs::create_dir_all(&cache).unwrap();
    let cache_flag = cache.display().to_string();
    export(&e, &["-cache-dir", &cache_flag], "cached")
        .expect_code(0)
        .expect_output("Adding cache layer 'test/maker:cache-layer'")
        .expect_output("Adding cache layer 'test/maker:launch-cache'");
    let meta = json_file(&cache.join("committed/io.buildpacks.lifecycle.cache.metadata"));
    let layers = &meta["buildpacks"][0]["layers"];
    let cache_sha = layers["cache-layer"]["sha"].as_str().unwrap().to_string();
    assert!(layers["cache-layer"]["cache"].as_bool().unwrap());
    let tar = cache.join("committed").join(format!("{cache_sha}.tar"));
    let out = tool(Command::new("sha256sum").arg(&tar));
    assert_eq!(format!("sha256:{}", &out[..64]), cache_sha);
    let listing = tool(Command::new("tar").arg("-tf").arg(&tar));
    assert!(listing.contains("cache-layer/data.txt"), "{listing}");

    // Unchanged: reused by hard link.
    export(&e, &["-cache-dir", &cache_flag], "cached")
        .expect_code(0)
        .expect_output("Reusing cache layer 'test/maker:cache-layer'");

    // Corrupted: reported, then written again.
    fs::write(&tar, b"garbage").unwrap();
    export(&e, &["-cache-dir", &cache_flag], "cached")
        .expect_code(0)
        .expect_output(&format!(
            "Skipping reuse for layer test/maker:cache-layer: expected layer contents to have SHA '{cache_sha}'"
        ))
        .expect_output("Adding cache layer 'test/maker:cache-layer'");
    let out = tool(Command::new("sha256sum").arg(&tar));
    assert_eq!(format!("sha256:{}", &out[..64]), cache_sha);
}

#[test]
fn export_failures_have_the_export_exit_code() {
    let e = built(LATEST);
    export(&e, &["-process-type", "nope"], "bad")
        .expect_code(62)
        .expect_output("tried to set nope to default but it doesn't exist");
    // A cache layer kept only as metadata cannot be exported.
    fs::remove_dir_all(e.build.path("layers/test_maker/launch-cache")).unwrap();
    export(&e, &[], "bad")
        .expect_code(62)
        .expect_output("layer 'test/maker:launch-cache' is cache=true but has no contents");
    assert!(!image_dir(&e, "bad").join("index.json").exists());

    let e = built(LATEST);
    e.build.write("layers/analyzed.toml", "");
    export(&e, &[], "bad")
        .expect_code(3)
        .expect_output("run image not found in analyzed metadata");

    let e = built(LATEST);
    let analyzed = e.build.path("layers/analyzed.toml").display().to_string();
    let mut cmd = e.build.phase_as_root(
        "exporter",
        &[
            "-analyzed",
            &analyzed,
            "-layout",
            "-layout-dir",
            "/tmp/x",
            "img",
        ],
    );
    cmd.env("CNB_EXPERIMENTAL_MODE", "error");
    run(&mut cmd)
        .expect_code(1)
        .expect_output("experimental features are disabled");
}

//! The exporter writing OCI layouts (`-layout`), driven as a platform drives it after
//! detect and build: the image is checked with oci-image-tool, skopeo and umoci, and run
//! (unpacked, chroot) to show the launcher starts the process.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use spec_tests::images::{self, LayoutImage};
use spec_tests::{BUILD_GID, BUILD_UID, Bp, Build, lifecycle_dir, run};

const LATEST: &str = "0.15";

/// A buildpack making one layer of each kind, processes, a store and SBOMs.
const MAKER: &str = r#"set -eo pipefail
layers="$1"
mkdir -p "$layers/launch-layer/bin" "$layers/launch-layer/env" "$layers/cache-layer" "$layers/launch-cache" "$layers/build-only"
echo "launch data" > "$layers/launch-layer/data.txt"
printf '#!/bin/sh\necho "bp executable ran"\n' > "$layers/launch-layer/bin/bp-exec"
chmod 755 "$layers/launch-layer/bin/bp-exec"
printf 'layer-value' > "$layers/launch-layer/env/LAYER_VAR.default"
printf '[types]\nlaunch = true\n[metadata]\nversion = "1.2.3"\n' > "$layers/launch-layer.toml"
echo "cached ${CACHE_CONTENT:-v1}" > "$layers/cache-layer/data.txt"
printf '[types]\ncache = true\n' > "$layers/cache-layer.toml"
echo "both" > "$layers/launch-cache/data.txt"
printf '[types]\nlaunch = true\ncache = true\n' > "$layers/launch-cache.toml"
echo "build" > "$layers/build-only/data.txt"
printf '[types]\nbuild = true\n' > "$layers/build-only.toml"
printf '[metadata]\nruns = 1\n' > "$layers/store.toml"
echo '{"bomFormat":"CycloneDX"}' > "$layers/launch-layer.sbom.cdx.json"
cat > "$layers/launch.toml" <<'EOF'
[[processes]]
type = "web"
command = ["/bin/echo", "hello from web"]
default = true

[[processes]]
type = "shell"
command = ["bash", "-c", "echo shell says $LAYER_VAR; bp-exec"]

[[labels]]
key = "some.label"
value = "some-value"
EOF
"#;

/// A build that ran detect and build with [`MAKER`], plus a run image layout.
struct Exported {
    build: Build,
    run_image: LayoutImage,
}

fn static_launcher() -> PathBuf {
    assert!(
        std::env::var_os("CNB_TEST_STATIC_LAUNCHER").is_some(),
        "running images needs the static launcher: scripts/test builds it with scripts/build-launcher and sets CNB_TEST_STATIC_LAUNCHER"
    );
    lifecycle_dir().join("launcher")
}

fn built(platform_api: &str) -> Exported {
    let build = Build::new(platform_api);
    build.buildpack(
        &Bp::new("test/maker", "1.0.0", "0.10")
            .detect("exit 0")
            .build(MAKER)
            .extra("sbom-formats = [\"application/vnd.cyclonedx+json\"]"),
    );
    build.order("[[order]]\n[[order.group]]\nid = \"test/maker\"\nversion = \"1.0.0\"\n");
    build.write("workspace/app.txt", "app file\n");
    build.write("workspace/sub/nested.txt", "nested\n");
    let flags = build.dir_flags();
    let args: Vec<&str> = flags.iter().map(String::as_str).collect();
    let order = build.path("cnb/order.toml").display().to_string();
    let mut detect_args = args.clone();
    detect_args.extend(["-order", order.as_str()]);
    run(&mut build.phase("detector", &detect_args)).expect_code(0);
    run(&mut build.phase("builder", &args)).expect_code(0);
    let run_image = images::run_image(&build.path("run-image"), &[]);
    build.write(
        "cnb/run.toml",
        "[[images]]\nimage = \"example.com/run:latest\"\nmirrors = [\"mirror.example.com/run:latest\"]\n",
    );
    build.write(
        "layers/analyzed.toml",
        &format!(
            "[run-image]\n  reference = \"{}\"\n  image = \"example.com/run:latest\"\n",
            run_image.identifier()
        ),
    );
    Exported { build, run_image }
}

impl Exported {
    fn layout_dir(&self) -> PathBuf {
        self.build.path("layout-repo")
    }

    /// Runs the exporter as root (it drops to the build user) with `extra` flags.
    fn export(&self, extra: &[&str], name: &str) -> spec_tests::Ran {
        self.export_env(extra, name, &[])
    }

    fn export_env(&self, extra: &[&str], name: &str, env: &[(&str, &str)]) -> spec_tests::Ran {
        let b = &self.build;
        let launcher = static_launcher().display().to_string();
        let layers = b.path("layers").display().to_string();
        let app = b.path("workspace").display().to_string();
        let layout = self.layout_dir().display().to_string();
        let uid = BUILD_UID.to_string();
        let gid = BUILD_GID.to_string();
        let run_toml = b.path("cnb/run.toml").display().to_string();
        let mut args = vec![
            "-layers",
            &layers,
            "-app",
            &app,
            "-launcher",
            &launcher,
            "-layout",
            "-layout-dir",
            &layout,
            "-uid",
            &uid,
            "-gid",
            &gid,
            "-run",
            &run_toml,
        ];
        args.extend_from_slice(extra);
        args.push(name);
        let mut cmd = b.phase_as_root("exporter", &args);
        cmd.env("CNB_EXPERIMENTAL_MODE", "warn");
        cmd.envs(env.iter().copied());
        run(&mut cmd)
    }

    fn image_dir(&self, name: &str) -> PathBuf {
        self.layout_dir()
            .join("index.docker.io/library")
            .join(name)
            .join("latest")
    }

    /// analyzed.toml for a rebuild on top of the image exported as `name`: its
    /// metadata label and its layout identifier as the previous image.
    fn analyze_previous(&self, name: &str) {
        let dir = self.image_dir(name);
        let (digest, _, config) = read_image(&dir);
        let label = config["config"]["Labels"]["io.buildpacks.lifecycle.metadata"]
            .as_str()
            .unwrap()
            .to_string();
        let metadata: Value = serde_json::from_str(&label).unwrap();
        let toml_value = to_toml(&metadata).unwrap();
        let mut analyzed = toml::map::Map::new();
        let mut image = toml::map::Map::new();
        image.insert(
            "reference".into(),
            format!("{}@{digest}", dir.display()).into(),
        );
        analyzed.insert("image".into(), image.into());
        analyzed.insert("metadata".into(), toml_value);
        let mut run_image = toml::map::Map::new();
        run_image.insert("reference".into(), self.run_image.identifier().into());
        run_image.insert("image".into(), "example.com/run:latest".into());
        analyzed.insert("run-image".into(), run_image.into());
        self.build.write(
            "layers/analyzed.toml",
            &toml::to_string(&toml::Value::Table(analyzed)).unwrap(),
        );
    }
}

/// JSON as TOML, dropping nulls (which TOML cannot hold).
fn to_toml(v: &Value) -> Option<toml::Value> {
    Some(match v {
        Value::Null => return None,
        Value::Bool(b) => toml::Value::Boolean(*b),
        Value::Number(n) => n.as_i64().map_or_else(
            || toml::Value::Float(n.as_f64().unwrap()),
            toml::Value::Integer,
        ),
        Value::String(s) => toml::Value::String(s.clone()),
        Value::Array(a) => toml::Value::Array(a.iter().filter_map(to_toml).collect()),
        Value::Object(o) => toml::Value::Table(
            o.iter()
                .filter_map(|(k, v)| Some((k.clone(), to_toml(v)?)))
                .collect(),
        ),
    })
}

fn json_file(path: &Path) -> Value {
    serde_json::from_slice(&fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .unwrap()
}

fn blob(layout: &Path, digest: &str) -> PathBuf {
    layout
        .join("blobs/sha256")
        .join(digest.strip_prefix("sha256:").unwrap())
}

/// Manifest digest, manifest and config of the image in `layout`.
fn read_image(layout: &Path) -> (String, Value, Value) {
    let index = json_file(&layout.join("index.json"));
    assert_eq!(
        index["manifests"].as_array().unwrap().len(),
        1,
        "one manifest in {index}"
    );
    let digest = index["manifests"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let manifest = json_file(&blob(layout, &digest));
    let config = json_file(&blob(
        layout,
        manifest["config"]["digest"].as_str().unwrap(),
    ));
    (digest, manifest, config)
}

fn tool(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{cmd:?} failed:\n{text}");
    text
}

/// Runs `argv` inside the unpacked image with the image's environment and user, as a
/// container runtime would (chroot).
fn run_in_image(rootfs: &Path, config: &Value, argv: &[&str]) -> String {
    let mut cmd = Command::new("/usr/sbin/chroot");
    let user = config["config"]["User"].as_str().unwrap_or("0:0");
    cmd.arg(format!("--userspec={user}"))
        .arg(rootfs)
        .args(argv)
        .env_clear();
    for e in config["config"]["Env"].as_array().unwrap() {
        let (k, v) = e.as_str().unwrap().split_once('=').unwrap();
        cmd.env(k, v);
    }
    tool(&mut cmd)
}

fn in_rootfs(rootfs: &Path, abs: &Path) -> PathBuf {
    rootfs.join(abs.strip_prefix("/").unwrap())
}

#[test]
fn exports_a_runnable_image_to_a_layout() {
    let e = built(LATEST);
    let ran = e.export(&[], "my-app");
    ran.expect_code(0)
        .expect_output(&format!("Saving {}...", e.image_dir("my-app").display()))
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
    let dir = e.image_dir("my-app");
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
    e.export(&[], "first").expect_code(0);
    e.export(&[], "second").expect_code(0);
    let (first, _, _) = read_image(&e.image_dir("first"));
    let (second, _, _) = read_image(&e.image_dir("second"));
    assert_eq!(first, second, "reproducible digest");

    // SOURCE_DATE_EPOCH sets the creation time (and so changes the digest).
    e.export_env(&[], "dated", &[("SOURCE_DATE_EPOCH", "1641359105")])
        .expect_code(0);
    let (dated, _, config) = read_image(&e.image_dir("dated"));
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
    e.analyze_previous("first");
    fs::remove_dir_all(e.build.path("layers/test_maker/launch-layer")).unwrap();
    e.export(&[], "third")
        .expect_code(0)
        .expect_output("Reusing layers from image")
        .expect_output("Reusing layer 'test/maker:launch-layer'")
        .expect_output("Reusing layer 'test/maker:launch-cache'")
        .expect_output("Reusing layer 'buildpacksio/lifecycle:launcher'")
        .expect_output("Reusing layer 'buildpacksio/lifecycle:config'")
        .expect_output("Reused 1/1 app layer(s)")
        .expect_no_output("Adding layer");
    let (third, _, _) = read_image(&e.image_dir("third"));
    assert_eq!(third, first, "an unchanged rebuild gives the same image");
}

#[test]
fn the_volume_cache_keeps_cache_layers_and_recovers_from_corruption() {
    let e = built(LATEST);
    let cache = e.build.path("cache");
    fs::create_dir_all(&cache).unwrap();
    let cache_flag = cache.display().to_string();
    e.export(&["-cache-dir", &cache_flag], "cached")
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
    e.export(&["-cache-dir", &cache_flag], "cached")
        .expect_code(0)
        .expect_output("Reusing cache layer 'test/maker:cache-layer'");

    // Corrupted: reported, then written again.
    fs::write(&tar, b"garbage").unwrap();
    e.export(&["-cache-dir", &cache_flag], "cached")
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
    e.export(&["-process-type", "nope"], "bad")
        .expect_code(62)
        .expect_output("tried to set nope to default but it doesn't exist");
    // A cache layer kept only as metadata cannot be exported.
    fs::remove_dir_all(e.build.path("layers/test_maker/launch-cache")).unwrap();
    e.export(&[], "bad")
        .expect_code(62)
        .expect_output("layer 'test/maker:launch-cache' is cache=true but has no contents");
    assert!(!e.image_dir("bad").join("index.json").exists());

    let e = built(LATEST);
    e.build.write("layers/analyzed.toml", "");
    e.export(&[], "bad")
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

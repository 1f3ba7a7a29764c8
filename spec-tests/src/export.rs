//! The exporter's test fixture, shared by its spec tests for every image store: a
//! build that ran detect and build with a buildpack making every kind of layer, a run
//! image, and helpers to look into and run the images written.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::images::{self, LayoutImage};
use crate::{BUILD_GID, BUILD_UID, Bp, Build, Ran, lifecycle_dir, run};

/// A buildpack making one layer of each kind, processes, a store and SBOMs.
pub const MAKER: &str = r#"set -eo pipefail
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
pub struct Exported {
    /// The build tree (detect and build already ran).
    pub build: Build,
    /// The run image, as an OCI layout.
    pub run_image: LayoutImage,
    /// The Platform API the phases run with.
    pub platform_api: String,
}

/// The static launcher the images get (they have no libc).
pub fn static_launcher() -> PathBuf {
    assert!(
        std::env::var_os("CNB_TEST_STATIC_LAUNCHER").is_some(),
        "running images needs the static launcher: scripts/test builds it with scripts/build-launcher and sets CNB_TEST_STATIC_LAUNCHER"
    );
    lifecycle_dir().join("launcher")
}

/// A build of [`MAKER`] at `platform_api`, with `cnb/run.toml` and analyzed.toml naming
/// the run image by its layout identifier.
pub fn built(platform_api: &str) -> Exported {
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
    let exported = Exported {
        build,
        run_image,
        platform_api: platform_api.to_string(),
    };
    exported.analyze(&exported.run_image.identifier(), None);
    exported
}

impl Exported {
    /// Runs the exporter as root (it drops to the build user) with the build's
    /// directories, the static launcher, `-uid`/`-gid` and `-run`, then `args`.
    pub fn exporter(&self, args: &[&str], env: &[(&str, &str)]) -> Ran {
        let b = &self.build;
        let launcher = static_launcher().display().to_string();
        let layers = b.path("layers").display().to_string();
        let app = b.path("workspace").display().to_string();
        let uid = BUILD_UID.to_string();
        let gid = BUILD_GID.to_string();
        let run_toml = b.path("cnb/run.toml").display().to_string();
        let mut all = vec![
            "-layers",
            &layers,
            "-app",
            &app,
            "-launcher",
            &launcher,
            "-uid",
            &uid,
            "-gid",
            &gid,
        ];
        // -run exists from Platform API 0.12 (older ones read stack.toml).
        let minor: u32 = self
            .platform_api
            .trim_start_matches("0.")
            .parse()
            .unwrap_or(0);
        if minor >= 12 {
            all.extend(["-run", run_toml.as_str()]);
        }
        all.extend_from_slice(args);
        let mut cmd = b.phase_as_root("exporter", &all);
        cmd.envs(env.iter().copied());
        run(&mut cmd)
    }

    /// Writes analyzed.toml naming `run_ref` as the run image and, for a rebuild,
    /// `previous` (the previous image's reference and its lifecycle metadata label).
    pub fn analyze(&self, run_ref: &str, previous: Option<(&str, &Value)>) {
        let mut analyzed = toml::map::Map::new();
        if let Some((reference, config)) = previous {
            let label = config["config"]["Labels"]["io.buildpacks.lifecycle.metadata"]
                .as_str()
                .expect("previous image has the lifecycle metadata label");
            let metadata: Value = serde_json::from_str(label).unwrap();
            let mut image = toml::map::Map::new();
            image.insert("reference".into(), reference.into());
            analyzed.insert("image".into(), image.into());
            analyzed.insert("metadata".into(), to_toml(&metadata).unwrap());
        }
        let mut run_image = toml::map::Map::new();
        run_image.insert("reference".into(), run_ref.into());
        run_image.insert("image".into(), "example.com/run:latest".into());
        analyzed.insert("run-image".into(), run_image.into());
        self.build.write(
            "layers/analyzed.toml",
            &toml::to_string(&toml::Value::Table(analyzed)).unwrap(),
        );
    }
}

/// JSON as TOML, dropping nulls (which TOML cannot hold).
pub fn to_toml(v: &Value) -> Option<toml::Value> {
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

/// A JSON file, parsed.
pub fn json_file(path: &Path) -> Value {
    serde_json::from_slice(&fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .unwrap()
}

/// The path of blob `digest` in an OCI layout.
pub fn blob(layout: &Path, digest: &str) -> PathBuf {
    layout
        .join("blobs/sha256")
        .join(digest.strip_prefix("sha256:").unwrap())
}

/// Manifest digest, manifest and config of the image in `layout`.
pub fn read_image(layout: &Path) -> (String, Value, Value) {
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

/// Runs a checking tool and returns its output; panics with it when it fails.
pub fn tool(cmd: &mut Command) -> String {
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
pub fn run_in_image(rootfs: &Path, config: &Value, argv: &[&str]) -> String {
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

/// Where absolute path `abs` of the image is in an unpacked root file system.
pub fn in_rootfs(rootfs: &Path, abs: &Path) -> PathBuf {
    rootfs.join(abs.strip_prefix("/").unwrap())
}

//! The creator (all phases in one process, as pack's trusted builders and Spring Boot
//! run it): started as root, it analyzes, detects, restores, builds and exports with
//! the buildpacks running as the build user. Two builds show the rebuild loop: the
//! cache restored, untouched layers reused, and the second image differing from the
//! first only where the app changed.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use spec_tests::dockerd;
use spec_tests::export::{read_image, run_in_image, tool};
use spec_tests::images::{self, LayoutImage};
use spec_tests::registry::Registry;
use spec_tests::{BUILD_GID, BUILD_UID, Bp, Build, Ran, run};

/// A buildpack that keeps what was restored: a launch+cache layer and a cache-only
/// layer are made only when absent, and it says what it found.
const KEEPER: &str = r#"set -eo pipefail
layers="$1"
echo "building as $(id -u):$(id -g) groups=$(id -G) home=$HOME user=${USER:-}"
if [ -f "$layers/deps/data.txt" ]; then
  echo "deps restored: $(cat "$layers/deps/data.txt")"
else
  mkdir -p "$layers/deps/bin"
  echo "deps v1" > "$layers/deps/data.txt"
  seq 1 20000 > "$layers/deps/numbers.txt"
fi
printf '[types]\nlaunch = true\ncache = true\n[metadata]\nversion = "1"\n' > "$layers/deps.toml"
if [ -f "$layers/tools/tool.txt" ]; then
  echo "tools restored: $(cat "$layers/tools/tool.txt")"
else
  mkdir -p "$layers/tools"
  echo "tool v1" > "$layers/tools/tool.txt"
fi
printf '[types]\ncache = true\n' > "$layers/tools.toml"
if [ -f "$layers/store.toml" ]; then
  echo "store restored: $(tr -s '\n ' ' ' < "$layers/store.toml")"
fi
printf '[metadata]\nkept = "yes"\n' > "$layers/store.toml"
cat > "$layers/launch.toml" <<'EOF'
[[processes]]
type = "web"
command = ["cat", "app.txt"]
default = true
EOF
"#;

const LATEST: &str = "0.15";

/// A build tree with [`KEEPER`] in its order, a run image and `run.toml` naming it.
struct Creation {
    build: Build,
    run_image: LayoutImage,
}

impl Creation {
    fn new(platform_api: &str) -> Creation {
        let build = Build::new(platform_api);
        build.buildpack(
            &Bp::new("test/keeper", "1.0.0", "0.10")
                .detect("exit 0")
                .build(KEEPER),
        );
        build.order("[[order]]\n[[order.group]]\nid = \"test/keeper\"\nversion = \"1.0.0\"\n");
        build.write("workspace/app.txt", "app v1\n");
        build.write(
            "cnb/run.toml",
            "[[images]]\nimage = \"example.com/run:latest\"\n",
        );
        let run_image = images::run_image(&build.path("run-image"), &[]);
        Creation { build, run_image }
    }

    /// Runs the creator as root (it drops to the build user) with the build's
    /// directories, `-uid`/`-gid`, the static launcher and `args`.
    fn create(&self, args: &[&str], env: &[(&str, &str)]) -> Ran {
        let mut all = vec!["-log-level", "debug"];
        all.extend_from_slice(args);
        let mut cmd = self.build.creator_as_root(&all);
        cmd.envs(env.iter().copied());
        run(&mut cmd)
    }

    /// Moves the run image where run.toml's name maps in the layout directory and
    /// returns the layout flags, `-run` and `extra`, then the image name `my-app`.
    fn layout_args(&self, extra: &[&str]) -> Vec<String> {
        let layout = self.build.path("layout-repo");
        let run_dir = layout.join("example.com/run/latest");
        if !run_dir.exists() {
            fs::create_dir_all(run_dir.parent().unwrap()).unwrap();
            fs::rename(&self.run_image.path, &run_dir).unwrap();
        }
        let mut args: Vec<String> = [
            "-layout".into(),
            "-layout-dir".into(),
            layout.display().to_string(),
            "-run".into(),
            self.build.path("cnb/run.toml").display().to_string(),
        ]
        .into();
        args.extend(extra.iter().map(|a| a.to_string()));
        args.push("my-app".into());
        args
    }

    /// A fresh layers directory, as platforms give every build.
    fn fresh_layers(&self) {
        let layers = self.build.path("layers");
        fs::remove_dir_all(&layers).unwrap();
        fs::create_dir_all(&layers).unwrap();
    }
}

fn layout_image_dir(layout: &Path, name: &str) -> PathBuf {
    layout
        .join("index.docker.io/library")
        .join(name)
        .join("latest")
}

/// Unpacks the layout image at `dir` and runs its default entrypoint.
fn run_layout_image(dir: &Path, config: &Value) -> String {
    let bundle = tempfile::tempdir().unwrap();
    images::unpack(dir, bundle.path());
    let rootfs = bundle.path().join("rootfs");
    let entrypoint: Vec<&str> = config["config"]["Entrypoint"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    run_in_image(&rootfs, config, &entrypoint)
}

fn layer_digests(manifest: &Value) -> Vec<String> {
    manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["digest"].as_str().unwrap().to_string())
        .collect()
}

fn metadata_label(config: &Value) -> Value {
    serde_json::from_str(
        config["config"]["Labels"]["io.buildpacks.lifecycle.metadata"]
            .as_str()
            .unwrap(),
    )
    .unwrap()
}

#[test]
fn two_builds_into_a_layout_reuse_layers_and_the_cache() {
    let c = Creation::new(LATEST);
    let layout = c.build.path("layout-repo");
    let cache = c.build.path("cache");
    fs::create_dir_all(&cache).unwrap();
    let cache_s = cache.display().to_string();
    let args = c.layout_args(&["-cache-dir", &cache_s]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let env = [("CNB_EXPERIMENTAL_MODE", "warn")];

    let first = c.create(&args, &env);
    first
        .expect_code(0)
        .expect_output("===> ANALYZING")
        .expect_output("===> DETECTING")
        .expect_output("===> RESTORING")
        .expect_output("===> BUILDING")
        .expect_output("===> EXPORTING")
        .expect_output(&format!(
            "building as {BUILD_UID}:{BUILD_GID} groups={BUILD_GID} "
        ))
        .expect_output("Adding layer 'test/keeper:deps'")
        .expect_output("Adding cache layer 'test/keeper:tools'")
        .expect_no_output("deps restored")
        .expect_no_output("store restored");
    let dir = layout_image_dir(&layout, "my-app");
    let (digest1, manifest1, config1) = read_image(&dir);
    assert_eq!(run_layout_image(&dir, &config1), "app v1\n");
    // Everything the creator wrote for the build user is the build user's.
    for rel in [
        "layers/analyzed.toml",
        "layers/group.toml",
        "layers/test_keeper",
    ] {
        let meta = fs::metadata(c.build.path(rel)).unwrap();
        use std::os::unix::fs::MetadataExt;
        assert_eq!((meta.uid(), meta.gid()), (BUILD_UID, BUILD_GID), "{rel}");
    }

    // Second build: a fresh layers directory, the same cache, the app changed.
    c.fresh_layers();
    c.build.write("workspace/app.txt", "app v2\n");
    let second = c.create(&args, &env);
    second
        .expect_code(0)
        .expect_output("deps restored: deps v1")
        .expect_output("tools restored: tool v1")
        .expect_output("store restored: [metadata] kept = \"yes\"")
        .expect_output("Restoring data for \"test/keeper:deps\" from cache")
        .expect_output("Restoring data for \"test/keeper:tools\" from cache")
        .expect_output("Reusing layer 'test/keeper:deps'")
        .expect_output("Reusing cache layer 'test/keeper:tools'")
        .expect_output("Reusing layer 'buildpacksio/lifecycle:launcher'")
        .expect_output("Added 1/1 app layer(s)");
    let (digest2, manifest2, config2) = read_image(&dir);
    assert_ne!(digest1, digest2);
    assert_eq!(run_layout_image(&dir, &config2), "app v2\n");

    // The images differ only where the app changed: one layer, its diff ID, and the
    // app layer's SHA in the metadata label.
    let (l1, l2) = (layer_digests(&manifest1), layer_digests(&manifest2));
    assert_eq!(l1.len(), l2.len());
    let changed: Vec<usize> = (0..l1.len()).filter(|&i| l1[i] != l2[i]).collect();
    assert_eq!(changed.len(), 1, "{l1:?}\n{l2:?}");
    let mut m1 = metadata_label(&config1);
    let mut m2 = metadata_label(&config2);
    assert_ne!(m1["app"], m2["app"]);
    m1["app"] = Value::Null;
    m2["app"] = Value::Null;
    assert_eq!(m1, m2);
    let strip = |config: &Value| {
        let mut c = config.clone();
        c["rootfs"] = Value::Null;
        c["config"]["Labels"]["io.buildpacks.lifecycle.metadata"] = Value::Null;
        c
    };
    assert_eq!(strip(&config1), strip(&config2));

    // A third build skipping restore: store.toml only.
    c.fresh_layers();
    let mut skip = vec!["-skip-restore"];
    skip.extend_from_slice(&args);
    c.create(&skip, &env)
        .expect_code(0)
        .expect_output("store restored: [metadata] kept = \"yes\"")
        .expect_no_output("deps restored")
        .expect_no_output("tools restored");
}

#[test]
fn a_registry_build_with_an_image_cache_at_old_and_new_platform_apis() {
    let registry = Registry::anonymous();
    for api in ["0.7", "0.12", LATEST] {
        let c = Creation::new(api);
        let app = registry.image(&format!("app-{}", api.replace('.', "-")));
        let cache_image = format!("{app}-cache");
        registry.seed(&c.run_image.path, "latest", "run:latest");
        let run_image = registry.image("run:latest");
        let args = [
            "-run-image",
            run_image.as_str(),
            "-cache-image",
            cache_image.as_str(),
            "-tag",
            &format!("{app}:other"),
            app.as_str(),
        ];
        let first = c.create(&args, &[]);
        first
            .expect_code(0)
            .expect_output("Adding layer 'test/keeper:deps'");
        c.fresh_layers();
        c.build.write("workspace/app.txt", "app v2\n");
        let second = c.create(&args, &[]);
        second
            .expect_code(0)
            .expect_output("deps restored: deps v1")
            .expect_output("Reusing layer 'test/keeper:deps'");
        let bundle = tempfile::tempdir().unwrap();
        let pulled = bundle.path().join("pulled");
        for name in [app.clone(), format!("{app}:other")] {
            tool(
                Command::new("skopeo")
                    .args(["copy", "-q", "--src-tls-verify=false"])
                    .arg(format!("docker://{name}"))
                    .arg(format!("oci:{}:latest", pulled.display())),
            );
        }
        let (_, _, config) = read_image(&pulled);
        assert_eq!(run_layout_image(&pulled, &config), "app v2\n", "{api}");
    }
}

#[test]
fn a_daemon_build_with_a_launch_cache_runs_in_docker() {
    let d = dockerd::shared();
    let c = Creation::new(LATEST);
    let env = [("DOCKER_HOST", d.host())];
    let run_ref = "creator-run:latest";
    d.load_oci(&c.run_image.path, "latest", run_ref);
    let launch_cache = c.build.path("launch-cache");
    fs::create_dir_all(&launch_cache).unwrap();
    let launch_cache_s = launch_cache.display().to_string();
    let cache = c.build.path("cache");
    fs::create_dir_all(&cache).unwrap();
    let cache_s = cache.display().to_string();
    let args = [
        "-cache-dir",
        &cache_s,
        "-daemon",
        "-launch-cache",
        &launch_cache_s,
        "-run-image",
        run_ref,
        "creator-app:latest",
    ];
    c.create(&args, &env).expect_code(0);
    let out = d.run("creator-app:latest", &[]);
    assert_eq!(out.stdout, "app v1\n", "{}", out.stderr);
    c.fresh_layers();
    c.create(&args, &env)
        .expect_code(0)
        .expect_output("deps restored: deps v1")
        .expect_output("Reusing layer 'test/keeper:deps'");
}

#[test]
fn an_order_with_extensions_is_refused() {
    let c = Creation::new(LATEST);
    c.build
        .extension("test/ext", "1.0.0", "0.10", Some("exit 0"), Some("exit 0"));
    c.build.order(
        "[[order]]\n[[order.group]]\nid = \"test/keeper\"\nversion = \"1.0.0\"\n\
         [[order-extensions]]\n[[order-extensions.group]]\nid = \"test/ext\"\nversion = \"1.0.0\"\n",
    );
    let extensions = c.build.path("cnb/extensions").display().to_string();
    let args = c.layout_args(&[]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    c.create(
        &args,
        &[
            ("CNB_EXPERIMENTAL_MODE", "warn"),
            ("CNB_EXTENSIONS_DIR", &extensions),
        ],
    )
    .expect_code(22)
    .expect_output("detected order contains extensions which is not supported by the creator");
}

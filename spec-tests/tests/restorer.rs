//! The restorer, driven as a platform drives it after detect: a real previous image and
//! a real cache made by our exporter (volume cache, and cache image on a registry) from
//! a buildpack making every combination of layer types, then the layers directory
//! emptied and restored.

use std::fs;
use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;
use spec_tests::export::{Exported, tool};
use spec_tests::registry::Registry;
use spec_tests::{BUILD_GID, BUILD_UID, Bp, Build, Ran, dockerd, images, run};

/// Makes one layer per combination of `build`, `cache` and `launch`, each with data,
/// metadata and an SBOM, and a store.
const MATRIX: &str = r#"set -eo pipefail
layers="$1"
for spec in build-cache-launch:true:true:true build-cache:true:true:false build-launch:true:false:true \
    build:true:false:false cache-launch:false:true:true cache:false:true:false launch:false:false:true none:false:false:false; do
  IFS=: read -r name b c l <<< "$spec"
  mkdir -p "$layers/$name"
  echo "$name data" > "$layers/$name/data.txt"
  printf '[types]\nbuild = %s\ncache = %s\nlaunch = %s\n[metadata]\nname = "%s"\n' "$b" "$c" "$l" "$name" > "$layers/$name.toml"
  if [ "$name" != none ]; then echo "{\"layer\":\"$name\"}" > "$layers/$name.sbom.cdx.json"; fi
done
printf '[metadata]\nruns = 1\n' > "$layers/store.toml"
"#;

/// Another buildpack with a cached layer, left out of the restore's group.
const OTHER: &str = r#"set -eo pipefail
mkdir -p "$1/other-cache"
echo other > "$1/other-cache/data.txt"
printf '[types]\ncache = true\n' > "$1/other-cache.toml"
"#;

/// Platform APIs whose restore behaviour differs (SBOMs from 0.8, targets from 0.12,
/// launch+cache metadata from the cache from 0.14).
const APIS: [&str; 4] = ["0.7", "0.12", "0.14", "0.15"];

fn minor(api: &str) -> u32 {
    api.trim_start_matches("0.").parse().unwrap()
}

/// A build of [`MATRIX`] and [`OTHER`] at `api` (detect and build ran).
fn matrix_built(api: &str) -> Exported {
    let build = Build::new(api);
    build.buildpack(
        &Bp::new("test/matrix", "1.0.0", "0.10")
            .detect("exit 0")
            .build(MATRIX)
            .extra("sbom-formats = [\"application/vnd.cyclonedx+json\"]"),
    );
    build.buildpack(
        &Bp::new("test/other", "1.0.0", "0.10")
            .detect("exit 0")
            .build(OTHER),
    );
    build.order(
        "[[order]]\n[[order.group]]\nid = \"test/matrix\"\nversion = \"1.0.0\"\n[[order.group]]\nid = \"test/other\"\nversion = \"1.0.0\"\n",
    );
    build.write("workspace/app.txt", "app\n");
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
        "[[images]]\nimage = \"example.com/run:latest\"\n",
    );
    Exported {
        build,
        run_image,
        platform_api: api.to_string(),
    }
}

/// The previous image's config, read from the registry.
fn registry_config(registry: &Registry, image: &str) -> Value {
    let out = tool(
        Command::new("skopeo")
            .args(["inspect", "--config", "--raw", "--tls-verify=false"])
            .arg(format!("docker://{}", registry.image(image))),
    );
    serde_json::from_str(&out).unwrap()
}

/// Exports `e` to `registry` as `app` with `cache_args`, then writes analyzed.toml for
/// a rebuild on it, with `edit` applied to the lifecycle metadata label first.
fn export_and_analyze(
    e: &Exported,
    registry: &Registry,
    cache_args: &[&str],
    edit: impl Fn(&mut Value),
) {
    registry.seed(&e.run_image.path, "latest", "run:latest");
    let run_ref = format!("{}@{}", registry.image("run"), e.run_image.digest);
    e.analyze(&run_ref, None);
    let app = registry.image("app:latest");
    let mut args = cache_args.to_vec();
    args.push(&app);
    e.exporter(&args, &[]).expect_code(0);
    let mut config = registry_config(registry, "app:latest");
    let key = "io.buildpacks.lifecycle.metadata";
    let mut label: Value =
        serde_json::from_str(config["config"]["Labels"][key].as_str().unwrap()).unwrap();
    edit(&mut label);
    config["config"]["Labels"][key] = Value::String(label.to_string());
    e.analyze(&run_ref, Some((&registry.image("app@sha256:0"), &config)));
}

/// Empties the layers directory as a new build would find it (keeping analyzed.toml)
/// and writes a group of `test/matrix` only.
fn fresh_layers(e: &Exported) {
    let layers = e.build.path("layers");
    for entry in fs::read_dir(&layers).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().unwrap() == "analyzed.toml" {
            continue;
        }
        if path.is_dir() {
            fs::remove_dir_all(&path).unwrap();
        } else {
            fs::remove_file(&path).unwrap();
        }
    }
    e.build.write(
        "layers/group.toml",
        "[[group]]\nid = \"test/matrix\"\nversion = \"1.0.0\"\napi = \"0.10\"\n",
    );
}

/// Runs the restorer as root (it drops to the build user) with the build's layers,
/// `-uid`/`-gid`, then `args`.
fn restorer(e: &Exported, args: &[&str], env: &[(&str, &str)]) -> Ran {
    let layers = e.build.path("layers").display().to_string();
    let uid = BUILD_UID.to_string();
    let gid = BUILD_GID.to_string();
    let mut all = vec![
        "-layers",
        &layers,
        "-uid",
        &uid,
        "-gid",
        &gid,
        "-log-level",
        "debug",
    ];
    all.extend_from_slice(args);
    let mut cmd = e.build.phase_as_root("restorer", &all);
    cmd.envs(env.iter().copied());
    run(&mut cmd)
}

fn bp_path(e: &Exported, rel: &str) -> PathBuf {
    e.build.path("layers/test_matrix").join(rel)
}

/// Asserts what the restore left for layer `name`: its `<name>.toml` (metadata only)
/// and its contents.
fn assert_layer(e: &Exported, name: &str, toml: bool, contents: bool) {
    let toml_path = bp_path(e, &format!("{name}.toml"));
    assert_eq!(
        toml_path.exists(),
        toml,
        "{name}.toml restored: expected {toml}"
    );
    if toml {
        let text = fs::read_to_string(&toml_path).unwrap();
        assert_eq!(
            text,
            format!("[metadata]\n  name = \"{name}\"\n"),
            "{name}.toml"
        );
    }
    let data = bp_path(e, &format!("{name}/data.txt"));
    assert_eq!(
        data.exists(),
        contents,
        "{name} contents restored: expected {contents}"
    );
    if contents {
        assert_eq!(fs::read_to_string(&data).unwrap(), format!("{name} data\n"));
        let meta = fs::metadata(&data).unwrap();
        use std::os::unix::fs::MetadataExt;
        assert_eq!(
            (meta.uid(), meta.gid()),
            (BUILD_UID, BUILD_GID),
            "{name} owner"
        );
    }
}

#[test]
fn restores_the_matrix_from_a_volume_cache_on_every_platform_api() {
    let registry = Registry::anonymous();
    for api in APIS {
        let e = matrix_built(api);
        let cache = e.build.path("cache");
        fs::create_dir_all(&cache).unwrap();
        let cache_dir = cache.display().to_string();
        // The previous image lacks the launch+cache layer `cache-launch` (as when the
        // image and cache come from different builds).
        export_and_analyze(&e, &registry, &["-cache-dir", &cache_dir], |label| {
            let layers = label["buildpacks"][0]["layers"].as_object_mut().unwrap();
            assert!(layers.remove("cache-launch").is_some());
        });
        fresh_layers(&e);
        // What the analyzer restores from the previous image's SBOM layer: a layer's
        // SBOM (restored) and the buildpack's launch-level SBOM (never restored).
        e.build.write(
            "layers/sbom/launch/test_matrix/launch/sbom.cdx.json",
            "{\"launch\":true}",
        );
        e.build
            .write("layers/sbom/launch/test_matrix/sbom.cdx.json", "{}");
        let ran = restorer(&e, &["-cache-dir", &cache_dir], &[]);
        ran.expect_code(0)
            .expect_output(
                "Restoring metadata for \"test/matrix:build-cache-launch\" from app image",
            )
            .expect_output("Restoring metadata for \"test/matrix:launch\" from app image")
            .expect_output("Restoring metadata for \"test/matrix:cache\" from cache")
            .expect_output("Restoring metadata for \"test/matrix:build-cache\" from cache")
            .expect_output("Restoring data for \"test/matrix:cache\" from cache")
            .expect_no_output("test/other");
        let from_cache_014 = minor(api) >= 14;
        assert_layer(&e, "build-cache-launch", true, true);
        assert_layer(&e, "build-cache", true, true);
        assert_layer(&e, "build-launch", false, false);
        assert_layer(&e, "build", false, false);
        assert_layer(&e, "cache-launch", from_cache_014, from_cache_014);
        assert_layer(&e, "cache", true, true);
        assert_layer(&e, "launch", true, false);
        assert_layer(&e, "none", false, false);
        // store.toml, whatever the layer types.
        assert_eq!(
            fs::read_to_string(bp_path(&e, "store.toml")).unwrap(),
            "[metadata]\n  runs = 1\n"
        );
        // Restored layers are fingerprinted, for the exporter to know them unchanged.
        for name in ["cache", "build-cache", "build-cache-launch"] {
            let fp = e
                .build
                .path(&format!("layers/.fingerprints/test_matrix/{name}.fp"));
            assert!(fp.is_file(), "{api}: no fingerprint for {name}");
        }
        assert!(
            !e.build
                .path("layers/.fingerprints/test_matrix/launch.fp")
                .exists()
        );
        // Other buildpacks are not restored.
        assert!(!e.build.path("layers/test_other").exists());
        // Per-layer SBOMs of cached layers (Platform API 0.8+), nothing else.
        let sbom = bp_path(&e, "cache.sbom.cdx.json");
        if minor(api) >= 8 {
            assert_eq!(
                fs::read_to_string(&sbom).unwrap(),
                "{\"layer\":\"cache\"}\n"
            );
            ran.expect_output("Restoring data for SBOM from cache");
        } else {
            assert!(!sbom.exists());
        }
        let launch_sbom = bp_path(&e, "launch.sbom.cdx.json");
        if minor(api) >= 8 {
            assert_eq!(
                fs::read_to_string(&launch_sbom).unwrap(),
                "{\"launch\":true}"
            );
        } else {
            assert!(!launch_sbom.exists());
        }
        assert!(!bp_path(&e, "sbom.cdx.json").exists());
        assert!(!bp_path(&e, "build-launch.sbom.cdx.json").exists());
        // The restored SBOM directories go (below 0.8 they are left alone).
        assert_eq!(e.build.path("layers/sbom").exists(), minor(api) < 8);
    }
}

#[test]
fn damaged_missing_and_mismatched_cache_layers_are_removed() {
    let registry = Registry::anonymous();
    let e = matrix_built("0.15");
    let cache = e.build.path("cache");
    fs::create_dir_all(&cache).unwrap();
    let cache_dir = cache.display().to_string();
    let wrong = format!("sha256:{}", "1".repeat(64));
    export_and_analyze(&e, &registry, &["-cache-dir", &cache_dir], |label| {
        label["buildpacks"][0]["layers"]["build-cache-launch"]["sha"] = wrong.clone().into();
    });
    let metadata: Value = serde_json::from_slice(
        &fs::read(cache.join("committed/io.buildpacks.lifecycle.cache.metadata")).unwrap(),
    )
    .unwrap();
    let sha = |name: &str| {
        metadata["buildpacks"][0]["layers"][name]["sha"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let tar = |name: &str| cache.join(format!("committed/{}.tar", sha(name)));
    // Corrupt `cache` (same length, one byte changed inside its data file).
    let mut bytes = fs::read(tar("cache")).unwrap();
    let at = bytes.windows(10).position(|w| w == b"cache data").unwrap();
    bytes[at] = b'X';
    fs::write(tar("cache"), bytes).unwrap();
    // Lose `build-cache`.
    fs::remove_file(tar("build-cache")).unwrap();
    fresh_layers(&e);
    let ran = restorer(&e, &["-cache-dir", &cache_dir], &[]);
    ran.expect_code(0)
        .expect_output("Removing \"test/matrix:build-cache-launch\", wrong sha")
        .expect_output("Skipping restore for layer test/matrix:cache:")
        .expect_output(
            "Skipping restore for layer test/matrix:build-cache: failed to find cache layer",
        );
    assert_layer(&e, "build-cache-launch", false, false);
    assert_layer(&e, "cache", false, false);
    assert!(!bp_path(&e, "cache").exists());
    assert!(!bp_path(&e, "cache.sbom.cdx.json").exists());
    assert_layer(&e, "build-cache", false, false);
    assert_layer(&e, "cache-launch", true, true);
}

#[test]
fn skip_layers_restores_only_the_store() {
    let registry = Registry::anonymous();
    for api in ["0.7", "0.15"] {
        let e = matrix_built(api);
        let cache = e.build.path("cache");
        fs::create_dir_all(&cache).unwrap();
        let cache_dir = cache.display().to_string();
        export_and_analyze(&e, &registry, &["-cache-dir", &cache_dir], |_| {});
        fresh_layers(&e);
        restorer(&e, &["-cache-dir", &cache_dir, "-skip-layers"], &[])
            .expect_code(0)
            .expect_output("Skipping buildpack layer analysis")
            .expect_no_output("Restoring");
        let mut left: Vec<String> = fs::read_dir(e.build.path("layers/test_matrix"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, ["store.toml"]);
    }
}

#[test]
fn restores_from_a_cache_image() {
    let registry = Registry::anonymous();
    let e = matrix_built("0.15");
    let cache = registry.image("cache:latest");
    export_and_analyze(&e, &registry, &["-cache-image", &cache], |_| {});
    fresh_layers(&e);
    restorer(&e, &["-cache-image", &cache], &[])
        .expect_code(0)
        .expect_output("Restoring data for \"test/matrix:cache\" from cache");
    assert_layer(&e, "build-cache-launch", true, true);
    assert_layer(&e, "build-cache", true, true);
    assert_layer(&e, "cache-launch", true, true);
    assert_layer(&e, "cache", true, true);
    assert_layer(&e, "launch", true, false);
    assert!(bp_path(&e, "cache.sbom.cdx.json").exists());
    // A cache layer whose blob is damaged in the registry is not restored.
    let config = registry_config(&registry, "cache:latest");
    let label: Value = serde_json::from_str(
        config["config"]["Labels"]["io.buildpacks.lifecycle.cache.metadata"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    let diff_id = label["buildpacks"][0]["layers"]["cache"]["sha"].clone();
    let index = config["rootfs"]["diff_ids"]
        .as_array()
        .unwrap()
        .iter()
        .position(|d| *d == diff_id)
        .unwrap();
    let manifest: Value = serde_json::from_slice(&registry.inspect_raw("cache:latest")).unwrap();
    let blob = registry.blob_path(manifest["layers"][index]["digest"].as_str().unwrap());
    let mut bytes = fs::read(&blob).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    fs::write(&blob, bytes).unwrap();
    fresh_layers(&e);
    restorer(&e, &["-cache-image", &cache], &[])
        .expect_code(0)
        .expect_output("Skipping restore for layer test/matrix:cache:");
    assert_layer(&e, "cache", false, false);
    assert!(!bp_path(&e, "cache.sbom.cdx.json").exists());
    assert_layer(&e, "cache-launch", true, true);
    // A cache image that does not exist: metadata from the image only.
    fresh_layers(&e);
    restorer(
        &e,
        &["-cache-image", &registry.image("nothing:latest")],
        &[],
    )
    .expect_code(0)
    .expect_output("Layer cache not found");
    assert_layer(&e, "launch", true, false);
    assert_layer(&e, "cache", false, false);
    assert_layer(&e, "build-cache-launch", false, false);
}

#[test]
fn no_cache_restores_app_image_metadata_only() {
    let registry = Registry::anonymous();
    let e = matrix_built("0.12");
    export_and_analyze(&e, &registry, &[], |_| {});
    fresh_layers(&e);
    // Started as root, it leaves no scratch directory behind in a TMPDIR like /tmp
    // (root's, sticky): it is made as root and removed as the build user.
    let tmp_dir = tempfile::tempdir().unwrap();
    let tmp = tmp_dir.path();
    std::fs::set_permissions(tmp, std::os::unix::fs::PermissionsExt::from_mode(0o1777)).unwrap();
    let tmp_s = tmp.display().to_string();
    restorer(&e, &[], &[("TMPDIR", &tmp_s)])
        .expect_code(0)
        .expect_output("No cached data will be used, no cache specified.");
    assert_eq!(std::fs::read_dir(tmp).unwrap().count(), 0, "left in TMPDIR");
    assert_layer(&e, "launch", true, false);
    assert_layer(&e, "build-cache-launch", false, false);
    assert_layer(&e, "cache", false, false);
}

/// A volume cache at `<build>/hostile` whose only layer, `test/matrix:evil`, is the tar
/// python's tarfile writes from `script` (which gets `tar`, `layer` and `outside`).
fn hostile_cache(e: &Exported, script: &str) -> String {
    let cache = e.build.path("hostile");
    let committed = cache.join("committed");
    fs::create_dir_all(&committed).unwrap();
    let tar = cache.join("evil.tar");
    let layer = bp_path(e, "evil");
    let outside = e.build.path("outside");
    fs::create_dir_all(&outside).unwrap();
    let program = format!(
        "import tarfile, io\ntar = tarfile.open({:?}, 'w', format=tarfile.PAX_FORMAT)\nlayer = {:?}\noutside = {:?}\ndef add(name, data=b'x', **kw):\n    info = tarfile.TarInfo(name)\n    for k, v in kw.items(): setattr(info, k, v)\n    info.size = len(data) if info.type == tarfile.REGTYPE else 0\n    tar.addfile(info, io.BytesIO(data) if info.type == tarfile.REGTYPE else None)\nadd(layer, type=tarfile.DIRTYPE, mode=0o755)\n{script}\ntar.close()\n",
        tar.display().to_string(),
        layer.display().to_string(),
        outside.display().to_string(),
    );
    tool(Command::new("python3").arg("-c").arg(program));
    let sum = tool(Command::new("sha256sum").arg(&tar));
    let diff_id = format!("sha256:{}", &sum[..64]);
    fs::rename(&tar, committed.join(format!("{diff_id}.tar"))).unwrap();
    fs::write(
        committed.join("io.buildpacks.lifecycle.cache.metadata"),
        format!(
            r#"{{"sbom":{{"sha":""}},"buildpacks":[{{"key":"test/matrix","version":"1.0.0","layers":{{"evil":{{"sha":"{diff_id}","data":null,"build":false,"launch":false,"cache":true}}}}}}]}}"#
        ),
    )
    .unwrap();
    cache.display().to_string()
}

#[test]
fn hostile_cache_tars_write_nothing_outside_their_layer() {
    let e = matrix_built("0.15");
    e.analyze(&e.run_image.identifier(), None);
    let cases = [
        ("traversal", "add(layer + '/../../outside/escaped')"),
        (
            "symlink",
            "add(layer + '/link', type=tarfile.SYMTYPE, linkname=outside)\nadd(layer + '/link/escaped')",
        ),
        (
            "hard link",
            "open(outside + '/secret', 'w').write('s')\nadd(layer + '/hl', type=tarfile.LNKTYPE, linkname=outside + '/secret')",
        ),
        (
            "other layer",
            "add(layer.replace('/evil', '/cache') + '/escaped')",
        ),
        (
            "other buildpack",
            "add(layer.replace('test_matrix/evil', 'test_other/layer') + '/escaped')",
        ),
    ];
    for (what, script) in cases {
        fresh_layers(&e);
        let _ = fs::remove_dir_all(e.build.path("hostile"));
        let _ = fs::remove_dir_all(e.build.path("outside"));
        let cache = hostile_cache(&e, script);
        let ran = restorer(&e, &["-cache-dir", &cache], &[]);
        ran.expect_code(42)
            .expect_output("Restoring metadata for \"test/matrix:evil\" from cache")
            .expect_output("ERROR: failed to restore: restoring layer test/matrix:evil");
        let outside: Vec<_> = fs::read_dir(e.build.path("outside"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .filter(|n| n != "secret")
            .collect();
        assert!(outside.is_empty(), "{what}: wrote {outside:?} outside");
        assert!(!bp_path(&e, "evil").exists(), "{what}: layer left behind");
        assert!(
            !bp_path(&e, "evil.toml").exists(),
            "{what}: metadata left behind"
        );
        assert!(
            !bp_path(&e, "cache").exists(),
            "{what}: wrote into another layer"
        );
        assert!(
            !e.build.path("layers/test_other").exists(),
            "{what}: other buildpack"
        );
    }
}

/// Writes analyzed.toml with `[run-image]` `image` and no target, and a group with an
/// extension (so the restorer completes the run image record).
fn extension_group(e: &Exported, image: &str, extend: bool) {
    e.build.write(
        "layers/analyzed.toml",
        &format!(
            "[run-image]\n  reference = \"\"\n  image = \"{image}\"\n{}",
            if extend { "  extend = true\n" } else { "" }
        ),
    );
    e.build.write(
        "layers/group.toml",
        "[[group]]\nid = \"test/matrix\"\nversion = \"1.0.0\"\napi = \"0.10\"\n\n[[group-extensions]]\nid = \"test/ext\"\nversion = \"1.0.0\"\napi = \"0.10\"\nextension = true\n",
    );
}

fn analyzed(e: &Exported) -> toml::Table {
    toml::from_str(&e.build.read("layers/analyzed.toml")).unwrap()
}

#[test]
fn run_image_digest_and_target_are_recorded_for_extensions() {
    let registry = Registry::anonymous();
    for api in ["0.10", "0.12", "0.15"] {
        let e = matrix_built(api);
        registry.seed(&e.run_image.path, "latest", "run:latest");
        let run = registry.image("run:latest");
        e.build
            .write("cnb/run.toml", &format!("[[images]]\nimage = \"{run}\"\n"));
        extension_group(&e, &run, false);
        let run_toml = e.build.path("cnb/run.toml").display().to_string();
        let mut args = vec![];
        if minor(api) >= 14 {
            args.extend(["-run", run_toml.as_str()]);
        }
        restorer(&e, &args, &[]).expect_code(0);
        let a = analyzed(&e);
        let run_image = a["run-image"].as_table().unwrap();
        assert_eq!(
            run_image["reference"].as_str().unwrap(),
            format!("{}@{}", registry.image("run"), e.run_image.digest)
        );
        let target = run_image.get("target");
        if minor(api) >= 12 {
            assert_eq!(target.unwrap()["os"].as_str(), Some("linux"), "{api}");
        } else {
            assert!(target.is_none(), "{api}: no target before 0.12");
        }
    }
}

#[test]
fn run_image_target_from_the_daemon_and_a_layout() {
    let e = matrix_built("0.12");
    // Daemon: the reference is an image ID.
    let d = dockerd::shared();
    d.load_oci(&e.run_image.path, "latest", "restorer-run:latest");
    extension_group(&e, "restorer-run:latest", false);
    restorer(&e, &["-daemon"], &[("DOCKER_HOST", d.host())]).expect_code(0);
    let a = analyzed(&e);
    let reference = a["run-image"]["reference"].as_str().unwrap();
    let id = d.image_id("restorer-run:latest").unwrap();
    assert_eq!(reference, id.trim_start_matches("sha256:"));
    assert!(!reference.contains("@sha256:"));
    assert_eq!(a["run-image"]["target"]["os"].as_str(), Some("linux"));
    // Layout: the reference is the image's directory and digest.
    let layout_dir = e.build.path("layout-repo");
    let dir = layout_dir.join("index.docker.io/library/run/latest");
    fs::create_dir_all(dir.parent().unwrap()).unwrap();
    tool(
        Command::new("cp")
            .arg("-a")
            .arg(&e.run_image.path)
            .arg(&dir),
    );
    extension_group(&e, "run:latest", false);
    let layout = layout_dir.display().to_string();
    restorer(
        &e,
        &["-layout", "-layout-dir", &layout],
        &[("CNB_EXPERIMENTAL_MODE", "warn")],
    )
    .expect_code(0);
    let a = analyzed(&e);
    assert_eq!(
        a["run-image"]["reference"].as_str().unwrap(),
        format!("{}@{}", dir.display(), e.run_image.digest)
    );
    assert_eq!(a["run-image"]["target"]["os"].as_str(), Some("linux"));
}

#[test]
fn platform_014_checks_the_chosen_run_image_is_still_readable() {
    let locked = Registry::basic("user", "secret-pass");
    let e = matrix_built("0.14");
    let run = locked.image("run:latest");
    e.build
        .write("cnb/run.toml", &format!("[[images]]\nimage = \"{run}\"\n"));
    e.build.write(
        "layers/analyzed.toml",
        &format!("[run-image]\n  reference = \"{run}\"\n  image = \"{run}\"\n"),
    );
    fresh_layers(&e);
    let run_toml = e.build.path("cnb/run.toml").display().to_string();
    restorer(&e, &["-run", &run_toml], &[])
        .expect_code(1)
        .expect_output(&format!("selected run image '{run}' is not accessible"));
    // An image run.toml does not list (an extension chose it) is kept unchecked.
    e.build.write(
        "cnb/run.toml",
        "[[images]]\nimage = \"other.example/run\"\n",
    );
    restorer(&e, &["-run", &run_toml], &[]).expect_code(0);
}

#[test]
fn build_image_and_extended_run_image_are_saved_for_kaniko() {
    let registry = Registry::anonymous();
    let e = matrix_built("0.12");
    registry.seed(&e.run_image.path, "latest", "build:latest");
    registry.seed(&e.run_image.path, "latest", "run:latest");
    // The platform provides /kaniko (a volume); the restorer gives it to the build user.
    let kaniko = Kaniko::provide();
    let base = kaniko.0.join("cache/base");
    let saved = base.join(&e.run_image.digest);
    extension_group(&e, &registry.image("run:latest"), true);
    let build_image = registry.image("build:latest");
    restorer(&e, &["-build-image", &build_image], &[]).expect_code(0);
    let a = analyzed(&e);
    let digest_ref = |name: &str| format!("{}@{}", registry.image(name), e.run_image.digest);
    assert_eq!(
        a["build-image"]["reference"].as_str().unwrap(),
        digest_ref("build")
    );
    assert_eq!(
        a["run-image"]["reference"].as_str().unwrap(),
        digest_ref("run")
    );
    assert_eq!(a["run-image"]["extend"].as_bool(), Some(true));
    assert_eq!(a["run-image"]["target"]["os"].as_str(), Some("linux"));
    // Manifest and config, as an OCI layout kaniko and skopeo read.
    assert!(saved.join("oci-layout").is_file());
    let index: Value =
        serde_json::from_slice(&fs::read(saved.join("index.json")).unwrap()).unwrap();
    assert_eq!(index["manifests"][0]["digest"], e.run_image.digest.as_str());
    let blob = |digest: &str| {
        let path = saved
            .join("blobs/sha256")
            .join(digest.trim_start_matches("sha256:"));
        let sum = tool(Command::new("sha256sum").arg(&path));
        assert_eq!(
            format!("sha256:{}", &sum[..64]),
            digest,
            "blob content matches its digest"
        );
        serde_json::from_slice::<Value>(&fs::read(path).unwrap()).unwrap()
    };
    let manifest = blob(&e.run_image.digest);
    let config = blob(manifest["config"]["digest"].as_str().unwrap());
    assert_eq!(config["os"], "linux");
    // Sparse: no layer blobs.
    assert_eq!(fs::read_dir(saved.join("blobs/sha256")).unwrap().count(), 2);
    fs::remove_dir_all(&saved).unwrap();
}

/// `/kaniko` for one test: created when missing, and then removed when done (even on
/// failure).
struct Kaniko(PathBuf, bool);

impl Kaniko {
    fn provide() -> Kaniko {
        let dir = PathBuf::from("/kaniko");
        let created = !dir.exists();
        fs::create_dir_all(&dir).unwrap();
        Kaniko(dir, created)
    }
}

impl Drop for Kaniko {
    fn drop(&mut self) {
        if self.1 {
            let _ = fs::remove_dir_all(&self.0);
        }
    }
}

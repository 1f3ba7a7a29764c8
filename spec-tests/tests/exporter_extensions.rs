//! The exporter with a run image extended by extensions (Platform API 0.12+): the
//! extender's output is built by hand (the fixture's run image plus two extension
//! layers with odd owners and times, one a gzip PAX tar, one a plain GNU tar, and a
//! config of its own) under `<layers>/extended/run/`, and the app image is exported to
//! a registry and to the Docker daemon. The extension layers must sit right above the
//! run image's, rewritten as the reference rewrites them (the diff IDs are compared
//! with Go's `archive/tar` doing what the reference's `TarLayer` does), with the
//! extender's history; the image must carry the extended config and still run.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::{Value, json};
use spec_tests::dockerd;
use spec_tests::export::{Exported, blob, built, json_file, read_image, run_in_image, tool};
use spec_tests::images;
use spec_tests::registry::Registry;

const LATEST: &str = "0.15";
const CREATED_BY: [&str; 2] = [
    "Layer: 'RUN make-ext', Created by extension: test/ext-a",
    "Layer: 'COPY ext /ext', Created by extension: test/ext-b",
];
const HELLO: &str = "hello from an extension\n";

/// The reference's normalization of an extension layer, with Go's `archive/tar`.
/// (The same Go program the layer module's unit tests compare with: `normalize <in> <out>`.)
const NORMALIZE_GO: &str = include_str!("../../lifecycle/tests/golden/normalize/main.go");

/// The Go normalizer, built once; `None` (after saying so) without `go`.
fn go_normalizer() -> Option<&'static Path> {
    static BINARY: OnceLock<Option<PathBuf>> = OnceLock::new();
    BINARY
        .get_or_init(|| {
            spec_tests::golang::build_program(
                NORMALIZE_GO,
                &Path::new(env!("CARGO_TARGET_TMPDIR")).join("extension-normalizer"),
                "normalize",
            )
        })
        .as_deref()
}

fn sha256_file(path: &Path) -> String {
    let out = tool(Command::new("sha256sum").arg(path));
    format!("sha256:{}", &out[..64])
}

/// `sha256:<hex>` of the uncompressed tar of blob `path`.
fn diff_id_of_blob(path: &Path) -> String {
    let out = tool(
        Command::new("sh")
            .arg("-c")
            .arg(format!("gzip -dc '{}' | sha256sum", path.display())),
    );
    format!("sha256:{}", &out[..64])
}

/// The extension layers as the extender left them, and what the app image must get.
struct Extension {
    /// The input tars (uncompressed).
    tars: [PathBuf; 2],
    /// Their diff IDs after Go's normalization (`None` without `go`).
    go_diff_ids: Option<[String; 2]>,
}

/// Writes `<layers>/extended/run/<dir>`: the run image's layer (listed, blob absent)
/// and two extension layers, with a config of its own.
fn extend_run_image(e: &Exported) -> Extension {
    let work = e.build.path("extension-work");
    // Layer 1, as kaniko would write it: PAX, sub-second times, named owners.
    let tree = work.join("tree-a");
    fs::create_dir_all(tree.join("usr/share/ext")).unwrap();
    fs::write(tree.join("usr/share/ext/hello.txt"), HELLO).unwrap();
    fs::hard_link(
        tree.join("usr/share/ext/hello.txt"),
        tree.join("usr/share/ext/hard.txt"),
    )
    .unwrap();
    std::os::unix::fs::symlink("hello.txt", tree.join("usr/share/ext/link")).unwrap();
    let tar_a = work.join("a.tar");
    tool(
        Command::new("tar")
            .args(["--format=posix", "--sort=name"])
            .args(["--owner=someone:1234", "--group=grp:5678"])
            .arg("--mtime=@1234567890.25")
            .arg("-C")
            .arg(&tree)
            .arg("-cf")
            .arg(&tar_a)
            .arg("usr"),
    );
    // Layer 2: a plain GNU tar with a tool to run.
    let tree = work.join("tree-b");
    fs::create_dir_all(tree.join("ext/bin")).unwrap();
    let script = tree.join("ext/bin/ext-tool");
    fs::write(&script, "#!/bin/sh\necho \"ext tool ran as $(id -u)\"\n").unwrap();
    tool(Command::new("chmod").arg("755").arg(&script));
    let tar_b = work.join("b.tar");
    tool(
        Command::new("tar")
            .args(["--format=gnu", "--sort=name", "--numeric-owner"])
            .args(["--owner=0", "--group=0", "--mtime=@987654321"])
            .arg("-C")
            .arg(&tree)
            .arg("-cf")
            .arg(&tar_b)
            .arg("ext"),
    );

    let (_, run_manifest, run_config) = read_image(&e.run_image.path);
    let dir = e.build.path("layers/extended/run/extended-run-image");
    fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
    let put = |path: &Path| -> (String, u64) {
        let digest = sha256_file(path);
        let size = fs::metadata(path).unwrap().len();
        fs::copy(path, blob(&dir, &digest)).unwrap();
        (digest, size)
    };
    let gz_a = work.join("a.tar.gz");
    tool(Command::new("sh").arg("-c").arg(format!(
        "gzip -n -c '{}' > '{}'",
        tar_a.display(),
        gz_a.display()
    )));
    let (digest_a, size_a) = put(&gz_a);
    let (digest_b, size_b) = put(&tar_b);

    let mut config = run_config.clone();
    let c = &mut config["config"];
    c["Env"]
        .as_array_mut()
        .unwrap()
        .push("EXT_VAR=from-extension".into());
    c["Labels"]["io.buildpacks.rebasable"] = "false".into();
    c["Labels"]["ext.label"] = "ext-value".into();
    c["ExposedPorts"] = json!({"8080/tcp": {}});
    c["StopSignal"] = "SIGINT".into();
    config["rootfs"]["diff_ids"] = json!([
        e.run_image.top_layer,
        sha256_file(&tar_a),
        sha256_file(&tar_b)
    ]);
    config["history"] = json!([
        run_config["history"][0],
        {"created": "2024-01-01T00:00:00Z", "created_by": CREATED_BY[0]},
        {"created": "2024-01-01T00:00:00Z", "created_by": "ENV EXT_VAR=from-extension", "empty_layer": true},
        {"created": "2024-01-01T00:00:00Z", "created_by": CREATED_BY[1]},
    ]);
    let config_file = work.join("config.json");
    fs::write(&config_file, serde_json::to_vec(&config).unwrap()).unwrap();
    let (config_digest, config_size) = put(&config_file);
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config_size},
        "layers": [
            run_manifest["layers"][0],
            {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": digest_a, "size": size_a},
            {"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digest_b, "size": size_b},
        ],
    });
    let manifest_file = work.join("manifest.json");
    fs::write(&manifest_file, serde_json::to_vec(&manifest).unwrap()).unwrap();
    let (manifest_digest, manifest_size) = put(&manifest_file);
    let index = json!({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": manifest_digest, "size": manifest_size}]});
    fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    assert!(
        !blob(&dir, run_manifest["layers"][0]["digest"].as_str().unwrap()).exists(),
        "the run image's layer stays out of the extended layout"
    );

    let go_diff_ids = go_normalizer().map(|go| {
        [&gz_a, &tar_b].map(|input| {
            let out = input.with_extension("normalized");
            tool(Command::new(go).arg("normalize").arg(input).arg(&out));
            sha256_file(&out)
        })
    });
    e.build.chown();
    Extension {
        tars: [tar_a, tar_b],
        go_diff_ids,
    }
}

/// Points analyzed.toml at `run_ref`, with `extend = true` on the run image.
fn analyze_extended(e: &Exported, run_ref: &str) {
    e.analyze(run_ref, None);
    let text = e.build.read("layers/analyzed.toml");
    let extended = text.replace("[run-image]\n", "[run-image]\nextend = true\n");
    assert_ne!(text, extended, "{text}");
    e.build.write("layers/analyzed.toml", &extended);
    e.build.chown();
}

/// Checks the extension layers of an exported image: right above the run image's,
/// normalized (fixed mtime, no user or group names, owners and contents kept), with
/// the extender's history entries.
fn check_extension_layers(ext: &Extension, e: &Exported, diff_ids: &[Value], created_by: &[&str]) {
    assert_eq!(diff_ids[0], e.run_image.top_layer);
    let ours = [&diff_ids[1], &diff_ids[2]].map(|v| v.as_str().unwrap().to_string());
    for (i, tar) in ext.tars.iter().enumerate() {
        assert_ne!(ours[i], sha256_file(tar), "layer {i} was not normalized");
    }
    if let Some(go) = &ext.go_diff_ids {
        assert_eq!(&ours, go, "diff IDs differ from Go's normalization");
    }
    assert_eq!(created_by[1], CREATED_BY[0]);
    assert_eq!(created_by[2], CREATED_BY[1]);
    assert!(
        created_by[3].contains("Created by buildpack: test/maker@1.0.0"),
        "{created_by:?}"
    );
}

/// Checks the uncompressed tars of the two extension layers.
fn check_layer_tars(tars: [&Path; 2]) {
    let listing = |tar: &Path| {
        tool(
            Command::new("tar")
                .args(["--numeric-owner", "--full-time", "-tvf"])
                .arg(tar),
        )
    };
    let a = listing(tars[0]);
    for line in a.lines() {
        assert!(line.contains(" 1234/5678 "), "owner kept: {line}");
        assert!(line.contains(" 1980-01-01 00:00:01 "), "mtime: {line}");
    }
    assert!(
        a.contains("usr/share/ext/hello.txt link to usr/share/ext/hard.txt"),
        "{a}"
    );
    assert!(a.contains("usr/share/ext/link -> hello.txt"), "{a}");
    let bytes = fs::read(tars[0]).unwrap();
    for name in [&b"someone"[..], b"grp", b"mtime="] {
        assert!(
            !bytes.windows(name.len()).any(|w| w == name),
            "{} still in the layer",
            String::from_utf8_lossy(name)
        );
    }
    // The access and change times of PAX entries are kept, as the reference keeps them.
    assert!(bytes.windows(6).any(|w| w == b"atime="));
    let b = listing(tars[1]);
    assert!(b.contains("-rwxr-xr-x 0/0"), "{b}");
    assert!(b.contains(" 1980-01-01 00:00:01 ext/bin/ext-tool"), "{b}");
}

fn check_config(config: &Value) {
    let c = &config["config"];
    let env: Vec<&str> = c["Env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(env.contains(&"EXT_VAR=from-extension"), "{env:?}");
    assert!(
        env.iter().any(|v| v.starts_with("CNB_LAYERS_DIR=")),
        "{env:?}"
    );
    assert_eq!(c["Labels"]["io.buildpacks.rebasable"], "false");
    assert_eq!(c["Labels"]["ext.label"], "ext-value");
    assert_eq!(c["Labels"]["io.buildpacks.stack.id"], "test.stack");
    assert_eq!(c["ExposedPorts"], json!({"8080/tcp": {}}));
    assert_eq!(c["StopSignal"], "SIGINT");
    assert_eq!(c["Entrypoint"], json!(["/cnb/process/web"]));
}

fn pull(registry: &Registry, image: &str, dir: &Path) -> PathBuf {
    fs::create_dir_all(dir).unwrap();
    let layout = dir.join("pulled");
    tool(
        Command::new("skopeo")
            .args(["copy", "-q", "--src-tls-verify=false", "--preserve-digests"])
            .arg(format!("docker://{}", registry.image(image)))
            .arg(format!("oci:{}:latest", layout.display())),
    );
    layout
}

fn seed(e: &Exported, registry: &Registry) -> String {
    registry.seed(&e.run_image.path, "latest", "run:latest");
    format!("{}@{}", registry.image("run"), e.run_image.digest)
}

fn history(config: &Value) -> Vec<String> {
    config["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["created_by"].as_str().unwrap_or("").to_string())
        .collect()
}

#[test]
fn an_extended_run_image_exports_to_a_registry_and_runs() {
    let e = built(LATEST);
    let ext = extend_run_image(&e);
    let registry = Registry::anonymous();
    let run_ref = seed(&e, &registry);
    analyze_extended(&e, &run_ref);
    let app = registry.image("app:latest");
    e.exporter(&["-log-level", "debug", &app], &[])
        .expect_code(0)
        .expect_output("Using config from extensions...")
        .expect_no_output("extended-layer");

    let work = tempfile::tempdir().unwrap();
    let layout = pull(&registry, "app:latest", work.path());
    let (_, manifest, config) = read_image(&layout);
    let run_manifest = read_image(&e.run_image.path).1;
    assert_eq!(manifest["layers"][0], run_manifest["layers"][0]);
    let diff_ids = config["rootfs"]["diff_ids"].as_array().unwrap();
    let created_by = history(&config);
    assert_eq!(created_by.len(), diff_ids.len());
    let created_by: Vec<&str> = created_by.iter().map(String::as_str).collect();
    check_extension_layers(&ext, &e, diff_ids, &created_by);
    check_config(&config);
    let meta: Value = serde_json::from_str(
        config["config"]["Labels"]["io.buildpacks.lifecycle.metadata"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(meta["runImage"]["topLayer"], e.run_image.top_layer);

    // The blobs hold the tars the diff IDs name.
    let mut tars = Vec::new();
    for i in 1..=2 {
        let digest = manifest["layers"][i]["digest"].as_str().unwrap();
        assert_eq!(
            manifest["layers"][i]["mediaType"],
            "application/vnd.oci.image.layer.v1.tar+gzip"
        );
        let gz = blob(&layout, digest);
        assert_eq!(diff_id_of_blob(&gz), diff_ids[i]);
        let tar = work.path().join(format!("layer-{i}.tar"));
        tool(Command::new("sh").arg("-c").arg(format!(
            "gzip -dc '{}' > '{}'",
            gz.display(),
            tar.display()
        )));
        tars.push(tar);
    }
    check_layer_tars([&tars[0], &tars[1]]);

    let bundle = work.path().join("bundle");
    images::unpack(&layout, &bundle);
    let rootfs = bundle.join("rootfs");
    assert_eq!(
        run_in_image(&rootfs, &config, &["/cnb/process/web"]),
        "hello from web\n"
    );
    let launcher = "/cnb/lifecycle/launcher";
    assert_eq!(
        run_in_image(&rootfs, &config, &[launcher, "/ext/bin/ext-tool"]),
        "ext tool ran as 1000\n"
    );
    assert_eq!(
        run_in_image(
            &rootfs,
            &config,
            &[
                launcher,
                "sh",
                "-c",
                "cat /usr/share/ext/hard.txt; echo $EXT_VAR"
            ]
        ),
        format!("{HELLO}from-extension\n")
    );

    // The same export again gives the same image.
    e.exporter(&[&registry.image("app:again")], &[])
        .expect_code(0);
    let again = read_image(&pull(&registry, "app:again", &work.path().join("again"))).0;
    assert_eq!(read_image(&layout).0, again);
}

#[test]
fn an_extended_run_image_exports_to_the_daemon_and_runs() {
    let d = dockerd::shared();
    let e = built(LATEST);
    let ext = extend_run_image(&e);
    d.load_oci(&e.run_image.path, "latest", "cnb-test/ext-run:latest");
    let run_id = d.image_id("cnb-test/ext-run:latest").unwrap();
    analyze_extended(&e, &run_id);
    e.exporter(
        &["-daemon", "-log-level", "debug", "cnb-test/ext-app"],
        &[("DOCKER_HOST", d.host())],
    )
    .expect_code(0)
    .expect_no_output("Using config from extensions...");

    let out = d.docker_ok(&["image", "inspect", "cnb-test/ext-app"]);
    let image = serde_json::from_str::<Value>(&out).unwrap()[0].clone();
    let diff_ids = image["RootFS"]["Layers"].as_array().unwrap();
    let id = image["Id"].as_str().unwrap();
    let history = d.docker_ok(&["history", "--no-trunc", "--format", "{{.CreatedBy}}", id]);
    let mut created_by: Vec<&str> = history.lines().collect();
    created_by.reverse();
    assert_eq!(created_by.len(), diff_ids.len(), "{history}");
    check_extension_layers(&ext, &e, diff_ids, &created_by);
    check_config(&json!({"config": image["Config"]}));

    // The daemon's copies of the layers are the normalized tars.
    let work = tempfile::tempdir().unwrap();
    let saved = work.path().join("saved");
    fs::create_dir(&saved).unwrap();
    let archive = work.path().join("image.tar");
    d.docker_ok(&["save", "-o", &archive.display().to_string(), id]);
    tool(
        Command::new("tar")
            .arg("-C")
            .arg(&saved)
            .arg("-xf")
            .arg(&archive),
    );
    let docker_manifest = json_file(&saved.join("manifest.json"));
    let layer = |i: usize| saved.join(docker_manifest[0]["Layers"][i].as_str().unwrap());
    for (i, diff_id) in diff_ids.iter().enumerate().take(3).skip(1) {
        assert_eq!(sha256_file(&layer(i)), *diff_id);
    }
    check_layer_tars([&layer(1), &layer(2)]);

    let ran = d.run("cnb-test/ext-app", &[]);
    assert_eq!(ran.stdout, "hello from web\n", "{}", ran.all());
    let ran = d.run_entrypoint(
        "/cnb/lifecycle/launcher",
        "cnb-test/ext-app",
        &[
            "sh",
            "-c",
            "/ext/bin/ext-tool; cat /usr/share/ext/link; echo $EXT_VAR",
        ],
    );
    assert_eq!(
        ran.stdout,
        format!("ext tool ran as 1000\n{HELLO}from-extension\n"),
        "{}",
        ran.all()
    );
}

#[test]
fn extension_layers_without_extend_and_the_experimental_guard() {
    // Without `extend = true` the layers are still added (as the reference adds
    // whatever the extender left) but the run image's config is kept.
    let e = built(LATEST);
    let ext = extend_run_image(&e);
    let registry = Registry::anonymous();
    let run_ref = seed(&e, &registry);
    e.analyze(&run_ref, None);
    e.exporter(&[&registry.image("plain:latest")], &[])
        .expect_code(0);
    let work = tempfile::tempdir().unwrap();
    let (_, _, config) = read_image(&pull(&registry, "plain:latest", work.path()));
    let created_by = history(&config);
    let created_by: Vec<&str> = created_by.iter().map(String::as_str).collect();
    check_extension_layers(
        &ext,
        &e,
        config["rootfs"]["diff_ids"].as_array().unwrap(),
        &created_by,
    );
    assert_eq!(config["config"]["Labels"]["ext.label"], Value::Null);
    assert_eq!(config["config"]["ExposedPorts"], Value::Null);

    // Below Platform API 0.13 extension layers are experimental.
    let e = built("0.12");
    extend_run_image(&e);
    let run_ref = seed(&e, &registry);
    analyze_extended(&e, &run_ref);
    let app = registry.image("exp:latest");
    e.exporter(&[&app], &[])
        .expect_code(1)
        .expect_output("Platform requested experimental feature 'Dockerfiles'")
        .expect_output("experimental features are disabled by CNB_EXPERIMENTAL_MODE=error");
    e.exporter(&[&app], &[("CNB_EXPERIMENTAL_MODE", "warn")])
        .expect_code(0)
        .expect_output("Platform requested experimental feature 'Dockerfiles'");
    let (_, _, config) = read_image(&pull(&registry, "exp:latest", &work.path().join("exp")));
    assert_eq!(
        config["config"]["Labels"]["io.buildpacks.rebasable"],
        "false"
    );
    assert_eq!(config["rootfs"]["diff_ids"].as_array().unwrap().len(), 10);
}

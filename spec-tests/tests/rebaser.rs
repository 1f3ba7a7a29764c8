//! The rebaser, driven as a platform drives it: an app image exported by our exporter on
//! run image A is rebased onto A' (one more layer, other labels) in a registry, the
//! Docker daemon and OCI layouts, then read back (skopeo, oci-image-tool, umoci, docker)
//! and run. In the registry every request goes through `registry-meter`, which shows
//! that a rebase moves no layer bytes.

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::Duration;

use nix::sys::signal::{self, Signal};
use nix::unistd::Pid;
use serde_json::{Value, json};
use spec_tests::dockerd;
use spec_tests::export::{Exported, blob, built, read_image, run_in_image, tool};
use spec_tests::images::{self, LayoutImage};
use spec_tests::registry::Registry;
use spec_tests::{BUILD_GID, BUILD_UID, Ran, run};

const LATEST: &str = "0.15";

/// `registry-meter` in front of a registry, stopped on drop.
struct Meter {
    child: Child,
    lines: Receiver<String>,
    host: String,
}

impl Meter {
    fn start(upstream: &str) -> Meter {
        let mut child = Command::new(env!("CARGO_BIN_EXE_registry-meter"))
            .args(["--upstream", upstream])
            .stdout(Stdio::piped())
            .spawn()
            .expect("start registry-meter");
        let (tx, lines) = channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let first = lines
            .recv_timeout(Duration::from_secs(10))
            .expect("meter up");
        let host = first.strip_prefix("listening: ").expect(&first).to_string();
        Meter { child, lines, host }
    }

    /// Layer and JSON blob bytes moved since the last call (the counters restart).
    fn take(&self) -> (u64, u64) {
        signal::kill(Pid::from_raw(self.child.id() as i32), Signal::SIGUSR1).unwrap();
        let line = self
            .lines
            .recv_timeout(Duration::from_secs(10))
            .expect("meter report");
        let numbers: Vec<u64> = line
            .split_whitespace()
            .filter_map(|w| w.parse().ok())
            .collect();
        (numbers[0], numbers[1])
    }

    fn image(&self, path: &str) -> String {
        format!("{}/{path}", self.host)
    }
}

impl Drop for Meter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn sha256_file(path: &Path) -> String {
    let out = tool(Command::new("sha256sum").arg(path));
    format!("sha256:{}", &out[..64])
}

/// Writes `bytes` as a blob of `layout` and returns its digest.
fn put_blob(layout: &Path, bytes: &[u8]) -> String {
    let tmp = layout.join("blob.tmp");
    fs::write(&tmp, bytes).unwrap();
    let digest = sha256_file(&tmp);
    fs::rename(&tmp, blob(layout, &digest)).unwrap();
    digest
}

/// A run image at `dir` made from `base`: its layers plus one holding
/// `/etc/run-image-version` = `version`, its labels changed by `labels` (`None` removes
/// one), then `tweak` applied to the config.
fn next_run_image(
    base: &LayoutImage,
    dir: &Path,
    version: &str,
    labels: &[(&str, Option<&str>)],
    tweak: impl FnOnce(&mut Value),
) -> LayoutImage {
    fs::create_dir_all(dir.parent().unwrap()).unwrap();
    tool(Command::new("cp").arg("-a").arg(&base.path).arg(dir));
    let (_, mut manifest, mut config) = read_image(dir);
    let work = tempfile::tempdir().unwrap();
    let root = work.path().join("root");
    fs::create_dir_all(root.join("etc")).unwrap();
    fs::write(root.join("etc/run-image-version"), format!("{version}\n")).unwrap();
    let tar = work.path().join("layer.tar");
    tool(
        Command::new("tar")
            .args([
                "--sort=name",
                "--mtime=@0",
                "--owner=0",
                "--group=0",
                "--numeric-owner",
            ])
            .arg("-C")
            .arg(&root)
            .arg("-cf")
            .arg(&tar)
            .arg("etc"),
    );
    let diff_id = sha256_file(&tar);
    tool(Command::new("gzip").args(["-n", "-1"]).arg(&tar));
    let gz = fs::read(work.path().join("layer.tar.gz")).unwrap();
    let layer_digest = put_blob(dir, &gz);
    config["rootfs"]["diff_ids"]
        .as_array_mut()
        .unwrap()
        .push(json!(diff_id));
    config["history"].as_array_mut().unwrap().push(
        json!({"created": "2001-01-01T00:00:00Z", "created_by": format!("run image {version}")}),
    );
    let all = config["config"]["Labels"].as_object_mut().unwrap();
    for (k, v) in labels {
        match v {
            Some(v) => all.insert(k.to_string(), json!(v)),
            None => all.remove(*k),
        };
    }
    tweak(&mut config);
    let config = serde_json::to_vec(&config).unwrap();
    let config_digest = put_blob(dir, &config);
    manifest["config"]["digest"] = json!(config_digest);
    manifest["config"]["size"] = json!(config.len());
    manifest["layers"].as_array_mut().unwrap().push(json!({
        "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
        "digest": layer_digest,
        "size": gz.len(),
    }));
    let manifest = serde_json::to_vec(&manifest).unwrap();
    let digest = put_blob(dir, &manifest);
    let index = json!({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest, "size": manifest.len(),
        "annotations": {"org.opencontainers.image.ref.name": "latest"}}]});
    fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    LayoutImage {
        path: dir.to_path_buf(),
        digest,
        top_layer: diff_id,
    }
}

/// Runs the rebaser as root (it drops to the build user) with `-uid`/`-gid`, the report
/// in the build's layers directory, then `args`.
fn rebaser(e: &Exported, args: &[&str], env: &[(&str, &str)]) -> Ran {
    let report = e
        .build
        .path("layers/rebase-report.toml")
        .display()
        .to_string();
    let (uid, gid) = (BUILD_UID.to_string(), BUILD_GID.to_string());
    let mut all = vec!["-uid", &uid, "-gid", &gid, "-report", &report];
    all.extend_from_slice(args);
    let mut cmd = e.build.phase_as_root("rebaser", &all);
    cmd.envs(env.iter().copied());
    run(&mut cmd)
}

fn report(e: &Exported) -> toml::Value {
    toml::from_str(&e.build.read("layers/rebase-report.toml")).unwrap()
}

fn label(config: &Value, key: &str) -> Value {
    serde_json::from_str(config["config"]["Labels"][key].as_str().unwrap()).unwrap()
}

fn diff_ids(config: &Value) -> Vec<String> {
    config["rootfs"]["diff_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap().to_string())
        .collect()
}

/// Copies `image` (a `docker://` host/path) into a layout under `dir` with skopeo.
fn pull(image: &str, dir: &Path) -> PathBuf {
    fs::create_dir_all(dir).unwrap();
    let layout = dir.join("pulled");
    tool(
        Command::new("skopeo")
            .args(["copy", "-q", "--src-tls-verify=false", "--preserve-digests"])
            .arg(format!("docker://{image}"))
            .arg(format!("oci:{}:latest", layout.display())),
    );
    layout
}

fn push(layout: &Path, image: &str) {
    tool(
        Command::new("skopeo")
            .args(["copy", "-q", "--dest-tls-verify=false"])
            .arg(format!("oci:{}:latest", layout.display()))
            .arg(format!("docker://{image}")),
    );
}

/// Checks what every rebase must give: A' layers below the app's own (unchanged), the
/// lifecycle metadata pointing at A', base labels of A', the config otherwise kept.
fn assert_rebased(
    before: &Value,
    after: &Value,
    old: &LayoutImage,
    new: &LayoutImage,
    reference: &str,
) {
    let (old_ids, new_ids) = (diff_ids(before), diff_ids(after));
    let boundary = old_ids.iter().position(|d| *d == old.top_layer).unwrap();
    let new_base = diff_ids(&json_config(new));
    assert_eq!(new_ids[..new_base.len()], new_base[..], "run image layers");
    assert_eq!(
        new_ids[new_base.len()..],
        old_ids[boundary + 1..],
        "app layers unchanged"
    );
    let meta = label(after, "io.buildpacks.lifecycle.metadata");
    assert_eq!(meta["runImage"]["topLayer"], new.top_layer);
    assert_eq!(meta["runImage"]["reference"], reference);
    let old_meta = label(before, "io.buildpacks.lifecycle.metadata");
    assert_eq!(meta["buildpacks"], old_meta["buildpacks"]);
    assert_eq!(meta["launcher"], old_meta["launcher"]);
    let labels = &after["config"]["Labels"];
    assert_eq!(labels["io.buildpacks.base.maintainer"], "new maintainer");
    assert!(
        labels.get("io.buildpacks.base.homepage").is_none(),
        "{labels}"
    );
    assert_eq!(labels["some.label"], "some-value");
    assert_eq!(
        labels["io.buildpacks.build.metadata"],
        before["config"]["Labels"]["io.buildpacks.build.metadata"]
    );
    assert_eq!(
        after["config"]["Entrypoint"],
        before["config"]["Entrypoint"]
    );
    assert_eq!(after["config"]["Env"], before["config"]["Env"]);
    assert_eq!(after["created"], "1980-01-01T00:00:01Z");
    assert_eq!(
        after["history"].as_array().unwrap().len(),
        new_ids.len(),
        "one history entry per layer"
    );
    assert_eq!(
        after["history"][new_base.len() - 1]["created_by"],
        "run image 2"
    );
}

fn json_config(image: &LayoutImage) -> Value {
    read_image(&image.path).2
}

/// A (with a homepage label) and A' (one more layer; a maintainer instead).
fn run_images(e: &Exported) -> (LayoutImage, LayoutImage) {
    let a = images::run_image(
        &e.build.path("run-a"),
        &[("io.buildpacks.base.homepage", "https://old.example.com")],
    );
    let a2 = next_run_image(
        &a,
        &e.build.path("run-a2"),
        "2",
        &[
            ("io.buildpacks.base.homepage", None),
            ("io.buildpacks.base.maintainer", Some("new maintainer")),
        ],
        |_| {},
    );
    (a, a2)
}

#[test]
fn rebases_in_a_registry_without_moving_layer_bytes() {
    let e = built(LATEST);
    let registry = Registry::anonymous();
    let meter = Meter::start(registry.host());
    let (a, a2) = run_images(&e);
    // Recorded: an unreachable image and, as its mirror, the one in our registry.
    let mirror = meter.image("run:latest");
    e.build.write(
        "cnb/run.toml",
        &format!("[[images]]\nimage = \"127.0.0.1:1/run:latest\"\nmirrors = [\"{mirror}\"]\n"),
    );
    push(&a.path, &mirror);
    e.analyze(&format!("{}@{}", meter.image("run"), a.digest), None);
    let app = meter.image("app:latest");
    e.exporter(&[&app], &[]).expect_code(0);
    let work = tempfile::tempdir().unwrap();
    let (_, before_manifest, before) = read_image(&pull(&app, &work.path().join("before")));
    push(&a2.path, &mirror);

    meter.take();
    let tag = meter.image("app:rebased");
    rebaser(&e, &[&app, &tag], &[])
        .expect_code(0)
        .expect_output(&format!("Saving {app}..."))
        .expect_output(&format!("      {app}\n"))
        .expect_output(&format!("      {tag}\n"));
    let (layer_bytes, json_bytes) = meter.take();
    println!("rebase_layer_bytes: {layer_bytes}");
    assert_eq!(layer_bytes, 0, "a rebase moves no layer bytes");
    assert!(json_bytes > 0, "configs are read and written");

    let layout = pull(&app, &work.path().join("after"));
    let (pulled, _) = meter.take();
    assert!(pulled > 0, "the meter counts the layers a pull moves");
    tool(
        Command::new("oci-image-tool")
            .args(["validate", "--type", "image"])
            .arg(&layout),
    );
    let (digest, manifest, after) = read_image(&layout);
    assert_rebased(
        &before,
        &after,
        &a,
        &a2,
        &format!("{}@{}", meter.image("run"), a2.digest),
    );
    let meta = label(&after, "io.buildpacks.lifecycle.metadata");
    assert_eq!(meta["runImage"]["image"], "127.0.0.1:1/run:latest");
    assert_eq!(meta["runImage"]["mirrors"], json!([mirror]));
    // The app's blobs are the same blobs.
    let blobs = |m: &Value| -> Vec<Value> { m["layers"].as_array().unwrap().clone() };
    assert_eq!(blobs(&manifest)[2..], blobs(&before_manifest)[1..]);
    let report = report(&e);
    assert_eq!(report["image"]["digest"].as_str(), Some(digest.as_str()));
    assert_eq!(
        report["image"]["tags"],
        toml::Value::Array(vec![app.clone().into(), tag.clone().into()])
    );
    let (tag_digest, ..) = read_image(&pull(&tag, &work.path().join("tag")));
    assert_eq!(tag_digest, digest);

    let bundle = work.path().join("bundle");
    images::unpack(&layout, &bundle);
    let rootfs = bundle.join("rootfs");
    assert_eq!(
        run_in_image(&rootfs, &after, &["/cnb/process/web"]),
        "hello from web\n"
    );
    assert_eq!(
        run_in_image(&rootfs, &after, &["cat", "/etc/run-image-version"]),
        "2\n"
    );
}

#[test]
fn rebases_several_images_in_one_call() {
    let e = built(LATEST);
    let registry = Registry::anonymous();
    let meter = Meter::start(registry.host());
    let (a, a2) = run_images(&e);
    let run_name = meter.image("run:latest");
    e.build.write(
        "cnb/run.toml",
        &format!("[[images]]\nimage = \"{run_name}\"\n"),
    );
    push(&a.path, &run_name);
    e.analyze(&format!("{}@{}", meter.image("run"), a.digest), None);
    let apps: Vec<String> = (0..3)
        .map(|i| meter.image(&format!("app{i}:latest")))
        .collect();
    for app in &apps {
        e.exporter(&[app], &[]).expect_code(0);
    }
    push(&a2.path, &run_name);

    meter.take();
    let v2 = meter.image("app0:v2");
    let ran = rebaser(&e, &[&apps[0], &v2, "+", &apps[1], "+", &apps[2]], &[]);
    ran.expect_code(0);
    for app in &apps {
        ran.expect_output(&format!("Saving {app}..."));
    }
    let (layer_bytes, _) = meter.take();
    println!("rebase_layer_bytes: {layer_bytes}");
    assert_eq!(layer_bytes, 0);
    let images = report(&e)["image"].as_array().unwrap().clone();
    assert_eq!(images.len(), 3);
    assert_eq!(
        images[0]["tags"],
        toml::Value::Array(vec![apps[0].clone().into(), v2.into()])
    );
    let work = tempfile::tempdir().unwrap();
    for (i, app) in apps.iter().enumerate() {
        let (digest, _, config) = read_image(&pull(app, &work.path().join(i.to_string())));
        assert_eq!(images[i]["digest"].as_str(), Some(digest.as_str()));
        let meta = label(&config, "io.buildpacks.lifecycle.metadata");
        assert_eq!(meta["runImage"]["topLayer"], a2.top_layer);
    }

    // A missing image fails its group only; the others are rebased (again: same digest).
    let missing = meter.image("missing:latest");
    rebaser(&e, &[&apps[1], "+", &missing], &[])
        .expect_code(72)
        .expect_output(&format!(
            "failed to set app image for {missing}: failed to access image to rebase"
        ));
    let images = report(&e)["image"].as_array().unwrap().clone();
    assert!(images[0].get("digest").is_some() && images[1].get("digest").is_none());
    // The reference's rules still hold per call.
    rebaser(
        &e,
        &["-previous-image", &apps[0], &apps[1], "+", &apps[2]],
        &[],
    )
    .expect_code(3)
    .expect_output("-previous-image cannot be used when rebasing several images");
}

#[test]
fn previous_image_is_read_and_not_overwritten() {
    let e = built(LATEST);
    let registry = Registry::anonymous();
    let run_name = registry.image("run:latest");
    let (a, a2) = run_images(&e);
    e.build.write(
        "cnb/run.toml",
        &format!("[[images]]\nimage = \"{run_name}\"\n"),
    );
    push(&a.path, &run_name);
    e.analyze(&format!("{}@{}", registry.image("run"), a.digest), None);
    let app = registry.image("app:latest");
    e.exporter(&[&app], &[]).expect_code(0);
    let work = tempfile::tempdir().unwrap();
    let (old_digest, ..) = read_image(&pull(&app, &work.path().join("before")));
    push(&a2.path, &registry.image("run2:latest"));

    let out = registry.image("app:new");
    let run2 = registry.image("run2:latest");
    // Not recorded as the run image or a mirror: refused, then forced.
    rebaser(&e, &["-previous-image", &app, "-run-image", &run2, &out], &[])
        .expect_code(72)
        .expect_output(&format!(
            "ERROR: failed to rebase: rebase app image: new base image '{run2}' not found in existing run image metadata: "
        ))
        .expect_output("please provide -force to override");
    rebaser(
        &e,
        &["-previous-image", &app, "-run-image", &run2, "-force", &out],
        &[],
    )
    .expect_code(0)
    .expect_output("Warning: rebase app image: new base image");
    let (digest, _, config) = read_image(&pull(&out, &work.path().join("new")));
    assert_ne!(digest, old_digest);
    let (unchanged, ..) = read_image(&pull(&app, &work.path().join("old")));
    assert_eq!(unchanged, old_digest, "-previous-image is not overwritten");
    let meta = label(&config, "io.buildpacks.lifecycle.metadata");
    assert_eq!(meta["runImage"]["image"], run2);
    assert!(meta["runImage"].get("mirrors").is_none());
    assert_eq!(meta["stack"]["runImage"]["image"], run2);
    assert_eq!(meta["runImage"]["topLayer"], a2.top_layer);
}

#[test]
fn old_platform_images_are_checked_by_stack_and_mixins() {
    let e = built("0.11");
    let registry = Registry::anonymous();
    let a = images::run_image(
        &e.build.path("run-a"),
        &[("io.buildpacks.stack.mixins", r#"["run:curl","git"]"#)],
    );
    push(&a.path, &registry.image("run:latest"));
    e.analyze(&format!("{}@{}", registry.image("run"), a.digest), None);
    let app = registry.image("app:latest");
    e.exporter(&[&app], &[]).expect_code(0);
    let image = |name: &str, labels: &[(&str, Option<&str>)]| {
        let dir = e.build.path(name);
        let next = next_run_image(&a, &dir, "2", labels, |_| {});
        let reference = registry.image(&format!("{name}:latest"));
        push(&next.path, &reference);
        (next, reference)
    };
    // No stack.toml at export: nothing recorded, so -run-image is needed.
    rebaser(&e, &[&app], &[]).expect_code(72).expect_output(
        "ERROR: failed to set app image: failed to parse arguments: -run-image is required when there is no run image metadata available",
    );
    let (_, other_stack) = image(
        "other-stack",
        &[("io.buildpacks.stack.id", Some("other.stack"))],
    );
    rebaser(&e, &["-run-image", &other_stack, &app], &[])
        .expect_code(72)
        .expect_output("ERROR: failed to rebase: incompatible stack: 'other.stack' is not compatible with 'test.stack'");
    let (_, few_mixins) = image(
        "few-mixins",
        &[("io.buildpacks.stack.mixins", Some(r#"["curl"]"#))],
    );
    rebaser(&e, &["-run-image", &few_mixins, &app], &[])
        .expect_code(72)
        .expect_output("ERROR: failed to rebase: missing required mixin(s): git");
    let (next, ok) = image(
        "all-mixins",
        &[
            (
                "io.buildpacks.stack.mixins",
                Some(r#"["build:git","curl","zip"]"#),
            ),
            ("io.buildpacks.stack.extra", Some("x")),
        ],
    );
    // The app's base labels are kept below Platform 0.12; its stack labels replaced.
    rebaser(&e, &["-run-image", &ok, &app], &[]).expect_code(0);
    let work = tempfile::tempdir().unwrap();
    let (_, _, config) = read_image(&pull(&app, work.path()));
    let labels = &config["config"]["Labels"];
    assert_eq!(labels["io.buildpacks.stack.extra"], "x");
    assert_eq!(
        labels["io.buildpacks.stack.mixins"],
        r#"["build:git","curl","zip"]"#
    );
    assert_eq!(labels["io.buildpacks.base.distro.name"], "testos");
    assert_eq!(
        label(&config, "io.buildpacks.lifecycle.metadata")["runImage"]["topLayer"],
        next.top_layer
    );
}

#[test]
fn rebases_in_the_daemon() {
    let d = dockerd::shared();
    let e = built(LATEST);
    let (a, a2) = run_images(&e);
    let run_name = "cnb-test/rebase-run:latest";
    e.build.write(
        "cnb/run.toml",
        &format!("[[images]]\nimage = \"{run_name}\"\n"),
    );
    d.load_oci(&a.path, "latest", run_name);
    e.analyze(&d.image_id(run_name).unwrap(), None);
    let env = [("DOCKER_HOST", d.host())];
    e.exporter(&["-daemon", "cnb-test/rebase-app"], &env)
        .expect_code(0);
    let inspect = |name: &str| -> Value {
        serde_json::from_str::<Value>(&d.docker_ok(&["image", "inspect", name])).unwrap()[0].clone()
    };
    let before = inspect("cnb-test/rebase-app:latest");
    d.load_oci(&a2.path, "latest", run_name);
    let run_id = d.image_id(run_name).unwrap();

    rebaser(
        &e,
        &["-daemon", "cnb-test/rebase-app", "cnb-test/rebase-app:v2"],
        &env,
    )
    .expect_code(0)
    .expect_output("Saving cnb-test/rebase-app...");
    let after = inspect("cnb-test/rebase-app:latest");
    let id = after["Id"].as_str().unwrap();
    assert_eq!(d.image_id("cnb-test/rebase-app:v2").as_deref(), Some(id));
    let report = report(&e);
    assert_eq!(
        report["image"]["image-id"].as_str(),
        Some(id.trim_start_matches("sha256:"))
    );
    // Docker's inspect output has the layers under RootFS.Layers and no history.
    let layers = |i: &Value| -> Vec<String> {
        i["RootFS"]["Layers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_str().unwrap().to_string())
            .collect()
    };
    let (old_ids, new_ids) = (layers(&before), layers(&after));
    assert_eq!(new_ids[..2], diff_ids(&json_config(&a2))[..]);
    assert_eq!(new_ids[2..], old_ids[1..], "app layers unchanged");
    let meta: Value = serde_json::from_str(
        after["Config"]["Labels"]["io.buildpacks.lifecycle.metadata"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(meta["runImage"]["topLayer"], a2.top_layer);
    assert_eq!(
        meta["runImage"]["reference"],
        run_id.trim_start_matches("sha256:")
    );
    assert_eq!(
        after["Config"]["Labels"]["io.buildpacks.base.maintainer"],
        "new maintainer"
    );
    assert_eq!(after["Created"], "1980-01-01T00:00:01Z");
    assert_eq!(
        after["Config"]["Entrypoint"],
        before["Config"]["Entrypoint"]
    );
    let ran = d.run("cnb-test/rebase-app", &[]);
    assert_eq!(ran.stdout, "hello from web\n", "{}", ran.all());
    let version = d.run_entrypoint(
        "/bin/cat",
        "cnb-test/rebase-app",
        &["/etc/run-image-version"],
    );
    assert_eq!(version.stdout, "2\n", "{}", version.all());
}

/// The layout extension (`CNB_USE_LAYOUT`): the app image `my-app` exported to a layout
/// on A; the run images placed where their names map under the layout directory.
struct LayoutCase {
    e: Exported,
    a: LayoutImage,
    a2: LayoutImage,
}

impl LayoutCase {
    fn new(run_labels: &[(&str, &str)]) -> LayoutCase {
        let e = built(LATEST);
        let mut labels = vec![("io.buildpacks.base.homepage", "https://old.example.com")];
        labels.extend_from_slice(run_labels);
        let a = images::run_image(&e.build.path("run-a"), &labels);
        e.analyze(&a.identifier(), None);
        let layout = e.build.path("layout-repo").display().to_string();
        e.exporter(
            &["-layout", "-layout-dir", &layout, "my-app"],
            &[("CNB_EXPERIMENTAL_MODE", "warn")],
        )
        .expect_code(0);
        // Recorded by the exporter from cnb/run.toml: example.com/run:latest.
        let a2 = next_run_image(
            &a,
            &e.build.path("layout-repo/example.com/run/latest"),
            "2",
            &[
                ("io.buildpacks.base.homepage", None),
                ("io.buildpacks.base.maintainer", Some("new maintainer")),
            ],
            |_| {},
        );
        LayoutCase { e, a, a2 }
    }

    fn app_dir(&self, name: &str) -> PathBuf {
        self.e
            .build
            .path("layout-repo/index.docker.io/library")
            .join(name)
            .join("latest")
    }

    fn rebase(&self, args: &[&str]) -> Ran {
        let layout = self.e.build.path("layout-repo").display().to_string();
        rebaser(
            &self.e,
            args,
            &[
                ("CNB_USE_LAYOUT", "true"),
                ("CNB_LAYOUT_DIR", &layout),
                ("CNB_EXPERIMENTAL_MODE", "warn"),
            ],
        )
    }
}

#[test]
fn rebases_oci_layouts() {
    let c = LayoutCase::new(&[]);
    let (_, _, before) = read_image(&c.app_dir("my-app"));
    c.rebase(&["my-app", "my-app-copy"])
        .expect_code(0)
        .expect_output(&format!("Saving {}...", c.app_dir("my-app").display()));
    let dir = c.app_dir("my-app");
    tool(
        Command::new("oci-image-tool")
            .args(["validate", "--type", "image"])
            .arg(&dir),
    );
    let (digest, _, after) = read_image(&dir);
    let reference = format!("{}@{}", c.a2.path.display(), c.a2.digest);
    assert_rebased(&before, &after, &c.a, &c.a2, &reference);
    assert_eq!(read_image(&c.app_dir("my-app-copy")).0, digest);
    let report = report(&c.e);
    assert_eq!(report["image"]["digest"].as_str(), Some(digest.as_str()));
    let work = tempfile::tempdir().unwrap();
    let bundle = work.path().join("bundle");
    images::unpack(&dir, &bundle);
    let rootfs = bundle.join("rootfs");
    assert_eq!(
        run_in_image(&rootfs, &after, &["/cnb/process/web"]),
        "hello from web\n"
    );

    // Back onto A (named as the mirror): A's only layer, the app's above.
    let mirror = c.e.build.path("layout-repo/mirror.example.com/run/latest");
    fs::create_dir_all(mirror.parent().unwrap()).unwrap();
    tool(Command::new("cp").arg("-a").arg(&c.a.path).arg(&mirror));
    c.rebase(&["-run-image", "mirror.example.com/run:latest", "my-app"])
        .expect_code(0);
    let (_, _, back) = read_image(&dir);
    assert_eq!(diff_ids(&back)[0], c.a.top_layer);
    assert_eq!(diff_ids(&back)[1..], diff_ids(&before)[1..]);
}

#[test]
fn unsafe_rebases_need_force() {
    let c = LayoutCase::new(&[("io.buildpacks.rebasable", "false")]);
    c.rebase(&["my-app"])
        .expect_code(72)
        .expect_output("ERROR: failed to rebase: app image is not marked as rebasable; please provide -force to override");
    c.rebase(&["-force", "my-app"])
        .expect_code(0)
        .expect_output("Warning: app image is not marked as rebasable");

    // Another architecture: refused, then forced (the config takes A''s).
    let arm = next_run_image(
        &c.a,
        &c.e.build.path("layout-repo/example.com/arm/latest"),
        "3",
        &[],
        |config| config["architecture"] = json!("arm64"),
    );
    let ran = c.rebase(&["-run-image", "example.com/arm:latest", "my-app"]);
    ran.expect_code(72).expect_output(
        r#"ERROR: failed to rebase: app image is not marked as rebasable; please provide -force to override"#,
    );
    c.rebase(&["-force", "-run-image", "example.com/arm:latest", "my-app"])
        .expect_code(0)
        .expect_output(r#"Warning: unable to satisfy target os/arch constraints; new run image: {"os":"linux","arch":"arm64","distro":{"name":"testos","version":"1.0"}}, old run image: {"os":"linux","arch":"amd64","distro":{"name":"testos","version":"1.0"}}"#);
    let (_, _, config) = read_image(&c.app_dir("my-app"));
    assert_eq!(config["architecture"], "arm64");
    assert_eq!(
        label(&config, "io.buildpacks.lifecycle.metadata")["runImage"]["topLayer"],
        arm.top_layer
    );
}

#[test]
fn target_mismatch_without_force_fails() {
    let c = LayoutCase::new(&[]);
    next_run_image(
        &c.a,
        &c.e.build.path("layout-repo/example.com/run/other-distro"),
        "3",
        &[("io.buildpacks.base.distro.version", Some("2.0"))],
        |_| {},
    );
    c.rebase(&["-run-image", "example.com/run:other-distro", "my-app"])
        .expect_code(72)
        .expect_output(r#"unable to satisfy target os/arch constraints; new run image: {"os":"linux","arch":"amd64","distro":{"name":"testos","version":"2.0"}}, old run image: {"os":"linux","arch":"amd64","distro":{"name":"testos","version":"1.0"}}; please provide -force to override"#);
    c.rebase(&["-run-image", "example.com/missing:latest", "my-app"])
        .expect_code(1)
        .expect_output("ERROR: failed to access run image");
    c.rebase(&["not-there"])
        .expect_code(72)
        .expect_output("ERROR: failed to set app image: failed to access image to rebase");
    c.rebase(&["my-app", "+"]).expect_code(3);
}

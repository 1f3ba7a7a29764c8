//! The exporter writing to a Docker daemon (`-daemon`): dockerd started for the tests,
//! the run image loaded into it, the app image loaded by the exporter, inspected and run
//! with `docker run`; rebuilds reuse layers through placeholders, `docker save` and the
//! launch cache.

use std::fs;

use serde_json::Value;
use spec_tests::dockerd::{self, Dockerd};
use spec_tests::export::{Exported, built};

const LATEST: &str = "0.15";

/// Loads the run image into the daemon (once per name) and points analyzed.toml at it.
fn load_run_image(e: &Exported, d: &Dockerd, name: &str) -> String {
    d.load_oci(&e.run_image.path, "latest", name);
    let id = d.image_id(name).expect("run image loaded");
    e.analyze(&id, None);
    id
}

fn inspect(d: &Dockerd, name: &str) -> Value {
    let out = d.docker_ok(&["image", "inspect", name]);
    serde_json::from_str::<Value>(&out).unwrap()[0].clone()
}

fn export(e: &Exported, d: &Dockerd, args: &[&str]) -> spec_tests::Ran {
    let mut all = vec!["-daemon"];
    all.extend_from_slice(args);
    e.exporter(&all, &[("DOCKER_HOST", d.host())])
}

#[test]
fn exports_into_the_daemon_and_the_image_runs() {
    let d = dockerd::shared();
    let e = built(LATEST);
    let run_id = load_run_image(&e, d, "cnb-test/run-a:latest");
    export(&e, d, &["cnb-test/app-a", "cnb-test/app-a:v2"])
        .expect_code(0)
        .expect_output("Saving cnb-test/app-a...")
        .expect_output("Adding layer 'test/maker:launch-layer'");
    let image = inspect(d, "cnb-test/app-a:latest");
    let id = image["Id"].as_str().unwrap();
    assert_eq!(d.image_id("cnb-test/app-a:v2").as_deref(), Some(id));
    let report = e.build.read("layers/report.toml");
    // Recorded by the bare hex of the ID, as the reference does.
    let bare = |id: &str| id.trim_start_matches("sha256:").to_string();
    assert!(
        report.contains(&format!("image-id = \"{}\"", bare(id))),
        "{report}"
    );
    assert!(!report.contains("digest"), "{report}");

    let config = &image["Config"];
    assert_eq!(
        config["Entrypoint"],
        serde_json::json!(["/cnb/process/web"])
    );
    assert_eq!(image["Created"], "1980-01-01T00:00:01Z");
    let labels = &config["Labels"];
    let meta: Value =
        serde_json::from_str(labels["io.buildpacks.lifecycle.metadata"].as_str().unwrap()).unwrap();
    assert_eq!(meta["runImage"]["reference"], bare(&run_id));
    assert_eq!(meta["runImage"]["topLayer"], e.run_image.top_layer);
    assert_eq!(image["RootFS"]["Layers"][0], e.run_image.top_layer);
    assert_eq!(image["RootFS"]["Layers"].as_array().unwrap().len(), 8);
    let history = d.docker_ok(&["history", "--no-trunc", "--format", "{{.CreatedBy}}", id]);
    assert!(
        history.starts_with("Buildpacks Process Types\nBuildpacks Launcher Config\n"),
        "{history}"
    );

    let ran = d.run("cnb-test/app-a", &[]);
    assert_eq!(ran.code, 0, "{}", ran.all());
    assert_eq!(ran.stdout, "hello from web\n");

    // The same inputs load the same image.
    export(&e, d, &["cnb-test/app-a-again"]).expect_code(0);
    assert_eq!(d.image_id("cnb-test/app-a-again").as_deref(), Some(id));
}

#[test]
fn rebuilds_reuse_layers_from_the_daemon_and_the_launch_cache() {
    let d = dockerd::shared();
    let e = built(LATEST);
    let run_id = load_run_image(&e, d, "cnb-test/run-b:latest");
    export(&e, d, &["cnb-test/app-b"]).expect_code(0);
    let first = inspect(d, "cnb-test/app-b");
    let first_id = first["Id"].as_str().unwrap().to_string();

    // A layer kept only as metadata comes from the previous image (docker save), and
    // a changed app layer forces the layers above it to be sent in full.
    let previous = serde_json::json!({"config": {"Labels": first["Config"]["Labels"]}});
    e.analyze(&run_id, Some((&first_id, &previous)));
    fs::remove_dir_all(e.build.path("layers/test_maker/launch-layer")).unwrap();
    e.build.write("workspace/app.txt", "changed\n");
    e.build.chown();
    export(&e, d, &["cnb-test/app-b2"])
        .expect_code(0)
        .expect_output("Reusing layer 'test/maker:launch-layer'")
        .expect_output("Reusing layer 'buildpacksio/lifecycle:launcher'")
        .expect_output("Added 1/1 app layer(s)");
    let second = inspect(d, "cnb-test/app-b2");
    let layers = |i: &Value| i["RootFS"]["Layers"].as_array().unwrap().clone();
    assert_eq!(layers(&first)[..4], layers(&second)[..4]);
    assert_ne!(layers(&first)[4], layers(&second)[4]);
    assert_eq!(layers(&first)[5..], layers(&second)[5..]);
    let app_file = e.build.path("workspace/app.txt").display().to_string();
    let ran = d.run_entrypoint(
        "/cnb/lifecycle/launcher",
        "cnb-test/app-b2",
        &["cat", &app_file],
    );
    assert_eq!(ran.stdout, "changed\n", "{}", ran.all());

    // With a launch cache, the layers of an export are kept and the next export takes
    // reused layers from it.
    let cache = e.build.path("launch-cache");
    fs::create_dir_all(&cache).unwrap();
    let cache_flag = cache.display().to_string();
    export(&e, d, &["-launch-cache", &cache_flag, "cnb-test/app-b3"]).expect_code(0);
    let third = inspect(d, "cnb-test/app-b3");
    assert_eq!(third["Id"], second["Id"]);
    let cached: Vec<_> = fs::read_dir(cache.join("committed"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!cached.is_empty(), "launch cache is empty");
}

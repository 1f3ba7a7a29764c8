//! The exporter writing to a registry (Debian's Distribution on loopback, anonymous,
//! basic and token auth), with image caches: what it pushes is read back with skopeo,
//! pulled into a layout, unpacked with umoci and run.

use std::fs;
use std::path::Path;
use std::process::Command;

use serde_json::Value;
use spec_tests::export::{Exported, built, read_image, run_in_image, tool};
use spec_tests::images;
use spec_tests::registry::Registry;

const LATEST: &str = "0.15";

/// Seeds the run image into `registry` as `run:latest` and points analyzed.toml at it.
fn seed_run_image(e: &Exported, registry: &Registry) -> String {
    registry.seed(&e.run_image.path, "latest", "run:latest");
    let reference = format!("{}@{}", registry.image("run"), e.run_image.digest);
    e.analyze(&reference, None);
    reference
}

/// `skopeo` arguments for `registry`'s credentials.
fn creds(registry: &Registry) -> Vec<String> {
    match registry.credentials() {
        Some((u, p)) => vec![format!("--src-creds={u}:{p}")],
        None => Vec::new(),
    }
}

/// Pulls `image` into an OCI layout under `dir` with skopeo and returns the layout.
fn pull(registry: &Registry, image: &str, dir: &Path) -> std::path::PathBuf {
    fs::create_dir_all(dir).unwrap();
    let layout = dir.join("pulled");
    tool(
        Command::new("skopeo")
            .args(["copy", "-q", "--src-tls-verify=false", "--preserve-digests"])
            .args(creds(registry))
            .arg(format!("docker://{}", registry.image(image)))
            .arg(format!("oci:{}:latest", layout.display())),
    );
    layout
}

fn manifest_digest(registry: &Registry, image: &str) -> String {
    let file = tempfile::NamedTempFile::new().unwrap();
    fs::write(file.path(), registry.inspect_raw(image)).unwrap();
    let out = tool(Command::new("sha256sum").arg(file.path()));
    format!("sha256:{}", &out[..64])
}

fn label(config: &Value, key: &str) -> Value {
    serde_json::from_str(config["config"]["Labels"][key].as_str().unwrap()).unwrap()
}

#[test]
fn exports_to_a_registry_under_every_tag_and_the_image_runs() {
    let e = built(LATEST);
    let registry = Registry::anonymous();
    let run_ref = seed_run_image(&e, &registry);
    let app = registry.image("app:latest");
    let tag = registry.image("app:v2");
    e.exporter(&[&app, &tag], &[])
        .expect_code(0)
        .expect_output(&format!("Saving {app}..."))
        .expect_output(&format!("      {app}\n"))
        .expect_output(&format!("      {tag}\n"))
        .expect_output("Adding layer 'test/maker:launch-layer'");
    let report = e.build.read("layers/report.toml");
    let digest = manifest_digest(&registry, "app:latest");
    assert!(
        report.contains(&format!("digest = \"{digest}\"")),
        "{report}"
    );
    assert!(report.contains("manifest-size = "), "{report}");
    assert_eq!(digest, manifest_digest(&registry, "app:v2"));

    let work = tempfile::tempdir().unwrap();
    let layout = pull(&registry, "app:latest", work.path());
    let (_, manifest, config) = read_image(&layout);
    assert_eq!(
        manifest["mediaType"],
        "application/vnd.oci.image.manifest.v1+json"
    );
    let meta = label(&config, "io.buildpacks.lifecycle.metadata");
    assert_eq!(meta["runImage"]["reference"], run_ref);
    assert_eq!(meta["runImage"]["topLayer"], e.run_image.top_layer);
    tool(
        Command::new("oci-image-tool")
            .args(["validate", "--type", "image"])
            .arg(&layout),
    );
    let bundle = work.path().join("bundle");
    images::unpack(&layout, &bundle);
    let out = run_in_image(&bundle.join("rootfs"), &config, &["/cnb/process/web"]);
    assert_eq!(out, "hello from web\n");

    // The same export again gives the same digest.
    e.exporter(&[&registry.image("app:again")], &[])
        .expect_code(0);
    assert_eq!(digest, manifest_digest(&registry, "app:again"));
}

#[test]
fn a_rebuild_reuses_layers_from_the_previous_image_in_the_registry() {
    let e = built(LATEST);
    let registry = Registry::anonymous();
    let run_ref = seed_run_image(&e, &registry);
    let app = registry.image("app:latest");
    e.exporter(&[&app], &[]).expect_code(0);
    let work = tempfile::tempdir().unwrap();
    let (_, _, config) = read_image(&pull(&registry, "app:latest", work.path()));

    e.analyze(&run_ref, Some((&app, &config)));
    fs::remove_dir_all(e.build.path("layers/test_maker/launch-layer")).unwrap();
    e.exporter(&[&registry.image("other:latest")], &[])
        .expect_code(0)
        .expect_output(&format!("Reusing layers from image '{app}'"))
        .expect_output("Reusing layer 'test/maker:launch-layer'")
        .expect_output("Reused 1/1 app layer(s)")
        .expect_no_output("Adding layer");
    assert_eq!(
        manifest_digest(&registry, "app:latest"),
        manifest_digest(&registry, "other:latest")
    );
}

#[test]
fn authenticated_registries_and_image_caches() {
    for (registry, env_kind) in [
        (Registry::basic("user", "secret-pass"), "registry-auth"),
        (Registry::basic("user", "secret-pass"), "docker-config"),
        (Registry::token("user", "secret-pass"), "docker-config"),
    ] {
        let e = built(LATEST);
        seed_run_image(&e, &registry);
        let config_dir = e.build.path("docker");
        fs::create_dir_all(&config_dir).unwrap();
        let auth = registry.registry_auth();
        let config_dir_s = config_dir.display().to_string();
        let env: Vec<(&str, &str)> = match env_kind {
            "registry-auth" => vec![("CNB_REGISTRY_AUTH", auth.as_str())],
            _ => {
                registry.docker_config(&config_dir);
                vec![("DOCKER_CONFIG", config_dir_s.as_str())]
            }
        };
        let app = registry.image("app:latest");
        let cache = registry.image("cache:latest");
        for parallel in [false, true] {
            let mut args = vec!["-cache-image", cache.as_str(), app.as_str()];
            if parallel {
                args.insert(0, "-parallel");
            }
            let ran = e.exporter(&args, &env);
            ran.expect_code(0).expect_no_output("secret-pass");
            if parallel {
                ran.expect_output("Reusing cache layer 'test/maker:cache-layer'");
            } else {
                ran.expect_output("Adding cache layer 'test/maker:cache-layer'");
            }
        }
        let work = tempfile::tempdir().unwrap();
        let (_, _, cache_config) = read_image(&pull(&registry, "cache:latest", work.path()));
        let meta = label(&cache_config, "io.buildpacks.lifecycle.cache.metadata");
        let layers = &meta["buildpacks"][0]["layers"];
        assert!(layers["cache-layer"]["cache"].as_bool().unwrap(), "{meta}");
        assert!(
            layers["launch-cache"]["launch"].as_bool().unwrap(),
            "{meta}"
        );
        assert_eq!(
            cache_config["rootfs"]["diff_ids"].as_array().unwrap().len(),
            2
        );
        read_image(&pull(&registry, "app:latest", &work.path().join("app")));

        // Without credentials reading the run image fails (exit 1, as the reference
        // fails to open it) and says why.
        e.exporter(&[&registry.image("denied:latest")], &[])
            .expect_code(1)
            .expect_output("authentication required");
    }
}

#[test]
fn a_cache_image_with_nothing_to_cache_holds_one_empty_layer() {
    let e = built(LATEST);
    let registry = Registry::anonymous();
    seed_run_image(&e, &registry);
    for layer in ["cache-layer", "launch-cache"] {
        fs::remove_file(e.build.path(&format!("layers/test_maker/{layer}.toml"))).unwrap();
    }
    let cache = registry.image("cache:latest");
    e.exporter(
        &["-cache-image", &cache, &registry.image("app:latest")],
        &[],
    )
    .expect_code(0);
    let work = tempfile::tempdir().unwrap();
    let (_, _, config) = read_image(&pull(&registry, "cache:latest", work.path()));
    let diff_ids = config["rootfs"]["diff_ids"].as_array().unwrap();
    // sha256 of 1024 zero bytes.
    assert_eq!(
        diff_ids,
        &[Value::from(
            "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"
        )]
    );
}

#[test]
fn every_platform_api_exports_with_its_own_history_and_env() {
    let registry = Registry::anonymous();
    for minor in 7..=15 {
        let api = format!("0.{minor}");
        let e = built(&api);
        seed_run_image(&e, &registry);
        let name = format!("api-{minor}:latest");
        let sbom = e.build.path("launcher-sbom");
        fs::create_dir_all(&sbom).unwrap();
        fs::write(sbom.join("launcher.sbom.cdx.json"), "{}").unwrap();
        let sbom_flag = sbom.display().to_string();
        let mut args = vec!["-log-level", "debug"];
        if minor >= 11 {
            args.extend(["-launcher-sbom", sbom_flag.as_str()]);
        }
        let image = registry.image(&name);
        args.push(&image);
        let ran = e.exporter(&args, &[("SOURCE_DATE_EPOCH", "1641359105")]);
        ran.expect_code(0);
        if minor >= 11 {
            ran.expect_output("Did not find SBOM lifecycle.sbom.cdx.json in /cnb/lifecycle");
        } else {
            ran.expect_no_output("Did not find SBOM");
        }
        let work = tempfile::tempdir().unwrap();
        let layout = pull(&registry, &name, work.path());
        let (_, _, config) = read_image(&layout);
        let created = if minor >= 9 {
            "2022-01-05T05:05:05Z"
        } else {
            "1980-01-01T00:00:01Z"
        };
        assert_eq!(config["created"], created, "{api}");
        let history = config["history"].as_array().unwrap();
        let created_by: Vec<&str> = history
            .iter()
            .map(|h| h["created_by"].as_str().unwrap_or(""))
            .collect();
        if minor >= 12 {
            assert_eq!(
                created_by.last(),
                Some(&"Buildpacks Process Types"),
                "{api}"
            );
        } else {
            assert!(
                created_by.iter().all(|c| c.is_empty()),
                "{api}: {created_by:?}"
            );
        }
        assert!(history.iter().all(|h| h["created"] == created), "{api}");
        let env: Vec<&str> = config["config"]["Env"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert!(
            env.contains(&format!("CNB_PLATFORM_API={api}").as_str()),
            "{env:?}"
        );
        let meta = label(&config, "io.buildpacks.lifecycle.metadata");
        // The launcher's SBOM reaches the image's SBOM layer from -launcher-sbom.
        if minor >= 11 {
            let bundle = work.path().join("bundle");
            images::unpack(&layout, &bundle);
            let copied = bundle.join("rootfs").join(
                e.build
                    .path(
                        "layers/sbom/launch/buildpacksio_lifecycle/launcher/launcher.sbom.cdx.json",
                    )
                    .strip_prefix("/")
                    .unwrap(),
            );
            assert!(copied.exists(), "{api}: no launcher SBOM in the image");
        }
        let has_image_key = meta["runImage"].get("image").is_some();
        assert_eq!(has_image_key, minor >= 12, "{api}: {meta}");
    }
}

#[test]
fn new_layers_are_uploaded_while_made_and_a_failed_stream_is_uploaded_again() {
    use spec_tests::registry::{Fault, FaultProxy, FaultRule};
    let e = built(LATEST);
    let registry = Registry::anonymous();
    registry.seed(&e.run_image.path, "latest", "run:latest");

    // Every new blob goes up once, streamed (PATCH), never a second time.
    let proxy = FaultProxy::start(registry.host(), Vec::new());
    let run_ref = format!("{}/run@{}", proxy.host(), e.run_image.digest);
    e.analyze(&run_ref, None);
    e.exporter(&[&format!("{}/app:latest", proxy.host())], &[])
        .expect_code(0);
    let seen = proxy.requests();
    let patches = seen
        .iter()
        .filter(|r| r.method == "PATCH" && r.path.starts_with("/v2/app/blobs/uploads/"))
        .count();
    let monolithic = seen
        .iter()
        .filter(|r| {
            r.method == "PUT"
                && r.path.starts_with("/v2/app/blobs/uploads/")
                && !r.path.contains("_state=")
        })
        .count();
    // Seven new layers (two launch layers, SBOM, app, launcher, config, process types).
    assert_eq!(patches, 7, "{seen:#?}");
    assert_eq!(monolithic, 0, "{seen:#?}");

    // A stream cut off is not retried in place: saving uploads the blob again.
    let proxy = FaultProxy::start(
        registry.host(),
        vec![FaultRule {
            method: Some("PATCH".into()),
            path_contains: "/v2/other/blobs/uploads/".into(),
            fault: Fault::Reset,
            times: 2,
        }],
    );
    let run_ref = format!("{}/run@{}", proxy.host(), e.run_image.digest);
    e.analyze(&run_ref, None);
    e.exporter(&[&format!("{}/other:latest", proxy.host())], &[])
        .expect_code(0);
    let reset = proxy
        .requests()
        .iter()
        .filter(|r| r.fault == Some(Fault::Reset))
        .count();
    assert_eq!(reset, 2, "two streamed uploads were cut off");
    // Same layers (the metadata label differs: it names the run image by host).
    let layers = |image: &str| {
        let manifest: Value = serde_json::from_slice(&registry.inspect_raw(image)).unwrap();
        manifest["layers"].clone()
    };
    assert_eq!(layers("app:latest"), layers("other:latest"));
    let work = tempfile::tempdir().unwrap();
    read_image(&pull(&registry, "other:latest", work.path()));
}

#[test]
fn tls_registries_need_trust_or_the_insecure_flag() {
    let e = built(LATEST);
    let registry = Registry::tls();
    seed_run_image(&e, &registry);
    let app = registry.image("app:latest");
    e.exporter(&[&app], &[])
        .expect_code(1)
        .expect_output("invalid peer certificate: UnknownIssuer");
    // Trusted through SSL_CERT_FILE, as Go reads it.
    let ca = registry.ca_cert().display().to_string();
    e.exporter(&[&app], &[("SSL_CERT_FILE", ca.as_str())])
        .expect_code(0);
    // Or not verified at all for a registry listed as insecure (Platform API 0.13+).
    e.exporter(&["-insecure-registry", registry.host(), &app], &[])
        .expect_code(0);
    e.exporter(&[&app], &[("CNB_INSECURE_REGISTRIES", registry.host())])
        .expect_code(0);
}

#[test]
fn a_cache_image_with_missing_blobs_is_ignored() {
    let e = built(LATEST);
    let registry = Registry::anonymous();
    seed_run_image(&e, &registry);
    let cache = registry.image("cache:latest");
    let app = registry.image("app:latest");
    e.exporter(&["-cache-image", &cache, &app], &[])
        .expect_code(0);
    let manifest: Value = serde_json::from_slice(&registry.inspect_raw("cache:latest")).unwrap();
    for layer in manifest["layers"].as_array().unwrap() {
        fs::remove_file(registry.blob_path(layer["digest"].as_str().unwrap())).unwrap();
    }
    e.exporter(&["-cache-image", &cache, &app], &[])
        .expect_code(0)
        .expect_output(&format!(
            "Ignoring cache image \"{cache}\" because it was corrupt"
        ))
        .expect_output("Adding cache layer 'test/maker:cache-layer'");
    let work = tempfile::tempdir().unwrap();
    read_image(&pull(&registry, "cache:latest", work.path()));
}

//! The analysis over OCI layouts made here: a previous image with a lifecycle metadata
//! label and a launch SBOM layer, and run images with and without target data.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::write::GzEncoder;
use serde_json::{Value, json};

use super::*;
use crate::image::layout::LayoutStore;
use crate::image::model::sha256_digest;
use crate::log::Level;

/// Writes `bytes` as a blob of the layout at `dir` and returns its descriptor.
fn blob(dir: &Path, media_type: &str, bytes: &[u8]) -> Value {
    let digest = sha256_digest(bytes);
    let path = dir.join("blobs/sha256").join(&digest["sha256:".len()..]);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, bytes).unwrap();
    json!({"mediaType": media_type, "digest": digest, "size": bytes.len()})
}

/// A one-manifest OCI layout at `dir` with `config` (its `rootfs` filled in) and one
/// gzip layer per tar of `layers`; returns the manifest digest.
fn layout_image(dir: &Path, mut config: Value, layers: &[Vec<u8>]) -> String {
    let mut descriptors = Vec::new();
    let mut diff_ids = Vec::new();
    for tar in layers {
        let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
        gz.write_all(tar).unwrap();
        let gz = gz.finish().unwrap();
        descriptors.push(blob(
            dir,
            "application/vnd.oci.image.layer.v1.tar+gzip",
            &gz,
        ));
        diff_ids.push(sha256_digest(tar));
    }
    config["rootfs"] = json!({"type": "layers", "diff_ids": diff_ids});
    let config = blob(
        dir,
        "application/vnd.oci.image.config.v1+json",
        &serde_json::to_vec(&config).unwrap(),
    );
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": config,
        "layers": descriptors,
    });
    let manifest = blob(
        dir,
        "application/vnd.oci.image.manifest.v1+json",
        &serde_json::to_vec(&manifest).unwrap(),
    );
    let digest = manifest["digest"].as_str().unwrap().to_string();
    fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    fs::write(
        dir.join("index.json"),
        serde_json::to_vec(&json!({"schemaVersion": 2, "manifests": [manifest]})).unwrap(),
    )
    .unwrap();
    digest
}

/// A tar of regular files at the given absolute paths (with their parent directories),
/// named without the leading `/` (the tar crate writes no absolute names).
fn tar_of(files: &[(&Path, &str)]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (path, contents) in files {
        let rel = path.strip_prefix("/").unwrap();
        let mut parent = PathBuf::new();
        for comp in rel.parent().unwrap().components() {
            parent.push(comp);
            let mut header = header(0o755, 0);
            header.set_entry_type(tar::EntryType::Directory);
            builder
                .append_data(&mut header, &parent, std::io::empty())
                .unwrap();
        }
        let mut header = header(0o644, contents.len() as u64);
        builder
            .append_data(&mut header, rel, contents.as_bytes())
            .unwrap();
    }
    builder.into_inner().unwrap()
}

fn header(mode: u32, size: u64) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_mode(mode);
    header.set_size(size);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(0);
    header
}

struct World {
    tmp: tempfile::TempDir,
    store: LayoutStore,
}

impl World {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let store = LayoutStore::new(tmp.path().join("layout"));
        fs::create_dir_all(tmp.path().join("layers")).unwrap();
        World { tmp, store }
    }

    fn layers(&self) -> PathBuf {
        self.tmp.path().join("layers")
    }

    /// Writes an image as `example.com/<repo>:latest` of the layout store.
    fn image(&self, repo: &str, config: Value, layers: &[Vec<u8>]) -> (String, String) {
        let name = format!("example.com/{repo}:latest");
        let dir = self.store.display_name(&name);
        fs::create_dir_all(&dir).unwrap();
        let digest = layout_image(Path::new(&dir), config, layers);
        (name, format!("{dir}@{digest}"))
    }

    /// A run image for `arm64/v8` with distribution labels and a target ID.
    fn run_image(&self) -> (String, String) {
        let config = json!({
            "os": "linux", "architecture": "arm64", "variant": "v8",
            "config": {"Labels": {
                "io.buildpacks.base.id": "test.target",
                "io.buildpacks.base.distro.name": "testos",
                "io.buildpacks.base.distro.version": "1.0",
                "unrelated": "x",
            }},
        });
        self.image("run", config, &[tar_of(&[(Path::new("/bin/sh"), "sh")])])
    }

    /// A previous image whose label names its SBOM layer (and one layer of a
    /// buildpack), the SBOM layer holding `sbom/launch/bp/sbom.cdx.json`.
    fn previous_image(&self, label: Option<&str>) -> (String, String, String) {
        let sbom_path = self.layers().join("sbom/launch/bp/sbom.cdx.json");
        let sbom = tar_of(&[(&sbom_path, "{\"bomFormat\":\"CycloneDX\"}")]);
        let sbom_diff_id = sha256_digest(&sbom);
        let default_label = json!({
            "sbom": {"sha": sbom_diff_id},
            "buildpacks": [{"key": "bp", "version": "1", "layers": {"l": {
                "sha": "sha256:aa", "data": {"v": 1}, "launch": true}}}],
            "runImage": {"topLayer": "sha256:t", "reference": "r"},
        })
        .to_string();
        let label = label.unwrap_or(&default_label);
        let config = json!({
            "os": "linux", "architecture": "amd64",
            "config": {"Labels": {"io.buildpacks.lifecycle.metadata": label}},
        });
        let (name, id) = self.image("app", config, &[sbom]);
        (name, id, sbom_diff_id)
    }

    fn inputs(&self, api: (u64, u64), previous: &str, run: &str) -> AnalyzeInputs {
        AnalyzeInputs {
            platform_api: ApiVersion::new(api.0, api.1),
            layers_dir: self.layers(),
            previous_image: previous.into(),
            run_image: run.into(),
            skip_layers: false,
        }
    }
}

fn logger() -> Logger {
    Logger::new(Level::Error)
}

#[test]
fn previous_and_run_image_on_a_recent_platform() {
    let w = World::new();
    let (run_name, run_id) = w.run_image();
    let (app, app_id, sbom) = w.previous_image(None);
    let analyzed = super::run(&w.inputs((0, 12), &app, &run_name), &w.store, &logger()).unwrap();
    assert_eq!(analyzed.previous_image_ref(), app_id);
    assert_eq!(analyzed.metadata.sbom.as_ref().unwrap().sha, sbom);
    assert_eq!(analyzed.metadata.buildpacks[0].layers["l"].sha, "sha256:aa");
    assert_eq!(analyzed.run_image_ref(), run_id);
    assert_eq!(analyzed.run_image_image(), w.store.display_name(&run_name));
    let target = analyzed.run_image_target();
    assert_eq!(
        (target.id.as_str(), target.os.as_str(), target.arch.as_str()),
        ("test.target", "linux", "arm64")
    );
    assert_eq!(target.arch_variant, "v8");
    let distro = target.distro.unwrap();
    assert_eq!(
        (distro.name.as_str(), distro.version.as_str()),
        ("testos", "1.0")
    );
    let restored = w.layers().join("sbom/launch/bp/sbom.cdx.json");
    assert_eq!(
        fs::read_to_string(restored).unwrap(),
        "{\"bomFormat\":\"CycloneDX\"}"
    );
}

#[test]
fn sbom_is_left_alone_when_skipping_layers_and_before_platform_0_8() {
    let w = World::new();
    let (run_name, run_id) = w.run_image();
    let (app, app_id, _) = w.previous_image(None);
    for (api, skip) in [((0, 12), true), ((0, 7), false)] {
        let inputs = AnalyzeInputs {
            skip_layers: skip,
            ..w.inputs(api, &app, &run_name)
        };
        let analyzed = super::run(&inputs, &w.store, &logger()).unwrap();
        // The layer metadata is still recorded: the restorer decides.
        assert_eq!(analyzed.previous_image_ref(), app_id);
        assert!(analyzed.metadata.sbom.is_some());
        assert!(!w.layers().join("sbom").exists());
        let run_image = analyzed.run_image.unwrap();
        assert_eq!(run_image.reference, run_id);
        if api.1 < 12 {
            assert_eq!(run_image.image, "");
            assert_eq!(run_image.target, None);
        }
    }
}

#[test]
fn a_label_that_does_not_parse_counts_as_no_previous_image() {
    let w = World::new();
    let (run_name, _) = w.run_image();
    let (app, _, _) = w.previous_image(Some("{not json"));
    let analyzed = super::run(&w.inputs((0, 15), &app, &run_name), &w.store, &logger()).unwrap();
    assert_eq!(analyzed.previous_image_ref(), "");
    assert_eq!(analyzed.metadata, Default::default());
    assert!(!w.layers().join("sbom").exists());
}

#[test]
fn a_corrupt_previous_image_is_ignored() {
    let w = World::new();
    let (run_name, _) = w.run_image();
    let (app, _, _) = w.previous_image(None);
    // Break the config blob so it no longer matches its digest.
    let dir = PathBuf::from(w.store.display_name(&app));
    let index: Value = serde_json::from_slice(&fs::read(dir.join("index.json")).unwrap()).unwrap();
    let manifest_digest = index["manifests"][0]["digest"].as_str().unwrap();
    let manifest: Value = serde_json::from_slice(
        &fs::read(dir.join("blobs/sha256").join(&manifest_digest[7..])).unwrap(),
    )
    .unwrap();
    let config = manifest["config"]["digest"].as_str().unwrap();
    fs::write(dir.join("blobs/sha256").join(&config[7..]), b"{}").unwrap();
    let analyzed = super::run(&w.inputs((0, 15), &app, &run_name), &w.store, &logger()).unwrap();
    assert_eq!(analyzed.previous_image_ref(), "");
    assert_eq!(analyzed.metadata, Default::default());
}

#[test]
fn absent_images_get_empty_references() {
    let w = World::new();
    let analyzed = super::run(
        &w.inputs((0, 12), "example.com/none:1", "example.com/run-none:1"),
        &w.store,
        &logger(),
    )
    .unwrap();
    assert_eq!(analyzed.previous_image_ref(), "");
    assert_eq!(analyzed.run_image_ref(), "");
    let target = analyzed.run_image_target();
    assert_eq!(target.os, "linux");
    assert_eq!(target.arch, crate::target::host_arch());
    let none = super::run(&w.inputs((0, 12), "", ""), &w.store, &logger()).unwrap();
    assert_eq!(none.run_image, Some(Default::default()));
    assert_eq!(none.previous_image, Some(Default::default()));
}

#[test]
fn a_run_image_without_os_fails_from_platform_0_12() {
    let w = World::new();
    let (run_name, run_id) = w.image("run", json!({"architecture": "amd64"}), &[]);
    let err = super::run(&w.inputs((0, 12), "", &run_name), &w.store, &logger()).unwrap_err();
    assert!(matches!(err, AnalyzeError::MissingOs));
    assert_eq!(err.to_string(), "failed to find OS in run image config");
    assert_eq!((err.exit_code(), err.action()), (32, "analyze"));
    let old = super::run(&w.inputs((0, 11), "", &run_name), &w.store, &logger()).unwrap();
    assert_eq!(old.run_image_ref(), run_id);
}

#[test]
fn an_sbom_layer_outside_the_sbom_directory_is_refused() {
    let w = World::new();
    let (run_name, _) = w.run_image();
    let outside = w.tmp.path().join("elsewhere/sbom.json");
    let layer = tar_of(&[(&outside, "x")]);
    let label = json!({"sbom": {"sha": sha256_digest(&layer)}}).to_string();
    let config = json!({"os": "linux", "architecture": "amd64",
        "config": {"Labels": {"io.buildpacks.lifecycle.metadata": label}}});
    let (app, _) = w.image("app", config, &[layer]);
    let err = super::run(&w.inputs((0, 12), &app, &run_name), &w.store, &logger()).unwrap_err();
    assert!(matches!(err, AnalyzeError::Sbom { .. }), "{err}");
    assert!(
        err.to_string()
            .starts_with("retrieving launch SBOM layer: ")
    );
    assert!(!outside.exists());
}

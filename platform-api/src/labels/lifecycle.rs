//! `io.buildpacks.lifecycle.metadata`: where every layer of the app image came from,
//! used to reuse layers on the next build and to rebase. `analyzed.toml` holds the same
//! data as TOML (with other key names; see `files::analyzed`).

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use super::{LIFECYCLE_METADATA, LabelError, nullable, parse, to_json};
use crate::files::freeform;
use crate::files::run::RunImageForExport;
use crate::files::stack::Stack;

/// A layer recorded by its uncompressed digest.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerMetadata {
    /// Diff ID (`sha256:...`).
    #[serde(default, deserialize_with = "nullable")]
    pub sha: String,
}

/// A buildpack layer: its digest and its `<layer>.toml` content.
///
/// JSON keys `sha`, `data`, `build`, `launch`, `cache`; the TOML form in
/// `analyzed.toml` calls `data` `metadata`, which is accepted on input.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BuildpackLayerMetadata {
    /// Diff ID.
    #[serde(default, deserialize_with = "nullable")]
    pub sha: String,
    /// The `[metadata]` table of `<layer>.toml` (`Null` when it has none).
    #[serde(
        default,
        alias = "metadata",
        deserialize_with = "freeform::deserialize"
    )]
    pub data: Value,
    /// Whether the layer is available to later buildpacks.
    #[serde(default, deserialize_with = "nullable")]
    pub build: bool,
    /// Whether the layer is in the app image.
    #[serde(default, deserialize_with = "nullable")]
    pub launch: bool,
    /// Whether the layer is cached.
    #[serde(default, deserialize_with = "nullable")]
    pub cache: bool,
}

/// A buildpack's `store.toml` data, kept with the image.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StoreMetadata {
    /// The `[metadata]` table of `store.toml` (`Null` when it has none).
    #[serde(default, deserialize_with = "freeform::deserialize")]
    pub metadata: Value,
}

/// A buildpack's layers and store.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BuildpackLayersMetadata {
    /// Buildpack ID (key `key`).
    #[serde(rename = "key", default, deserialize_with = "nullable")]
    pub id: String,
    /// Buildpack version.
    #[serde(default, deserialize_with = "nullable")]
    pub version: String,
    /// Layers by name.
    #[serde(default, deserialize_with = "nullable")]
    pub layers: BTreeMap<String, BuildpackLayerMetadata>,
    /// `store.toml` data, when the buildpack wrote one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<StoreMetadata>,
}

/// The run image the app image was built on, as needed to rebase it.
///
/// JSON keys `topLayer`, `reference`, `image`, `mirrors`; `top-layer` (the TOML key) is
/// accepted on input.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunImageForRebase {
    /// Diff ID of the run image's top layer (the rebase boundary).
    #[serde(
        rename = "topLayer",
        alias = "top-layer",
        default,
        deserialize_with = "nullable"
    )]
    pub top_layer: String,
    /// Digest reference or image ID of the run image.
    #[serde(default, deserialize_with = "nullable")]
    pub reference: String,
    /// Run image name (Platform API 0.12+).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub image: String,
    /// Mirrors of the run image (Platform API 0.12+).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub mirrors: Vec<String>,
}

impl RunImageForRebase {
    /// The image and its mirrors.
    pub fn for_export(&self) -> RunImageForExport {
        RunImageForExport {
            image: self.image.clone(),
            mirrors: self.mirrors.clone(),
        }
    }

    /// Whether `name` is the image or one of its mirrors (digests ignored).
    pub fn contains(&self, name: &str) -> bool {
        self.for_export().contains(name)
    }

    /// The deprecated `stack` form of the same image and mirrors.
    pub fn to_stack(&self) -> Stack {
        Stack {
            run_image: self.for_export(),
        }
    }
}

/// The `io.buildpacks.lifecycle.metadata` label (and the `[metadata]` of
/// `analyzed.toml`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LayersMetadata {
    /// App layers, one per slice (a single object, as very old lifecycles wrote, reads
    /// as one layer).
    #[serde(default, deserialize_with = "app_layers")]
    pub app: Vec<LayerMetadata>,
    /// The launch SBOM layer (Platform API 0.8+).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sbom: Option<LayerMetadata>,
    /// Buildpack layers, in group order.
    #[serde(default, deserialize_with = "nullable")]
    pub buildpacks: Vec<BuildpackLayersMetadata>,
    /// The layer holding `<layers>/config/metadata.toml`.
    #[serde(default, deserialize_with = "nullable")]
    pub config: LayerMetadata,
    /// The launcher layer.
    #[serde(default, deserialize_with = "nullable")]
    pub launcher: LayerMetadata,
    /// The layer of `/cnb/process` symlinks.
    #[serde(rename = "process-types", default, deserialize_with = "nullable")]
    pub process_types: LayerMetadata,
    /// The run image (JSON `runImage`, TOML `run-image`).
    #[serde(
        rename = "runImage",
        alias = "run-image",
        default,
        deserialize_with = "nullable"
    )]
    pub run_image: RunImageForRebase,
    /// Deprecated copy of the run image and mirrors, still written by the reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack: Option<Stack>,
}

impl LayersMetadata {
    /// Parses the label. An empty label is empty metadata; numbers in layer and store
    /// metadata become floats, as in the reference (see
    /// [`freeform::numbers_to_floats`]).
    pub fn parse(label: &str) -> Result<Self, LabelError> {
        if label.is_empty() {
            return Ok(Self::default());
        }
        let mut metadata: Self = parse(LIFECYCLE_METADATA, label)?;
        metadata.buildpacks.iter_mut().for_each(floats_in_data);
        Ok(metadata)
    }

    /// The label text.
    pub fn to_json(&self) -> Result<String, LabelError> {
        to_json(self)
    }

    /// The layers and store of buildpack `id`.
    pub fn for_buildpack(&self, id: &str) -> Option<&BuildpackLayersMetadata> {
        self.buildpacks.iter().find(|bp| bp.id == id)
    }
}

/// Applies Go's JSON number decoding to a buildpack's free-form data.
pub(super) fn floats_in_data(bp: &mut BuildpackLayersMetadata) {
    for layer in bp.layers.values_mut() {
        freeform::numbers_to_floats(&mut layer.data);
    }
    if let Some(store) = &mut bp.store {
        freeform::numbers_to_floats(&mut store.metadata);
    }
}

fn app_layers<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<LayerMetadata>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum App {
        Many(Vec<LayerMetadata>),
        One(LayerMetadata),
    }
    Ok(match Option::<App>::deserialize(deserializer)? {
        None => Vec::new(),
        Some(App::Many(layers)) => layers,
        Some(App::One(layer)) => vec![layer],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The label as the reference's exporter writes it (Platform API 0.12+).
    const LABEL: &str = r#"{"app":[{"sha":"sha256:a1"},{"sha":"sha256:a2"}],"sbom":{"sha":"sha256:b"},"buildpacks":[{"key":"paketo-buildpacks/node-engine","version":"3.0.1","layers":{"node":{"sha":"sha256:n","data":{"dependency":{"checksum":"sha256:c","count":5,"version":"18.20.0"},"ratio":1.5},"build":false,"launch":true,"cache":true}},"store":{"metadata":{"k":"v"}}},{"key":"paketo-buildpacks/npm-install","version":"1.1.0","layers":{}}],"config":{"sha":"sha256:c"},"launcher":{"sha":"sha256:l"},"process-types":{"sha":"sha256:p"},"runImage":{"topLayer":"sha256:t","reference":"registry.example.com/run@sha256:r","image":"registry.example.com/run:jammy","mirrors":["mirror.example.com/run:jammy"]},"stack":{"runImage":{"image":"registry.example.com/run:jammy","mirrors":["mirror.example.com/run:jammy"]}}}"#;

    #[test]
    fn parses_and_rewrites_the_reference_label() {
        let md = LayersMetadata::parse(LABEL).unwrap();
        assert_eq!(md.app.len(), 2);
        assert_eq!(md.sbom.as_ref().unwrap().sha, "sha256:b");
        let node = md.for_buildpack("paketo-buildpacks/node-engine").unwrap();
        let layer = &node.layers["node"];
        assert!(layer.launch && layer.cache && !layer.build);
        assert_eq!(layer.data["dependency"]["count"].as_f64(), Some(5.0));
        assert!(layer.data["dependency"]["count"].is_f64());
        assert_eq!(md.run_image.top_layer, "sha256:t");
        assert!(md.run_image.contains("mirror.example.com/run:jammy"));
        assert_eq!(
            md.stack.as_ref().unwrap().run_image.image,
            "registry.example.com/run:jammy"
        );
        assert!(md.for_buildpack("missing").is_none());
        assert_eq!(md.to_json().unwrap(), LABEL);
    }

    #[test]
    fn lenient_on_old_and_null_forms() {
        let md = LayersMetadata::parse(
            r#"{"app":{"sha":"sha256:old"},"buildpacks":null,"config":{"sha":""},"launcher":{"sha":""},"process-types":{"sha":""},"runImage":{"topLayer":"t","reference":"r"},"stack":{"runImage":{"image":"run"}},"unknown":[1]}"#,
        )
        .unwrap();
        assert_eq!(
            md.app,
            vec![LayerMetadata {
                sha: "sha256:old".into()
            }]
        );
        assert!(md.buildpacks.is_empty());
        let md = LayersMetadata::parse(
            r#"{"app":null,"buildpacks":[{"key":"a","version":"1","layers":null,"store":{"metadata":null}}]}"#,
        )
        .unwrap();
        assert!(md.app.is_empty());
        assert_eq!(
            md.buildpacks[0].store.as_ref().unwrap().metadata,
            Value::Null
        );
        assert_eq!(
            LayersMetadata::parse("").unwrap(),
            LayersMetadata::default()
        );
    }

    #[test]
    fn corrupt_labels_are_errors() {
        for bad in [
            "{",
            "[]",
            r#"{"app":"x"}"#,
            r#"{"buildpacks":[{"layers":[]}]}"#,
            "null x",
        ] {
            assert!(LayersMetadata::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn run_image_helpers() {
        let run = RunImageForRebase {
            top_layer: "t".into(),
            reference: "r".into(),
            image: "run:1".into(),
            mirrors: vec!["m/run:1".into()],
        };
        assert_eq!(run.to_stack().run_image.mirrors, vec!["m/run:1"]);
        assert!(run.contains("index.docker.io/library/run:1@sha256:x"));
    }

    proptest::proptest! {
        #[test]
        fn damaged_labels_never_panic(cut in 0..LABEL.len(), junk in ".{0,8}") {
            let damaged = format!("{}{junk}", &LABEL[..cut]);
            let _ = LayersMetadata::parse(&damaged);
            let _ = super::super::CacheMetadata::parse(&damaged);
            let _ = super::super::BuildMetadataLabel::parse(&damaged);
        }
    }
}

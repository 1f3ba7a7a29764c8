//! `analyzed.toml`: what the analyzer found (previous image, run image and its target,
//! build image), updated by the detector and restorer.
//!
//! Every supported Platform API uses one shape; older platforms simply leave out what
//! they lack (`[run-image]` has only `reference` below 0.12, there is no
//! `[build-image]` without extensions). `[metadata]` is the previous image's lifecycle
//! metadata label in TOML form, whose keys differ from the label's (`run-image`,
//! `top-layer`, and a layer's data under `metadata`).

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::run::RunImageForExport;
use super::target::TargetMetadata;
use super::{FileError, FileKind, toml_file};
use crate::labels::{
    BuildpackLayerMetadata, BuildpackLayersMetadata, LayerMetadata, LayersMetadata,
    RunImageForRebase, StoreMetadata,
};

/// An image found by reference (`[image]`, `[build-image]`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageIdentifier {
    /// Digest reference, daemon image ID or OCI layout path; empty when not found.
    #[serde(default)]
    pub reference: String,
}

/// `[run-image]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunImage {
    /// Digest reference, daemon image ID or OCI layout path.
    #[serde(default)]
    pub reference: String,
    /// The image name given by the platform or an extension (Platform API 0.12+).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub image: String,
    /// Whether extensions' `run.Dockerfile`s must be applied to it.
    #[serde(default, skip_serializing_if = "is_false")]
    pub extend: bool,
    /// Its target data (Platform API 0.12+).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<TargetMetadata>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// `analyzed.toml`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Analyzed {
    /// `[image]`: the previous app image (the analyzer always writes it, with an empty
    /// reference when there is no previous image).
    #[serde(rename = "image", default)]
    pub previous_image: Option<ImageIdentifier>,
    /// `[build-image]`: the build image, when extensions may extend it.
    #[serde(rename = "build-image", default)]
    pub build_image: Option<ImageIdentifier>,
    /// `[metadata]`: the previous image's layers.
    #[serde(default)]
    pub metadata: LayersMetadata,
    /// `[run-image]`.
    #[serde(rename = "run-image", default)]
    pub run_image: Option<RunImage>,
}

impl Analyzed {
    /// Reads `analyzed.toml`.
    pub fn read(path: &Path) -> Result<Self, FileError> {
        toml_file::read(path, FileKind::Analyzed)
    }

    /// Reads `analyzed.toml`; `None` when it does not exist (which the reference treats
    /// as empty, with a warning).
    pub fn read_optional(path: &Path) -> Result<Option<Self>, FileError> {
        toml_file::read_optional(path, FileKind::Analyzed)
    }

    /// Writes `analyzed.toml` as the reference does.
    pub fn write(&self, path: &Path) -> Result<(), FileError> {
        let file = AnalyzedToml {
            image: self.previous_image.as_ref(),
            build_image: self.build_image.as_ref(),
            metadata: MetadataToml::from(&self.metadata),
            run_image: self.run_image.as_ref(),
        };
        toml_file::write(path, FileKind::Analyzed, &file)
    }

    /// The previous image's reference (empty when none).
    pub fn previous_image_ref(&self) -> &str {
        self.previous_image
            .as_ref()
            .map_or("", |i| i.reference.as_str())
    }

    /// The run image's reference (empty when none).
    pub fn run_image_ref(&self) -> &str {
        self.run_image.as_ref().map_or("", |r| r.reference.as_str())
    }

    /// The run image's name (empty when none).
    pub fn run_image_image(&self) -> &str {
        self.run_image.as_ref().map_or("", |r| r.image.as_str())
    }

    /// The run image's target data (empty when unknown).
    pub fn run_image_target(&self) -> TargetMetadata {
        self.run_image
            .as_ref()
            .and_then(|r| r.target.clone())
            .unwrap_or_default()
    }
}

/// The TOML shape of `analyzed.toml`.
#[derive(Serialize)]
struct AnalyzedToml<'a> {
    image: Option<&'a ImageIdentifier>,
    #[serde(rename = "build-image")]
    build_image: Option<&'a ImageIdentifier>,
    metadata: MetadataToml<'a>,
    #[serde(rename = "run-image")]
    run_image: Option<&'a RunImage>,
}

/// The TOML shape of [`LayersMetadata`].
#[derive(Serialize)]
struct MetadataToml<'a> {
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    app: &'a [LayerMetadata],
    sbom: Option<&'a LayerMetadata>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    buildpacks: Vec<BuildpackToml<'a>>,
    config: &'a LayerMetadata,
    launcher: &'a LayerMetadata,
    #[serde(rename = "process-types")]
    process_types: &'a LayerMetadata,
    #[serde(rename = "run-image")]
    run_image: RunImageToml<'a>,
    stack: Option<StackToml<'a>>,
}

impl<'a> From<&'a LayersMetadata> for MetadataToml<'a> {
    fn from(md: &'a LayersMetadata) -> Self {
        MetadataToml {
            app: &md.app,
            sbom: md.sbom.as_ref(),
            buildpacks: md.buildpacks.iter().map(BuildpackToml::from).collect(),
            config: &md.config,
            launcher: &md.launcher,
            process_types: &md.process_types,
            run_image: RunImageToml::from(&md.run_image),
            stack: md.stack.as_ref().map(|s| StackToml {
                run_image: &s.run_image,
            }),
        }
    }
}

#[derive(Serialize)]
struct BuildpackToml<'a> {
    key: &'a str,
    version: &'a str,
    layers: BTreeMap<&'a str, LayerToml<'a>>,
    store: Option<&'a StoreMetadata>,
}

impl<'a> From<&'a BuildpackLayersMetadata> for BuildpackToml<'a> {
    fn from(bp: &'a BuildpackLayersMetadata) -> Self {
        BuildpackToml {
            key: &bp.id,
            version: &bp.version,
            layers: bp
                .layers
                .iter()
                .map(|(name, layer)| (name.as_str(), LayerToml::from(layer)))
                .collect(),
            store: bp.store.as_ref(),
        }
    }
}

#[derive(Serialize)]
struct LayerToml<'a> {
    sha: &'a str,
    metadata: &'a Value,
    build: bool,
    launch: bool,
    cache: bool,
}

impl<'a> From<&'a BuildpackLayerMetadata> for LayerToml<'a> {
    fn from(layer: &'a BuildpackLayerMetadata) -> Self {
        LayerToml {
            sha: &layer.sha,
            metadata: &layer.data,
            build: layer.build,
            launch: layer.launch,
            cache: layer.cache,
        }
    }
}

#[derive(Serialize)]
struct RunImageToml<'a> {
    #[serde(rename = "top-layer")]
    top_layer: &'a str,
    reference: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    image: &'a str,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    mirrors: &'a [String],
}

impl<'a> From<&'a RunImageForRebase> for RunImageToml<'a> {
    fn from(r: &'a RunImageForRebase) -> Self {
        RunImageToml {
            top_layer: &r.top_layer,
            reference: &r.reference,
            image: &r.image,
            mirrors: &r.mirrors,
        }
    }
}

#[derive(Serialize)]
struct StackToml<'a> {
    #[serde(rename = "run-image")]
    run_image: &'a RunImageForExport,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::files::target::OsDistro;

    /// What the reference's analyzer writes on Platform API 0.7-0.11 for a first build.
    const OLD_FIRST_BUILD: &str = r#"[image]
  reference = ""

[metadata]
  [metadata.config]
    sha = ""
  [metadata.launcher]
    sha = ""
  [metadata.process-types]
    sha = ""
  [metadata.run-image]
    top-layer = ""
    reference = ""

[run-image]
  reference = "registry.example.com/run@sha256:r"
"#;

    /// What the reference writes on Platform API 0.12+ for a rebuild with extensions.
    const NEW_REBUILD: &str = r#"[image]
  reference = "registry.example.com/app@sha256:p"

[build-image]
  reference = "registry.example.com/build@sha256:b"

[metadata]

  [[metadata.app]]
    sha = "sha256:a1"
  [metadata.sbom]
    sha = "sha256:s"

  [[metadata.buildpacks]]
    key = "paketo-buildpacks/node-engine"
    version = "3.0.1"
    [metadata.buildpacks.layers]
      [metadata.buildpacks.layers.node]
        sha = "sha256:n"
        build = false
        launch = true
        cache = true
        [metadata.buildpacks.layers.node.metadata]
          ratio = 1.5
          version = "18.20.0"
          [metadata.buildpacks.layers.node.metadata.dependency]
            count = 5.0
    [metadata.buildpacks.store]
      [metadata.buildpacks.store.metadata]
        k = "v"

  [[metadata.buildpacks]]
    key = "paketo-buildpacks/npm-install"
    version = "1.1.0"
    [metadata.buildpacks.layers]
  [metadata.config]
    sha = "sha256:c"
  [metadata.launcher]
    sha = "sha256:l"
  [metadata.process-types]
    sha = "sha256:p"
  [metadata.run-image]
    top-layer = "sha256:t"
    reference = "registry.example.com/run@sha256:r"
    image = "registry.example.com/run:jammy"
    mirrors = ["mirror.example.com/run:jammy"]
  [metadata.stack]
    [metadata.stack.run-image]
      image = "registry.example.com/run:jammy"
      mirrors = ["mirror.example.com/run:jammy"]

[run-image]
  reference = "registry.example.com/run@sha256:r"
  image = "registry.example.com/run:jammy"
  extend = true
  [run-image.target]
    id = "io.buildpacks.stacks.jammy"
    os = "linux"
    arch = "arm64"
    arch-variant = "v8"
    [run-image.target.distro]
      name = "ubuntu"
      version = "22.04"
"#;

    const LABEL: &str = r#"{"app":[{"sha":"sha256:a1"}],"sbom":{"sha":"sha256:s"},"buildpacks":[{"key":"paketo-buildpacks/node-engine","version":"3.0.1","layers":{"node":{"sha":"sha256:n","data":{"dependency":{"count":5},"ratio":1.5,"version":"18.20.0"},"build":false,"launch":true,"cache":true}},"store":{"metadata":{"k":"v"}}},{"key":"paketo-buildpacks/npm-install","version":"1.1.0","layers":{}}],"config":{"sha":"sha256:c"},"launcher":{"sha":"sha256:l"},"process-types":{"sha":"sha256:p"},"runImage":{"topLayer":"sha256:t","reference":"registry.example.com/run@sha256:r","image":"registry.example.com/run:jammy","mirrors":["mirror.example.com/run:jammy"]},"stack":{"runImage":{"image":"registry.example.com/run:jammy","mirrors":["mirror.example.com/run:jammy"]}}}"#;

    #[test]
    fn first_build_on_an_old_platform() {
        let analyzed = Analyzed {
            previous_image: Some(ImageIdentifier::default()),
            run_image: Some(RunImage {
                reference: "registry.example.com/run@sha256:r".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("analyzed.toml");
        analyzed.write(&path).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), OLD_FIRST_BUILD);
        let back = Analyzed::read(&path).unwrap();
        assert_eq!(back, analyzed);
        assert_eq!(back.previous_image_ref(), "");
        assert_eq!(back.run_image_ref(), "registry.example.com/run@sha256:r");
        assert_eq!(back.run_image_target(), TargetMetadata::default());
    }

    #[test]
    fn label_to_analyzed_toml_like_the_reference() {
        let analyzed = Analyzed {
            previous_image: Some(ImageIdentifier {
                reference: "registry.example.com/app@sha256:p".into(),
            }),
            build_image: Some(ImageIdentifier {
                reference: "registry.example.com/build@sha256:b".into(),
            }),
            metadata: LayersMetadata::parse(LABEL).unwrap(),
            run_image: Some(RunImage {
                reference: "registry.example.com/run@sha256:r".into(),
                image: "registry.example.com/run:jammy".into(),
                extend: true,
                target: Some(TargetMetadata {
                    id: "io.buildpacks.stacks.jammy".into(),
                    os: "linux".into(),
                    arch: "arm64".into(),
                    arch_variant: "v8".into(),
                    distro: Some(OsDistro {
                        name: "ubuntu".into(),
                        version: "22.04".into(),
                    }),
                }),
            }),
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("analyzed.toml");
        analyzed.write(&path).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), NEW_REBUILD);

        let back = Analyzed::read(&path).unwrap();
        assert_eq!(back, analyzed);
        assert_eq!(back.run_image_image(), "registry.example.com/run:jammy");
        assert_eq!(back.run_image_target().arch_variant, "v8");
        assert_eq!(back.metadata.to_json().unwrap(), LABEL);
        back.write(&path).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), NEW_REBUILD);
    }

    #[test]
    fn lenient_reading() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("analyzed.toml");
        std::fs::write(
            &path,
            "[run-image]\nreference = \"r\"\n[run-image.target]\nos = \"linux\"\narch = \"arm\"\nvariant = \"v7\"\n[metadata.buildpacks.unknown]\n[[metadata.buildpacks]]\nkey = \"x\"\n",
        )
        .unwrap();
        assert!(Analyzed::read(&path).is_err());
        std::fs::write(
            &path,
            "extra = 1\n[run-image]\nreference = \"r\"\n[run-image.target]\nos = \"linux\"\narch = \"arm\"\nvariant = \"v7\"\n",
        )
        .unwrap();
        let analyzed = Analyzed::read(&path).unwrap();
        assert_eq!(analyzed.run_image_target().arch_variant, "v7");
        assert!(analyzed.previous_image.is_none());
        assert_eq!(
            Analyzed::read_optional(&dir.path().join("none")).unwrap(),
            None
        );
    }

    fn data() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            any::<String>().prop_map(Value::String),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::vec((".{0,5}", inner), 0..4)
                    .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
    }

    fn object(v: Value) -> Value {
        match v {
            Value::Object(_) => v,
            other => serde_json::json!({ "value": other }),
        }
    }

    proptest::proptest! {
        #[test]
        fn layer_data_survives_analyzed_toml_and_the_label(
            layer_data in data(),
            store_data in data(),
            name in "[a-z][a-z0-9-]{0,8}",
            launch: bool,
        ) {
            let mut layers = BTreeMap::new();
            layers.insert(name, BuildpackLayerMetadata {
                sha: "sha256:x".into(),
                data: object(layer_data),
                launch,
                ..Default::default()
            });
            let metadata = LayersMetadata {
                buildpacks: vec![BuildpackLayersMetadata {
                    id: "bp".into(),
                    version: "1".into(),
                    layers,
                    store: Some(StoreMetadata { metadata: object(store_data) }),
                }],
                ..Default::default()
            };
            let analyzed = Analyzed { metadata, ..Default::default() };
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("analyzed.toml");
            analyzed.write(&path).unwrap();
            let back = Analyzed::read(&path).unwrap();
            proptest::prop_assert_eq!(&back, &analyzed);

            let mut from_label = LayersMetadata::parse(&analyzed.metadata.to_json().unwrap()).unwrap();
            let mut expected = analyzed.metadata.clone();
            for bp in expected.buildpacks.iter_mut().chain(from_label.buildpacks.iter_mut()) {
                for layer in bp.layers.values_mut() {
                    crate::files::freeform::numbers_to_floats(&mut layer.data);
                }
                if let Some(store) = &mut bp.store {
                    crate::files::freeform::numbers_to_floats(&mut store.metadata);
                }
            }
            proptest::prop_assert_eq!(from_label, expected);
        }
    }
}

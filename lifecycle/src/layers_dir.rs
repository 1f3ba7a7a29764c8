//! A buildpack's directory under `<layers>` as the exporter, the cache step and the
//! restorer see it: every layer (a directory or a `<name>.toml`), read on demand, and
//! `store.toml`.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use buildpack_api::id::escape;
use buildpack_api::layer::{LayerContentMetadata, LayerError};
use buildpack_api::store::{StoreError, StoreToml};
use platform_api::labels::{BuildpackLayerMetadata, StoreMetadata};

/// Why a buildpack's layers directory cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum LayersDirError {
    /// The directory exists but cannot be listed.
    #[error("read {}: {source}", path.display())]
    List {
        /// The directory.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// `store.toml` is malformed.
    #[error("failed decoding store.toml for buildpack {id:?}: {source}")]
    Store {
        /// The buildpack.
        id: String,
        /// The cause.
        source: Box<StoreError>,
    },
}

/// One layer of a buildpack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildpackLayer {
    /// The layer name (directory or `.toml` stem).
    pub name: String,
    /// `<buildpack id>:<name>`, used in messages and to order layers.
    pub identifier: String,
    /// `<layers>/<escaped id>/<name>`.
    pub path: PathBuf,
}

/// A layer's metadata as the lifecycle records it: `<layer>.toml` plus the `.sha` the
/// restorer left.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LayerRecord {
    /// `[types]` and `[metadata]` (all false and none when there is no `.toml`).
    pub content: LayerContentMetadata,
    /// Content of `<layer>.sha` (empty when absent).
    pub sha: String,
}

impl LayerRecord {
    /// The entry of the lifecycle metadata label or cache metadata for this layer,
    /// with `sha` as its digest.
    pub fn to_label(&self, sha: &str) -> BuildpackLayerMetadata {
        let types = &self.content.types;
        BuildpackLayerMetadata {
            sha: sha.to_string(),
            data: self
                .content
                .metadata
                .as_ref()
                .map(toml_to_json)
                .unwrap_or(serde_json::Value::Null),
            build: types.build,
            launch: types.launch,
            cache: types.cache,
        }
    }
}

/// A TOML value as JSON (datetimes become their text, as Go's encoder writes them).
pub fn toml_to_json(value: &toml::Value) -> serde_json::Value {
    use serde_json::Value as J;
    match value {
        toml::Value::String(s) => J::String(s.clone()),
        toml::Value::Integer(i) => J::from(*i),
        toml::Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
        toml::Value::Boolean(b) => J::Bool(*b),
        toml::Value::Datetime(d) => J::String(d.to_string()),
        toml::Value::Array(a) => J::Array(a.iter().map(toml_to_json).collect()),
        toml::Value::Table(t) => J::Object(
            t.iter()
                .map(|(k, v)| (k.clone(), toml_to_json(v)))
                .collect(),
        ),
    }
}

impl BuildpackLayer {
    /// Reads `<layer>.toml` and `<layer>.sha`.
    pub fn read(&self) -> Result<LayerRecord, LayerError> {
        let toml_path = self.sibling("toml");
        let content = LayerContentMetadata::read(&toml_path)?.unwrap_or_default();
        let sha_path = self.sibling("sha");
        let sha = match fs::read_to_string(&sha_path) {
            Ok(sha) => sha,
            Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
            Err(source) => {
                return Err(LayerError::Read {
                    path: sha_path,
                    source,
                });
            }
        };
        Ok(LayerRecord { content, sha })
    }

    /// Whether the layer directory exists.
    pub fn has_contents(&self) -> bool {
        self.path.symlink_metadata().is_ok()
    }

    fn sibling(&self, ext: &str) -> PathBuf {
        let mut name = self.path.clone().into_os_string();
        name.push(".");
        name.push(ext);
        PathBuf::from(name)
    }
}

/// A buildpack's layers directory.
#[derive(Debug, Clone, PartialEq)]
pub struct BuildpackLayersDir {
    /// `<layers>/<escaped id>`.
    pub path: PathBuf,
    /// Layers ordered by identifier.
    pub layers: Vec<BuildpackLayer>,
    /// `store.toml`, when the buildpack wrote one.
    pub store: Option<StoreToml>,
}

impl BuildpackLayersDir {
    /// Reads the directory of buildpack `id` under `layers_dir` (empty when absent).
    pub fn read(layers_dir: &Path, id: &str) -> Result<Self, LayersDirError> {
        let path = layers_dir.join(escape(id));
        let mut dir = Self {
            path: path.clone(),
            layers: Vec::new(),
            store: None,
        };
        let entries = match fs::read_dir(&path) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(dir),
            Err(source) => return Err(LayersDirError::List { path, source }),
        };
        let mut dirs = Vec::new();
        let mut tomls = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|source| LayersDirError::List {
                path: path.clone(),
                source,
            })?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                dirs.push(name);
            } else if let Some(stem) = name.strip_suffix(".toml") {
                tomls.push(stem.to_string());
            }
        }
        for stem in tomls {
            match stem.as_str() {
                "store" => {
                    dir.store = StoreToml::read(&path.join("store.toml")).map_err(|source| {
                        LayersDirError::Store {
                            id: id.to_string(),
                            source: Box::new(source),
                        }
                    })?;
                }
                "launch" | "build" => {}
                _ if !dirs.contains(&stem) => dirs.push(stem),
                _ => {}
            }
        }
        dir.layers = dirs
            .into_iter()
            .map(|name| BuildpackLayer {
                identifier: format!("{id}:{name}"),
                path: path.join(&name),
                name,
            })
            .collect();
        dir.layers.sort_by(|a, b| a.identifier.cmp(&b.identifier));
        Ok(dir)
    }

    /// The layers whose metadata reads and says `launch = true`.
    pub fn launch_layers(&self) -> impl Iterator<Item = (&BuildpackLayer, LayerRecord)> {
        self.layers_where(|r| r.content.types.launch)
    }

    /// The layers whose metadata reads and says `cache = true`.
    pub fn cache_layers(&self) -> impl Iterator<Item = (&BuildpackLayer, LayerRecord)> {
        self.layers_where(|r| r.content.types.cache)
    }

    /// Identifiers of layers whose metadata does not read.
    pub fn malformed(&self) -> Vec<&str> {
        self.layers
            .iter()
            .filter(|l| l.read().is_err())
            .map(|l| l.identifier.as_str())
            .collect()
    }

    /// `store.toml` as the label records it.
    pub fn store_metadata(&self) -> Option<StoreMetadata> {
        self.store.as_ref().map(|s| StoreMetadata {
            metadata: s
                .metadata
                .as_ref()
                .map(|t| toml_to_json(&toml::Value::Table(t.clone())))
                .unwrap_or(serde_json::Value::Null),
        })
    }

    fn layers_where(
        &self,
        keep: impl Fn(&LayerRecord) -> bool,
    ) -> impl Iterator<Item = (&BuildpackLayer, LayerRecord)> {
        self.layers.iter().filter_map(move |l| {
            let record = l.read().ok()?;
            keep(&record).then_some((l, record))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_layers_store_and_malformed() {
        let tmp = tempfile::tempdir().unwrap();
        let bp = tmp.path().join("some_bp");
        fs::create_dir_all(bp.join("b-dir-only")).unwrap();
        fs::create_dir_all(bp.join("a-launch")).unwrap();
        fs::write(
            bp.join("a-launch.toml"),
            "[types]\nlaunch = true\n[metadata]\nk = \"v\"\n",
        )
        .unwrap();
        fs::write(bp.join("a-launch.sha"), "sha256:abc").unwrap();
        fs::write(
            bp.join("c-meta-only.toml"),
            "[types]\nlaunch = true\ncache = true\n",
        )
        .unwrap();
        fs::write(bp.join("d-bad.toml"), "launch = true\n").unwrap();
        fs::write(bp.join("launch.toml"), "").unwrap();
        fs::write(bp.join("build.toml"), "").unwrap();
        fs::write(bp.join("store.toml"), "[metadata]\nx = 1\n").unwrap();

        let dir = BuildpackLayersDir::read(tmp.path(), "some/bp").unwrap();
        let ids: Vec<_> = dir.layers.iter().map(|l| l.identifier.as_str()).collect();
        assert_eq!(
            ids,
            [
                "some/bp:a-launch",
                "some/bp:b-dir-only",
                "some/bp:c-meta-only",
                "some/bp:d-bad"
            ]
        );
        let launch: Vec<_> = dir
            .launch_layers()
            .map(|(l, r)| (l.name.clone(), r))
            .collect();
        assert_eq!(launch.len(), 2);
        assert_eq!(launch[0].1.sha, "sha256:abc");
        assert!(launch[0].0 == "a-launch");
        let label = launch[0].1.to_label("sha256:new");
        assert_eq!(label.data, serde_json::json!({"k": "v"}));
        assert!(label.launch && !label.cache);
        assert!(dir.layers[0].has_contents() && !dir.layers[2].has_contents());
        assert_eq!(dir.cache_layers().count(), 1);
        assert_eq!(dir.malformed(), ["some/bp:d-bad"]);
        assert_eq!(
            dir.store_metadata().unwrap().metadata,
            serde_json::json!({"x": 1})
        );
        assert!(
            BuildpackLayersDir::read(tmp.path(), "absent")
                .unwrap()
                .layers
                .is_empty()
        );
    }
}

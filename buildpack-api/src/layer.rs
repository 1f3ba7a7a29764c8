//! Layer content metadata: `<layers>/<bp>/<layer>.toml`.
//!
//! Buildpacks write `[types]` and `[metadata]`; the lifecycle writes back only
//! `[metadata]` when it restores a layer. Every supported Buildpack API (0.7 to 0.12)
//! follows the same rules in the reference, so parsing takes no version.

use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Suffix of a layer's content metadata file.
pub const LAYER_TOML_SUFFIX: &str = ".toml";

/// The `[types]` table; unset flags are `false`. Unknown keys inside it (such as the
/// `metadata = "..."` some samples put there) are ignored, as the reference does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub struct LayerTypes {
    /// Exported in the app image.
    #[serde(default)]
    pub launch: bool,
    /// Visible to later buildpacks during the build.
    #[serde(default)]
    pub build: bool,
    /// Saved to and restored from the cache.
    #[serde(default)]
    pub cache: bool,
}

impl LayerTypes {
    /// Whether no flag is set (the layer is ignored and renamed `<layer>.ignore`).
    pub fn is_none(&self) -> bool {
        !(self.launch || self.build || self.cache)
    }
}

/// The content of a `<layer>.toml`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct LayerContentMetadata {
    /// `[types]`.
    #[serde(default)]
    pub types: LayerTypes,
    /// `metadata`: normally a table, but any value is kept (the reference stores it
    /// untyped and writes it back as it was). `None` when absent.
    #[serde(default)]
    pub metadata: Option<toml::Value>,
}

/// Why a layer metadata file is unusable.
#[derive(Debug, thiserror::Error)]
pub enum LayerError {
    /// The file could not be read.
    #[error("failed to read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// The file is not valid TOML or `[types]` has flags of the wrong type.
    #[error("failed to parse {}: {source}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// The TOML error.
        source: toml::de::Error,
    },
    /// `launch`, `build` or `cache` appear outside `[types]` (same message as the
    /// reference).
    #[error("the launch, cache and build flags should be in the types table of {}", path.display())]
    TypesAtTopLevel {
        /// The file.
        path: PathBuf,
    },
    /// The metadata could not be serialized.
    #[error("failed to encode layer metadata: {0}")]
    Encode(#[from] toml::ser::Error),
    /// The file could not be written.
    #[error("failed to write {}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
}

#[derive(Serialize)]
struct RestoredLayerToml<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata: Option<&'a toml::Value>,
}

impl LayerContentMetadata {
    /// Parses the text of `path` (used in messages only).
    pub fn parse(text: &str, path: &Path) -> Result<Self, LayerError> {
        let parse_err = |source| LayerError::Parse {
            path: path.to_path_buf(),
            source,
        };
        // Typed first, for errors pointing at the offending line; then untyped, to see
        // which top-level keys were written.
        let parsed: Self = toml::from_str(text).map_err(parse_err)?;
        let table: toml::Table = toml::from_str(text).map_err(parse_err)?;
        if ["launch", "build", "cache"]
            .iter()
            .any(|k| table.contains_key(*k))
        {
            return Err(LayerError::TypesAtTopLevel {
                path: path.to_path_buf(),
            });
        }
        Ok(parsed)
    }

    /// Reads `path`; `Ok(None)` when it does not exist (the reference then treats the
    /// layer as having all flags false and no metadata).
    pub fn read(path: &Path) -> Result<Option<Self>, LayerError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::parse(&text, path).map(Some),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(LayerError::Read {
                path: path.to_path_buf(),
                source,
            }),
        }
    }

    /// The execution environments in `[metadata] exec-env` (Buildpack API 0.12); empty
    /// (meaning every environment) when absent or not a list of strings.
    pub fn exec_env(&self) -> Vec<String> {
        self.metadata
            .as_ref()
            .and_then(|m| m.get("exec-env"))
            .and_then(|v| v.clone().try_into::<Vec<String>>().ok())
            .unwrap_or_default()
    }

    /// The text the lifecycle writes when restoring the layer: only the metadata, never
    /// `[types]` (so the buildpack must set the types again to keep the layer). Empty
    /// when there is no metadata.
    pub fn to_restored_toml(&self) -> Result<String, LayerError> {
        Ok(toml::to_string(&RestoredLayerToml {
            metadata: self.metadata.as_ref(),
        })?)
    }

    /// Writes [`Self::to_restored_toml`] to `path`.
    pub fn write_restored(&self, path: &Path) -> Result<(), LayerError> {
        std::fs::write(path, self.to_restored_toml()?).map_err(|source| LayerError::Write {
            path: path.to_path_buf(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<LayerContentMetadata, LayerError> {
        LayerContentMetadata::parse(text, Path::new("/layers/bp/layer.toml"))
    }

    #[test]
    fn spec_form() {
        let text = r#"
[types]
launch = true
cache = true

[metadata]
version = "3.2.2"
sha256 = "abc"
[metadata.nested]
x = 1
"#;
        let m = parse(text).unwrap();
        assert_eq!(
            m.types,
            LayerTypes {
                launch: true,
                build: false,
                cache: true
            }
        );
        assert_eq!(
            m.metadata.as_ref().unwrap()["version"].as_str(),
            Some("3.2.2")
        );
        assert!(!m.types.is_none());
    }

    #[test]
    fn ruby_sample_metadata_inside_types() {
        // samples/buildpacks/ruby-bundler writes this shape.
        let text = "[types]\nlaunch = true\ncache = true\nmetadata = \"3.1.2\"\n";
        let m = parse(text).unwrap();
        assert!(m.types.launch && m.types.cache && !m.types.build);
        assert_eq!(m.metadata, None);
    }

    #[test]
    fn empty_and_metadata_only() {
        let m = parse("").unwrap();
        assert!(m.types.is_none());
        assert_eq!(m.metadata, None);
        let m = parse("[metadata]\nkey = \"v\"\n").unwrap();
        assert!(m.types.is_none());
    }

    #[test]
    fn top_level_flags_rejected() {
        for text in [
            "launch = true\n",
            "build = false\n",
            "[cache]\n",
            "[types]\n[metadata]\n[build]\n",
        ] {
            let err = parse(text).unwrap_err();
            assert_eq!(
                err.to_string(),
                "the launch, cache and build flags should be in the types table of /layers/bp/layer.toml"
            );
        }
    }

    #[test]
    fn malformed() {
        for text in ["[types]\nlaunch = \"yes\"\n", "types = 1\n", "[types\n"] {
            assert!(
                matches!(parse(text), Err(LayerError::Parse { .. })),
                "{text}"
            );
        }
    }

    #[test]
    fn exec_env() {
        let m = parse("[metadata]\nexec-env = [\"test\", \"development\"]\n").unwrap();
        assert_eq!(m.exec_env(), ["test", "development"]);
        assert!(parse("[metadata]\n").unwrap().exec_env().is_empty());
        assert!(
            parse("[metadata]\nexec-env = 1\n")
                .unwrap()
                .exec_env()
                .is_empty()
        );
    }

    #[test]
    fn restored_form() {
        let m = parse("[types]\nlaunch = true\n[metadata]\nversion = \"1\"\n").unwrap();
        let text = m.to_restored_toml().unwrap();
        assert!(!text.contains("types"), "{text}");
        let back = parse(&text).unwrap();
        assert!(back.types.is_none());
        assert_eq!(back.metadata, m.metadata);

        assert_eq!(
            LayerContentMetadata::default().to_restored_toml().unwrap(),
            ""
        );
        let scalar = LayerContentMetadata {
            types: LayerTypes::default(),
            metadata: Some(toml::Value::String("x".into())),
        };
        assert_eq!(scalar.to_restored_toml().unwrap(), "metadata = \"x\"\n");
    }

    #[test]
    fn read_and_write() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gems.toml");
        assert!(LayerContentMetadata::read(&path).unwrap().is_none());
        let m = parse("[metadata]\nversion = \"1\"\n").unwrap();
        m.write_restored(&path).unwrap();
        assert_eq!(LayerContentMetadata::read(&path).unwrap(), Some(m));
        std::fs::create_dir(dir.path().join("dir.toml")).unwrap();
        assert!(LayerContentMetadata::read(&dir.path().join("dir.toml")).is_err());
    }
}

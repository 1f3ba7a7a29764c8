//! `store.toml`: free-form `[metadata]` a buildpack persists across builds (through the
//! app image's lifecycle metadata label).

use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// A `store.toml`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StoreToml {
    /// `[metadata]`; `None` when absent (an empty file is written back).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<toml::Table>,
}

/// Why a `store.toml` cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// I/O failure on the file.
    #[error("failed to access {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// Not valid TOML or `metadata` is not a table.
    #[error("failed decoding {}: {source}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// The TOML error.
        source: toml::de::Error,
    },
    /// The store could not be serialized.
    #[error("failed to encode store.toml: {0}")]
    Encode(#[from] toml::ser::Error),
}

impl StoreToml {
    /// Reads `path`; `Ok(None)` when it does not exist.
    pub fn read(path: &Path) -> Result<Option<Self>, StoreError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(StoreError::Io {
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        toml::from_str(&text)
            .map(Some)
            .map_err(|source| StoreError::Parse {
                path: path.to_path_buf(),
                source,
            })
    }

    /// The TOML text of the store.
    pub fn to_toml(&self) -> Result<String, StoreError> {
        Ok(toml::to_string(self)?)
    }

    /// Writes the store to `path`.
    pub fn write(&self, path: &Path) -> Result<(), StoreError> {
        std::fs::write(path, self.to_toml()?).map_err(|source| StoreError::Io {
            path: path.to_path_buf(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.toml");
        assert_eq!(StoreToml::read(&path).unwrap(), None);
        std::fs::write(
            &path,
            "[metadata]\nlast-build = \"2024-01-01\"\n[metadata.gems]\ncount = 12\n",
        )
        .unwrap();
        let store = StoreToml::read(&path).unwrap().unwrap();
        let meta = store.metadata.as_ref().unwrap();
        assert_eq!(meta["gems"]["count"].as_integer(), Some(12));
        let out = dir.path().join("out.toml");
        store.write(&out).unwrap();
        assert_eq!(StoreToml::read(&out).unwrap().unwrap(), store);
        assert_eq!(StoreToml::default().to_toml().unwrap(), "");
    }

    #[test]
    fn malformed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.toml");
        std::fs::write(&path, "metadata = \"x\"\n").unwrap();
        let err = StoreToml::read(&path).unwrap_err();
        assert!(err.to_string().starts_with("failed decoding "), "{err}");
    }
}

//! `extend-config.toml`: build arguments an image extension provides for its
//! `build.Dockerfile` (`[[build.args]]`) and `run.Dockerfile` (`[[run.args]]`).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Build arguments the lifecycle provides itself, which an extension may not set.
pub const LIFECYCLE_ARGS: [&str; 3] = ["build_id", "user_id", "group_id"];

/// One build argument.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtendArg {
    /// Argument name.
    #[serde(default)]
    pub name: String,
    /// Argument value.
    #[serde(default)]
    pub value: String,
}

/// `[build]` or `[run]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtendSection {
    /// `[[<kind>.args]]`.
    #[serde(default)]
    pub args: Vec<ExtendArg>,
}

/// `extend-config.toml`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtendConfig {
    /// Arguments for `build.Dockerfile`.
    #[serde(default)]
    pub build: ExtendSection,
    /// Arguments for `run.Dockerfile`.
    #[serde(default)]
    pub run: ExtendSection,
}

/// Why an `extend-config.toml` is rejected (messages as the reference words them).
#[derive(Debug, thiserror::Error)]
pub enum ExtendConfigError {
    /// Unreadable file.
    #[error("reading extend config: open {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Not valid TOML for this shape.
    #[error("reading extend config: toml: line {line}: {message}")]
    Syntax {
        /// 1-based line of the error.
        line: usize,
        /// The decoder's message.
        message: String,
    },
    /// An argument the lifecycle reserves.
    #[error("validating extend config: invalid content: arg with name {0:?} is not allowed")]
    ReservedArg(String),
}

impl ExtendConfig {
    /// Parses the file's text.
    pub fn parse(text: &str) -> Result<Self, ExtendConfigError> {
        toml::from_str(text).map_err(|e| ExtendConfigError::Syntax {
            line: e.span().map_or(1, |s| {
                text.as_bytes()[..s.start.min(text.len())]
                    .iter()
                    .filter(|&&b| b == b'\n')
                    .count()
                    + 1
            }),
            message: e.message().to_string(),
        })
    }

    /// Reads and parses `path`; `None` when it does not exist.
    pub fn read_optional(path: &Path) -> Result<Option<Self>, ExtendConfigError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::parse(&text).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(ExtendConfigError::Read {
                path: path.to_path_buf(),
                source,
            }),
        }
    }

    /// Fails on arguments the lifecycle provides itself.
    pub fn validate(&self) -> Result<(), ExtendConfigError> {
        let all = self.build.args.iter().chain(&self.run.args);
        match all
            .map(|a| a.name.as_str())
            .find(|n| LIFECYCLE_ARGS.contains(n))
        {
            Some(name) => Err(ExtendConfigError::ReservedArg(name.to_string())),
            None => Ok(()),
        }
    }

    /// The reference's check of an extension's output: a missing file is fine, an
    /// unreadable or invalid one or a reserved argument is an error.
    pub fn check_file(path: &Path) -> Result<(), ExtendConfigError> {
        match Self::read_optional(path)? {
            Some(config) => config.validate(),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_args_of_both_kinds() {
        let config = ExtendConfig::parse(
            "[[build.args]]\nname = \"a\"\nvalue = \"1\"\n\n[[run.args]]\nname = \"b\"\nvalue = \"2\"\nextra = true\n",
        )
        .unwrap();
        assert_eq!(config.build.args[0].name, "a");
        assert_eq!(config.run.args[0].value, "2");
        assert!(config.validate().is_ok());
        assert_eq!(ExtendConfig::parse("").unwrap(), ExtendConfig::default());
    }

    #[test]
    fn reserved_args_are_rejected() {
        for name in LIFECYCLE_ARGS {
            let text = format!("[[run.args]]\nname = \"{name}\"\nvalue = \"x\"\n");
            let err = ExtendConfig::parse(&text).unwrap().validate().unwrap_err();
            assert_eq!(
                err.to_string(),
                format!(
                    "validating extend config: invalid content: arg with name \"{name}\" is not allowed"
                )
            );
        }
    }

    #[test]
    fn files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("extend-config.toml");
        assert!(ExtendConfig::check_file(&path).is_ok(), "missing is fine");
        std::fs::write(&path, "[build]\nargs = 3\n").unwrap();
        let err = ExtendConfig::check_file(&path).unwrap_err().to_string();
        assert!(
            err.starts_with("reading extend config: toml: line 2: "),
            "{err}"
        );
        std::fs::write(&path, "[[build.args]]\nname = \"user_id\"\n").unwrap();
        assert!(matches!(
            ExtendConfig::check_file(&path),
            Err(ExtendConfigError::ReservedArg(n)) if n == "user_id"
        ));
    }
}

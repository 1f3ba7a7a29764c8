//! `launch.toml`: labels, processes, slices and the deprecated `[[bom]]`, parsed per
//! Buildpack API.
//!
//! * API < 0.9: `command` is a string and `direct` is allowed (default `false`).
//! * API >= 0.9: `command` is an array, a `direct` key is an error, processes are
//!   always direct.
//! * API < 0.8: `working-dir` is ignored with a warning.

use std::io;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::api::ApiVersion;
use crate::bom::{BomError, validate_legacy_bom};
use crate::id::validate_process_type;
use crate::plan::Require;

/// An image label a buildpack asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Label {
    /// Label key.
    #[serde(default)]
    pub key: String,
    /// Label value.
    #[serde(default)]
    pub value: String,
}

/// A slice: app-directory globs exported as their own layer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Slice {
    /// Go `filepath.Match` globs relative to the app directory (an absolute pattern
    /// never matches, as in the reference).
    #[serde(default)]
    pub paths: Vec<String>,
}

/// A process, normalised across Buildpack APIs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Process {
    /// Process type.
    pub process_type: String,
    /// The command: one element (the string) for API < 0.9; the array for >= 0.9
    /// (empty when the key is missing, which the reference accepts).
    pub command: Vec<String>,
    /// Default arguments.
    pub args: Vec<String>,
    /// Whether the command runs without a shell: the `direct` value (default `false`)
    /// for API < 0.9, always `true` from 0.9.
    pub direct: bool,
    /// Whether this is the buildpack's default process.
    pub default: bool,
    /// Working directory; empty means the app directory (always empty for API < 0.8).
    pub working_dir: String,
    /// Execution environments the process is restricted to; empty means all.
    pub exec_env: Vec<String>,
}

/// A parsed `launch.toml`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LaunchToml {
    /// `[[labels]]`.
    pub labels: Vec<Label>,
    /// `[[processes]]`.
    pub processes: Vec<Process>,
    /// `[[slices]]`.
    pub slices: Vec<Slice>,
    /// Deprecated `[[bom]]` entries.
    pub bom: Vec<Require>,
}

/// Why a `launch.toml` is rejected.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    /// The file could not be read.
    #[error("failed to read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// Not valid TOML, or a key of the wrong type.
    #[error("failed to parse launch.toml: {0}")]
    Parse(#[from] toml::de::Error),
    /// `direct` given for Buildpack API >= 0.9 (same message as the reference).
    #[error("process.direct is not supported on this buildpack version")]
    DirectNotSupported,
    /// `command` has the wrong shape for the buildpack's API.
    #[error("process '{process_type}': command must be {expected} for buildpack API {api}")]
    CommandShape {
        /// The process type.
        process_type: String,
        /// "a string" or "an array of strings".
        expected: &'static str,
        /// The buildpack's API.
        api: ApiVersion,
    },
    /// More than one process has `default = true` (same message as the reference).
    #[error("multiple default process types aren't allowed")]
    MultipleDefaults,
    /// A `[[bom]]` entry has a top-level version.
    #[error(transparent)]
    Bom(#[from] BomError),
}

#[derive(Deserialize)]
struct RawLaunchToml {
    #[serde(default)]
    labels: Vec<Label>,
    #[serde(default)]
    processes: Vec<RawProcess>,
    #[serde(default)]
    slices: Vec<Slice>,
    #[serde(default)]
    bom: Vec<Require>,
}

#[derive(Deserialize)]
struct RawProcess {
    #[serde(default, rename = "type")]
    process_type: String,
    #[serde(default)]
    command: Option<toml::Value>,
    #[serde(default)]
    args: Vec<String>,
    #[serde(default)]
    direct: Option<bool>,
    #[serde(default)]
    default: bool,
    #[serde(default, rename = "working-dir")]
    working_dir: String,
    #[serde(default, rename = "exec-env")]
    exec_env: Vec<String>,
}

impl RawProcess {
    fn normalise(
        self,
        api: ApiVersion,
        warnings: &mut Vec<String>,
    ) -> Result<Process, LaunchError> {
        let shape_err = |expected| LaunchError::CommandShape {
            process_type: self.process_type.clone(),
            expected,
            api,
        };
        let (command, direct) = if api.less_than(0, 9) {
            match &self.command {
                Some(toml::Value::String(s)) => (vec![s.clone()], self.direct.unwrap_or(false)),
                _ => return Err(shape_err("a string")),
            }
        } else {
            if self.direct.is_some() {
                return Err(LaunchError::DirectNotSupported);
            }
            let command = match self.command.clone() {
                None => Vec::new(),
                Some(v) => v
                    .try_into::<Vec<String>>()
                    .map_err(|_| shape_err("an array of strings"))?,
            };
            (command, true)
        };
        let mut working_dir = self.working_dir;
        if api.less_than(0, 8) && !working_dir.is_empty() {
            warnings.push(format!(
                "Warning: process working directory isn't supported in this buildpack api version. Ignoring working directory for process '{}'",
                self.process_type
            ));
            working_dir.clear();
        }
        Ok(Process {
            process_type: self.process_type,
            command,
            args: self.args,
            direct,
            default: self.default,
            working_dir,
            exec_env: self.exec_env,
        })
    }
}

impl LaunchToml {
    /// Parses and validates `launch.toml` text written by a buildpack implementing
    /// `api`. Returns the file and the warnings to print.
    ///
    /// Errors follow the reference: command shape and `direct` per API, top-level
    /// `version` in `[[bom]]`, more than one default process. Process types that break
    /// the specification's character rules, and duplicate types, only produce warnings:
    /// the reference accepts them here (its exporter later rejects the characters
    /// `/><:|&\`, see [`crate::id::check_exportable_process_type`]).
    pub fn parse(text: &str, api: ApiVersion) -> Result<(Self, Vec<String>), LaunchError> {
        let raw: RawLaunchToml = toml::from_str(text)?;
        let mut warnings = Vec::new();
        let processes = raw
            .processes
            .into_iter()
            .map(|p| p.normalise(api, &mut warnings))
            .collect::<Result<Vec<_>, _>>()?;
        validate_legacy_bom(&raw.bom)?;
        if processes.iter().filter(|p| p.default).count() > 1 {
            return Err(LaunchError::MultipleDefaults);
        }
        for (i, p) in processes.iter().enumerate() {
            if let Err(e) = validate_process_type(&p.process_type) {
                warnings.push(format!("Warning: {e}"));
            }
            if processes
                .iter()
                .take(i)
                .any(|q| q.process_type == p.process_type)
            {
                warnings.push(format!(
                    "Warning: process type '{}' is defined more than once; the last definition wins",
                    p.process_type
                ));
            }
        }
        let launch = LaunchToml {
            labels: raw.labels,
            processes,
            slices: raw.slices,
            bom: raw.bom,
        };
        Ok((launch, warnings))
    }

    /// Reads `path` (a buildpack's `<layers>/<bp>/launch.toml`); `Ok(None)` when it does
    /// not exist.
    pub fn read(path: &Path, api: ApiVersion) -> Result<Option<(Self, Vec<String>)>, LaunchError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::parse(&text, api).map(Some),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(LaunchError::Read {
                path: path.to_path_buf(),
                source,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V0_7: ApiVersion = ApiVersion::new(0, 7);
    const V0_8: ApiVersion = ApiVersion::new(0, 8);
    const V0_9: ApiVersion = ApiVersion::new(0, 9);
    const V0_12: ApiVersion = ApiVersion::new(0, 12);

    const OLD_STYLE: &str = r#"
[[processes]]
type = "web"
command = "bundle exec rackup -p $PORT"
args = ["--env", "production"]
direct = false
default = true
working-dir = "/workspace/app"

[[processes]]
type = "worker"
command = "bundle exec sidekiq"

[[processes]]
type = "direct-one"
command = "/layers/bin/server"
direct = true

[[labels]]
key = "io.example.team"
value = "ruby"

[[bom]]
name = "ruby"
[bom.metadata]
version = "3.2.2"
"#;

    // The shape hello-processes and libcnb.rs buildpacks write for API >= 0.9.
    const NEW_STYLE: &str = r#"
[[processes]]
type = "web"
command = ["bash", "-c", "python3 -m http.server 8080"]
default = true

[[processes]]
type = "sys-info"
command = ["bash", "-c", "uname -a"]
args = ["--verbose"]
working-dir = "/workspace/tools"
exec-env = ["test"]

[[slices]]
paths = ["static/*", "*.css"]
"#;

    #[test]
    fn old_style_commands() {
        let (launch, warnings) = LaunchToml::parse(OLD_STYLE, V0_7).unwrap();
        let web = &launch.processes[0];
        assert_eq!(web.command, ["bundle exec rackup -p $PORT"]);
        assert_eq!(web.args, ["--env", "production"]);
        assert!(!web.direct && web.default);
        // API 0.7 ignores working-dir.
        assert_eq!(web.working_dir, "");
        assert_eq!(
            warnings,
            [
                "Warning: process working directory isn't supported in this buildpack api version. Ignoring working directory for process 'web'"
            ]
        );
        assert!(!launch.processes[1].direct);
        assert!(launch.processes[2].direct);
        assert_eq!(launch.labels[0].key, "io.example.team");
        assert_eq!(launch.bom[0].name, "ruby");

        let (launch, warnings) = LaunchToml::parse(OLD_STYLE, V0_8).unwrap();
        assert_eq!(launch.processes[0].working_dir, "/workspace/app");
        assert!(warnings.is_empty());
    }

    #[test]
    fn new_style_commands() {
        let (launch, warnings) = LaunchToml::parse(NEW_STYLE, V0_12).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        let web = &launch.processes[0];
        assert_eq!(web.command, ["bash", "-c", "python3 -m http.server 8080"]);
        assert!(web.direct && web.default);
        let info = &launch.processes[1];
        assert_eq!(info.working_dir, "/workspace/tools");
        assert_eq!(info.exec_env, ["test"]);
        assert_eq!(launch.slices[0].paths, ["static/*", "*.css"]);
    }

    #[test]
    fn shapes_per_api() {
        let err = LaunchToml::parse(NEW_STYLE, V0_8).unwrap_err();
        assert_eq!(
            err.to_string(),
            "process 'web': command must be a string for buildpack API 0.8"
        );
        let err = LaunchToml::parse(OLD_STYLE, V0_9).unwrap_err();
        assert_eq!(
            err.to_string(),
            "process.direct is not supported on this buildpack version"
        );
        let string_command = "[[processes]]\ntype = \"web\"\ncommand = \"run\"\n";
        assert!(matches!(
            LaunchToml::parse(string_command, V0_9),
            Err(LaunchError::CommandShape { .. })
        ));
        let mixed = "[[processes]]\ntype = \"web\"\ncommand = [\"run\", 1]\n";
        assert!(LaunchToml::parse(mixed, V0_12).is_err());
        // A missing command: an error for string commands, empty for arrays.
        let missing = "[[processes]]\ntype = \"web\"\n";
        assert!(LaunchToml::parse(missing, V0_8).is_err());
        assert!(
            LaunchToml::parse(missing, V0_9).unwrap().0.processes[0]
                .command
                .is_empty()
        );
    }

    #[test]
    fn one_default_per_buildpack() {
        let two = "[[processes]]\ntype = \"a\"\ncommand = [\"a\"]\ndefault = true\n\
                   [[processes]]\ntype = \"b\"\ncommand = [\"b\"]\ndefault = true\n";
        assert_eq!(
            LaunchToml::parse(two, V0_12).unwrap_err().to_string(),
            "multiple default process types aren't allowed"
        );
    }

    #[test]
    fn spec_violations_warn() {
        let text = "[[processes]]\ntype = \"my web\"\ncommand = [\"a\"]\n\
                    [[processes]]\ntype = \"my web\"\ncommand = [\"b\"]\n";
        let (launch, warnings) = LaunchToml::parse(text, V0_12).unwrap();
        assert_eq!(launch.processes.len(), 2);
        assert_eq!(warnings.len(), 3, "{warnings:?}");
        assert!(warnings[2].contains("more than once"));
    }

    #[test]
    fn bom_version_rejected() {
        let text = "[[bom]]\nname = \"ruby\"\nversion = \"3\"\n";
        assert!(matches!(
            LaunchToml::parse(text, V0_7),
            Err(LaunchError::Bom(_))
        ));
    }

    #[test]
    fn malformed() {
        for bad in [
            "[[processes]]\ntype = 1\ncommand = [\"a\"]\n",
            "processes = \"web\"\n",
            "[[labels]]\nkey = 1\n",
            "[[slices]]\npaths = \"*\"\n",
            "[[processes]]\ntype = \"a\"\ncommand = [\"a\"]\ndefault = \"yes\"\n",
            "[[processes]",
        ] {
            assert!(
                matches!(LaunchToml::parse(bad, V0_12), Err(LaunchError::Parse(_))),
                "{bad}"
            );
        }
        assert!(LaunchToml::parse("unknown = 1\n[extra]\n", V0_12).is_ok());
    }

    #[test]
    fn read_missing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("launch.toml");
        assert!(LaunchToml::read(&path, V0_12).unwrap().is_none());
        std::fs::write(&path, NEW_STYLE).unwrap();
        assert_eq!(
            LaunchToml::read(&path, V0_12)
                .unwrap()
                .unwrap()
                .0
                .processes
                .len(),
            2
        );
    }
}

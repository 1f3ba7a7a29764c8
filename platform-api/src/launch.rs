//! The launcher's rules, shared with the phases that prepare what it reads: its inputs
//! and where `metadata.toml` lives, the part of `metadata.toml` the launcher reads,
//! which process an app image starts for its entrypoint and arguments (per Platform
//! API, per buildpack API, per execution environment), and whether a shell process
//! runs its command as a script or as evaluated tokens.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use buildpack_api::api::ApiVersion;
use serde::{Deserialize, Deserializer, de};

use crate::files::{FileAction, FileError, FileKind};

/// The app directory (`/workspace` by default).
pub const ENV_APP_DIR: &str = "CNB_APP_DIR";
/// The layers directory (`/layers` by default).
pub const ENV_LAYERS_DIR: &str = "CNB_LAYERS_DIR";
/// The execution environment processes are filtered by (Platform API 0.15).
pub const ENV_EXEC_ENV: &str = "CNB_EXEC_ENV";
/// The former process selector; the launcher only warns when it is set.
pub const ENV_PROCESS_TYPE: &str = "CNB_PROCESS_TYPE";
/// Disables coloured log prefixes when true.
pub const ENV_NO_COLOR: &str = "CNB_NO_COLOR";

/// Default of [`ENV_APP_DIR`].
pub const DEFAULT_APP_DIR: &str = "/workspace";
/// Default of [`ENV_LAYERS_DIR`].
pub const DEFAULT_LAYERS_DIR: &str = "/layers";
/// Default of [`ENV_EXEC_ENV`].
pub const DEFAULT_EXEC_ENV: &str = "production";
/// The `exec-env` entry that makes a process eligible in every execution environment.
pub const ANY_EXEC_ENV: &str = "*";

/// The separator of a user command that must run without a shell
/// (`launcher -- <command> <args>`).
pub const DIRECT_MARKER: &str = "--";

/// `<layers>/config/metadata.toml`.
pub fn metadata_path(layers_dir: &Path) -> PathBuf {
    layers_dir.join("config").join("metadata.toml")
}

/// `metadata.toml` as the launcher reads it: like the reference's launcher, only the
/// processes and each buildpack's `id` and `api`. Every other key (labels, slices, BOM,
/// extensions, a buildpack's `version` or `homepage`, ...) is ignored whatever its
/// shape, so any file the reference launches is launched.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct LaunchMetadata {
    /// The processes, commands as written.
    #[serde(default)]
    pub processes: Vec<MetadataProcess>,
    /// The buildpacks, in order.
    #[serde(default)]
    pub buildpacks: Vec<MetadataBuildpack>,
}

/// A process of `metadata.toml` with the keys (and types) the reference's launcher
/// reads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct MetadataProcess {
    /// Process type (`type`).
    #[serde(rename = "type", default)]
    pub process_type: String,
    /// The command and any leading arguments, whole whatever the Platform API (the
    /// reference's launcher appends the arguments after them). Read from a string or an
    /// array whose entries are turned into text as Go's `fmt.Sprint` does.
    #[serde(default, deserialize_with = "command_entries")]
    pub command: Vec<String>,
    /// Arguments.
    #[serde(default)]
    pub args: Vec<String>,
    /// Whether the command runs without a shell.
    #[serde(default)]
    pub direct: bool,
    /// Whether this was the buildpack's default process: unused by the launcher, but
    /// typed, so that a value the reference refuses is refused here too.
    #[serde(default)]
    pub default: bool,
    /// The buildpack that defined the process (`buildpack-id`).
    #[serde(rename = "buildpack-id", default)]
    pub buildpack_id: String,
    /// Working directory (`working-dir`); empty means the app directory.
    #[serde(rename = "working-dir", default)]
    pub working_dir: String,
    /// Execution environments the process is restricted to (`exec-env`, Platform API
    /// 0.15); empty means all, like `["*"]`.
    #[serde(rename = "exec-env", default)]
    pub exec_env: Vec<String>,
}

/// A buildpack of `metadata.toml`: its ID and its API as written (verified by the
/// launcher before anything else happens).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct MetadataBuildpack {
    /// Buildpack ID.
    #[serde(default)]
    pub id: String,
    /// Buildpack API.
    #[serde(default)]
    pub api: String,
}

/// A buildpack of `metadata.toml` whose API the launcher has verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedBuildpack {
    /// Buildpack ID.
    pub id: String,
    /// Buildpack API.
    pub api: ApiVersion,
}

/// Reads `<layers>/config/metadata.toml` as the launcher uses it (see
/// [`LaunchMetadata`]); errors are worded as for the other platform files.
pub fn read_metadata(layers_dir: &Path) -> Result<LaunchMetadata, FileError> {
    let path = &metadata_path(layers_dir);
    let io_err = |op: &'static str| {
        move |source: io::Error| FileError::Io {
            action: FileAction::Read,
            kind: FileKind::BuildMetadata,
            op,
            path: path.to_path_buf(),
            cause: source,
        }
    };
    let mut text = String::new();
    File::open(path)
        .map_err(io_err("open"))?
        .read_to_string(&mut text)
        .map_err(io_err("read"))?;
    toml::from_str(&text).map_err(|err| FileError::Syntax {
        kind: FileKind::BuildMetadata,
        path: path.to_path_buf(),
        line: buildpack_api::goerr::toml_line(&text, &err),
        message: err.message().to_string(),
    })
}

/// Reads a command given as a string or an array, as the reference's `RawCommand`
/// does.
fn command_entries<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    let (go_type, value) = match toml::Value::deserialize(deserializer)? {
        toml::Value::String(command) => return Ok(vec![command]),
        toml::Value::Array(entries) => return Ok(entries.iter().map(go_sprint).collect()),
        v @ toml::Value::Integer(_) => ("int64", v),
        v @ toml::Value::Float(_) => ("float64", v),
        v @ toml::Value::Boolean(_) => ("bool", v),
        v @ toml::Value::Datetime(_) => ("time.Time", v),
        v @ toml::Value::Table(_) => ("map[string]interface {}", v),
    };
    Err(de::Error::custom(format!(
        "unknown command type {go_type} with data {}",
        go_sprint(&value)
    )))
}

/// A TOML value as Go's `fmt.Sprint` prints what the reference's decoder makes of it
/// (floats as Rust prints them, date-times in TOML notation).
fn go_sprint(value: &toml::Value) -> String {
    match value {
        toml::Value::String(s) => s.clone(),
        toml::Value::Float(f) => f.to_string(),
        toml::Value::Array(items) => {
            let items: Vec<String> = items.iter().map(go_sprint).collect();
            format!("[{}]", items.join(" "))
        }
        toml::Value::Table(table) => {
            let mut entries: Vec<(&String, &toml::Value)> = table.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            let entries: Vec<String> = entries
                .into_iter()
                .map(|(k, v)| format!("{k}:{}", go_sprint(v)))
                .collect();
            format!("map[{}]", entries.join(" "))
        }
        other => other.to_string(),
    }
}

/// A process ready to launch: a process of `metadata.toml` with the user's arguments
/// applied, or a command the user gave.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LaunchProcess {
    /// The process type; empty for a user command.
    pub process_type: String,
    /// The command: the executable (direct) or the shell command, and for processes of
    /// newer buildpacks on Platform API < 0.10, further leading arguments.
    pub command: Vec<OsString>,
    /// The arguments after the command.
    pub args: Vec<OsString>,
    /// Whether the command is executed without a shell.
    pub direct: bool,
    /// The buildpack that defined the process; empty for a user command.
    pub buildpack_id: String,
    /// The working directory; empty means the app directory.
    pub working_dir: String,
}

impl LaunchProcess {
    fn from_metadata(process: &MetadataProcess) -> Self {
        let os = |v: &[String]| v.iter().map(OsString::from).collect();
        LaunchProcess {
            process_type: process.process_type.clone(),
            command: os(&process.command),
            args: os(&process.args),
            direct: process.direct,
            buildpack_id: process.buildpack_id.clone(),
            working_dir: process.working_dir.clone(),
        }
    }
}

/// Why no process could be chosen or prepared; messages as the reference words them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProcessError {
    /// Called as `launcher` without arguments.
    #[error("when there is no default process a command is required")]
    CommandRequired,
    /// The entrypoint's process type has no process eligible for the execution
    /// environment.
    #[error("process type {0} was not found")]
    NotFound(String),
    /// User arguments for a process whose buildpack `metadata.toml` does not list.
    #[error("failed to find buildpack for process {process_type} with buildpack ID {buildpack_id}")]
    BuildpackNotFound {
        /// The process type.
        process_type: String,
        /// The process's `buildpack-id`.
        buildpack_id: String,
    },
    /// A shell process with arguments whose buildpack `metadata.toml` does not list.
    #[error("process type '{process_type}' provided by unknown buildpack '{buildpack_id}'")]
    UnknownBuildpack {
        /// The process type.
        process_type: String,
        /// The process's `buildpack-id`.
        buildpack_id: String,
    },
}

/// Chooses and prepares the process to launch, as the launcher of a Platform API does.
#[derive(Debug, Clone, Copy)]
pub struct ProcessSelector<'a> {
    /// The processes of `metadata.toml`.
    pub processes: &'a [MetadataProcess],
    /// The buildpacks of `metadata.toml`, in order, with their verified APIs.
    pub buildpacks: &'a [VerifiedBuildpack],
    /// The Platform API of the image.
    pub platform_api: ApiVersion,
    /// `CNB_EXEC_ENV` (only used from Platform API 0.15).
    pub exec_env: &'a str,
}

impl<'a> ProcessSelector<'a> {
    /// A selector over the processes of `metadata.toml` and its buildpacks (whose APIs
    /// the caller has verified).
    pub fn new(
        processes: &'a [MetadataProcess],
        buildpacks: &'a [VerifiedBuildpack],
        platform_api: ApiVersion,
        exec_env: &'a str,
    ) -> Self {
        ProcessSelector {
            processes,
            buildpacks,
            platform_api,
            exec_env,
        }
    }

    /// The default process type of a launcher invoked as `argv0`: the file name of
    /// `argv0` (`/cnb/process/web` → `web`) when some process has that type, whatever
    /// its execution environments.
    pub fn default_process_type(&self, argv0: &OsStr) -> Option<&'a str> {
        let bytes = argv0.as_bytes();
        let start = bytes.iter().rposition(|b| *b == b'/').map_or(0, |i| i + 1);
        let name = std::str::from_utf8(&bytes[start..]).ok()?;
        self.processes
            .iter()
            .find(|p| p.process_type == name)
            .map(|p| p.process_type.as_str())
            .filter(|t| !t.is_empty())
    }

    /// Whether `process` may run in the execution environment: always below Platform
    /// API 0.15; otherwise when its `exec-env` is empty or lists `*` or the environment.
    pub fn is_eligible(&self, process: &MetadataProcess) -> bool {
        self.platform_api.less_than(0, 15)
            || process.exec_env.is_empty()
            || process
                .exec_env
                .iter()
                .any(|e| e == ANY_EXEC_ENV || e == self.exec_env)
    }

    /// The process for the default type (if any) and the user's arguments.
    ///
    /// Without a default type the arguments are the command: `-- <cmd> <args>` runs
    /// directly, anything else through the shell. With one, the process's arguments
    /// are combined with the user's: appended below Platform API 0.10; otherwise the
    /// command's extra entries always come first and the user's arguments replace the
    /// process's `args`, except for processes of buildpacks below API 0.9 with a
    /// single-entry command, where they are appended.
    pub fn process_for(
        &self,
        default_type: Option<&str>,
        user_args: &[OsString],
    ) -> Result<LaunchProcess, ProcessError> {
        let Some(process_type) = default_type else {
            return user_process(user_args);
        };
        let mut process = self
            .processes
            .iter()
            .find(|p| p.process_type == process_type && self.is_eligible(p))
            .map(LaunchProcess::from_metadata)
            .ok_or_else(|| ProcessError::NotFound(process_type.to_string()))?;
        if self.platform_api.less_than(0, 10) {
            process.args.extend_from_slice(user_args);
            return Ok(process);
        }
        if process.command.len() > 1 {
            let overridable = std::mem::replace(&mut process.args, process.command.split_off(1));
            if user_args.is_empty() {
                process.args.extend(overridable);
            } else {
                process.args.extend_from_slice(user_args);
            }
        } else if !user_args.is_empty() {
            let api =
                self.buildpack_api(&process)
                    .ok_or_else(|| ProcessError::BuildpackNotFound {
                        process_type: process.process_type.clone(),
                        buildpack_id: process.buildpack_id.clone(),
                    })?;
            if api.less_than(0, 9) {
                process.args.extend_from_slice(user_args);
            } else {
                process.args = user_args.to_vec();
            }
        }
        Ok(process)
    }

    /// Whether a shell process runs its command as a script (no arguments: the command
    /// string is handed to `bash -c`) rather than as tokens that are each evaluated.
    /// Arguments of a process whose buildpack is not listed are an error.
    pub fn is_script(&self, process: &LaunchProcess) -> Result<bool, ProcessError> {
        if process.args.is_empty() {
            return Ok(true);
        }
        if process.buildpack_id.is_empty() {
            return Ok(false);
        }
        match self.buildpack_api(process) {
            Some(_) => Ok(false),
            None => Err(ProcessError::UnknownBuildpack {
                process_type: process.process_type.clone(),
                buildpack_id: process.buildpack_id.clone(),
            }),
        }
    }

    /// The API of the buildpack that defined `process`, if it is listed.
    fn buildpack_api(&self, process: &LaunchProcess) -> Option<ApiVersion> {
        self.buildpacks
            .iter()
            .find(|bp| bp.id == process.buildpack_id)
            .map(|bp| bp.api)
    }
}

/// The process for a launcher called without a default process type.
fn user_process(args: &[OsString]) -> Result<LaunchProcess, ProcessError> {
    match args {
        [] => Err(ProcessError::CommandRequired),
        [marker, command, rest @ ..] if marker == DIRECT_MARKER => Ok(LaunchProcess {
            command: vec![command.clone()],
            args: rest.to_vec(),
            direct: true,
            ..LaunchProcess::default()
        }),
        [command, rest @ ..] => Ok(LaunchProcess {
            command: vec![command.clone()],
            args: rest.to_vec(),
            ..LaunchProcess::default()
        }),
    }
}

#[cfg(test)]
mod tests;

//! The detect phase: pick the first group of the order whose buildpacks pass detection
//! and whose build plan resolves, then write group.toml and plan.toml (and run the
//! extensions' generate step when the group has extensions).

mod logbuf;
mod resolve;

use std::ffi::OsString;
use std::path::PathBuf;

use buildpack_api::api::ApiVersion;
use platform_api::experimental::ExperimentalMode;

/// Everything the detector reads, resolved by the caller (flags > env > defaults).
#[derive(Debug, Clone)]
pub struct DetectInputs {
    /// Requested Platform API.
    pub platform_api: ApiVersion,
    /// `<app>`: the application source (cwd of `/bin/detect`).
    pub app_dir: PathBuf,
    /// `<buildpacks>`: `<id>/<version>/buildpack.toml` store.
    pub buildpacks_dir: PathBuf,
    /// `<extensions>`: `<id>/<version>/extension.toml` store.
    pub extensions_dir: PathBuf,
    /// `<build-config>`: operator env in `env/` (Platform >= 0.11).
    pub build_config_dir: PathBuf,
    /// `<platform>`: user env in `env/` and platform extensions.
    pub platform_dir: PathBuf,
    /// `<layers>`.
    pub layers_dir: PathBuf,
    /// `<order>`: already resolved (flag, env, `<layers>/order.toml` if present, else `/cnb/order.toml`).
    pub order_path: PathBuf,
    /// `<system>` (Platform >= 0.15 only; `None` below).
    pub system_path: Option<PathBuf>,
    /// `<analyzed>`: read for target data, rewritten by the generate step.
    pub analyzed_path: PathBuf,
    /// `<group>` output.
    pub group_path: PathBuf,
    /// `<plan>` output.
    pub plan_path: PathBuf,
    /// `<generated>`: generate-step output (extensions).
    pub generated_dir: PathBuf,
    /// `<run>`: run.toml (checked when an extension switches the run image).
    pub run_path: PathBuf,
    /// `CNB_EXEC_ENV` (Platform >= 0.15; `production` by default).
    pub exec_env: String,
    /// `CNB_EXPERIMENTAL_MODE`.
    pub experimental_mode: ExperimentalMode,
    /// The lifecycle's own environment, from which buildpack environments are derived.
    pub environ: Vec<(OsString, OsString)>,
}

/// Why detection failed; each maps to an exit code of the specification.
#[derive(Debug, thiserror::Error)]
pub enum DetectError {
    /// Placeholder until the detector lands.
    #[error("detector not implemented")]
    NotImplemented,
}

impl DetectError {
    /// The exit code the detector exits with.
    pub fn exit_code(&self) -> platform_api::exit::ExitCode {
        platform_api::exit::DETECT_ERROR
    }
}

/// Runs detection and writes `<group>` and `<plan>`.
pub fn run(_inputs: &DetectInputs, _logger: &crate::log::Logger) -> Result<(), DetectError> {
    Err(DetectError::NotImplemented)
}

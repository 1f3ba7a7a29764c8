//! The image extensions' generate step, run by the detector when the selected group has
//! extensions: each extension's `/bin/generate` (or its pre-populated `generate/`
//! directory) produces Dockerfiles, which are validated and laid out under
//! `<generated>`; the plan loses the entries the extensions met, and the run image in
//! `analyzed.toml` is switched and/or marked for extension as the `run.Dockerfile`s say.

mod extension;
mod layout;
mod select;

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use buildpack_api::api::ApiVersion;
use buildpack_api::descriptor::ModuleKind;
use buildpack_api::dockerfile::Kind;
use buildpack_api::group::GroupElement;
use platform_api::exit::{self, ExitCode};
use platform_api::files::analyzed::Analyzed;
use platform_api::files::plan::Plan;
use platform_api::files::run::Run;

use crate::log::Logger;

/// What the generate step needs besides the group, plan, analyzed and run metadata.
#[derive(Debug, Clone)]
pub struct GenerateInputs {
    /// Requested Platform API (switches the `<generated>` layout).
    pub platform_api: ApiVersion,
    /// `<app>`: the working directory of `/bin/generate`.
    pub app_dir: PathBuf,
    /// `<platform>`: user env in `env/` (skipped for `clear-env` extensions).
    pub platform_dir: PathBuf,
    /// `<build-config>`: operator env in `env/`.
    pub build_config_dir: PathBuf,
    /// `<extensions>`: `<escaped id>/<version>/extension.toml` store.
    pub extensions_dir: PathBuf,
    /// `<generated>`: where the Dockerfiles go.
    pub generated_dir: PathBuf,
    /// The lifecycle's own environment, from which the extensions' environment is derived.
    pub environ: Vec<(OsString, OsString)>,
    /// `CNB_TARGET_*` variables (given to extensions of Buildpack API >= 0.10).
    pub target_env: Vec<(String, String)>,
}

/// The metadata the detector writes after the generate step.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerateResult {
    /// `analyzed.toml` with the run image switched and/or marked for extension.
    pub analyzed: Analyzed,
    /// `plan.toml` without the entries extensions met.
    pub plan: Plan,
}

/// Why the generate step failed. `Display` is the whole message the reference prints
/// after `ERROR: `; [`GenerateError::exit_code`] is the specification's exit code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GenerateError {
    /// Reading the generator's inputs (run metadata) failed.
    #[error("failed to initialize generator: {0}")]
    Init(String),
    /// An extension's `/bin/generate` failed or could not be started.
    #[error("failed to build: {0}")]
    ExtensionFailed(String),
    /// Anything else: a missing extension, invalid output, a file operation.
    #[error("failed to build: {0}")]
    Other(String),
}

impl GenerateError {
    /// The exit code the detector exits with.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            GenerateError::Init(_) => exit::FAILED,
            GenerateError::ExtensionFailed(_) => exit::GENERATE_EXTENSION_FAILED,
            GenerateError::Other(_) => exit::GENERATE_ERROR,
        }
    }
}

/// A Dockerfile an extension produced, with what validation found.
#[derive(Debug, Clone, PartialEq, Eq)]
struct DockerfileInfo {
    /// The extension that wrote it.
    extension_id: String,
    /// Build or run.
    kind: Kind,
    /// Where it is now.
    path: PathBuf,
    /// For a `run.Dockerfile`: the run image it switches to.
    with_base: Option<String>,
    /// For a `run.Dockerfile`: whether it has instructions to apply.
    extend: bool,
    /// A `run.Dockerfile` made moot by a later extension switching the run image.
    ignore: bool,
}

/// Reads `<run>` as the generator does: a missing file is empty run metadata (said at
/// info level), an invalid one fails initialization.
pub fn read_run(path: &Path, logger: &Logger) -> Result<Run, GenerateError> {
    match Run::read_optional(path) {
        Ok(Some(run)) => Ok(run),
        Ok(None) => {
            logger.info(format!(
                "No run metadata found at path {:?}",
                path.display().to_string()
            ));
            Ok(Run::default())
        }
        Err(e) => Err(GenerateError::Init(e.to_string())),
    }
}

/// Runs the extensions of the group in order and returns the updated analyzed metadata
/// and plan (which the caller writes to `<analyzed>` and `<plan>`).
pub fn generate(
    inputs: &GenerateInputs,
    extensions: &[GroupElement],
    plan: &Plan,
    analyzed: &Analyzed,
    run: &Run,
    logger: &Logger,
) -> Result<GenerateResult, GenerateError> {
    // Below Platform API 0.13 extensions write to a scratch directory and the
    // Dockerfiles are copied to the old layout; from 0.13 they write in place.
    let scratch = if inputs.platform_api.less_than(0, 13) {
        Some(
            tempfile::Builder::new()
                .prefix("cnb-extensions-generated.")
                .tempdir()
                .map_err(|e| GenerateError::Other(e.to_string()))?,
        )
    } else {
        None
    };
    let output_root = scratch
        .as_ref()
        .map_or(inputs.generated_dir.as_path(), |d| d.path());

    let mut dockerfiles = Vec::new();
    let mut plan = plan.clone();
    for ext in extensions {
        logger.debug(format!(
            "Running generate for extension {}",
            ext.display_name()
        ));
        logger.debug("Looking up extension");
        let module = extension::Extension::lookup(&inputs.extensions_dir, ext)?;
        logger.debug("Finding plan");
        let ext_plan = plan.find(ModuleKind::Extension, &ext.id);
        logger.debug("Invoking command");
        let output = module.generate(inputs, &ext_plan, output_root, logger)?;
        dockerfiles.extend(output.dockerfiles);
        plan = plan.filter(&output.met_requires);
        logger.debug(format!(
            "Finished running generate for extension {}",
            ext.display_name()
        ));
    }

    logger.debug("Checking run image");
    let analyzed =
        select::update_analyzed(analyzed, inputs.platform_api, run, &mut dockerfiles, logger);

    logger.debug("Copying Dockerfiles");
    layout::place(
        &dockerfiles,
        inputs.platform_api,
        &inputs.generated_dir,
        logger,
    )?;
    Ok(GenerateResult { analyzed, plan })
}

#[cfg(test)]
mod tests;

//! The build phase: run every buildpack of the group in order, each seeing the build
//! layers of the ones before it, then record what they produced in
//! `<layers>/config/metadata.toml` and the SBOM trees under `<layers>/sbom/`.
//!
//! Per buildpack: `<layers>/<escaped id>` is created; the plan entries it provides
//! that no earlier buildpack met are written to a fresh plan file; `/bin/build` runs in
//! `<app>` with arguments `<layers>/<bp> <platform> <plan>` and its output streamed to
//! the lifecycle's stdout; then its layers are read (all-false layers renamed
//! `<layer>.ignore`, build layers added to the environment), then `build.toml`, its
//! SBOM files, `store.toml` and `launch.toml`.

mod buildpack;
mod error;
mod layers;
pub(crate) mod legacy_bom;
mod outputs;
mod processes;
mod sbom;

use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};

use buildpack_api::api::ApiVersion;
use buildpack_api::descriptor::ModuleKind;
use buildpack_api::env::Env;
use buildpack_api::group::Group;
use platform_api::files::analyzed::Analyzed;
use platform_api::files::group;
use platform_api::files::metadata::BuildMetadata;
use platform_api::files::plan::Plan;
use platform_api::flags::DeprecationMode;
use platform_api::module_api::verify_buildpack_api;

pub use error::{BuildError, StepError};

use crate::log::Logger;
use crate::target::OS_RELEASE;
use buildpack::Session;
use processes::ProcessMap;
use sbom::SBOM_DIR;

/// Everything the builder reads, resolved by the caller (flags > env > defaults).
#[derive(Debug, Clone)]
pub struct BuildInputs {
    /// Requested Platform API (decides SBOM copies, the legacy BOM and the shape of
    /// process commands in `metadata.toml`).
    pub platform_api: ApiVersion,
    /// `<app>`: the working directory of `/bin/build`.
    pub app_dir: PathBuf,
    /// `<buildpacks>`: `<escaped id>/<version>/buildpack.toml` store.
    pub buildpacks_dir: PathBuf,
    /// `<build-config>`: operator env in `env/`.
    pub build_config_dir: PathBuf,
    /// `<platform>`: user env in `env/`.
    pub platform_dir: PathBuf,
    /// `<layers>`.
    pub layers_dir: PathBuf,
    /// `<group>`: group.toml.
    pub group_path: PathBuf,
    /// `<plan>`: plan.toml.
    pub plan_path: PathBuf,
    /// `<analyzed>`: analyzed.toml (target data; may be missing).
    pub analyzed_path: PathBuf,
    /// `CNB_DEPRECATION_MODE` (for deprecated Buildpack APIs).
    pub deprecation_mode: DeprecationMode,
    /// `CNB_EXEC_ENV`, given to Buildpack API >= 0.12 buildpacks when not empty.
    pub exec_env: String,
    /// The lifecycle's own environment, from which the build environment is derived.
    pub environ: Vec<(OsString, OsString)>,
}

pub use platform_api::launch::metadata_path;

/// Runs the build phase: reads `<group>` and `<plan>`, checks every buildpack's API,
/// reads `<analyzed>`, builds, and writes `<layers>/config/metadata.toml`.
pub fn run(inputs: &BuildInputs, logger: &Logger) -> Result<(), BuildError> {
    let group = group::read(&inputs.group_path).map_err(BuildError::ReadGroup)?;
    let plan = Plan::read(&inputs.plan_path).map_err(BuildError::ReadPlan)?;
    verify_buildpack_apis(&group, inputs.deprecation_mode, logger)?;
    let analyzed = match Analyzed::read_optional(&inputs.analyzed_path) {
        Ok(Some(analyzed)) => analyzed,
        Ok(None) => {
            logger.warn(format!(
                "No analyzed metadata found at path {:?}",
                inputs.analyzed_path
            ));
            Analyzed::default()
        }
        Err(e) => return Err(BuildError::ReadAnalyzed(e)),
    };
    let metadata = build(inputs, &group, &plan, &analyzed, logger)?;
    let path = metadata_path(&inputs.layers_dir);
    if let Some(config_dir) = path.parent() {
        // A buildpack planting a symlink here must not redirect the metadata.
        unlink_symlink(config_dir)?;
    }
    metadata
        .write(&path, inputs.platform_api)
        .map_err(BuildError::WriteMetadata)
}

/// Removes `path` if it is a symlink.
fn unlink_symlink(path: &Path) -> Result<(), StepError> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => {
            std::fs::remove_file(path).map_err(StepError::io("unlink", path))
        }
        _ => Ok(()),
    }
}

/// Checks the `api` of every buildpack of the group (extensions are not checked),
/// printing the warnings of deprecated APIs.
pub fn verify_buildpack_apis(
    group: &Group,
    mode: DeprecationMode,
    logger: &Logger,
) -> Result<(), BuildError> {
    for el in &group.group {
        let (_, warning) = verify_buildpack_api("Buildpack", &el.display_name(), &el.api, mode)?;
        if let Some(warning) = warning {
            logger.warn(warning);
        }
    }
    Ok(())
}

/// Runs every buildpack of `group` and returns what `metadata.toml` records. SBOM
/// files are copied (Platform API 0.8+) and legacy BOM files written (0.9+) here; the
/// caller writes the metadata.
pub fn build(
    inputs: &BuildInputs,
    group: &Group,
    plan: &Plan,
    analyzed: &Analyzed,
    logger: &Logger,
) -> Result<BuildMetadata, BuildError> {
    let sbom_dir = inputs.layers_dir.join(SBOM_DIR);
    remove_dir_all(&sbom_dir)?;
    let target =
        crate::target::completed(&analyzed.run_image_target(), Path::new(OS_RELEASE), logger);
    let mut session = Session {
        inputs,
        env: Env::for_build(inputs.environ.iter().cloned()),
        target_env: crate::target::env_vars(&target),
        layers_root: canonical_layers(&inputs.layers_dir)?,
    };

    let mut remaining = plan.clone();
    let mut processes = ProcessMap::default();
    let mut metadata = BuildMetadata {
        buildpacks: group.group.clone(),
        extensions: group.group_extensions.clone(),
        ..BuildMetadata::default()
    };
    let (mut build_bom, mut sbom_files) = (Vec::new(), Vec::new());
    for el in &group.group {
        logger.debug(format!("Running build for buildpack {}", el.display_name()));
        logger.debug("Looking up buildpack");
        let bp = session.locate(el)?;
        logger.debug("Finding plan");
        let bp_plan = remaining.find(ModuleKind::Buildpack, &el.id);
        let out = session.build(el, &bp, &bp_plan, logger)?;
        logger.debug("Updating buildpack processes");
        remaining = remaining.filter(&out.met_requires);
        sbom_files.extend(out.sbom_files);
        build_bom.extend(out.build_bom);
        metadata.bom.extend(out.launch_bom);
        metadata.labels.extend(out.labels);
        metadata.slices.extend(out.slices);
        logger.debug("Updating process list");
        if let Some(warning) = processes.add(out.processes) {
            logger.warn(warning);
        }
        logger.debug(format!(
            "Finished running build for buildpack {}",
            el.display_name()
        ));
    }

    if inputs.platform_api.at_least(0, 8) {
        logger.debug("Copying SBOM files");
        // Nothing but this phase writes here; a buildpack planting a symlink in its
        // place must not redirect the copies.
        remove_dir_all(&sbom_dir)?;
        sbom::copy_all(&inputs.layers_dir, &sbom_files)?;
    }
    if inputs.platform_api.at_least(0, 9) {
        logger.debug("Creating SBOM files for legacy BOM");
        legacy_bom::write(&sbom_dir, "launch", &metadata.bom)?;
        legacy_bom::write(&sbom_dir, "build", &build_bom)?;
        metadata.bom.clear();
    }
    logger.debug("Listing processes");
    (metadata.processes, metadata.buildpack_default_process_type) = processes.into_parts();
    Ok(metadata)
}

/// Removes `dir` (a symlink itself, not its target) if it exists.
fn remove_dir_all(dir: &Path) -> Result<(), StepError> {
    let result = match std::fs::symlink_metadata(dir) {
        Ok(meta) if meta.is_dir() => std::fs::remove_dir_all(dir),
        Ok(_) => std::fs::remove_file(dir),
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(StepError::CleanSbomDir(e)),
    }
}

/// `<layers>`, created if missing, with symlinks resolved.
fn canonical_layers(layers_dir: &Path) -> Result<PathBuf, StepError> {
    std::fs::create_dir_all(layers_dir).map_err(StepError::io("mkdir", layers_dir))?;
    std::fs::canonicalize(layers_dir).map_err(StepError::io("realpath", layers_dir))
}

#[cfg(test)]
mod tests;

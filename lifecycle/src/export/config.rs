//! The image config the exporter sets: labels, environment, working directory and
//! entrypoint.

use platform_api::files::metadata::BuildMetadata;
use platform_api::labels::{
    BUILD_METADATA, EXEC_ENV, LIFECYCLE_METADATA, LayersMetadata, PROJECT_METADATA,
};

use super::{ExportError, ExportInputs};
use crate::image::ContainerConfig;
use crate::log::Logger;

/// Where the launcher is in the image.
pub const LAUNCHER_PATH: &str = "/cnb/lifecycle/launcher";
/// Where the process-type links are in the image.
pub const PROCESS_DIR: &str = "/cnb/process";

fn label_error(what: &str, e: impl std::fmt::Display) -> ExportError {
    ExportError::File {
        context: what.to_string(),
        message: e.to_string(),
    }
}

/// Sets the lifecycle, build and project metadata labels, the buildpacks' labels and
/// (Platform API 0.15) the execution environment label.
pub fn set_labels(
    config: &mut ContainerConfig,
    inputs: &ExportInputs,
    meta: &LayersMetadata,
    build: &BuildMetadata,
    logger: &Logger,
) -> Result<(), ExportError> {
    let mut set = |key: &str, value: String| {
        logger.info(format!("Adding label '{key}'"));
        config.labels.insert(key.to_string(), value);
    };
    set(
        LIFECYCLE_METADATA,
        meta.to_json()
            .map_err(|e| label_error("marshall metadata", e))?,
    );
    let label = build.to_label(inputs.launcher_metadata.clone());
    set(
        BUILD_METADATA,
        label
            .to_json(inputs.platform_api)
            .map_err(|e| label_error("parse build metadata", e))?,
    );
    set(
        PROJECT_METADATA,
        inputs
            .project_metadata
            .to_label_json()
            .map_err(|e| label_error("parse project metadata", e))?,
    );
    for l in &build.labels {
        set(&l.key, l.value.clone());
    }
    if inputs.platform_api >= buildpack_api::api::ApiVersion::new(0, 15)
        && !inputs.exec_env.is_empty()
    {
        set(EXEC_ENV, inputs.exec_env.clone());
    }
    Ok(())
}

/// Sets the environment and working directory the launcher relies on.
pub fn set_env(config: &mut ContainerConfig, inputs: &ExportInputs, logger: &Logger) {
    let layers = inputs.layers_dir.to_string_lossy();
    let app = inputs.app_dir.to_string_lossy();
    let api = inputs.platform_api.to_string();
    for (key, value) in [
        ("CNB_LAYERS_DIR", layers.as_ref()),
        ("CNB_APP_DIR", app.as_ref()),
        ("CNB_PLATFORM_API", api.as_str()),
        ("CNB_DEPRECATION_MODE", "quiet"),
    ] {
        logger.debug(format!("Setting {key}={value}"));
        config.set_env(key, value);
    }
    let path = config.env_var("PATH").unwrap_or_default().to_string();
    logger.debug(format!(
        "Prepending {PROCESS_DIR} and /cnb/lifecycle to PATH"
    ));
    config.set_env("PATH", &format!("{PROCESS_DIR}:/cnb/lifecycle:{path}"));
    logger.debug(format!("Setting WORKDIR: '{app}'"));
    config.working_dir = app.into_owned();
}

/// Sets the entrypoint: the process the user chose, else the buildpacks' default, else
/// the launcher itself; `Cmd` is emptied.
pub fn set_entrypoint(
    config: &mut ContainerConfig,
    inputs: &ExportInputs,
    build: &BuildMetadata,
    logger: &Logger,
) -> Result<(), ExportError> {
    let entrypoint = if !inputs.default_process_type.is_empty() {
        let process = build
            .find_process(&inputs.default_process_type)
            .ok_or_else(|| ExportError::UnknownProcessType(inputs.default_process_type.clone()))?;
        logger.info(format!(
            "Setting default process type '{}'",
            process.process_type
        ));
        format!("{PROCESS_DIR}/{}", process.process_type)
    } else if build.buildpack_default_process_type.is_empty() {
        logger.info("no default process type");
        LAUNCHER_PATH.to_string()
    } else {
        logger.info(format!(
            "Setting default process type '{}'",
            build.buildpack_default_process_type
        ));
        format!("{PROCESS_DIR}/{}", build.buildpack_default_process_type)
    };
    logger.debug(format!("Setting ENTRYPOINT: '{entrypoint}'"));
    config.entrypoint = vec![entrypoint];
    config.cmd.clear();
    Ok(())
}

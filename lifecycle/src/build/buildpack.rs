//! One buildpack's build: look it up, hand it its plan in a fresh file, run
//! `/bin/build` in `<app>` with the build environment, then collect its layers and
//! output files and let its build layers into the environment of later buildpacks.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use buildpack_api::api::{ApiVersion, BUILDPACK_APIS};
use buildpack_api::descriptor::BuildpackDescriptor;
use buildpack_api::env::Env;
use buildpack_api::group::GroupElement;
use buildpack_api::plan::BuildpackPlan;

use super::BuildInputs;
use super::error::{BuildError, StepError};
use super::layers::{apply_build_env, ensure_within, process_layers};
use super::outputs::{self, BuildpackOutputs, Producer};
use crate::exec::run_streaming;
use crate::log::Logger;

/// What every buildpack's build shares.
pub(crate) struct Session<'a> {
    /// The resolved inputs.
    pub inputs: &'a BuildInputs,
    /// The build environment: the filtered base plus every earlier build layer.
    pub env: Env,
    /// `CNB_TARGET_*` for Buildpack API >= 0.10.
    pub target_env: Vec<(String, String)>,
    /// `<layers>`, canonical (symlinks must resolve inside it).
    pub layers_root: PathBuf,
}

/// A buildpack found in the store.
pub(crate) struct Located {
    dir: PathBuf,
    descriptor: BuildpackDescriptor,
    api: ApiVersion,
}

impl Session<'_> {
    /// Builds with buildpack `el` (found by [`Session::locate`]), given the plan
    /// entries it is to provide.
    pub(crate) fn build(
        &mut self,
        el: &GroupElement,
        bp: &Located,
        plan: &BuildpackPlan,
        logger: &Logger,
    ) -> Result<BuildpackOutputs, BuildError> {
        logger.debug("Creating plan directory");
        let escaped = el.escaped_id();
        let plan_dir = tempfile::Builder::new()
            .prefix(&format!("{escaped}-"))
            .tempdir()
            .map_err(StepError::io("mkdir", std::env::temp_dir()))?;
        let plan_path = plan_dir.path().join(&escaped).join("plan.toml");
        let bp_layers = self.inputs.layers_dir.join(&escaped);
        logger.debug("Preparing paths");
        std::fs::create_dir_all(&bp_layers).map_err(StepError::io("mkdir", &bp_layers))?;
        ensure_within(&self.layers_root, &bp_layers)?;
        if let Some(dir) = plan_path.parent() {
            std::fs::create_dir_all(dir).map_err(StepError::io("mkdir", dir))?;
        }
        plan.write(&plan_path).map_err(StepError::from)?;

        logger.debug("Running build command");
        let env = self.env_for(bp, &bp_layers, &plan_path)?;
        run_streaming(
            &bp.dir.join("bin").join("build"),
            &[
                bp_layers.clone().into_os_string(),
                self.inputs.platform_dir.clone().into_os_string(),
                plan_path.clone().into_os_string(),
            ],
            &self.inputs.app_dir,
            &env,
        )
        .map_err(BuildError::BuildpackFailed)?;
        ensure_within(&self.layers_root, &bp_layers)?;

        logger.debug("Processing layers");
        let layers = process_layers(&bp_layers, &self.layers_root, &el.id)?;
        logger.debug("Updating environment");
        apply_build_env(&mut self.env, &layers, bp.api)?;
        logger.debug("Reading output files");
        let info = &bp.descriptor.buildpack;
        let producer = Producer {
            id: &info.id,
            version: &info.version,
            api: bp.api,
            sbom_formats: &info.sbom_formats,
        };
        Ok(outputs::read(
            &bp_layers,
            &self.layers_root,
            &producer,
            plan,
            &layers,
            logger,
        )?)
    }

    /// Reads `<buildpacks>/<escaped id>/<version>/buildpack.toml`; its API must be
    /// supported (the reference trusts it blindly).
    pub(crate) fn locate(&self, el: &GroupElement) -> Result<Located, StepError> {
        let dir = std::path::absolute(
            self.inputs
                .buildpacks_dir
                .join(el.escaped_id())
                .join(&el.version),
        )
        .map_err(StepError::io("abs", &self.inputs.buildpacks_dir))?;
        let descriptor = BuildpackDescriptor::read_dir(&dir)?;
        let api = descriptor
            .api
            .parse()
            .ok()
            .filter(|v| BUILDPACK_APIS.is_supported(v))
            .ok_or_else(|| StepError::DescriptorApi {
                name: el.display_name(),
                api: descriptor.api.clone(),
            })?;
        Ok(Located {
            dir,
            descriptor,
            api,
        })
    }

    /// The environment of `/bin/build`: the build environment with the user's platform
    /// env (unless `clear-env`) and the operator's build-config env, then the `CNB_*`
    /// variables for the buildpack's API.
    fn env_for(
        &self,
        bp: &Located,
        bp_layers: &Path,
        plan_path: &Path,
    ) -> Result<Vec<(OsString, OsString)>, StepError> {
        let platform =
            (!bp.descriptor.buildpack.clear_env).then_some(self.inputs.platform_dir.as_path());
        let mut env = self
            .env
            .with_platform_and_build_config(platform, Some(&self.inputs.build_config_dir))?;
        env.set("CNB_BUILDPACK_DIR", &bp.dir);
        if bp.api.at_least(0, 8) {
            env.set("CNB_PLATFORM_DIR", &self.inputs.platform_dir);
            env.set("CNB_BP_PLAN_PATH", plan_path);
            env.set("CNB_LAYERS_DIR", bp_layers);
        }
        if bp.api.at_least(0, 10) {
            for (k, v) in &self.target_env {
                env.set(k, v);
            }
        }
        if bp.api.at_least(0, 12) && !self.inputs.exec_env.is_empty() {
            env.set("CNB_EXEC_ENV", &self.inputs.exec_env);
        }
        Ok(env.to_vec())
    }
}

//! Running one module's detection: `/bin/detect` with the detect environment and a
//! fresh plan file, or an extension's pre-populated `detect/plan.toml`, then the plan
//! parsed and validated per the module's kind.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use buildpack_api::descriptor::ModuleKind;
use buildpack_api::env::Env;
use buildpack_api::group::GroupElement;
use buildpack_api::plan::BuildPlan;

use super::order::{DetectRunner, Module};
use super::resolve::{CODE_LIFECYCLE_ERROR, CODE_PASS, DetectRun};
use crate::exec::{ProgramExit, run_captured};
use buildpack_api::goerr::path_error;
use std::io::ErrorKind;

/// Shared settings of every detect run.
pub(crate) struct Runner {
    /// `<app>`: the working directory.
    pub app_dir: PathBuf,
    /// `<platform>`.
    pub platform_dir: PathBuf,
    /// `<build-config>`.
    pub build_config_dir: PathBuf,
    /// The filtered base environment.
    pub base_env: Env,
    /// `CNB_TARGET_*` for Buildpack API >= 0.10.
    pub target_env: Vec<(String, String)>,
    /// `CNB_EXEC_ENV` for Buildpack API >= 0.12 (empty: not set).
    pub exec_env: String,
}

fn lifecycle_error(err: impl ToString, output: Vec<u8>) -> DetectRun {
    DetectRun {
        code: CODE_LIFECYCLE_ERROR,
        output,
        err: Some(err.to_string()),
        options: Vec::new(),
    }
}

impl Runner {
    /// The environment `/bin/detect` of `module` runs with.
    fn env_for(
        &self,
        el: &GroupElement,
        module: &Module,
        plan_path: &Path,
    ) -> Result<Vec<(OsString, OsString)>, String> {
        let platform = (!module.clear_env).then_some(self.platform_dir.as_path());
        let env = self
            .base_env
            .with_platform_and_build_config(platform, Some(&self.build_config_dir))
            .map_err(|e| e.to_string())?;
        let mut vars = env.to_vec();
        let dir_key = if el.extension {
            "CNB_EXTENSION_DIR"
        } else {
            "CNB_BUILDPACK_DIR"
        };
        let mut add = |k: &str, v: &OsString| vars.push((k.into(), v.clone()));
        add(dir_key, &module.dir.clone().into_os_string());
        if module.api.at_least(0, 8) {
            add(
                "CNB_PLATFORM_DIR",
                &self.platform_dir.clone().into_os_string(),
            );
            add("CNB_BUILD_PLAN_PATH", &plan_path.as_os_str().to_os_string());
        }
        if module.api.at_least(0, 10) {
            for (k, v) in &self.target_env {
                add(k, &v.into());
            }
        }
        if module.api.at_least(0, 12) && !self.exec_env.is_empty() {
            add("CNB_EXEC_ENV", &self.exec_env.clone().into());
        }
        Ok(vars)
    }

    fn run_detect(
        &self,
        el: &GroupElement,
        module: &Module,
    ) -> Result<(DetectRun, String), DetectRun> {
        let plan_dir = tempfile::Builder::new()
            .prefix("plan.")
            .tempdir()
            .map_err(|e| {
                lifecycle_error(
                    format!("mkdir temp plan dir: {}", buildpack_api::goerr::text(&e)),
                    Vec::new(),
                )
            })?;
        let plan_path = plan_dir.path().join("plan.toml");
        std::fs::write(&plan_path, b"")
            .map_err(|e| lifecycle_error(path_error("open", &plan_path, &e), Vec::new()))?;
        let env = self
            .env_for(el, module, &plan_path)
            .map_err(|e| lifecycle_error(e, Vec::new()))?;
        let captured = run_captured(
            &module.dir.join("bin").join("detect"),
            &[
                self.platform_dir.clone().into_os_string(),
                plan_path.clone().into_os_string(),
            ],
            &self.app_dir,
            &env,
        );
        // As in the reference, an exit status (or a signal, as -1) is the verdict; only a
        // program that could not run at all carries an error message.
        let (code, err) = match captured.exit {
            Ok(()) => (CODE_PASS, None),
            Err(ProgramExit::Status(code)) => (code, None),
            Err(ProgramExit::Signal { .. }) => (CODE_LIFECYCLE_ERROR, None),
            Err(e) => (CODE_LIFECYCLE_ERROR, Some(e.to_string())),
        };
        let run = DetectRun {
            code,
            output: captured.output,
            err,
            options: Vec::new(),
        };
        if run.code != CODE_PASS {
            return Err(run);
        }
        let text = std::fs::read_to_string(&plan_path)
            .map_err(|e| lifecycle_error(path_error("open", &plan_path, &e), run.output.clone()))?;
        Ok((run, text))
    }
}

/// Whether an extension ships `bin/detect` (only "does not exist" means it does not).
fn has_detect(module: &Module) -> bool {
    !matches!(
        std::fs::symlink_metadata(module.dir.join("bin").join("detect")),
        Err(e) if e.kind() == ErrorKind::NotFound
    )
}

impl DetectRunner for Runner {
    fn detect(&self, el: &GroupElement, module: &Module) -> DetectRun {
        let (mut run, text) = if el.extension && !has_detect(module) {
            let prepopulated = module.dir.join("detect").join("plan.toml");
            match std::fs::read_to_string(&prepopulated) {
                Ok(t) => (DetectRun::default(), t),
                Err(e) if e.kind() == ErrorKind::NotFound => (DetectRun::default(), String::new()),
                Err(e) => {
                    return lifecycle_error(path_error("open", &prepopulated, &e), Vec::new());
                }
            }
        } else {
            match self.run_detect(el, module) {
                Ok(r) => r,
                Err(r) => return r,
            }
        };
        let kind = if el.extension {
            ModuleKind::Extension
        } else {
            ModuleKind::Buildpack
        };
        match BuildPlan::parse(&text, kind, &el.id) {
            Ok(plan) => {
                run.options = plan.alternatives();
                run
            }
            Err(e) => lifecycle_error(e, run.output),
        }
    }
}

//! The detect phase: pick the first group of the order whose buildpacks pass detection
//! and whose build plan resolves, then write group.toml and plan.toml (and run the
//! extensions' generate step when the group has extensions).

mod logbuf;
mod order;
mod resolve;
mod run;
mod store;

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use buildpack_api::api::ApiVersion;
use buildpack_api::env::Env;
use buildpack_api::group::{Group, GroupElement, Order};
use platform_api::exit::{self, ExitCode};
use platform_api::experimental::{
    ExperimentalDisabled, ExperimentalMode, FEATURE_DOCKERFILES, Guard,
};
use platform_api::flags::DeprecationMode;
use platform_api::module_api::BuildpackApiError;

use crate::generate::{self, GenerateError, GenerateInputs};
use crate::log::Logger;
use crate::target::OS_RELEASE;
use order::{ModuleStore, WalkError, Walker};
use platform_api::files::{
    analyzed::Analyzed,
    group,
    order::OrderFile,
    plan::{Plan, PlanEntry},
    system::System,
};
use run::Runner;
use store::DirStore;

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
    /// `CNB_DEPRECATION_MODE` (for deprecated Buildpack APIs).
    pub deprecation_mode: DeprecationMode,
    /// The lifecycle's own environment, from which buildpack environments are derived.
    pub environ: Vec<(OsString, OsString)>,
}

/// Why detection failed. `Display` is the whole message the reference prints after
/// `ERROR: `; [`DetectError::exit_code`] is the specification's exit code.
#[derive(Debug, thiserror::Error)]
pub enum DetectError {
    /// Reading the order, system or analyzed file, or looking up an ordered module, failed.
    #[error("failed to initialize detector: {0}")]
    Init(String),
    /// A module declares a Buildpack API this lifecycle does not implement (exit 12).
    #[error(transparent)]
    BuildpackApi(#[from] BuildpackApiError),
    /// Extensions on Platform API < 0.13 without experimental mode.
    #[error(transparent)]
    Experimental(#[from] platform_api::experimental::ExperimentalDisabled),
    /// Every group failed; `errored` when some buildpack errored.
    #[error("failed to detect: {}", if *errored { "buildpack(s) failed with err" } else { "no buildpacks participating" })]
    NoGroup {
        /// Whether a buildpack errored (exit 21) rather than opting out (exit 20).
        errored: bool,
    },
    /// Another detection error (exit 22), e.g. a composite's child missing.
    #[error("failed to detect: {0}")]
    Other(String),
    /// The extensions' generate step failed (exit 91 or 92, or 1 before it starts).
    #[error(transparent)]
    Generate(#[from] GenerateError),
    /// Writing group.toml, plan.toml or analyzed.toml failed.
    #[error("{0}")]
    Write(String),
}

impl DetectError {
    /// The exit code the detector exits with.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            DetectError::Init(_) | DetectError::Experimental(_) | DetectError::Write(_) => {
                exit::FAILED
            }
            DetectError::BuildpackApi(e) => e.exit_code(),
            DetectError::NoGroup { errored: false } => exit::DETECT_FAIL,
            DetectError::NoGroup { errored: true } => exit::DETECT_BUILDPACK_ERROR,
            DetectError::Other(_) => exit::DETECT_ERROR,
            DetectError::Generate(e) => e.exit_code(),
        }
    }

    pub(crate) fn descriptor(e: buildpack_api::descriptor::DescriptorError) -> Self {
        DetectError::Other(e.to_string())
    }
}

/// Runs detection and writes `<group>` and `<plan>`.
pub fn run(inputs: &DetectInputs, logger: &Logger) -> Result<(), DetectError> {
    let analyzed = match Analyzed::read_optional(&inputs.analyzed_path) {
        Ok(Some(a)) => a,
        Ok(None) => {
            logger.warn(format!(
                "No analyzed metadata found at path {:?}",
                inputs.analyzed_path
            ));
            Analyzed::default()
        }
        Err(e) => return Err(DetectError::Init(e.to_string())),
    };
    let order_file = OrderFile::read(&inputs.order_path)
        .map_err(|e| DetectError::Init(format!("reading order: {e}")))?;
    let mut order = order_file.order;
    let extensions = order_file.order_extensions;
    if let Some(system_path) = &inputs.system_path {
        let system = System::read_optional(system_path)
            .map_err(|e| DetectError::Init(format!("reading system: {e}")))?
            .unwrap_or_default();
        order = merge_system(order, &system, logger);
    }
    let store = DirStore {
        buildpacks_dir: inputs.buildpacks_dir.clone(),
        extensions_dir: inputs.extensions_dir.clone(),
        deprecation_mode: inputs.deprecation_mode,
    };
    verify_order(&store, &order, &extensions, logger)?;
    if !extensions.is_empty() && inputs.platform_api.less_than(0, 13) {
        guard_experimental(inputs.experimental_mode, FEATURE_DOCKERFILES, logger)?;
    }

    let target =
        crate::target::completed(&analyzed.run_image_target(), Path::new(OS_RELEASE), logger);
    let runner = Runner {
        app_dir: inputs.app_dir.clone(),
        platform_dir: inputs.platform_dir.clone(),
        build_config_dir: inputs.build_config_dir.clone(),
        base_env: Env::for_build(inputs.environ.iter().cloned()),
        target_env: crate::target::env_vars(&target),
        exec_env: inputs.exec_env.clone(),
    };
    let mut walker = Walker::new(
        &store,
        &runner,
        inputs.platform_api,
        runner.exec_env.clone(),
        target,
        logger,
    );
    let result = walker.walk(order::with_extensions(order, extensions));
    let log = std::mem::take(&mut walker.log);
    log.flush(logger, result.is_err());
    let (group, entries) = match result {
        Ok(found) => found,
        Err(WalkError::Fatal(e)) => return Err(e),
        Err(WalkError::NoGroup { errored }) => {
            logger.error("No buildpack groups passed detection.");
            if !errored {
                logger.error("Please check that you are running against the correct path.");
            }
            return Err(DetectError::NoGroup { errored });
        }
    };
    let (extensions, buildpacks): (Vec<_>, Vec<_>) = group.into_iter().partition(|e| e.extension);
    let group = Group {
        group: buildpacks,
        group_extensions: extensions
            .into_iter()
            .map(|e| GroupElement {
                extension: false,
                ..e
            })
            .collect(),
    };
    group::write(&inputs.group_path, &group).map_err(|e| DetectError::Write(e.to_string()))?;
    let plan = Plan {
        entries: entries
            .into_iter()
            .map(|e| PlanEntry {
                providers: e.providers,
                requires: e.requires,
            })
            .collect(),
    };
    plan.write(&inputs.plan_path)
        .map_err(|e| DetectError::Write(e.to_string()))?;
    if !group.group_extensions.is_empty() {
        let run = generate::read_run(&inputs.run_path, logger)?;
        let generate_inputs = GenerateInputs {
            platform_api: inputs.platform_api,
            app_dir: inputs.app_dir.clone(),
            platform_dir: inputs.platform_dir.clone(),
            build_config_dir: inputs.build_config_dir.clone(),
            extensions_dir: inputs.extensions_dir.clone(),
            generated_dir: inputs.generated_dir.clone(),
            environ: inputs.environ.clone(),
            target_env: runner.target_env.clone(),
        };
        let result = generate::generate(
            &generate_inputs,
            &group.group_extensions,
            &plan,
            &analyzed,
            &run,
            logger,
        )?;
        result
            .analyzed
            .write(&inputs.analyzed_path)
            .map_err(|e| DetectError::Write(e.to_string()))?;
        result
            .plan
            .write(&inputs.plan_path)
            .map_err(|e| DetectError::Write(e.to_string()))?;
    }
    Ok(())
}

/// Prints the experimental-feature guard's verdict and fails when it denies.
fn guard_experimental(
    mode: ExperimentalMode,
    feature: &str,
    logger: &Logger,
) -> Result<(), DetectError> {
    match mode.guard(feature) {
        Guard::Allow => Ok(()),
        Guard::Warn(msg) => {
            logger.warn(msg);
            Ok(())
        }
        Guard::Deny(msg) => {
            logger.error(msg);
            Err(ExperimentalDisabled.into())
        }
    }
}

/// Looks up every element of the order (not nested composites) and checks its API.
fn verify_order(
    store: &DirStore,
    order: &Order,
    extensions: &Order,
    logger: &Logger,
) -> Result<(), DetectError> {
    // order.toml already marks the elements of `[[order-extensions]]` as extensions.
    for el in order.iter().chain(extensions).flat_map(|g| &g.group) {
        let module = store.lookup(el).map_err(|e| match e {
            DetectError::Other(msg) => DetectError::Init(msg),
            other => other,
        })?;
        if let Some(warning) = module.api_warning {
            logger.warn(warning);
        }
    }
    Ok(())
}

/// Platform API 0.15 system buildpacks: `pre` prepended and `post` appended to every
/// group, each skipped where the group already has its ID.
fn merge_system(order: Order, system: &System, logger: &Logger) -> Order {
    let (pre, post) = (&system.pre.buildpacks, &system.post.buildpacks);
    if pre.is_empty() && post.is_empty() {
        return order;
    }
    let missing = |list: &[GroupElement], group: &[GroupElement]| -> Vec<GroupElement> {
        list.iter()
            .filter(|s| !group.iter().any(|g| g.id == s.id))
            .map(|s| GroupElement {
                id: s.id.clone(),
                version: s.version.clone(),
                ..GroupElement::default()
            })
            .collect()
    };
    order
        .into_iter()
        .map(|g| {
            let before = missing(pre, &g.group);
            let after = missing(post, &g.group);
            if !before.is_empty() {
                logger.debug(format!(
                    "Prepending {} system buildpack(s) to group",
                    before.len()
                ));
            }
            if !after.is_empty() {
                logger.debug(format!(
                    "Appending {} system buildpack(s) to group",
                    after.len()
                ));
            }
            Group {
                group: before.into_iter().chain(g.group).chain(after).collect(),
                group_extensions: g.group_extensions,
            }
        })
        .collect()
}

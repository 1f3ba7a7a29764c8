//! Every input of every phase (`LifecycleInputs`), filled from the environment and
//! defaults, overridden by flags and positional arguments, then resolved: `<layers>`
//! placeholders substituted, directories made absolute, and each phase's checks run.

use std::path::Path;

use super::duration::GoDuration;
use super::env::Environment;
use super::flagset::{FlagKind, FlagValue};
use super::phase::Phase;
use super::strconv;
use super::table::{
    FALLBACK_ORDER_PATH, INPUTS, InputDefault, InputRow, LAYERS_ORDER_PATH, PLACEHOLDER_LAYERS,
};
use crate::api::ApiVersion;
use crate::experimental::ExperimentalMode;

/// The Rust type holding an input of each flag kind.
macro_rules! kind_type {
    (Bool) => { bool };
    (Str) => { String };
    (Int) => { i64 };
    (Duration) => { GoDuration };
    (List) => { Vec<String> };
}

/// Declares [`Input`] and the matching fields of [`LifecycleInputs`] from one list.
macro_rules! lifecycle_inputs {
    ($( $(#[doc = $doc:literal])* $variant:ident => $field:ident : $kind:ident, )*) => {
        /// Names one input of [`LifecycleInputs`] (what a flag sets).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Input {
            $( $(#[doc = $doc])* $variant, )*
        }

        /// Every platform input of every phase, as the reference's `LifecycleInputs`.
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct LifecycleInputs {
            /// The Platform API requested through `CNB_PLATFORM_API`.
            pub platform_api: ApiVersion,
            /// `CNB_EXPERIMENTAL_MODE` (environment only).
            pub experimental_mode: ExperimentalMode,
            $( $(#[doc = $doc])* pub $field: kind_type!($kind), )*
            /// `CNB_RUN_IMAGE` as the environment gave it (the exporter and rebaser tell a
            /// `-run-image` flag from the variable with it).
            env_run_image: String,
        }

        impl LifecycleInputs {
            /// Inputs with zero values everywhere.
            fn zero(platform_api: ApiVersion) -> Self {
                Self {
                    platform_api,
                    experimental_mode: ExperimentalMode::Error,
                    $( $field: Default::default(), )*
                    env_run_image: String::new(),
                }
            }

            /// The current value of `input`.
            pub fn get(&self, input: Input) -> FlagValue {
                match input {
                    $( Input::$variant => FlagValue::$kind(self.$field.clone()), )*
                }
            }

            /// Sets `input`; a value of another kind than the input's is ignored (values
            /// always come from [`Self::get`] of the same input).
            pub(super) fn set(&mut self, input: Input, value: FlagValue) {
                match (input, value) {
                    $( (Input::$variant, FlagValue::$kind(v)) => self.$field = v, )*
                    _ => {}
                }
            }
        }
    };
}

lifecycle_inputs! {
    /// `-analyzed`: path of analyzed.toml.
    AnalyzedPath => analyzed_path: Str,
    /// `-app`: the application directory.
    AppDir => app_dir: Str,
    /// `-build-config`: the operator's build config directory.
    BuildConfigDir => build_config_dir: Str,
    /// `-build-image`: the build image reference (extensions).
    BuildImageRef => build_image_ref: Str,
    /// `-buildpacks`: the buildpack store.
    BuildpacksDir => buildpacks_dir: Str,
    /// `-cache-dir`: the volume cache.
    CacheDir => cache_dir: Str,
    /// `-cache-image`: the registry cache image.
    CacheImageRef => cache_image_ref: Str,
    /// `-process-type`: the default process type.
    DefaultProcessType => default_process_type: Str,
    /// `-image`: the deprecated run image flag.
    DeprecatedRunImageRef => deprecated_run_image_ref: Str,
    /// `CNB_EXEC_ENV`: the target execution environment.
    ExecEnv => exec_env: Str,
    /// `-kind`: the kind of image the extender extends (`build` or `run`).
    ExtendKind => extend_kind: Str,
    /// `-extended`: the extender's output directory.
    ExtendedDir => extended_dir: Str,
    /// `-extensions`: the extension store.
    ExtensionsDir => extensions_dir: Str,
    /// `-generated`: output of the extensions' generate step.
    GeneratedDir => generated_dir: Str,
    /// `-group`: path of group.toml.
    GroupPath => group_path: Str,
    /// The kaniko directory (fixed).
    KanikoDir => kaniko_dir: Str,
    /// `-launch-cache`: the launch cache directory (daemon exports).
    LaunchCacheDir => launch_cache_dir: Str,
    /// `-launcher`: the launcher binary.
    LauncherPath => launcher_path: Str,
    /// `-launcher-sbom`: the directory of the lifecycle's own SBOM files.
    LauncherSbomDir => launcher_sbom_dir: Str,
    /// `-layers`: the layers directory.
    LayersDir => layers_dir: Str,
    /// `-layout-dir`: root of OCI layout images.
    LayoutDir => layout_dir: Str,
    /// `-log-level`: the log level text (validated by the caller).
    LogLevel => log_level: Str,
    /// `-order`: path of order.toml.
    OrderPath => order_path: Str,
    /// The output image (first positional argument).
    OutputImageRef => output_image_ref: Str,
    /// `-plan`: path of plan.toml.
    PlanPath => plan_path: Str,
    /// `-platform`: the platform directory.
    PlatformDir => platform_dir: Str,
    /// `-previous-image`: the image to reuse layers from.
    PreviousImageRef => previous_image_ref: Str,
    /// `-project-metadata`: path of project-metadata.toml.
    ProjectMetadataPath => project_metadata_path: Str,
    /// `-report`: path of report.toml.
    ReportPath => report_path: Str,
    /// `-run-image`: the run image reference.
    RunImageRef => run_image_ref: Str,
    /// `-run`: path of run.toml.
    RunPath => run_path: Str,
    /// `-stack`: path of the deprecated stack.toml.
    StackPath => stack_path: Str,
    /// `-system`: path of system.toml.
    SystemPath => system_path: Str,
    /// `-uid`: the build user's UID.
    Uid => uid: Int,
    /// `-gid`: the build user's GID.
    Gid => gid: Int,
    /// `-force`: rebase even when unsafe.
    ForceRebase => force_rebase: Bool,
    /// `-no-color`: disable colored output.
    NoColor => no_color: Bool,
    /// `-parallel`: export image and cache concurrently.
    ParallelExport => parallel_export: Bool,
    /// `-skip-layers` / `-skip-restore`: ignore layers of the previous image.
    SkipLayers => skip_layers: Bool,
    /// `-daemon`: use the Docker daemon instead of a registry.
    UseDaemon => use_daemon: Bool,
    /// `-layout`: use OCI layout directories instead of a registry.
    UseLayout => use_layout: Bool,
    /// `-tag` (or the positional tags of the exporter and rebaser): extra output tags.
    AdditionalTags => additional_tags: List,
    /// `-kaniko-cache-ttl`: how long kaniko keeps cached layers.
    KanikoCacheTtl => kaniko_cache_ttl: Duration,
    /// `-insecure-registry`: registries reached over plain HTTP.
    InsecureRegistries => insecure_registries: List,
}

/// Inputs holding a path that defaults inside `<layers>`.
const PLACEHOLDER_INPUTS: [Input; 8] = [
    Input::AnalyzedPath,
    Input::ExtendedDir,
    Input::GeneratedDir,
    Input::GroupPath,
    Input::OrderPath,
    Input::PlanPath,
    Input::ProjectMetadataPath,
    Input::ReportPath,
];

/// Inputs naming a directory, made absolute during resolution (file paths stay as given).
const DIRECTORY_INPUTS: [Input; 10] = [
    Input::AppDir,
    Input::BuildConfigDir,
    Input::BuildpacksDir,
    Input::CacheDir,
    Input::ExtensionsDir,
    Input::GeneratedDir,
    Input::KanikoDir,
    Input::LaunchCacheDir,
    Input::LayersDir,
    Input::PlatformDir,
];

/// Why the positional arguments do not fit the phase (reported as
/// `failed to parse arguments: <this>`, exit 3).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArgsError {
    /// Analyzer and creator take exactly one image.
    #[error("received {0} arguments, but expected 1")]
    ExpectedOne(usize),
    /// Detector, builder and extender take none.
    #[error("received unexpected arguments")]
    UnexpectedArguments,
    /// The restorer takes none (and words it so).
    #[error("received unexpected Args")]
    UnexpectedArgs,
    /// Exporter and rebaser take one image and optional extra tags.
    #[error("at least one image argument is required")]
    ImageRequired,
}

/// Why resolved inputs are invalid (reported as `failed to resolve inputs: <this>`,
/// exit 3).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    /// An empty output image.
    #[error("image argument is required")]
    OutputImageRequired,
    /// Both `-run-image` and the deprecated `-image`.
    #[error("supply only one of -run-image or (deprecated) -image")]
    SupplyOnlyOneRunImage,
    /// The exporter takes its run image from analyzed.toml.
    #[error("-run-image is unsupported")]
    RunImageUnsupported,
    /// The exporter takes its run image from analyzed.toml.
    #[error("-image is unsupported")]
    ImageUnsupported,
    /// A relative directory with no working directory to resolve it against.
    #[error("getwd: the working directory is unavailable")]
    NoWorkingDirectory,
}

/// A warning produced while resolving inputs (the caller logs it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ResolveWarning {
    /// Neither `-cache-dir` nor `-cache-image`.
    #[error("No cached data will be used, no cache specified.")]
    NoCache,
    /// `-launch-cache` without `-daemon`.
    #[error("Ignoring -launch-cache, only intended for use with -daemon")]
    IgnoringLaunchCache,
    /// `-parallel` without a cache.
    #[error(
        "Parallel export has been enabled, but it has not taken effect because no cache has been specified."
    )]
    ParallelWithoutCache,
}

impl LifecycleInputs {
    /// Inputs as the environment and the defaults give them, before any flag.
    pub fn from_env(platform_api: ApiVersion, env: &Environment) -> Self {
        let mut inputs = Self::zero(platform_api);
        for row in INPUTS {
            let kind = inputs.get(row.input).kind();
            inputs.set(row.input, value_from_env(kind, row, env));
        }
        inputs.experimental_mode =
            ExperimentalMode::from_env_value(env.get("CNB_EXPERIMENTAL_MODE"));
        inputs.env_run_image = env.get("CNB_RUN_IMAGE").to_string();
        inputs
    }

    /// Takes the positional arguments left after the flags, as `phase` expects them.
    pub fn take_positionals(&mut self, phase: Phase, args: &[String]) -> Result<(), ArgsError> {
        match phase {
            Phase::Analyze | Phase::Create => match args {
                [image] => self.output_image_ref = image.clone(),
                _ => return Err(ArgsError::ExpectedOne(args.len())),
            },
            Phase::Detect | Phase::Build | Phase::Extend if !args.is_empty() => {
                return Err(ArgsError::UnexpectedArguments);
            }
            Phase::Restore if !args.is_empty() => return Err(ArgsError::UnexpectedArgs),
            Phase::Export | Phase::Rebase => {
                let (image, tags) = args.split_first().ok_or(ArgsError::ImageRequired)?;
                self.output_image_ref = image.clone();
                self.additional_tags = tags.iter().filter(|t| !t.is_empty()).cloned().collect();
            }
            Phase::Detect | Phase::Build | Phase::Extend | Phase::Restore => {}
        }
        Ok(())
    }

    /// Resolves the inputs for `phase`: substitutes `<layers>` (falling back to
    /// `/cnb/order.toml` when `<layers>/order.toml` does not exist), makes directories
    /// absolute against `cwd`, and runs the phase's checks that need no image access
    /// (image references and run-image selection are left to the phase).
    pub fn resolve(
        &mut self,
        phase: Phase,
        cwd: Option<&Path>,
    ) -> Result<Vec<ResolveWarning>, ResolveError> {
        self.substitute_layers(cwd);
        self.absolutize_directories(cwd)?;
        let mut warnings = Vec::new();
        match phase {
            Phase::Analyze => {
                self.require_output_image()?;
                self.default_previous_image();
                self.check_launch_cache(&mut warnings);
                self.check_parallel_export(&mut warnings);
            }
            Phase::Create => {
                self.require_output_image()?;
                self.default_previous_image();
                self.take_deprecated_run_image()?;
                self.check_cache(&mut warnings);
                self.check_launch_cache(&mut warnings);
                self.check_parallel_export(&mut warnings);
            }
            Phase::Export => {
                self.require_output_image()?;
                self.reject_run_image_flags()?;
                self.check_cache(&mut warnings);
                self.check_launch_cache(&mut warnings);
            }
            Phase::Rebase => {
                self.require_output_image()?;
                self.take_deprecated_run_image()?;
            }
            Phase::Restore => self.check_cache(&mut warnings),
            Phase::Detect | Phase::Build | Phase::Extend => {}
        }
        Ok(warnings)
    }

    fn substitute_layers(&mut self, cwd: Option<&Path>) {
        // With an empty layers directory the placeholder and its separator disappear.
        let from = if self.layers_dir.is_empty() {
            format!("{PLACEHOLDER_LAYERS}/")
        } else {
            PLACEHOLDER_LAYERS.to_string()
        };
        for input in PLACEHOLDER_INPUTS {
            let FlagValue::Str(old) = self.get(input) else {
                continue;
            };
            if !old.contains(PLACEHOLDER_LAYERS) {
                continue;
            }
            let new = old.replacen(&from, &self.layers_dir, 1);
            self.set(input, FlagValue::Str(new.clone()));
            if old == LAYERS_ORDER_PATH && !exists(cwd, &new) {
                self.order_path = FALLBACK_ORDER_PATH.to_string();
            }
        }
    }

    fn absolutize_directories(&mut self, cwd: Option<&Path>) -> Result<(), ResolveError> {
        for input in DIRECTORY_INPUTS {
            let FlagValue::Str(dir) = self.get(input) else {
                continue;
            };
            if dir.is_empty() {
                continue;
            }
            let abs = if dir.starts_with('/') {
                clean(&dir)
            } else {
                let cwd = cwd.ok_or(ResolveError::NoWorkingDirectory)?;
                clean(&format!("{}/{dir}", cwd.to_string_lossy()))
            };
            self.set(input, FlagValue::Str(abs));
        }
        Ok(())
    }

    fn require_output_image(&self) -> Result<(), ResolveError> {
        if self.output_image_ref.is_empty() {
            return Err(ResolveError::OutputImageRequired);
        }
        Ok(())
    }

    fn default_previous_image(&mut self) {
        if self.previous_image_ref.is_empty() {
            self.previous_image_ref = self.output_image_ref.clone();
        }
    }

    fn run_image_flag_given(&self) -> bool {
        !self.run_image_ref.is_empty() && self.run_image_ref != self.env_run_image
    }

    fn take_deprecated_run_image(&mut self) -> Result<(), ResolveError> {
        if self.deprecated_run_image_ref.is_empty() {
            return Ok(());
        }
        if self.run_image_ref != self.env_run_image {
            return Err(ResolveError::SupplyOnlyOneRunImage);
        }
        self.run_image_ref = self.deprecated_run_image_ref.clone();
        Ok(())
    }

    fn reject_run_image_flags(&self) -> Result<(), ResolveError> {
        if self.run_image_flag_given() {
            return Err(ResolveError::RunImageUnsupported);
        }
        if !self.deprecated_run_image_ref.is_empty() {
            return Err(ResolveError::ImageUnsupported);
        }
        Ok(())
    }

    fn has_cache(&self) -> bool {
        !self.cache_image_ref.is_empty() || !self.cache_dir.is_empty()
    }

    fn check_cache(&self, warnings: &mut Vec<ResolveWarning>) {
        if !self.has_cache() {
            warnings.push(ResolveWarning::NoCache);
        }
    }

    fn check_launch_cache(&self, warnings: &mut Vec<ResolveWarning>) {
        if !self.use_daemon && !self.launch_cache_dir.is_empty() {
            warnings.push(ResolveWarning::IgnoringLaunchCache);
        }
    }

    fn check_parallel_export(&self, warnings: &mut Vec<ResolveWarning>) {
        if self.parallel_export && !self.has_cache() {
            warnings.push(ResolveWarning::ParallelWithoutCache);
        }
    }
}

/// The value of one input from its environment variables, else its default.
fn value_from_env(kind: FlagKind, row: &InputRow, env: &Environment) -> FlagValue {
    let first = row.env.first().map_or("", |k| env.get(k));
    match kind {
        FlagKind::Bool => FlagValue::Bool(
            row.env
                .iter()
                .any(|k| strconv::parse_bool(env.get(k)) == Some(true)),
        ),
        FlagKind::Int => FlagValue::Int(strconv::atoi(first).unwrap_or(0)),
        FlagKind::String => FlagValue::Str(match (first, row.default) {
            ("", InputDefault::Text(default)) => default.to_string(),
            (value, _) => value.to_string(),
        }),
        FlagKind::Duration => {
            let default = match row.default {
                InputDefault::Duration(d) => d,
                _ => GoDuration::default(),
            };
            FlagValue::Duration(first.parse().unwrap_or(default))
        }
        FlagKind::List => FlagValue::List(
            first
                .split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
        ),
    }
}

fn exists(cwd: Option<&Path>, path: &str) -> bool {
    match cwd {
        Some(cwd) => cwd.join(path).exists(),
        None => Path::new(path).exists(),
    }
}

/// Go's `filepath.Clean` for Unix paths: the shortest lexically equivalent path.
fn clean(path: &str) -> String {
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|last| *last != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(minor: u64) -> ApiVersion {
        ApiVersion::new(0, minor)
    }

    fn strings(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn defaults_without_environment() {
        let i = LifecycleInputs::from_env(api(15), &Environment::new());
        assert_eq!(i.layers_dir, "/layers");
        assert_eq!(i.app_dir, "/workspace");
        assert_eq!(i.platform_dir, "/platform");
        assert_eq!(i.buildpacks_dir, "/cnb/buildpacks");
        assert_eq!(i.extensions_dir, "/cnb/extensions");
        assert_eq!(i.build_config_dir, "/cnb/build-config");
        assert_eq!(i.analyzed_path, "<layers>/analyzed.toml");
        assert_eq!(i.order_path, "<layers>/order.toml");
        assert_eq!(i.system_path, "/cnb/system.toml");
        assert_eq!(i.run_path, "/cnb/run.toml");
        assert_eq!(i.stack_path, "/cnb/stack.toml");
        assert_eq!(i.launcher_path, "/cnb/lifecycle/launcher");
        assert_eq!(i.launcher_sbom_dir, "/cnb/lifecycle");
        assert_eq!(i.log_level, "info");
        assert_eq!(i.exec_env, "production");
        assert_eq!(i.extend_kind, "build");
        assert_eq!(i.kaniko_dir, "/kaniko");
        assert_eq!(i.kaniko_cache_ttl, GoDuration::from_hours(336));
        assert_eq!((i.uid, i.gid), (0, 0));
        assert!(!i.use_daemon && !i.skip_layers && !i.no_color);
        assert!(i.insecure_registries.is_empty() && i.additional_tags.is_empty());
        assert_eq!(i.experimental_mode, ExperimentalMode::Error);
        assert_eq!(i.platform_api, api(15));
    }

    #[test]
    fn environment_overrides_defaults() {
        let env = Environment::new()
            .with("CNB_LAYERS_DIR", "/l")
            .with("CNB_GROUP_PATH", "./custom_group.toml")
            .with("CNB_USER_ID", "1000")
            .with("CNB_GROUP_ID", "x")
            .with("CNB_USE_DAEMON", "T")
            .with("CNB_NO_COLOR", "yes")
            .with("CNB_SKIP_RESTORE", "1")
            .with("CNB_INSECURE_REGISTRIES", "a.io,,b.io")
            .with("CNB_KANIKO_CACHE_TTL", "1h")
            .with("CNB_EXEC_ENV", "test")
            .with("CNB_EXPERIMENTAL_MODE", "warn")
            .with("CNB_APP_DIR", "");
        let i = LifecycleInputs::from_env(api(15), &env);
        assert_eq!(i.layers_dir, "/l");
        assert_eq!(i.group_path, "./custom_group.toml");
        assert_eq!(i.app_dir, "/workspace", "an empty variable is unset");
        assert_eq!((i.uid, i.gid), (1000, 0), "a bad integer reads as 0");
        assert!(i.use_daemon);
        assert!(!i.no_color, "a bad boolean reads as false");
        assert!(i.skip_layers, "CNB_SKIP_RESTORE also sets skip-layers");
        assert_eq!(i.insecure_registries, strings(&["a.io", "b.io"]));
        assert_eq!(i.kaniko_cache_ttl, GoDuration::from_hours(1));
        assert_eq!(i.exec_env, "test");
        assert_eq!(i.experimental_mode, ExperimentalMode::Warn);
        let bad_ttl = Environment::new().with("CNB_KANIKO_CACHE_TTL", "soon");
        let i = LifecycleInputs::from_env(api(15), &bad_ttl);
        assert_eq!(i.kaniko_cache_ttl, GoDuration::from_hours(336));
    }

    #[test]
    fn experimental_modes() {
        assert_eq!(
            ExperimentalMode::from_env_value(""),
            ExperimentalMode::Error
        );
        assert_eq!(
            ExperimentalMode::from_env_value("error"),
            ExperimentalMode::Error
        );
        assert_eq!(
            ExperimentalMode::from_env_value("quiet"),
            ExperimentalMode::Quiet
        );
        assert_eq!(
            ExperimentalMode::from_env_value("warn"),
            ExperimentalMode::Warn
        );
        assert_eq!(
            ExperimentalMode::from_env_value("bogus"),
            ExperimentalMode::Warn
        );
        assert_eq!(
            ExperimentalMode::from_env_value("silent"),
            ExperimentalMode::Quiet
        );
    }

    #[test]
    fn positionals_per_phase() {
        let mut i = LifecycleInputs::from_env(api(15), &Environment::new());
        let none: Vec<String> = vec![];
        let one = strings(&["img"]);
        let two = strings(&["img", "tag2"]);
        assert_eq!(
            i.take_positionals(Phase::Analyze, &none),
            Err(ArgsError::ExpectedOne(0))
        );
        assert_eq!(
            i.take_positionals(Phase::Create, &two),
            Err(ArgsError::ExpectedOne(2))
        );
        assert_eq!(
            ArgsError::ExpectedOne(0).to_string(),
            "received 0 arguments, but expected 1"
        );
        for p in [Phase::Detect, Phase::Build, Phase::Extend] {
            assert_eq!(
                i.take_positionals(p, &one),
                Err(ArgsError::UnexpectedArguments)
            );
            assert_eq!(i.take_positionals(p, &none), Ok(()));
        }
        assert_eq!(
            i.take_positionals(Phase::Restore, &one),
            Err(ArgsError::UnexpectedArgs)
        );
        assert_eq!(
            ArgsError::UnexpectedArgs.to_string(),
            "received unexpected Args"
        );
        for p in [Phase::Export, Phase::Rebase] {
            assert_eq!(i.take_positionals(p, &none), Err(ArgsError::ImageRequired));
        }
        i.take_positionals(Phase::Export, &strings(&["img", "", "t2"]))
            .unwrap();
        assert_eq!(i.output_image_ref, "img");
        assert_eq!(i.additional_tags, strings(&["t2"]));
        i.take_positionals(Phase::Analyze, &one).unwrap();
        assert_eq!(i.output_image_ref, "img");
    }

    #[test]
    fn layers_placeholder_and_order_fallback() {
        let dir = tempfile::tempdir().unwrap();
        let layers = dir.path().join("layers");
        std::fs::create_dir(&layers).unwrap();
        let env = Environment::new().with("CNB_LAYERS_DIR", layers.to_string_lossy());
        let l = layers.to_string_lossy().to_string();

        let mut i = LifecycleInputs::from_env(api(15), &env);
        i.resolve(Phase::Detect, Some(dir.path())).unwrap();
        assert_eq!(i.analyzed_path, format!("{l}/analyzed.toml"));
        assert_eq!(i.group_path, format!("{l}/group.toml"));
        assert_eq!(i.plan_path, format!("{l}/plan.toml"));
        assert_eq!(i.generated_dir, format!("{l}/generated"));
        assert_eq!(i.report_path, format!("{l}/report.toml"));
        assert_eq!(
            i.order_path, "/cnb/order.toml",
            "falls back when <layers>/order.toml is absent"
        );

        std::fs::write(layers.join("order.toml"), "").unwrap();
        let mut i = LifecycleInputs::from_env(api(15), &env);
        i.resolve(Phase::Detect, Some(dir.path())).unwrap();
        assert_eq!(i.order_path, format!("{l}/order.toml"));

        // An explicit order path is never replaced.
        let env2 = env.clone().with("CNB_ORDER_PATH", "/custom/order.toml");
        let mut i = LifecycleInputs::from_env(api(15), &env2);
        i.resolve(Phase::Detect, Some(dir.path())).unwrap();
        assert_eq!(i.order_path, "/custom/order.toml");
    }

    #[test]
    fn relative_layers_resolve_against_cwd() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("l")).unwrap();
        std::fs::write(dir.path().join("l/order.toml"), "").unwrap();
        let env = Environment::new()
            .with("CNB_LAYERS_DIR", "l")
            .with("CNB_APP_DIR", "./app/../src/")
            .with("CNB_PLATFORM_DIR", "/p//q/./r/..");
        let mut i = LifecycleInputs::from_env(api(15), &env);
        i.resolve(Phase::Detect, Some(dir.path())).unwrap();
        let cwd = dir.path().to_string_lossy().to_string();
        assert_eq!(i.layers_dir, format!("{cwd}/l"));
        assert_eq!(i.app_dir, format!("{cwd}/src"));
        assert_eq!(i.platform_dir, "/p/q");
        // File paths keep the relative form; directories become absolute.
        assert_eq!(i.group_path, "l/group.toml");
        assert_eq!(i.order_path, "l/order.toml", "found relative to cwd");
        assert_eq!(i.generated_dir, format!("{cwd}/l/generated"));

        let mut i = LifecycleInputs::from_env(api(15), &env);
        assert_eq!(
            i.resolve(Phase::Detect, None),
            Err(ResolveError::NoWorkingDirectory)
        );
    }

    #[test]
    fn empty_layers_drops_the_placeholder_separator() {
        let mut i = LifecycleInputs::from_env(api(15), &Environment::new());
        i.layers_dir = String::new();
        i.output_image_ref = "img".into();
        i.resolve(Phase::Rebase, Some(Path::new("/"))).unwrap();
        assert_eq!(i.report_path, "report.toml");
    }

    #[test]
    fn phase_checks() {
        let base = LifecycleInputs::from_env(api(15), &Environment::new());
        let cwd = Some(Path::new("/"));

        let mut i = base.clone();
        assert_eq!(
            i.resolve(Phase::Analyze, cwd),
            Err(ResolveError::OutputImageRequired)
        );

        let mut i = base.clone();
        i.output_image_ref = "img".into();
        i.launch_cache_dir = "/lc".into();
        i.parallel_export = true;
        let w = i.resolve(Phase::Analyze, cwd).unwrap();
        assert_eq!(
            w,
            [
                ResolveWarning::IgnoringLaunchCache,
                ResolveWarning::ParallelWithoutCache
            ]
        );
        assert_eq!(i.previous_image_ref, "img");

        let mut i = base.clone();
        assert_eq!(
            i.resolve(Phase::Restore, cwd).unwrap(),
            [ResolveWarning::NoCache]
        );
        assert_eq!(
            ResolveWarning::NoCache.to_string(),
            "No cached data will be used, no cache specified."
        );
        let mut i = base.clone();
        i.cache_dir = "/cache".into();
        assert!(i.resolve(Phase::Restore, cwd).unwrap().is_empty());

        let mut i = base.clone();
        i.output_image_ref = "img".into();
        i.run_image_ref = "run".into();
        assert_eq!(
            i.resolve(Phase::Export, cwd),
            Err(ResolveError::RunImageUnsupported)
        );
        let mut i = base.clone();
        i.output_image_ref = "img".into();
        i.deprecated_run_image_ref = "run".into();
        assert_eq!(
            i.resolve(Phase::Export, cwd),
            Err(ResolveError::ImageUnsupported)
        );

        // CNB_RUN_IMAGE alone is fine for the exporter.
        let env = Environment::new().with("CNB_RUN_IMAGE", "run");
        let mut i = LifecycleInputs::from_env(api(15), &env);
        i.output_image_ref = "img".into();
        i.cache_dir = "/c".into();
        assert_eq!(i.resolve(Phase::Export, cwd), Ok(vec![]));

        // Rebaser: -image is an alias of -run-image, but not both.
        let mut i = base.clone();
        i.output_image_ref = "img".into();
        i.deprecated_run_image_ref = "old".into();
        i.resolve(Phase::Rebase, cwd).unwrap();
        assert_eq!(i.run_image_ref, "old");
        let mut i = base.clone();
        i.output_image_ref = "img".into();
        i.deprecated_run_image_ref = "old".into();
        i.run_image_ref = "new".into();
        assert_eq!(
            i.resolve(Phase::Rebase, cwd),
            Err(ResolveError::SupplyOnlyOneRunImage)
        );
    }

    #[test]
    fn clean_is_lexical() {
        for (input, want) in [
            ("/a/b/../c", "/a/c"),
            ("/../a", "/a"),
            ("a/../..", ".."),
            ("a/./b/", "a/b"),
            ("", "."),
            ("/", "/"),
            ("//x//", "/x"),
        ] {
            assert_eq!(clean(input), want, "{input}");
        }
    }
}

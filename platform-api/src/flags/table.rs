//! The platform inputs as data: where each input comes from when no flag sets it
//! (environment variable, then default), and every flag of every phase with the Platform
//! API versions in which the phase defines it.

use super::duration::GoDuration;
use super::inputs::Input;
use super::phase::Phase::{self, Analyze, Build, Create, Detect, Export, Extend, Rebase, Restore};
use crate::api::ApiVersion;

/// The value an input takes when neither a flag nor its environment variables set it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputDefault {
    /// The zero value of its kind: `""`, `false`, `0` or an empty list.
    Zero,
    /// A text default; `<layers>` in it is replaced by the resolved layers directory.
    Text(&'static str),
    /// A duration default.
    Duration(GoDuration),
}

/// Where one input comes from besides the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputRow {
    /// The input.
    pub input: Input,
    /// Environment variables read for it. Booleans are true when any of them is a true
    /// `ParseBool` value; other kinds read only the first.
    pub env: &'static [&'static str],
    /// Its default.
    pub default: InputDefault,
}

/// The `<layers>` placeholder of defaults inside the layers directory.
pub const PLACEHOLDER_LAYERS: &str = "<layers>";
/// The default `-order` when the placeholder default does not exist.
pub const FALLBACK_ORDER_PATH: &str = "/cnb/order.toml";
/// The default order path, before falling back to [`FALLBACK_ORDER_PATH`].
pub const LAYERS_ORDER_PATH: &str = "<layers>/order.toml";

const fn row(input: Input, env: &'static [&'static str], default: InputDefault) -> InputRow {
    InputRow {
        input,
        env,
        default,
    }
}

const fn text(s: &'static str) -> InputDefault {
    InputDefault::Text(s)
}

const ZERO: InputDefault = InputDefault::Zero;

/// Every input with its environment variables and default, as the reference's
/// `NewLifecycleInputs` reads them.
pub const INPUTS: &[InputRow] = &[
    row(
        Input::AnalyzedPath,
        &["CNB_ANALYZED_PATH"],
        text("<layers>/analyzed.toml"),
    ),
    row(Input::AppDir, &["CNB_APP_DIR"], text("/workspace")),
    row(
        Input::BuildConfigDir,
        &["CNB_BUILD_CONFIG_DIR"],
        text("/cnb/build-config"),
    ),
    row(Input::BuildImageRef, &["CNB_BUILD_IMAGE"], ZERO),
    row(
        Input::BuildpacksDir,
        &["CNB_BUILDPACKS_DIR"],
        text("/cnb/buildpacks"),
    ),
    row(Input::CacheDir, &["CNB_CACHE_DIR"], ZERO),
    row(Input::CacheImageRef, &["CNB_CACHE_IMAGE"], ZERO),
    row(Input::DefaultProcessType, &["CNB_PROCESS_TYPE"], ZERO),
    row(Input::DeprecatedRunImageRef, &[], ZERO),
    row(Input::ExecEnv, &["CNB_EXEC_ENV"], text("production")),
    row(Input::ExtendKind, &["CNB_EXTEND_KIND"], text("build")),
    row(
        Input::ExtendedDir,
        &["CNB_EXTENDED_DIR"],
        text("<layers>/extended"),
    ),
    row(
        Input::ExtensionsDir,
        &["CNB_EXTENSIONS_DIR"],
        text("/cnb/extensions"),
    ),
    row(
        Input::GeneratedDir,
        &["CNB_GENERATED_DIR"],
        text("<layers>/generated"),
    ),
    row(
        Input::GroupPath,
        &["CNB_GROUP_PATH"],
        text("<layers>/group.toml"),
    ),
    row(Input::KanikoDir, &[], text("/kaniko")),
    row(Input::LaunchCacheDir, &["CNB_LAUNCH_CACHE_DIR"], ZERO),
    row(Input::LauncherPath, &[], text("/cnb/lifecycle/launcher")),
    row(Input::LauncherSbomDir, &[], text("/cnb/lifecycle")),
    row(Input::LayersDir, &["CNB_LAYERS_DIR"], text("/layers")),
    row(Input::LayoutDir, &["CNB_LAYOUT_DIR"], ZERO),
    row(Input::LogLevel, &["CNB_LOG_LEVEL"], text("info")),
    row(
        Input::OrderPath,
        &["CNB_ORDER_PATH"],
        text(LAYERS_ORDER_PATH),
    ),
    row(Input::OutputImageRef, &[], ZERO),
    row(
        Input::PlanPath,
        &["CNB_PLAN_PATH"],
        text("<layers>/plan.toml"),
    ),
    row(Input::PlatformDir, &["CNB_PLATFORM_DIR"], text("/platform")),
    row(Input::PreviousImageRef, &["CNB_PREVIOUS_IMAGE"], ZERO),
    row(
        Input::ProjectMetadataPath,
        &["CNB_PROJECT_METADATA_PATH"],
        text("<layers>/project-metadata.toml"),
    ),
    row(
        Input::ReportPath,
        &["CNB_REPORT_PATH"],
        text("<layers>/report.toml"),
    ),
    row(Input::RunImageRef, &["CNB_RUN_IMAGE"], ZERO),
    row(Input::RunPath, &["CNB_RUN_PATH"], text("/cnb/run.toml")),
    row(
        Input::StackPath,
        &["CNB_STACK_PATH"],
        text("/cnb/stack.toml"),
    ),
    row(
        Input::SystemPath,
        &["CNB_SYSTEM_PATH"],
        text("/cnb/system.toml"),
    ),
    row(Input::Uid, &["CNB_USER_ID"], ZERO),
    row(Input::Gid, &["CNB_GROUP_ID"], ZERO),
    row(Input::ForceRebase, &["CNB_FORCE_REBASE"], ZERO),
    row(Input::NoColor, &["CNB_NO_COLOR"], ZERO),
    row(Input::ParallelExport, &["CNB_PARALLEL_EXPORT"], ZERO),
    row(
        Input::SkipLayers,
        &["CNB_SKIP_LAYERS", "CNB_SKIP_RESTORE"],
        ZERO,
    ),
    row(Input::UseDaemon, &["CNB_USE_DAEMON"], ZERO),
    row(Input::UseLayout, &["CNB_USE_LAYOUT"], ZERO),
    row(Input::AdditionalTags, &[], ZERO),
    row(
        Input::KanikoCacheTtl,
        &["CNB_KANIKO_CACHE_TTL"],
        InputDefault::Duration(GoDuration::from_hours(14 * 24)),
    ),
    row(
        Input::InsecureRegistries,
        &["CNB_INSECURE_REGISTRIES"],
        ZERO,
    ),
];

/// The Platform API versions in which a phase defines a flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// Every supported version.
    Always,
    /// This version and newer.
    Since(ApiVersion),
    /// Versions older than this one.
    Before(ApiVersion),
}

impl Gate {
    /// Whether the flag exists at Platform API `api`.
    pub fn admits(self, api: ApiVersion) -> bool {
        match self {
            Gate::Always => true,
            Gate::Since(v) => api >= v,
            Gate::Before(v) => api < v,
        }
    }
}

/// One flag: its name, the input it sets, its usage text, and the phases defining it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlagRow {
    /// The name, without the leading dash.
    pub name: &'static str,
    /// The input it sets; its kind is the flag's kind.
    pub input: Input,
    /// The usage text printed by `-help`.
    pub usage: &'static str,
    /// The phases that define it, each with its Platform API gate.
    pub phases: &'static [(Phase, Gate)],
}

impl FlagRow {
    /// Whether `phase` defines this flag at Platform API `api`.
    pub fn defined_for(&self, phase: Phase, api: ApiVersion) -> bool {
        self.phases
            .iter()
            .any(|&(p, gate)| p == phase && gate.admits(api))
    }

    /// The input row giving this flag's environment variables and default.
    pub fn input_row(&self) -> Option<&'static InputRow> {
        INPUTS.iter().find(|r| r.input == self.input)
    }
}

/// The flags `phase` defines at Platform API `api` (besides `-version`).
pub fn flags_for(phase: Phase, api: ApiVersion) -> impl Iterator<Item = &'static FlagRow> {
    FLAGS.iter().filter(move |f| f.defined_for(phase, api))
}

const ALWAYS: Gate = Gate::Always;

const fn since(minor: u64) -> Gate {
    Gate::Since(ApiVersion::new(0, minor))
}

const fn before(minor: u64) -> Gate {
    Gate::Before(ApiVersion::new(0, minor))
}

const fn flag(
    name: &'static str,
    input: Input,
    usage: &'static str,
    phases: &'static [(Phase, Gate)],
) -> FlagRow {
    FlagRow {
        name,
        input,
        usage,
        phases,
    }
}

/// Every phase flag (one row per flag), as the reference's phases define them.
#[rustfmt::skip]
pub const FLAGS: &[FlagRow] = &[
    flag("analyzed", Input::AnalyzedPath, "path to analyzed.toml", &[
        (Analyze, ALWAYS), (Detect, since(10)), (Restore, ALWAYS),
        (Extend, ALWAYS), (Build, since(12)), (Export, ALWAYS),
    ]),
    flag("app", Input::AppDir, "path to app directory", &[
        (Detect, ALWAYS), (Extend, ALWAYS), (Build, ALWAYS), (Export, ALWAYS), (Create, ALWAYS),
    ]),
    flag("build-config", Input::BuildConfigDir, "path to build config directory", &[
        (Detect, since(11)), (Build, since(11)), (Create, since(11)),
    ]),
    flag("build-image", Input::BuildImageRef, "build image tag name", &[(Restore, since(10))]),
    flag("buildpacks", Input::BuildpacksDir, "path to buildpacks directory", &[
        (Detect, ALWAYS), (Extend, ALWAYS), (Build, ALWAYS), (Create, ALWAYS),
    ]),
    flag("cache-dir", Input::CacheDir, "path to cache directory", &[
        (Restore, ALWAYS), (Export, ALWAYS), (Create, ALWAYS),
    ]),
    flag("cache-image", Input::CacheImageRef, "cache image tag name", &[
        (Analyze, ALWAYS), (Restore, ALWAYS), (Export, ALWAYS), (Create, ALWAYS),
    ]),
    flag("daemon", Input::UseDaemon, "export to docker daemon", &[
        (Analyze, ALWAYS), (Restore, since(12)), (Export, ALWAYS), (Create, ALWAYS), (Rebase, ALWAYS),
    ]),
    flag(
        "extended",
        Input::ExtendedDir,
        "path to output directory for image layers created from applying generated Dockerfiles",
        &[(Extend, since(12)), (Export, since(12))],
    ),
    flag("extensions", Input::ExtensionsDir, "path to extensions directory", &[(Detect, since(10))]),
    flag("force", Input::ForceRebase, "execute rebase even if operation is unsafe", &[
        (Rebase, since(12)),
    ]),
    flag(
        "generated",
        Input::GeneratedDir,
        "path to output directory for files generated by image extensions",
        &[(Detect, since(10)), (Restore, since(12)), (Extend, ALWAYS)],
    ),
    flag("gid", Input::Gid, "GID of user's group in the stack's build and run images", &[
        (Analyze, ALWAYS), (Restore, ALWAYS), (Extend, ALWAYS),
        (Export, ALWAYS), (Create, ALWAYS), (Rebase, ALWAYS),
    ]),
    flag("group", Input::GroupPath, "path to group.toml", &[
        (Detect, ALWAYS), (Restore, ALWAYS), (Extend, ALWAYS), (Build, ALWAYS), (Export, ALWAYS),
    ]),
    flag("image", Input::DeprecatedRunImageRef, "[deprecated] reference to run image", &[
        (Export, ALWAYS), (Rebase, ALWAYS),
    ]),
    flag("insecure-registry", Input::InsecureRegistries, "insecure registries", &[
        (Analyze, since(13)), (Restore, since(13)), (Export, since(13)),
        (Create, since(13)), (Rebase, since(13)),
    ]),
    flag("kaniko-cache-ttl", Input::KanikoCacheTtl, "kaniko cache time-to-live", &[(Extend, ALWAYS)]),
    flag("kind", Input::ExtendKind, "kind of image to extend", &[(Extend, since(12))]),
    flag("launch-cache", Input::LaunchCacheDir, "path to launch cache directory", &[
        (Analyze, since(9)), (Export, ALWAYS), (Create, ALWAYS),
    ]),
    flag("launcher", Input::LauncherPath, "path to launcher binary", &[
        (Export, ALWAYS), (Create, ALWAYS),
    ]),
    flag("launcher-sbom", Input::LauncherSbomDir, "path to launcher SBOM directory", &[
        (Export, since(11)), (Create, since(11)),
    ]),
    flag("layers", Input::LayersDir, "path to layers directory", &[
        (Analyze, ALWAYS), (Detect, ALWAYS), (Restore, ALWAYS), (Extend, ALWAYS),
        (Build, ALWAYS), (Export, ALWAYS), (Create, ALWAYS),
    ]),
    flag("layout", Input::UseLayout, "export to OCI layout format on disk", &[
        (Analyze, since(12)), (Restore, since(12)), (Export, since(12)), (Create, since(12)),
    ]),
    flag(
        "layout-dir",
        Input::LayoutDir,
        "path to output directory for images in OCI layout format",
        &[(Analyze, since(12)), (Restore, since(12)), (Export, since(12)), (Create, since(12))],
    ),
    flag("log-level", Input::LogLevel, "logging level", EVERY_PHASE),
    flag("no-color", Input::NoColor, "disable color output", EVERY_PHASE),
    flag("order", Input::OrderPath, "path to order.toml", &[(Detect, ALWAYS), (Create, ALWAYS)]),
    flag("parallel", Input::ParallelExport, "export app image and cache image in parallel", &[
        (Export, ALWAYS), (Create, ALWAYS),
    ]),
    flag("plan", Input::PlanPath, "path to plan.toml", &[
        (Detect, ALWAYS), (Extend, ALWAYS), (Build, ALWAYS),
    ]),
    flag("platform", Input::PlatformDir, "path to platform directory", &[
        (Detect, ALWAYS), (Extend, ALWAYS), (Build, ALWAYS), (Create, ALWAYS),
    ]),
    flag("previous-image", Input::PreviousImageRef, "reference to previous image", &[
        (Analyze, ALWAYS), (Create, ALWAYS), (Rebase, since(11)),
    ]),
    flag("process-type", Input::DefaultProcessType, "default process type", &[
        (Export, ALWAYS), (Create, ALWAYS),
    ]),
    flag("project-metadata", Input::ProjectMetadataPath, "path to project-metadata.toml", &[
        (Export, ALWAYS), (Create, ALWAYS),
    ]),
    flag("report", Input::ReportPath, "path to report.toml", &[
        (Export, ALWAYS), (Create, ALWAYS), (Rebase, ALWAYS),
    ]),
    flag("run", Input::RunPath, "path to run.toml", &[
        (Analyze, since(12)), (Detect, since(12)), (Restore, since(14)),
        (Export, since(12)), (Create, since(12)),
    ]),
    flag("run-image", Input::RunImageRef, "reference to run image", &[
        (Analyze, ALWAYS), (Export, ALWAYS), (Create, ALWAYS), (Rebase, ALWAYS),
    ]),
    flag("skip-layers", Input::SkipLayers, "do not provide layer metadata to buildpacks", &[
        (Analyze, since(9)), (Restore, ALWAYS),
    ]),
    flag("skip-restore", Input::SkipLayers, "do not restore layers or layer metadata", &[
        (Create, ALWAYS),
    ]),
    flag("stack", Input::StackPath, "path to stack.toml", &[
        (Analyze, before(12)), (Export, before(12)), (Create, ALWAYS),
    ]),
    flag("system", Input::SystemPath, "path to system.toml", &[
        (Detect, since(15)), (Create, since(15)),
    ]),
    flag("tag", Input::AdditionalTags, "additional tags", &[(Analyze, ALWAYS), (Create, ALWAYS)]),
    flag("uid", Input::Uid, "UID of user in the stack's build and run images", &[
        (Analyze, ALWAYS), (Restore, ALWAYS), (Extend, ALWAYS),
        (Export, ALWAYS), (Create, ALWAYS), (Rebase, ALWAYS),
    ]),
];

const EVERY_PHASE: &[(Phase, Gate)] = &[
    (Analyze, ALWAYS),
    (Detect, ALWAYS),
    (Restore, ALWAYS),
    (Extend, ALWAYS),
    (Build, ALWAYS),
    (Export, ALWAYS),
    (Create, ALWAYS),
    (Rebase, ALWAYS),
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::PLATFORM_APIS;

    fn names(phase: Phase, minor: u64) -> Vec<&'static str> {
        flags_for(phase, ApiVersion::new(0, minor))
            .map(|f| f.name)
            .collect()
    }

    #[test]
    fn every_input_has_exactly_one_row() {
        for r in INPUTS {
            assert_eq!(
                INPUTS.iter().filter(|o| o.input == r.input).count(),
                1,
                "{:?}",
                r.input
            );
        }
        for f in FLAGS {
            assert!(f.input_row().is_some(), "{}", f.name);
        }
        let mut sorted: Vec<_> = FLAGS.iter().map(|f| f.name).collect();
        sorted.dedup();
        assert_eq!(sorted.len(), FLAGS.len(), "duplicate flag rows");
    }

    #[test]
    fn analyzer_flags_per_api() {
        assert_eq!(
            names(Analyze, 7),
            [
                "analyzed",
                "cache-image",
                "daemon",
                "gid",
                "layers",
                "log-level",
                "no-color",
                "previous-image",
                "run-image",
                "stack",
                "tag",
                "uid"
            ]
        );
        let at9 = names(Analyze, 9);
        assert!(at9.contains(&"launch-cache") && at9.contains(&"skip-layers"));
        let at12 = names(Analyze, 12);
        assert!(!at12.contains(&"stack") && at12.contains(&"run") && at12.contains(&"layout"));
        assert!(!at12.contains(&"insecure-registry"));
        assert!(names(Analyze, 13).contains(&"insecure-registry"));
    }

    #[test]
    fn detector_flags_per_api() {
        assert_eq!(
            names(Detect, 7),
            [
                "app",
                "buildpacks",
                "group",
                "layers",
                "log-level",
                "no-color",
                "order",
                "plan",
                "platform"
            ]
        );
        assert_eq!(names(Detect, 10).len(), 12);
        assert!(names(Detect, 11).contains(&"build-config"));
        assert!(names(Detect, 12).contains(&"run"));
        assert!(!names(Detect, 14).contains(&"system"));
        assert!(names(Detect, 15).contains(&"system"));
    }

    #[test]
    fn restorer_run_flag_from_014() {
        assert!(!names(Restore, 13).contains(&"run"));
        assert!(names(Restore, 14).contains(&"run"));
        assert!(!names(Restore, 11).contains(&"daemon"));
        assert!(names(Restore, 12).contains(&"daemon"));
    }

    #[test]
    fn exporter_and_rebaser_take_image_flags() {
        for minor in 7..=15 {
            let exp = names(Export, minor);
            assert!(
                exp.contains(&"run-image") && exp.contains(&"image") && exp.contains(&"parallel")
            );
            assert_eq!(exp.contains(&"stack"), minor < 12);
            assert_eq!(exp.contains(&"launcher-sbom"), minor >= 11);
            let reb = names(Rebase, minor);
            assert!(reb.contains(&"image"));
            assert_eq!(reb.contains(&"previous-image"), minor >= 11);
            assert_eq!(reb.contains(&"force"), minor >= 12);
            assert!(!reb.contains(&"layers"));
        }
    }

    #[test]
    fn creator_and_extender() {
        let c = names(Create, 15);
        for f in [
            "skip-restore",
            "stack",
            "system",
            "tag",
            "order",
            "build-config",
            "launcher-sbom",
        ] {
            assert!(c.contains(&f), "{f}");
        }
        for f in [
            "analyzed",
            "group",
            "plan",
            "skip-layers",
            "extensions",
            "generated",
        ] {
            assert!(!c.contains(&f), "{f}");
        }
        assert!(!names(Extend, 11).contains(&"kind"));
        assert!(names(Extend, 12).contains(&"kind") && names(Extend, 12).contains(&"extended"));
    }

    #[test]
    fn every_phase_has_log_level_and_no_color_on_every_api() {
        for api in PLATFORM_APIS.supported {
            for phase in Phase::ALL {
                let n: Vec<_> = flags_for(phase, *api).map(|f| f.name).collect();
                assert!(
                    n.contains(&"log-level") && n.contains(&"no-color"),
                    "{phase} {api}"
                );
            }
        }
    }
}

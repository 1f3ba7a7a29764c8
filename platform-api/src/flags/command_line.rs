//! A phase's command line: the flags it defines at the requested Platform API, with
//! the environment-or-default values as their defaults, parsed into [`LifecycleInputs`].

use super::flagset::{FlagError, FlagSet, FlagValue};
use super::inputs::LifecycleInputs;
use super::phase::Phase;
use super::table::flags_for;

/// The flag set's name, shown in `Usage of lifecycle:` for every phase.
pub const FLAG_SET_NAME: &str = "lifecycle";
/// `-version`, defined for every phase.
pub const VERSION_FLAG: &str = "version";
const VERSION_USAGE: &str = "show version";

/// A parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandLine {
    /// The inputs with every flag given applied (not yet resolved).
    pub inputs: LifecycleInputs,
    /// Whether `-version` was given.
    pub show_version: bool,
    /// The positional arguments after the flags.
    pub args: Vec<String>,
}

/// The flags `phase` defines at `inputs.platform_api`, `-version` included, each
/// defaulting to the input's current value.
pub fn flag_set(phase: Phase, inputs: &LifecycleInputs) -> FlagSet {
    let mut set = FlagSet::new(FLAG_SET_NAME);
    set.define(VERSION_FLAG, FlagValue::Bool(false), VERSION_USAGE);
    for row in flags_for(phase, inputs.platform_api) {
        set.define(row.name, inputs.get(row.input), row.usage);
    }
    set
}

/// Parses `args` (without the program or subcommand name) for `phase` on top of
/// `inputs` (usually [`LifecycleInputs::from_env`]). Repeated flags append to the
/// environment's list; empty entries (`-tag=`) are dropped.
pub fn parse_command_line(
    phase: Phase,
    mut inputs: LifecycleInputs,
    args: &[String],
) -> Result<CommandLine, FlagError> {
    let mut set = flag_set(phase, &inputs);
    let args = set.parse(args)?;
    for row in flags_for(phase, inputs.platform_api) {
        if !set.is_set(row.name) {
            continue;
        }
        if let Some(value) = set.value(row.name) {
            let value = match value {
                FlagValue::List(list) => {
                    FlagValue::List(list.iter().filter(|v| !v.is_empty()).cloned().collect())
                }
                other => other.clone(),
            };
            inputs.set(row.input, value);
        }
    }
    let show_version = set.value(VERSION_FLAG) == Some(&FlagValue::Bool(true));
    Ok(CommandLine {
        inputs,
        show_version,
        args,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ApiVersion;
    use crate::flags::env::Environment;
    use crate::flags::flagset::FlagErrorKind;

    fn strings(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    fn parse_env(
        phase: Phase,
        minor: u64,
        env: &Environment,
        a: &[&str],
    ) -> Result<CommandLine, FlagError> {
        let inputs = LifecycleInputs::from_env(ApiVersion::new(0, minor), env);
        parse_command_line(phase, inputs, &strings(a))
    }

    fn parse(phase: Phase, minor: u64, a: &[&str]) -> Result<CommandLine, FlagError> {
        parse_env(phase, minor, &Environment::new(), a)
    }

    fn not_defined(phase: Phase, minor: u64, a: &[&str]) -> String {
        match parse(phase, minor, a) {
            Err(FlagError {
                kind: FlagErrorKind::NotDefined(name),
                ..
            }) => name,
            other => panic!("{phase} 0.{minor} {a:?}: {other:?}"),
        }
    }

    #[test]
    fn flags_beat_environment() {
        let env = Environment::new()
            .with("CNB_LAYERS_DIR", "/env-layers")
            .with("CNB_APP_DIR", "/env-app");
        let cl = parse_env(Phase::Detect, 15, &env, &["-layers", "/flag-layers"]).unwrap();
        assert_eq!(cl.inputs.layers_dir, "/flag-layers");
        assert_eq!(cl.inputs.app_dir, "/env-app");
        assert!(!cl.show_version);
        assert!(cl.args.is_empty());
    }

    #[test]
    fn gated_flags() {
        assert_eq!(
            not_defined(Phase::Detect, 14, &["-system", "/s.toml"]),
            "system"
        );
        let cl = parse(Phase::Detect, 15, &["-system", "/s.toml"]).unwrap();
        assert_eq!(cl.inputs.system_path, "/s.toml");
        assert_eq!(not_defined(Phase::Restore, 13, &["-run=/r.toml"]), "run");
        assert!(parse(Phase::Restore, 14, &["-run=/r.toml"]).is_ok());
        assert_eq!(not_defined(Phase::Analyze, 12, &["-stack", "/s"]), "stack");
        assert!(parse(Phase::Analyze, 11, &["-stack", "/s", "img"]).is_ok());
        assert_eq!(
            not_defined(Phase::Analyze, 8, &["-skip-layers"]),
            "skip-layers"
        );
        assert_eq!(
            not_defined(Phase::Analyze, 8, &["-launch-cache", "/x"]),
            "launch-cache"
        );
        assert_eq!(not_defined(Phase::Export, 11, &["-layout"]), "layout");
        assert_eq!(
            not_defined(Phase::Export, 11, &["-layout-dir", "/x"]),
            "layout-dir"
        );
        assert_eq!(
            not_defined(Phase::Create, 12, &["-insecure-registry", "r"]),
            "insecure-registry"
        );
        assert_eq!(
            not_defined(Phase::Export, 10, &["-launcher-sbom", "/x"]),
            "launcher-sbom"
        );
        assert_eq!(
            not_defined(Phase::Build, 10, &["-build-config", "/x"]),
            "build-config"
        );
        assert_eq!(
            not_defined(Phase::Detect, 9, &["-analyzed", "/x"]),
            "analyzed"
        );
        assert_eq!(
            not_defined(Phase::Detect, 9, &["-extensions", "/x"]),
            "extensions"
        );
        assert_eq!(
            not_defined(Phase::Detect, 9, &["-generated", "/x"]),
            "generated"
        );
        assert_eq!(
            not_defined(Phase::Build, 11, &["-analyzed", "/x"]),
            "analyzed"
        );
        assert_eq!(not_defined(Phase::Rebase, 15, &["-layers", "/x"]), "layers");
        assert_eq!(not_defined(Phase::Detect, 15, &["-tag", "x"]), "tag");
        assert!(parse(Phase::Export, 7, &["-parallel", "-image", "x", "img"]).is_ok());
    }

    #[test]
    fn version_anywhere_among_flags() {
        for a in [
            &["-version"][..],
            &["-app=/some/dir", "-version"],
            &["-daemon", "-version"],
            &["--version=true", "x"],
        ] {
            let cl = parse(Phase::Export, 15, a).unwrap();
            assert!(cl.show_version, "{a:?}");
        }
        let cl = parse(Phase::Export, 15, &["img", "-version"]).unwrap();
        assert!(!cl.show_version);
        assert_eq!(cl.args, strings(&["img", "-version"]));
    }

    #[test]
    fn repeated_flags_append_to_the_environment_and_drop_empties() {
        let env = Environment::new().with("CNB_INSECURE_REGISTRIES", "a.io");
        let cl = parse_env(
            Phase::Analyze,
            13,
            &env,
            &[
                "-insecure-registry",
                "b.io",
                "-insecure-registry=",
                "-tag=",
                "-tag",
                "t1",
                "img",
            ],
        )
        .unwrap();
        assert_eq!(cl.inputs.insecure_registries, strings(&["a.io", "b.io"]));
        assert_eq!(cl.inputs.additional_tags, strings(&["t1"]));
        assert_eq!(cl.args, strings(&["img"]));
    }

    #[test]
    fn typed_flags() {
        let cl = parse(
            Phase::Analyze,
            15,
            &["-uid", "1000", "-gid=0x10", "-daemon", "-run-image=", "img"],
        )
        .unwrap();
        assert_eq!((cl.inputs.uid, cl.inputs.gid), (1000, 16));
        assert!(cl.inputs.use_daemon);
        assert_eq!(cl.inputs.run_image_ref, "");
        let cl = parse(Phase::Create, 15, &["-skip-restore", "img"]).unwrap();
        assert!(cl.inputs.skip_layers);
        let cl = parse(
            Phase::Extend,
            15,
            &["-kaniko-cache-ttl", "1h", "-kind", "run"],
        )
        .unwrap();
        assert_eq!(
            cl.inputs.kaniko_cache_ttl,
            super::super::duration::GoDuration::from_hours(1)
        );
        assert_eq!(cl.inputs.extend_kind, "run");
        let e = parse(Phase::Analyze, 15, &["-uid", "me"]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid value \"me\" for flag -uid: parse error"
        );
    }

    #[test]
    fn usage_shows_environment_defaults() {
        let env = Environment::new().with("CNB_USER_ID", "1000");
        let inputs = LifecycleInputs::from_env(ApiVersion::new(0, 15), &env);
        let usage = flag_set(Phase::Analyze, &inputs).usage();
        assert!(usage.starts_with("Usage of lifecycle:\n  -analyzed string\n    \tpath to analyzed.toml (default \"<layers>/analyzed.toml\")\n"));
        assert!(usage.contains(
            "  -uid int\n    \tUID of user in the stack's build and run images (default 1000)\n"
        ));
        assert!(usage.contains("  -version\n    \tshow version\n"));
        assert!(usage.contains("  -tag value\n    \tadditional tags\n"));
    }
}

//! `builder`: refuses root, then runs the build over the resolved inputs.

use std::path::PathBuf;

use lifecycle::build::{self, BuildInputs};
use platform_api::flags::Phase;

use super::{PhaseCommand, nothing, refuse_root};
use crate::driver::Context;
use crate::failure::Failure;

/// The builder.
pub static COMMAND: PhaseCommand = PhaseCommand {
    phase: Phase::Build,
    validate: nothing,
    privileges: |_| refuse_root("build"),
    exec: build,
};

/// Runs the phase's work with `ctx` (also the creator's build step).
pub(crate) fn build(ctx: &Context) -> Result<(), Failure> {
    // The builder's errors carry the whole message (`failed to build: …`,
    // `failed to read group file: …`) and their exit code.
    build::run(&build_inputs(ctx), &ctx.logger).map_err(|err| Failure::new(err.exit_code(), err))
}

/// The builder's inputs, from the resolved platform inputs and the process environment.
/// `CNB_EXEC_ENV` is passed on whatever the Platform API, as the reference does.
fn build_inputs(ctx: &Context) -> BuildInputs {
    let i = &ctx.inputs;
    BuildInputs {
        platform_api: i.platform_api,
        app_dir: PathBuf::from(&i.app_dir),
        buildpacks_dir: PathBuf::from(&i.buildpacks_dir),
        build_config_dir: PathBuf::from(&i.build_config_dir),
        platform_dir: PathBuf::from(&i.platform_dir),
        layers_dir: super::layers_dir(i),
        group_path: PathBuf::from(&i.group_path),
        plan_path: PathBuf::from(&i.plan_path),
        analyzed_path: PathBuf::from(&i.analyzed_path),
        exec_env: i.exec_env.clone(),
        deprecation_mode: ctx.deprecation_mode(),
        environ: ctx.process.environ.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::Process;
    use buildpack_api::api::ApiVersion;
    use lifecycle::log::{Level, Logger};
    use platform_api::flags::{Environment, LifecycleInputs, parse_command_line};

    fn context_inputs(minor: u64, env: &Environment, args: &[&str]) -> LifecycleInputs {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let inputs = LifecycleInputs::from_env(ApiVersion::new(0, minor), env);
        let mut cl = parse_command_line(Phase::Build, inputs, &args).unwrap();
        cl.inputs.resolve(Phase::Build, Some("/".as_ref())).unwrap();
        cl.inputs
    }

    #[test]
    fn maps_resolved_inputs() {
        let env = Environment::new()
            .with("CNB_LAYERS_DIR", "/custom_layers")
            .with("CNB_APP_DIR", "/custom_app")
            .with("CNB_EXEC_ENV", "test");
        let process = Process {
            env: env.clone(),
            environ: vec![("A".into(), "1".into())],
            cwd: None,
        };
        let ctx = Context {
            inputs: context_inputs(12, &env, &["-plan", "/p.toml", "-analyzed=/a.toml"]),
            logger: Logger::new(Level::Info),
            process: &process,
        };
        let b = build_inputs(&ctx);
        assert_eq!(b.platform_api, ApiVersion::new(0, 12));
        assert_eq!(b.layers_dir, PathBuf::from("/custom_layers"));
        assert_eq!(b.group_path, PathBuf::from("/custom_layers/group.toml"));
        assert_eq!(b.plan_path, PathBuf::from("/p.toml"));
        assert_eq!(b.analyzed_path, PathBuf::from("/a.toml"));
        assert_eq!(b.app_dir, PathBuf::from("/custom_app"));
        assert_eq!(b.buildpacks_dir, PathBuf::from("/cnb/buildpacks"));
        assert_eq!(b.build_config_dir, PathBuf::from("/cnb/build-config"));
        assert_eq!(b.platform_dir, PathBuf::from("/platform"));
        assert_eq!(b.exec_env, "test");
        assert_eq!(b.environ, process.environ);

        // Before Platform API 0.12 there is no -analyzed flag, but the file is read.
        let ctx = Context {
            inputs: context_inputs(9, &env, &[]),
            logger: Logger::new(Level::Info),
            process: &process,
        };
        let b = build_inputs(&ctx);
        assert_eq!(
            b.analyzed_path,
            PathBuf::from("/custom_layers/analyzed.toml")
        );
        assert_eq!(b.exec_env, "test");
    }
}

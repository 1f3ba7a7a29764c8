//! `detector`: refuses root, then runs detection over the resolved inputs.

use std::path::PathBuf;

use lifecycle::detect::{self, DetectInputs};
use platform_api::flags::Phase;

use super::{PhaseCommand, nothing, refuse_root};
use crate::driver::Context;
use crate::failure::Failure;

/// The detector.
pub static COMMAND: PhaseCommand = PhaseCommand {
    phase: Phase::Detect,
    validate: nothing,
    privileges: |_| refuse_root("detect"),
    exec: detect,
};

/// Runs the phase's work with `ctx` (also the creator's detect step).
pub(crate) fn detect(ctx: &Context) -> Result<(), Failure> {
    // The detector's errors carry the whole message (`failed to detect: …`,
    // `failed to initialize detector: …`) and their exit code.
    detect::run(&detect_inputs(ctx), &ctx.logger).map_err(|err| Failure::new(err.exit_code(), err))
}

/// The detector's inputs, from the resolved platform inputs and the process environment.
fn detect_inputs(ctx: &Context) -> DetectInputs {
    let i = &ctx.inputs;
    DetectInputs {
        platform_api: i.platform_api,
        app_dir: PathBuf::from(&i.app_dir),
        buildpacks_dir: PathBuf::from(&i.buildpacks_dir),
        extensions_dir: PathBuf::from(&i.extensions_dir),
        build_config_dir: PathBuf::from(&i.build_config_dir),
        platform_dir: PathBuf::from(&i.platform_dir),
        order_path: PathBuf::from(&i.order_path),
        system_path: i
            .platform_api
            .at_least(0, 15)
            .then(|| PathBuf::from(&i.system_path)),
        analyzed_path: PathBuf::from(&i.analyzed_path),
        group_path: PathBuf::from(&i.group_path),
        plan_path: PathBuf::from(&i.plan_path),
        generated_dir: PathBuf::from(&i.generated_dir),
        run_path: PathBuf::from(&i.run_path),
        exec_env: i.exec_env.clone(),
        experimental_mode: i.experimental_mode,
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
        let mut cl = parse_command_line(Phase::Detect, inputs, &args).unwrap();
        cl.inputs
            .resolve(Phase::Detect, Some("/".as_ref()))
            .unwrap();
        cl.inputs
    }

    #[test]
    fn maps_resolved_inputs() {
        let env = Environment::new()
            .with("CNB_PLATFORM_DIR", "/custom_platform")
            .with("CNB_EXEC_ENV", "test");
        let process = Process {
            env: env.clone(),
            environ: vec![("A".into(), "1".into())],
            cwd: None,
        };
        let ctx = Context {
            inputs: context_inputs(
                15,
                &env,
                &["-layers", "/l", "-order=/o.toml", "-system", "/s.toml"],
            ),
            logger: Logger::new(Level::Info),
            process: &process,
        };
        let d = detect_inputs(&ctx);
        assert_eq!(d.group_path, PathBuf::from("/l/group.toml"));
        assert_eq!(d.plan_path, PathBuf::from("/l/plan.toml"));
        assert_eq!(d.analyzed_path, PathBuf::from("/l/analyzed.toml"));
        assert_eq!(d.generated_dir, PathBuf::from("/l/generated"));
        assert_eq!(d.order_path, PathBuf::from("/o.toml"));
        assert_eq!(d.system_path, Some(PathBuf::from("/s.toml")));
        assert_eq!(d.platform_dir, PathBuf::from("/custom_platform"));
        assert_eq!(d.app_dir, PathBuf::from("/workspace"));
        assert_eq!(d.run_path, PathBuf::from("/cnb/run.toml"));
        assert_eq!(d.exec_env, "test");
        assert_eq!(d.environ, process.environ);

        let ctx = Context {
            inputs: context_inputs(14, &env, &[]),
            logger: Logger::new(Level::Info),
            process: &process,
        };
        let d = detect_inputs(&ctx);
        assert_eq!(d.system_path, None);
        assert_eq!(d.order_path, PathBuf::from("/cnb/order.toml"));
    }
}

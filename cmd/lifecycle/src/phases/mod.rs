//! One module per phase, each a [`PhaseCommand`]: the steps the shared driver runs after
//! the command line is parsed and the inputs resolved.
//!
//! Adding a phase's implementation means replacing its `exec` (and `privileges`)
//! here; the flags it accepts live in `platform_api::flags::table`.

mod analyzer;
mod builder;
mod creator;
mod detector;
mod exporter;
mod extender;
mod rebaser;
mod restorer;

use platform_api::exit::{ExitCode, FAILED};
use platform_api::experimental::{ExperimentalDisabled, FEATURE_LAYOUT, Guard};
use platform_api::flags::Phase;

use crate::driver::Context;
use crate::failure::Failure;

/// A phase step: validation, privilege handling or execution.
pub type Step = fn(&Context) -> Result<(), Failure>;

/// A phase as the driver runs it.
pub struct PhaseCommand {
    /// The phase.
    pub phase: Phase,
    /// Validation after inputs are resolved (the rest of the reference's `Args`).
    pub validate: Step,
    /// Privilege checks and changes.
    pub privileges: Step,
    /// The work itself.
    pub exec: Step,
}

/// The command of `phase`.
pub fn command(phase: Phase) -> &'static PhaseCommand {
    match phase {
        Phase::Analyze => &analyzer::COMMAND,
        Phase::Detect => &detector::COMMAND,
        Phase::Restore => &restorer::COMMAND,
        Phase::Extend => &extender::COMMAND,
        Phase::Build => &builder::COMMAND,
        Phase::Export => &exporter::COMMAND,
        Phase::Create => &creator::COMMAND,
        Phase::Rebase => &rebaser::COMMAND,
    }
}

/// A step with nothing to do.
fn nothing(_: &Context) -> Result<(), Failure> {
    Ok(())
}

/// The failure of a phase whose work is not written yet.
fn not_implemented(phase: Phase, code: ExitCode) -> Failure {
    Failure::failed_to(code, phase.subcommand(), anyhow::anyhow!("not implemented"))
}

/// Gives `volumes` to the build user (`-uid`/`-gid`, recursively, unless it can already
/// write them) and becomes that user for the rest of the process.
fn become_build_user(ctx: &Context, volumes: &[&std::path::Path]) -> Result<(), Failure> {
    let (uid, gid) = (ctx.inputs.uid as u32, ctx.inputs.gid as u32);
    lifecycle::privileges::ensure_owner(uid, gid, volumes)
        .map_err(|e| Failure::failed_to(FAILED, "chown volumes", e))?;
    lifecycle::privileges::run_as(uid, gid)
        .map_err(|e| Failure::failed_to(FAILED, &format!("exec as user {uid}:{gid}"), e))
}

/// The layers directory the phase works in: `-layers`, or the working directory when it
/// was given empty (`-layers=`, as Tekton's buildpacks-phases task passes it to the
/// restorer), where the reference's relative paths land. Volumes are still chowned only
/// when named.
fn layers_dir(inputs: &platform_api::flags::LifecycleInputs) -> std::path::PathBuf {
    if inputs.layers_dir.is_empty() {
        std::env::current_dir().unwrap_or_default()
    } else {
        std::path::PathBuf::from(&inputs.layers_dir)
    }
}

/// Refuses to run as root, as the phases running buildpack code do.
fn refuse_root(action: &str) -> Result<(), Failure> {
    if nix::unistd::getuid().is_root() {
        return Err(Failure::failed_to(
            FAILED,
            action,
            anyhow::anyhow!("refusing to run as root"),
        ));
    }
    Ok(())
}

/// `-layout` is experimental: allowed, warned about or refused per
/// `CNB_EXPERIMENTAL_MODE`.
fn guard_layout(ctx: &Context) -> Result<(), Failure> {
    if !ctx.inputs.use_layout {
        return Ok(());
    }
    guard_experimental(ctx, FEATURE_LAYOUT)
}

/// An experimental feature in use: allowed, warned about or refused per
/// `CNB_EXPERIMENTAL_MODE`.
fn guard_experimental(ctx: &Context, feature: &str) -> Result<(), Failure> {
    match ctx.inputs.experimental_mode.guard(feature) {
        Guard::Allow => Ok(()),
        Guard::Warn(msg) => {
            ctx.logger.warn(msg);
            Ok(())
        }
        Guard::Deny(msg) => {
            ctx.logger.error(msg);
            Err(Failure::new(FAILED, ExperimentalDisabled))
        }
    }
}

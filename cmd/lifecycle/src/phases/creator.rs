//! `creator`: every phase in one process, as trusted builders run it. Everything that
//! needs the starting user (the Docker socket, registry credentials, volume ownership)
//! is opened first; then the process becomes the build user for good and analyzes,
//! detects, restores, builds and exports, each under the reference's phase heading.
//! The creator has no exit code of its own: each step fails with its phase's.

use std::ffi::OsString;
use std::path::Path;

use buildpack_api::api::ApiVersion;
use platform_api::exit::{DETECT_ERROR, FAILED};
use platform_api::files::group;
use platform_api::flags::Phase;

use super::{PhaseCommand, analyzer, builder, detector, exporter, restorer};
use crate::driver::{Context, Process};
use crate::failure::Failure;

/// The creator.
pub static COMMAND: PhaseCommand = PhaseCommand {
    phase: Phase::Create,
    validate: analyzer::validate,
    privileges: super::nothing,
    exec,
};

fn exec(ctx: &Context) -> Result<(), Failure> {
    let i = &ctx.inputs;
    let uid = i.uid as u32;
    // As the starting user: stores, credentials, volumes.
    let opened = exporter::open(ctx)?;
    let analysis = analyzer::open(ctx)?;
    super::become_build_user(
        ctx,
        &[
            Path::new(&i.cache_dir),
            Path::new(&i.launch_cache_dir),
            Path::new(&i.layers_dir),
            opened.work.path(),
        ],
    )?;
    let process = user_process(ctx.process, uid);
    let ctx = Context {
        inputs: ctx.inputs.clone(),
        logger: ctx.logger,
        process: &process,
    };
    let ctx = &ctx;

    ctx.logger.info("===> ANALYZING");
    analyzer::analyze(ctx, &analysis, opened.store.as_ref())?;

    ctx.logger.info("===> DETECTING");
    detector::detect(ctx)?;
    let detected = group::read(Path::new(&i.group_path)).map_err(|e| Failure::new(FAILED, e))?;
    if !detected.group_extensions.is_empty() {
        return Err(Failure::failed_to(
            DETECT_ERROR,
            "detect",
            anyhow::anyhow!(
                "detected order contains extensions which is not supported by the creator"
            ),
        ));
    }

    // With -skip-restore, Platform API 0.10+ still restores store.toml.
    if !i.skip_layers || i.platform_api >= ApiVersion::new(0, 10) {
        ctx.logger.info("===> RESTORING");
        restorer::restore(ctx, opened.cache_registry.as_ref(), opened.store.as_ref())?;
    }

    ctx.logger.info("===> BUILDING");
    builder::build(ctx)?;

    ctx.logger.info("===> EXPORTING");
    exporter::export(ctx, &opened)
}

/// The process as the build user sees it: `HOME` and `USER` of its entry in the user
/// database, when it has one, so buildpacks get the build user's home.
fn user_process(process: &Process, uid: u32) -> Process {
    let mut process = process.clone();
    let Some((home, name)) = lifecycle::privileges::user_environment(uid) else {
        return process;
    };
    let home = home.into_os_string();
    let vars: [(&str, OsString); 2] = [("HOME", home.clone()), ("USER", name.clone().into())];
    for (key, value) in vars {
        process.environ.retain(|(k, _)| k != key);
        process.environ.push((key.into(), value));
    }
    process.env = process
        .env
        .clone()
        .with("HOME", home.to_string_lossy().into_owned())
        .with("USER", name);
    process
}

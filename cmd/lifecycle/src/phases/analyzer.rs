//! `analyzer`: checks the image names, chooses the run image (flag, `run.toml` or, below
//! Platform API 0.12, `stack.toml`), opens the registry client and the image store as
//! the user it started as (root, for the Docker socket and credentials), gives the
//! layers directory to the build user and becomes it, checks registry access, analyzes
//! the previous and run images and writes `analyzed.toml`.
//!
//! The creator runs the same steps in-process: [`validate`] as its validation, [`open`]
//! before dropping privileges, then [`analyze`] with the image store it opened.

use std::path::Path;

use anyhow::anyhow;
use buildpack_api::api::ApiVersion;
use lifecycle::analyze::{self, AnalyzeInputs, access};
use lifecycle::image::ImageStore;
use lifecycle::image::reference::Reference;
use lifecycle::registry::Client;
use lifecycle::run_image::best_mirror;
use platform_api::exit::{ANALYZE_ERROR, FAILED, INVALID_ARGS};
use platform_api::files::run::{Run, RunImageForExport};
use platform_api::files::stack::Stack;
use platform_api::flags::Phase;

use super::{PhaseCommand, guard_layout, nothing};
use crate::driver::Context;
use crate::failure::Failure;

/// The analyzer.
pub static COMMAND: PhaseCommand = PhaseCommand {
    phase: Phase::Analyze,
    validate,
    privileges: nothing,
    exec,
};

/// The reference's message when neither `-run-image` nor run metadata names a run image.
const RUN_IMAGE_REQUIRED: &str = "-run-image is required when there is no run metadata available";

fn invalid(e: impl Into<anyhow::Error>) -> Failure {
    Failure::failed_to(INVALID_ARGS, "resolve inputs", e)
}

/// Checks the names given: every image reference parses, and unless exporting to the
/// daemon the output image and its tags are on one registry; `-layout` is
/// experimental. (The run image is checked once [`open`] has chosen it.)
pub(crate) fn validate(ctx: &Context) -> Result<(), Failure> {
    let i = &ctx.inputs;
    let names = std::iter::once(&i.output_image_ref).chain(&i.additional_tags);
    let mut registries: Vec<String> = Vec::new();
    for name in names {
        let registry = Reference::parse(name)
            .map_err(invalid)?
            .registry()
            .to_string();
        if !registries.contains(&registry) {
            registries.push(registry);
        }
    }
    for name in [&i.previous_image_ref, &i.cache_image_ref] {
        if !name.is_empty() {
            Reference::parse(name).map_err(invalid)?;
        }
    }
    if !i.use_daemon && registries.len() > 1 {
        return Err(invalid(anyhow!(
            "writing to multiple registries is unsupported"
        )));
    }
    guard_layout(ctx)
}

/// What the analysis needs from before privileges are dropped.
pub(crate) struct Analysis {
    /// The registry client, with the starting user's credentials.
    registry: Client,
    /// The run image chosen.
    run_image: String,
}

/// Opens the registry client and chooses the run image (`-run-image`, else the best
/// readable mirror of the first `run.toml` entry or, below Platform API 0.12, of
/// `stack.toml`'s run image, preferring the output image's registry). Failures to
/// choose are invalid inputs (exit 3), as in the reference.
pub(crate) fn open(ctx: &Context) -> Result<Analysis, Failure> {
    let registry = crate::stores::registry_client(ctx)
        .map_err(|e| Failure::failed_to(FAILED, "resolve keychain", e))?;
    let run_image = choose_run_image(ctx, &registry)?;
    Reference::parse(&run_image).map_err(invalid)?;
    Ok(Analysis {
        registry,
        run_image,
    })
}

fn choose_run_image(ctx: &Context, registry: &Client) -> Result<String, Failure> {
    let i = &ctx.inputs;
    if !i.run_image_ref.is_empty() {
        return Ok(i.run_image_ref.clone());
    }
    let target = Reference::parse(&i.output_image_ref).map_err(invalid)?;
    let candidates = run_metadata(ctx)?;
    let by_registry = !i.use_daemon && !i.use_layout;
    let readable = |name: &str| {
        !by_registry || Reference::parse(name).is_ok_and(|r| registry.check_read_access(&r).is_ok())
    };
    best_mirror(target.registry(), &candidates, &readable).map_err(invalid)
}

/// The run image and mirrors to choose from: the first `run.toml` entry (Platform API
/// 0.12+) or `stack.toml`'s run image; a missing file is logged and counts as empty.
fn run_metadata(ctx: &Context) -> Result<RunImageForExport, Failure> {
    let i = &ctx.inputs;
    let missing = |what: &str, path: &str| {
        ctx.logger
            .info(format!("No {what} metadata found at path {path:?}"));
    };
    if i.platform_api < ApiVersion::new(0, 12) {
        let stack = Stack::read_optional(Path::new(&i.stack_path)).map_err(invalid)?;
        if stack.is_none() {
            missing("stack", &i.stack_path);
        }
        return Ok(stack.unwrap_or_default().run_image);
    }
    let run = Run::read_optional(Path::new(&i.run_path)).map_err(invalid)?;
    if run.is_none() {
        missing("run", &i.run_path);
    }
    run.unwrap_or_default()
        .images
        .into_iter()
        .next()
        .ok_or_else(|| invalid(anyhow!(RUN_IMAGE_REQUIRED)))
}

fn exec(ctx: &Context) -> Result<(), Failure> {
    let i = &ctx.inputs;
    // Everything that needs the starting user's rights comes first.
    let analysis = open(ctx)?;
    let work = tempfile::Builder::new()
        .prefix("lifecycle.analyzer.layer")
        .tempdir()
        .map_err(|e| Failure::failed_to(FAILED, "create temp directory", e))?;
    let store = crate::stores::app_store(ctx, work.path())
        .map_err(|e| Failure::failed_to(FAILED, "initialize image store", e))?;
    super::become_build_user(
        ctx,
        &[
            Path::new(&i.layers_dir),
            Path::new(&i.launch_cache_dir),
            work.path(),
        ],
    )?;
    analyze(ctx, &analysis, store.as_ref())
}

/// Checks registry access (the previous and run images readable, the output image, its
/// tags and the cache image writable; only the cache image outside registry mode),
/// analyzes with `store` and writes `analyzed.toml`. Runs as the build user.
pub(crate) fn analyze(
    ctx: &Context,
    analysis: &Analysis,
    store: &dyn ImageStore,
) -> Result<(), Failure> {
    let i = &ctx.inputs;
    // The cache image is always in a registry; the rest only in registry mode.
    let mut read = Vec::new();
    let mut write = vec![i.cache_image_ref.as_str()];
    if !i.use_daemon && !i.use_layout {
        read = vec![i.previous_image_ref.as_str(), analysis.run_image.as_str()];
        write.push(&i.output_image_ref);
        write.extend(i.additional_tags.iter().map(String::as_str));
    }
    access::ensure_access(&analysis.registry, &read, &write)
        .map_err(|e| Failure::failed_to(ANALYZE_ERROR, "initialize analyzer", e))?;
    let inputs = AnalyzeInputs {
        platform_api: i.platform_api,
        layers_dir: super::layers_dir(i),
        previous_image: i.previous_image_ref.clone(),
        run_image: analysis.run_image.clone(),
        skip_layers: i.skip_layers,
    };
    let analyzed = analyze::run(&inputs, store, &ctx.logger)
        .map_err(|e| Failure::failed_to(e.exit_code(), e.action(), e))?;
    analyzed
        .write(Path::new(&i.analyzed_path))
        .map_err(|e| Failure::new(FAILED, anyhow!("{e}")))
}

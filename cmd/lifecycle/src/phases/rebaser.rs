//! `rebaser`: puts app images on a new run image.
//!
//! `rebaser [flags] <image> [<tag>...]` is the reference's form: one app image (the
//! `-previous-image`, else `<image>`) rebased and saved as `<image>` and every tag;
//! report.toml has its `[image]` table.
//!
//! Extension: several images in one call, rebased concurrently, as groups separated
//! by a `+` argument: `rebaser [flags] <image> [<tag>...] + <image> [<tag>...] ...`.
//! Each group is rebased from its first name (`-previous-image` is refused with more
//! than one group), onto `-run-image` or its own recorded run image; report.toml then
//! has one `[[image]]` table per group, in order (empty for a group that failed), and
//! the exit code is the first failure's. `+` is no image reference, so no command line
//! the reference accepts changes meaning.
//!
//! Extension: with `CNB_USE_LAYOUT=true` (Platform API 0.12+, experimental, no flag)
//! the images are read from and written to the OCI layouts under `CNB_LAYOUT_DIR`.

use std::path::Path;

use anyhow::anyhow;
use buildpack_api::api::ApiVersion;
use lifecycle::daemon::Daemon;
use lifecycle::image::ImageStore;
use lifecycle::image::daemon_store::DaemonStore;
use lifecycle::image::layout::LayoutStore;
use lifecycle::image::reference::Reference;
use lifecycle::image::registry_store::RegistryStore;
use lifecycle::rebase::{Prepared, RebaseError, RebaseJob, Rebaser, parallel_map};
use platform_api::exit::{FAILED, INVALID_ARGS, REBASE_ERROR};
use platform_api::files::report::{ImageReport, Report};
use platform_api::flags::Phase;

use super::{PhaseCommand, guard_layout, nothing};
use crate::driver::Context;
use crate::failure::Failure;

/// The rebaser.
pub static COMMAND: PhaseCommand = PhaseCommand {
    phase: Phase::Rebase,
    validate,
    privileges: nothing,
    exec,
};

/// The argument separating the images of a call rebasing several.
const SEPARATOR: &str = "+";
/// Images rebased at the same time.
const PARALLEL_REBASES: usize = 8;

/// The output names of each image: groups of the positionals split at [`SEPARATOR`].
fn groups(ctx: &Context) -> Vec<Vec<String>> {
    let i = &ctx.inputs;
    let all = std::iter::once(&i.output_image_ref).chain(&i.additional_tags);
    let mut groups = vec![Vec::new()];
    for name in all {
        if name == SEPARATOR {
            groups.push(Vec::new());
        } else {
            groups.last_mut().expect("a group").push(name.clone());
        }
    }
    groups
}

/// Whether images live in OCI layouts (the layout extension).
fn use_layout(ctx: &Context) -> bool {
    ctx.inputs.use_layout && ctx.inputs.platform_api >= ApiVersion::new(0, 12)
}

fn validate(ctx: &Context) -> Result<(), Failure> {
    let i = &ctx.inputs;
    let invalid = |e: anyhow::Error| Failure::failed_to(INVALID_ARGS, "resolve inputs", e);
    let groups = groups(ctx);
    if groups.len() > 1 {
        if groups.iter().any(Vec::is_empty) {
            return Err(invalid(anyhow!(
                "'{SEPARATOR}' must separate groups of image names"
            )));
        }
        if !i.previous_image_ref.is_empty() {
            return Err(invalid(anyhow!(
                "-previous-image cannot be used when rebasing several images"
            )));
        }
    }
    let others = [&i.previous_image_ref, &i.run_image_ref];
    for name in groups
        .iter()
        .flatten()
        .chain(others)
        .filter(|n| !n.is_empty())
    {
        Reference::parse(name).map_err(|e| invalid(e.into()))?;
    }
    if !i.use_daemon {
        for group in &groups {
            let mut registries: Vec<String> = Vec::new();
            for name in group {
                let registry = Reference::parse(name)
                    .expect("parsed")
                    .registry()
                    .to_string();
                if !registries.contains(&registry) {
                    registries.push(registry);
                }
            }
            if registries.len() > 1 {
                return Err(invalid(anyhow!(
                    "writing to multiple registries is unsupported"
                )));
            }
        }
    }
    if use_layout(ctx) {
        guard_layout(ctx)?;
    }
    Ok(())
}

/// The jobs: each group rebased from `-previous-image` or its first name.
fn jobs(ctx: &Context) -> Vec<RebaseJob> {
    let i = &ctx.inputs;
    let run_image = Some(i.run_image_ref.clone()).filter(|r| !r.is_empty());
    groups(ctx)
        .into_iter()
        .map(|names| RebaseJob {
            app_image: if i.previous_image_ref.is_empty() {
                names[0].clone()
            } else {
                i.previous_image_ref.clone()
            },
            names,
            run_image: run_image.clone(),
        })
        .collect()
}

/// Where the images are.
enum Store {
    /// A registry, whose client also checks read access to run image candidates.
    Registry(RegistryStore),
    /// The Docker daemon (with a scratch directory for the layers it must give back)
    /// or OCI layouts.
    Local(Box<dyn ImageStore>, Option<tempfile::TempDir>),
}

impl Store {
    /// The store the inputs select.
    fn open(ctx: &Context) -> Result<Store, Failure> {
        let i = &ctx.inputs;
        if use_layout(ctx) {
            return Ok(Store::Local(
                Box::new(LayoutStore::new(&i.layout_dir)),
                None,
            ));
        }
        if i.use_daemon {
            let host = ctx.process.env.get("DOCKER_HOST");
            let daemon = Daemon::connect(Some(host))
                .map_err(|e| Failure::failed_to(FAILED, "initialize docker client", e))?;
            let work = tempfile::Builder::new()
                .prefix("lifecycle.rebaser.layer")
                .tempdir()
                .map_err(|e| Failure::failed_to(FAILED, "create temp directory", e))?;
            let store = DaemonStore::new(daemon, work.path(), None);
            return Ok(Store::Local(Box::new(store), Some(work)));
        }
        let client = crate::stores::registry_client(ctx)
            .map_err(|e| Failure::failed_to(FAILED, "resolve keychain", e))?;
        Ok(Store::Registry(RegistryStore::new(client)))
    }

    fn store(&self) -> &dyn ImageStore {
        match self {
            Store::Registry(r) => r,
            Store::Local(s, _) => s.as_ref(),
        }
    }

    /// Whether run image candidate `name` can be read (always, but in a registry).
    fn readable(&self, name: &str) -> bool {
        match self {
            Store::Registry(r) => {
                Reference::parse(name).is_ok_and(|r2| r.client().check_read_access(&r2).is_ok())
            }
            Store::Local(..) => true,
        }
    }

    /// The scratch directory, to give to the build user.
    fn work_dir(&self) -> Option<&Path> {
        match self {
            Store::Local(_, Some(work)) => Some(work.path()),
            _ => None,
        }
    }

    /// Images rebased at the same time: one at a time in the daemon, whose store
    /// fetches layers into one scratch directory.
    fn parallelism(&self) -> usize {
        match self {
            Store::Local(_, Some(_)) => 1,
            _ => PARALLEL_REBASES,
        }
    }
}

fn exec(ctx: &Context) -> Result<(), Failure> {
    let i = &ctx.inputs;
    let jobs = jobs(ctx);
    let store = Store::open(ctx)?;
    let readable = |name: &str| store.readable(name);
    let rebaser = Rebaser::new(
        store.store(),
        i.platform_api,
        i.force_rebase,
        &readable,
        &ctx.logger,
    );
    let parallelism = store.parallelism();
    let prepare = |jobs: &[RebaseJob]| {
        parallel_map(jobs.iter().collect(), parallelism, |j| rebaser.prepare(j))
    };
    // The reference reads registry images with the starting user's credentials; the
    // daemon's (and layouts) as the build user.
    let early = matches!(store, Store::Registry(_)).then(|| prepare(&jobs));
    // The reference's form fails here, before it drops privileges.
    if let Some([Err(_)]) = early.as_deref() {
        let err = early
            .into_iter()
            .flatten()
            .next()
            .expect("one job")
            .expect_err("failed");
        return Err(Failure::failed_to(err.exit_code(), err.action(), err));
    }
    let volumes: Vec<&Path> = store.work_dir().into_iter().collect();
    super::become_build_user(ctx, &volumes)?;
    let prepared = early.unwrap_or_else(|| prepare(&jobs));
    let outcomes = parallel_map(prepared, parallelism, |p: Result<Prepared, RebaseError>| {
        p.and_then(|p| rebaser.finish(p))
    });
    report(ctx, outcomes)
}

/// Writes report.toml and turns the outcomes into the exit status: the reference's
/// report and error for one image; for several, one `[[image]]` table each and every
/// failure logged.
fn report(ctx: &Context, outcomes: Vec<Result<ImageReport, RebaseError>>) -> Result<(), Failure> {
    let path = Path::new(&ctx.inputs.report_path);
    let write_failed = |e: &dyn std::fmt::Display| {
        Failure::failed_to(REBASE_ERROR, "write rebase report", anyhow!("{e}"))
    };
    if outcomes.len() == 1 {
        let outcome = outcomes.into_iter().next().expect("one outcome");
        let image = outcome.map_err(|e| Failure::failed_to(e.exit_code(), e.action(), e))?;
        let report = Report {
            image,
            ..Report::default()
        };
        return report.write(path).map_err(|e| write_failed(&e));
    }
    let mut images = Vec::new();
    let mut first_failure = None;
    let groups = groups(ctx);
    for (outcome, names) in outcomes.into_iter().zip(&groups) {
        match outcome {
            Ok(image) => images.push(image),
            Err(e) => {
                ctx.logger
                    .error(format!("failed to {} for {}: {e}", e.action(), names[0]));
                first_failure.get_or_insert(e.exit_code());
                images.push(ImageReport::default());
            }
        }
    }
    lifecycle::rebase::write_reports(path, &images).map_err(|e| write_failed(&e))?;
    match first_failure {
        Some(code) => Err(Failure::bare(code, "rebase some images")),
        None => Ok(()),
    }
}

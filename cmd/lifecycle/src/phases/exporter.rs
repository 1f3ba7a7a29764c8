//! `exporter`: validates the images, opens the image store and the cache as the user
//! it started as (root, to reach the Docker socket or fix volume ownership), drops to
//! the build user, exports, and writes the report.

use std::path::{Path, PathBuf};

use anyhow::anyhow;
use buildpack_api::api::ApiVersion;
use lifecycle::cache::volume::{Owner, VolumeCache};
use lifecycle::export::extensions::{self, ExtendedRunImage};
use lifecycle::export::{self, CacheTarget, ExportInputs};
use lifecycle::image::layout::LayoutStore;
use lifecycle::image::reference::Reference;
use lifecycle::image::registry_store::RegistryStore;
use lifecycle::image::{ContainerConfig, ImageStore};
use platform_api::exit::{EXPORT_ERROR, FAILED, INVALID_ARGS};
use platform_api::experimental::FEATURE_DOCKERFILES;
use platform_api::files::analyzed::Analyzed;
use platform_api::files::group;
use platform_api::files::project_metadata::ProjectMetadata;
use platform_api::files::run::{Run, RunImageForExport};
use platform_api::files::stack::Stack;
use platform_api::flags::Phase;
use platform_api::labels::{GitMetadata, LauncherMetadata, SourceMetadata};

use super::{PhaseCommand, guard_layout, nothing};
use crate::driver::Context;
use crate::failure::Failure;
use crate::version::VERSION;

/// The exporter.
pub static COMMAND: PhaseCommand = PhaseCommand {
    phase: Phase::Export,
    validate,
    privileges: nothing,
    exec,
};

/// The repository the launcher's source is recorded as.
const SCM_REPOSITORY: &str = "github.com/buildpacks/lifecycle";

fn validate(ctx: &Context) -> Result<(), Failure> {
    let i = &ctx.inputs;
    let invalid = |e: anyhow::Error| Failure::failed_to(INVALID_ARGS, "resolve inputs", e);
    let analyzed = read_analyzed(ctx).map_err(invalid)?;
    if analyzed.run_image_ref().is_empty() {
        return Err(invalid(anyhow!("run image not found in analyzed metadata")));
    }
    if !i.cache_image_ref.is_empty() {
        Reference::parse(&i.cache_image_ref).map_err(|e| invalid(e.into()))?;
    }
    let names = names(ctx);
    let mut registries = Vec::new();
    for name in &names {
        let reference = Reference::parse(name).map_err(|e| invalid(e.into()))?;
        if !registries.contains(&reference.registry().to_string()) {
            registries.push(reference.registry().to_string());
        }
    }
    if !i.use_daemon && registries.len() > 1 {
        return Err(invalid(anyhow!(
            "writing to multiple registries is unsupported"
        )));
    }
    guard_layout(ctx)
}

/// The output image and its additional tags.
fn names(ctx: &Context) -> Vec<String> {
    let i = &ctx.inputs;
    std::iter::once(i.output_image_ref.clone())
        .chain(i.additional_tags.iter().cloned())
        .collect()
}

fn read_analyzed(ctx: &Context) -> anyhow::Result<Analyzed> {
    let path = Path::new(&ctx.inputs.analyzed_path);
    match Analyzed::read_optional(path)? {
        Some(analyzed) => Ok(analyzed),
        None => {
            ctx.logger.warn(format!(
                "No analyzed metadata found at path {:?}",
                path.display().to_string()
            ));
            Ok(Analyzed::default())
        }
    }
}

fn exec(ctx: &Context) -> Result<(), Failure> {
    let i = &ctx.inputs;
    // Everything that needs the starting user's rights comes first.
    let opened = open(ctx)?;
    super::become_build_user(
        ctx,
        &[
            Path::new(&i.cache_dir),
            Path::new(&i.launch_cache_dir),
            opened.work.path(),
        ],
    )?;
    export(ctx, &opened)
}

/// What the exporter opens as the user it started as (root, to reach the Docker socket
/// and the credentials), before privileges are dropped.
pub(crate) struct Opened {
    /// Scratch directory for layer files, removed when dropped.
    pub work: tempfile::TempDir,
    /// The app image's store.
    pub store: Box<dyn ImageStore>,
    /// The registry, for a cache image.
    pub cache_registry: Box<dyn ImageStore>,
}

/// Opens the scratch directory, the image store and the registry for the cache image.
pub(crate) fn open(ctx: &Context) -> Result<Opened, Failure> {
    let work = tempfile::Builder::new()
        .prefix("lifecycle.exporter.layer")
        .tempdir()
        .map_err(|e| Failure::failed_to(FAILED, "create temp directory", e))?;
    let store = crate::stores::app_store(ctx, work.path())
        .map_err(|e| Failure::failed_to(FAILED, "initialize image store", e))?;
    let cache_registry: Box<dyn ImageStore> = Box::new(RegistryStore::new(
        crate::stores::registry_client(ctx)
            .map_err(|e| Failure::failed_to(FAILED, "create image cache", e))?,
    ));
    Ok(Opened {
        work,
        store,
        cache_registry,
    })
}

/// Exports the app image and the cache with what [`open`] opened, as the build user,
/// and writes the report.
pub(crate) fn export(ctx: &Context, opened: &Opened) -> Result<(), Failure> {
    let i = &ctx.inputs;
    let group = group::read(Path::new(&i.group_path)).map_err(|e| Failure::new(FAILED, e))?;
    lifecycle::build::verify_buildpack_apis(&group, ctx.deprecation_mode(), &ctx.logger)
        .map_err(|e| Failure::new(e.exit_code(), e))?;
    let cache = open_cache(ctx, opened.cache_registry.as_ref())?;
    guard_extended_layers(ctx)?;
    let inputs = export_inputs(ctx, group.group).map_err(|e| Failure::new(FAILED, e))?;
    let extended_config = extended_config(ctx, &inputs.analyzed)
        .map_err(|e| Failure::failed_to(FAILED, "get extended image config", e))?;
    let inputs = ExportInputs {
        work_dir: opened.work.path().to_path_buf(),
        extended_config,
        ..inputs
    };
    log_previous_image(ctx, inputs.analyzed.previous_image_ref());
    let report = export::run(
        &inputs,
        opened.store.as_ref(),
        cache,
        i.parallel_export,
        &ctx.logger,
    )
    .map_err(|e| Failure::failed_to(e.exit_code(), "export", e))?;
    report
        .write(Path::new(&i.report_path))
        .map_err(|e| Failure::failed_to(EXPORT_ERROR, "write export report", e))
}

/// Says which image layers are reused from, in each store's words (as the reference
/// does when it opens the app image).
fn log_previous_image(ctx: &Context, previous: &str) {
    let i = &ctx.inputs;
    if i.use_layout {
        let path = previous.split_once('@').map_or(previous, |(p, _)| p);
        if !previous.is_empty() {
            ctx.logger
                .info(format!("Reusing layers from image '{path}'"));
        }
        let app = LayoutStore::new(&i.layout_dir).display_name(&i.output_image_ref);
        ctx.logger.info(format!("Using app image: {app}\n"));
    } else if previous.is_empty() {
    } else if i.use_daemon {
        ctx.logger
            .debug(format!("Reusing layers from image with id '{previous}'"));
    } else {
        ctx.logger
            .info(format!("Reusing layers from image '{previous}'"));
    }
}

/// Extension layers are experimental below Platform API 0.13: allowed, warned about or
/// refused per `CNB_EXPERIMENTAL_MODE`.
fn guard_extended_layers(ctx: &Context) -> Result<(), Failure> {
    let i = &ctx.inputs;
    if i.extended_dir.is_empty()
        || i.platform_api >= ApiVersion::new(0, 13)
        || !extensions::has_extended_layers(Path::new(&i.extended_dir))
    {
        return Ok(());
    }
    super::guard_experimental(ctx, FEATURE_DOCKERFILES)
}

/// The extended run image's config, when the run image was extended (Platform API
/// 0.12+, not in layout mode).
fn extended_config(ctx: &Context, analyzed: &Analyzed) -> anyhow::Result<Option<ContainerConfig>> {
    let i = &ctx.inputs;
    if i.platform_api < ApiVersion::new(0, 12) || i.use_layout {
        return Ok(None);
    }
    let run_image = analyzed
        .run_image
        .as_ref()
        .ok_or_else(|| anyhow!("missing analyzed run image"))?;
    if !run_image.extend {
        return Ok(None);
    }
    let image = ExtendedRunImage::read(Path::new(&i.extended_dir))?
        .ok_or_else(|| anyhow!("missing extended run image"))?;
    if !i.use_daemon {
        ctx.logger.debug("Using config from extensions...");
    }
    Ok(Some(image.config.config))
}

fn open_cache<'a>(
    ctx: &Context,
    registry: &'a dyn ImageStore,
) -> Result<Option<CacheTarget<'a>>, Failure> {
    let i = &ctx.inputs;
    if !i.cache_image_ref.is_empty() {
        // A cache image that cannot be read (other than absent) fails now, as in the
        // reference, not as a warning after the export.
        registry
            .read(&i.cache_image_ref)
            .map_err(|e| Failure::failed_to(FAILED, "create image cache", e))?;
        return Ok(Some(CacheTarget::Image {
            store: registry,
            name: i.cache_image_ref.clone(),
        }));
    }
    if i.cache_dir.is_empty() {
        return Ok(None);
    }
    let owner = Owner {
        uid: i.uid as u32,
        gid: i.gid as u32,
    };
    VolumeCache::open(&i.cache_dir, Some(owner))
        .map(|c| Some(CacheTarget::Volume(c)))
        .map_err(|e| Failure::failed_to(FAILED, "create volume cache", e))
}

/// The run image name and mirrors recorded in the image (the reference's
/// `GetRunImageForExport`).
fn run_image_for_export(ctx: &Context, analyzed: &Analyzed) -> anyhow::Result<RunImageForExport> {
    let i = &ctx.inputs;
    if i.platform_api < ApiVersion::new(0, 12) {
        return Ok(Stack::read_optional(Path::new(&i.stack_path))?
            .unwrap_or_default()
            .run_image);
    }
    let run = Run::read_optional(Path::new(&i.run_path))?.unwrap_or_default();
    if run.images.is_empty() {
        return Ok(RunImageForExport::default());
    }
    if let Some(found) = run.find(analyzed.run_image_image()) {
        return Ok(found.clone());
    }
    let metadata = platform_api::launch::metadata_path(&super::layers_dir(i));
    let build = platform_api::files::metadata::BuildMetadata::read(&metadata, i.platform_api)?;
    if !build.extensions.is_empty() {
        return Ok(RunImageForExport {
            image: analyzed.run_image_image().to_string(),
            ..Default::default()
        });
    }
    Ok(run.images[0].clone())
}

fn export_inputs(
    ctx: &Context,
    group: Vec<buildpack_api::group::GroupElement>,
) -> anyhow::Result<ExportInputs> {
    let i = &ctx.inputs;
    let analyzed = read_analyzed(ctx)?;
    let project_metadata =
        ProjectMetadata::read_optional(Path::new(&i.project_metadata_path))?.unwrap_or_default();
    let epoch = ctx.process.env.get("SOURCE_DATE_EPOCH");
    let source_date_epoch = match epoch {
        v if !v.is_empty() && i.platform_api >= ApiVersion::new(0, 9) => match v.parse() {
            Ok(secs) => Some(secs),
            Err(_) => {
                ctx.logger.warn("Ignoring invalid SOURCE_DATE_EPOCH");
                None
            }
        },
        _ => None,
    };
    let commit = VERSION.split_once('+').map_or("", |(_, c)| c);
    Ok(ExportInputs {
        platform_api: i.platform_api,
        run_image_for_export: run_image_for_export(ctx, &analyzed)?,
        group,
        analyzed,
        layers_dir: super::layers_dir(i),
        app_dir: PathBuf::from(&i.app_dir),
        launcher_path: PathBuf::from(&i.launcher_path),
        lifecycle_sbom_dir: PathBuf::from(export::sbom::DEFAULT_SBOM_DIR),
        launcher_sbom_dir: PathBuf::from(&i.launcher_sbom_dir),
        project_metadata,
        default_process_type: i.default_process_type.clone(),
        exec_env: i.exec_env.clone(),
        names: names(ctx),
        uid: i.uid as u32,
        gid: i.gid as u32,
        source_date_epoch,
        launcher_metadata: LauncherMetadata {
            version: VERSION
                .split_once('+')
                .map_or(VERSION, |(v, _)| v)
                .to_string(),
            source: SourceMetadata {
                git: GitMetadata {
                    repository: SCM_REPOSITORY.into(),
                    commit: commit.into(),
                },
            },
        },
        work_dir: PathBuf::new(),
        extended_dir: (i.platform_api >= ApiVersion::new(0, 12) && !i.extended_dir.is_empty())
            .then(|| PathBuf::from(&i.extended_dir)),
        extended_config: None,
    })
}

//! The app image: the run image, then every layer the exporter adds or reuses, in the
//! reference's order, then config and save.

use buildpack_api::api::ApiVersion;
use platform_api::files::metadata::BuildMetadata;
use platform_api::files::report::Report;
use platform_api::files::stack::Stack;
use platform_api::labels::{BuildpackLayersMetadata, LayerMetadata, LayersMetadata};

use super::produce::{Forms, Maker, Memo, Produced};
use super::{ExportError, ExportInputs, config, extensions, save, sbom};
use crate::image::{History, Image, ImageStore, LayerFormat, NORMALIZED_TIME, StoredImage};
use crate::layer::{self, LayerSource, Owner};
use crate::layers_dir::BuildpackLayersDir;
use crate::log::Logger;
use crate::unchanged::{IndexedLayer, LayerIndex};

const LAUNCHER_ID: &str = "buildpacksio/lifecycle:launcher";
const CONFIG_ID: &str = "buildpacksio/lifecycle:config";
const PROCESS_TYPES_ID: &str = "buildpacksio/lifecycle:process-types";
const LAUNCH_SBOM_ID: &str = "buildpacksio/lifecycle:launch.sbom";

/// A layer to add to the image.
struct Job {
    /// Identifier in messages (`<bp>:<layer>`, `buildpacksio/lifecycle:…`, `slice-N`).
    id: String,
    /// What makes it.
    source: LayerSource,
    /// History `created_by`.
    created_by: String,
    /// Diff IDs of the previous image it may be reused from.
    previous: Vec<String>,
    /// Whether the volume cache will want its tar too.
    cached: bool,
    /// A buildpack layer's place in the layer index, to skip hashing it when it is
    /// proven unchanged and to record it when it is hashed.
    indexed: Option<IndexedLayer>,
}

/// What happened to a job.
enum Outcome {
    /// The previous image's layer with this diff ID.
    Reused(String),
    /// A new layer.
    Added(Box<Produced>),
}

/// Exports the image (not the cache) and returns the report.
pub(super) fn export_image(
    inputs: &ExportInputs,
    store: &dyn ImageStore,
    memo: &Memo,
    with_cache: bool,
    logger: &Logger,
) -> Result<Report, ExportError> {
    let api = inputs.platform_api;
    if api >= ApiVersion::new(0, 11) {
        sbom::copy_lifecycle_sboms(
            &inputs.layers_dir,
            &inputs.lifecycle_sbom_dir,
            &inputs.launcher_sbom_dir,
            logger,
        )?;
    }
    let run_ref = inputs.analyzed.run_image_ref();
    let run = read_required(store, run_ref, "run image")?;
    let previous = match inputs.analyzed.previous_image_ref() {
        "" => None,
        name => store
            .read(name)
            .map_err(|e| ExportError::access("create new app image", e))?,
    };
    let orig = &inputs.analyzed.metadata;

    let mut meta = LayersMetadata::default();
    meta.run_image.top_layer = run.image.top_layer().to_string();
    meta.run_image.reference = run.identifier.clone();
    if api >= ApiVersion::new(0, 12) {
        meta.run_image.image = inputs.run_image_for_export.image.clone();
        meta.run_image.mirrors = inputs.run_image_for_export.mirrors.clone();
    }
    // The run image is always copied into the deprecated stack key, as the reference does.
    meta.stack = Some(Stack {
        run_image: inputs.run_image_for_export.clone(),
    });

    let metadata_path = platform_api::launch::metadata_path(&inputs.layers_dir);
    let build = BuildMetadata::read(&metadata_path, api).map_err(|e| ExportError::File {
        context: "read build metadata".into(),
        message: e.to_string(),
    })?;

    let owner = Owner {
        uid: inputs.uid,
        gid: inputs.gid,
    };
    let layer_error = |id: &str| {
        let id = id.to_string();
        move |e: layer::LayerError| ExportError::Layer {
            id,
            message: e.to_string(),
        }
    };
    let maker = Maker {
        work_dir: &inputs.work_dir,
        memo,
        upload: Some((store, &inputs.names)),
        logger,
    };
    let index = LayerIndex::new(&inputs.layers_dir);
    let tar_store = store.layer_format() == LayerFormat::Tar;

    // The run image as it is: config, layers and manifest annotations.
    let mut image = run.image.clone();
    if let Some(extended) = &inputs.extended_config {
        image.config.config = extended.clone();
    }
    // The layers extensions added to the run image, right above it.
    let mut jobs: Vec<Job> = extensions::layers(inputs)?
        .into_iter()
        .map(|layer| Job {
            source: LayerSource::tarball(&layer.blob),
            id: layer.id,
            created_by: layer.created_by,
            previous: Vec::new(),
            cached: false,
            indexed: None,
        })
        .collect();
    let extensions_end = jobs.len();
    // Metadata-only layers are placed by index into the job list once jobs are done.
    let mut reused_by_sha = Vec::new();

    // Buildpack launch layers.
    for bp in &inputs.group {
        let dir = read_layers_dir(inputs, &bp.id)?;
        logger.debug(format!(
            "Processing buildpack directory: {}",
            dir.path.display()
        ));
        let mut bp_meta = BuildpackLayersMetadata {
            id: bp.id.clone(),
            version: bp.version.clone(),
            store: dir.store_metadata(),
            ..Default::default()
        };
        let orig_bp = orig.for_buildpack(&bp.id);
        for (layer, record) in dir.launch_layers() {
            logger.debug(format!("Processing launch layer: {}", layer.path.display()));
            let created_by = format!(
                "Layer: '{}', Created by buildpack: {}@{}",
                layer.name, bp.id, bp.version
            );
            let orig_layer = orig_bp.and_then(|b| b.layers.get(&layer.name));
            if layer.has_contents() {
                jobs.push(Job {
                    id: layer.identifier.clone(),
                    source: LayerSource::dir(&layer.path, owner)
                        .map_err(layer_error(&layer.identifier))?,
                    created_by,
                    previous: orig_layer.map(|l| vec![l.sha.clone()]).unwrap_or_default(),
                    cached: with_cache && record.content.types.cache,
                    indexed: Some(index.layer(&layer.path, owner, &bp.id, &layer.name)),
                });
                // The sha is filled in when the job is done.
                bp_meta
                    .layers
                    .insert(layer.name.clone(), record.to_label(""));
            } else {
                if record.content.types.cache {
                    return Err(ExportError::CacheWithoutContents(layer.identifier.clone()));
                }
                let orig_layer = orig_layer
                    .ok_or_else(|| ExportError::NoPreviousMetadata(layer.identifier.clone()))?;
                bp_meta
                    .layers
                    .insert(layer.name.clone(), record.to_label(&orig_layer.sha));
                reused_by_sha.push((
                    jobs.len(),
                    layer.identifier.clone(),
                    orig_layer.sha.clone(),
                    created_by,
                ));
            }
        }
        meta.buildpacks.push(bp_meta);
        let malformed = dir.malformed();
        if !malformed.is_empty() {
            return Err(ExportError::MalformedLayers(
                malformed.into_iter().map(String::from).collect(),
            ));
        }
    }

    // The launch SBOM layer.
    let sbom_dir = inputs.layers_dir.join("sbom/launch");
    let has_sbom = api >= ApiVersion::new(0, 8) && sbom_dir.is_dir();
    if has_sbom {
        logger.debug(format!(
            "Found SBOM of type launch for at {}",
            sbom_dir.display()
        ));
        jobs.push(Job {
            id: LAUNCH_SBOM_ID.into(),
            source: LayerSource::dir(&sbom_dir, owner).map_err(layer_error(LAUNCH_SBOM_ID))?,
            created_by: "Software Bill-of-Materials".into(),
            previous: orig.sbom.iter().map(|s| s.sha.clone()).collect(),
            cached: false,
            indexed: None,
        });
    }

    // App slices, then the rest of the app.
    logger.debug("Adding app layers");
    let app_start = jobs.len();
    let app_layers = layer::app_slices(&inputs.app_dir, &build.slices, owner).map_err(|e| {
        ExportError::File {
            context: "exporting app layers: creating app layers".into(),
            message: e.to_string(),
        }
    })?;
    let slices = app_layers.len();
    for (i, source) in app_layers.into_iter().enumerate() {
        let last = i + 1 == slices;
        jobs.push(Job {
            id: format!("slice-{}", i + 1),
            source,
            created_by: if last && slices == 1 {
                "Application Layer".into()
            } else {
                format!("Application Slice: {}", i + 1)
            },
            previous: orig.app.iter().map(|l| l.sha.clone()).collect(),
            cached: false,
            indexed: None,
        });
    }
    let app_end = jobs.len();

    // The launcher, its config and the process types.
    jobs.push(Job {
        id: LAUNCHER_ID.into(),
        source: LayerSource::launcher(&inputs.launcher_path),
        created_by: "Buildpacks Application Launcher".into(),
        previous: vec![orig.launcher.sha.clone()],
        cached: false,
        indexed: None,
    });
    jobs.push(Job {
        id: CONFIG_ID.into(),
        source: LayerSource::dir(&inputs.layers_dir.join("config"), owner)
            .map_err(layer_error(CONFIG_ID))?,
        created_by: "Buildpacks Launcher Config".into(),
        previous: vec![orig.config.sha.clone()],
        cached: false,
        indexed: None,
    });
    if !build.processes.is_empty() {
        let types = build.processes.iter().map(|p| p.process_type.as_str());
        jobs.push(Job {
            id: PROCESS_TYPES_ID.into(),
            source: LayerSource::process_types(types).map_err(layer_error(PROCESS_TYPES_ID))?,
            created_by: "Buildpacks Process Types".into(),
            previous: vec![orig.process_types.sha.clone()],
            cached: false,
            indexed: None,
        });
    }

    let outcomes = run_jobs(&maker, &jobs, previous.as_ref(), tar_store)?;

    // Assemble in order, logging as the reference does.
    let history = |created_by: &str| History::new(NORMALIZED_TIME, created_by);
    let mut reused_iter = reused_by_sha.into_iter().peekable();
    let mut app_reused = 0;
    for (index, (job, outcome)) in jobs.iter().zip(&outcomes).enumerate() {
        while let Some((_, id, sha, created_by)) = reused_iter.next_if(|(at, ..)| *at == index) {
            reuse_by_sha(
                &mut image,
                previous.as_ref(),
                &id,
                &sha,
                &created_by,
                logger,
            )?;
        }
        let in_app = (app_start..app_end).contains(&index);
        // Extension layers (always new) are added silently and recorded nowhere.
        let extension = index < extensions_end;
        let diff_id = match outcome {
            Outcome::Reused(diff_id) => {
                if in_app {
                    app_reused += 1;
                } else {
                    logger.info(format!("Reusing layer '{}'\n", job.id));
                }
                let layer = previous
                    .as_ref()
                    .and_then(|p| p.image.layer(diff_id))
                    .expect("reuse only from the previous image")
                    .clone();
                image.push_layer(layer, history(&job.created_by));
                diff_id.clone()
            }
            Outcome::Added(produced) => {
                if !in_app && !extension {
                    logger.info(format!("Adding layer '{}'\n", job.id));
                }
                let layer = produced
                    .layer(image.family, tar_store)
                    .expect("produced in the store's form");
                image.push_layer(layer, history(&job.created_by));
                produced.diff_id.clone()
            }
        };
        if extension {
            continue;
        }
        logger.debug(format!("Layer '{}' SHA: {diff_id}\n", job.id));
        record_sha(&mut meta, job, &diff_id, in_app);
        if index + 1 == app_end {
            log_app_summary(app_reused, app_end - app_start, logger);
        }
    }
    for (_, id, sha, created_by) in reused_iter {
        reuse_by_sha(
            &mut image,
            previous.as_ref(),
            &id,
            &sha,
            &created_by,
            logger,
        )?;
    }

    config::set_labels(&mut image.config.config, inputs, &meta, &build, logger)?;
    config::set_env(&mut image.config.config, inputs, logger);
    config::set_entrypoint(&mut image.config.config, inputs, &build, logger)?;
    let created = match (api >= ApiVersion::new(0, 9), inputs.source_date_epoch) {
        (true, Some(epoch)) => crate::image::model::rfc3339(epoch),
        _ => NORMALIZED_TIME.to_string(),
    };
    image.set_created(&created, api >= ApiVersion::new(0, 12));

    let mut report = Report::default();
    if api < ApiVersion::new(0, 9) {
        report.build = super::save::legacy_build_report(&inputs.layers_dir, &inputs.group)?;
    }
    report.image = save::save(store, &image, &inputs.names, logger)?;
    Ok(report)
}

/// A buildpack's layers directory, its failure worded as the reference's.
pub(super) fn read_layers_dir(
    inputs: &ExportInputs,
    id: &str,
) -> Result<BuildpackLayersDir, ExportError> {
    BuildpackLayersDir::read(&inputs.layers_dir, id).map_err(|e| ExportError::File {
        context: format!("reading layers for buildpack '{id}'"),
        message: e.to_string(),
    })
}

/// How many app layers were reused and added, right after the app layers (as the
/// reference logs it, before the launcher layers).
fn log_app_summary(reused: usize, total: usize, logger: &Logger) {
    if reused > 0 {
        logger.info(format!("Reused {reused}/{total} app layer(s)\n"));
    }
    if total - reused != 0 {
        logger.info(format!("Added {}/{total} app layer(s)\n", total - reused));
    }
}

fn read_required(
    store: &dyn ImageStore,
    name: &str,
    what: &str,
) -> Result<StoredImage, ExportError> {
    store
        .read(name)
        .map_err(|e| ExportError::access(format!("get {what}"), e))?
        .ok_or_else(|| ExportError::MissingImage(format!("{what} '{name}' not found")))
}

fn reuse_by_sha(
    image: &mut Image,
    previous: Option<&StoredImage>,
    id: &str,
    sha: &str,
    created_by: &str,
    logger: &Logger,
) -> Result<(), ExportError> {
    logger.info(format!("Reusing layer '{id}'\n"));
    logger.debug(format!("Layer '{id}' SHA: {sha}\n"));
    let layer = previous.and_then(|p| p.image.layer(sha)).ok_or_else(|| {
        ExportError::MissingPreviousLayer {
            id: id.to_string(),
            sha: sha.to_string(),
        }
    })?;
    image.push_layer(layer.clone(), History::new(NORMALIZED_TIME, created_by));
    Ok(())
}

/// Records a job's diff ID in the lifecycle metadata.
fn record_sha(meta: &mut LayersMetadata, job: &Job, diff_id: &str, in_app: bool) {
    let sha = LayerMetadata {
        sha: diff_id.to_string(),
    };
    match job.id.as_str() {
        LAUNCHER_ID => meta.launcher = sha,
        CONFIG_ID => meta.config = sha,
        PROCESS_TYPES_ID => meta.process_types = sha,
        LAUNCH_SBOM_ID => meta.sbom = Some(sha),
        _ if in_app => meta.app.push(sha),
        id => {
            // Buildpack IDs have no ':', layer names may.
            let (bp, name) = id.split_once(':').expect("buildpack layer identifier");
            if let Some(layer) = meta
                .buildpacks
                .iter_mut()
                .rfind(|b| b.id == bp)
                .and_then(|b| b.layers.get_mut(name))
            {
                layer.sha = diff_id.to_string();
            }
        }
    }
}

/// Makes every job's layer, in parallel: a job with a previous diff ID is hashed first
/// and reused when it matches; otherwise it is made in the store's form in one pass.
fn run_jobs(
    maker: &Maker<'_>,
    jobs: &[Job],
    previous: Option<&StoredImage>,
    tar_store: bool,
) -> Result<Vec<Outcome>, ExportError> {
    let forms = |job: &Job| Forms {
        gzip: !tar_store,
        tar: tar_store || job.cached,
    };
    let reusable = |diff_id: &str, job: &Job| {
        job.previous.iter().any(|p| p == diff_id)
            && previous.is_some_and(|p| p.image.layer(diff_id).is_some())
    };
    let one = |job: &Job| -> Result<Outcome, ExportError> {
        let candidates = job.previous.iter().any(|p| !p.is_empty()) && previous.is_some();
        if candidates {
            let diff_id = maker.diff_id(&job.id, &job.source, job.indexed.as_ref())?;
            if reusable(&diff_id, job) {
                return Ok(Outcome::Reused(diff_id));
            }
        }
        let produced = maker.produce(&job.id, &job.source, forms(job), job.indexed.as_ref())?;
        Ok(Outcome::Added(Box::new(produced)))
    };
    let workers = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(jobs.len().max(1));
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: Vec<std::sync::Mutex<Option<Result<Outcome, ExportError>>>> =
        jobs.iter().map(|_| std::sync::Mutex::new(None)).collect();
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(job) = jobs.get(i) else { break };
                    *results[i].lock().expect("result slot") = Some(one(job));
                }
            });
        }
    });
    results
        .into_iter()
        .map(|r| r.into_inner().expect("result slot").expect("every job ran"))
        .collect()
}

//! The rebase phase: puts an app image on a new run image without rebuilding it.
//!
//! The layers up to the recorded `runImage.topLayer` are the old run image's; they are
//! replaced by the new run image's layers and every layer above is kept as it is
//! (stored layers are referenced, never read: a registry mounts or finds them, a
//! layout links them). The lifecycle metadata label records the new top layer and
//! reference, the run image's `io.buildpacks.stack.*` / `io.buildpacks.base.*` labels
//! replace the app's, and the result is saved under every name.
//!
//! A call takes a list of [`RebaseJob`]s and runs them concurrently (a platform rebases
//! many images after a run image fix); each new run image is read once for all of them.
//! [`Rebaser::prepare`] (read the app image, choose the run image) and
//! [`Rebaser::finish`] (validate, rebase, save) are separate so a caller can do the
//! first with privileges it drops before the second, as the reference does.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use buildpack_api::api::ApiVersion;
use platform_api::files::report::ImageReport;
use platform_api::files::target::TargetMetadata;
use platform_api::labels::{
    BASE_PREFIX, LIFECYCLE_METADATA, LayersMetadata, REBASABLE, STACK_ID, STACK_MIXINS,
    STACK_PREFIX,
};

use crate::image::oci::MediaFamily;
use crate::image::reference::Reference;
use crate::image::{Image, ImageStore, NORMALIZED_TIME, StoreError, StoredImage};
use crate::log::Logger;
use crate::run_image::{RunImageError, best_mirror};

/// How the reference asks to override a failed check.
const PROVIDE_FORCE: &str = "please provide -force to override";
/// The app image's `io.buildpacks.rebasable` is `false`.
const NOT_REBASABLE: &str = "app image is not marked as rebasable";

/// One image to rebase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RebaseJob {
    /// The app image to read (`-previous-image`, else the first name).
    pub app_image: String,
    /// The names to save the result under: the output image, then additional tags.
    pub names: Vec<String>,
    /// The new run image; `None` to choose it among the run image and mirrors the app
    /// image records (checklist §7).
    pub run_image: Option<String>,
}

/// A job whose app image has been read and whose run image is chosen.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The app image.
    pub app: StoredImage,
    /// Its lifecycle metadata label.
    pub metadata: LayersMetadata,
    /// The new run image's name.
    pub run_image: String,
    /// The names to save the result under.
    pub names: Vec<String>,
}

/// Why a rebase failed; [`RebaseError::action`] and [`RebaseError::exit_code`] say how
/// the reference reports it.
#[derive(Debug, thiserror::Error)]
pub enum RebaseError {
    /// The app image does not exist.
    #[error("failed to access image to rebase")]
    AppImageMissing,
    /// The app image could not be read.
    #[error("failed to access image to rebase: {0}")]
    AppImage(StoreError),
    /// A label of an image is not valid JSON.
    #[error("failed to unmarshal context of label '{label}': {cause}")]
    Label {
        /// The label.
        label: &'static str,
        /// The parse error.
        cause: String,
    },
    /// No run image was given and the app image records none.
    #[error(
        "failed to parse arguments: -run-image is required when there is no run image metadata available"
    )]
    NoRunImageMetadata,
    /// No recorded run image or mirror can be read.
    #[error(transparent)]
    RunImageChoice(#[from] RunImageError),
    /// The new run image does not exist.
    #[error("failed to access run image")]
    RunImageMissing,
    /// The new run image could not be read.
    #[error("failed to access run image: {0}")]
    RunImage(StoreError),
    /// The app image cannot be put on the new run image (stack, mixins, target,
    /// rebasable label, recorded run image names).
    #[error("{0}")]
    Incompatible(String),
    /// The app image does not contain the layer its metadata names as the run image's
    /// top layer.
    #[error("rebase app image: could not find base layer {0} in image")]
    TopLayerNotFound(String),
    /// The image could not be saved at all.
    #[error("saving image: {0}")]
    Store(StoreError),
    /// Some names could not be saved.
    #[error("failed to write image to the following tags: {}", .0.iter().map(|(n, c)| format!("[{n}: {c}]")).collect::<Vec<_>>().join(","))]
    Save(Vec<(String, String)>),
}

impl RebaseError {
    /// What was being done, for `failed to <action>: <error>`.
    pub fn action(&self) -> &'static str {
        match self {
            Self::AppImageMissing
            | Self::AppImage(_)
            | Self::NoRunImageMetadata
            | Self::RunImageChoice(_) => "set app image",
            Self::Label { label, .. } if *label == LIFECYCLE_METADATA => "set app image",
            Self::RunImageMissing | Self::RunImage(_) => "access run image",
            _ => "rebase",
        }
    }

    /// The exit code: 1 when the run image cannot be read, else the rebase error code.
    pub fn exit_code(&self) -> platform_api::exit::ExitCode {
        match self {
            Self::RunImageMissing | Self::RunImage(_) => platform_api::exit::FAILED,
            _ => platform_api::exit::REBASE_ERROR,
        }
    }
}

/// Rebases app images of one store.
pub struct Rebaser<'a> {
    /// Where the app images, run images and results are.
    pub store: &'a dyn ImageStore,
    /// The rebaser's Platform API.
    pub platform_api: ApiVersion,
    /// `-force`: rebase even when the checks say it is unsafe.
    pub force: bool,
    /// Whether a run image candidate can be read (registry access check; always true
    /// for the daemon and layouts).
    pub readable: &'a (dyn Fn(&str) -> bool + Sync),
    /// The logger.
    pub logger: &'a Logger,
    /// New run images read so far, by name, shared by the jobs.
    run_images: Mutex<HashMap<String, RunImageSlot>>,
}

/// A new run image, once read.
type RunImageSlot = Arc<Mutex<Option<Arc<StoredImage>>>>;

impl<'a> Rebaser<'a> {
    /// A rebaser over `store`.
    pub fn new(
        store: &'a dyn ImageStore,
        platform_api: ApiVersion,
        force: bool,
        readable: &'a (dyn Fn(&str) -> bool + Sync),
        logger: &'a Logger,
    ) -> Self {
        Self {
            store,
            platform_api,
            force,
            readable,
            logger,
            run_images: Mutex::new(HashMap::new()),
        }
    }

    /// Reads the app image of `job` and chooses its run image: the one given, else the
    /// best of the run image and mirrors its metadata records for the app image's
    /// registry.
    pub fn prepare(&self, job: &RebaseJob) -> Result<Prepared, RebaseError> {
        let app = self
            .store
            .read(&job.app_image)
            .map_err(RebaseError::AppImage)?
            .ok_or(RebaseError::AppImageMissing)?;
        let label = app.image.config.label(LIFECYCLE_METADATA).unwrap_or("");
        let metadata = LayersMetadata::parse(label).map_err(|e| RebaseError::Label {
            label: LIFECYCLE_METADATA,
            cause: e.to_string(),
        })?;
        let run_image = match &job.run_image {
            Some(name) => name.clone(),
            None => {
                let candidates = if self.platform_api.at_least(0, 12)
                    && !metadata.run_image.image.is_empty()
                {
                    metadata.run_image.for_export()
                } else {
                    match &metadata.stack {
                        Some(stack) if !stack.run_image.image.is_empty() => stack.run_image.clone(),
                        _ => return Err(RebaseError::NoRunImageMetadata),
                    }
                };
                let registry = Reference::parse(&job.app_image)
                    .map(|r| r.registry().to_string())
                    .unwrap_or_default();
                best_mirror(&registry, &candidates, self.readable)?
            }
        };
        Ok(Prepared {
            app,
            metadata,
            run_image,
            names: job.names.clone(),
        })
    }

    /// Validates, rebases and saves a prepared job.
    pub fn finish(&self, prepared: Prepared) -> Result<ImageReport, RebaseError> {
        let run = self.run_image(&prepared.run_image)?;
        let image = self.rebased(prepared.app, prepared.metadata, &prepared.run_image, &run)?;
        save(self.store, &image, &prepared.names, self.logger)
    }

    /// Runs every job, at most `parallelism` at a time, and returns their outcomes in
    /// order; a failed job does not stop the others.
    pub fn rebase_all(
        &self,
        jobs: &[RebaseJob],
        parallelism: usize,
    ) -> Vec<Result<ImageReport, RebaseError>> {
        parallel_map(jobs.iter().collect(), parallelism, |job| {
            self.prepare(job).and_then(|p| self.finish(p))
        })
    }

    /// The new run image `name`, read once for every job that wants it.
    fn run_image(&self, name: &str) -> Result<Arc<StoredImage>, RebaseError> {
        let slot = self
            .run_images
            .lock()
            .expect("run image cache")
            .entry(name.to_string())
            .or_default()
            .clone();
        let mut slot = slot.lock().expect("run image slot");
        if let Some(image) = slot.as_ref() {
            return Ok(image.clone());
        }
        let image = Arc::new(
            self.store
                .read(name)
                .map_err(RebaseError::RunImage)?
                .ok_or(RebaseError::RunImageMissing)?,
        );
        *slot = Some(image.clone());
        Ok(image)
    }

    /// The app image on the new run image, checked and relabelled.
    fn rebased(
        &self,
        app: StoredImage,
        mut metadata: LayersMetadata,
        run_name: &str,
        run: &StoredImage,
    ) -> Result<Image, RebaseError> {
        let app_api = app
            .image
            .config
            .config
            .env_var("CNB_PLATFORM_API")
            .unwrap_or("");
        let old_stack = app_api.is_empty()
            || app_api
                .parse::<ApiVersion>()
                .map_err(|e| {
                    RebaseError::Incompatible(format!("failed to get app image platform API: {e}"))
                })?
                .less_than(0, 12);
        if old_stack {
            check_stack(&app.image, &run.image)?;
            check_mixins(&app.image, &run.image)?;
        } else {
            self.check_target(&app.image, &run.image)?;
        }

        let mut image = put_on(app.image, &metadata.run_image.top_layer, &run.image)?;

        metadata.run_image.top_layer = run.image.top_layer().to_string();
        metadata.run_image.reference = run.identifier.clone();
        if self.platform_api.at_least(0, 12) {
            self.check_recorded_name(&mut metadata, run_name)?;
        }
        let label = metadata
            .to_json()
            .map_err(|e| RebaseError::Incompatible(format!("marshall metadata: {e}")))?;
        let labels = &mut image.config.config.labels;
        labels.insert(LIFECYCLE_METADATA.to_string(), label);
        let synced = |key: &str| {
            key.starts_with(STACK_PREFIX)
                || (self.platform_api.at_least(0, 12) && key.starts_with(BASE_PREFIX))
        };
        labels.retain(|k, _| !synced(k));
        for (k, v) in &run.image.config.config.labels {
            if synced(k) {
                labels.insert(k.clone(), v.clone());
            }
        }
        image.set_created(NORMALIZED_TIME, self.platform_api.at_least(0, 12));
        Ok(image)
    }

    /// Platform API 0.12+ app images: the rebasable label and the target data.
    fn check_target(&self, app: &Image, run: &Image) -> Result<(), RebaseError> {
        if app.config.label(REBASABLE) == Some("false") {
            if !self.force {
                return Err(RebaseError::Incompatible(format!(
                    "{NOT_REBASABLE}; {PROVIDE_FORCE}"
                )));
            }
            self.logger.warn(NOT_REBASABLE);
        }
        let (app_target, run_target) = (target_of(app), target_of(run));
        if !target_satisfied(&run_target, &app_target) {
            let msg = format!(
                "unable to satisfy target os/arch constraints; new run image: {run_target}, old run image: {app_target}"
            );
            if !self.force {
                return Err(RebaseError::Incompatible(format!("{msg}; {PROVIDE_FORCE}")));
            }
            self.logger.warn(msg);
        }
        Ok(())
    }

    /// Platform API 0.12+: the new run image must be the recorded one or a mirror;
    /// with `-force` it becomes the recorded one, without mirrors.
    fn check_recorded_name(
        &self,
        metadata: &mut LayersMetadata,
        run_name: &str,
    ) -> Result<(), RebaseError> {
        let recorded = metadata.run_image.contains(run_name)
            || metadata
                .stack
                .as_ref()
                .is_some_and(|s| s.run_image.contains(run_name));
        if recorded {
            return Ok(());
        }
        let existing = if !metadata.run_image.image.is_empty() {
            serde_json::to_string(&metadata.run_image).unwrap_or_default()
        } else if let Some(stack) = &metadata.stack {
            serde_json::to_string(&stack.run_image).unwrap_or_default()
        } else {
            "not found".to_string()
        };
        let msg = format!(
            "rebase app image: new base image '{run_name}' not found in existing run image metadata: {existing}"
        );
        if !self.force {
            return Err(RebaseError::Incompatible(format!("{msg}; {PROVIDE_FORCE}")));
        }
        self.logger.warn(msg);
        metadata.run_image.image = run_name.to_string();
        metadata.run_image.mirrors.clear();
        metadata.stack = Some(metadata.run_image.to_stack());
        Ok(())
    }
}

/// `app` with every layer up to and including `top_layer` replaced by `run`'s layers:
/// the layers above, their history and the config stay; OS, architecture and variant
/// come from `run`.
fn put_on(app: Image, top_layer: &str, run: &Image) -> Result<Image, RebaseError> {
    let boundary = app
        .layers
        .iter()
        .position(|l| !top_layer.is_empty() && l.diff_id == top_layer)
        .ok_or_else(|| RebaseError::TopLayerNotFound(top_layer.to_string()))?;
    let family = app.family;
    let mut config = app.config;
    let app_history = std::mem::take(&mut config.history);
    config.architecture = run.config.architecture.clone();
    config.os = run.config.os.clone();
    config.variant = run.config.variant.clone();
    config.os_version = run.config.os_version.clone();
    config.os_features = run.config.os_features.clone();
    config.rootfs.diff_ids.clear();
    let mut image = Image {
        family,
        config,
        layers: Vec::new(),
        annotations: app.annotations,
    };
    let run_layers = run.layers.iter().cloned().map(|mut l| {
        // Same gzip bytes under the app image's family of media types.
        if let Some(blob) = &mut l.blob
            && [MediaFamily::Oci, MediaFamily::Docker]
                .iter()
                .any(|f| f.gzip_layer() == blob.media_type)
        {
            blob.media_type = family.gzip_layer().to_string();
        }
        l
    });
    for (layer, history) in run_layers.zip(run.config.history.iter().cloned()) {
        image.push_layer(layer, history);
    }
    let above = app.layers.into_iter().zip(app_history).skip(boundary + 1);
    for (layer, history) in above {
        image.push_layer(layer, history);
    }
    Ok(image)
}

/// Below Platform API 0.12: both images name the same stack.
fn check_stack(app: &Image, run: &Image) -> Result<(), RebaseError> {
    let app_stack = app.config.label(STACK_ID).unwrap_or("");
    let run_stack = run.config.label(STACK_ID).unwrap_or("");
    let fail = |msg: String| Err(RebaseError::Incompatible(msg));
    if app_stack.is_empty() {
        return fail("stack not defined on app image".into());
    }
    if run_stack.is_empty() {
        return fail("stack not defined on new base image".into());
    }
    if app_stack != run_stack {
        return fail(format!(
            "incompatible stack: '{run_stack}' is not compatible with '{app_stack}'"
        ));
    }
    Ok(())
}

/// Below Platform API 0.12: the new run image has every mixin of the app image (stage
/// prefixes ignored).
fn check_mixins(app: &Image, run: &Image) -> Result<(), RebaseError> {
    let mixins = |image: &Image, whose: &str| -> Result<Vec<String>, RebaseError> {
        let text = image.config.label(STACK_MIXINS).unwrap_or("");
        if text.is_empty() {
            return Ok(Vec::new());
        }
        let list: Option<Vec<String>> = serde_json::from_str(text).map_err(|e| {
            RebaseError::Incompatible(format!(
                "get {whose} mixins: failed to unmarshal context of label '{STACK_MIXINS}': {e}"
            ))
        })?;
        Ok(list
            .unwrap_or_default()
            .into_iter()
            .map(|m| match m.split_once(':') {
                Some(("build" | "run", rest)) => rest.to_string(),
                _ => m,
            })
            .collect())
    };
    let wanted = mixins(app, "app image")?;
    let have = mixins(run, "run image")?;
    let mut missing: Vec<String> = wanted.into_iter().filter(|m| !have.contains(m)).collect();
    missing.sort();
    missing.dedup();
    if missing.is_empty() {
        return Ok(());
    }
    Err(RebaseError::Incompatible(format!(
        "missing required mixin(s): {}",
        missing.join(", ")
    )))
}

/// An image's target data (OS, architecture, variant, distribution, ID).
fn target_of(image: &Image) -> TargetMetadata {
    let labels = image
        .config
        .config
        .labels
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let c = &image.config;
    TargetMetadata::from_image(&c.os, &c.architecture, &c.variant, &labels)
}

/// Whether the new run image's target data fits the app image's: OS and architecture
/// equal, and each optional field (variant, distribution name and version) equal when
/// the run image sets it.
fn target_satisfied(run: &TargetMetadata, app: &TargetMetadata) -> bool {
    if run.os != app.os || run.arch != app.arch {
        return false;
    }
    if !run.arch_variant.is_empty()
        && !app.arch_variant.is_empty()
        && run.arch_variant != app.arch_variant
    {
        return false;
    }
    match (&run.distro, &app.distro) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(r), Some(a)) => {
            (r.name.is_empty() || r.name == a.name)
                && (r.version.is_empty() || r.version == a.version)
        }
    }
}

/// Saves `image` under every name and logs the outcome as the reference does (in one
/// piece, so concurrent jobs do not interleave it); fails when any name failed.
fn save(
    store: &dyn ImageStore,
    image: &Image,
    names: &[String],
    logger: &Logger,
) -> Result<ImageReport, RebaseError> {
    let outcome = crate::image::saving::save_and_report(store, image, names, logger)
        .map_err(RebaseError::Store)?;
    if !outcome.failed.is_empty() {
        return Err(RebaseError::Save(outcome.failed));
    }
    Ok(outcome.report)
}

/// `f` over `items` on at most `parallelism` threads (inline for a single item),
/// results in order.
pub fn parallel_map<T: Send, R: Send>(
    items: Vec<T>,
    parallelism: usize,
    f: impl Fn(T) -> R + Sync,
) -> Vec<R> {
    let threads = parallelism.clamp(1, items.len().max(1));
    if threads == 1 {
        return items.into_iter().map(f).collect();
    }
    let next = AtomicUsize::new(0);
    let items: Vec<Mutex<Option<T>>> = items.into_iter().map(|t| Mutex::new(Some(t))).collect();
    let slots: Vec<Mutex<Option<R>>> = items.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(index) else {
                        break;
                    };
                    let item = item.lock().expect("item slot").take().expect("taken once");
                    *slots[index].lock().expect("result slot") = Some(f(item));
                }
            });
        }
    });
    slots
        .into_iter()
        .map(|s| {
            s.into_inner()
                .expect("result slot")
                .expect("every item ran")
        })
        .collect()
}

/// report.toml of a call that rebased several images: one `[[image]]` table per image,
/// in order (empty for an image that failed).
pub fn write_reports(path: &std::path::Path, images: &[ImageReport]) -> std::io::Result<()> {
    #[derive(serde::Serialize)]
    struct Reports<'a> {
        image: &'a [ImageReport],
    }
    let text = toml::to_string(&Reports { image: images }).map_err(std::io::Error::other)?;
    std::fs::write(path, text)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::atomic::AtomicUsize;

    use super::*;
    use crate::image::config::{History, ImageConfig};
    use crate::image::oci::Descriptor;
    use crate::image::{Layer, LayerData, LayerFormat, LayerStream, Origin, Saved};
    use crate::log::Level;

    /// Images in memory; saving records the image under its names.
    #[derive(Default)]
    struct Memory {
        images: Mutex<BTreeMap<String, StoredImage>>,
        reads: AtomicUsize,
    }

    impl ImageStore for Memory {
        fn read(&self, name: &str) -> Result<Option<StoredImage>, StoreError> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            Ok(self.images.lock().unwrap().get(name).cloned())
        }
        fn open_layer(&self, _: &StoredImage, _: &str) -> Result<LayerStream, StoreError> {
            Err(StoreError::Unsupported("layers are never read".into()))
        }
        fn layer_format(&self) -> LayerFormat {
            LayerFormat::Gzip
        }
        fn save(&self, image: &Image, names: &[String]) -> Result<Saved, StoreError> {
            let mut images = self.images.lock().unwrap();
            for name in names {
                let stored = StoredImage {
                    image: image.clone(),
                    identifier: format!("{name}@sha256:saved"),
                };
                images.insert(name.clone(), stored);
            }
            Ok(Saved {
                saved: names.to_vec(),
                digest: Some("sha256:saved".into()),
                ..Saved::default()
            })
        }
    }

    fn image(family: MediaFamily, ids: &[&str], labels: &[(&str, &str)], env: &[&str]) -> Image {
        let origin = Arc::new(Origin::Registry("r/x".into()));
        let mut config = ImageConfig {
            os: "linux".into(),
            architecture: "amd64".into(),
            ..ImageConfig::default()
        };
        config.config.labels = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        config.config.env = env.iter().map(|e| e.to_string()).collect();
        let mut image = Image::new(family, config, Vec::new());
        for id in ids {
            let layer = Layer {
                diff_id: id.to_string(),
                blob: Some(Descriptor::new(
                    family.gzip_layer(),
                    &format!("blob-{id}"),
                    1,
                )),
                data: LayerData::Stored(origin.clone()),
            };
            image.push_layer(layer, History::new("2000-01-01T00:00:00Z", id));
        }
        image
    }

    fn stored(image: Image, id: &str) -> StoredImage {
        StoredImage {
            image,
            identifier: id.into(),
        }
    }

    const APP_ENV: &[&str] = &["CNB_PLATFORM_API=0.15"];

    fn app_labels(top: &str) -> Vec<(&'static str, String)> {
        let meta = format!(
            r#"{{"runImage":{{"topLayer":"{top}","reference":"r/run@sha256:old","image":"r/run:latest","mirrors":["m/run:latest"]}},"launcher":{{"sha":"a1"}}}}"#
        );
        vec![
            (LIFECYCLE_METADATA, meta),
            ("io.buildpacks.base.homepage", "old".into()),
            ("io.buildpacks.stack.id", "s".into()),
            ("some.label", "kept".into()),
        ]
    }

    fn store_with(app_top: &str, run: Image) -> Memory {
        let store = Memory::default();
        let labels = app_labels(app_top);
        let labels: Vec<(&str, &str)> = labels.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let app = image(MediaFamily::Oci, &["b0", "a1", "a2"], &labels, APP_ENV);
        let mut images = store.images.lock().unwrap();
        images.insert("r/app:latest".into(), stored(app, "r/app@sha256:app"));
        images.insert("r/run:latest".into(), stored(run, "r/run@sha256:new"));
        drop(images);
        store
    }

    fn new_run() -> Image {
        let labels = [
            ("io.buildpacks.base.maintainer", "new"),
            ("io.buildpacks.stack.id", "s"),
        ];
        image(MediaFamily::Docker, &["r0", "r1"], &labels, &[])
    }

    fn job(names: &[&str], run: Option<&str>) -> RebaseJob {
        RebaseJob {
            app_image: names[0].into(),
            names: names.iter().map(|n| n.to_string()).collect(),
            run_image: run.map(str::to_string),
        }
    }

    fn rebaser<'a>(store: &'a Memory, force: bool, logger: &'a Logger) -> Rebaser<'a> {
        static ALL: fn(&str) -> bool = |_| true;
        Rebaser::new(store, ApiVersion::new(0, 15), force, &ALL, logger)
    }

    #[test]
    fn replaces_the_run_layers_and_keeps_the_rest() {
        let store = store_with("b0", new_run());
        let logger = Logger::new(Level::Error);
        let r = rebaser(&store, false, &logger);
        let report = r.rebase_all(&[job(&["r/app:latest", "r/app:v2"], None)], 4);
        let report = report.into_iter().next().unwrap().unwrap();
        assert_eq!(report.tags, ["r/app:latest", "r/app:v2"]);
        let out = store.read("r/app:v2").unwrap().unwrap().image;
        let ids: Vec<&str> = out.layers.iter().map(|l| l.diff_id.as_str()).collect();
        assert_eq!(ids, ["r0", "r1", "a1", "a2"]);
        assert_eq!(out.config.rootfs.diff_ids, ids);
        // The run layers take the app's media types.
        assert!(
            out.layers
                .iter()
                .all(|l| l.blob.as_ref().unwrap().media_type == MediaFamily::Oci.gzip_layer())
        );
        let by: Vec<&str> = out
            .config
            .history
            .iter()
            .map(|h| h.created_by.as_str())
            .collect();
        assert_eq!(by, ["r0", "r1", "a1", "a2"]);
        assert_eq!(out.config.created.as_deref(), Some(NORMALIZED_TIME));
        let labels = &out.config.config.labels;
        assert_eq!(labels["io.buildpacks.base.maintainer"], "new");
        assert!(!labels.contains_key("io.buildpacks.base.homepage"));
        assert_eq!(labels["some.label"], "kept");
        let meta = LayersMetadata::parse(&labels[LIFECYCLE_METADATA]).unwrap();
        assert_eq!(meta.run_image.top_layer, "r1");
        assert_eq!(meta.run_image.reference, "r/run@sha256:new");
        assert_eq!(meta.run_image.mirrors, ["m/run:latest"]);
        assert_eq!(meta.launcher.sha, "a1");
    }

    #[test]
    fn fails_clearly_without_the_top_layer() {
        let store = store_with("nowhere", new_run());
        let logger = Logger::new(Level::Error);
        let err = rebaser(&store, true, &logger)
            .rebase_all(&[job(&["r/app:latest"], None)], 1)
            .pop()
            .unwrap()
            .unwrap_err();
        assert!(matches!(err, RebaseError::TopLayerNotFound(ref l) if l == "nowhere"));
        assert_eq!((err.action(), err.exit_code()), ("rebase", 72));
    }

    #[test]
    fn an_unrecorded_run_image_needs_force() {
        let store = store_with("b0", new_run());
        let other = store.read("r/run:latest").unwrap().unwrap();
        store.images.lock().unwrap().insert("o/run:1".into(), other);
        let logger = Logger::new(Level::Error);
        let j = job(&["r/app:latest"], Some("o/run:1"));
        let err = rebaser(&store, false, &logger)
            .rebase_all(std::slice::from_ref(&j), 1)
            .pop()
            .unwrap();
        let msg = err.unwrap_err().to_string();
        assert!(msg.starts_with("rebase app image: new base image 'o/run:1' not found in existing run image metadata: {\"topLayer\":\"r1\""), "{msg}");
        assert!(
            msg.ends_with("; please provide -force to override"),
            "{msg}"
        );
        rebaser(&store, true, &logger)
            .rebase_all(&[j], 1)
            .pop()
            .unwrap()
            .unwrap();
        let out = store.read("r/app:latest").unwrap().unwrap().image;
        let meta = LayersMetadata::parse(out.config.label(LIFECYCLE_METADATA).unwrap()).unwrap();
        assert_eq!(meta.run_image.image, "o/run:1");
        assert!(meta.run_image.mirrors.is_empty());
        assert_eq!(meta.stack.unwrap().run_image.image, "o/run:1");
    }

    #[test]
    fn several_jobs_share_one_read_of_the_run_image() {
        let store = store_with("b0", new_run());
        let app = store.read("r/app:latest").unwrap().unwrap();
        for i in 0..6 {
            store
                .images
                .lock()
                .unwrap()
                .insert(format!("r/app{i}:latest"), app.clone());
        }
        store.reads.store(0, Ordering::SeqCst);
        let logger = Logger::new(Level::Error);
        let jobs: Vec<RebaseJob> = (0..6)
            .map(|i| job(&[&format!("r/app{i}:latest")], Some("r/run:latest")))
            .chain([job(&["r/missing:latest"], None)])
            .collect();
        let outcomes = rebaser(&store, false, &logger).rebase_all(&jobs, 3);
        assert!(outcomes[..6].iter().all(Result::is_ok));
        assert!(matches!(outcomes[6], Err(RebaseError::AppImageMissing)));
        assert_eq!(
            store.reads.load(Ordering::SeqCst),
            6 + 1 + 1,
            "apps, missing, run once"
        );
    }

    #[test]
    fn old_platform_images_need_the_stack_and_mixins() {
        let app = |mixins: &str| {
            image(
                MediaFamily::Oci,
                &["b0"],
                &[(STACK_ID, "s"), (STACK_MIXINS, mixins)],
                &[],
            )
        };
        let run = |stack: &str, mixins: &str| {
            image(
                MediaFamily::Oci,
                &["r0"],
                &[(STACK_ID, stack), (STACK_MIXINS, mixins)],
                &[],
            )
        };
        let msg = |r: Result<(), RebaseError>| r.unwrap_err().to_string();
        assert!(check_stack(&app("[]"), &run("s", "[]")).is_ok());
        assert_eq!(
            msg(check_stack(&app("[]"), &run("t", "[]"))),
            "incompatible stack: 't' is not compatible with 's'"
        );
        assert_eq!(
            msg(check_stack(&app("[]"), &run("", "[]"))),
            "stack not defined on new base image"
        );
        assert!(
            check_mixins(
                &app(r#"["run:a","b"]"#),
                &run("s", r#"["a","build:b","c"]"#)
            )
            .is_ok()
        );
        assert_eq!(
            msg(check_mixins(
                &app(r#"["z","run:a","y"]"#),
                &run("s", r#"["a"]"#)
            )),
            "missing required mixin(s): y, z"
        );
        assert!(msg(check_mixins(&app("nope"), &run("s", "[]"))).starts_with(
            "get app image mixins: failed to unmarshal context of label 'io.buildpacks.stack.mixins'"
        ));
    }

    #[test]
    fn target_fields_left_empty_match_anything() {
        let t =
            |os: &str, arch: &str, variant: &str, distro: Option<(&str, &str)>| TargetMetadata {
                os: os.into(),
                arch: arch.into(),
                arch_variant: variant.into(),
                distro: distro.map(|(n, v)| platform_api::files::target::OsDistro {
                    name: n.into(),
                    version: v.into(),
                }),
                ..TargetMetadata::default()
            };
        let app = t("linux", "arm", "v7", Some(("ubuntu", "22.04")));
        assert!(target_satisfied(&app, &app));
        assert!(target_satisfied(&t("linux", "arm", "", None), &app));
        assert!(target_satisfied(
            &t("linux", "arm", "v7", Some(("", "22.04"))),
            &app
        ));
        assert!(!target_satisfied(&t("linux", "arm64", "v7", None), &app));
        assert!(!target_satisfied(&t("linux", "arm", "v6", None), &app));
        assert!(!target_satisfied(
            &t("linux", "arm", "v7", Some(("ubuntu", "24.04"))),
            &app
        ));
        assert!(!target_satisfied(
            &t("linux", "arm", "v7", Some(("", ""))),
            &t("linux", "arm", "v7", None)
        ));
    }

    #[test]
    fn not_rebasable_needs_force() {
        let logger = Logger::new(Level::Error);
        let store = Memory::default();
        let app = image(MediaFamily::Oci, &["b0"], &[(REBASABLE, "false")], APP_ENV);
        let run = image(MediaFamily::Oci, &["r0"], &[], &[]);
        let err = rebaser(&store, false, &logger)
            .check_target(&app, &run)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "app image is not marked as rebasable; please provide -force to override"
        );
        assert!(
            rebaser(&store, true, &logger)
                .check_target(&app, &run)
                .is_ok()
        );
    }

    #[test]
    fn parallel_map_keeps_order() {
        let out = parallel_map((0..50).collect(), 7, |i: u32| i * 2);
        assert_eq!(out, (0..50).map(|i| i * 2).collect::<Vec<_>>());
        assert_eq!(parallel_map(vec![3], 8, |i: u32| i + 1), [4]);
        assert!(parallel_map(Vec::<u32>::new(), 8, |i| i).is_empty());
    }
}

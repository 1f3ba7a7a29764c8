//! The export phase: builds the app image on the run image from the launch layers of
//! every buildpack, the SBOM layer, the app slices, the launcher, its config and the
//! process types; labels and configures it; saves it under every name; writes
//! `report.toml`; and stores the cache layers.
//!
//! New layers are tarred, hashed and compressed in one pass, in parallel; layers whose
//! diff ID matches the previous image's are reused without being written again, and
//! layers a buildpack kept only as metadata are reused without being read.

mod cache_step;
mod config;
mod error;
pub mod extensions;
mod layers;
mod produce;
mod save;
pub mod sbom;

use std::path::PathBuf;

use buildpack_api::api::ApiVersion;
use buildpack_api::group::GroupElement;
use platform_api::files::analyzed::Analyzed;
use platform_api::files::project_metadata::ProjectMetadata;
use platform_api::files::report::Report;
use platform_api::files::run::RunImageForExport;
use platform_api::labels::LauncherMetadata;

pub use cache_step::{CacheTarget, export_cache};
pub use error::ExportError;

use crate::image::{ContainerConfig, ImageStore};
use crate::log::Logger;

/// Everything the exporter works from, resolved by the caller.
#[derive(Debug, Clone)]
pub struct ExportInputs {
    /// The Platform API.
    pub platform_api: ApiVersion,
    /// The buildpacks of the group, in order.
    pub group: Vec<GroupElement>,
    /// `analyzed.toml`: run image, previous image and its layer metadata.
    pub analyzed: Analyzed,
    /// `<layers>`.
    pub layers_dir: PathBuf,
    /// `<app>`.
    pub app_dir: PathBuf,
    /// The launcher binary to put in the image.
    pub launcher_path: PathBuf,
    /// Where `lifecycle.sbom.*` and the default `launcher.sbom.*` are.
    pub lifecycle_sbom_dir: PathBuf,
    /// `-launcher-sbom`: where the launcher's SBOMs are.
    pub launcher_sbom_dir: PathBuf,
    /// The project metadata for its label.
    pub project_metadata: ProjectMetadata,
    /// Run image name and mirrors to record (from run.toml or stack.toml).
    pub run_image_for_export: RunImageForExport,
    /// `-process-type`: the default process the user asked for (empty: the buildpacks').
    pub default_process_type: String,
    /// `CNB_EXEC_ENV`, recorded as a label on Platform API 0.15.
    pub exec_env: String,
    /// The image names: the first is the image, the others additional tags.
    pub names: Vec<String>,
    /// Owner of buildpack and app layer contents.
    pub uid: u32,
    /// Group of buildpack and app layer contents.
    pub gid: u32,
    /// `SOURCE_DATE_EPOCH` (Platform API 0.9+), seconds.
    pub source_date_epoch: Option<i64>,
    /// The launcher's version and source for the build metadata label.
    pub launcher_metadata: LauncherMetadata,
    /// A scratch directory for layer files (removed by the caller).
    pub work_dir: PathBuf,
    /// `-extended` on Platform API 0.12+ (`None` otherwise): the layers extensions added
    /// to the run image are taken from the layout in its `run/` directory.
    pub extended_dir: Option<PathBuf>,
    /// The extended run image's config ([`extensions::ExtendedRunImage`]), replacing the
    /// run image's when analyzed.toml says the run image was extended.
    pub extended_config: Option<ContainerConfig>,
}

/// Exports the app image into `store` and returns the report; when a cache is given,
/// stores the cache layers too (concurrently with the image when `parallel`). Cache
/// failures are warnings, as in the reference.
pub fn run(
    inputs: &ExportInputs,
    store: &dyn ImageStore,
    cache: Option<CacheTarget<'_>>,
    parallel: bool,
    logger: &Logger,
) -> Result<Report, ExportError> {
    let produced = produce::Memo::default();
    // A volume cache wants the tar of every cache layer: made in the same pass.
    let tee_tar = matches!(cache, Some(CacheTarget::Volume(_)));
    let export = || layers::export_image(inputs, store, &produced, tee_tar, logger);
    let cache_step = |cache: CacheTarget<'_>| {
        if let Err(e) = export_cache(inputs, cache, &produced, logger) {
            logger.warn(format!("Failed to export cache: {e}\n"));
        }
    };
    match cache {
        Some(cache) if parallel => std::thread::scope(|s| {
            let image = s.spawn(export);
            cache_step(cache);
            image.join().expect("export thread")
        }),
        Some(cache) => {
            let report = export()?;
            cache_step(cache);
            Ok(report)
        }
        None => export(),
    }
}

//! The analyzer's work (Platform API 0.7+): what the previous app image and the run
//! image say, gathered into `analyzed.toml`, and the previous image's launch SBOM layer
//! put back under `<layers>/sbom/launch/`.
//!
//! The caller chooses the run image (flag, `run.toml` or `stack.toml`, see
//! [`crate::run_image`]), checks registry access ([`access`]) and opens the image
//! store; [`run`] only reads image manifests and configs, plus the one SBOM layer.

pub mod access;
mod previous;
mod run_image;
mod sbom;

use std::path::PathBuf;

use buildpack_api::api::ApiVersion;
use platform_api::exit::{ANALYZE_ERROR, ExitCode};
use platform_api::files::analyzed::{Analyzed, ImageIdentifier};

use crate::image::{ImageStore, StoreError};
use crate::log::Logger;
use previous::PreviousImage;

pub use sbom::SbomError;

/// What the analyzer works on.
#[derive(Debug, Clone)]
pub struct AnalyzeInputs {
    /// The Platform API in use.
    pub platform_api: ApiVersion,
    /// `<layers>`, under which the launch SBOM is restored.
    pub layers_dir: PathBuf,
    /// The previous image's name (`-previous-image`, by default the output image);
    /// empty for none.
    pub previous_image: String,
    /// The run image's name, as chosen (`-run-image` or a `run.toml` entry); empty for
    /// none.
    pub run_image: String,
    /// `-skip-layers`: leave the previous image's SBOM layer alone.
    pub skip_layers: bool,
}

/// Why the analysis failed (exit code [`ANALYZE_ERROR`], as in the reference).
#[derive(Debug, thiserror::Error)]
pub enum AnalyzeError {
    /// The previous image could not be read (other than absent or corrupt).
    #[error("getting previous image: {cause}")]
    PreviousImage {
        /// Why.
        cause: StoreError,
    },
    /// The run image could not be read (other than absent).
    #[error("getting run image: {cause}")]
    RunImage {
        /// Why.
        cause: StoreError,
    },
    /// The previous image's launch SBOM layer could not be restored.
    #[error("retrieving launch SBOM layer: {cause}")]
    Sbom {
        /// Why.
        cause: SbomError,
    },
    /// The run image's config names no OS (Platform API 0.12+).
    #[error("failed to find OS in run image config")]
    MissingOs,
}

impl AnalyzeError {
    /// The exit code: the analyzer's generic error.
    pub fn exit_code(&self) -> ExitCode {
        ANALYZE_ERROR
    }

    /// What the reference says it was doing (`failed to <action>: …`): reading the
    /// images belongs to setting the analyzer up, the rest to analyzing.
    pub fn action(&self) -> &'static str {
        match self {
            AnalyzeError::PreviousImage { .. } | AnalyzeError::RunImage { .. } => {
                "initialize analyzer"
            }
            AnalyzeError::Sbom { .. } | AnalyzeError::MissingOs => "analyze",
        }
    }
}

/// Analyzes: reads the previous image (its lifecycle metadata label, ignored when
/// corrupt) and the run image (identifier, and from Platform API 0.12 its name and
/// target data) from `store`, restores the previous image's launch SBOM layer (Platform
/// API 0.8+, unless skipping layers), and returns what `analyzed.toml` must hold.
pub fn run(
    inputs: &AnalyzeInputs,
    store: &dyn ImageStore,
    logger: &Logger,
) -> Result<Analyzed, AnalyzeError> {
    let previous = PreviousImage::read(store, &inputs.previous_image, logger)
        .map_err(|cause| AnalyzeError::PreviousImage { cause })?;
    let run_image = run_image::read(store, &inputs.run_image)
        .map_err(|cause| AnalyzeError::RunImage { cause })?;
    if inputs.platform_api >= ApiVersion::new(0, 8) && !inputs.skip_layers {
        sbom::restore_from_previous(&previous, store, &inputs.layers_dir, logger)
            .map_err(|cause| AnalyzeError::Sbom { cause })?;
    }
    let run_image = run_image::record(run_image, inputs.platform_api, logger)?;
    let PreviousImage {
        reference,
        metadata,
        ..
    } = previous;
    Ok(Analyzed {
        previous_image: Some(ImageIdentifier { reference }),
        build_image: None,
        metadata,
        run_image: Some(run_image),
    })
}

#[cfg(test)]
mod tests;

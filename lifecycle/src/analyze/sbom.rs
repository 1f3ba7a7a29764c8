//! The previous image's launch SBOM layer, put back under `<layers>/sbom/launch/` so the
//! restorer can hand each buildpack its SBOM files (Platform API 0.8+).

use std::path::Path;

use super::previous::PreviousImage;
use crate::image::{ImageStore, StoreError};
use crate::layer::extract::{ExtractError, ExtractOptions, extract};
use crate::log::Logger;

/// Why the SBOM layer could not be restored.
#[derive(Debug, thiserror::Error)]
pub enum SbomError {
    /// The layer could not be read from the store (or does not match its diff ID).
    #[error("{0}")]
    Read(StoreError),
    /// The layer could not be extracted (an entry outside `<layers>/sbom/launch`
    /// included).
    #[error("{0}")]
    Extract(ExtractError),
}

/// Extracts the launch SBOM layer the previous image's metadata names, when the
/// previous image exists and names one. Entries are the absolute paths the exporter
/// recorded and must lie in `<layers>/sbom/launch`; a layer whose contents do not
/// match its diff ID fails the restore once it is read to its end.
pub(super) fn restore_from_previous(
    previous: &PreviousImage,
    store: &dyn ImageStore,
    layers_dir: &Path,
    logger: &Logger,
) -> Result<(), SbomError> {
    let (Some(image), Some(diff_id)) = (&previous.image, previous.sbom_layer()) else {
        return Ok(());
    };
    logger.info("Restoring data for SBOM from previous image");
    logger.debug(format!(
        "Retrieving previous image SBOM layer for {diff_id:?}"
    ));
    let mut stream = store.open_layer(image, diff_id).map_err(SbomError::Read)?;
    let allowed = layers_dir.join("sbom").join("launch");
    extract(
        &mut stream,
        Path::new("/"),
        &allowed,
        &ExtractOptions::default(),
    )
    .map_err(SbomError::Extract)?;
    stream.finish().map_err(SbomError::Read)
}

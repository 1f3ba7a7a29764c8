//! The previous app image: its identifier and its lifecycle metadata label.

use platform_api::labels::{LIFECYCLE_METADATA, LayersMetadata};

use crate::image::{ImageStore, StoreError, StoredImage};
use crate::log::Logger;

/// What the previous image gives the analysis.
#[derive(Debug, Default)]
pub struct PreviousImage {
    /// The image, when it exists, is valid and its label could be read.
    pub image: Option<StoredImage>,
    /// Its identifier for `[image].reference` (empty when there is no usable image).
    pub reference: String,
    /// Its `io.buildpacks.lifecycle.metadata` label (empty when absent or unreadable).
    pub metadata: LayersMetadata,
}

impl PreviousImage {
    /// Reads the image `name` (none when empty) from `store`. An absent image is
    /// logged; an image the store finds corrupt is ignored with the reference's log
    /// line; a label that does not parse makes the image count as absent, silently, as
    /// in the reference. Other store failures are errors.
    pub fn read(store: &dyn ImageStore, name: &str, logger: &Logger) -> Result<Self, StoreError> {
        if name.is_empty() {
            return Ok(Self::default());
        }
        let image = match store.read(name) {
            Ok(Some(image)) => image,
            Ok(None) => {
                logger.info(format!(
                    "Image with name {:?} not found",
                    store.display_name(name)
                ));
                return Ok(Self::default());
            }
            Err(StoreError::Invalid(_)) => {
                logger.info(format!(
                    "Ignoring image {:?} because it was corrupt",
                    store.display_name(name)
                ));
                return Ok(Self::default());
            }
            Err(e) => return Err(e),
        };
        logger.debug(format!(
            "Found image with identifier {:?}",
            image.identifier
        ));
        let label = image.image.config.label(LIFECYCLE_METADATA).unwrap_or("");
        let Ok(metadata) = LayersMetadata::parse(label) else {
            return Ok(Self::default());
        };
        Ok(Self {
            reference: image.identifier.clone(),
            image: Some(image),
            metadata,
        })
    }

    /// The diff ID of the previous image's launch SBOM layer, when it has one.
    pub fn sbom_layer(&self) -> Option<&str> {
        self.metadata
            .sbom
            .as_ref()
            .map(|l| l.sha.as_str())
            .filter(|sha| !sha.is_empty())
    }
}

//! The run image as `analyzed.toml` records it: identifier, and from Platform API 0.12
//! its name and target data.

use buildpack_api::api::ApiVersion;
use platform_api::files::analyzed::RunImage;
use platform_api::files::target::TargetMetadata;

use super::AnalyzeError;
use crate::image::{ImageStore, StoreError, StoredImage};
use crate::log::Logger;

/// The run image named `name` as the store has it.
pub(super) struct Found {
    /// How the store names it (a layout store by its directory).
    name: String,
    /// The image; `None` when it does not exist (or no name was given).
    image: Option<StoredImage>,
}

/// Reads the run image `name` (none when empty).
pub(super) fn read(store: &dyn ImageStore, name: &str) -> Result<Found, StoreError> {
    if name.is_empty() {
        return Ok(Found {
            name: String::new(),
            image: None,
        });
    }
    Ok(Found {
        name: store.display_name(name),
        image: store.read(name)?,
    })
}

/// The `[run-image]` table for `found`. An absent image gets an empty reference and,
/// from Platform API 0.12, the target of the empty image the reference substitutes for
/// it (Linux on the host's architecture).
pub(super) fn record(
    found: Found,
    platform_api: ApiVersion,
    logger: &Logger,
) -> Result<RunImage, AnalyzeError> {
    if found.name.is_empty() {
        return Ok(RunImage::default());
    }
    let (reference, target) = match &found.image {
        Some(image) => {
            logger.debug(format!(
                "Found image with identifier {:?}",
                image.identifier
            ));
            (image.identifier.clone(), image.target())
        }
        None => {
            logger.info(format!("Image with name {:?} not found", found.name));
            let empty = TargetMetadata {
                os: "linux".into(),
                arch: crate::target::host_arch().into(),
                ..Default::default()
            };
            (String::new(), empty)
        }
    };
    if platform_api < ApiVersion::new(0, 12) {
        return Ok(RunImage {
            reference,
            ..Default::default()
        });
    }
    if target.os.is_empty() {
        return Err(AnalyzeError::MissingOs);
    }
    Ok(RunImage {
        reference,
        image: found.name,
        extend: false,
        target: Some(target),
    })
}

//! Saving the image under every name, and the report of what was saved.

use std::path::Path;

use buildpack_api::build::BuildToml;
use buildpack_api::group::GroupElement;
use buildpack_api::id::escape;
use platform_api::files::report::{BuildReport, ImageReport};

use super::ExportError;
use crate::image::{Image, ImageStore};
use crate::log::Logger;

/// Saves `image` as every name in `names` (the first is the image, the others tags) and
/// logs the outcome as the reference does; fails when any name failed.
pub fn save(
    store: &dyn ImageStore,
    image: &Image,
    names: &[String],
    logger: &Logger,
) -> Result<ImageReport, ExportError> {
    let outcome = crate::image::saving::save_and_report(store, image, names, logger)
        .map_err(|e| ExportError::store("saving image", e))?;
    if !outcome.failed.is_empty() {
        return Err(ExportError::Save(outcome.failed));
    }
    Ok(outcome.report)
}

/// The legacy bill of materials of every buildpack's `build.toml` (Platform API < 0.9).
pub fn legacy_build_report(
    layers_dir: &Path,
    group: &[GroupElement],
) -> Result<BuildReport, ExportError> {
    let mut report = BuildReport::default();
    for bp in group {
        let path = layers_dir.join(escape(&bp.id)).join("build.toml");
        if !path.exists() {
            continue;
        }
        let build = BuildToml::read(&path).map_err(|e| ExportError::File {
            context: format!("read {}", path.display()),
            message: e.to_string(),
        })?;
        report.bom.extend(crate::build::legacy_bom::tag(
            build.bom,
            &bp.id,
            &bp.version,
        ));
    }
    Ok(report)
}

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
    let shown: Vec<String> = names.iter().map(|n| store.display_name(n)).collect();
    let name = shown.first().map_or("", String::as_str);
    logger.info(format!("Saving {name}...\n"));
    let saved = store
        .save(image, names)
        .map_err(|e| ExportError::store("saving image", e))?;
    let short = match (&saved.image_id, &saved.digest) {
        (Some(id), _) => {
            let raw = id.strip_prefix("sha256:").unwrap_or(id);
            raw[..raw.len().min(12)].to_string()
        }
        (None, Some(digest)) => digest.clone(),
        (None, None) => String::new(),
    };
    logger.info(format!("*** Images ({short}):"));
    let mut report = ImageReport::default();
    for (n, shown) in names.iter().zip(&shown) {
        match saved.failed.iter().find(|(failed, _)| failed == n) {
            Some((_, cause)) => logger.info(format!("      {shown} - {cause}\n")),
            None => {
                logger.info(format!("      {shown}\n"));
                report.tags.push(shown.clone());
            }
        }
    }
    if let Some(id) = &saved.image_id {
        report.image_id = id.clone();
        logger.debug(format!("\n*** Image ID: {id}\n"));
    } else if let Some(digest) = &saved.digest {
        report.digest = digest.clone();
        logger.debug(format!("\n*** Digest: {digest}\n"));
    }
    if let Some(size) = saved.manifest_size.filter(|s| *s != 0) {
        report.manifest_size = size as i64;
        logger.debug(format!("\n*** Manifest Size: {size}\n"));
    }
    if !saved.failed.is_empty() {
        return Err(ExportError::Save(saved.failed));
    }
    Ok(report)
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

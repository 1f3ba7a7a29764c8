//! Saving an image under every name and reporting it as the reference does: the
//! `Saving …` line, the `*** Images` summary (one line per name, failed ones with their
//! cause), the digest or image ID and manifest size, and the `[image]` table of
//! report.toml. The exporter and the rebaser share it.

use platform_api::files::report::ImageReport;

use super::{Image, ImageStore, StoreError};
use crate::log::Logger;

/// What saving under every name gave: the report of the names that were saved, and the
/// names that failed with their causes.
#[derive(Debug, Default)]
pub struct SaveOutcome {
    /// The `[image]` table of report.toml (only the saved names in `tags`).
    pub report: ImageReport,
    /// Names that could not be saved, with why.
    pub failed: Vec<(String, String)>,
}

/// Saves `image` under every name in `names` (the first is the image, the others tags)
/// and logs the outcome; the summary is logged in one piece, so images saved at the
/// same time do not interleave their lines. An error means nothing could be saved.
pub fn save_and_report(
    store: &dyn ImageStore,
    image: &Image,
    names: &[String],
    logger: &Logger,
) -> Result<SaveOutcome, StoreError> {
    let shown: Vec<String> = names.iter().map(|n| store.display_name(n)).collect();
    logger.info(format!(
        "Saving {}...\n",
        shown.first().map_or("", String::as_str)
    ));
    let saved = store.save(image, names)?;
    let short = match (&saved.image_id, &saved.digest) {
        (Some(id), _) => {
            let raw = id.strip_prefix("sha256:").unwrap_or(id);
            raw[..raw.len().min(12)].to_string()
        }
        (None, Some(digest)) => digest.clone(),
        (None, None) => String::new(),
    };
    let mut summary = format!("*** Images ({short}):\n");
    let mut report = ImageReport::default();
    for (n, shown) in names.iter().zip(&shown) {
        match saved.failed.iter().find(|(failed, _)| failed == n) {
            Some((_, cause)) => summary.push_str(&format!("      {shown} - {cause}\n")),
            None => {
                summary.push_str(&format!("      {shown}\n"));
                report.tags.push(shown.clone());
            }
        }
    }
    logger.info(summary);
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
    Ok(SaveOutcome {
        report,
        failed: saved.failed,
    })
}

//! Per-layer SBOMs back next to their layers (Platform API 0.8+).
//!
//! The cache's SBOM layer is extracted to `<layers>/sbom/cache` (by [`super::cache`]),
//! and the analyzer extracted the previous image's to `<layers>/sbom/launch`. Every
//! `<layers>/sbom/{cache,launch}/<bp>/<layer>/sbom.<ext>` of a group buildpack whose
//! directory exists is copied to `<layers>/<bp>/<layer>.sbom.<ext>` (the launch copy
//! wins over the cache one), except for layers this restore removed; then
//! `<layers>/sbom` is removed. Launch- and build-level SBOMs are never restored.

use std::collections::BTreeSet;
use std::path::Path;

use buildpack_api::id::escape;

use super::{RestoreError, RestoreInputs};

/// Copies the restored per-layer SBOMs into the buildpacks' directories and removes
/// `<layers>/sbom`. `removed` lists `(buildpack ID, layer name)` of layers the restore
/// removed, whose SBOMs are not copied.
pub fn copy_to_buildpack_layers(
    inputs: &RestoreInputs,
    removed: &BTreeSet<(String, String)>,
) -> Result<(), RestoreError> {
    let sbom_dir = inputs.layers_dir.join("sbom");
    let copied = ["cache", "launch"]
        .iter()
        .try_for_each(|kind| copy_kind(inputs, &sbom_dir.join(kind), removed));
    let cleaned = super::remove_dir(&sbom_dir);
    copied.and(cleaned)
}

/// Copies the SBOMs below `<layers>/sbom/<kind>`.
fn copy_kind(
    inputs: &RestoreInputs,
    kind_dir: &Path,
    removed: &BTreeSet<(String, String)>,
) -> Result<(), RestoreError> {
    for bp in &inputs.buildpacks {
        let escaped = escape(&bp.id);
        let dest_dir = inputs.layers_dir.join(&escaped);
        let src_dir = kind_dir.join(&escaped);
        if !is_real_dir(&dest_dir) || !is_real_dir(&src_dir) {
            continue;
        }
        for layer in read_dir_sorted(&src_dir)? {
            let layer_dir = src_dir.join(&layer);
            if !is_real_dir(&layer_dir) || removed.contains(&(bp.id.clone(), layer.clone())) {
                continue;
            }
            for file in read_dir_sorted(&layer_dir)? {
                let src = layer_dir.join(&file);
                let is_file = std::fs::symlink_metadata(&src).is_ok_and(|m| m.is_file());
                if !is_file || !is_sbom_name(&file) {
                    continue;
                }
                let dest = dest_dir.join(format!("{layer}.{file}"));
                std::fs::copy(&src, &dest).map_err(RestoreError::io("copy", &src))?;
            }
        }
    }
    Ok(())
}

/// Whether `name` is an SBOM file name (`sbom.<ext>.json`, as the reference matches
/// `sbom.+json`).
fn is_sbom_name(name: &str) -> bool {
    name.len() > "sbomjson".len() && name.starts_with("sbom") && name.ends_with("json")
}

/// Whether `path` is a directory and not a symlink.
fn is_real_dir(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir())
}

/// The names in `dir`, sorted.
fn read_dir_sorted(dir: &Path) -> Result<Vec<String>, RestoreError> {
    let mut names = std::fs::read_dir(dir)
        .map_err(RestoreError::io("read", dir))?
        .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(RestoreError::io("read", dir))?;
    names.sort();
    Ok(names)
}

//! The lifecycle's own SBOMs, copied into `<layers>/sbom` before export (Platform API
//! 0.11+): the lifecycle's into `sbom/build/buildpacksio_lifecycle/`, the launcher's into
//! `sbom/launch/buildpacksio_lifecycle/launcher/` (from which they reach the image).

use std::fs;
use std::path::Path;

use super::ExportError;
use crate::log::Logger;

/// SBOM file extensions, in the order the reference copies them.
pub const SBOM_EXTENSIONS: [&str; 3] = ["sbom.cdx.json", "sbom.spdx.json", "sbom.syft.json"];

/// The directory holding `lifecycle.sbom.*` and `launcher.sbom.*` in a builder.
pub const DEFAULT_SBOM_DIR: &str = "/cnb/lifecycle";

/// Copies the SBOMs: the lifecycle's always from `default_dir`; the launcher's from
/// `launcher_sbom_dir` when it is a custom directory (every file with an SBOM extension,
/// by name), else from `default_dir`.
pub fn copy_lifecycle_sboms(
    layers_dir: &Path,
    default_dir: &Path,
    launcher_sbom_dir: &Path,
    logger: &Logger,
) -> Result<(), ExportError> {
    let build_dir = layers_dir.join("sbom/build/buildpacksio_lifecycle");
    copy_component(default_dir, "lifecycle", &build_dir, logger)?;
    let launch_dir = layers_dir.join("sbom/launch/buildpacksio_lifecycle/launcher");
    if launcher_sbom_dir.as_os_str().is_empty() || launcher_sbom_dir == default_dir {
        return copy_component(default_dir, "launcher", &launch_dir, logger);
    }
    let entries = fs::read_dir(launcher_sbom_dir).map_err(|e| {
        logger.warn(format!(
            "Failed to list contents of directory {}",
            launcher_sbom_dir.display()
        ));
        ExportError::io("read", launcher_sbom_dir, e)
    })?;
    let mut files: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().unwrap_or_default().to_string_lossy();
            p.is_file() && SBOM_EXTENSIONS.iter().any(|ext| name.ends_with(ext))
        })
        .collect();
    files.sort();
    fs::create_dir_all(&launch_dir).map_err(|e| ExportError::io("create", &launch_dir, e))?;
    for file in files {
        let to = launch_dir.join(file.file_name().expect("file name"));
        fs::copy(&file, &to).map_err(|e| {
            logger.warn(format!(
                "failed while copying SBOM from {} to {}",
                file.display(),
                to.display()
            ));
            ExportError::io("copy", &file, e)
        })?;
    }
    Ok(())
}

fn copy_component(
    from_dir: &Path,
    component: &str,
    to_dir: &Path,
    logger: &Logger,
) -> Result<(), ExportError> {
    for ext in SBOM_EXTENSIONS {
        let name = format!("{component}.{ext}");
        let from = from_dir.join(&name);
        if !from.exists() {
            logger.warn(format!(
                "Did not find SBOM {name} in {}",
                from_dir.display()
            ));
            continue;
        }
        fs::create_dir_all(to_dir).map_err(|e| ExportError::io("create", to_dir, e))?;
        let to = to_dir.join(ext);
        logger.debug(format!("Copying SBOM {name} to {}", to.display()));
        fs::copy(&from, &to).map_err(|e| ExportError::io("copy", &from, e))?;
    }
    Ok(())
}

//! SBOM files a buildpack wrote next to its layers (`launch.sbom.<ext>`,
//! `build.sbom.<ext>`, `<layer>.sbom.<ext>`): found, checked against the buildpack's
//! `sbom-formats`, and (Platform API 0.8+) copied to `<layers>/sbom/{launch,build,cache}`
//! for the exporter and the cache.

use std::path::{Path, PathBuf};

use buildpack_api::dirs::sorted_entries;
use buildpack_api::id::escape;
use buildpack_api::sbom::{SbomError, SbomFormat, check_declared, sbom_file_owner};

use super::error::StepError;
use super::layers::{BuildpackLayer, ensure_within};

/// Directory under `<layers>` holding the copied SBOM files.
pub(crate) const SBOM_DIR: &str = "sbom";

/// Which SBOM tree a file goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SbomScope {
    /// `<layers>/sbom/launch`: exported with the app image.
    Launch,
    /// `<layers>/sbom/build`: describes the build only.
    Build,
    /// `<layers>/sbom/cache`: saved with the cached layer.
    Cache,
}

impl SbomScope {
    fn dir_name(self) -> &'static str {
        match self {
            SbomScope::Launch => "launch",
            SbomScope::Build => "build",
            SbomScope::Cache => "cache",
        }
    }
}

/// One SBOM file to copy.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SbomFile {
    /// The buildpack that wrote it.
    pub buildpack_id: String,
    /// The layer it describes; `None` for `launch.sbom.*` and `build.sbom.*`.
    pub layer: Option<String>,
    /// Where it goes.
    pub scope: SbomScope,
    /// Its format (from the file name).
    pub format: SbomFormat,
    /// The file.
    pub path: PathBuf,
}

/// The names of the entries of `bp_dir` matching `*.sbom.*.json`, sorted.
fn sbom_names(bp_dir: &Path) -> Result<Vec<String>, StepError> {
    let entries = sorted_entries(bp_dir).map_err(StepError::io("open", bp_dir))?;
    Ok(entries
        .into_iter()
        .filter_map(|(name, _)| name.into_string().ok())
        .filter(|name| sbom_file_owner(name).is_some())
        .collect())
}

/// Whether the buildpack wrote any file matching `*.sbom.*.json` (the reference then
/// stays quiet about a legacy `[[bom]]`).
pub(crate) fn has_sbom_files(bp_dir: &Path) -> Result<bool, StepError> {
    Ok(!sbom_names(bp_dir)?.is_empty())
}

/// Finds the buildpack's SBOM files and checks each against `declared` (its
/// `sbom-formats`), as the reference does: `launch.*` and `build.*` files go to their
/// own scope; a layer's file goes to `launch` when the layer is a launch layer, else to
/// `build`, and also to `cache` when it is a cache layer; files of layers without a
/// `.toml` are ignored. Symlinks must stay inside `layers_root`.
pub(crate) fn collect(
    bp_dir: &Path,
    layers_root: &Path,
    buildpack: (&str, &str),
    declared: &[String],
    layers: &[BuildpackLayer],
) -> Result<Vec<SbomFile>, StepError> {
    let (id, version) = buildpack;
    let mut found = Vec::new();
    for name in sbom_names(bp_dir)? {
        let path = bp_dir.join(&name);
        let owner = sbom_file_owner(&name).unwrap_or_default();
        let mut add = |layer: Option<&str>, scope| {
            found.push((path.clone(), layer.map(str::to_string), scope));
        };
        match owner {
            "launch" => add(None, SbomScope::Launch),
            "build" => add(None, SbomScope::Build),
            layer_name => {
                let Some(layer) = layers.iter().find(|l| l.name == layer_name) else {
                    continue;
                };
                let scope = if layer.types.launch {
                    SbomScope::Launch
                } else {
                    SbomScope::Build
                };
                add(Some(layer_name), scope);
                if layer.types.cache {
                    add(Some(layer_name), SbomScope::Cache);
                }
            }
        }
    }
    let mut files = Vec::new();
    for (path, layer, scope) in found {
        let file_name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        ensure_within(layers_root, &path)?;
        let format = check_declared(file_name, declared).map_err(|e| match e {
            SbomError::Unsupported(_) => StepError::UnsupportedSbom { path: path.clone() },
            SbomError::BadDeclaredType(declared) => StepError::UndeclaredSbom {
                path: path.clone(),
                buildpack: format!("{id}@{version}"),
                reason: format!("parsing declared media type: '{declared}' is not a media type"),
            },
            SbomError::Undeclared { media_type, .. } => StepError::UndeclaredSbom {
                path: path.clone(),
                buildpack: format!("{id}@{version}"),
                reason: format!("undeclared SBOM media type: '{media_type}'"),
            },
        })?;
        if !std::fs::metadata(&path)
            .map_err(StepError::io("stat", &path))?
            .is_file()
        {
            return Err(StepError::SbomNotAFile { path });
        }
        files.push(SbomFile {
            buildpack_id: id.to_string(),
            layer,
            scope,
            format,
            path,
        });
    }
    Ok(files)
}

/// Copies each file to
/// `<layers>/sbom/<scope>/<escaped buildpack id>[/<layer>]/sbom.<ext>`.
pub(crate) fn copy_all(layers_dir: &Path, files: &[SbomFile]) -> Result<(), StepError> {
    for file in files {
        let mut dir = layers_dir
            .join(SBOM_DIR)
            .join(file.scope.dir_name())
            .join(escape(&file.buildpack_id));
        if let Some(layer) = &file.layer {
            dir.push(layer);
        }
        std::fs::create_dir_all(&dir).map_err(StepError::io("mkdir", &dir))?;
        let to = dir.join(file.format.file_name());
        std::fs::copy(&file.path, &to).map_err(StepError::io("copy", &file.path))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use buildpack_api::layer::LayerTypes;
    use std::fs;

    const ALL: [&str; 3] = [
        "application/vnd.cyclonedx+json",
        "application/spdx+json",
        "application/vnd.syft+json",
    ];

    fn layer(bp: &Path, name: &str, launch: bool, build: bool, cache: bool) -> BuildpackLayer {
        BuildpackLayer {
            name: name.into(),
            path: bp.join(name),
            types: LayerTypes {
                launch,
                build,
                cache,
            },
        }
    }

    fn setup() -> (tempfile::TempDir, PathBuf, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let root = fs::canonicalize(dir.path()).unwrap();
        let bp = root.join("my_bp");
        fs::create_dir(&bp).unwrap();
        (dir, root, bp)
    }

    #[test]
    fn scopes_and_copies() {
        let (_d, root, bp) = setup();
        for f in [
            "launch.sbom.cdx.json",
            "build.sbom.spdx.json",
            "l.sbom.syft.json",
            "b.sbom.cdx.json",
            "lc.sbom.cdx.json",
            "bc.sbom.cdx.json",
            "untracked.sbom.xml.json",
            "notes.json",
        ] {
            fs::write(bp.join(f), f).unwrap();
        }
        let layers = [
            layer(&bp, "l", true, false, false),
            layer(&bp, "b", false, true, false),
            layer(&bp, "lc", true, false, true),
            layer(&bp, "bc", false, true, true),
        ];
        let declared: Vec<String> = ALL.iter().map(|s| s.to_string()).collect();
        let files = collect(&bp, &root, ("my/bp", "1"), &declared, &layers).unwrap();
        assert_eq!(files.len(), 8);
        copy_all(&root, &files).unwrap();
        let read = |rel: &str| fs::read_to_string(root.join("sbom").join(rel)).unwrap();
        assert_eq!(read("launch/my_bp/sbom.cdx.json"), "launch.sbom.cdx.json");
        assert_eq!(read("build/my_bp/sbom.spdx.json"), "build.sbom.spdx.json");
        assert_eq!(read("launch/my_bp/l/sbom.syft.json"), "l.sbom.syft.json");
        assert_eq!(read("build/my_bp/b/sbom.cdx.json"), "b.sbom.cdx.json");
        assert_eq!(read("launch/my_bp/lc/sbom.cdx.json"), "lc.sbom.cdx.json");
        assert_eq!(read("cache/my_bp/lc/sbom.cdx.json"), "lc.sbom.cdx.json");
        assert_eq!(read("build/my_bp/bc/sbom.cdx.json"), "bc.sbom.cdx.json");
        assert_eq!(read("cache/my_bp/bc/sbom.cdx.json"), "bc.sbom.cdx.json");
        assert!(!root.join("sbom/launch/my_bp/untracked").exists());
        assert!(has_sbom_files(&bp).unwrap());
    }

    #[test]
    fn formats_must_be_supported_and_declared() {
        let (_d, root, bp) = setup();
        fs::write(bp.join("launch.sbom.xml.json"), "").unwrap();
        let err = collect(&bp, &root, ("bp", "1"), &[], &[]).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "unsupported SBOM file format: '{}'",
                bp.join("launch.sbom.xml.json").display()
            )
        );

        let (_d, root, bp) = setup();
        fs::write(bp.join("launch.sbom.spdx.json"), "").unwrap();
        let cdx = vec![ALL[0].to_string()];
        let err = collect(&bp, &root, ("A", "v1"), &cdx, &[]).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "validating SBOM file '{}' for buildpack: 'A@v1': undeclared SBOM media type: 'application/spdx+json'",
                bp.join("launch.sbom.spdx.json").display()
            )
        );
        let bad = vec!["cyclonedx".to_string()];
        assert!(matches!(
            collect(&bp, &root, ("A", "v1"), &bad, &[]),
            Err(StepError::UndeclaredSbom { .. })
        ));
    }

    #[test]
    fn hostile_files() {
        let (_d, root, bp) = setup();
        let declared: Vec<String> = ALL.iter().map(|s| s.to_string()).collect();
        let outside = tempfile::NamedTempFile::new().unwrap();
        std::os::unix::fs::symlink(outside.path(), bp.join("launch.sbom.cdx.json")).unwrap();
        assert!(matches!(
            collect(&bp, &root, ("bp", "1"), &declared, &[]),
            Err(StepError::OutsideLayers { .. })
        ));

        let (_d, root, bp) = setup();
        fs::create_dir(bp.join("build.sbom.cdx.json")).unwrap();
        assert!(matches!(
            collect(&bp, &root, ("bp", "1"), &declared, &[]),
            Err(StepError::SbomNotAFile { .. })
        ));
        assert!(!has_sbom_files(&bp.join("none")).unwrap());
    }
}

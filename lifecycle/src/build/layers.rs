//! The layers a buildpack left in `<layers>/<bp>`: every `<name>.toml` (other than
//! `launch.toml`, `build.toml` and `store.toml`) names a layer whose `[types]` say what
//! it is for. Layers with no type set are renamed `<name>.ignore`; `build = true` layers
//! feed the environment of later buildpacks.
//!
//! Hostile input is refused: names that would point at the buildpack directory or its
//! parent (`.toml`, `..toml`, `...toml`), names that are not UTF-8, and layer
//! directories that are symlinks leading out of `<layers>`.

use std::io;
use std::path::{Path, PathBuf};

use buildpack_api::api::ApiVersion;
use buildpack_api::dirs::sorted_entries;
use buildpack_api::env::{Env, default_action};
use buildpack_api::id::validate_layer_name;
use buildpack_api::layer::{LAYER_TOML_SUFFIX, LayerContentMetadata, LayerTypes};

use super::error::StepError;

/// Files in `<layers>/<bp>` that end in `.toml` but describe no layer.
const NOT_LAYERS: [&str; 3] = ["launch.toml", "build.toml", "store.toml"];

/// Suffix of an ignored layer's directory.
const IGNORED_SUFFIX: &str = ".ignore";

/// A layer a buildpack declared with `<name>.toml`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct BuildpackLayer {
    /// The layer name.
    pub name: String,
    /// `<layers>/<bp>/<name>` (it need not exist).
    pub path: PathBuf,
    /// Its `[types]`.
    pub types: LayerTypes,
}

/// Fails when `path` is a symlink that does not resolve to somewhere inside
/// `layers_root` (which must be canonical). Missing paths and non-symlinks pass.
pub(crate) fn ensure_within(layers_root: &Path, path: &Path) -> Result<(), StepError> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => {}
        Ok(_) => return Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(StepError::io("lstat", path)(e)),
    }
    let target = std::fs::canonicalize(path).map_err(|source| StepError::DanglingSymlink {
        path: path.to_path_buf(),
        source,
    })?;
    if target.starts_with(layers_root) {
        Ok(())
    } else {
        Err(StepError::OutsideLayers {
            path: path.to_path_buf(),
            target,
            layers: layers_root.to_path_buf(),
        })
    }
}

/// Reads every layer's metadata in `bp_dir`, in the order of the `.toml` file names (as
/// the reference lists them), renaming the directories of layers with no type set.
pub(crate) fn process_layers(
    bp_dir: &Path,
    layers_root: &Path,
    buildpack_id: &str,
) -> Result<Vec<BuildpackLayer>, StepError> {
    let mut layers = Vec::new();
    for file in layer_toml_files(bp_dir)? {
        let invalid = |reason: String| StepError::InvalidLayerName {
            buildpack: buildpack_id.to_string(),
            file: file.to_string_lossy().into_owned(),
            reason,
        };
        let file_name = file
            .to_str()
            .ok_or_else(|| invalid("the name is not UTF-8".into()))?;
        let name = &file_name[..file_name.len() - LAYER_TOML_SUFFIX.len()];
        validate_layer_name(name).map_err(|e| invalid(e.to_string()))?;
        let path = bp_dir.join(name);
        let metadata = LayerContentMetadata::read(&bp_dir.join(file_name))?.unwrap_or_default();
        ensure_within(layers_root, &path)?;
        if metadata.types.is_none() {
            ignore_layer_dir(&path)?;
        }
        layers.push(BuildpackLayer {
            name: name.to_string(),
            path,
            types: metadata.types,
        });
    }
    Ok(layers)
}

/// The names of the `*.toml` entries of `bp_dir` that are not directories and not
/// `launch.toml`, `build.toml` or `store.toml`, sorted.
fn layer_toml_files(bp_dir: &Path) -> Result<Vec<std::ffi::OsString>, StepError> {
    let entries = sorted_entries(bp_dir).map_err(StepError::io("open", bp_dir))?;
    let mut files = Vec::new();
    for (name, file_type) in entries {
        let is_toml = name
            .as_encoded_bytes()
            .ends_with(LAYER_TOML_SUFFIX.as_bytes());
        if file_type.is_dir() || !is_toml || NOT_LAYERS.iter().any(|n| name == *n) {
            continue;
        }
        files.push(name);
    }
    Ok(files)
}

/// Renames `path` to `<path>.ignore` (nothing to do when it does not exist).
fn ignore_layer_dir(path: &Path) -> Result<(), StepError> {
    let mut ignored = path.as_os_str().to_os_string();
    ignored.push(IGNORED_SUFFIX);
    match std::fs::rename(path, &ignored) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(StepError::IgnoreLayer {
            from: path.to_path_buf(),
            to: ignored.into(),
            source,
        }),
    }
}

/// Adds the `build = true` layers to the build environment, in order: their
/// `bin`/`lib`/`include`/`pkgconfig` directories, then `env/`, then `env.build/`.
pub(crate) fn apply_build_env(
    env: &mut Env,
    layers: &[BuildpackLayer],
    api: ApiVersion,
) -> Result<(), StepError> {
    for layer in layers.iter().filter(|l| l.types.build) {
        env.add_root_dir(&layer.path)?;
        env.add_env_dir(&layer.path.join("env"), default_action(api))?;
        env.add_env_dir(&layer.path.join("env.build"), default_action(api))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn setup() -> (tempfile::TempDir, PathBuf, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let root = fs::canonicalize(dir.path()).unwrap();
        let bp = root.join("bp");
        fs::create_dir(&bp).unwrap();
        (dir, root, bp)
    }

    #[test]
    fn layers_in_file_name_order_and_ignored_ones_renamed() {
        let (_d, root, bp) = setup();
        for (name, toml) in [
            ("a", "[types]\nbuild = true\n"),
            ("a-b", "[types]\nlaunch = true\n"),
            ("scratch", "[metadata]\nx = 1\n"),
            ("no-dir", ""),
        ] {
            fs::write(bp.join(format!("{name}.toml")), toml).unwrap();
        }
        fs::create_dir(bp.join("scratch")).unwrap();
        fs::create_dir(bp.join("a")).unwrap();
        fs::create_dir(bp.join("dir.toml")).unwrap();
        for other in NOT_LAYERS {
            fs::write(bp.join(other), "[types]\nbuild = true\n").unwrap();
        }
        let layers = process_layers(&bp, &root, "bp").unwrap();
        let names: Vec<_> = layers.iter().map(|l| l.name.as_str()).collect();
        // "a-b.toml" sorts before "a.toml".
        assert_eq!(names, ["a-b", "a", "no-dir", "scratch"]);
        assert!(layers[1].types.build);
        assert!(layers[3].types.is_none());
        assert!(!bp.join("scratch").exists());
        assert!(bp.join("scratch.ignore").is_dir());
        assert!(bp.join("a").is_dir());
    }

    #[test]
    fn missing_buildpack_dir_has_no_layers() {
        let (_d, root, bp) = setup();
        assert!(
            process_layers(&bp.join("none"), &root, "bp")
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn traversal_names_are_refused() {
        for file in [".toml", "..toml", "...toml"] {
            let (_d, root, bp) = setup();
            fs::write(bp.join(file), "").unwrap();
            let err = process_layers(&bp, &root, "my/bp").unwrap_err();
            assert!(
                matches!(err, StepError::InvalidLayerName { .. }),
                "{file}: {err}"
            );
            assert!(err.to_string().contains("my/bp"), "{err}");
            assert!(bp.exists() && root.exists());
        }
    }

    #[test]
    fn symlinked_layers_must_stay_inside() {
        let (_d, root, bp) = setup();
        let outside = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), bp.join("evil")).unwrap();
        fs::write(bp.join("evil.toml"), "[types]\nlaunch = true\n").unwrap();
        let err = process_layers(&bp, &root, "bp").unwrap_err();
        assert!(matches!(err, StepError::OutsideLayers { .. }), "{err}");

        let (_d, root, bp) = setup();
        fs::create_dir(root.join("shared")).unwrap();
        std::os::unix::fs::symlink(root.join("shared"), bp.join("ok")).unwrap();
        fs::write(bp.join("ok.toml"), "[types]\nlaunch = true\n").unwrap();
        assert_eq!(process_layers(&bp, &root, "bp").unwrap().len(), 1);

        let (_d, root, bp) = setup();
        std::os::unix::fs::symlink("/nonexistent/x", bp.join("dangling")).unwrap();
        fs::write(bp.join("dangling.toml"), "[types]\nlaunch = true\n").unwrap();
        assert!(matches!(
            process_layers(&bp, &root, "bp"),
            Err(StepError::DanglingSymlink { .. })
        ));
    }

    #[test]
    fn malformed_layer_metadata() {
        let (_d, root, bp) = setup();
        fs::write(bp.join("x.toml"), "launch = true\n").unwrap();
        let err = process_layers(&bp, &root, "bp").unwrap_err().to_string();
        assert!(
            err.starts_with("failed to process buildpack layer: failed to decode layer metadata file: the launch, cache and build flags should be in the types table of"),
            "{err}"
        );
        fs::write(bp.join("x.toml"), "[types\n").unwrap();
        assert!(matches!(
            process_layers(&bp, &root, "bp"),
            Err(StepError::LayerMetadata(_))
        ));
    }

    #[test]
    fn ignore_rename_failure_is_reported() {
        let (_d, root, bp) = setup();
        fs::write(bp.join("x.toml"), "").unwrap();
        fs::create_dir(bp.join("x")).unwrap();
        fs::create_dir(bp.join("x.ignore")).unwrap();
        fs::write(bp.join("x.ignore/file"), "").unwrap();
        let err = process_layers(&bp, &root, "bp").unwrap_err();
        assert!(matches!(err, StepError::IgnoreLayer { .. }), "{err}");
    }

    #[test]
    fn build_layers_feed_the_environment() {
        let (_d, root, bp) = setup();
        for (name, build) in [("a", true), ("b", true), ("c", false)] {
            fs::create_dir_all(bp.join(name).join("bin")).unwrap();
            fs::create_dir_all(bp.join(name).join("env")).unwrap();
            fs::write(
                bp.join(format!("{name}.toml")),
                format!("[types]\nbuild = {build}\nlaunch = true\n"),
            )
            .unwrap();
        }
        fs::write(bp.join("a/env/V.append"), "a").unwrap();
        fs::write(bp.join("b/env/V.append"), "b").unwrap();
        fs::write(bp.join("c/env/V.append"), "c").unwrap();
        fs::create_dir_all(bp.join("b/env.build")).unwrap();
        fs::write(bp.join("b/env.build/W"), "only-build").unwrap();
        fs::create_dir_all(bp.join("b/lib")).unwrap();
        let layers = process_layers(&bp, &root, "bp").unwrap();
        let mut env = Env::for_build([("PATH", "/usr/bin")]);
        apply_build_env(&mut env, &layers, ApiVersion::new(0, 10)).unwrap();
        let path = env.get("PATH").unwrap().to_str().unwrap();
        assert_eq!(
            path,
            format!(
                "{}:{}:/usr/bin",
                bp.join("b/bin").display(),
                bp.join("a/bin").display()
            )
        );
        assert_eq!(env.get("V").unwrap(), "ab");
        assert_eq!(env.get("W").unwrap(), "only-build");
        assert_eq!(
            env.get("LIBRARY_PATH").unwrap().to_str().unwrap(),
            bp.join("b/lib").display().to_string()
        );
    }
}

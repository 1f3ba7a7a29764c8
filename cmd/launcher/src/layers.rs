//! Walking the launch layers as the reference does: the buildpacks of `metadata.toml`
//! in order (those without a directory under `<layers>` are skipped), each one's layer
//! directories by name, and the files of a directory by name.
//!
//! The buildpack and layer directories are listed once per launch and shared by the
//! env, exec.d and profile passes (the reference lists them again for each pass; only
//! an exec.d program adding or removing layer directories could tell the difference).

use std::io;
use std::path::{Path, PathBuf};

use buildpack_api::api::ApiVersion;
use buildpack_api::dirs::sorted_entries;
use buildpack_api::id;
use platform_api::launch::VerifiedBuildpack;

use crate::error::{Context, LaunchError};

/// A buildpack with a directory under `<layers>`: its API and its layer directories.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BuildpackLayers {
    /// The buildpack's API.
    pub(crate) api: ApiVersion,
    /// The subdirectories of `<layers>/<escaped id>` (not following symlinks), by name.
    pub(crate) layers: Vec<PathBuf>,
}

/// The buildpacks that have a directory, in `buildpacks` order, with their layers.
pub(crate) fn launch_layers(
    layers_dir: &Path,
    buildpacks: &[VerifiedBuildpack],
) -> Result<Vec<BuildpackLayers>, LaunchError> {
    let mut found = Vec::with_capacity(buildpacks.len());
    for bp in buildpacks {
        let dir = layers_dir.join(id::escape(&bp.id));
        match std::fs::metadata(&dir) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => {
                return Err(LaunchError::path("stat", &dir, &e))
                    .context("find buildpack directory");
            }
        }
        let layers = entries(&dir, true).context("add layer root")?;
        found.push(BuildpackLayers {
            api: bp.api,
            layers,
        });
    }
    Ok(found)
}

/// Everything in `dir` that is not a directory (symlinks included), by name; nothing
/// when `dir` does not exist.
pub(crate) fn files(dir: &Path) -> Result<Vec<PathBuf>, LaunchError> {
    entries(dir, false)
}

fn entries(dir: &Path, want_dirs: bool) -> Result<Vec<PathBuf>, LaunchError> {
    let list_err = |e: io::Error| {
        // Go opens first and reads the entries second; a non-directory fails reading.
        let op = if e.kind() == io::ErrorKind::NotADirectory {
            "readdirent"
        } else {
            "open"
        };
        LaunchError::path(op, dir, &e)
            .context(&format!("failed to list files in dir '{}'", dir.display()))
    };
    Ok(sorted_entries(dir)
        .map_err(list_err)?
        .into_iter()
        .filter(|(_, file_type)| file_type.is_dir() == want_dirs)
        .map(|(name, _)| dir.join(name))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn walks_in_order() {
        let root = tempfile::tempdir().unwrap();
        let l = root.path();
        for d in ["b_bp/z-layer", "b_bp/a-layer", "a_bp/layer"] {
            fs::create_dir_all(l.join(d)).unwrap();
        }
        fs::write(l.join("b_bp/a-layer.toml"), "").unwrap();
        std::os::unix::fs::symlink(l.join("b_bp/a-layer"), l.join("b_bp/link")).unwrap();
        let bp = |id: &str, api: &str| VerifiedBuildpack {
            id: id.into(),
            api: api.parse().unwrap(),
        };
        let bps = [bp("b/bp", "0.9"), bp("missing", "0.9"), bp("a/bp", "0.7")];
        assert_eq!(
            launch_layers(l, &bps).unwrap(),
            [
                BuildpackLayers {
                    api: ApiVersion::new(0, 9),
                    layers: vec![l.join("b_bp/a-layer"), l.join("b_bp/z-layer")],
                },
                BuildpackLayers {
                    api: ApiVersion::new(0, 7),
                    layers: vec![l.join("a_bp/layer")],
                },
            ]
        );
        assert_eq!(
            files(&l.join("b_bp")).unwrap(),
            [l.join("b_bp/a-layer.toml"), l.join("b_bp/link")]
        );
        assert!(files(&l.join("none")).unwrap().is_empty());
        let file = l.join("b_bp/a-layer.toml");
        assert_eq!(
            files(&file).unwrap_err().to_string(),
            format!(
                "failed to list files in dir '{0}': readdirent {0}: not a directory",
                file.display()
            )
        );
        fs::write(l.join("c_bp"), "").unwrap();
        assert_eq!(
            launch_layers(l, &[bp("c/bp", "0.9")])
                .unwrap_err()
                .to_string(),
            format!(
                "add layer root: failed to list files in dir '{0}': readdirent {0}: not a directory",
                l.join("c_bp").display()
            )
        );
    }
}

//! Laying the Dockerfiles out under `<generated>`: from Platform API 0.13 extensions
//! wrote in place (`<generated>/<escaped id>/{build,run}.Dockerfile`) and only moot
//! `run.Dockerfile`s get an `.ignore` suffix; below 0.13 each Dockerfile is copied to
//! `<generated>/<build|run>/<escaped id>/Dockerfile` (`Dockerfile.ignore` when moot)
//! with the extension's `extend-config.toml` next to it.

use std::io;
use std::path::Path;

use buildpack_api::dockerfile::Kind;

use super::{DockerfileInfo, GenerateError};
use crate::log::Logger;
use buildpack_api::goerr::{self, path_error};

/// Puts the Dockerfiles where the extender looks for them.
pub(super) fn place(
    dockerfiles: &[DockerfileInfo],
    platform_api: buildpack_api::api::ApiVersion,
    generated_dir: &Path,
    logger: &Logger,
) -> Result<(), GenerateError> {
    for dockerfile in dockerfiles {
        let ignore = dockerfile.kind == Kind::Run && dockerfile.ignore;
        if platform_api.at_least(0, 13) {
            if ignore {
                let mut target = dockerfile.path.clone().into_os_string();
                target.push(".ignore");
                std::fs::rename(&dockerfile.path, &target).map_err(|e| {
                    GenerateError::Other(format!(
                        "failed to rename Dockerfile at {0}: rename {0} {1}: {2}",
                        dockerfile.path.display(),
                        Path::new(&target).display(),
                        goerr::text(&e)
                    ))
                })?;
            }
            continue;
        }
        copy_legacy(dockerfile, ignore, generated_dir, logger)?;
    }
    Ok(())
}

/// Platform API < 0.13: copies one Dockerfile (and its extend-config.toml).
fn copy_legacy(
    dockerfile: &DockerfileInfo,
    ignore: bool,
    generated_dir: &Path,
    logger: &Logger,
) -> Result<(), GenerateError> {
    let target_dir = generated_dir
        .join(dockerfile.kind.as_str())
        .join(buildpack_api::id::escape(&dockerfile.extension_id));
    let target = target_dir.join(if ignore {
        "Dockerfile.ignore"
    } else {
        "Dockerfile"
    });
    std::fs::create_dir_all(&target_dir)
        .map_err(|e| GenerateError::Other(path_error("mkdir", &target_dir, &e)))?;
    logger.debug(format!(
        "Copying {} to {}",
        dockerfile.path.display(),
        target.display()
    ));
    copy_file(&dockerfile.path, &target).map_err(|e| {
        GenerateError::Other(format!(
            "failed to copy Dockerfile at {}: {e}",
            dockerfile.path.display()
        ))
    })?;
    let Some(source_dir) = dockerfile.path.parent() else {
        return Ok(());
    };
    let config = source_dir.join("extend-config.toml");
    match copy_file(&config, &target_dir.join("extend-config.toml")) {
        Ok(()) => Ok(()),
        Err(CopyError::SourceMissing) => Ok(()),
        Err(e) => Err(GenerateError::Other(format!(
            "failed to copy extend config at {}: {e}",
            config.display()
        ))),
    }
}

/// Why a copy failed, separating a missing source.
#[derive(Debug)]
enum CopyError {
    SourceMissing,
    Io(String),
}

impl std::fmt::Display for CopyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CopyError::SourceMissing => f.write_str("no such file or directory"),
            CopyError::Io(msg) => f.write_str(msg),
        }
    }
}

fn copy_file(from: &Path, to: &Path) -> Result<(), CopyError> {
    match std::fs::copy(from, to) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound && !from.exists() => {
            Err(CopyError::SourceMissing)
        }
        Err(e) => Err(CopyError::Io(path_error("copy", from, &e))),
    }
}

/// Copies the contents of directory `from` into `to` (created if needed): files with
/// their permissions, directories recursively, symbolic links as links.
pub(super) fn copy_tree(from: &Path, to: &Path) -> io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let source = entry.path();
        let target = to.join(entry.file_name());
        let kind = entry.file_type()?;
        if kind.is_dir() {
            copy_tree(&source, &target)?;
        } else if kind.is_symlink() {
            let link = std::fs::read_link(&source)?;
            if target.symlink_metadata().is_ok() {
                std::fs::remove_file(&target)?;
            }
            std::os::unix::fs::symlink(link, &target)?;
        } else {
            std::fs::copy(&source, &target)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_trees_with_links() {
        let dir = tempfile::tempdir().unwrap();
        let from = dir.path().join("from");
        std::fs::create_dir_all(from.join("context/sub")).unwrap();
        std::fs::write(from.join("run.Dockerfile"), "FROM x\n").unwrap();
        std::fs::write(from.join("context/sub/file"), "data").unwrap();
        std::os::unix::fs::symlink("sub/file", from.join("context/link")).unwrap();
        let to = dir.path().join("to/nested");
        copy_tree(&from, &to).unwrap();
        copy_tree(&from, &to).unwrap();
        assert_eq!(
            std::fs::read_to_string(to.join("run.Dockerfile")).unwrap(),
            "FROM x\n"
        );
        assert_eq!(
            std::fs::read_to_string(to.join("context/link")).unwrap(),
            "data"
        );
        assert_eq!(
            std::fs::read_link(to.join("context/link")).unwrap(),
            Path::new("sub/file")
        );
    }
}

//! `system.toml` (Platform API 0.15): system buildpacks added before and after every
//! group of the order.

use std::path::Path;

use buildpack_api::group::GroupElement;
use serde::{Deserialize, Serialize};

use super::{FileError, FileKind, toml_file};

/// Buildpacks of `[system.pre]` or `[system.post]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemBuildpacks {
    /// `[[system.<pre|post>.buildpacks]]`. The `optional` key is read; note that the
    /// reference ignores it (system buildpacks are always required there) while the
    /// specification says to honour it.
    #[serde(default)]
    pub buildpacks: Vec<GroupElement>,
}

/// The `[system]` table of `system.toml`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct System {
    /// Buildpacks prepended to every group.
    #[serde(default)]
    pub pre: SystemBuildpacks,
    /// Buildpacks appended to every group.
    #[serde(default)]
    pub post: SystemBuildpacks,
}

#[derive(Deserialize)]
struct SystemFile {
    #[serde(default)]
    system: System,
}

impl System {
    /// Reads `system.toml`.
    pub fn read(path: &Path) -> Result<Self, FileError> {
        toml_file::read::<SystemFile>(path, FileKind::System).map(|f| f.system)
    }

    /// Reads `system.toml`; `None` when it does not exist (no system buildpacks).
    pub fn read_optional(path: &Path) -> Result<Option<Self>, FileError> {
        toml_file::read_optional::<SystemFile>(path, FileKind::System).map(|f| f.map(|f| f.system))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_pre_and_post() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("system.toml");
        std::fs::write(
            &path,
            r#"
[system]
  [system.pre]
    [[system.pre.buildpacks]]
      id = "pre-buildpack-1"
      version = "1.0.0"

    [[system.pre.buildpacks]]
      id = "pre-buildpack-2"
      version = "2.0.0"
      optional = true

  [system.post]
    [[system.post.buildpacks]]
      id = "post-buildpack-1"
      version = "1.5.0"
"#,
        )
        .unwrap();
        let system = System::read(&path).unwrap();
        assert_eq!(system.pre.buildpacks.len(), 2);
        assert!(system.pre.buildpacks[1].optional);
        assert_eq!(
            system.post.buildpacks[0].display_name(),
            "post-buildpack-1@1.5.0"
        );

        std::fs::write(&path, "[system.pre]\n").unwrap();
        let system = System::read(&path).unwrap();
        assert!(system.pre.buildpacks.is_empty() && system.post.buildpacks.is_empty());
        assert!(
            System::read_optional(&dir.path().join("none"))
                .unwrap()
                .is_none()
        );

        std::fs::write(&path, "[system]\npre = 1\n").unwrap();
        assert!(System::read(&path).is_err());
    }
}

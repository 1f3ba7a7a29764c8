//! Module descriptors: `buildpack.toml` and `extension.toml`.
//!
//! Reading is lenient: unknown keys are ignored, keys the reference never reads
//! (`description`, `keywords`, `licenses`, `[metadata]`, stack mixins, the `variant`
//! spelling of a target's variant) are dropped when they have an unexpected shape, and
//! both spellings of the Buildpack API 0.12 `exec-env` list are accepted.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer};

use crate::api::{ApiVersion, ParseApiVersionError};
use crate::group::Order;
use crate::target::{BIONIC_STACK_ID, Stack, Target};

/// File name of a buildpack descriptor inside its directory.
pub const BUILDPACK_DESCRIPTOR: &str = "buildpack.toml";
/// File name of an image extension descriptor inside its directory.
pub const EXTENSION_DESCRIPTOR: &str = "extension.toml";

/// Whether a module is a buildpack or an image extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ModuleKind {
    /// A buildpack (`buildpack.toml`).
    Buildpack,
    /// An image extension (`extension.toml`).
    Extension,
}

impl ModuleKind {
    /// The descriptor file name for this kind.
    pub fn descriptor_file(self) -> &'static str {
        match self {
            ModuleKind::Buildpack => BUILDPACK_DESCRIPTOR,
            ModuleKind::Extension => EXTENSION_DESCRIPTOR,
        }
    }
}

impl fmt::Display for ModuleKind {
    /// Lower-case noun as used in the reference's messages (`buildpack`, `extension`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ModuleKind::Buildpack => "buildpack",
            ModuleKind::Extension => "extension",
        })
    }
}

/// Why a descriptor could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DescriptorError {
    /// The file could not be read.
    #[error("{}", crate::goerr::path_error("open", path, source))]
    Read {
        /// The descriptor path.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// The file is not valid TOML or has a key of the wrong type.
    #[error("failed to parse {}: {source}", path.display())]
    Parse {
        /// The descriptor path.
        path: PathBuf,
        /// The TOML error (with line and column).
        source: toml::de::Error,
    },
    /// The module's `bin` directory exists but could not be listed (target inference).
    #[error("failed to list {}: {source}", path.display())]
    ListBin {
        /// The `bin` directory.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
}

/// A `[[buildpack.licenses]]` entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct License {
    /// License type, usually an SPDX expression.
    #[serde(default, rename = "type")]
    pub kind: String,
    /// URI of a non-standard license.
    #[serde(default)]
    pub uri: String,
}

/// The `[buildpack]` or `[extension]` table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ModuleInfo {
    /// Module ID.
    #[serde(default)]
    pub id: String,
    /// Module version (not validated: templated versions such as `{{.version}}` occur in
    /// source trees).
    #[serde(default)]
    pub version: String,
    /// Human-readable name.
    #[serde(default)]
    pub name: String,
    /// Homepage URL.
    #[serde(default)]
    pub homepage: String,
    /// Whether user-provided `<platform>/env` variables are withheld from the module.
    #[serde(default, rename = "clear-env")]
    pub clear_env: bool,
    /// Description.
    #[serde(default, deserialize_with = "crate::lenient::or_default")]
    pub description: String,
    /// Keywords.
    #[serde(default, deserialize_with = "crate::lenient::or_default")]
    pub keywords: Vec<String>,
    /// Licenses.
    #[serde(default, deserialize_with = "crate::lenient::or_default")]
    pub licenses: Vec<License>,
    /// SBOM media types the buildpack may write (buildpacks only).
    #[serde(default, rename = "sbom-formats")]
    pub sbom_formats: Vec<String>,
    /// Execution environments supported (Buildpack API 0.12), read from either
    /// `exec-env = ["production"]` (the reference) or `[[buildpack.exec-env]] name = ..`
    /// (the specification).
    #[serde(default, rename = "exec-env", deserialize_with = "exec_env_list")]
    pub exec_env: Vec<String>,
}

impl ModuleInfo {
    /// `id@version`.
    pub fn display_name(&self) -> String {
        format!("{}@{}", self.id, self.version)
    }
}

fn exec_env_list<'de, D>(deserializer: D) -> Result<Vec<String>, D::Error>
where
    D: Deserializer<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Entry {
        Name(String),
        Table { name: String },
    }
    let entries = Option::<Vec<Entry>>::deserialize(deserializer).map_err(|_| {
        serde::de::Error::custom(
            "exec-env must be an array of names or of tables with a 'name' key",
        )
    })?;
    Ok(entries
        .unwrap_or_default()
        .into_iter()
        .map(|e| match e {
            Entry::Name(n) | Entry::Table { name: n } => n,
        })
        .collect())
}

/// What the detector needs from any module descriptor.
pub trait ModuleDescriptor {
    /// Buildpack or extension.
    fn kind(&self) -> ModuleKind;
    /// The `api` string as written.
    fn api_str(&self) -> &str;
    /// The `[buildpack]` / `[extension]` table.
    fn info(&self) -> &ModuleInfo;
    /// Targets as written in `[[targets]]` (no translation or inference).
    fn declared_targets(&self) -> &[Target];
    /// The targets to check at detect time when none are declared, given the module's
    /// directory (for inference from its `bin` directory).
    fn fallback_targets(&self, dir: &Path) -> Result<Vec<Target>, DescriptorError>;

    /// The `api` parsed.
    fn api(&self) -> Result<ApiVersion, ParseApiVersionError> {
        self.api_str().parse()
    }

    /// The targets the detector checks against the run image, like the reference's
    /// descriptor readers: declared targets if any, else the kind-specific fallback.
    fn targets_for_detect(&self, dir: &Path) -> Result<Vec<Target>, DescriptorError> {
        if self.declared_targets().is_empty() {
            self.fallback_targets(dir)
        } else {
            Ok(self.declared_targets().to_vec())
        }
    }

    /// Whether the module runs in execution environment `exec_env` (Platform API 0.15
    /// filtering): the declared list is honoured only for Buildpack API >= 0.12 (an
    /// unparsable API counts as older), and an empty list or `*` means every environment.
    fn supports_exec_env(&self, exec_env: &str) -> bool {
        match self.api() {
            Ok(api) => exec_env_allows(api, &self.info().exec_env, exec_env),
            Err(_) => true,
        }
    }
}

/// Whether a module of Buildpack API `api` declaring the execution environments `list`
/// takes part in a build for `exec_env`: lists count from API 0.12 on, and an empty list
/// or `*` means every environment.
pub fn exec_env_allows(api: ApiVersion, list: &[String], exec_env: &str) -> bool {
    api < ApiVersion::new(0, 12)
        || list.is_empty()
        || list.iter().any(|e| e == "*" || e == exec_env)
}

/// Names of the entries of `<dir>/bin`, or nothing when it does not exist.
fn bin_entries(dir: &Path) -> Result<Vec<String>, DescriptorError> {
    let bin = dir.join("bin");
    if std::fs::metadata(&bin).is_err() {
        return Ok(Vec::new());
    }
    let list_err = |source| DescriptorError::ListBin {
        path: bin.clone(),
        source,
    };
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&bin).map_err(list_err)? {
        names.push(
            entry
                .map_err(list_err)?
                .file_name()
                .to_string_lossy()
                .into_owned(),
        );
    }
    Ok(names)
}

fn read_text(path: &Path) -> Result<String, DescriptorError> {
    std::fs::read_to_string(path).map_err(|source| DescriptorError::Read {
        path: path.to_path_buf(),
        source,
    })
}

fn parse_at<T: serde::de::DeserializeOwned>(path: &Path, text: &str) -> Result<T, DescriptorError> {
    toml::from_str(text).map_err(|source| DescriptorError::Parse {
        path: path.to_path_buf(),
        source,
    })
}

/// A `buildpack.toml`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct BuildpackDescriptor {
    /// Buildpack API the buildpack implements, as written.
    #[serde(default)]
    pub api: String,
    /// The `[buildpack]` table.
    #[serde(default)]
    pub buildpack: ModuleInfo,
    /// `[[order]]` of a composite buildpack.
    #[serde(default)]
    pub order: Order,
    /// `[[targets]]` as written.
    #[serde(default)]
    pub targets: Vec<Target>,
    /// Deprecated `[[stacks]]`.
    #[serde(default)]
    pub stacks: Vec<Stack>,
    /// Free-form `[metadata]` (dropped when not a table).
    #[serde(default, deserialize_with = "crate::lenient::table")]
    pub metadata: Option<toml::Table>,
}

impl BuildpackDescriptor {
    /// Parses descriptor text.
    pub fn from_toml(text: &str) -> Result<Self, toml::de::Error> {
        toml::from_str(text)
    }

    /// Reads the descriptor at `path`.
    pub fn read(path: &Path) -> Result<Self, DescriptorError> {
        parse_at(path, &read_text(path)?)
    }

    /// Reads `<dir>/buildpack.toml`.
    pub fn read_dir(dir: &Path) -> Result<Self, DescriptorError> {
        Self::read(&dir.join(BUILDPACK_DESCRIPTOR))
    }

    /// Whether this is a composite buildpack (it has an `[[order]]`).
    pub fn is_composite(&self) -> bool {
        !self.order.is_empty()
    }

    /// The reference's translation of deprecated stacks: `io.buildpacks.stacks.bionic`
    /// becomes linux/amd64 Ubuntu 18.04 when the buildpack API is at least 0.10 or it is
    /// the only stack listed; `*` becomes a match-all target; other stacks are dropped.
    pub fn targets_from_stacks(&self) -> Vec<Target> {
        let new_api = self.api().is_ok_and(|v| v.at_least(0, 10));
        self.stacks
            .iter()
            .filter_map(|s| match s.id.as_str() {
                BIONIC_STACK_ID if new_api || self.stacks.len() == 1 => Some(Target::bionic()),
                "*" => Some(Target::any()),
                _ => None,
            })
            .collect()
    }
}

impl ModuleDescriptor for BuildpackDescriptor {
    fn kind(&self) -> ModuleKind {
        ModuleKind::Buildpack
    }

    fn api_str(&self) -> &str {
        &self.api
    }

    fn info(&self) -> &ModuleInfo {
        &self.buildpack
    }

    fn declared_targets(&self) -> &[Target] {
        &self.targets
    }

    /// Stacks translated, else `linux` when `bin/build` exists, else none.
    fn fallback_targets(&self, dir: &Path) -> Result<Vec<Target>, DescriptorError> {
        let from_stacks = self.targets_from_stacks();
        if !from_stacks.is_empty() {
            return Ok(from_stacks);
        }
        Ok(bin_entries(dir)?
            .iter()
            .filter(|n| *n == "build")
            .map(|_| Target::os_only("linux"))
            .collect())
    }
}

/// An `extension.toml`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct ExtensionDescriptor {
    /// Buildpack API the extension implements, as written.
    #[serde(default)]
    pub api: String,
    /// The `[extension]` table.
    #[serde(default)]
    pub extension: ModuleInfo,
    /// `[[targets]]` as written.
    #[serde(default)]
    pub targets: Vec<Target>,
    /// Free-form `[metadata]` (dropped when not a table).
    #[serde(default, deserialize_with = "crate::lenient::table")]
    pub metadata: Option<toml::Table>,
}

impl ExtensionDescriptor {
    /// Parses descriptor text.
    pub fn from_toml(text: &str) -> Result<Self, toml::de::Error> {
        toml::from_str(text)
    }

    /// Reads the descriptor at `path`.
    pub fn read(path: &Path) -> Result<Self, DescriptorError> {
        parse_at(path, &read_text(path)?)
    }

    /// Reads `<dir>/extension.toml`.
    pub fn read_dir(dir: &Path) -> Result<Self, DescriptorError> {
        Self::read(&dir.join(EXTENSION_DESCRIPTOR))
    }
}

impl ModuleDescriptor for ExtensionDescriptor {
    fn kind(&self) -> ModuleKind {
        ModuleKind::Extension
    }

    fn api_str(&self) -> &str {
        &self.api
    }

    fn info(&self) -> &ModuleInfo {
        &self.extension
    }

    fn declared_targets(&self) -> &[Target] {
        &self.targets
    }

    /// `linux` when `bin/detect` or `bin/generate` exists (both are optional for
    /// extensions), else a match-all target: never empty.
    fn fallback_targets(&self, dir: &Path) -> Result<Vec<Target>, DescriptorError> {
        let linux = bin_entries(dir)?
            .iter()
            .any(|n| n == "detect" || n == "generate");
        Ok(vec![if linux {
            Target::os_only("linux")
        } else {
            Target::any()
        }])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::{Distro, TargetQuery};
    use std::fs;

    const HELLO_WORLD: &str = r#"
# Buildpack API version
api = "0.10"

# Buildpack ID and metadata
[buildpack]
  id = "examples/hello-world"
  version = "0.0.1"
  name = "Hello World Buildpack"
  homepage = "https://github.com/buildpacks/samples/tree/main/buildpacks/hello-world"

# Targets the buildpack will work with
[[targets]]
os = "linux"

# Stacks (deprecated) the buildpack will work with
[[stacks]]
id = "*"
"#;

    const HELLO_UNIVERSE: &str = r#"
api = "0.7"

[buildpack]
id = "samples/hello-universe"
version = "0.0.1"
name = "Hello Universe Buildpack"

[[order]]
[[order.group]]
id = "samples/hello-world"
version = "0.0.1"

[[order.group]]
id = "samples/hello-moon"
version = "0.0.1"
optional = true
"#;

    const HELLO_PROCESSES: &str = r#"
api = "0.8"

[buildpack]
id = "samples/hello-processes"
version = "0.0.1"
name = "Hello Processes Buildpack"

[[stacks]]
id = "*"

[[targets]]
os = "linux"
arch = "amd64"
"#;

    const LIBCNB: &str = r#"
api = "0.10"

[buildpack]
id = "heroku/procfile"
version = "4.2.1"
name = "Heroku Procfile"
homepage = "https://github.com/heroku/buildpacks-procfile"
description = "Official Heroku buildpack for processes defined in a Procfile."
keywords = ["procfile", "heroku"]
clear-env = true

[[buildpack.licenses]]
type = "BSD-3-Clause"

[[targets]]
os = "linux"
arch = "amd64"

[[targets]]
os = "linux"
arch = "arm64"

[metadata.release]
image = { repository = "docker.io/heroku/procfile-cnb" }
"#;

    const PAKETO: &str = r#"
api = "0.7"

[buildpack]
  description = "A Cloud Native Buildpack that sets the application's start command from a Procfile"
  homepage = "https://github.com/paketo-buildpacks/procfile"
  id = "paketo-buildpacks/procfile"
  keywords = ["procfile"]
  name = "Paketo Buildpack for Procfile"
  sbom-formats = ["application/vnd.cyclonedx+json", "application/vnd.syft+json"]
  version = "{{.version}}"

  [[buildpack.licenses]]
    type = "Apache-2.0"
    uri = "https://github.com/paketo-buildpacks/procfile/blob/main/LICENSE"

[metadata]
  include-files = ["LICENSE", "NOTICE", "README.md", "bin/build", "bin/detect", "bin/main", "buildpack.toml"]
  pre-package = "scripts/build.sh"

[[stacks]]
  id = "io.buildpacks.stacks.bionic"

[[stacks]]
  id = "io.paketo.stacks.tiny"

[[stacks]]
  id = "*"
"#;

    fn dir_with_bin(files: &[&str]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("bin")).unwrap();
        for f in files {
            fs::write(dir.path().join("bin").join(f), "#!/bin/sh\n").unwrap();
        }
        dir
    }

    #[test]
    fn hello_world() {
        let d = BuildpackDescriptor::from_toml(HELLO_WORLD).unwrap();
        assert_eq!(d.api().unwrap(), ApiVersion::new(0, 10));
        assert_eq!(d.buildpack.id, "examples/hello-world");
        assert_eq!(d.buildpack.display_name(), "examples/hello-world@0.0.1");
        assert!(!d.is_composite());
        let dir = dir_with_bin(&["build", "detect"]);
        // Declared targets win over stacks and inference.
        assert_eq!(
            d.targets_for_detect(dir.path()).unwrap(),
            vec![Target::os_only("linux")]
        );
    }

    #[test]
    fn composite() {
        let d = BuildpackDescriptor::from_toml(HELLO_UNIVERSE).unwrap();
        assert!(d.is_composite());
        assert_eq!(d.order.len(), 1);
        let group = &d.order[0].group;
        assert_eq!(group[1].id, "samples/hello-moon");
        assert!(group[1].optional);
        assert!(!group[0].optional);
        // No bin directory, no stacks, no targets: nothing to check.
        let dir = tempfile::tempdir().unwrap();
        assert!(d.targets_for_detect(dir.path()).unwrap().is_empty());
    }

    #[test]
    fn stacks_and_targets() {
        let d = BuildpackDescriptor::from_toml(HELLO_PROCESSES).unwrap();
        assert_eq!(d.stacks[0].id, "*");
        let dir = tempfile::tempdir().unwrap();
        let targets = d.targets_for_detect(dir.path()).unwrap();
        assert_eq!(targets.len(), 1);
        assert_eq!(targets[0].arch, "amd64");
    }

    #[test]
    fn libcnb_buildpack() {
        let d = BuildpackDescriptor::from_toml(LIBCNB).unwrap();
        assert!(d.buildpack.clear_env);
        assert_eq!(d.buildpack.keywords, ["procfile", "heroku"]);
        assert_eq!(d.buildpack.licenses[0].kind, "BSD-3-Clause");
        assert_eq!(d.targets.len(), 2);
        assert!(d.metadata.unwrap().contains_key("release"));
    }

    #[test]
    fn paketo_stacks_translate() {
        let d = BuildpackDescriptor::from_toml(PAKETO).unwrap();
        assert_eq!(d.buildpack.version, "{{.version}}");
        assert_eq!(d.stacks.len(), 3);
        assert_eq!(d.buildpack.sbom_formats.len(), 2);
        // API 0.7 with three stacks: bionic is not translated, `*` is.
        assert_eq!(d.targets_from_stacks(), vec![Target::any()]);
        let dir = dir_with_bin(&["build", "detect"]);
        assert_eq!(
            d.targets_for_detect(dir.path()).unwrap(),
            vec![Target::any()]
        );
    }

    #[test]
    fn bionic_rules() {
        let only = "api = \"0.7\"\n[[stacks]]\nid = \"io.buildpacks.stacks.bionic\"\nmixins = [\"build:git\"]\n";
        let d = BuildpackDescriptor::from_toml(only).unwrap();
        assert_eq!(d.stacks[0].mixins, ["build:git"]);
        assert_eq!(d.targets_from_stacks(), vec![Target::bionic()]);

        let two_old = "api = \"0.9\"\n[[stacks]]\nid = \"io.buildpacks.stacks.bionic\"\n[[stacks]]\nid = \"io.buildpacks.stacks.jammy\"\n";
        let d = BuildpackDescriptor::from_toml(two_old).unwrap();
        assert!(d.targets_from_stacks().is_empty());
        let dir = dir_with_bin(&["build"]);
        assert_eq!(
            d.targets_for_detect(dir.path()).unwrap(),
            vec![Target::os_only("linux")]
        );

        let two_new = two_old.replace("0.9", "0.10");
        let d = BuildpackDescriptor::from_toml(&two_new).unwrap();
        assert_eq!(d.targets_from_stacks(), vec![Target::bionic()]);
        let bionic_image = TargetQuery {
            os: "linux".into(),
            arch: "amd64".into(),
            arch_variant: String::new(),
            distro: Some(Distro {
                name: "ubuntu".into(),
                version: "18.04".into(),
            }),
        };
        assert!(d.targets_from_stacks()[0].matches(&bionic_image));
    }

    #[test]
    fn inference_needs_bin_build() {
        let d = BuildpackDescriptor::from_toml("api = \"0.10\"\n").unwrap();
        let dir = dir_with_bin(&["detect"]);
        assert!(d.targets_for_detect(dir.path()).unwrap().is_empty());
        let dir = dir_with_bin(&["build.bat", "detect.bat"]);
        assert!(d.targets_for_detect(dir.path()).unwrap().is_empty());
        // A `bin` that is a file cannot be listed: an error, as in the reference.
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("bin"), "").unwrap();
        let err = d.targets_for_detect(dir.path()).unwrap_err();
        assert!(err.to_string().starts_with("failed to list "), "{err}");
    }

    #[test]
    fn exec_env_both_forms() {
        let reference =
            "api = \"0.12\"\n[buildpack]\nid = \"a\"\nexec-env = [\"production\", \"test\"]\n";
        let spec = "api = \"0.12\"\n[buildpack]\nid = \"a\"\n[[buildpack.exec-env]]\nname = \"production\"\n[[buildpack.exec-env]]\nname = \"test\"\n";
        for text in [reference, spec] {
            let d = BuildpackDescriptor::from_toml(text).unwrap();
            assert_eq!(d.buildpack.exec_env, ["production", "test"]);
            assert!(d.supports_exec_env("test"));
            assert!(!d.supports_exec_env("development"));
        }
        // Ignored below Buildpack API 0.12.
        let old = BuildpackDescriptor::from_toml(&reference.replace("0.12", "0.11")).unwrap();
        assert!(old.supports_exec_env("development"));
        let star = "api = \"0.12\"\n[buildpack]\nexec-env = [\"*\"]\n";
        assert!(
            BuildpackDescriptor::from_toml(star)
                .unwrap()
                .supports_exec_env("x")
        );
        let bad = "api = \"0.12\"\n[buildpack]\nexec-env = \"production\"\n";
        let err = BuildpackDescriptor::from_toml(bad).unwrap_err().to_string();
        assert!(err.contains("exec-env must be an array"), "{err}");
    }

    #[test]
    fn lenient_on_unread_keys() {
        let text = r#"
api = "0.9"
unknown = 1
[buildpack]
id = "x"
keywords = "not-a-list"
licenses = "MIT"
description = 3
[metadata]
[[targets]]
os = "linux"
variant = ["bogus"]
"#;
        let d = BuildpackDescriptor::from_toml(text).unwrap();
        assert!(d.buildpack.keywords.is_empty());
        assert!(d.buildpack.licenses.is_empty());
        assert_eq!(d.targets[0].arch_variant, "");
        assert_eq!(d.metadata, Some(toml::Table::new()));
        let not_table = BuildpackDescriptor::from_toml("metadata = 3\n").unwrap();
        assert_eq!(not_table.metadata, None);
    }

    #[test]
    fn errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let err = BuildpackDescriptor::read_dir(dir.path()).unwrap_err();
        assert!(matches!(err, DescriptorError::Read { .. }));
        assert!(err.to_string().contains("buildpack.toml"), "{err}");

        fs::write(dir.path().join("buildpack.toml"), "api = 0.7\n[buildpack\n").unwrap();
        let err = BuildpackDescriptor::read_dir(dir.path()).unwrap_err();
        assert!(matches!(err, DescriptorError::Parse { .. }));
        assert!(err.to_string().contains("buildpack.toml"), "{err}");

        fs::write(
            dir.path().join("buildpack.toml"),
            "[buildpack]\nclear-env = \"yes\"\n",
        )
        .unwrap();
        assert!(BuildpackDescriptor::read_dir(dir.path()).is_err());

        fs::write(dir.path().join("buildpack.toml"), "api = \"0.2wrong\"\n").unwrap();
        let d = BuildpackDescriptor::read_dir(dir.path()).unwrap();
        assert!(d.api().is_err());
    }

    #[test]
    fn extension_inference() {
        // samples/extensions/curl: no targets.
        let text = r#"
api = "0.10"

[extension]
id = "samples/curl"
version = "0.0.1"
name = "Curl Extension"
description = "Curl Extension"
homepage = "https://github.com/buildpacks/samples/tree/main/extensions/curl"
"#;
        let e = ExtensionDescriptor::from_toml(text).unwrap();
        assert_eq!(e.kind(), ModuleKind::Extension);
        assert_eq!(e.info().id, "samples/curl");
        let with_generate = dir_with_bin(&["generate"]);
        assert_eq!(
            e.targets_for_detect(with_generate.path()).unwrap(),
            vec![Target::os_only("linux")]
        );
        let both = dir_with_bin(&["detect", "generate"]);
        assert_eq!(
            e.targets_for_detect(both.path()).unwrap(),
            vec![Target::os_only("linux")]
        );
        let prepopulated = tempfile::tempdir().unwrap();
        assert_eq!(
            e.targets_for_detect(prepopulated.path()).unwrap(),
            vec![Target::any()]
        );
        let windows = dir_with_bin(&["generate.bat"]);
        assert_eq!(
            e.targets_for_detect(windows.path()).unwrap(),
            vec![Target::any()]
        );

        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("extension.toml"), text).unwrap();
        assert_eq!(ExtensionDescriptor::read_dir(dir.path()).unwrap(), e);
    }

    #[test]
    fn extension_declared_targets() {
        let text = "api = \"0.12\"\n[extension]\nid = \"e\"\n[[targets]]\nos = \"linux\"\narch = \"arm64\"\n";
        let e = ExtensionDescriptor::from_toml(text).unwrap();
        let dir = dir_with_bin(&["generate"]);
        assert_eq!(e.targets_for_detect(dir.path()).unwrap()[0].arch, "arm64");
    }

    #[test]
    fn kinds() {
        assert_eq!(ModuleKind::Buildpack.to_string(), "buildpack");
        assert_eq!(ModuleKind::Extension.descriptor_file(), "extension.toml");
    }
}

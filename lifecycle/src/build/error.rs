//! Why a build fails, worded as the reference words it, and the exit code of each case.

use std::io;
use std::path::PathBuf;

use buildpack_api::build::BuildTomlError;
use buildpack_api::descriptor::DescriptorError;
use buildpack_api::env::EnvError;
use buildpack_api::goerr;
use buildpack_api::id::IdError;
use buildpack_api::launch::LaunchError;
use buildpack_api::layer::LayerError;
use buildpack_api::plan::PlanError;
use buildpack_api::store::StoreError;
use platform_api::exit::{self, ExitCode};
use platform_api::files::FileError;
use platform_api::module_api::BuildpackApiError;

use crate::exec::ProgramExit;

/// Why the build failed. `Display` is the whole message printed after `ERROR: `;
/// [`BuildError::exit_code`] is the exit code.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// `group.toml` could not be read (exit 1).
    #[error(transparent)]
    ReadGroup(FileError),
    /// `plan.toml` could not be read (exit 1).
    #[error(transparent)]
    ReadPlan(FileError),
    /// A group element's `api` is malformed or unsupported (exit 12).
    #[error(transparent)]
    BuildpackApi(#[from] BuildpackApiError),
    /// `analyzed.toml` exists but could not be read (exit 1; the reference's wording).
    #[error("failed to reading analyzed.toml: {0}")]
    ReadAnalyzed(FileError),
    /// A buildpack's `/bin/build` failed (exit 51).
    #[error("failed to build: {0}")]
    BuildpackFailed(ProgramExit),
    /// Anything else going wrong while building (exit 52, or 12 for a descriptor
    /// declaring an unsupported API).
    #[error("failed to build: {0}")]
    Build(#[from] StepError),
    /// `<layers>/config/metadata.toml` could not be written (exit 1).
    #[error(transparent)]
    WriteMetadata(FileError),
}

impl BuildError {
    /// The exit code the builder exits with.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            BuildError::ReadGroup(_)
            | BuildError::ReadPlan(_)
            | BuildError::ReadAnalyzed(_)
            | BuildError::WriteMetadata(_) => exit::FAILED,
            BuildError::BuildpackApi(_) => exit::INCOMPATIBLE_BUILDPACK_API,
            BuildError::BuildpackFailed(_) => exit::BUILD_BUILDPACK_FAILED,
            BuildError::Build(StepError::DescriptorApi { .. }) => exit::INCOMPATIBLE_BUILDPACK_API,
            BuildError::Build(_) => exit::BUILD_ERROR,
        }
    }
}

/// A failure while preparing, running or collecting one buildpack's build, or while
/// writing the build's SBOM files (the part after `failed to build: `).
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    /// `<layers>/sbom` could not be removed before the build.
    #[error("cleaning layers SBOM directory: {}", goerr::text(.0))]
    CleanSbomDir(io::Error),
    /// The buildpack's descriptor could not be read.
    #[error(transparent)]
    Descriptor(#[from] DescriptorError),
    /// The descriptor's `api` is missing, malformed or unsupported (exit 12).
    #[error(
        "buildpack '{name}' declares buildpack API '{api}' in buildpack.toml, which is not supported by the lifecycle"
    )]
    DescriptorApi {
        /// `id@version`.
        name: String,
        /// The API as written.
        api: String,
    },
    /// A file-system operation failed (`op path: reason`, as Go words it).
    #[error("{}", goerr::path_error(op, path, source))]
    Io {
        /// Go's name for the operation (`mkdir`, `open`, `rename`, ...).
        op: &'static str,
        /// The path.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// The buildpack plan could not be written.
    #[error(transparent)]
    WritePlan(#[from] PlanError),
    /// The environment could not be assembled or updated.
    #[error(transparent)]
    Env(#[from] EnvError),
    /// A `<layer>.toml` is unreadable or malformed.
    #[error("failed to process buildpack layer: failed to decode layer metadata file: {0}")]
    LayerMetadata(#[from] LayerError),
    /// A layer directory could not be renamed to `<layer>.ignore`.
    #[error("failed to process buildpack layer: failed to rename layer directory: rename {} {}: {}", from.display(), to.display(), goerr::text(source))]
    IgnoreLayer {
        /// The layer directory.
        from: PathBuf,
        /// `<layer>.ignore`.
        to: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// A `<name>.toml` names no acceptable layer (empty, `.`, `..`, not UTF-8).
    #[error(
        "failed to process buildpack layer: buildpack '{buildpack}' wrote '{file}', which names no valid layer: {reason}"
    )]
    InvalidLayerName {
        /// The buildpack ID.
        buildpack: String,
        /// The file name as written.
        file: String,
        /// Why the name is refused.
        reason: String,
    },
    /// A layer directory, SBOM file or buildpack directory is a symlink leading out of
    /// `<layers>`.
    #[error("{} is a symlink to {}, outside the layers directory {}", path.display(), target.display(), layers.display())]
    OutsideLayers {
        /// The symlink.
        path: PathBuf,
        /// Where it leads.
        target: PathBuf,
        /// The layers directory.
        layers: PathBuf,
    },
    /// A symlink inside the buildpack's layers directory cannot be resolved.
    #[error("{} is a symlink that cannot be resolved: {}", path.display(), goerr::text(source))]
    DanglingSymlink {
        /// The symlink.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// `build.toml` is malformed or names unmet entries that are not in the plan.
    #[error(transparent)]
    BuildToml(#[from] BuildTomlError),
    /// `launch.toml` is malformed.
    #[error(transparent)]
    Launch(#[from] LaunchError),
    /// `store.toml` is malformed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A process type the exporter could not turn into a process (empty, or with one of
    /// `/><:|&\`).
    #[error("buildpack '{buildpack}' defines an invalid process in launch.toml: {source}")]
    ProcessType {
        /// The buildpack ID.
        buildpack: String,
        /// What is wrong with the type.
        source: IdError,
    },
    /// An SBOM file name matches `*.sbom.*.json` but names no supported format.
    #[error("unsupported SBOM file format: '{}'", path.display())]
    UnsupportedSbom {
        /// The file.
        path: PathBuf,
    },
    /// An SBOM file's format is not declared in the buildpack's `sbom-formats`, or a
    /// declared entry is not a media type.
    #[error("validating SBOM file '{}' for buildpack: '{buildpack}': {reason}", path.display())]
    UndeclaredSbom {
        /// The file.
        path: PathBuf,
        /// `id@version`.
        buildpack: String,
        /// `undeclared SBOM media type: '<type>'` or the declared entry that is not a
        /// media type.
        reason: String,
    },
    /// An SBOM file is a directory or another non-regular file.
    #[error("SBOM file '{}' is not a regular file", path.display())]
    SbomNotAFile {
        /// The path.
        path: PathBuf,
    },
    /// A legacy BOM file could not be written.
    #[error("encoding {scope} bom: {reason}")]
    LegacyBom {
        /// `launch` or `build`.
        scope: &'static str,
        /// Why.
        reason: String,
    },
}

impl StepError {
    /// A failed file-system operation.
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> Self {
        let path = path.into();
        move |source| StepError::Io { op, path, source }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_and_codes() {
        let e = BuildError::BuildpackFailed(ProgramExit::Status(3));
        assert_eq!(e.to_string(), "failed to build: exit status 3");
        assert_eq!(e.exit_code(), 51);
        let e = BuildError::BuildpackFailed(ProgramExit::Signal {
            signal: 9,
            core: false,
        });
        assert_eq!(e.to_string(), "failed to build: signal: killed");
        assert_eq!(
            ProgramExit::Signal {
                signal: 40,
                core: false
            }
            .to_string(),
            "signal: signal 40"
        );
        let e = BuildError::BuildpackFailed(ProgramExit::Spawn {
            program: "/bp/bin/build".into(),
            source: io::Error::from_raw_os_error(2),
        });
        assert_eq!(
            e.to_string(),
            "failed to build: fork/exec /bp/bin/build: no such file or directory"
        );
        let e = BuildError::BuildpackApi(BuildpackApiError::Unparsable {
            kind: "Buildpack",
            name: "hello_world@0.0.1".into(),
        });
        assert_eq!(
            e.to_string(),
            "failed to parse buildpack API '<nil>' for buildpack 'hello_world@0.0.1'"
        );
        assert_eq!(e.exit_code(), 12);
        let e = BuildError::Build(StepError::DescriptorApi {
            name: "a@1".into(),
            api: "0.1".into(),
        });
        assert_eq!(e.exit_code(), 12);
        let e = BuildError::Build(StepError::io("mkdir", "/layers/a")(
            io::Error::from_raw_os_error(13),
        ));
        assert_eq!(
            e.to_string(),
            "failed to build: mkdir /layers/a: permission denied"
        );
        assert_eq!(e.exit_code(), 52);
    }
}

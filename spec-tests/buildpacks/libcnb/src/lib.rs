//! Buildpacks written with libcnb.rs, the Rust framework most Rust buildpacks use
//! (Heroku's among them), so the spec tests build apps with real libcnb buildpacks:
//! `env-buildpack` (a cached build+launch layer, a launch-only layer, layer
//! environment of every kind, processes) and `execd-buildpack` (a launch layer with
//! the `execd-greeting` exec.d program). `scripts/build-test-buildpacks` packages them
//! as `cargo libcnb package` does, with the descriptors under `buildpacks/`.

use std::path::PathBuf;

/// What a test buildpack's build can fail with.
#[derive(Debug, thiserror::Error)]
pub enum TestBuildpackError {
    /// Writing or reading a layer's files failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The failure.
        source: std::io::Error,
    },
}

impl From<TestBuildpackError> for libcnb::Error<TestBuildpackError> {
    fn from(error: TestBuildpackError) -> Self {
        libcnb::Error::BuildpackError(error)
    }
}

/// Attaches `path` to an I/O failure.
pub fn io_error(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> TestBuildpackError {
    let path = path.into();
    move |source| TestBuildpackError::Io { path, source }
}

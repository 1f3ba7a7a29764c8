//! Launch failures worded as the reference chains them: each step prefixes what it was
//! doing (`modify env: add layer env: ...`), and the whole is printed after
//! `failed to launch: `.

use std::fmt;
use std::io;
use std::path::Path;

use buildpack_api::goerr;

/// A failure between choosing the process and replacing the launcher with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LaunchError(String);

impl LaunchError {
    /// A failure described by `message`.
    pub(crate) fn new(message: impl Into<String>) -> Self {
        LaunchError(message.into())
    }

    /// A failed file operation, as Go's `*PathError` prints it (`open /x: ...`).
    pub(crate) fn path(op: &str, path: &Path, err: &io::Error) -> Self {
        LaunchError(goerr::path_error(op, path, err))
    }

    /// The failure prefixed with what was being done.
    pub(crate) fn context(self, what: &str) -> Self {
        LaunchError(format!("{what}: {}", self.0))
    }
}

impl fmt::Display for LaunchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Adds context to the error of a result.
pub(crate) trait Context<T> {
    /// Prefixes the error with what was being done.
    fn context(self, what: &str) -> Result<T, LaunchError>;
}

impl<T> Context<T> for Result<T, LaunchError> {
    fn context(self, what: &str) -> Result<T, LaunchError> {
        self.map_err(|e| e.context(what))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chains_like_the_reference() {
        let err = LaunchError::path(
            "chdir",
            Path::new("/nowhere"),
            &io::Error::from_raw_os_error(2),
        );
        let chained: Result<(), _> = Err(err);
        assert_eq!(
            chained.context("change directory").unwrap_err().to_string(),
            "change directory: chdir /nowhere: no such file or directory"
        );
    }
}

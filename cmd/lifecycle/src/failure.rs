//! A failure ending the process: an exit code and an error printed as
//! `ERROR: failed to <action>: <cause>`.

use std::fmt;

use lifecycle::log::Logger;
use platform_api::exit::ExitCode;

/// Why the process exits unsuccessfully.
#[derive(Debug)]
pub struct Failure {
    /// The exit code.
    pub code: ExitCode,
    /// The error, whose context chain forms the message.
    pub error: anyhow::Error,
}

impl Failure {
    /// A failure whose error already reads `failed to …`.
    pub fn new(code: ExitCode, error: impl Into<anyhow::Error>) -> Self {
        Self {
            code,
            error: error.into(),
        }
    }

    /// `failed to <action>` with no further cause.
    pub fn bare(code: ExitCode, action: impl fmt::Display) -> Self {
        Self {
            code,
            error: anyhow::anyhow!("failed to {action}"),
        }
    }

    /// `failed to <action>: <cause>`.
    pub fn failed_to(code: ExitCode, action: &str, cause: impl Into<anyhow::Error>) -> Self {
        Self {
            code,
            error: cause.into().context(format!("failed to {action}")),
        }
    }

    /// Logs the error line and returns the exit code.
    pub fn report(self, logger: &Logger) -> ExitCode {
        logger.error(format!("{:#}", self.error));
        self.code
    }
}

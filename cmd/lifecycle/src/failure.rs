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
        logger.error(message(&self.error));
        self.code
    }
}

/// The error and its causes joined by `: `, each said once: a cause whose text an outer
/// message already holds (errors that print their source themselves) is left out.
fn message(error: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in error.chain() {
        let part = cause.to_string();
        if text.contains(&part) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&part);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_cause_is_said_once() {
        let api = buildpack_api::api::ApiVersion::new(0, 10);
        let parse = buildpack_api::launch::LaunchToml::parse("not toml ===", api).unwrap_err();
        let error = anyhow::Error::new(parse).context("failed to build");
        let text = message(&error);
        assert!(
            text.starts_with("failed to build: failed to parse launch.toml: "),
            "{text}"
        );
        assert_eq!(
            text.matches("failed to parse launch.toml").count(),
            1,
            "{text}"
        );
        let cause = text.trim_start_matches("failed to build: failed to parse launch.toml: ");
        assert_eq!(text.matches(cause).count(), 1, "{text}");
        let chained = anyhow::anyhow!("inner").context("middle").context("outer");
        assert_eq!(message(&chained), "outer: middle: inner");
    }
}

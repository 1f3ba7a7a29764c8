//! `CNB_EXPERIMENTAL_MODE`: what happens when a platform asks for an experimental feature.

/// Experimental feature name for image extensions on Platform API < 0.13.
pub const FEATURE_DOCKERFILES: &str = "Dockerfiles";
/// Experimental feature name for OCI layout export.
pub const FEATURE_LAYOUT: &str = "export to OCI layout format";

/// The reaction to a request for an experimental feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExperimentalMode {
    /// Allow silently (`quiet`, also spelled `silent`).
    Quiet,
    /// Allow with a warning.
    Warn,
    /// Refuse (the default).
    #[default]
    Error,
}

impl ExperimentalMode {
    /// `CNB_EXPERIMENTAL_MODE` as the reference reads it: unset means `error`, `quiet`
    /// (or the specification's `silent`) allows silently, and any other value behaves
    /// like `warn`.
    pub fn from_env_value(value: &str) -> Self {
        match value {
            "" | "error" => Self::Error,
            "quiet" | "silent" => Self::Quiet,
            _ => Self::Warn,
        }
    }
}

/// What the caller logs and does after [`ExperimentalMode::guard`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Guard {
    /// Go on, printing nothing.
    Allow,
    /// Go on after printing this warning.
    Warn(String),
    /// Print this error line, then fail with [`ExperimentalDisabled`].
    Deny(String),
}

/// The error a refused experimental feature fails with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("experimental features are disabled by CNB_EXPERIMENTAL_MODE=error")]
pub struct ExperimentalDisabled;

impl ExperimentalMode {
    /// Decides on a request for `feature`.
    pub fn guard(&self, feature: &str) -> Guard {
        let msg = format!("Platform requested experimental feature '{feature}'");
        match self {
            Self::Quiet => Guard::Allow,
            Self::Warn => Guard::Warn(msg),
            Self::Error => Guard::Deny(msg),
        }
    }
}

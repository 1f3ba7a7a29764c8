//! `CNB_PLATFORM_API` verification, done before any flag is parsed, and
//! `CNB_DEPRECATION_MODE`, which decides what a deprecated API request does.

use crate::api::{ApiSet, ApiVersion};
use crate::exit::{ExitCode, INCOMPATIBLE_PLATFORM_API};
use std::str::FromStr;

/// The variable naming the requested Platform API.
pub const ENV_PLATFORM_API: &str = "CNB_PLATFORM_API";
/// The variable choosing the reaction to deprecated APIs.
pub const ENV_DEPRECATION_MODE: &str = "CNB_DEPRECATION_MODE";

/// The reaction to a request for a deprecated API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeprecationMode {
    /// Allow silently.
    Quiet,
    /// Allow with a warning (the default, also for unknown values).
    #[default]
    Warn,
    /// Refuse (exit 11).
    Error,
}

impl DeprecationMode {
    /// Reads a `CNB_DEPRECATION_MODE` value; anything but `quiet` or `error` means warn.
    pub fn from_env_value(value: &str) -> Self {
        match value {
            "quiet" => Self::Quiet,
            "error" => Self::Error,
            _ => Self::Warn,
        }
    }
}

/// Why the requested Platform API cannot be served; every case exits 11.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlatformApiError {
    /// `CNB_PLATFORM_API` unset or blank.
    #[error(
        "failed to get platform API version; please set 'CNB_PLATFORM_API' to specify the desired platform API version"
    )]
    Unset,
    /// Not a version.
    #[error("failed to parse platform API '{0}'")]
    Unparsable(String),
    /// Not a version this lifecycle implements.
    #[error(
        "failed to set platform API: platform API version '{0}' is incompatible with the lifecycle"
    )]
    Incompatible(String),
    /// A deprecated version refused by `CNB_DEPRECATION_MODE=error`.
    #[error(
        "failed to set platform API: platform API version '{0}' is incompatible with the lifecycle"
    )]
    DeprecatedRefused(String),
}

impl PlatformApiError {
    /// The exit code (11).
    pub fn exit_code(&self) -> ExitCode {
        INCOMPATIBLE_PLATFORM_API
    }

    /// Error lines the reference logs before the error itself.
    pub fn preceding_errors(&self) -> Vec<String> {
        match self {
            Self::DeprecatedRefused(requested) => vec![
                format!("Platform requested deprecated API '{requested}'"),
                format!("Deprecated APIs are disabled by {ENV_DEPRECATION_MODE}=error"),
            ],
            _ => Vec::new(),
        }
    }
}

/// An accepted Platform API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedPlatformApi {
    /// The version requested.
    pub version: ApiVersion,
    /// A warning to log (a deprecated version in warn mode).
    pub warning: Option<String>,
}

/// Checks the raw `CNB_PLATFORM_API` value against `apis`, as the reference does before
/// parsing any flag.
pub fn verify_platform_api(
    requested: &str,
    mode: DeprecationMode,
    apis: &ApiSet,
) -> Result<VerifiedPlatformApi, PlatformApiError> {
    if requested.trim().is_empty() {
        return Err(PlatformApiError::Unset);
    }
    let version = ApiVersion::from_str(requested)
        .map_err(|_| PlatformApiError::Unparsable(requested.to_string()))?;
    if !apis.is_supported(&version) {
        return Err(PlatformApiError::Incompatible(requested.to_string()));
    }
    let mut warning = None;
    if apis.is_deprecated(&version) {
        match mode {
            DeprecationMode::Quiet => {}
            DeprecationMode::Warn => {
                warning = Some(format!("Platform requested deprecated API '{requested}'"));
            }
            DeprecationMode::Error => {
                return Err(PlatformApiError::DeprecatedRefused(requested.to_string()));
            }
        }
    }
    Ok(VerifiedPlatformApi { version, warning })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::PLATFORM_APIS;

    #[test]
    fn accepts_supported_versions() {
        for v in ["0.7", "0.12", "0.15", "v0.15"] {
            let ok = verify_platform_api(v, DeprecationMode::Warn, &PLATFORM_APIS).unwrap();
            assert_eq!(ok.warning, None);
        }
        let ok = verify_platform_api("0.10", DeprecationMode::Warn, &PLATFORM_APIS).unwrap();
        assert_eq!(ok.version, ApiVersion::new(0, 10));
    }

    #[test]
    fn rejects_with_the_reference_messages() {
        for blank in ["", "  "] {
            let e = verify_platform_api(blank, DeprecationMode::Warn, &PLATFORM_APIS).unwrap_err();
            assert_eq!(
                e.to_string(),
                "failed to get platform API version; please set 'CNB_PLATFORM_API' to specify the desired platform API version"
            );
            assert_eq!(e.exit_code(), 11);
        }
        let e = verify_platform_api("0.2wrongapiblabla", DeprecationMode::Warn, &PLATFORM_APIS)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "failed to parse platform API '0.2wrongapiblabla'"
        );
        let e = verify_platform_api("0.6", DeprecationMode::Warn, &PLATFORM_APIS).unwrap_err();
        assert_eq!(
            e.to_string(),
            "failed to set platform API: platform API version '0.6' is incompatible with the lifecycle"
        );
        for unsupported in ["0.16", "1", "0.", "1.0"] {
            let e = verify_platform_api(unsupported, DeprecationMode::Warn, &PLATFORM_APIS)
                .unwrap_err();
            assert!(
                matches!(e, PlatformApiError::Incompatible(_)),
                "{unsupported}"
            );
        }
        for bad in [" 0.12", "0.1.2", "x", "0.x", "v", "99999999999999999999.1"] {
            let e = verify_platform_api(bad, DeprecationMode::Warn, &PLATFORM_APIS).unwrap_err();
            assert!(matches!(e, PlatformApiError::Unparsable(_)), "{bad}");
        }
    }

    #[test]
    fn deprecation_modes() {
        const APIS: ApiSet = ApiSet {
            supported: &[ApiVersion::new(0, 7), ApiVersion::new(0, 8)],
            deprecated: &[ApiVersion::new(0, 7)],
        };
        let apis = APIS;
        let ok = verify_platform_api("0.7", DeprecationMode::Warn, &apis).unwrap();
        assert_eq!(
            ok.warning.as_deref(),
            Some("Platform requested deprecated API '0.7'")
        );
        let ok = verify_platform_api("0.7", DeprecationMode::Quiet, &apis).unwrap();
        assert_eq!(ok.warning, None);
        let e = verify_platform_api("0.7", DeprecationMode::Error, &apis).unwrap_err();
        assert_eq!(
            e.preceding_errors(),
            [
                "Platform requested deprecated API '0.7'",
                "Deprecated APIs are disabled by CNB_DEPRECATION_MODE=error"
            ]
        );
        assert!(verify_platform_api("0.8", DeprecationMode::Error, &apis).is_ok());
        assert_eq!(DeprecationMode::from_env_value(""), DeprecationMode::Warn);
        assert_eq!(
            DeprecationMode::from_env_value("quiet"),
            DeprecationMode::Quiet
        );
        assert_eq!(
            DeprecationMode::from_env_value("error"),
            DeprecationMode::Error
        );
        assert_eq!(
            DeprecationMode::from_env_value("silent"),
            DeprecationMode::Warn
        );
    }
}

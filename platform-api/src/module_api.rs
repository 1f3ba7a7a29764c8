//! Checking the Buildpack API a buildpack or extension declares, with the reference's
//! messages (exit 12) and `CNB_DEPRECATION_MODE` handling. The detector and builder name
//! modules `Buildpack`/`Extension`, the launcher `buildpack`, as the reference does.

use std::str::FromStr;

use buildpack_api::api::{ApiVersion, BUILDPACK_APIS};

use crate::exit::{ExitCode, INCOMPATIBLE_BUILDPACK_API};
use crate::flags::DeprecationMode;

/// Why a module's API is refused (exit 12).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildpackApiError {
    /// The API is not a version. The reference prints the parsed (absent) version,
    /// which Go renders as `<nil>`, and the kind in lower case.
    #[error("failed to parse buildpack API '<nil>' for {} '{name}'", kind.to_lowercase())]
    Unparsable {
        /// `Buildpack`, `Extension` or `buildpack`.
        kind: &'static str,
        /// The module (`id@version`, or the ID in the launcher).
        name: String,
    },
    /// The API is not one this lifecycle implements, or is deprecated and refused by
    /// `CNB_DEPRECATION_MODE=error`.
    #[error(
        "failed to set API for {kind} '{name}': buildpack API version '{api}' is incompatible with the lifecycle"
    )]
    Incompatible {
        /// `Buildpack`, `Extension` or `buildpack`.
        kind: &'static str,
        /// The module.
        name: String,
        /// The API as written.
        api: String,
        /// Whether it is a deprecated API refused by the deprecation mode.
        deprecated: bool,
    },
}

impl BuildpackApiError {
    /// The exit code (12).
    pub fn exit_code(&self) -> ExitCode {
        INCOMPATIBLE_BUILDPACK_API
    }

    /// Error lines the reference logs before the error itself.
    pub fn preceding_errors(&self) -> Vec<String> {
        match self {
            Self::Incompatible {
                kind,
                name,
                api,
                deprecated: true,
            } => vec![
                deprecated_message(kind, name, api),
                "Deprecated APIs are disabled by CNB_DEPRECATION_MODE=error".to_string(),
            ],
            _ => Vec::new(),
        }
    }
}

fn deprecated_message(kind: &str, name: &str, api: &str) -> String {
    format!("{kind} '{name}' requests deprecated API '{api}'")
}

/// Checks the API `api` of module `name` of kind `kind`; returns the version and, for a
/// deprecated API in warn mode, the warning to print.
pub fn verify_buildpack_api(
    kind: &'static str,
    name: &str,
    api: &str,
    mode: DeprecationMode,
) -> Result<(ApiVersion, Option<String>), BuildpackApiError> {
    let version = ApiVersion::from_str(api).map_err(|_| BuildpackApiError::Unparsable {
        kind,
        name: name.to_string(),
    })?;
    let refused = |deprecated| BuildpackApiError::Incompatible {
        kind,
        name: name.to_string(),
        api: api.to_string(),
        deprecated,
    };
    if !BUILDPACK_APIS.is_supported(&version) {
        return Err(refused(false));
    }
    if !BUILDPACK_APIS.is_deprecated(&version) {
        return Ok((version, None));
    }
    match mode {
        DeprecationMode::Quiet => Ok((version, None)),
        DeprecationMode::Warn => Ok((version, Some(deprecated_message(kind, name, api)))),
        DeprecationMode::Error => Err(refused(true)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_per_kind() {
        let e = verify_buildpack_api("Buildpack", "bad_api@1", "0.1", DeprecationMode::Warn)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "failed to set API for Buildpack 'bad_api@1': buildpack API version '0.1' is incompatible with the lifecycle"
        );
        assert_eq!(e.exit_code(), 12);
        assert!(e.preceding_errors().is_empty());
        let e = verify_buildpack_api("Extension", "ext@1", "0.2wrong", DeprecationMode::Warn)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "failed to parse buildpack API '<nil>' for extension 'ext@1'"
        );
        let (v, warning) =
            verify_buildpack_api("buildpack", "bp", "0.10", DeprecationMode::Error).unwrap();
        assert_eq!((v, warning), (ApiVersion::new(0, 10), None));
    }
}

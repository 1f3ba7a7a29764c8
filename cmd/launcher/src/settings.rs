//! The launcher's inputs, all from the image's environment: like the reference, an
//! empty variable counts as unset.

use std::ffi::OsString;
use std::path::PathBuf;

use platform_api::flags::strconv::parse_bool;
use platform_api::flags::{DeprecationMode, ENV_DEPRECATION_MODE, ENV_PLATFORM_API};
use platform_api::launch::{
    DEFAULT_APP_DIR, DEFAULT_EXEC_ENV, DEFAULT_LAYERS_DIR, ENV_APP_DIR, ENV_EXEC_ENV,
    ENV_LAYERS_DIR, ENV_NO_COLOR, ENV_PROCESS_TYPE,
};

/// What the environment asks of the launcher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Settings {
    /// `CNB_PLATFORM_API` as given (verified later).
    pub(crate) platform_api: String,
    /// `CNB_DEPRECATION_MODE`.
    pub(crate) deprecation_mode: DeprecationMode,
    /// `CNB_LAYERS_DIR`.
    pub(crate) layers_dir: PathBuf,
    /// `CNB_APP_DIR`.
    pub(crate) app_dir: PathBuf,
    /// `CNB_EXEC_ENV`.
    pub(crate) exec_env: String,
    /// `CNB_PROCESS_TYPE` (only warned about).
    pub(crate) process_type: String,
    /// Whether log prefixes are coloured (`CNB_NO_COLOR` not true).
    pub(crate) color: bool,
}

impl Settings {
    /// Reads the settings through `get` (the process environment in production).
    pub(crate) fn from_env(get: impl Fn(&str) -> Option<OsString>) -> Self {
        let set = |key: &str| get(key).filter(|v| !v.is_empty());
        let text = |key: &str| set(key).map(|v| v.to_string_lossy().into_owned());
        Settings {
            platform_api: text(ENV_PLATFORM_API).unwrap_or_default(),
            deprecation_mode: DeprecationMode::from_env_value(
                &text(ENV_DEPRECATION_MODE).unwrap_or_default(),
            ),
            layers_dir: set(ENV_LAYERS_DIR).map_or_else(|| DEFAULT_LAYERS_DIR.into(), Into::into),
            app_dir: set(ENV_APP_DIR).map_or_else(|| DEFAULT_APP_DIR.into(), Into::into),
            exec_env: text(ENV_EXEC_ENV).unwrap_or_else(|| DEFAULT_EXEC_ENV.into()),
            process_type: text(ENV_PROCESS_TYPE).unwrap_or_default(),
            color: text(ENV_NO_COLOR).is_none_or(|v| parse_bool(&v) != Some(true)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(vars: &[(&str, &str)]) -> Settings {
        let vars: Vec<(String, OsString)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), OsString::from(v)))
            .collect();
        Settings::from_env(|key| vars.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()))
    }

    #[test]
    fn defaults() {
        let s = settings(&[("CNB_APP_DIR", ""), ("CNB_NO_COLOR", "yes")]);
        assert_eq!(s.platform_api, "");
        assert_eq!(s.layers_dir, PathBuf::from("/layers"));
        assert_eq!(s.app_dir, PathBuf::from("/workspace"));
        assert_eq!(s.exec_env, "production");
        assert_eq!(s.deprecation_mode, DeprecationMode::Warn);
        assert!(s.color, "an unparsable CNB_NO_COLOR is false");
    }

    #[test]
    fn from_the_environment() {
        let s = settings(&[
            ("CNB_PLATFORM_API", "0.15"),
            ("CNB_LAYERS_DIR", "/l"),
            ("CNB_APP_DIR", "/a"),
            ("CNB_EXEC_ENV", "test"),
            ("CNB_PROCESS_TYPE", "web"),
            ("CNB_NO_COLOR", "true"),
            ("CNB_DEPRECATION_MODE", "error"),
        ]);
        assert_eq!(s.platform_api, "0.15");
        assert_eq!(s.layers_dir, PathBuf::from("/l"));
        assert_eq!(s.app_dir, PathBuf::from("/a"));
        assert_eq!(s.exec_env, "test");
        assert_eq!(s.process_type, "web");
        assert!(!s.color);
        assert_eq!(s.deprecation_mode, DeprecationMode::Error);
    }
}

//! Env-file actions: what a file's suffix does to a variable.

use std::ffi::{OsStr, OsString};

use crate::api::ApiVersion;

/// The modification an env file applies to its variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Replace the value (`.override`; also the buildpack default for unsuffixed files).
    Override,
    /// Set only when the current value is empty or unset (`.default`; the default for
    /// unsuffixed files in `<build-config>/env`).
    Default,
    /// File contents, then the `.delim` delimiter (none without a `.delim` file), then
    /// the current value (`.prepend`).
    Prepend,
    /// Current value, delimiter, file contents (`.append`).
    Append,
    /// Like [`Action::Prepend`] but with `:` when there is no `.delim` file. The
    /// reference applies it to files whose suffix is empty (`NAME.`).
    PrependPath,
}

/// What the suffix after the first `.` of an env file name means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Suffix {
    /// No dot: the directory's default action.
    Bare,
    /// A known action.
    Action(Action),
    /// `.delim` or an unknown suffix: the file changes nothing by itself.
    Ignored,
}

impl Suffix {
    /// Classifies the bytes after the first `.` (`None` when there is no dot).
    pub(crate) fn parse(suffix: Option<&[u8]>) -> Self {
        match suffix {
            None => Suffix::Bare,
            Some(b"override") => Suffix::Action(Action::Override),
            Some(b"default") => Suffix::Action(Action::Default),
            Some(b"prepend") => Suffix::Action(Action::Prepend),
            Some(b"append") => Suffix::Action(Action::Append),
            Some(b"") => Suffix::Action(Action::PrependPath),
            Some(_) => Suffix::Ignored,
        }
    }
}

/// The action for unsuffixed buildpack-written env files. Every supported Buildpack
/// API (0.7 to 0.12) uses override.
pub fn default_action(_api: ApiVersion) -> Action {
    Action::Override
}

/// Separator inserted by [`Action::PrependPath`] without a `.delim` file, and by the
/// layer path variables.
pub const PATH_LIST_SEPARATOR: &str = ":";

fn concat(parts: &[&OsStr]) -> OsString {
    let mut out = OsString::with_capacity(parts.iter().map(|p| p.len()).sum());
    for p in parts {
        out.push(p);
    }
    out
}

/// `value`, then `delim` and `existing` when `existing` is non-empty.
pub(crate) fn prepend(value: &OsStr, delim: &OsStr, existing: &OsStr) -> OsString {
    if existing.is_empty() {
        value.to_os_string()
    } else {
        concat(&[value, delim, existing])
    }
}

impl Action {
    /// The new value of a variable whose current value is `existing` (empty when
    /// unset), or `None` to leave it as is. `delim` is the contents of the variable's
    /// `.delim` file in the same directory, if any.
    pub fn apply(self, existing: &OsStr, value: &OsStr, delim: Option<&OsStr>) -> Option<OsString> {
        let no_delim = OsStr::new("");
        match self {
            Action::Override => Some(value.to_os_string()),
            Action::Default if existing.is_empty() => Some(value.to_os_string()),
            Action::Default => None,
            Action::Prepend => Some(prepend(value, delim.unwrap_or(no_delim), existing)),
            Action::PrependPath => Some(prepend(
                value,
                delim.unwrap_or(OsStr::new(PATH_LIST_SEPARATOR)),
                existing,
            )),
            Action::Append if existing.is_empty() => Some(value.to_os_string()),
            Action::Append => Some(concat(&[existing, delim.unwrap_or(no_delim), value])),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(action: Action, existing: &str, value: &str, delim: Option<&str>) -> Option<String> {
        action
            .apply(
                OsStr::new(existing),
                OsStr::new(value),
                delim.map(OsStr::new),
            )
            .map(|v| v.into_string().unwrap())
    }

    #[test]
    fn suffixes() {
        assert_eq!(Suffix::parse(None), Suffix::Bare);
        assert_eq!(
            Suffix::parse(Some(b"append")),
            Suffix::Action(Action::Append)
        );
        assert_eq!(
            Suffix::parse(Some(b"")),
            Suffix::Action(Action::PrependPath)
        );
        assert_eq!(Suffix::parse(Some(b"delim")), Suffix::Ignored);
        assert_eq!(Suffix::parse(Some(b"APPEND")), Suffix::Ignored);
        assert_eq!(Suffix::parse(Some(b"prepend.x")), Suffix::Ignored);
        assert_eq!(default_action(ApiVersion::new(0, 7)), Action::Override);
    }

    #[test]
    fn actions() {
        assert_eq!(
            apply(Action::Override, "a", "b", Some(":")),
            Some("b".into())
        );
        assert_eq!(apply(Action::Default, "a", "b", None), None);
        assert_eq!(apply(Action::Default, "", "b", None), Some("b".into()));
        assert_eq!(apply(Action::Prepend, "a", "b", None), Some("ba".into()));
        assert_eq!(
            apply(Action::Prepend, "a", "b", Some(":")),
            Some("b:a".into())
        );
        assert_eq!(apply(Action::Prepend, "", "b", Some(":")), Some("b".into()));
        assert_eq!(apply(Action::Append, "a", "b", None), Some("ab".into()));
        assert_eq!(
            apply(Action::Append, "a", "b", Some(" ")),
            Some("a b".into())
        );
        assert_eq!(apply(Action::Append, "", "b", Some(" ")), Some("b".into()));
        assert_eq!(
            apply(Action::PrependPath, "a", "b", None),
            Some("b:a".into())
        );
        assert_eq!(
            apply(Action::PrependPath, "a", "b", Some(";")),
            Some("b;a".into())
        );
    }
}

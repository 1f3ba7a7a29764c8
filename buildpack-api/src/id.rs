//! Identifier rules: buildpack/extension IDs, process types and layer names.
//!
//! The Go reference validates almost none of these (it only rejects a few characters in
//! process types when it exports the image); the validators here implement the
//! specification so that callers can choose where to apply them.

/// Buildpack and extension IDs the specification reserves because they collide with the
/// lifecycle's own children of `<layers>` (compared case-insensitively).
pub const RESERVED_MODULE_IDS: [&str; 4] = ["app", "config", "generated", "sbom"];

/// Layer names a buildpack must not use: their `.toml` files are the buildpack's own
/// output files (`build.toml`, `launch.toml`, `store.toml`).
pub const RESERVED_LAYER_NAMES: [&str; 3] = ["build", "launch", "store"];

/// Characters the reference refuses in a process type when it creates the
/// `/cnb/process/<type>` symlinks of the app image.
pub const PROCESS_TYPE_FORBIDDEN_AT_EXPORT: &str = r"/><:|&\";

/// Why an identifier is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// The identifier is empty.
    #[error("{kind} must not be empty")]
    Empty {
        /// What was being validated ("buildpack ID", "process type", "layer name").
        kind: &'static str,
    },
    /// The identifier contains a character outside the allowed set.
    #[error("{kind} '{value}' contains '{found}'; only {allowed} are allowed")]
    InvalidCharacter {
        /// What was being validated.
        kind: &'static str,
        /// The offending identifier.
        value: String,
        /// The first offending character.
        found: char,
        /// Human description of the allowed set.
        allowed: &'static str,
    },
    /// The identifier is one of the reserved names.
    #[error("{kind} '{value}' is reserved")]
    Reserved {
        /// What was being validated.
        kind: &'static str,
        /// The offending identifier.
        value: String,
    },
    /// A process type the reference cannot export (same message as the reference).
    #[error("invalid process type '{0}': type may not contain characters '/><:|&\\'")]
    ProcessTypeNotExportable(String),
    /// A process without a type (same message as the reference).
    #[error("type is required for all processes")]
    ProcessTypeMissing,
}

/// Replaces `/` with `_`, as the reference does for directory names derived from IDs.
pub fn escape(id: &str) -> String {
    id.replace('/', "_")
}

fn check_chars(
    kind: &'static str,
    value: &str,
    extra: &[char],
    allowed: &'static str,
) -> Result<(), IdError> {
    if value.is_empty() {
        return Err(IdError::Empty { kind });
    }
    match value
        .chars()
        .find(|c| !c.is_ascii_alphanumeric() && !extra.contains(c))
    {
        Some(found) => Err(IdError::InvalidCharacter {
            kind,
            value: value.to_string(),
            found,
            allowed,
        }),
        None => Ok(()),
    }
}

/// Validates a buildpack or image extension ID: ASCII letters, digits, `.`, `/` and `-`,
/// and none of [`RESERVED_MODULE_IDS`] (case-insensitively).
///
/// All four names are reserved whatever the buildpack's API: they collide with
/// directories the lifecycle itself creates under `<layers>`.
pub fn validate_module_id(id: &str) -> Result<(), IdError> {
    const KIND: &str = "buildpack ID";
    check_chars(
        KIND,
        id,
        &['.', '/', '-'],
        "letters, digits, '.', '/' and '-'",
    )?;
    if RESERVED_MODULE_IDS
        .iter()
        .any(|r| r.eq_ignore_ascii_case(id))
    {
        return Err(IdError::Reserved {
            kind: KIND,
            value: id.to_string(),
        });
    }
    Ok(())
}

/// Validates a process type against the specification: ASCII letters, digits, `.`, `_`
/// and `-`.
pub fn validate_process_type(process_type: &str) -> Result<(), IdError> {
    check_chars(
        "process type",
        process_type,
        &['.', '_', '-'],
        "letters, digits, '.', '_' and '-'",
    )
}

/// The reference's export-time process type check: non-empty and none of
/// [`PROCESS_TYPE_FORBIDDEN_AT_EXPORT`]. Anything else (spaces, non-ASCII letters) is
/// accepted by the reference even though the specification forbids it.
pub fn check_exportable_process_type(process_type: &str) -> Result<(), IdError> {
    if process_type.is_empty() {
        return Err(IdError::ProcessTypeMissing);
    }
    if process_type
        .chars()
        .any(|c| PROCESS_TYPE_FORBIDDEN_AT_EXPORT.contains(c))
    {
        return Err(IdError::ProcessTypeNotExportable(process_type.to_string()));
    }
    Ok(())
}

/// Validates a layer name: non-empty, not `.` or `..`, no `/` or NUL (so that
/// `<layers>/<bp>/<name>` never leaves the buildpack's directory), and none of
/// [`RESERVED_LAYER_NAMES`].
pub fn validate_layer_name(name: &str) -> Result<(), IdError> {
    const KIND: &str = "layer name";
    if name.is_empty() {
        return Err(IdError::Empty { kind: KIND });
    }
    if let Some(found) = name.chars().find(|c| matches!(c, '/' | '\0')) {
        return Err(IdError::InvalidCharacter {
            kind: KIND,
            value: name.to_string(),
            found,
            allowed: "characters other than '/' and NUL",
        });
    }
    if name == "." || name == ".." || RESERVED_LAYER_NAMES.contains(&name) {
        return Err(IdError::Reserved {
            kind: KIND,
            value: name.to_string(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_ids() {
        for ok in [
            "samples/hello-world",
            "heroku/procfile",
            "paketo-buildpacks/procfile",
            "io.buildpacks.samples.hello-moon",
            "A",
            "applications",
        ] {
            assert_eq!(validate_module_id(ok), Ok(()), "{ok}");
        }
        for reserved in ["app", "APP", "Config", "generated", "sbom", "SBOM"] {
            assert!(
                matches!(validate_module_id(reserved), Err(IdError::Reserved { .. })),
                "{reserved}"
            );
        }
        assert_eq!(
            validate_module_id("my_bp").unwrap_err().to_string(),
            "buildpack ID 'my_bp' contains '_'; only letters, digits, '.', '/' and '-' are allowed"
        );
        assert!(validate_module_id("").is_err());
        assert!(validate_module_id("a b").is_err());
        assert!(validate_module_id("héllo").is_err());
    }

    #[test]
    fn process_types() {
        for ok in ["web", "worker-1", "my_proc.v2"] {
            assert_eq!(validate_process_type(ok), Ok(()));
            assert_eq!(check_exportable_process_type(ok), Ok(()));
        }
        assert!(validate_process_type("a/b").is_err());
        assert!(validate_process_type("a b").is_err());
        assert!(validate_process_type("").is_err());
        // The reference exports a type with a space but not one with a slash.
        assert_eq!(check_exportable_process_type("a b"), Ok(()));
        for bad in ["a/b", "a>b", "a<b", "a:b", "a|b", "a&b", r"a\b"] {
            assert_eq!(
                check_exportable_process_type(bad).unwrap_err().to_string(),
                format!("invalid process type '{bad}': type may not contain characters '/><:|&\\'")
            );
        }
        assert_eq!(
            check_exportable_process_type(""),
            Err(IdError::ProcessTypeMissing)
        );
    }

    #[test]
    fn layer_names() {
        for ok in [
            "jdk",
            "node_modules",
            "gems.cache",
            ".hidden",
            "launch-helper",
        ] {
            assert_eq!(validate_layer_name(ok), Ok(()), "{ok}");
        }
        for bad in [
            "", ".", "..", "build", "launch", "store", "a/b", "../x", "/abs", "a\0b",
        ] {
            assert!(validate_layer_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn escapes() {
        assert_eq!(escape("samples/hello-world"), "samples_hello-world");
        assert_eq!(escape("a/b/c"), "a_b_c");
    }
}

//! Output of `exec.d` executables (read by the launcher from fd 3): flat TOML of
//! `NAME = "value"` pairs.

/// Why exec.d output is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExecDError {
    /// The output is not valid TOML.
    #[error("exec.d output is not valid TOML: {0}")]
    Parse(String),
    /// A value is not a string (a table, number, array...).
    #[error("exec.d output: '{name}' must be a string, found {found}")]
    NotAString {
        /// The variable name.
        name: String,
        /// The TOML type found.
        found: &'static str,
    },
    /// A name that cannot be an environment variable (empty, or with `=` or NUL).
    #[error("exec.d output: '{0}' is not a valid environment variable name")]
    InvalidName(String),
    /// A value containing NUL, which no environment can hold.
    #[error("exec.d output: the value of '{0}' contains a NUL character")]
    NulInValue(String),
}

/// Parses exec.d output into `(name, value)` pairs in the order written.
///
/// Like the reference, any TOML key is accepted (quoted keys included) as long as it can
/// name an environment variable, and any TOML string form is accepted as a value.
pub fn parse_exec_d_output(text: &str) -> Result<Vec<(String, String)>, ExecDError> {
    let table: toml::Table = toml::from_str(text).map_err(|e| ExecDError::Parse(e.to_string()))?;
    table
        .into_iter()
        .map(|(name, value)| {
            if name.is_empty() || name.contains(['=', '\0']) {
                return Err(ExecDError::InvalidName(name));
            }
            match value {
                toml::Value::String(s) if s.contains('\0') => Err(ExecDError::NulInValue(name)),
                toml::Value::String(s) => Ok((name, s)),
                other => Err(ExecDError::NotAString {
                    name,
                    found: other.type_str(),
                }),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn typical_output() {
        // What a memory-calculator-style helper prints.
        let out = "JAVA_TOOL_OPTIONS = \"-XX:MaxRAM=1G -Xss256k\"\nBPI_APPLICATION_PATH = '/workspace'\n\
                   MULTI = \"\"\"\nline1\nline2\"\"\"\n";
        assert_eq!(
            parse_exec_d_output(out).unwrap(),
            pairs(&[
                ("JAVA_TOOL_OPTIONS", "-XX:MaxRAM=1G -Xss256k"),
                ("BPI_APPLICATION_PATH", "/workspace"),
                ("MULTI", "line1\nline2"),
            ])
        );
        assert!(parse_exec_d_output("").unwrap().is_empty());
        assert_eq!(
            parse_exec_d_output("EMPTY = \"\"\n").unwrap(),
            pairs(&[("EMPTY", "")])
        );
    }

    #[test]
    fn order_is_kept() {
        let out = "Z = \"1\"\nA = \"2\"\nM = \"3\"\n";
        let names: Vec<_> = parse_exec_d_output(out)
            .unwrap()
            .into_iter()
            .map(|p| p.0)
            .collect();
        assert_eq!(names, ["Z", "A", "M"]);
    }

    #[test]
    fn rejects_non_strings() {
        assert_eq!(
            parse_exec_d_output("PORT = 8080\n")
                .unwrap_err()
                .to_string(),
            "exec.d output: 'PORT' must be a string, found integer"
        );
        assert!(matches!(
            parse_exec_d_output("[nested]\nA = \"b\"\n"),
            Err(ExecDError::NotAString { found: "table", .. })
        ));
        assert!(matches!(
            parse_exec_d_output("A = [\"b\"]\n"),
            Err(ExecDError::NotAString { found: "array", .. })
        ));
        assert!(matches!(
            parse_exec_d_output("A = \n"),
            Err(ExecDError::Parse(_))
        ));
        assert!(matches!(
            parse_exec_d_output("export A=b\n"),
            Err(ExecDError::Parse(_))
        ));
        assert!(matches!(
            parse_exec_d_output("A = \"1\"\nA = \"2\"\n"),
            Err(ExecDError::Parse(_))
        ));
    }

    #[test]
    fn rejects_unusable_names_and_values() {
        assert!(matches!(
            parse_exec_d_output("\"\" = \"x\"\n"),
            Err(ExecDError::InvalidName(_))
        ));
        assert!(matches!(
            parse_exec_d_output("\"A=B\" = \"x\"\n"),
            Err(ExecDError::InvalidName(_))
        ));
        assert!(matches!(
            parse_exec_d_output("A = \"x\\u0000y\"\n"),
            Err(ExecDError::NulInValue(_))
        ));
        // Quoted keys that are still valid names are accepted, as in the reference.
        assert_eq!(
            parse_exec_d_output("\"A.B\" = \"x\"\n").unwrap(),
            pairs(&[("A.B", "x")])
        );
    }
}

//! A snapshot of environment variables, handed explicitly to input resolution so that
//! nothing reads the process environment behind the caller's back.

use std::collections::BTreeMap;

/// Environment variables by name. Like Go's `os.Getenv`, an unset variable reads as
/// the empty string.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Environment(BTreeMap<String, String>);

impl Environment {
    /// An empty environment.
    pub fn new() -> Self {
        Self::default()
    }

    /// The value of `key`, or `""` when unset.
    pub fn get(&self, key: &str) -> &str {
        self.0.get(key).map(String::as_str).unwrap_or("")
    }

    /// Sets `key` (builder style, for tests and callers assembling an environment).
    pub fn with(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.0.insert(key.into(), value.into());
        self
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Environment {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Self(
            iter.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unset_reads_as_empty() {
        let env: Environment = [("A", "1")].into_iter().collect();
        assert_eq!(env.get("A"), "1");
        assert_eq!(env.get("B"), "");
        assert_eq!(env.with("B", "2").get("B"), "2");
    }
}

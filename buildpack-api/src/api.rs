//! API version numbers (`<major>[.<minor>]`) shared by the Buildpack and Platform APIs.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

/// An API version such as `0.10` or `1`. `1` is equivalent to `1.0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ApiVersion {
    /// Major component.
    pub major: u64,
    /// Minor component (0 when the version was written as a bare major).
    pub minor: u64,
}

/// Why a version string is not an API version.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("could not parse '{0}' as version")]
pub struct ParseApiVersionError(pub String);

impl ApiVersion {
    /// Builds a version from its parts.
    pub const fn new(major: u64, minor: u64) -> Self {
        Self { major, minor }
    }

    /// Whether a lifecycle that implements `self` can serve a component asking for `other`:
    /// within major 0 the minor must be equal, above it the same major with a minor no newer.
    pub fn supports(&self, other: &ApiVersion) -> bool {
        if self.major == 0 {
            self == other
        } else {
            self.major == other.major && self.minor >= other.minor
        }
    }

    /// `self >= other`, the usual form of a version gate.
    pub fn at_least(&self, major: u64, minor: u64) -> bool {
        *self >= ApiVersion::new(major, minor)
    }

    /// `self < other`.
    pub fn less_than(&self, major: u64, minor: u64) -> bool {
        *self < ApiVersion::new(major, minor)
    }
}

impl FromStr for ApiVersion {
    type Err = ParseApiVersionError;

    /// Parses exactly what the reference accepts (`^v?(\d+)\.?(\d*)$`): an optional `v`,
    /// a major, an optional dot and an optional minor (`1`, `1.`, `v0.10`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseApiVersionError(s.to_string());
        let body = s.strip_prefix('v').unwrap_or(s);
        let major_len = body.bytes().take_while(u8::is_ascii_digit).count();
        if major_len == 0 {
            return Err(err());
        }
        let (major, rest) = body.split_at(major_len);
        let minor = rest.strip_prefix('.').unwrap_or(rest);
        if !minor.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err());
        }
        let major = major.parse().map_err(|_| err())?;
        let minor = if minor.is_empty() {
            0
        } else {
            minor.parse().map_err(|_| err())?
        };
        Ok(Self::new(major, minor))
    }
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

impl PartialOrd for ApiVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for ApiVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.major, self.minor).cmp(&(other.major, other.minor))
    }
}

/// A list of API versions a lifecycle implements, with the ones it deprecates.
#[derive(Debug, Clone, Copy)]
pub struct ApiSet {
    /// Every version served.
    pub supported: &'static [ApiVersion],
    /// Versions served but deprecated.
    pub deprecated: &'static [ApiVersion],
}

impl ApiSet {
    /// Whether some supported version serves `v`.
    pub fn is_supported(&self, v: &ApiVersion) -> bool {
        self.supported.iter().any(|s| s.supports(v))
    }

    /// Whether `v` is served only by deprecated versions.
    pub fn is_deprecated(&self, v: &ApiVersion) -> bool {
        self.deprecated.iter().any(|d| d.supports(v))
    }

    /// The newest version in the set.
    pub fn latest(&self) -> ApiVersion {
        *self.supported.iter().max().expect("non-empty API set")
    }

    /// The supported versions, comma separated (as printed in messages and `lifecycle.toml`).
    pub fn list(&self) -> String {
        self.supported
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Buildpack API versions this lifecycle implements: 0.7 to 0.12, none deprecated.
pub const BUILDPACK_APIS: ApiSet = ApiSet {
    supported: &[
        ApiVersion::new(0, 7),
        ApiVersion::new(0, 8),
        ApiVersion::new(0, 9),
        ApiVersion::new(0, 10),
        ApiVersion::new(0, 11),
        ApiVersion::new(0, 12),
    ],
    deprecated: &[],
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_orders() {
        let v: ApiVersion = "0.10".parse().unwrap();
        assert_eq!(v, ApiVersion::new(0, 10));
        assert!(v > "0.9".parse().unwrap());
        assert_eq!("1".parse::<ApiVersion>().unwrap(), ApiVersion::new(1, 0));
        assert_eq!("1.".parse::<ApiVersion>().unwrap(), ApiVersion::new(1, 0));
        assert_eq!("v0.9".parse::<ApiVersion>().unwrap(), ApiVersion::new(0, 9));
        for bad in [
            "",
            "v",
            " 0.1",
            ".1",
            "a.b",
            "0.2wrongapiblabla",
            "0.1.2",
            "-1.0",
            "0.+1",
        ] {
            assert!(bad.parse::<ApiVersion>().is_err(), "{bad}");
        }
    }

    #[test]
    fn support_rules() {
        assert!(BUILDPACK_APIS.is_supported(&ApiVersion::new(0, 7)));
        assert!(BUILDPACK_APIS.is_supported(&ApiVersion::new(0, 12)));
        assert!(!BUILDPACK_APIS.is_supported(&ApiVersion::new(0, 6)));
        assert!(!BUILDPACK_APIS.is_supported(&ApiVersion::new(0, 13)));
        assert!(!BUILDPACK_APIS.is_supported(&ApiVersion::new(1, 0)));
        assert!(ApiVersion::new(1, 2).supports(&ApiVersion::new(1, 1)));
        assert!(!ApiVersion::new(1, 1).supports(&ApiVersion::new(1, 2)));
    }
}

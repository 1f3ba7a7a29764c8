//! Which URL schemes to try for a registry.
//!
//! HTTPS with certificate verification, except that plain HTTP may follow a failed HTTPS
//! attempt for registries listed insecure (whose HTTPS is then not verified either) and,
//! as the reference's registry library decides by itself, for `localhost:<port>`,
//! `*.localhost`, `127.0.0.1`, `::1` and private RFC 1918 addresses.

use std::net::Ipv4Addr;

/// How to reach one registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SchemePlan {
    /// Try plain HTTP when HTTPS fails to connect or handshake.
    pub(crate) http_fallback: bool,
    /// Do not verify the HTTPS certificate.
    pub(crate) skip_verify: bool,
}

/// The plan for `registry` given the `-insecure-registry` entries.
pub(crate) fn plan(registry: &str, insecure: &[String]) -> SchemePlan {
    let listed = insecure
        .iter()
        .any(|e| !e.is_empty() && listed_as_insecure(registry, e));
    SchemePlan {
        http_fallback: listed || local_registry(registry),
        skip_verify: listed,
    }
}

/// Whether an `-insecure-registry` entry names this registry: equal, or a prefix of it
/// (the reference matches the entry as a prefix of the image name).
fn listed_as_insecure(registry: &str, entry: &str) -> bool {
    let entry = entry
        .strip_prefix("http://")
        .or_else(|| entry.strip_prefix("https://"))
        .unwrap_or(entry)
        .trim_end_matches('/');
    !entry.is_empty() && registry.starts_with(entry)
}

/// go-containerregistry's own list of registries that may be plain HTTP.
fn local_registry(registry: &str) -> bool {
    if registry.starts_with("localhost:") {
        return true;
    }
    let host = match registry.rsplit_once(':') {
        Some((h, port))
            if !port.is_empty() && port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit()) =>
        {
            h
        }
        _ => registry,
    };
    if host.ends_with(".localhost") || host == "127.0.0.1" || host == "[::1]" || registry == "::1" {
        return true;
    }
    // The reference takes everything before the first ':' as the address.
    let first = registry.split(':').next().unwrap_or(registry);
    first.parse::<Ipv4Addr>().is_ok_and(|ip| ip.is_private())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_registries_may_fall_back_to_http() {
        for r in [
            "localhost:5000",
            "127.0.0.1",
            "127.0.0.1:5000",
            "[::1]:5000",
            "::1",
            "reg.localhost",
            "reg.localhost:80",
            "10.1.2.3:5000",
            "172.16.0.1",
            "172.31.255.255:443",
            "192.168.1.10:5000",
        ] {
            assert_eq!(
                plan(r, &[]),
                SchemePlan {
                    http_fallback: true,
                    skip_verify: false
                },
                "{r}"
            );
        }
        for r in [
            "localhost",
            "index.docker.io",
            "127.0.0.2:5000",
            "172.32.0.1",
            "reg.local:5000",
            "11.0.0.1",
            "gcr.io",
        ] {
            assert_eq!(
                plan(r, &[]),
                SchemePlan {
                    http_fallback: false,
                    skip_verify: false
                },
                "{r}"
            );
        }
    }

    #[test]
    fn listed_registries_skip_verification() {
        let list = vec![
            String::new(),
            "my.reg:5000".to_string(),
            "http://other.io".into(),
        ];
        assert_eq!(
            plan("my.reg:5000", &list),
            SchemePlan {
                http_fallback: true,
                skip_verify: true
            }
        );
        assert_eq!(
            plan("other.io", &list),
            SchemePlan {
                http_fallback: true,
                skip_verify: true
            }
        );
        assert!(!plan("my.reg", &list).skip_verify);
        assert!(!plan("gcr.io", &list).http_fallback);
    }
}

//! Where the daemon listens: `DOCKER_HOST` values (`unix:///path`, `tcp://host:port`).

use std::path::PathBuf;

use super::error::DaemonError;

/// The daemon the Docker tools use when `DOCKER_HOST` is unset.
pub const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";

/// The port of `tcp://host` without one (Docker's plain-HTTP port).
const DEFAULT_TCP_PORT: u16 = 2375;

/// A daemon address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// A Unix socket.
    Unix(PathBuf),
    /// A TCP `host:port`, spoken to in plain HTTP.
    Tcp(String),
}

impl Endpoint {
    /// Parses a `DOCKER_HOST` value; empty means [`DEFAULT_HOST`]. `http://` is taken as
    /// `tcp://`; TLS (`https://`), `ssh://`, `npipe://` and `fd://` are not supported.
    pub fn parse(host: &str) -> Result<Endpoint, DaemonError> {
        let host = if host.is_empty() { DEFAULT_HOST } else { host };
        let invalid = |reason: &'static str| DaemonError::InvalidHost {
            host: host.to_string(),
            reason,
        };
        let (scheme, rest) = host
            .split_once("://")
            .ok_or_else(|| invalid("expected unix:///path or tcp://host:port"))?;
        match scheme {
            "unix" => {
                if !rest.starts_with('/') {
                    return Err(invalid("the socket path must be absolute"));
                }
                Ok(Endpoint::Unix(PathBuf::from(rest)))
            }
            "tcp" | "http" => {
                let authority = rest.strip_suffix('/').unwrap_or(rest);
                if authority.is_empty() || authority.contains('/') {
                    return Err(invalid("expected tcp://host:port"));
                }
                let has_port = match authority.rsplit_once(':') {
                    // `[::1]` alone has colons but no port.
                    Some((h, port)) if !port.contains(']') => {
                        if h.is_empty() || port.parse::<u16>().is_err() {
                            return Err(invalid("invalid port"));
                        }
                        true
                    }
                    _ => false,
                };
                Ok(Endpoint::Tcp(if has_port {
                    authority.to_string()
                } else {
                    format!("{authority}:{DEFAULT_TCP_PORT}")
                }))
            }
            "https" => Err(invalid("TLS connections to the daemon are not supported")),
            _ => Err(invalid("only unix:// and tcp:// daemons are supported")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_docker_hosts() {
        assert_eq!(
            Endpoint::parse("").unwrap(),
            Endpoint::Unix("/var/run/docker.sock".into())
        );
        assert_eq!(
            Endpoint::parse("unix:///tmp/d.sock").unwrap(),
            Endpoint::Unix("/tmp/d.sock".into())
        );
        assert_eq!(
            Endpoint::parse("tcp://127.0.0.1:2376").unwrap(),
            Endpoint::Tcp("127.0.0.1:2376".into())
        );
        assert_eq!(
            Endpoint::parse("tcp://docker/").unwrap(),
            Endpoint::Tcp("docker:2375".into())
        );
        assert_eq!(
            Endpoint::parse("http://[::1]").unwrap(),
            Endpoint::Tcp("[::1]:2375".into())
        );
        assert_eq!(
            Endpoint::parse("tcp://[::1]:99").unwrap(),
            Endpoint::Tcp("[::1]:99".into())
        );
    }

    #[test]
    fn rejects_unsupported_hosts() {
        for bad in [
            "/var/run/docker.sock",
            "unix://relative.sock",
            "tcp://",
            "tcp://h:port",
            "tcp://h:1/x",
            "ssh://me@host",
            "https://host:2376",
            "npipe:////./pipe/docker_engine",
        ] {
            let err = Endpoint::parse(bad).unwrap_err().to_string();
            assert!(
                err.starts_with(&format!("invalid DOCKER_HOST {bad:?}: ")),
                "{err}"
            );
        }
    }
}

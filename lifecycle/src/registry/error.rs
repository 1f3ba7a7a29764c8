//! The client's typed errors.
//!
//! Messages name the request (`GET https://host/v2/repo/manifests/tag`, never the query
//! string of an upload location) and the registry's own error codes, and never a credential:
//! no Authorization header, token, password or token-endpoint body is ever put into one.

use std::io;

/// What went wrong talking to a registry.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The manifest, blob or repository does not exist (404).
    #[error("{request}: not found{}", suffix(detail))]
    NotFound {
        /// The request (method and URL without query).
        request: String,
        /// The registry's error codes and messages, if any.
        detail: String,
    },
    /// The registry refused the credentials, or there were none and it wants some (401).
    #[error("{request}: unauthorized{}", suffix(detail))]
    Unauthorized {
        /// The request (method and URL without query).
        request: String,
        /// The registry's error codes and messages, if any.
        detail: String,
    },
    /// The credentials are valid but lack the permission (403).
    #[error("{request}: forbidden{}", suffix(detail))]
    Forbidden {
        /// The request (method and URL without query).
        request: String,
        /// The registry's error codes and messages, if any.
        detail: String,
    },
    /// Connecting, sending or receiving failed, on every attempt.
    #[error("{request}: {message} (after {attempts} attempt{})", plural(*attempts))]
    Network {
        /// The request (method and URL without query).
        request: String,
        /// The last failure.
        message: String,
        /// How many attempts were made.
        attempts: u32,
    },
    /// An unexpected HTTP status; for 408, 429 and 5xx only after every attempt failed.
    #[error("{request}: unexpected status {status}{}{}", suffix(detail), attempts_note(*attempts))]
    Status {
        /// The request (method and URL without query).
        request: String,
        /// The last status.
        status: u16,
        /// The registry's error codes and messages, if any.
        detail: String,
        /// How many attempts were made.
        attempts: u32,
    },
    /// The registry answered something the protocol does not allow: a missing header,
    /// malformed JSON, content that does not match its digest.
    #[error("{request}: {message}")]
    Protocol {
        /// The request (method and URL without query).
        request: String,
        /// What was wrong.
        message: String,
    },
    /// The credentials for a registry could not be obtained (malformed
    /// `CNB_REGISTRY_AUTH` entry, failing credential helper).
    #[error("resolving credentials for {registry}: {message}")]
    Credentials {
        /// The registry.
        registry: String,
        /// What failed.
        message: String,
    },
    /// The client's configuration is unusable (a malformed proxy URL).
    #[error("registry client configuration: {0}")]
    Config(String),
    /// Reading the local source of an upload failed.
    #[error("reading blob source for {digest}: {source}")]
    Source {
        /// The blob being uploaded (or `unknown` for a streamed upload).
        digest: String,
        /// The I/O error.
        source: io::Error,
    },
}

impl Error {
    /// Whether this is a 404.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::NotFound { .. })
    }

    /// Whether the registry denied access (401 or 403): the case the analyzer's access
    /// checks report as "no access".
    pub fn is_access_denied(&self) -> bool {
        matches!(self, Error::Unauthorized { .. } | Error::Forbidden { .. })
    }

    /// The HTTP status the registry answered with, when it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::NotFound { .. } => Some(404),
            Error::Unauthorized { .. } => Some(401),
            Error::Forbidden { .. } => Some(403),
            Error::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

fn suffix(detail: &str) -> String {
    if detail.is_empty() {
        String::new()
    } else {
        format!(": {detail}")
    }
}

fn plural(n: u32) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn attempts_note(attempts: u32) -> String {
    if attempts > 1 {
        format!(" (after {attempts} attempts)")
    } else {
        String::new()
    }
}

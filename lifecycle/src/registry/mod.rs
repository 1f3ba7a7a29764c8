//! A blocking client for the OCI distribution API: manifests, blobs, mounts, uploads, credentials and retries.
//!
//! [`Client`] speaks HTTP/1.1 through ureq (rustls with ring, no async runtime). Each
//! registry's scheme and authentication are learnt on first use (`GET /v2/`): HTTPS, or
//! plain HTTP after a failed HTTPS attempt for insecure-listed and local registries
//! ([`ClientConfig::insecure_registries`]); Basic authentication or bearer tokens fetched
//! per scope set from the challenge's realm. Credentials come from a [`Keychain`] built
//! from explicit inputs. Transient failures (connection errors, 408/429/5xx) are retried
//! per [`RetryPolicy`]; 401/403/404 never are. Blobs stream in both directions and are
//! never held in memory whole.

pub mod auth;
mod challenge;
mod client;
pub mod digest;
mod error;
pub mod manifest;
mod retry;
mod scheme;
mod tls;
mod transport;

pub use auth::{Credential, Keychain, KeychainError, KeychainSources};
pub use client::{BlobPush, BlobReader, Client, ClientConfig, StreamedBlob};
pub use error::Error;
pub use manifest::{Descriptor, Manifest, Platform};
pub use retry::RetryPolicy;
pub use tls::TlsRoots;

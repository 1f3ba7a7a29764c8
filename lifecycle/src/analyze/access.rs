//! Registry access checks made before analyzing (registry mode, and the cache image in
//! every mode), so missing permissions fail early rather than at export.

use crate::image::reference::Reference;
use crate::registry::{Client, Error};

/// An image that cannot be read or written as needed.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    /// Reading is denied or the registry cannot be reached.
    #[error(
        "validating registry read access: failed to ensure registry read access to {name}: {cause}"
    )]
    Read {
        /// The image.
        name: String,
        /// Why.
        cause: Box<Error>,
    },
    /// Writing is denied or the registry cannot be reached.
    #[error(
        "validating registry write access: failed to ensure registry read/write access to {name}: {cause}"
    )]
    Write {
        /// The image.
        name: String,
        /// Why.
        cause: Box<Error>,
    },
    /// A name is not an image reference.
    #[error("{name}: {cause}")]
    Reference {
        /// The name.
        name: String,
        /// Why.
        cause: crate::image::reference::ParseError,
    },
}

/// Checks that every image of `read` can be read and every image of `write` can be
/// written (empty names are skipped), reads first, in order, stopping at the first
/// failure. An image that does not exist yet counts as readable.
pub fn ensure_access(client: &Client, read: &[&str], write: &[&str]) -> Result<(), AccessError> {
    for name in read.iter().filter(|n| !n.is_empty()) {
        client
            .check_read_access(&parse(name)?)
            .map_err(|e| AccessError::Read {
                name: name.to_string(),
                cause: Box::new(e),
            })?;
    }
    for name in write.iter().filter(|n| !n.is_empty()) {
        client
            .check_write_access(&parse(name)?)
            .map_err(|e| AccessError::Write {
                name: name.to_string(),
                cause: Box::new(e),
            })?;
    }
    Ok(())
}

fn parse(name: &str) -> Result<Reference, AccessError> {
    Reference::parse(name).map_err(|cause| AccessError::Reference {
        name: name.to_string(),
        cause,
    })
}

//! Why talking to the daemon failed.

use std::io;
use std::path::PathBuf;

use buildpack_api::goerr;

/// A failure talking to the Docker daemon. `Display` is the whole message.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// `DOCKER_HOST` is not an address this client can use.
    #[error("invalid DOCKER_HOST {host:?}: {reason}")]
    InvalidHost {
        /// The value.
        host: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Nothing answers at the address.
    #[error(
        "Cannot connect to the Docker daemon at {host}: {}. Is the docker daemon running? \
         (DOCKER_HOST selects the daemon)",
        goerr::text(cause)
    )]
    Unreachable {
        /// The daemon address (`DOCKER_HOST` or the default).
        host: String,
        /// The connection error.
        cause: io::Error,
    },
    /// The connection broke during a request.
    #[error("talking to the Docker daemon at {host}: {}", goerr::text(cause))]
    Io {
        /// The daemon address.
        host: String,
        /// The error.
        cause: io::Error,
    },
    /// The daemon answered something that is not the HTTP or JSON it should be.
    #[error("unexpected response from the Docker daemon at {host}: {detail}")]
    Protocol {
        /// The daemon address.
        host: String,
        /// What was wrong.
        detail: String,
    },
    /// The daemon's API is older than this client needs.
    #[error(
        "the Docker daemon at {host} speaks API {version}; at least {} is needed",
        super::MIN_API_VERSION
    )]
    TooOld {
        /// The daemon address.
        host: String,
        /// The daemon's API version.
        version: String,
    },
    /// The daemon refused the request (the Docker CLI's wording).
    #[error("Error response from daemon: {message}")]
    Api {
        /// The HTTP status.
        status: u16,
        /// The daemon's message.
        message: String,
    },
    /// The image (or another object of the request) does not exist (HTTP 404).
    #[error("Error response from daemon: {message}")]
    NotFound {
        /// The daemon's message (`No such image: …`).
        message: String,
    },
    /// Loading an archive failed; the daemon reported it in its progress stream.
    #[error("loading image: {message}")]
    Load {
        /// The daemon's message.
        message: String,
    },
    /// Loading an archive with placeholders failed: a layer left out is most likely not
    /// in the daemon at that position after all (send every layer then).
    #[error(
        "loading image: {message} (the archive left out layers the daemon was expected to \
         have; it may not have them)"
    )]
    MissingLayers {
        /// The daemon's message.
        message: String,
    },
    /// The image in the daemon after loading is not the one sent.
    #[error(
        "image {name} in the daemon is not the one loaded: its ID is {actual}, the config \
         digest {expected}"
    )]
    IdMismatch {
        /// The image name (or config digest) inspected after loading.
        name: String,
        /// The digest of the config that was sent.
        expected: String,
        /// The ID the daemon reports.
        actual: String,
    },
    /// Placeholder layers were given to a daemon that uses the containerd image store,
    /// which needs every layer's bytes (fetch them with `save`).
    #[error(
        "the Docker daemon at {host} uses the containerd image store, which needs the contents \
         of every layer: layers it already has cannot be left out"
    )]
    PlaceholdersUnsupported {
        /// The daemon address.
        host: String,
    },
    /// A `docker load` / `docker save` archive is wrong.
    #[error(transparent)]
    Archive(#[from] ArchiveError),
}

/// A `docker load` archive that cannot be written, or a `docker save` archive that
/// cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// A file could not be read or written.
    #[error("{}", goerr::path_error(action, path, cause))]
    Io {
        /// What was being done (`open`, `write`, …).
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The error.
        cause: io::Error,
    },
    /// Reading the archive stream failed.
    #[error("reading image archive: {}", goerr::text(.0))]
    Read(io::Error),
    /// Writing the archive stream failed.
    #[error("writing image archive: {}", goerr::text(.0))]
    Write(io::Error),
    /// The content does not have the shape of the format.
    #[error("invalid image archive: {0}")]
    Invalid(String),
}

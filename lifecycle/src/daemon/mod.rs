//! The Docker daemon over its Engine API: inspect, load, tag, save and remove images.
//!
//! [`Daemon::connect`] dials the daemon (`DOCKER_HOST`: a Unix socket, default
//! `/var/run/docker.sock`, or plain-HTTP `tcp://host:port`) and settles the API version:
//! the lower of the daemon's (`/_ping`, else `/version`) and [`MAX_API_VERSION`], so
//! Debian's dockerd 20.10 (API 1.41) and podman's Docker-compatible service work. The
//! connection is dialled at once and kept for later requests, so a process may connect
//! to a root-owned socket and then drop its privileges, as the reference does.
//!
//! Images are written with `docker load` archives ([`LoadArchive`]) streamed from the
//! layer tars on disk; layers the daemon already has can be left out as placeholders
//! unless the daemon uses the containerd image store ([`Daemon::uses_containerd_store`]).
//! Layers of images in the daemon are read back with [`Daemon::save`] and
//! [`read_saved`].

mod archive;
mod error;
mod host;
mod http;
mod inspect;
mod saved;

use std::io::{self, Read, Write};
use std::sync::{Arc, OnceLock};

use serde::Deserialize;

pub use archive::{ArchiveLayer, LoadArchive};
pub use error::{ArchiveError, DaemonError};
pub use host::{DEFAULT_HOST, Endpoint};
pub use inspect::{HistoryItem, ImageInspect, Info};
pub use saved::{SavedArchive, SavedImage, read_saved};

use http::{Body, Conn, Response, escape_path, escape_query};

/// The newest Engine API version this client asks for.
pub const MAX_API_VERSION: &str = "1.45";
/// The oldest Engine API version this client can use (Docker 1.12).
pub const MIN_API_VERSION: &str = "1.24";

/// A Docker daemon, reached over one kept connection. Cheap to clone; usable from
/// several threads (requests take turns on the kept connection, or dial another).
#[derive(Debug, Clone)]
pub struct Daemon {
    conn: Arc<Conn>,
    api_version: String,
    info: Arc<OnceLock<Info>>,
}

/// What a `docker load` reported.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Loaded {
    /// Names loaded (`Loaded image: <name>`).
    pub names: Vec<String>,
    /// IDs of images loaded without a name (`Loaded image ID: <id>`).
    pub ids: Vec<String>,
}

/// One message of a JSON progress stream.
#[derive(Deserialize)]
struct JsonMessage {
    #[serde(default)]
    stream: Option<String>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default, rename = "errorDetail")]
    error_detail: Option<ErrorDetail>,
}

#[derive(Deserialize)]
struct ErrorDetail {
    #[serde(default)]
    message: String,
}

/// `/version`, for daemons whose `/_ping` has no `API-Version` header.
#[derive(Deserialize)]
struct Version {
    #[serde(rename = "ApiVersion")]
    api_version: String,
}

/// `major.minor` as numbers, for comparing API versions.
fn version_key(v: &str) -> Option<(u32, u32)> {
    let (major, minor) = v.split_once('.')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

impl Daemon {
    /// Connects to the daemon at `docker_host` (a `DOCKER_HOST` value; `None` or empty
    /// means [`DEFAULT_HOST`]) and negotiates the API version.
    pub fn connect(docker_host: Option<&str>) -> Result<Daemon, DaemonError> {
        let host = docker_host
            .filter(|h| !h.is_empty())
            .unwrap_or(DEFAULT_HOST);
        let endpoint = Endpoint::parse(host)?;
        let conn = Conn::open(endpoint, host.to_string())?;
        let mut ping = conn.request("GET", "/_ping")?;
        let advertised = ping.header("API-Version").map(str::to_string);
        if !ping.ok() {
            return Err(ping.error(&conn));
        }
        ping.drain(&conn)?;
        let server = match advertised {
            Some(v) => v,
            None => {
                let mut version = conn.request("GET", "/version")?;
                if !version.ok() {
                    return Err(version.error(&conn));
                }
                version.json::<Version>(&conn)?.api_version
            }
        };
        let server_key =
            version_key(&server).ok_or_else(|| conn.protocol(format!("API version {server:?}")))?;
        if server_key < version_key(MIN_API_VERSION).expect("valid constant") {
            return Err(DaemonError::TooOld {
                host: host.to_string(),
                version: server,
            });
        }
        let api_version = if server_key < version_key(MAX_API_VERSION).expect("valid constant") {
            server
        } else {
            MAX_API_VERSION.to_string()
        };
        Ok(Daemon {
            conn,
            api_version,
            info: Arc::new(OnceLock::new()),
        })
    }

    /// The daemon address (`DOCKER_HOST` or the default).
    pub fn host(&self) -> &str {
        self.conn.host()
    }

    /// The negotiated API version (`1.41`).
    pub fn api_version(&self) -> &str {
        &self.api_version
    }

    fn target(&self, path: &str) -> String {
        format!("/v{}{path}", self.api_version)
    }

    /// Sends a request and fails on a non-2xx answer.
    fn call(&self, method: &'static str, path: &str) -> Result<Response, DaemonError> {
        let mut response = self.conn.request(method, &self.target(path))?;
        if !response.ok() {
            return Err(response.error(&self.conn));
        }
        Ok(response)
    }

    /// Like [`Daemon::call`], but 404 is `None`.
    fn call_optional(
        &self,
        method: &'static str,
        path: &str,
    ) -> Result<Option<Response>, DaemonError> {
        match self.call(method, path) {
            Ok(response) => Ok(Some(response)),
            Err(DaemonError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Asks the daemon whether it is there. While a long step runs without daemon
    /// requests, pinging now and then keeps the connection from being closed as idle
    /// (the reference's creator pings every 500 ms while building).
    pub fn ping(&self) -> Result<(), DaemonError> {
        self.call("GET", "/_ping")?.drain(&self.conn)
    }

    /// The daemon's `/info`.
    pub fn info(&self) -> Result<Info, DaemonError> {
        self.call("GET", "/info")?.json(&self.conn)
    }

    /// Whether the daemon keeps images in the containerd image store (asked once).
    pub fn uses_containerd_store(&self) -> Result<bool, DaemonError> {
        if let Some(info) = self.info.get() {
            return Ok(info.uses_containerd_store());
        }
        let info = self.info()?;
        Ok(self.info.get_or_init(|| info).uses_containerd_store())
    }

    /// Inspects the image `name` (a name, `name@digest` or ID) with its history;
    /// `None` when the daemon has no such image.
    pub fn inspect_image(&self, name: &str) -> Result<Option<ImageInspect>, DaemonError> {
        let Some(mut inspect) = self.inspect_without_history(name)? else {
            return Ok(None);
        };
        let path = format!("/images/{}/history", escape_path(name));
        let Some(mut history) = self.call_optional("GET", &path)? else {
            return Ok(None);
        };
        let mut items: Vec<HistoryItem> = history.json(&self.conn)?;
        items.reverse();
        inspect.history = items;
        Ok(Some(inspect))
    }

    fn inspect_without_history(&self, name: &str) -> Result<Option<ImageInspect>, DaemonError> {
        let path = format!("/images/{}/json", escape_path(name));
        match self.call_optional("GET", &path)? {
            Some(mut response) => Ok(Some(response.json(&self.conn)?)),
            None => Ok(None),
        }
    }

    /// Loads a `docker load` archive read from `archive` (streamed, never held in
    /// memory).
    pub fn load(&self, mut archive: impl Read) -> Result<Loaded, DaemonError> {
        self.load_with(|out| {
            io::copy(&mut archive, out)
                .map(drop)
                .map_err(ArchiveError::Read)
        })
    }

    /// Loads the archive `write_archive` writes (streamed as it is written). The
    /// daemon's progress stream is read; an error in it is [`DaemonError::Load`].
    pub fn load_with<E>(
        &self,
        write_archive: impl FnOnce(&mut dyn Write) -> Result<(), E>,
    ) -> Result<Loaded, DaemonError>
    where
        DaemonError: From<E>,
    {
        let conn = &self.conn;
        conn.request_with_body(
            "POST",
            &self.target("/images/load?quiet=1"),
            "application/x-tar",
            write_archive,
            |response| {
                if !response.ok() {
                    return Err(response.error(conn));
                }
                read_load_stream(&mut response.body, conn)
            },
        )
    }

    /// Loads `image` and returns its image ID, after checking that the daemon has it as
    /// sent: with the classic store its ID must be the config digest; with the containerd
    /// store (where IDs are manifest digests) its diff IDs must be the config's.
    /// Placeholders are refused up front with the containerd store; a failed load of an
    /// archive with placeholders is [`DaemonError::MissingLayers`], after which the
    /// caller can send the full layers (from [`Daemon::save`] if need be).
    pub fn load_image(&self, image: &LoadArchive) -> Result<String, DaemonError> {
        let containerd = self.uses_containerd_store()?;
        if containerd && image.has_placeholders() {
            return Err(DaemonError::PlaceholdersUnsupported {
                host: self.host().to_string(),
            });
        }
        let loaded = match self.load_with(|out| image.write_to(out)) {
            Err(DaemonError::Load { message }) if image.has_placeholders() => {
                return Err(DaemonError::MissingLayers { message });
            }
            other => other?,
        };
        let name = match image.repo_tags().first() {
            Some(tag) => tag.clone(),
            None if containerd => loaded.ids.first().cloned().ok_or_else(|| {
                self.conn
                    .protocol("the daemon did not report the ID of the loaded image")
            })?,
            None => image.config_digest().to_string(),
        };
        let inspect = self
            .inspect_without_history(&name)?
            .ok_or_else(|| DaemonError::Load {
                message: format!("image {name} is not in the daemon after loading it"),
            })?;
        let as_sent = if containerd {
            inspect.diff_ids == image.diff_ids()
        } else {
            inspect.id == image.config_digest()
        };
        if !as_sent {
            return Err(DaemonError::IdMismatch {
                name,
                expected: image.config_digest().to_string(),
                actual: inspect.id,
            });
        }
        Ok(inspect.id)
    }

    /// Names the image `image` (name or ID) `repo:tag`.
    pub fn tag(&self, image: &str, repo: &str, tag: &str) -> Result<(), DaemonError> {
        let path = format!(
            "/images/{}/tag?repo={}&tag={}",
            escape_path(image),
            escape_query(repo),
            escape_query(tag)
        );
        self.call("POST", &path)?.drain(&self.conn)
    }

    /// Streams `docker save` of `names` (read it with [`read_saved`]). The stream holds
    /// the kept connection until it is read to its end or dropped.
    pub fn save(&self, names: &[&str]) -> Result<SaveStream, DaemonError> {
        let query: Vec<String> = names
            .iter()
            .map(|n| format!("names={}", escape_query(n)))
            .collect();
        let response = self.call("GET", &format!("/images/get?{}", query.join("&")))?;
        Ok(SaveStream(response.body))
    }

    /// Removes the image `name` (with `force`, also when it has several names or is used
    /// by stopped containers); untagged parents are pruned. [`DaemonError::NotFound`]
    /// when there is no such image.
    pub fn remove_image(&self, name: &str, force: bool) -> Result<(), DaemonError> {
        let path = format!("/images/{}?force={force}", escape_path(name));
        self.call("DELETE", &path)?.drain(&self.conn)
    }
}

/// The body of `docker save`: a tar stream.
#[derive(Debug)]
pub struct SaveStream(Body);

impl Read for SaveStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

/// Reads the JSON progress stream of `/images/load` to its end.
fn read_load_stream(body: &mut Body, conn: &Conn) -> Result<Loaded, DaemonError> {
    let mut loaded = Loaded::default();
    let mut failure = None;
    for message in serde_json::Deserializer::from_reader(&mut *body).into_iter::<JsonMessage>() {
        let message = message.map_err(|e| match e.io_error_kind() {
            Some(kind) => conn.io(io::Error::new(kind, e.to_string())),
            None => conn.protocol(format!("invalid JSON in the load progress: {e}")),
        })?;
        if let Some(error) = message
            .error_detail
            .map(|d| d.message)
            .filter(|m| !m.is_empty())
            .or(message.error)
        {
            failure.get_or_insert(error);
        }
        for line in message.stream.as_deref().unwrap_or_default().lines() {
            if let Some(id) = line.strip_prefix("Loaded image ID: ") {
                loaded.ids.push(id.trim().to_string());
            } else if let Some(name) = line.strip_prefix("Loaded image: ") {
                loaded.names.push(name.trim().to_string());
            }
        }
    }
    match failure {
        Some(message) => Err(DaemonError::Load { message }),
        None => Ok(loaded),
    }
}

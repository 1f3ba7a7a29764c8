//! The registry operations the phases need, over the distribution API.

use std::collections::HashMap;
use std::fmt;
use std::io::{self, Read};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ureq::http::{Response, StatusCode};
use ureq::tls::TlsConfig;

use super::auth::Keychain;
use super::digest::{Hashing, Verifying, sha256_digest, valid_digest};
use super::manifest::{ACCEPT, Descriptor, MAX_MANIFEST_BYTES, Manifest, media_type_of};
use super::retry::RetryPolicy;
use super::tls::TlsRoots;
use super::transport::{Body, Call, Failure, Session, header, read_body, retrying, with_query};
use super::{Error, scheme};
use crate::image::reference::{Reference, Repository};

/// How the client connects: insecure registries, retries, trust, proxy, timeouts.
#[derive(Clone)]
pub struct ClientConfig {
    /// `-insecure-registry` / `CNB_INSECURE_REGISTRIES` entries: HTTPS without certificate
    /// verification, then plain HTTP. Empty entries are ignored.
    pub insecure_registries: Vec<String>,
    /// Retries of transient failures.
    pub retry: RetryPolicy,
    /// The certificate authorities trusted.
    pub tls_roots: TlsRoots,
    /// An HTTP CONNECT proxy for every request (`http://[user:pass@]host:port`), as the
    /// binary reads it from `HTTPS_PROXY`/`HTTP_PROXY`.
    pub proxy: Option<String>,
    /// Hosts not to proxy: `NO_PROXY`'s comma-separated list (`host`, `.domain`,
    /// `*.domain`, `*`).
    pub no_proxy: Option<String>,
    /// The `User-Agent` header.
    pub user_agent: String,
    /// How long connecting may take.
    pub connect_timeout: Duration,
    /// How long one read or write may stall.
    pub io_timeout: Duration,
}

impl fmt::Debug for ClientConfig {
    /// Everything but the proxy URL, which may hold a password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientConfig")
            .field("insecure_registries", &self.insecure_registries)
            .field("retry", &self.retry)
            .field("tls_roots", &self.tls_roots)
            .field("proxy", &self.proxy.as_ref().map(|_| "<set>"))
            .field("no_proxy", &self.no_proxy)
            .field("user_agent", &self.user_agent)
            .field("connect_timeout", &self.connect_timeout)
            .field("io_timeout", &self.io_timeout)
            .finish()
    }
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            insecure_registries: Vec::new(),
            retry: RetryPolicy::default(),
            tls_roots: TlsRoots::system(),
            proxy: None,
            no_proxy: None,
            user_agent: format!("cnb-lifecycle/{}", env!("CARGO_PKG_VERSION")),
            connect_timeout: Duration::from_secs(30),
            io_timeout: Duration::from_secs(300),
        }
    }
}

/// What [`Client::push_blob`] had to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobPush {
    /// The repository already had the blob.
    Existed,
    /// The registry linked it from the other repository.
    Mounted,
    /// Its bytes were uploaded.
    Uploaded,
}

/// A blob uploaded from a stream of unknown length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamedBlob {
    /// `sha256:<hex>` of the bytes sent.
    pub digest: String,
    /// How many bytes were sent.
    pub size: u64,
}

/// A blob being downloaded. Reading fails with `InvalidData` at the end of the stream if
/// the content does not match its digest (or announced size).
pub struct BlobReader {
    inner: Verifying<ureq::BodyReader<'static>>,
    size: Option<u64>,
}

impl BlobReader {
    /// The size the registry announced (`Content-Length`), if it did.
    pub fn size(&self) -> Option<u64> {
        self.size
    }
}

impl Read for BlobReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf)
    }
}

/// A registry's session, set up once by the first operation on it.
type SessionSlot = Arc<Mutex<Option<Arc<Session>>>>;

/// A blocking distribution-API client, shareable between threads. It learns each
/// registry's scheme and authentication on first use and keeps bearer tokens per scope set.
pub struct Client {
    config: ClientConfig,
    keychain: Keychain,
    verifying: ureq::Agent,
    trusting: ureq::Agent,
    sessions: Mutex<HashMap<String, SessionSlot>>,
}

impl Client {
    /// A client with its configuration and credentials.
    pub fn new(config: ClientConfig, keychain: Keychain) -> Result<Client, Error> {
        let roots = config.tls_roots.load();
        let proxy = match &config.proxy {
            None => None,
            Some(url) => {
                let parsed =
                    ureq::Proxy::new(url).map_err(|e| Error::Config(format!("proxy: {e}")))?;
                let mut builder = ureq::Proxy::builder(parsed.protocol())
                    .host(parsed.host())
                    .port(parsed.port());
                if let (Some(u), Some(p)) = (parsed.username(), parsed.password()) {
                    builder = builder.username(u).password(p);
                }
                for entry in config.no_proxy.iter().flat_map(|n| n.split(',')) {
                    builder = builder.no_proxy(entry.trim());
                }
                Some(
                    builder
                        .build()
                        .map_err(|e| Error::Config(format!("proxy: {e}")))?,
                )
            }
        };
        let agent = |skip_verify: bool| {
            ureq::Agent::config_builder()
                .http_status_as_error(false)
                .proxy(proxy.clone())
                .user_agent(config.user_agent.as_str())
                .timeout_connect(Some(config.connect_timeout))
                .timeout_per_read(Some(config.io_timeout))
                .timeout_per_write(Some(config.io_timeout))
                .redirect_auth_headers(ureq::config::RedirectAuthHeaders::SameHost)
                .max_idle_connections_per_host(8)
                // Layer uploads stream hundreds of MB: fewer, larger writes and chunks.
                .output_buffer_size(1 << 20)
                .tls_config(
                    TlsConfig::builder()
                        .root_certs(roots.clone())
                        .disable_verification(skip_verify)
                        .build(),
                )
                .build()
                .new_agent()
        };
        Ok(Client {
            verifying: agent(false),
            trusting: agent(true),
            config,
            keychain,
            sessions: Mutex::new(HashMap::new()),
        })
    }

    /// The manifest `reference` names, exactly as served, with its digest checked (against
    /// the reference's digest, else the `Docker-Content-Digest` header); `None` on 404.
    pub fn get_manifest(&self, reference: &Reference) -> Result<Option<Manifest>, Error> {
        let s = self.session(reference.registry())?;
        let url = manifest_url(&s, reference);
        let scopes = [reference.repo().scope("pull")];
        retrying(&self.config.retry, || {
            let mut call = Call {
                method: "GET",
                url: url.clone(),
                scopes: &scopes,
                accept: Some(ACCEPT),
                content_type: None,
                body: Body::Empty,
            };
            let request = call.describe();
            let mut resp = s.exchange(&mut call)?;
            match resp.status() {
                StatusCode::OK => {}
                StatusCode::NOT_FOUND => return Ok(None),
                _ => return Err(Failure::status(request, &mut resp)),
            }
            let content_type = header(&resp, "content-type").map(str::to_string);
            let announced = header(&resp, "docker-content-digest").map(str::to_string);
            let bytes = read_body(&request, &mut resp, MAX_MANIFEST_BYTES)?;
            let digest = sha256_digest(&bytes);
            if let Some(want) = reference
                .digest()
                .or(announced.as_deref())
                .filter(|w| *w != digest)
            {
                return Err(Failure::protocol(
                    request,
                    format!("manifest digest {digest} does not match {want}"),
                ));
            }
            let media_type = manifest_media_type(content_type.as_deref(), &bytes);
            Ok(Some(Manifest {
                bytes,
                media_type,
                digest,
            }))
        })
    }

    /// The descriptor of the manifest `reference` names (a `HEAD`, or a `GET` when the
    /// registry does not say the digest); `None` on 404.
    pub fn head_manifest(&self, reference: &Reference) -> Result<Option<Descriptor>, Error> {
        let s = self.session(reference.registry())?;
        let url = manifest_url(&s, reference);
        let scopes = [reference.repo().scope("pull")];
        let head = retrying(&self.config.retry, || {
            let mut call = Call {
                method: "HEAD",
                url: url.clone(),
                scopes: &scopes,
                accept: Some(ACCEPT),
                content_type: None,
                body: Body::Empty,
            };
            let request = call.describe();
            let mut resp = s.exchange(&mut call)?;
            match resp.status() {
                StatusCode::OK => {}
                StatusCode::NOT_FOUND => return Ok(None),
                _ => return Err(Failure::status(request, &mut resp)),
            }
            let digest = header(&resp, "docker-content-digest").filter(|d| valid_digest(d));
            let size = header(&resp, "content-length").and_then(|l| l.parse::<u64>().ok());
            let media_type = header(&resp, "content-type").unwrap_or("");
            Ok(Some(match (digest, size) {
                (Some(digest), Some(size)) if !media_type.is_empty() => Some(Descriptor {
                    media_type: media_type.to_string(),
                    digest: digest.to_string(),
                    size,
                }),
                _ => None,
            }))
        })?;
        match head {
            None => Ok(None),
            Some(Some(d)) => Ok(Some(d)),
            Some(None) => Ok(self.get_manifest(reference)?.map(|m| Descriptor {
                size: m.bytes.len() as u64,
                media_type: m.media_type,
                digest: m.digest,
            })),
        }
    }

    /// Uploads a manifest under `reference`'s tag or digest; returns its digest.
    pub fn put_manifest(
        &self,
        reference: &Reference,
        media_type: &str,
        bytes: &[u8],
    ) -> Result<String, Error> {
        let s = self.session(reference.registry())?;
        let url = manifest_url(&s, reference);
        let digest = sha256_digest(bytes);
        if let Some(want) = reference.digest().filter(|w| *w != digest) {
            return Err(Error::Protocol {
                request: super::transport::describe("PUT", &url),
                message: format!("manifest digest {digest} does not match {want}"),
            });
        }
        let scopes = [reference.repo().scope("pull,push")];
        retrying(&self.config.retry, || {
            let mut call = Call {
                method: "PUT",
                url: url.clone(),
                scopes: &scopes,
                accept: None,
                content_type: Some(media_type),
                body: Body::Bytes(bytes),
            };
            let request = call.describe();
            let mut resp = s.exchange(&mut call)?;
            if !matches!(resp.status().as_u16(), 200 | 201 | 202 | 204) {
                return Err(Failure::status(request, &mut resp));
            }
            match header(&resp, "docker-content-digest") {
                Some(d) if d != digest => Err(Failure::protocol(
                    request,
                    format!("registry stored the manifest as {d}, expected {digest}"),
                )),
                _ => Ok(digest.clone()),
            }
        })
    }

    /// Deletes the manifest `reference` names (registries want a digest reference).
    pub fn delete_manifest(&self, reference: &Reference) -> Result<(), Error> {
        let s = self.session(reference.registry())?;
        let url = manifest_url(&s, reference);
        let scopes = [reference.repo().scope("delete")];
        retrying(&self.config.retry, || {
            let mut call = Call {
                method: "DELETE",
                url: url.clone(),
                scopes: &scopes,
                accept: None,
                content_type: None,
                body: Body::Empty,
            };
            let request = call.describe();
            let mut resp = s.exchange(&mut call)?;
            match resp.status().as_u16() {
                200 | 202 | 204 => Ok(()),
                _ => Err(Failure::status(request, &mut resp)),
            }
        })
    }

    /// The size of blob `digest` in `repo`, or `None` when the repository does not have it.
    pub fn blob_exists(&self, repo: &Repository, digest: &str) -> Result<Option<u64>, Error> {
        let s = self.session(repo.registry())?;
        let scopes = [repo.scope("pull")];
        retrying(&self.config.retry, || {
            self.head_blob(&s, repo, digest, &scopes)
        })
    }

    /// Streams blob `digest` of `repo`; the reader checks the digest at the end.
    pub fn get_blob(&self, repo: &Repository, digest: &str) -> Result<BlobReader, Error> {
        let s = self.session(repo.registry())?;
        let url = format!("{}/v2/{}/blobs/{digest}", s.base, repo.repository());
        let scopes = [repo.scope("pull")];
        let resp = retrying(&self.config.retry, || {
            let mut call = Call {
                method: "GET",
                url: url.clone(),
                scopes: &scopes,
                accept: None,
                content_type: None,
                body: Body::Empty,
            };
            let request = call.describe();
            let mut resp = s.exchange(&mut call)?;
            if resp.status() != StatusCode::OK {
                return Err(Failure::status(request, &mut resp));
            }
            Ok(resp)
        })?;
        let size = header(&resp, "content-length").and_then(|l| l.parse().ok());
        Ok(BlobReader {
            inner: Verifying::new(resp.into_body().into_reader(), digest, size),
            size,
        })
    }

    /// A small blob (an image config) in memory, digest checked; at most `max` bytes.
    pub fn get_blob_bytes(
        &self,
        repo: &Repository,
        digest: &str,
        max: u64,
    ) -> Result<Vec<u8>, Error> {
        let s = self.session(repo.registry())?;
        let url = format!("{}/v2/{}/blobs/{digest}", s.base, repo.repository());
        let scopes = [repo.scope("pull")];
        retrying(&self.config.retry, || {
            let mut call = Call {
                method: "GET",
                url: url.clone(),
                scopes: &scopes,
                accept: None,
                content_type: None,
                body: Body::Empty,
            };
            let request = call.describe();
            let mut resp = s.exchange(&mut call)?;
            if resp.status() != StatusCode::OK {
                return Err(Failure::status(request, &mut resp));
            }
            let bytes = read_body(&request, &mut resp, max)?;
            let actual = sha256_digest(&bytes);
            if actual != digest {
                return Err(Failure::protocol(
                    request,
                    format!("blob digest mismatch: expected {digest}, got {actual}"),
                ));
            }
            Ok(bytes)
        })
    }

    /// Asks the registry to link blob `digest` from `from` into `repo`; `false` when it
    /// would not (the upload session it opened instead is cancelled).
    pub fn mount_blob(
        &self,
        repo: &Repository,
        digest: &str,
        from: &Repository,
    ) -> Result<bool, Error> {
        let s = self.session(repo.registry())?;
        let scopes = [repo.scope("pull,push"), from.scope("pull")];
        let started = retrying(&self.config.retry, || {
            self.start_upload(&s, repo, &scopes, Some((digest, from)))
        })?;
        match started {
            Started::Mounted => Ok(true),
            Started::Upload(location) => {
                cancel_upload(&s, &location, &scopes);
                Ok(false)
            }
        }
    }

    /// Uploads blob `digest` of `size` bytes, streamed from a fresh reader that `open`
    /// gives for each attempt (`POST` then one `PUT` with the body).
    pub fn upload_blob<R: Read>(
        &self,
        repo: &Repository,
        digest: &str,
        size: u64,
        mut open: impl FnMut() -> io::Result<R>,
    ) -> Result<(), Error> {
        let s = self.session(repo.registry())?;
        let scopes = [repo.scope("pull,push")];
        retrying(&self.config.retry, || {
            match self.start_upload(&s, repo, &scopes, None)? {
                Started::Upload(location) => {
                    self.put_upload(&s, &scopes, &location, digest, size, &mut open)
                }
                Started::Mounted => Ok(()),
            }
        })
    }

    /// Makes sure `repo` has blob `digest`: nothing if it already does, else a mount from
    /// `mount_from` (same registry) when given, else (or when the mount is refused) an
    /// upload from `open` as in [`Client::upload_blob`]. Every attempt starts over with the
    /// existence check.
    pub fn push_blob<R: Read>(
        &self,
        repo: &Repository,
        digest: &str,
        size: u64,
        mount_from: Option<&Repository>,
        mut open: impl FnMut() -> io::Result<R>,
    ) -> Result<BlobPush, Error> {
        let s = self.session(repo.registry())?;
        let from = mount_from.filter(|f| f.registry() == repo.registry() && *f != repo);
        let mut scopes = vec![repo.scope("pull,push")];
        if let Some(f) = from {
            scopes.push(f.scope("pull"));
        }
        retrying(&self.config.retry, || {
            if self.head_blob(&s, repo, digest, &scopes)?.is_some() {
                return Ok(BlobPush::Existed);
            }
            match self.start_upload(&s, repo, &scopes, from.map(|f| (digest, f)))? {
                Started::Mounted => Ok(BlobPush::Mounted),
                Started::Upload(location) => {
                    self.put_upload(&s, &scopes, &location, digest, size, &mut open)?;
                    Ok(BlobPush::Uploaded)
                }
            }
        })
    }

    /// Uploads a blob whose length and digest are not known in advance (`POST`, one
    /// chunked `PATCH` streaming the data while hashing it, then `PUT ?digest=`). `open`
    /// must give the same bytes on every attempt.
    pub fn upload_blob_stream<R: Read>(
        &self,
        repo: &Repository,
        mut open: impl FnMut() -> io::Result<R>,
    ) -> Result<StreamedBlob, Error> {
        let s = self.session(repo.registry())?;
        let scopes = [repo.scope("pull,push")];
        retrying(&self.config.retry, || {
            let Started::Upload(location) = self.start_upload(&s, repo, &scopes, None)? else {
                return Err(Failure::protocol(
                    format!("POST {}/v2/{}/blobs/uploads/", s.base, repo.repository()),
                    "registry mounted a blob that was not asked for",
                ));
            };
            let reader = open().map_err(|e| source_failure("unknown", e))?;
            let mut source = Source::new(Hashing::new(reader));
            let mut call = Call {
                method: "PATCH",
                url: location,
                scopes: &scopes,
                accept: None,
                content_type: Some("application/octet-stream"),
                body: Body::Reader {
                    reader: &mut source,
                    len: None,
                },
            };
            let request = call.describe();
            let sent = s.exchange(&mut call);
            if let Some(e) = source.failed.take() {
                return Err(source_failure("unknown", e));
            }
            let mut resp = sent?;
            if !matches!(resp.status().as_u16(), 202 | 204) {
                return Err(Failure::status(request, &mut resp));
            }
            let next = upload_location(&s, &request, &resp)?;
            let (digest, size) = source.inner.finish();
            let mut call = Call {
                method: "PUT",
                url: with_query(&next, "digest", &digest),
                scopes: &scopes,
                accept: None,
                content_type: None,
                body: Body::Bytes(&[]),
            };
            let request = call.describe();
            let mut put = s.exchange(&mut call)?;
            if !matches!(put.status().as_u16(), 201 | 204) {
                return Err(Failure::status(request, &mut put));
            }
            Ok(StreamedBlob { digest, size })
        })
    }

    /// Whether `reference` can be read: fine unless the registry denies access (401/403)
    /// or cannot be reached; a missing image is readable (the reference's rule).
    pub fn check_read_access(&self, reference: &Reference) -> Result<(), Error> {
        match self.head_manifest(reference) {
            Ok(_) => Ok(()),
            Err(e) if e.status().is_some() && !e.is_access_denied() => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Whether `reference`'s repository can be written: readable, and the registry lets
    /// an upload start there (the session is cancelled right away).
    pub fn check_write_access(&self, reference: &Reference) -> Result<(), Error> {
        self.check_read_access(reference)?;
        let repo = reference.repo();
        let s = self.session(repo.registry())?;
        let scopes = [repo.scope("pull,push")];
        match retrying(&self.config.retry, || {
            self.start_upload(&s, repo, &scopes, None)
        })? {
            Started::Upload(location) => cancel_upload(&s, &location, &scopes),
            Started::Mounted => {}
        }
        Ok(())
    }

    /// The session for `registry`, connecting on first use.
    fn session(&self, registry: &str) -> Result<Arc<Session>, Error> {
        let slot = self
            .sessions
            .lock()
            .expect("sessions lock")
            .entry(registry.to_string())
            .or_default()
            .clone();
        let mut guard = slot.lock().expect("session lock");
        if let Some(s) = guard.as_ref() {
            return Ok(s.clone());
        }
        let credential = self.keychain.resolve(registry)?;
        let plan = scheme::plan(registry, &self.config.insecure_registries);
        let agent = if plan.skip_verify {
            self.trusting.clone()
        } else {
            self.verifying.clone()
        };
        let session = Arc::new(Session::connect(
            registry,
            agent,
            credential,
            plan.http_fallback,
            &self.config.retry,
        )?);
        *guard = Some(session.clone());
        Ok(session)
    }

    /// `HEAD` of a blob: its size, or `None` on 404.
    fn head_blob(
        &self,
        s: &Session,
        repo: &Repository,
        digest: &str,
        scopes: &[String],
    ) -> Result<Option<u64>, Failure> {
        let mut call = Call {
            method: "HEAD",
            url: format!("{}/v2/{}/blobs/{digest}", s.base, repo.repository()),
            scopes,
            accept: None,
            content_type: None,
            body: Body::Empty,
        };
        let request = call.describe();
        let mut resp = s.exchange(&mut call)?;
        match resp.status() {
            StatusCode::OK => Ok(Some(
                header(&resp, "content-length")
                    .and_then(|l| l.parse().ok())
                    .unwrap_or(0),
            )),
            StatusCode::NOT_FOUND => Ok(None),
            _ => Err(Failure::status(request, &mut resp)),
        }
    }

    /// `POST /v2/<repo>/blobs/uploads/`, with `?mount=&from=` when mounting.
    fn start_upload(
        &self,
        s: &Session,
        repo: &Repository,
        scopes: &[String],
        mount: Option<(&str, &Repository)>,
    ) -> Result<Started, Failure> {
        let mut url = format!("{}/v2/{}/blobs/uploads/", s.base, repo.repository());
        if let Some((digest, from)) = mount {
            url = with_query(&url, "mount", digest);
            url = with_query(&url, "from", from.repository());
        }
        let mut call = Call {
            method: "POST",
            url,
            scopes,
            accept: None,
            content_type: None,
            body: Body::Bytes(&[]),
        };
        let request = call.describe();
        let mut resp = s.exchange(&mut call)?;
        match resp.status().as_u16() {
            201 if mount.is_some() => Ok(Started::Mounted),
            202 => Ok(Started::Upload(upload_location(s, &request, &resp)?)),
            _ => Err(Failure::status(request, &mut resp)),
        }
    }

    /// `PUT <location>?digest=` with the whole blob from a fresh reader.
    fn put_upload<R: Read>(
        &self,
        s: &Session,
        scopes: &[String],
        location: &str,
        digest: &str,
        size: u64,
        open: &mut impl FnMut() -> io::Result<R>,
    ) -> Result<(), Failure> {
        let reader = open().map_err(|e| source_failure(digest, e))?;
        let mut source = Source::new(reader);
        let mut call = Call {
            method: "PUT",
            url: with_query(location, "digest", digest),
            scopes,
            accept: None,
            content_type: Some("application/octet-stream"),
            body: Body::Reader {
                reader: &mut source,
                len: Some(size),
            },
        };
        let request = call.describe();
        let sent = s.exchange(&mut call);
        if let Some(e) = source.failed.take() {
            return Err(source_failure(digest, e));
        }
        let mut resp = sent?;
        if !matches!(resp.status().as_u16(), 201 | 204) {
            return Err(Failure::status(request, &mut resp));
        }
        Ok(())
    }
}

/// How an upload started.
enum Started {
    /// The blob was mounted; nothing to upload.
    Mounted,
    /// Upload here.
    Upload(String),
}

/// Cancels an upload session, ignoring the answer.
fn cancel_upload(s: &Session, location: &str, scopes: &[String]) {
    let mut call = Call {
        method: "DELETE",
        url: location.to_string(),
        scopes,
        accept: None,
        content_type: None,
        body: Body::Empty,
    };
    let _ = s.exchange(&mut call);
}

/// The `Location` of an answer, made absolute against the registry.
fn upload_location(
    s: &Session,
    request: &str,
    resp: &Response<ureq::Body>,
) -> Result<String, Failure> {
    let loc = header(resp, "location")
        .filter(|l| !l.is_empty())
        .ok_or_else(|| Failure::protocol(request.to_string(), "no Location in the answer"))?;
    Ok(
        if loc.starts_with("http://") || loc.starts_with("https://") {
            loc.to_string()
        } else if loc.starts_with('/') {
            format!("{}{loc}", s.base)
        } else {
            format!("{}/{loc}", s.base)
        },
    )
}

fn manifest_url(s: &Session, reference: &Reference) -> String {
    format!(
        "{}/v2/{}/manifests/{}",
        s.base,
        reference.repository(),
        reference.identifier()
    )
}

/// The media type of a served manifest: `Content-Type`, unless it is generic, then the
/// document's own `mediaType`.
fn manifest_media_type(content_type: Option<&str>, bytes: &[u8]) -> String {
    let ct = content_type
        .and_then(|c| c.split(';').next())
        .map(str::trim)
        .filter(|c| !c.is_empty());
    match ct {
        Some(c)
            if !matches!(
                c,
                "application/json" | "text/plain" | "application/octet-stream"
            ) =>
        {
            c.to_string()
        }
        _ => media_type_of(bytes)
            .or(ct.map(str::to_string))
            .unwrap_or_default(),
    }
}

fn source_failure(digest: &str, source: io::Error) -> Failure {
    Failure::fatal(Error::Source {
        digest: digest.to_string(),
        source,
    })
}

/// An upload's source, remembering its own read errors so they are not mistaken for
/// network failures (which are retried).
struct Source<R> {
    inner: R,
    failed: Option<io::Error>,
}

impl<R> Source<R> {
    fn new(inner: R) -> Self {
        Source {
            inner,
            failed: None,
        }
    }
}

impl<R: Read> Read for Source<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).inspect_err(|e| {
            self.failed = Some(io::Error::new(e.kind(), e.to_string()));
        })
    }
}

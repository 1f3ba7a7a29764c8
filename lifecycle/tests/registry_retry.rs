//! Retries through a fault-injecting proxy in front of a real registry: 5xx, 429 with
//! `Retry-After`, connection resets, uploads re-opening their source, giving up after the
//! policy's attempts, and no retries for 404 or local read errors.

use std::io::{self, Cursor, Read};
use std::time::{Duration, Instant};

use lifecycle::image::reference::Reference;
use lifecycle::registry::digest::sha256_digest;
use lifecycle::registry::manifest::OCI_MANIFEST;
use lifecycle::registry::{Client, ClientConfig, Error, Keychain, RetryPolicy};
use spec_tests::registry::{Fault, FaultProxy, FaultRule, Registry};

fn client(retry: RetryPolicy) -> Client {
    let config = ClientConfig {
        retry,
        ..ClientConfig::default()
    };
    Client::new(config, Keychain::anonymous()).expect("client")
}

fn fast() -> RetryPolicy {
    RetryPolicy {
        attempts: 3,
        initial_backoff: Duration::from_millis(10),
        factor: 2,
        max_retry_after: Duration::from_secs(5),
    }
}

fn rule(method: &str, path: &str, fault: Fault, times: usize) -> FaultRule {
    FaultRule {
        method: Some(method.into()),
        path_contains: path.into(),
        fault,
        times,
    }
}

fn reference(host: &str, path: &str) -> Reference {
    Reference::parse(&format!("{host}/{path}")).expect("reference")
}

/// Pushes a blob and a manifest under `repo:v1` directly to the registry; returns the
/// manifest's digest.
fn seed(reg: &Registry, repo: &str) -> String {
    let c = client(fast());
    let r = reference(reg.host(), &format!("{repo}:v1"));
    let config = br#"{"architecture":"amd64","os":"linux"}"#;
    let digest = sha256_digest(config);
    c.upload_blob(r.repo(), &digest, config.len() as u64, || {
        Ok(Cursor::new(config.to_vec()))
    })
    .unwrap();
    let manifest = serde_json::json!({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": { "mediaType": "application/vnd.oci.image.config.v1+json",
                    "digest": digest, "size": config.len() },
        "layers": [],
    })
    .to_string();
    c.put_manifest(&r, OCI_MANIFEST, manifest.as_bytes())
        .unwrap()
}

/// The faults the proxy applied, and how many requests matched `method` and `path`.
fn count(proxy: &FaultProxy, method: &str, path: &str) -> (usize, usize) {
    let seen: Vec<_> = proxy
        .requests()
        .into_iter()
        .filter(|s| s.method == method && s.path.contains(path))
        .collect();
    (
        seen.iter().filter(|s| s.fault.is_some()).count(),
        seen.len(),
    )
}

#[test]
fn server_errors_are_retried_until_success() {
    let reg = Registry::anonymous();
    let digest = seed(&reg, "app");
    let proxy = FaultProxy::start(
        reg.host(),
        vec![
            rule("GET", "/v2/", Fault::Status(502), 1),
            rule("GET", "/manifests/", Fault::Status(503), 2),
        ],
    );
    let c = client(fast());
    let m = c
        .get_manifest(&reference(proxy.host(), "app:v1"))
        .unwrap()
        .expect("manifest");
    assert_eq!(m.digest, digest);
    assert_eq!(count(&proxy, "GET", "/manifests/"), (2, 3));
    assert_eq!(count(&proxy, "GET", "/v2/"), (3, 5));
}

#[test]
fn connection_resets_are_retried() {
    let reg = Registry::anonymous();
    seed(&reg, "app");
    let config = br#"{"architecture":"amd64","os":"linux"}"#;
    let proxy = FaultProxy::start(reg.host(), vec![rule("HEAD", "/blobs/", Fault::Reset, 2)]);
    let c = client(fast());
    let r = reference(proxy.host(), "app:v1");
    assert_eq!(
        c.blob_exists(r.repo(), &sha256_digest(config)).unwrap(),
        Some(config.len() as u64)
    );
    assert_eq!(count(&proxy, "HEAD", "/blobs/"), (2, 3));
}

#[test]
fn too_many_requests_waits_for_retry_after_within_reason() {
    let reg = Registry::anonymous();
    seed(&reg, "app");
    let proxy = FaultProxy::start(
        reg.host(),
        vec![rule(
            "GET",
            "/manifests/",
            Fault::StatusRetryAfter(429, 1),
            1,
        )],
    );
    let c = client(fast());
    let r = reference(proxy.host(), "app:v1");
    let started = Instant::now();
    assert!(c.get_manifest(&r).unwrap().is_some());
    let waited = started.elapsed();
    assert!(waited >= Duration::from_secs(1), "{waited:?}");
    assert_eq!(count(&proxy, "GET", "/manifests/"), (1, 2));

    // An hour is cut to the policy's cap.
    let proxy = FaultProxy::start(
        reg.host(),
        vec![rule(
            "GET",
            "/manifests/",
            Fault::StatusRetryAfter(429, 3600),
            1,
        )],
    );
    let capped = RetryPolicy {
        max_retry_after: Duration::from_millis(200),
        ..fast()
    };
    let started = Instant::now();
    assert!(
        client(capped)
            .get_manifest(&reference(proxy.host(), "app:v1"))
            .unwrap()
            .is_some()
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn gives_up_after_the_policy_attempts() {
    let reg = Registry::anonymous();
    seed(&reg, "app");
    let proxy = FaultProxy::start(
        reg.host(),
        vec![rule("GET", "/manifests/", Fault::Status(503), 100)],
    );
    let err = client(fast())
        .get_manifest(&reference(proxy.host(), "app:v1"))
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Status {
                status: 503,
                attempts: 3,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("after 3 attempts"), "{err}");
    assert_eq!(count(&proxy, "GET", "/manifests/"), (3, 3));

    let proxy = FaultProxy::start(reg.host(), vec![rule("HEAD", "/blobs/", Fault::Reset, 100)]);
    let r = reference(proxy.host(), "app:v1");
    let err = client(fast())
        .blob_exists(r.repo(), &sha256_digest(b"x"))
        .unwrap_err();
    assert!(matches!(err, Error::Network { attempts: 3, .. }), "{err:?}");
}

#[test]
fn not_found_is_never_retried() {
    let reg = Registry::anonymous();
    let proxy = FaultProxy::start(reg.host(), Vec::new());
    let r = reference(proxy.host(), "app:v1");
    let err = client(fast())
        .get_blob(r.repo(), &sha256_digest(b"missing"))
        .err()
        .expect("missing blob");
    assert!(err.is_not_found(), "{err}");
    assert_eq!(count(&proxy, "GET", "/blobs/"), (0, 1));
}

#[test]
fn uploads_start_over_with_a_reopened_source() {
    let reg = Registry::anonymous();
    let proxy = FaultProxy::start(
        reg.host(),
        vec![
            rule("PUT", "/blobs/uploads/", Fault::Reset, 1),
            rule("PUT", "/blobs/uploads/", Fault::Status(500), 1),
            rule("PATCH", "/blobs/uploads/", Fault::Status(503), 1),
        ],
    );
    let c = client(fast());
    let r = reference(proxy.host(), "up:v1");
    let data: Vec<u8> = (0..2_000_000u32).map(|i| (i % 253) as u8).collect();
    let digest = sha256_digest(&data);
    let mut opens = 0;
    c.upload_blob(r.repo(), &digest, data.len() as u64, || {
        opens += 1;
        Ok(Cursor::new(data.clone()))
    })
    .unwrap();
    assert_eq!(opens, 3);
    assert_eq!(count(&proxy, "PUT", "/blobs/uploads/"), (2, 3));

    let mut opens = 0;
    let blob = c
        .upload_blob_stream(r.repo(), || {
            opens += 1;
            Ok(Cursor::new(data.clone()))
        })
        .unwrap();
    assert_eq!((blob.digest.as_str(), opens), (digest.as_str(), 2));
    let mut got = Vec::new();
    c.get_blob(r.repo(), &digest)
        .unwrap()
        .read_to_end(&mut got)
        .unwrap();
    assert_eq!(got, data);
}

/// Gives `n` bytes, then fails.
struct Failing(usize);

impl Read for Failing {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.0 == 0 {
            return Err(io::Error::other("disk on fire"));
        }
        let n = buf.len().min(self.0);
        buf[..n].fill(7);
        self.0 -= n;
        Ok(n)
    }
}

#[test]
fn local_read_errors_are_not_retried() {
    let reg = Registry::anonymous();
    let c = client(fast());
    let r = reference(reg.host(), "src:v1");
    let mut opens = 0;
    let err = c
        .upload_blob(r.repo(), &sha256_digest(b"whatever"), 1 << 20, || {
            opens += 1;
            Ok(Failing(1000))
        })
        .unwrap_err();
    assert!(matches!(err, Error::Source { .. }), "{err:?}");
    assert!(err.to_string().contains("disk on fire"), "{err}");
    assert_eq!(opens, 1);
    let mut opens = 0;
    let err = c
        .upload_blob_stream(r.repo(), || {
            opens += 1;
            Ok(Failing(70_000))
        })
        .unwrap_err();
    assert!(matches!(err, Error::Source { .. }), "{err:?}");
    assert_eq!(opens, 1);
    let err = c
        .upload_blob(
            r.repo(),
            &sha256_digest(b"x"),
            1,
            || -> io::Result<Cursor<Vec<u8>>> {
                Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    "no such layer file",
                ))
            },
        )
        .unwrap_err();
    assert!(err.to_string().contains("no such layer file"), "{err}");
}

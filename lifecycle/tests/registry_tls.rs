//! HTTPS registries: trusted through the configured CA bundle, refused when the CA is
//! unknown, and reachable without verification when listed insecure.

use std::io::Cursor;
use std::time::Duration;

use lifecycle::image::reference::Reference;
use lifecycle::registry::digest::sha256_digest;
use lifecycle::registry::{Client, ClientConfig, Keychain, RetryPolicy, TlsRoots};
use spec_tests::registry::Registry;

fn client(tls_roots: TlsRoots, insecure: &[&str]) -> Client {
    let config = ClientConfig {
        tls_roots,
        insecure_registries: insecure.iter().map(|s| s.to_string()).collect(),
        retry: RetryPolicy {
            attempts: 2,
            initial_backoff: Duration::from_millis(10),
            factor: 2,
            max_retry_after: Duration::from_secs(1),
        },
        ..ClientConfig::default()
    };
    Client::new(config, Keychain::anonymous()).expect("client")
}

/// Uploads a blob and checks it is there.
fn round_trip(c: &Client, reg: &Registry) -> Result<(), lifecycle::registry::Error> {
    let r = Reference::parse(&reg.image("secure/app:1")).unwrap();
    let data = b"over tls".repeat(1000);
    let digest = sha256_digest(&data);
    c.upload_blob(r.repo(), &digest, data.len() as u64, || {
        Ok(Cursor::new(data.clone()))
    })?;
    assert_eq!(c.blob_exists(r.repo(), &digest)?, Some(data.len() as u64));
    Ok(())
}

#[test]
fn trusted_through_the_given_ca_bundle() {
    let reg = Registry::tls();
    let roots = TlsRoots::System {
        cert_file: Some(reg.ca_cert()),
        cert_dirs: Some(Vec::new()),
    };
    round_trip(&client(roots, &[]), &reg).expect("https with the test CA");
}

#[test]
fn unknown_ca_is_refused_unless_insecure() {
    let reg = Registry::tls();
    // HTTPS fails verification; the plain-HTTP fallback meets a TLS server.
    for roots in [TlsRoots::system(), TlsRoots::Bundled] {
        let err = round_trip(&client(roots, &[]), &reg)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("UnknownIssuer") && err.contains("over plain HTTP") && err.contains("400"),
            "{err}"
        );
    }
    round_trip(&client(TlsRoots::Bundled, &[reg.host()]), &reg)
        .expect("insecure registry: no verification");
}

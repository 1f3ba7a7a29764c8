//! Registry credentials end to end: Basic auth from `CNB_REGISTRY_AUTH`, docker config
//! `auths` and a `credsStore` helper; Distribution token auth with Basic credentials, an
//! identity (refresh) token and a registry token; anonymous and wrong credentials failing
//! fast; and no credential ever showing in an error.

use std::io::Cursor;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use lifecycle::image::reference::Reference;
use lifecycle::registry::digest::sha256_digest;
use lifecycle::registry::manifest::OCI_MANIFEST;
use lifecycle::registry::{Client, ClientConfig, Error, Keychain, KeychainSources, RetryPolicy};
use spec_tests::registry::{FaultProxy, Registry};

const USER: &str = "cnb-user";
const PASSWORD: &str = "s3cret-Pa55word";

fn client_with(sources: KeychainSources, retry: RetryPolicy) -> Client {
    let keychain = Keychain::new(sources).expect("keychain");
    let config = ClientConfig {
        retry,
        ..ClientConfig::default()
    };
    Client::new(config, keychain).expect("client")
}

fn fast() -> RetryPolicy {
    RetryPolicy {
        attempts: 3,
        initial_backoff: Duration::from_millis(10),
        factor: 2,
        max_retry_after: Duration::from_secs(1),
    }
}

fn env_client(registry_auth: &str) -> Client {
    client_with(
        KeychainSources {
            registry_auth: Some(registry_auth.to_string()),
            ..KeychainSources::default()
        },
        fast(),
    )
}

fn reference(s: &str) -> Reference {
    Reference::parse(s).expect("reference")
}

/// Pushes a small image to `image`, reads it back and checks write access; returns the
/// manifest digest.
fn push_and_read(c: &Client, reg: &Registry, image: &str) -> String {
    let r = reference(&reg.image(image));
    let config =
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let layer = b"auth test layer".repeat(100);
    for blob in [&config[..], &layer[..]] {
        let digest = sha256_digest(blob);
        c.upload_blob(r.repo(), &digest, blob.len() as u64, || {
            Ok(Cursor::new(blob.to_vec()))
        })
        .expect("upload");
    }
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": { "mediaType": "application/vnd.oci.image.config.v1+json",
                    "digest": sha256_digest(config), "size": config.len() },
        "layers": [{ "mediaType": "application/vnd.oci.image.layer.v1.tar",
                     "digest": sha256_digest(&layer), "size": layer.len() }],
    })
    .to_string();
    let digest = c
        .put_manifest(&r, OCI_MANIFEST, manifest.as_bytes())
        .expect("put manifest");
    let got = c.get_manifest(&r).expect("get manifest").expect("exists");
    assert_eq!(got.digest, digest);
    c.check_write_access(&r).expect("write access");
    digest
}

/// Pushes as [`push_and_read`] does and checks skopeo reads the same manifest digest.
fn push_and_verify(c: &Client, reg: &Registry, image: &str) {
    let digest = push_and_read(c, reg, image);
    assert_eq!(sha256_digest(&reg.inspect_raw(image)), digest);
}

#[test]
fn basic_auth_from_cnb_registry_auth() {
    let reg = Registry::basic(USER, PASSWORD);
    push_and_verify(&env_client(&reg.registry_auth()), &reg, "env/app:1");
}

#[test]
fn basic_auth_from_docker_config() {
    let reg = Registry::basic(USER, PASSWORD);
    let dir = tempfile::tempdir().unwrap();
    let config = reg.docker_config(dir.path());
    let c = client_with(
        KeychainSources {
            docker_config_files: vec![dir.path().join("absent.json"), config],
            ..KeychainSources::default()
        },
        fast(),
    );
    push_and_verify(&c, &reg, "config/app:1");
}

#[test]
fn basic_auth_from_a_creds_store_helper_on_the_given_path() {
    let reg = Registry::basic(USER, PASSWORD);
    let dir = tempfile::tempdir().unwrap();
    let calls = dir.path().join("calls");
    write_helper(dir.path(), reg.host(), &calls);
    std::fs::write(dir.path().join("config.json"), r#"{"credsStore":"test"}"#).unwrap();
    let c = client_with(
        KeychainSources {
            docker_config_files: vec![dir.path().join("config.json")],
            helper_path: Some(format!("{}:/usr/bin:/bin", dir.path().display()).into()),
            ..KeychainSources::default()
        },
        fast(),
    );
    push_and_verify(&c, &reg, "helper/app:1");
    // Asked once, for this registry, however many requests were made.
    assert_eq!(
        std::fs::read_to_string(&calls).unwrap(),
        format!("{}\n", reg.host())
    );
}

/// `docker-credential-test`: answers for `host`, logs each server asked to `calls`.
fn write_helper(dir: &Path, host: &str, calls: &Path) {
    let script = dir.join("docker-credential-test");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\n[ \"$1\" = get ] || exit 2\nread -r server\necho \"$server\" >> {calls}\n\
             if [ \"$server\" = \"{host}\" ]; then\n\
               printf '{{\"ServerURL\":\"%s\",\"Username\":\"{USER}\",\"Secret\":\"{PASSWORD}\"}}' \"$server\"\n\
             else echo 'credentials not found in native keychain'; exit 1; fi\n",
            calls = calls.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn missing_or_wrong_credentials_fail_fast_without_retries() {
    let reg = Registry::basic(USER, PASSWORD);
    let proxy = FaultProxy::start(reg.host(), Vec::new());
    let slow = RetryPolicy {
        attempts: 3,
        initial_backoff: Duration::from_secs(2),
        factor: 1,
        max_retry_after: Duration::from_secs(2),
    };
    let r = reference(&format!("{}/private/app:1", proxy.host()));
    let started = Instant::now();
    let anonymous = client_with(KeychainSources::default(), slow.clone());
    let err = anonymous.get_manifest(&r).unwrap_err();
    assert!(matches!(err, Error::Unauthorized { .. }), "{err}");
    assert!(err.is_access_denied());
    assert!(
        anonymous
            .check_read_access(&r)
            .unwrap_err()
            .is_access_denied()
    );
    let wrong = client_with(
        KeychainSources {
            registry_auth: Some(format!(
                r#"{{"{}":"Basic {}"}}"#,
                proxy.host(),
                STANDARD.encode(format!("{USER}:not-the-password"))
            )),
            ..KeychainSources::default()
        },
        slow,
    );
    let err = wrong
        .blob_exists(r.repo(), &sha256_digest(b"x"))
        .unwrap_err();
    assert!(matches!(err, Error::Unauthorized { .. }), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    // Per client: the ping, then each request once (a Basic registry is not asked twice).
    let seen: Vec<String> = proxy
        .requests()
        .iter()
        .map(|s| format!("{} {}", s.method, s.path))
        .collect();
    let digest = sha256_digest(b"x");
    assert_eq!(
        seen,
        vec![
            "GET /v2/".to_string(),
            "GET /v2/private/app/manifests/1".into(),
            "HEAD /v2/private/app/manifests/1".into(),
            "GET /v2/".into(),
            format!("HEAD /v2/private/app/blobs/{digest}"),
        ]
    );
}

#[test]
fn token_auth_with_basic_credentials() {
    let reg = Registry::token(USER, PASSWORD);
    let digest = push_and_read(&env_client(&reg.registry_auth()), &reg, "tok/app:1");
    let requests = reg.token_server().unwrap().requests();
    // skopeo gets its own token and reads what we pushed.
    assert_eq!(sha256_digest(&reg.inspect_raw("tok/app:1")), digest);
    assert!(!requests.is_empty());
    assert!(
        requests
            .iter()
            .all(|r| r.via == "basic" && r.granted && r.method == "GET")
    );
    assert!(
        requests
            .iter()
            .any(|r| r.scopes == ["repository:tok/app:pull,push"]),
        "{requests:?}"
    );
    // The cancelled upload of the write check needs `delete`: the registry's challenge
    // widens the scope once. Otherwise one token per scope set, reused.
    let mut scopes: Vec<_> = requests.iter().map(|r| r.scopes.clone()).collect();
    scopes.sort();
    scopes.dedup();
    assert_eq!(scopes.len(), requests.len(), "{requests:?}");
}

#[test]
fn token_auth_with_an_identity_token() {
    let reg = Registry::token(USER, PASSWORD);
    let identity = reg.token_server().unwrap().identity_token().to_string();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("config.json"),
        format!(
            r#"{{"auths":{{"{}":{{"identitytoken":"{identity}"}}}}}}"#,
            reg.host()
        ),
    )
    .unwrap();
    let c = client_with(
        KeychainSources {
            docker_config_files: vec![dir.path().join("config.json")],
            ..KeychainSources::default()
        },
        fast(),
    );
    push_and_read(&c, &reg, "idt/app:1");
    // The same through CNB_REGISTRY_AUTH's X-Identity form.
    let c = env_client(&format!(r#"{{"{}":"X-Identity {identity}"}}"#, reg.host()));
    push_and_read(&c, &reg, "idt/app:2");
    let requests = reg.token_server().unwrap().requests();
    assert!(
        requests
            .iter()
            .all(|r| r.via == "refresh_token" && r.method == "POST" && r.granted),
        "{requests:?}"
    );
}

#[test]
fn token_auth_with_a_registry_token_sent_as_is() {
    let reg = Registry::token(USER, PASSWORD);
    let server = reg.token_server().unwrap();
    // Get a token by hand, for everything this test does.
    let url = format!(
        "{}?service=test-registry&scope=repository:raw/app:pull,push",
        server.realm()
    );
    let basic = STANDARD.encode(format!("{USER}:{PASSWORD}"));
    let mut resp = ureq::get(&url)
        .header("authorization", &format!("Basic {basic}"))
        .call()
        .expect("token");
    let reply: serde_json::Value =
        serde_json::from_slice(&resp.body_mut().read_to_vec().unwrap()).unwrap();
    let token = reply["token"].as_str().unwrap().to_string();
    let before = server.requests().len();
    let c = env_client(&format!(r#"{{"{}":"Bearer {token}"}}"#, reg.host()));
    let r = reference(&reg.image("raw/app:1"));
    let data = b"raw token".to_vec();
    let digest = sha256_digest(&data);
    c.upload_blob(r.repo(), &digest, data.len() as u64, || {
        Ok(Cursor::new(data.clone()))
    })
    .unwrap();
    assert_eq!(
        c.blob_exists(r.repo(), &digest).unwrap(),
        Some(data.len() as u64)
    );
    assert_eq!(
        server.requests().len(),
        before,
        "no token exchange expected"
    );
}

#[test]
fn token_auth_without_credentials_is_denied() {
    let reg = Registry::token(USER, PASSWORD);
    let c = client_with(KeychainSources::default(), fast());
    let r = reference(&reg.image("tok/private:1"));
    let err = c.get_manifest(&r).unwrap_err();
    assert!(matches!(err, Error::Unauthorized { .. }), "{err}");
    assert!(c.check_read_access(&r).unwrap_err().is_access_denied());
    let err = c.check_write_access(&r).unwrap_err();
    assert!(err.is_access_denied(), "{err}");
    let requests = reg.token_server().unwrap().requests();
    assert!(
        requests.iter().all(|r| r.via == "anonymous"),
        "{requests:?}"
    );
}

#[test]
fn credentials_never_appear_in_errors() {
    let secret = "hunter2-do-not-print";
    let encoded = STANDARD.encode(format!("{USER}:{secret}"));
    for reg in [
        Registry::basic(USER, PASSWORD),
        Registry::token(USER, PASSWORD),
    ] {
        let auth = format!(r#"{{"{}":"Basic {encoded}"}}"#, reg.host());
        let c = env_client(&auth);
        let r = reference(&reg.image("leak/app:1"));
        let data = b"data".to_vec();
        let digest = sha256_digest(&data);
        let errors = vec![
            c.get_manifest(&r).unwrap_err(),
            c.put_manifest(&r, OCI_MANIFEST, b"{}").unwrap_err(),
            c.upload_blob(r.repo(), &digest, 4, || Ok(Cursor::new(data.clone())))
                .unwrap_err(),
            c.upload_blob_stream(r.repo(), || Ok(Cursor::new(data.clone())))
                .unwrap_err(),
            c.check_write_access(&r).unwrap_err(),
        ];
        for e in errors {
            assert!(e.is_access_denied(), "{e}");
            for shown in [e.to_string(), format!("{e:?}")] {
                assert!(
                    !shown.contains(secret) && !shown.contains(&encoded),
                    "credential leaked: {shown}"
                );
            }
        }
    }
}

#[test]
fn concurrent_pushes_share_one_token() {
    let reg = Registry::token(USER, PASSWORD);
    let c = env_client(&reg.registry_auth());
    let r = reference(&reg.image("tok/parallel:1"));
    let blobs: Vec<Vec<u8>> = (0..6u8).map(|i| vec![i; 100_000]).collect();
    std::thread::scope(|scope| {
        for blob in &blobs {
            let (c, r) = (&c, &r);
            scope.spawn(move || {
                let digest = sha256_digest(blob);
                c.push_blob(r.repo(), &digest, blob.len() as u64, None, || {
                    Ok(Cursor::new(blob.clone()))
                })
                .unwrap();
            });
        }
    });
    // The session is set up once; the push scope's token is fetched once.
    let requests = reg.token_server().unwrap().requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
}

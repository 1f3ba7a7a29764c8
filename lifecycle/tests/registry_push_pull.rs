//! The registry client against a real Distribution registry: pushing blobs and manifests,
//! reading them back (checked with skopeo), indexes, mounts, streamed uploads, deletes,
//! missing content and corrupted content.

use std::io::{Cursor, Read};
use std::time::Duration;

use lifecycle::image::reference::Reference;
use lifecycle::registry::digest::sha256_digest;
use lifecycle::registry::manifest::{OCI_INDEX, OCI_MANIFEST};
use lifecycle::registry::{BlobPush, Client, ClientConfig, Error, Keychain, Platform, RetryPolicy};
use spec_tests::registry::Registry;

fn client() -> Client {
    let config = ClientConfig {
        retry: RetryPolicy {
            attempts: 3,
            initial_backoff: Duration::from_millis(10),
            factor: 2,
            max_retry_after: Duration::from_secs(1),
        },
        ..ClientConfig::default()
    };
    Client::new(config, Keychain::anonymous()).expect("client")
}

fn reference(s: &str) -> Reference {
    Reference::parse(s).expect("reference")
}

/// Uploads `bytes` as a blob of `repo`'s reference and returns its digest.
fn upload(c: &Client, r: &Reference, bytes: &[u8]) -> String {
    let digest = sha256_digest(bytes);
    c.upload_blob(r.repo(), &digest, bytes.len() as u64, || {
        Ok(Cursor::new(bytes.to_vec()))
    })
    .expect("upload blob");
    digest
}

/// An OCI image manifest over one config and one layer.
fn image_manifest(config: &[u8], layer: &[u8], arch: &str) -> Vec<u8> {
    serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": sha256_digest(config),
            "size": config.len(),
        },
        "layers": [{
            "mediaType": "application/vnd.oci.image.layer.v1.tar",
            "digest": sha256_digest(layer),
            "size": layer.len(),
        }],
        "annotations": { "arch": arch },
    })
    .to_string()
    .into_bytes()
}

fn config_json(arch: &str) -> Vec<u8> {
    format!(r#"{{"architecture":"{arch}","os":"linux","rootfs":{{"type":"layers","diff_ids":[]}},"config":{{}}}}"#)
        .into_bytes()
}

/// Pushes a one-layer image and returns (manifest bytes, digest).
fn push_image(c: &Client, r: &Reference, arch: &str) -> (Vec<u8>, String) {
    let config = config_json(arch);
    let layer = format!("layer for {arch}").repeat(1000).into_bytes();
    upload(c, r, &config);
    upload(c, r, &layer);
    let manifest = image_manifest(&config, &layer, arch);
    let digest = c
        .put_manifest(r, OCI_MANIFEST, &manifest)
        .expect("put manifest");
    (manifest, digest)
}

#[test]
fn pushed_image_reads_back_as_skopeo_sees_it() {
    let reg = Registry::anonymous();
    let c = client();
    let r = reference(&reg.image("test/app:v1"));
    let (manifest, digest) = push_image(&c, &r, "amd64");
    assert_eq!(digest, sha256_digest(&manifest));

    let got = c.get_manifest(&r).unwrap().expect("manifest exists");
    assert_eq!(got.bytes, manifest);
    assert_eq!(got.digest, digest);
    assert_eq!(got.media_type, OCI_MANIFEST);
    assert!(!got.is_index());
    assert_eq!(sha256_digest(&reg.inspect_raw("test/app:v1")), digest);

    let head = c.head_manifest(&r).unwrap().expect("descriptor");
    assert_eq!(
        (head.digest.as_str(), head.size, head.media_type.as_str()),
        (digest.as_str(), manifest.len() as u64, OCI_MANIFEST)
    );
    // By digest, and pushed again under a digest reference.
    let by_digest = r.with_digest(&digest);
    assert_eq!(c.get_manifest(&by_digest).unwrap().unwrap().bytes, manifest);
    assert_eq!(
        c.put_manifest(&by_digest, OCI_MANIFEST, &manifest).unwrap(),
        digest
    );
    let wrong = r.with_digest(&sha256_digest(b"other"));
    let err = c.put_manifest(&wrong, OCI_MANIFEST, &manifest).unwrap_err();
    assert!(matches!(err, Error::Protocol { .. }), "{err}");

    // Blobs: existence with size, streamed and in-memory reads.
    let config = config_json("amd64");
    let config_digest = sha256_digest(&config);
    assert_eq!(
        c.blob_exists(r.repo(), &config_digest).unwrap(),
        Some(config.len() as u64)
    );
    assert_eq!(
        c.get_blob_bytes(r.repo(), &config_digest, 1 << 20).unwrap(),
        config
    );
    let layer = "layer for amd64".repeat(1000).into_bytes();
    let mut blob = c.get_blob(r.repo(), &sha256_digest(&layer)).unwrap();
    assert_eq!(blob.size(), Some(layer.len() as u64));
    let mut read = Vec::new();
    blob.read_to_end(&mut read).unwrap();
    assert_eq!(read, layer);
    let err = c.get_blob_bytes(r.repo(), &config_digest, 10).unwrap_err();
    assert!(err.to_string().contains("larger than 10 bytes"), "{err}");
}

#[test]
fn index_gives_the_platform_child() {
    let reg = Registry::anonymous();
    let c = client();
    let r = reference(&reg.image("multi:latest"));
    let (amd, amd_digest) = push_image(&c, &r, "amd64");
    let (arm, arm_digest) = push_image(&c, &r, "arm64");
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [
            { "mediaType": OCI_MANIFEST, "digest": arm_digest, "size": arm.len(),
              "platform": { "architecture": "arm64", "os": "linux", "variant": "v8" } },
            { "mediaType": OCI_MANIFEST, "digest": amd_digest, "size": amd.len(),
              "platform": { "architecture": "amd64", "os": "linux" } },
        ],
    })
    .to_string()
    .into_bytes();
    let index_digest = c.put_manifest(&r, OCI_INDEX, &index).unwrap();
    assert_eq!(
        sha256_digest(&reg.inspect_raw("multi:latest")),
        index_digest
    );

    let got = c.get_manifest(&r).unwrap().unwrap();
    assert!(got.is_index());
    assert_eq!(got.media_type, OCI_INDEX);
    let child = got.platform_child(&Platform::default()).unwrap();
    assert_eq!(
        (child.digest.as_str(), child.size),
        (amd_digest.as_str(), amd.len() as u64)
    );
    let arm_platform = Platform {
        architecture: "arm64".into(),
        ..Platform::default()
    };
    let arm_child = got.platform_child(&arm_platform).unwrap();
    let image = c
        .get_manifest(&r.with_digest(&arm_child.digest))
        .unwrap()
        .unwrap();
    assert_eq!(image.bytes, arm);
}

#[test]
fn missing_content_is_none_or_not_found() {
    let reg = Registry::anonymous();
    let c = client();
    let r = reference(&reg.image("nothing/here:v1"));
    assert_eq!(c.get_manifest(&r).unwrap(), None);
    assert_eq!(c.head_manifest(&r).unwrap(), None);
    let digest = sha256_digest(b"absent");
    assert_eq!(c.blob_exists(r.repo(), &digest).unwrap(), None);
    let err = c.get_blob(r.repo(), &digest).err().expect("missing blob");
    assert!(err.is_not_found(), "{err}");
    let err = c.delete_manifest(&r.with_digest(&digest)).unwrap_err();
    assert!(err.is_not_found(), "{err}");
    // A missing image is still readable and the repository writable.
    c.check_read_access(&r).unwrap();
    c.check_write_access(&r).unwrap();
}

#[test]
fn mounts_across_repositories_and_falls_back_to_upload() {
    let reg = Registry::anonymous();
    let c = client();
    let a = reference(&reg.image("team/a:1"));
    let b = reference(&reg.image("team/b:1"));
    let data = b"shared layer".repeat(5000);
    let digest = upload(&c, &a, &data);
    assert!(c.mount_blob(b.repo(), &digest, a.repo()).unwrap());
    assert_eq!(
        c.blob_exists(b.repo(), &digest).unwrap(),
        Some(data.len() as u64)
    );
    // Not in the source repository: refused, nothing mounted.
    let other = sha256_digest(b"not there");
    assert!(!c.mount_blob(b.repo(), &other, a.repo()).unwrap());
    assert_eq!(c.blob_exists(b.repo(), &other).unwrap(), None);

    let mut opens = 0;
    let mut push = |target: &str, from: Option<&Reference>| {
        let t = reference(&reg.image(target));
        c.push_blob(
            t.repo(),
            &digest,
            data.len() as u64,
            from.map(|f| f.repo()),
            || {
                opens += 1;
                Ok(Cursor::new(data.clone()))
            },
        )
        .unwrap()
    };
    assert_eq!(push("team/c:1", Some(&a)), BlobPush::Mounted);
    assert_eq!(push("team/c:1", Some(&a)), BlobPush::Existed);
    assert_eq!(push("team/d:1", None), BlobPush::Uploaded);
    // The source lacks it: the mount's upload session is used instead.
    let empty = reference(&reg.image("team/empty:1"));
    assert_eq!(push("team/e:1", Some(&empty)), BlobPush::Uploaded);
    assert_eq!(opens, 2);
    let mut got = Vec::new();
    c.get_blob(reference(&reg.image("team/e:1")).repo(), &digest)
        .unwrap()
        .read_to_end(&mut got)
        .unwrap();
    assert_eq!(got, data);
}

#[test]
fn streamed_upload_of_unknown_length() {
    let reg = Registry::anonymous();
    let c = client();
    let r = reference(&reg.image("stream:1"));
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let blob = c
        .upload_blob_stream(r.repo(), || Ok(Cursor::new(data.clone())))
        .unwrap();
    assert_eq!(blob.digest, sha256_digest(&data));
    assert_eq!(blob.size, data.len() as u64);
    assert_eq!(
        c.blob_exists(r.repo(), &blob.digest).unwrap(),
        Some(data.len() as u64)
    );
}

#[test]
fn delete_removes_the_manifest() {
    let reg = Registry::anonymous();
    let c = client();
    let r = reference(&reg.image("gone:1"));
    let (_, digest) = push_image(&c, &r, "amd64");
    c.delete_manifest(&r.with_digest(&digest)).unwrap();
    assert_eq!(c.get_manifest(&r.with_digest(&digest)).unwrap(), None);
    assert_eq!(c.get_manifest(&r).unwrap(), None);
}

#[test]
fn reads_an_image_seeded_by_skopeo() {
    let reg = Registry::anonymous();
    let tmp = tempfile::tempdir().unwrap();
    let layout = tmp.path().join("oci");
    spec_tests::dockerd::busybox_layout(&layout, "run", &[]);
    reg.seed(&layout, "run", "cnb/run:latest");
    let c = client();
    let r = reference(&reg.image("cnb/run"));
    let m = c.get_manifest(&r).unwrap().expect("seeded");
    assert_eq!(m.bytes, reg.inspect_raw("cnb/run:latest"));
    let doc: serde_json::Value = serde_json::from_slice(&m.bytes).unwrap();
    let config_digest = doc["config"]["digest"].as_str().unwrap();
    let config = c.get_blob_bytes(r.repo(), config_digest, 1 << 20).unwrap();
    let config: serde_json::Value = serde_json::from_slice(&config).unwrap();
    assert_eq!(config["os"], "linux");
    for layer in doc["layers"].as_array().unwrap() {
        let mut n = 0u64;
        let mut blob = c
            .get_blob(r.repo(), layer["digest"].as_str().unwrap())
            .unwrap();
        n += std::io::copy(&mut blob, &mut std::io::sink()).unwrap();
        assert_eq!(n, layer["size"].as_u64().unwrap());
    }
}

#[test]
fn corrupted_blobs_fail_their_digest_check() {
    let reg = Registry::anonymous();
    let c = client();
    let r = reference(&reg.image("corrupt:1"));
    let data = b"precious bytes".repeat(100);
    let digest = upload(&c, &r, &data);
    // Flip the stored bytes behind the registry's back (same length).
    let stored = reg.blob_path(&digest);
    assert!(stored.exists(), "{}", stored.display());
    let mut bad = data.clone();
    bad[0] ^= 0xff;
    std::fs::write(&stored, &bad).unwrap();
    let mut out = Vec::new();
    let err = c
        .get_blob(r.repo(), &digest)
        .unwrap()
        .read_to_end(&mut out)
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
    assert!(err.to_string().contains("digest mismatch"), "{err}");
    let err = c.get_blob_bytes(r.repo(), &digest, 1 << 20).unwrap_err();
    assert!(matches!(err, Error::Protocol { .. }), "{err}");
}

#[test]
fn goes_through_the_configured_proxy_unless_excluded() {
    let reg = Registry::anonymous();
    let proxy = spec_tests::registry::FaultProxy::start(reg.host(), Vec::new());
    let with_proxy = |no_proxy: Option<&str>| {
        let config = ClientConfig {
            proxy: Some(format!("http://{}", proxy.host())),
            no_proxy: no_proxy.map(str::to_string),
            ..ClientConfig::default()
        };
        Client::new(config, Keychain::anonymous()).expect("client")
    };
    let r = reference(&reg.image("proxied:1"));
    let data = b"through the proxy".to_vec();
    let digest = sha256_digest(&data);
    let c = with_proxy(Some("example.com, .internal"));
    c.upload_blob(r.repo(), &digest, data.len() as u64, || {
        Ok(Cursor::new(data.clone()))
    })
    .unwrap();
    let tunnels = proxy.requests();
    assert!(!tunnels.is_empty());
    assert!(
        tunnels
            .iter()
            .all(|s| s.method == "CONNECT" && s.path == reg.host()),
        "{tunnels:?}"
    );
    let c = with_proxy(Some("localhost,127.0.0.1"));
    assert_eq!(
        c.blob_exists(r.repo(), &digest).unwrap(),
        Some(data.len() as u64)
    );
    assert_eq!(
        proxy.requests().len(),
        tunnels.len(),
        "excluded host was proxied"
    );
}

#[test]
fn one_client_pushes_from_many_threads() {
    let reg = Registry::anonymous();
    let c = client();
    let r = reference(&reg.image("parallel:1"));
    let blobs: Vec<Vec<u8>> = (0..8u8)
        .map(|i| vec![i; 500_000 + usize::from(i)])
        .collect();
    std::thread::scope(|scope| {
        for blob in &blobs {
            let (c, r) = (&c, &r);
            scope.spawn(move || {
                let digest = sha256_digest(blob);
                c.push_blob(r.repo(), &digest, blob.len() as u64, None, || {
                    Ok(Cursor::new(blob.clone()))
                })
                .unwrap()
            });
        }
    });
    for blob in &blobs {
        assert_eq!(
            c.blob_exists(r.repo(), &sha256_digest(blob)).unwrap(),
            Some(blob.len() as u64)
        );
    }
}

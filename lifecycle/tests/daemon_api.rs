//! The Docker daemon client against a real dockerd (started once for this test binary):
//! version negotiation, inspect, load with placeholders, tag, save, remove, errors, the
//! kept connection and plain HTTP over TCP.

use std::fs;
use std::io::{self, Read};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use lifecycle::daemon::{
    ArchiveLayer, Daemon, DaemonError, ImageInspect, LoadArchive, MAX_API_VERSION, read_saved,
};
use lifecycle::image::model::sha256_digest;
use lifecycle::image::{History, NORMALIZED_TIME};
use spec_tests::dockerd::{self, Dockerd};

const BASE: &str = "cnb-test/base:1";

/// The busybox base image, loaded into the shared daemon once.
fn base() -> &'static ImageInspect {
    static BASE_INSPECT: OnceLock<ImageInspect> = OnceLock::new();
    BASE_INSPECT.get_or_init(|| {
        let d = dockerd::shared();
        let layout = tempfile::tempdir().unwrap();
        let dir = layout.path().join("oci");
        dockerd::busybox_layout(&dir, "base", &["--config.label=io.test.base=busybox"]);
        d.load_oci(&dir, "base", BASE);
        connect(d)
            .inspect_image(BASE)
            .unwrap()
            .expect("base image loaded")
    })
}

fn connect(d: &Dockerd) -> Daemon {
    Daemon::connect(Some(d.host())).unwrap()
}

/// Writes a layer tar holding `files` (path, content) and returns it with its diff ID.
fn layer(dir: &Path, name: &str, files: &[(&str, &str)]) -> (PathBuf, String) {
    let mut tar = tar::Builder::new(Vec::new());
    for (path, content) in files {
        let mut h = tar::Header::new_ustar();
        h.set_size(content.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(315_532_801);
        h.set_cksum();
        tar.append_data(&mut h, path, content.as_bytes()).unwrap();
    }
    let bytes = tar.into_inner().unwrap();
    let path = dir.join(name);
    fs::write(&path, &bytes).unwrap();
    (path, sha256_digest(&bytes))
}

/// The base image's config with `diff_ids` added on top and a test label.
fn config_on_base(diff_ids: &[&str], label: &str) -> Vec<u8> {
    let mut config = base().image_config();
    for diff_id in diff_ids {
        config.rootfs.diff_ids.push(diff_id.to_string());
        config
            .history
            .push(History::new(NORMALIZED_TIME, "test layer"));
    }
    config.created = Some(NORMALIZED_TIME.into());
    config
        .config
        .labels
        .insert("io.test.label".into(), label.into());
    config.to_bytes()
}

#[test]
fn negotiates_the_daemons_api_version() {
    let d = dockerd::shared();
    let daemon = connect(d);
    let server = d.docker_ok(&["version", "--format", "{{.Server.APIVersion}}"]);
    let key = |v: &str| {
        let (a, b) = v.split_once('.').unwrap();
        (a.parse::<u32>().unwrap(), b.parse::<u32>().unwrap())
    };
    assert_eq!(
        daemon.api_version(),
        if key(&server) < key(MAX_API_VERSION) {
            server.as_str()
        } else {
            MAX_API_VERSION
        }
    );
    assert_eq!(daemon.host(), d.host());
    daemon.ping().unwrap();
    let info = daemon.info().unwrap();
    assert_eq!(info.driver, "vfs");
    assert_eq!(info.os_type, "linux");
    assert!(!daemon.uses_containerd_store().unwrap());
}

#[test]
fn inspects_present_and_missing_images() {
    let d = dockerd::shared();
    let daemon = connect(d);
    let inspect = base();
    assert_eq!(Some(inspect.id.clone()), d.image_id(BASE));
    assert_eq!(inspect.repo_tags, [BASE]);
    assert_eq!(inspect.os, "linux");
    assert_eq!(inspect.diff_ids.len(), 1);
    assert_eq!(inspect.config.env, ["PATH=/bin"]);
    assert_eq!(inspect.config.entrypoint, ["/bin/sh"]);
    assert_eq!(inspect.config.labels["io.test.base"], "busybox");
    assert_eq!(
        inspect
            .history
            .iter()
            .map(|h| h.created_by.as_str())
            .collect::<Vec<_>>(),
        ["umoci repack", "umoci config"]
    );
    // By ID too.
    let by_id = daemon.inspect_image(&inspect.id).unwrap().unwrap();
    assert_eq!(by_id.diff_ids, inspect.diff_ids);

    assert_eq!(daemon.inspect_image("cnb-test/missing:1").unwrap(), None);
    assert_eq!(
        daemon
            .inspect_image(
                "sha256:0000000000000000000000000000000000000000000000000000000000000000"
            )
            .unwrap(),
        None
    );
}

#[test]
fn loads_new_layers_on_placeholders_of_the_base_layers() {
    let d = dockerd::shared();
    let daemon = connect(d);
    let dir = tempfile::tempdir().unwrap();
    let (a, da) = layer(dir.path(), "a.tar", &[("layer-a.txt", "from layer a\n")]);
    let (b, db) = layer(dir.path(), "b.tar", &[("layer-b.txt", "from layer b\n")]);
    let config = config_on_base(&[&da, &db], "placeholders");
    let mut layers = vec![ArchiveLayer::Placeholder; base().diff_ids.len()];
    layers.extend([ArchiveLayer::Tar(a), ArchiveLayer::Tar(b)]);
    let name = "cnb-test/app:placeholders";
    let archive = LoadArchive::new(config.clone(), vec![name.into()], layers).unwrap();

    let id = daemon.load_image(&archive).unwrap();
    assert_eq!(id, sha256_digest(&config));
    assert_eq!(d.image_id(name), Some(id.clone()));

    let inspect = daemon.inspect_image(name).unwrap().unwrap();
    let mut expected = base().diff_ids.clone();
    expected.extend([da, db]);
    assert_eq!(inspect.diff_ids, expected);
    assert_eq!(inspect.config.labels["io.test.label"], "placeholders");
    assert_eq!(inspect.config.labels["io.test.base"], "busybox");
    assert_eq!(inspect.created, NORMALIZED_TIME);
    assert_eq!(inspect.history.len(), 3);
    assert_eq!(inspect.history[2].created_by, "test layer");

    let ran = d.run(
        name,
        &[
            "-c",
            "cat /layer-a.txt /layer-b.txt; busybox true && echo base",
        ],
    );
    assert_eq!(ran.code, 0, "{}", ran.all());
    assert_eq!(ran.stdout, "from layer a\nfrom layer b\nbase\n");
}

#[test]
fn placeholders_need_the_whole_layer_chain() {
    let d = dockerd::shared();
    let daemon = connect(d);
    let dir = tempfile::tempdir().unwrap();
    let (a, da) = layer(dir.path(), "a.tar", &[("chain.txt", "chain\n")]);
    // The daemon has the layer on top of the base image...
    let on_base = config_on_base(&[&da], "chain");
    let mut layers = vec![ArchiveLayer::Placeholder; base().diff_ids.len()];
    layers.push(ArchiveLayer::Tar(a));
    let archive = LoadArchive::new(on_base, vec!["cnb-test/app:chain".into()], layers).unwrap();
    daemon.load_image(&archive).unwrap();
    // ...but not alone at the bottom, so a placeholder for it there fails.
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","config":{{}},"rootfs":{{"type":"layers","diff_ids":["{da}"]}}}}"#
    );
    let alone = LoadArchive::new(
        config.into_bytes(),
        vec!["cnb-test/app:alone".into()],
        vec![ArchiveLayer::Placeholder],
    )
    .unwrap();
    match daemon.load_image(&alone) {
        Err(e @ DaemonError::MissingLayers { .. }) => {
            assert!(e.to_string().starts_with("loading image: "), "{e}");
        }
        other => panic!("expected a missing-layers error, got {other:?}"),
    }
    assert_eq!(d.image_id("cnb-test/app:alone"), None);
    // The connection still works after the failed load.
    daemon.ping().unwrap();
}

#[test]
fn loads_archives_from_readers_and_reports_bad_ones() {
    let d = dockerd::shared();
    let daemon = connect(d);
    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("oci");
    dockerd::busybox_layout(&layout, "r", &["--config.label=io.test.reader=yes"]);
    let archive = dir.path().join("image.tar");
    let ran = spec_tests::run(
        std::process::Command::new("skopeo")
            .args(["copy", "-q"])
            .arg(format!("oci:{}:r", layout.display()))
            .arg(format!(
                "docker-archive:{}:cnb-test/reader:1",
                archive.display()
            )),
    );
    assert_eq!(ran.code, 0, "{}", ran.all());
    let loaded = daemon.load(fs::File::open(&archive).unwrap()).unwrap();
    assert_eq!(loaded.names, ["cnb-test/reader:1"]);
    let inspect = daemon.inspect_image("cnb-test/reader:1").unwrap().unwrap();
    assert_eq!(inspect.config.labels["io.test.reader"], "yes");

    let err = daemon.load(&b"this is not a tar archive"[..]).unwrap_err();
    match &err {
        DaemonError::Load { message } => assert!(message.contains("tar"), "{message}"),
        other => panic!("expected a load error, got {other:?}"),
    }
    assert!(err.to_string().starts_with("loading image: "), "{err}");
    daemon.ping().unwrap();
}

#[test]
fn tags_saves_and_removes_images() {
    let d = dockerd::shared();
    let daemon = connect(d);
    let dir = tempfile::tempdir().unwrap();
    let (a, da) = layer(dir.path(), "a.tar", &[("saved.txt", "saved bytes\n")]);
    let config = config_on_base(&[&da], "saved");
    let mut layers = vec![ArchiveLayer::Placeholder; base().diff_ids.len()];
    layers.push(ArchiveLayer::Tar(a.clone()));
    let archive = LoadArchive::new(config.clone(), vec![], layers).unwrap();
    let id = daemon.load_image(&archive).unwrap();

    daemon
        .tag(&id, "localhost:5000/cnb-test/saved", "v1")
        .unwrap();
    daemon.tag(&id, "cnb-test/saved", "v2").unwrap();
    let inspect = daemon
        .inspect_image("localhost:5000/cnb-test/saved:v1")
        .unwrap()
        .unwrap();
    assert_eq!(inspect.id, id);
    let mut tags = inspect.repo_tags.clone();
    tags.sort();
    assert_eq!(
        tags,
        ["cnb-test/saved:v2", "localhost:5000/cnb-test/saved:v1"]
    );

    let out = dir.path().join("saved");
    fs::create_dir(&out).unwrap();
    let stream = daemon.save(&["cnb-test/saved:v2"]).unwrap();
    let saved = read_saved(stream, &out, |diff_id| diff_id == da).unwrap();
    assert_eq!(saved.images.len(), 1);
    assert_eq!(saved.images[0].config, config);
    assert_eq!(saved.images[0].repo_tags, ["cnb-test/saved:v2"]);
    assert_eq!(saved.layers.len(), 1);
    assert_eq!(fs::read(&saved.layers[&da]).unwrap(), fs::read(&a).unwrap());

    let err = daemon.tag("cnb-test/missing:1", "x", "y").unwrap_err();
    assert!(matches!(err, DaemonError::NotFound { .. }), "{err:?}");
    let err = daemon.save(&["cnb-test/missing:1"]).unwrap_err();
    assert!(
        err.to_string().starts_with("Error response from daemon: "),
        "{err}"
    );

    daemon.remove_image("cnb-test/saved:v2", false).unwrap();
    assert_eq!(d.image_id("cnb-test/saved:v2"), None);
    assert_eq!(
        d.image_id("localhost:5000/cnb-test/saved:v1"),
        Some(id.clone())
    );
    daemon.remove_image(&id, true).unwrap();
    assert_eq!(daemon.inspect_image(&id).unwrap(), None);
    let err = daemon.remove_image(&id, true).unwrap_err();
    assert!(matches!(err, DaemonError::NotFound { .. }), "{err:?}");
    assert!(err.to_string().contains("No such image"), "{err}");
}

/// Forwards every connection made to `listener` to the daemon's socket, counting them.
fn forward(
    accept: impl Fn() -> Option<Box<dyn Conn>> + Send + 'static,
    socket: PathBuf,
) -> Arc<AtomicUsize> {
    let count = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&count);
    std::thread::spawn(move || {
        while let Some(client) = accept() {
            counted.fetch_add(1, Ordering::SeqCst);
            let upstream = UnixStream::connect(&socket).unwrap();
            let (mut c_read, mut c_write) = (client.clone_box(), client);
            let (mut u_read, mut u_write) = (upstream.try_clone().unwrap(), upstream);
            std::thread::spawn(move || {
                let _ = io::copy(&mut c_read, &mut u_write);
                let _ = u_write.shutdown(std::net::Shutdown::Write);
            });
            std::thread::spawn(move || {
                let _ = io::copy(&mut u_read, &mut c_write);
                c_write.close_write();
            });
        }
    });
    count
}

/// A client connection of the forwarder.
trait Conn: Read + io::Write + Send {
    fn clone_box(&self) -> Box<dyn Conn>;
    fn close_write(&self);
}

impl Conn for UnixStream {
    fn clone_box(&self) -> Box<dyn Conn> {
        Box::new(self.try_clone().unwrap())
    }
    fn close_write(&self) {
        let _ = self.shutdown(std::net::Shutdown::Write);
    }
}

impl Conn for std::net::TcpStream {
    fn clone_box(&self) -> Box<dyn Conn> {
        Box::new(self.try_clone().unwrap())
    }
    fn close_write(&self) {
        let _ = self.shutdown(std::net::Shutdown::Write);
    }
}

#[test]
fn keeps_using_its_first_connection_when_the_socket_is_gone() {
    let d = dockerd::shared();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("proxy.sock");
    let listener = UnixListener::bind(&path).unwrap();
    let count = forward(
        move || {
            listener
                .accept()
                .ok()
                .map(|(s, _)| Box::new(s) as Box<dyn Conn>)
        },
        d.socket(),
    );
    let daemon = Daemon::connect(Some(&format!("unix://{}", path.display()))).unwrap();
    // Like a socket that cannot be dialled after dropping privileges.
    fs::remove_file(&path).unwrap();

    let base = base();
    assert_eq!(daemon.inspect_image(BASE).unwrap().unwrap().id, base.id);
    let (a, da) = layer(dir.path(), "a.tar", &[("kept.txt", "kept\n")]);
    let mut layers = vec![ArchiveLayer::Placeholder; base.diff_ids.len()];
    layers.push(ArchiveLayer::Tar(a));
    let archive = LoadArchive::new(
        config_on_base(&[&da], "kept"),
        vec!["cnb-test/app:kept".into()],
        layers,
    )
    .unwrap();
    let id = daemon.load_image(&archive).unwrap();
    let out = dir.path().join("saved");
    fs::create_dir(&out).unwrap();
    let saved = read_saved(daemon.save(&[&id]).unwrap(), &out, |_| false).unwrap();
    assert_eq!(saved.images[0].diff_ids.last(), Some(&da));
    daemon.tag(&id, "cnb-test/app", "kept2").unwrap();
    daemon.remove_image("cnb-test/app:kept2", false).unwrap();
    assert_eq!(daemon.inspect_image("cnb-test/app:gone").unwrap(), None);
    daemon.ping().unwrap();
    assert_eq!(count.load(Ordering::SeqCst), 1);

    // A save stream dropped midway takes the kept connection with it; the next request
    // must dial, which fails and names the address.
    let mut stream = daemon.save(&[BASE]).unwrap();
    let mut some = [0u8; 16];
    stream.read_exact(&mut some).unwrap();
    drop(stream);
    let err = daemon.ping().unwrap_err();
    assert!(matches!(err, DaemonError::Unreachable { .. }), "{err:?}");
    assert_eq!(count.load(Ordering::SeqCst), 1);
}

#[test]
fn speaks_plain_http_over_tcp() {
    let d = dockerd::shared();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    forward(
        move || {
            listener
                .accept()
                .ok()
                .map(|(s, _)| Box::new(s) as Box<dyn Conn>)
        },
        d.socket(),
    );
    let daemon = Daemon::connect(Some(&format!("tcp://127.0.0.1:{port}"))).unwrap();
    assert_eq!(daemon.inspect_image(BASE).unwrap().unwrap().id, base().id);
    let dir = tempfile::tempdir().unwrap();
    let (a, da) = layer(dir.path(), "a.tar", &[("tcp.txt", "over tcp\n")]);
    let mut layers = vec![ArchiveLayer::Placeholder; base().diff_ids.len()];
    layers.push(ArchiveLayer::Tar(a));
    let config = config_on_base(&[&da], "tcp");
    let archive =
        LoadArchive::new(config.clone(), vec!["cnb-test/app:tcp".into()], layers).unwrap();
    assert_eq!(daemon.load_image(&archive).unwrap(), sha256_digest(&config));
}

#[test]
fn unreachable_daemons_are_named() {
    let err = Daemon::connect(Some("unix:///nonexistent/docker.sock")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Cannot connect to the Docker daemon at unix:///nonexistent/docker.sock: no such file or \
         directory. Is the docker daemon running? (DOCKER_HOST selects the daemon)"
    );
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let host = format!("tcp://127.0.0.1:{port}");
    let err = Daemon::connect(Some(&host)).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "Cannot connect to the Docker daemon at {host}: connection refused. Is the docker \
             daemon running? (DOCKER_HOST selects the daemon)"
        )
    );
    let err = Daemon::connect(Some("ssh://me@host")).unwrap_err();
    assert!(matches!(err, DaemonError::InvalidHost { .. }), "{err:?}");

    // Something that is not a daemon.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("not-docker.sock");
    let listener = UnixListener::bind(&path).unwrap();
    std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let _ = io::Write::write_all(&mut s, b"SSH-2.0-OpenSSH_9.2\r\n");
    });
    let err = Daemon::connect(Some(&format!("unix://{}", path.display()))).unwrap_err();
    assert!(matches!(err, DaemonError::Io { .. }), "{err:?}");
    assert!(err.to_string().contains("bad status line"), "{err}");
}

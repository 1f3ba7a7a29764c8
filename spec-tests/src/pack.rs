//! pack's way of running the lifecycle, for the spec tests (internal/build/
//! lifecycle_execution.go and phase_config_provider.go of buildpacks/pack, Platform API
//! 0.15): every phase in its
//! own container of the builder image with `CNB_PLATFORM_API` and `CNB_EXEC_ENV`, the
//! layers volume at `/layers` and the app (copied in, owned by the builder's user) at
//! `/workspace`. Trusted builders get one `creator` container as root; untrusted ones
//! get the analyzer, restorer and exporter as root and the detector and builder as the
//! builder's user. Publishing passes `CNB_REGISTRY_AUTH`; the daemon case mounts the
//! docker socket at `/var/run/docker.sock` and a launch cache; the layout case sets
//! `CNB_USE_LAYOUT`, `CNB_LAYOUT_DIR=/layout-repo` and `CNB_EXPERIMENTAL_MODE=warn`.

use std::fs;
use std::path::PathBuf;

use crate::container::Container;
use crate::dockerd::Dockerd;
use crate::examples::{self, check_daemon_image};
use crate::platform::{Pod, check_registry_image, phase_ok};
use crate::registry::Registry;
use crate::{BUILD_GID, BUILD_UID, Ran};

/// Where pack's run image names map under `/layout-repo` and in daemons.
pub const RUN_NAME: &str = "localhost/example/run:latest";

/// Where pack puts the image.
pub enum Store {
    /// `--publish`: a registry (with credentials), by `CNB_REGISTRY_AUTH`.
    Registry(Box<Registry>),
    /// The Docker daemon behind the socket pack mounts.
    Daemon(&'static Dockerd),
    /// An OCI layout (`pack build oci:…`).
    Layout,
}

/// Where [`RUN_NAME`] maps in a layout repository.
const LAYOUT_RUN_PATH: &str = "localhost/example/run/latest";
/// Where an image name without a registry maps.
const LAYOUT_APP_PATH: &str = "index.docker.io/library";

/// One `pack build` configuration.
pub struct Pack {
    /// The builder image and volumes.
    pub pod: Pod,
    /// Where the image goes.
    pub store: Store,
    /// The run image pack resolved.
    pub run_image: String,
    /// The image name.
    pub image: String,
    /// `--tag`s.
    pub tags: Vec<String>,
    /// `--cache-image`.
    pub cache_image: Option<String>,
    /// `--uid`/`--gid`.
    pub ids: Option<(u32, u32)>,
    /// `--creation-time` as epoch seconds.
    pub epoch: Option<&'static str>,
}

impl Pack {
    /// A build of the example into `store`, as image `name` (a repository, daemon image
    /// or layout image name).
    pub fn new(store: Store, name: &str) -> Pack {
        let run_dir = tempfile::tempdir().unwrap();
        let run_layout = run_dir.path().join("run");
        examples::run_image(&run_layout, 1);
        let (run_image, image, tags) = match &store {
            Store::Registry(r) => {
                r.seed(&run_layout, "latest", "example/run:latest");
                (
                    r.image("example/run:latest"),
                    r.image(name),
                    vec![r.image(&format!("{name}:v1"))],
                )
            }
            Store::Daemon(d) => {
                d.load_oci(&run_layout, "latest", RUN_NAME);
                (RUN_NAME.into(), name.into(), vec![])
            }
            Store::Layout => (RUN_NAME.into(), name.into(), vec![]),
        };
        let pod = Pod::new(&run_image);
        if let Store::Layout = store {
            let dest = pod
                .volume("layout-repo")
                .join("localhost/example/run/latest");
            fs::create_dir_all(dest.parent().unwrap()).unwrap();
            fs::rename(&run_layout, &dest).unwrap();
        }
        Pack {
            pod,
            store,
            run_image,
            image,
            tags,
            cache_image: None,
            ids: None,
            epoch: None,
        }
    }

    /// A new build: pack makes a new layers volume and copies the app into a new app
    /// volume every time.
    fn new_build(&self) {
        self.pod.fresh_volume("layers");
        self.pod.app_volume("app");
    }

    /// Every phase container: the builder image, the platform API, the execution
    /// environment, the layers and app volumes.
    fn container(&self) -> Container {
        self.pod
            .container()
            .env("CNB_PLATFORM_API", "0.15")
            .env("CNB_EXEC_ENV", "production")
            .mount(&self.pod.volume("layers"), "/layers")
            .mount(&self.pod.volume("app"), "/workspace")
    }

    /// A root container with the store's access: registry credentials, the docker
    /// socket, or the layout repository.
    fn root(&self) -> Container {
        let c = self.container();
        let c = match self.epoch {
            Some(epoch) => c.env("SOURCE_DATE_EPOCH", epoch),
            None => c,
        };
        match &self.store {
            Store::Registry(r) => c.env("CNB_REGISTRY_AUTH", &r.registry_auth()),
            Store::Daemon(d) => c.mount(&d.socket(), "/var/run/docker.sock"),
            // pack mounts each image's directory where its name maps under /layout-repo:
            // the app image's (made by pack, owned by the user pack runs as) and the run
            // image's (read-only).
            Store::Layout => c
                .env("CNB_REGISTRY_AUTH", "{}")
                .env("CNB_USE_LAYOUT", "true")
                .env("CNB_LAYOUT_DIR", "/layout-repo")
                .env("CNB_EXPERIMENTAL_MODE", "warn")
                .mount(
                    &self.layout_image_dir(),
                    &format!("/layout-repo/{LAYOUT_APP_PATH}/{}/latest", self.image),
                )
                .mount_ro(
                    &self.pod.volume("layout-repo").join(LAYOUT_RUN_PATH),
                    &format!("/layout-repo/{LAYOUT_RUN_PATH}"),
                ),
        }
    }

    /// The host directory of the app image in layout builds, owned by the user pack runs
    /// as (here the builder's user, so the exporter can write it after dropping to it).
    pub fn layout_image_dir(&self) -> PathBuf {
        let dir = self
            .pod
            .volume("layout-repo")
            .join(LAYOUT_APP_PATH)
            .join(&self.image)
            .join("latest");
        if !dir.exists() {
            fs::create_dir_all(&dir).unwrap();
            let (uid, gid) = self.ids.unwrap_or((BUILD_UID, BUILD_GID));
            std::os::unix::fs::chown(&dir, Some(uid), Some(gid)).unwrap();
        }
        dir
    }

    fn daemon(&self) -> bool {
        matches!(self.store, Store::Daemon(_))
    }

    /// `-gid`/`-uid` when overridden.
    fn id_flags(&self) -> Vec<String> {
        match self.ids {
            Some((uid, gid)) => vec![
                "-gid".into(),
                gid.to_string(),
                "-uid".into(),
                uid.to_string(),
            ],
            None => vec![],
        }
    }

    /// The cache: `-cache-image` for an image cache, else the volume at `/cache`.
    fn with_cache(&self, c: Container, flags: &mut Vec<String>) -> Container {
        match &self.cache_image {
            Some(image) => {
                flags.extend(["-cache-image".into(), image.clone()]);
                c
            }
            None => c.mount(&self.pod.volume("cache"), "/cache"),
        }
    }

    /// The launch cache of daemon builds, with its flag.
    fn with_launch_cache(&self, c: Container, flags: &mut Vec<String>) -> Container {
        if !self.daemon() {
            return c;
        }
        flags.extend(["-launch-cache".into(), "/launch-cache".into()]);
        c.mount(&self.pod.volume("launch-cache"), "/launch-cache")
    }

    /// The container and first flags of the phases that export (creator, exporter): root
    /// with the store's access, `-daemon` and the launch cache for daemon builds, the app
    /// and the cache directory.
    fn exporting(&self) -> (Container, Vec<String>) {
        let mut flags = vec![];
        if self.daemon() {
            flags.push("-daemon".into());
        }
        let c = self.with_launch_cache(self.root(), &mut flags);
        flags.extend(["-app", "/workspace", "-cache-dir", "/cache"].map(String::from));
        (c, flags)
    }

    /// A trusted builder: one creator container as root.
    pub fn create(&self) -> Ran {
        self.new_build();
        let (c, mut flags) = self.exporting();
        flags.extend(["-run-image".into(), self.run_image.clone()]);
        for tag in &self.tags {
            flags.extend(["-tag".into(), tag.clone()]);
        }
        flags.extend(self.id_flags());
        let c = self.with_cache(c, &mut flags);
        flags.push(self.image.clone());
        self.write_project_metadata();
        phase_ok(&c, &argv("/cnb/lifecycle/creator", &flags))
    }

    /// An untrusted builder: analyzer, detector, restorer, builder and exporter, each in
    /// its own container. Returns their outputs, concatenated.
    pub fn five_phases(&self) -> String {
        let mut out = self.four_phases();
        let (c, argv) = self.exporter();
        out += &phase_ok(&c, &strs(&argv)).all();
        out
    }

    /// A new untrusted build up to the exporter: analyzer, detector, restorer and
    /// builder. Returns their outputs, concatenated.
    pub fn four_phases(&self) -> String {
        self.new_build();
        let mut out = String::new();

        // analyzer, as root, after pack wrote run.toml into the layers volume
        fs::copy(
            self.pod.builder.cnb().join("run.toml"),
            self.pod.volume("layers").join("run.toml"),
        )
        .unwrap();
        let mut flags = self.id_flags();
        let mut c = self.root();
        if let Some(image) = &self.cache_image {
            flags.extend(["-cache-image".into(), image.clone()]);
        }
        if self.daemon() {
            flags.push("-daemon".into());
            c = self.with_launch_cache(c, &mut flags);
        } else if let Store::Layout = self.store {
            // pack passes the launch cache to every analyzer that does not publish, but
            // mounts it only for the daemon.
            flags.extend(["-launch-cache".into(), "/launch-cache".into()]);
        }
        flags.extend(["-run", "/layers/run.toml", "-run-image", &self.run_image].map(String::from));
        for tag in &self.tags {
            flags.extend(["-tag".into(), tag.clone()]);
        }
        flags.push(self.image.clone());
        out += &phase_ok(&c, &argv("/cnb/lifecycle/analyzer", &flags)).all();

        // detector, as the builder's user
        let user = self.container().user(BUILD_UID, BUILD_GID);
        out += &phase_ok(&user, &["/cnb/lifecycle/detector", "-app", "/workspace"]).all();

        // restorer, as root
        let mut flags = vec![];
        let c = self.root();
        let c = match &self.cache_image {
            Some(image) => {
                flags.extend(["-cache-image".into(), image.clone()]);
                c
            }
            None => {
                flags.extend(["-cache-dir".into(), "/cache".into()]);
                c.mount(&self.pod.volume("cache"), "/cache")
            }
        };
        flags.extend(self.id_flags());
        if self.daemon() {
            flags.push("-daemon".into());
        }
        out += &phase_ok(&c, &argv("/cnb/lifecycle/restorer", &flags)).all();

        // builder, as the builder's user
        out += &phase_ok(&user, &["/cnb/lifecycle/builder", "-app", "/workspace"]).all();
        out
    }

    /// The untrusted build's exporter container (root) and command line, after pack wrote
    /// stack.toml, run.toml and the project metadata into the layers volume.
    pub fn exporter(&self) -> (Container, Vec<String>) {
        for file in ["stack.toml", "run.toml"] {
            fs::copy(
                self.pod.builder.cnb().join(file),
                self.pod.volume("layers").join(file),
            )
            .unwrap();
        }
        self.write_project_metadata();
        let (c, mut flags) = self.exporting();
        flags.extend(["-run", "/layers/run.toml", "-process-type", "web"].map(String::from));
        flags.extend(self.id_flags());
        let c = self.with_cache(c, &mut flags);
        flags.push(self.image.clone());
        flags.extend(self.tags.iter().cloned());
        let argv = argv("/cnb/lifecycle/exporter", &flags)
            .into_iter()
            .map(String::from)
            .collect();
        (c, argv)
    }

    /// `/layers/project-metadata.toml` as pack writes it from project.toml.
    fn write_project_metadata(&self) {
        fs::write(
            self.pod.volume("layers").join("project-metadata.toml"),
            "[source]\n  type = \"project\"\n  [source.metadata]\n    id = \"examples/app\"\n    name = \"Example app\"\n",
        )
        .unwrap();
    }

    /// Whatever image the store holds under the image's name is whole: a layout's index
    /// validates (every blob it names is there), a registry tag can be copied out with all
    /// its blobs. Nothing at all is fine too (an export killed before it saved).
    pub fn assert_stored_image_whole(&self) {
        match &self.store {
            Store::Registry(r) => {
                let creds: Vec<String> = r
                    .credentials()
                    .map(|(u, p)| vec![format!("--creds={u}:{p}")])
                    .unwrap_or_default();
                let inspect = crate::run(
                    std::process::Command::new("skopeo")
                        .args(["inspect", "--raw", "--tls-verify=false"])
                        .args(&creds)
                        .arg(format!("docker://{}", self.image)),
                );
                if inspect.code != 0 {
                    return;
                }
                let copy = tempfile::tempdir().unwrap();
                crate::export::tool(
                    std::process::Command::new("skopeo")
                        .args(["copy", "-q", "--src-tls-verify=false"])
                        .args(creds.iter().map(|c| c.replace("--creds", "--src-creds")))
                        .arg(format!("docker://{}", self.image))
                        .arg(format!(
                            "oci:{}:latest",
                            copy.path().join("image").display()
                        )),
                );
            }
            Store::Layout => {
                let dir = self.layout_image_dir();
                if dir.join("index.json").exists() {
                    crate::export::tool(
                        std::process::Command::new("oci-image-tool")
                            .args(["validate", "--type", "image"])
                            .arg(&dir),
                    );
                }
            }
            Store::Daemon(_) => {}
        }
    }

    /// Checks and runs the built image.
    pub fn check_image(&self) {
        match &self.store {
            Store::Registry(r) => {
                let config = check_registry_image(r, &self.image, 1);
                for tag in &self.tags {
                    check_registry_image(r, tag, 1);
                }
                if let Some(epoch) = self.epoch {
                    let created = config["created"].as_str().unwrap();
                    assert_eq!(created, epoch_to_rfc3339(epoch), "SOURCE_DATE_EPOCH");
                }
                let project = label(&config, "io.buildpacks.project.metadata");
                assert!(project.contains("examples/app"), "{project}");
            }
            Store::Daemon(d) => check_daemon_image(d, &self.image, 1),
            Store::Layout => examples::check_layout_image(&self.layout_image_dir(), 1),
        }
    }
}

fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

fn argv<'a>(command: &'a str, flags: &'a [String]) -> Vec<&'a str> {
    std::iter::once(command)
        .chain(flags.iter().map(String::as_str))
        .collect()
}

fn label(config: &serde_json::Value, key: &str) -> String {
    config["config"]["Labels"][key]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// The epoch the tests give as `--creation-time`, and how images record it.
pub const EPOCH: &str = "1700000000";

fn epoch_to_rfc3339(epoch: &str) -> &'static str {
    assert_eq!(epoch, EPOCH);
    "2023-11-14T22:13:20Z"
}

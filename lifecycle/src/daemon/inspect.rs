//! What the daemon says about itself and its images (`/info`, `/images/{name}/json`,
//! `/images/{name}/history`), and the image config an inspected image stands for.

use serde::{Deserialize, Deserializer};

use crate::image::model::rfc3339;
use crate::image::{ContainerConfig, History, ImageConfig, NORMALIZED_TIME};

/// `DriverStatus` entry naming the storage driver's kind.
const DRIVER_TYPE: &str = "driver-type";
/// The driver type of the containerd image store (Docker 24+ with the containerd
/// snapshotters, the default of new Docker 29 installs).
const CONTAINERD_SNAPSHOTTER: &str = "io.containerd.snapshotter.v1";

/// `null` read as the type's default (Go writes nil slices and maps as `null`).
fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// The parts of `/info` the lifecycle uses.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Info {
    /// The daemon's version (`20.10.24+dfsg1`).
    #[serde(default, deserialize_with = "nullable")]
    pub server_version: String,
    /// The storage driver (`overlay2`, `vfs`, `overlayfs` for the containerd store).
    #[serde(default, deserialize_with = "nullable")]
    pub driver: String,
    /// The driver's status as name/value pairs.
    #[serde(default, deserialize_with = "nullable")]
    pub driver_status: Vec<(String, String)>,
    /// `linux` or `windows`.
    #[serde(rename = "OSType", default, deserialize_with = "nullable")]
    pub os_type: String,
    /// The machine architecture (`x86_64`).
    #[serde(default, deserialize_with = "nullable")]
    pub architecture: String,
}

impl Info {
    /// Whether images live in the containerd image store. Then a loaded archive must carry
    /// the contents of every layer, and image IDs are manifest digests, not config digests.
    pub fn uses_containerd_store(&self) -> bool {
        self.driver_status
            .iter()
            .any(|(k, v)| k == DRIVER_TYPE && v == CONTAINERD_SNAPSHOTTER)
    }
}

/// The layers of an inspected image.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RootFs {
    #[serde(default, deserialize_with = "nullable")]
    layers: Vec<String>,
}

fn diff_ids<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(Option::<RootFs>::deserialize(d)?
        .map(|r| r.layers)
        .unwrap_or_default())
}

/// An image as the daemon describes it.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImageInspect {
    /// The image ID: the config digest (`sha256:…`), or the manifest digest with the
    /// containerd image store.
    pub id: String,
    /// `repo:tag` names.
    #[serde(default, deserialize_with = "nullable")]
    pub repo_tags: Vec<String>,
    /// `repo@sha256:…` names of registry manifests the image came from or went to.
    #[serde(default, deserialize_with = "nullable")]
    pub repo_digests: Vec<String>,
    /// Creation time as the daemon prints it (RFC 3339 with nanoseconds).
    #[serde(default, deserialize_with = "nullable")]
    pub created: String,
    /// Author.
    #[serde(default, deserialize_with = "nullable")]
    pub author: String,
    /// Execution parameters (`Env`, `Entrypoint`, `Cmd`, `WorkingDir`, `Labels`, `User`…).
    #[serde(default, deserialize_with = "nullable")]
    pub config: ContainerConfig,
    /// Operating system.
    #[serde(default, deserialize_with = "nullable")]
    pub os: String,
    /// OS version (Windows).
    #[serde(default, deserialize_with = "nullable")]
    pub os_version: String,
    /// CPU architecture.
    #[serde(default, deserialize_with = "nullable")]
    pub architecture: String,
    /// Architecture variant.
    #[serde(default, deserialize_with = "nullable")]
    pub variant: String,
    /// Diff IDs of the layers, bottom first (`RootFS.Layers`).
    #[serde(rename = "RootFS", default, deserialize_with = "diff_ids")]
    pub diff_ids: Vec<String>,
    /// History from `/images/{name}/history`, oldest first.
    #[serde(skip)]
    pub history: Vec<HistoryItem>,
}

/// One entry of `/images/{name}/history`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HistoryItem {
    /// The image ID of the entry, or `<missing>`.
    #[serde(default, deserialize_with = "nullable")]
    pub id: String,
    /// Creation time, in seconds since the Unix epoch.
    #[serde(default, deserialize_with = "nullable")]
    pub created: i64,
    /// What made the layer.
    #[serde(default, deserialize_with = "nullable")]
    pub created_by: String,
    /// A comment.
    #[serde(default, deserialize_with = "nullable")]
    pub comment: String,
    /// Size of the layer in bytes (0 for entries without a layer).
    #[serde(default, deserialize_with = "nullable")]
    pub size: i64,
}

impl ImageInspect {
    /// The image config this image stands for, as the reference rebuilds it from an
    /// inspect (the daemon never hands out the config bytes): the execution parameters,
    /// platform, layers, creation time (to the second, or 1980-01-01T00:00:01Z when
    /// unreadable) and history, kept only when it has one entry per layer (else blank
    /// entries, since the API does not say which entries have no layer).
    pub fn image_config(&self) -> ImageConfig {
        let mut config = ImageConfig {
            architecture: self.architecture.clone(),
            author: self.author.clone(),
            created: Some(whole_seconds(&self.created).unwrap_or_else(|| NORMALIZED_TIME.into())),
            os: self.os.clone(),
            os_version: self.os_version.clone(),
            variant: self.variant.clone(),
            config: kept_config(&self.config),
            history: self
                .history
                .iter()
                .map(|h| History {
                    created: Some(rfc3339(h.created)),
                    created_by: h.created_by.clone(),
                    comment: h.comment.clone(),
                    ..History::default()
                })
                .collect(),
            ..ImageConfig::default()
        };
        config.rootfs.diff_ids = self.diff_ids.clone();
        config.history = config.normalized_history();
        config
    }
}

/// The execution parameters the reference keeps from an inspected image (its
/// `toV1Config`): command, health check, entrypoint, env, labels, on-build, user,
/// volumes, working dir, ports, stop signal and shell; the rest (hostname, builder
/// image, attach flags...) is dropped.
fn kept_config(c: &ContainerConfig) -> ContainerConfig {
    ContainerConfig {
        cmd: c.cmd.clone(),
        healthcheck: c.healthcheck.clone(),
        entrypoint: c.entrypoint.clone(),
        env: c.env.clone(),
        labels: c.labels.clone(),
        on_build: c.on_build.clone(),
        user: c.user.clone(),
        volumes: c.volumes.clone(),
        working_dir: c.working_dir.clone(),
        exposed_ports: c.exposed_ports.clone(),
        stop_signal: c.stop_signal.clone(),
        shell: c.shell.clone(),
        ..ContainerConfig::default()
    }
}

/// An RFC 3339 time without its fraction of a second (`2026-11-22T06:25:53.9Z` →
/// `2026-11-22T06:25:53Z`), or `None` when `time` does not look like one.
fn whole_seconds(time: &str) -> Option<String> {
    let bytes = time.as_bytes();
    let well_formed = bytes.len() >= 20
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && bytes[10] == b'T'
        && bytes[13] == b':'
        && bytes[16] == b':'
        && [0..4, 5..7, 8..10, 11..13, 14..16, 17..19]
            .into_iter()
            .all(|r| bytes[r].iter().all(u8::is_ascii_digit));
    if !well_formed {
        return None;
    }
    let (seconds, rest) = time.split_at(19);
    let zone = match rest.strip_prefix('.') {
        Some(fraction) => fraction.trim_start_matches(|c: char| c.is_ascii_digit()),
        None => rest,
    };
    let zone_ok = zone == "Z"
        || (zone.len() == 6
            && matches!(zone.as_bytes()[0], b'+' | b'-')
            && zone.as_bytes()[3] == b':');
    zone_ok.then(|| format!("{seconds}{zone}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const INSPECT: &str = r#"{"Id":"sha256:c246","RepoTags":["base:1"],"RepoDigests":[],"Parent":"","Created":"2026-11-22T06:25:53.900278689Z","Container":"","ContainerConfig":{"Env":null},"Author":"","Config":{"Hostname":"","User":"","Env":["PATH=/bin"],"Cmd":null,"Volumes":null,"WorkingDir":"/w","Entrypoint":["/bin/sh"],"OnBuild":null,"Labels":{"base":"yes"}},"Architecture":"amd64","Variant":"v8","Os":"linux","Size":1982256,"GraphDriver":{"Data":null,"Name":"vfs"},"RootFS":{"Type":"layers","Layers":["sha256:6d9a","sha256:77aa"]},"Metadata":{"LastTagTime":"0001-01-01T00:00:00Z"}}"#;

    #[test]
    fn parses_an_inspect_and_rebuilds_its_config() {
        let mut inspect: ImageInspect = serde_json::from_str(INSPECT).unwrap();
        assert_eq!(inspect.id, "sha256:c246");
        assert_eq!(inspect.repo_tags, ["base:1"]);
        assert_eq!(inspect.diff_ids, ["sha256:6d9a", "sha256:77aa"]);
        assert_eq!(inspect.config.labels["base"], "yes");
        inspect.history = serde_json::from_str::<Vec<HistoryItem>>(
            r#"[{"Comment":"","Created":1795328753,"CreatedBy":"umoci config","Id":"sha256:c246","Size":0,"Tags":["base:1"]},
                {"Comment":"c","Created":315532801,"CreatedBy":"umoci repack","Id":"<missing>","Size":1982256,"Tags":null},
                {"Comment":"","Created":0,"CreatedBy":"","Id":"<missing>","Size":5,"Tags":null}]"#,
        )
        .unwrap()
        .into_iter()
        .rev()
        .collect();
        let config = inspect.image_config();
        assert_eq!(config.created.as_deref(), Some("2026-11-22T06:25:53Z"));
        assert_eq!(config.variant, "v8");
        assert_eq!(config.rootfs.diff_ids, inspect.diff_ids);
        assert_eq!(config.config.entrypoint, ["/bin/sh"]);
        assert_eq!(config.config.working_dir, "/w");
        // Three entries for two layers: the API cannot tell which has no layer.
        assert_eq!(config.history, vec![History::default(); 2]);
        inspect.history.pop();
        let config = inspect.image_config();
        assert_eq!(config.history[1].created_by, "umoci repack");
        assert_eq!(config.history[1].created.as_deref(), Some(NORMALIZED_TIME));
        assert_eq!(config.history[1].comment, "c");
    }

    #[test]
    fn nulls_read_as_empty() {
        let inspect: ImageInspect = serde_json::from_str(
            r#"{"Id":"sha256:1","RepoTags":null,"Config":null,"RootFS":null}"#,
        )
        .unwrap();
        assert!(inspect.repo_tags.is_empty() && inspect.diff_ids.is_empty());
        assert_eq!(
            inspect.image_config().created.as_deref(),
            Some(NORMALIZED_TIME)
        );
    }

    #[test]
    fn detects_the_containerd_store() {
        let info: Info = serde_json::from_str(
            r#"{"ServerVersion":"29.0.0","Driver":"overlayfs","DriverStatus":[["driver-type","io.containerd.snapshotter.v1"]],"OSType":"linux"}"#,
        )
        .unwrap();
        assert!(info.uses_containerd_store());
        let info: Info = serde_json::from_str(r#"{"Driver":"vfs","DriverStatus":null}"#).unwrap();
        assert!(!info.uses_containerd_store());
        let info: Info = serde_json::from_str(
            r#"{"Driver":"overlay2","DriverStatus":[["Backing Filesystem","extfs"],["Supports d_type","true"]]}"#,
        )
        .unwrap();
        assert!(!info.uses_containerd_store());
    }

    #[test]
    fn drops_fractions_of_seconds() {
        assert_eq!(
            whole_seconds("2026-11-22T06:25:53Z").unwrap(),
            "2026-11-22T06:25:53Z"
        );
        assert_eq!(
            whole_seconds("2026-11-22T06:25:53.123+02:00").unwrap(),
            "2026-11-22T06:25:53+02:00"
        );
        for bad in [
            "",
            "yesterday",
            "2026-11-22 06:25:53Z",
            "2026-11-22T06:25:53.1",
        ] {
            assert_eq!(whole_seconds(bad), None, "{bad}");
        }
    }
}

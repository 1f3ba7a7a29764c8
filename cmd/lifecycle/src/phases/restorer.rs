//! `restorer`: opens the image stores and credentials as the user it started as (root, to
//! reach the Docker socket, the credentials or fix volume ownership), gives the layers,
//! cache and kaniko directories to the build user and drops to it, completes the run
//! and build image records of analyzed.toml (Platform API 0.10+: digest references,
//! target data, base images for kaniko), then restores the layers.
//!
//! The creator restores in-process, after dropping privileges, with
//! [`restore`]`(ctx, cache_registry, store)`: the same work minus what needs the
//! restorer's own registry access (build image, extended run image, the Platform API
//! 0.14 run image check), which a creator never needs (it refuses extensions). Its
//! `-skip-restore` sets `skip_layers`: only `store.toml` is restored (no layer
//! metadata, contents or SBOMs).

use std::path::Path;

use anyhow::{Context as _, anyhow};
use buildpack_api::api::ApiVersion;
use buildpack_api::group::{Group, GroupElement};
use lifecycle::cache::volume::VolumeCache;
use lifecycle::image::reference::Reference;
use lifecycle::image::registry_store::RegistryStore;
use lifecycle::image::{ImageStore, StoredImage};
use lifecycle::layer::Owner;
use lifecycle::registry::Client;
use lifecycle::restore::{self, Cache, RestoreInputs};
use lifecycle::unchanged::LayerIndex;
use platform_api::exit::{FAILED, RESTORE_ERROR};
use platform_api::files::analyzed::{Analyzed, ImageIdentifier, RunImage};
use platform_api::files::group;
use platform_api::files::run::Run;
use platform_api::flags::Phase;
use platform_api::labels::LayersMetadata;

use super::{PhaseCommand, guard_layout, nothing};
use crate::driver::Context;
use crate::failure::Failure;

/// The restorer.
pub static COMMAND: PhaseCommand = PhaseCommand {
    phase: Phase::Restore,
    validate: guard_layout,
    privileges: nothing,
    exec,
};

/// Largest config blob copied to the kaniko cache.
const MAX_CONFIG: u64 = 64 << 20;

fn exec(ctx: &Context) -> Result<(), Failure> {
    let i = &ctx.inputs;
    let opened = open(ctx)?;
    super::become_build_user(
        ctx,
        &[
            Path::new(&i.layers_dir),
            Path::new(&i.cache_dir),
            Path::new(&i.kaniko_dir),
            // the build user removes the scratch directory when done
            opened.work.path(),
        ],
    )?;
    run(
        ctx,
        &opened.registry,
        opened.store.as_ref(),
        Some(&opened.registry),
    )
}

/// What the restorer opens as the user it started as.
struct Opened {
    /// Scratch directory of the Docker daemon store, removed when dropped.
    work: tempfile::TempDir,
    /// The store the run image is read from (registry, daemon or layout).
    store: Box<dyn ImageStore>,
    /// The registry: the cache image, the build image and an extended run image.
    registry: RegistryStore,
}

/// Opens the stores (the credentials and the Docker socket may need the starting
/// user).
fn open(ctx: &Context) -> Result<Opened, Failure> {
    let work = tempfile::Builder::new()
        .prefix("lifecycle.restorer")
        .tempdir()
        .map_err(|e| Failure::failed_to(FAILED, "create temp directory", e))?;
    let store = crate::stores::app_store(ctx, work.path()).map_err(|e| {
        let action = if ctx.inputs.use_daemon {
            "initialize docker client"
        } else {
            "resolve keychain"
        };
        Failure::failed_to(FAILED, action, e)
    })?;
    let client = crate::stores::registry_client(ctx)
        .map_err(|e| Failure::failed_to(FAILED, "resolve keychain", e))?;
    Ok(Opened {
        work,
        store,
        registry: RegistryStore::new(client),
    })
}

/// The creator's restore, in-process and as the build user: store.toml, layer
/// metadata, cached layers (from the cache image read through `cache_registry`, or
/// the volume cache) and SBOMs; the run image record is completed from `store` when
/// the group has extensions and its target is unknown. With `skip_layers` (the
/// creator's `-skip-restore`) only store.toml is restored.
pub(crate) fn restore(
    ctx: &Context,
    cache_registry: &dyn ImageStore,
    store: &dyn ImageStore,
) -> Result<(), Failure> {
    run(ctx, cache_registry, store, None)
}

/// The restorer's work as the build user. `registry` (the restorer's own, none in the
/// creator) pulls the build image and an extended run image for kaniko and checks the
/// run image is still readable.
fn run(
    ctx: &Context,
    cache_registry: &dyn ImageStore,
    store: &dyn ImageStore,
    registry: Option<&RegistryStore>,
) -> Result<(), Failure> {
    let i = &ctx.inputs;
    let group = group::read(Path::new(&i.group_path)).map_err(|e| Failure::new(FAILED, e))?;
    lifecycle::build::verify_buildpack_apis(&group, ctx.deprecation_mode(), &ctx.logger)
        .map_err(|e| Failure::new(e.exit_code(), e))?;
    let analyzed_path = Path::new(&i.analyzed_path);
    let app_metadata = match Analyzed::read(analyzed_path) {
        Ok(mut analyzed) => {
            let before = analyzed.clone();
            update_analyzed(ctx, store, registry, &group, &mut analyzed)?;
            if registry.is_some() || analyzed != before {
                analyzed
                    .write(analyzed_path)
                    .map_err(|e| Failure::failed_to(FAILED, "write analyzed metadata", e))?;
            }
            analyzed.metadata
        }
        Err(err) => {
            ctx.logger.warn(format!(
                "Not using analyzed data, usable file not found: {err}"
            ));
            LayersMetadata::default()
        }
    };
    let cache = open_cache(ctx, cache_registry)?;
    restore_layers(ctx, &group.group, &app_metadata, cache.as_ref())
}

/// Opens the cache the flags name: `-cache-image` (read through `registry`), else
/// `-cache-dir`, else none.
fn open_cache<'a>(
    ctx: &Context,
    registry: &'a dyn ImageStore,
) -> Result<Option<Cache<'a>>, Failure> {
    let i = &ctx.inputs;
    if !i.cache_image_ref.is_empty() {
        // A cache image that cannot be read (other than absent) fails, as in the
        // exporter.
        let image = registry
            .read(&i.cache_image_ref)
            .map_err(|e| Failure::failed_to(FAILED, "create image cache", e))?
            .map(Box::new);
        return Ok(Some(Cache::Image {
            store: registry,
            image,
        }));
    }
    if i.cache_dir.is_empty() {
        return Ok(None);
    }
    let owner = lifecycle::cache::volume::Owner {
        uid: i.uid as u32,
        gid: i.gid as u32,
    };
    // The tars read to their end and found sound are stamped for the exporter of this
    // build, which then need not hash them again.
    let stamps = LayerIndex::new(&super::layers_dir(i)).cache_stamps();
    VolumeCache::open(&i.cache_dir, Some(owner))
        .map(|c| Some(Cache::Volume(c.with_stamps(stamps))))
        .map_err(|e| Failure::failed_to(FAILED, "create volume cache", e))
}

/// Restores store.toml, layer metadata, cached layers and SBOMs of `buildpacks` (as
/// the build user), per the inputs' Platform API and `skip_layers`.
pub(crate) fn restore_layers(
    ctx: &Context,
    buildpacks: &[GroupElement],
    app_metadata: &LayersMetadata,
    cache: Option<&Cache>,
) -> Result<(), Failure> {
    let i = &ctx.inputs;
    let inputs = RestoreInputs {
        layers_dir: super::layers_dir(i),
        buildpacks: buildpacks.to_vec(),
        app_metadata: app_metadata.clone(),
        platform_api: i.platform_api,
        skip_layers: i.skip_layers,
        owner: Owner {
            uid: i.uid as u32,
            gid: i.gid as u32,
        },
    };
    restore::restore(&inputs, cache, &ctx.logger)
        .map_err(|e| Failure::failed_to(RESTORE_ERROR, "restore", e))
}

/// Completes analyzed.toml: the build image (`-build-image`, Platform API 0.10+), the
/// run image the analyzer chose checked again (0.14+), and the run image's digest
/// reference and target when it is to be extended or the group has extensions and
/// the target is unknown.
fn update_analyzed(
    ctx: &Context,
    store: &dyn ImageStore,
    registry: Option<&RegistryStore>,
    group: &Group,
    analyzed: &mut Analyzed,
) -> Result<(), Failure> {
    let i = &ctx.inputs;
    let api = i.platform_api;
    if let Some(registry) = registry
        && api >= ApiVersion::new(0, 10)
        && !i.build_image_ref.is_empty()
    {
        ctx.logger.debug(format!(
            "Pulling builder image metadata for {}...",
            i.build_image_ref
        ));
        let image = pull_sparse(ctx, registry, &i.build_image_ref).map_err(|e| {
            Failure::failed_to(
                FAILED,
                &format!("pull builder image {}", i.build_image_ref),
                e,
            )
        })?;
        analyzed.build_image = Some(ImageIdentifier {
            reference: image.identifier,
        });
    }
    let name = analyzed.run_image_image().to_string();
    let accessible = match registry {
        Some(registry) => run_image_access_check(ctx, registry.client(), &name)?,
        None => name.clone(),
    };
    if accessible != name {
        let run_image = analyzed.run_image.get_or_insert_with(RunImage::default);
        run_image.image = accessible.clone();
        run_image.reference = accessible.clone();
    }
    let Some(run_image) = analyzed.run_image.as_mut() else {
        return Ok(());
    };
    let extend = api >= ApiVersion::new(0, 12) && !i.use_layout && run_image.extend;
    let needs_update = api >= ApiVersion::new(0, 10)
        && !group.group_extensions.is_empty()
        && run_image.target.as_ref().is_none_or(|t| t.os.is_empty());
    let image = if let Some(registry) = registry.filter(|_| extend) {
        ctx.logger
            .debug(format!("Pulling run image metadata for {accessible}..."));
        pull_sparse(ctx, registry, &accessible)
            .map_err(|e| Failure::failed_to(FAILED, &format!("pull run image {accessible}"), e))?
    } else if needs_update {
        ctx.logger
            .debug("Updating run image info in analyzed metadata...");
        store
            .read(&accessible)
            .map_err(anyhow::Error::from)
            .and_then(|found| found.ok_or_else(|| anyhow!("image not found")))
            .map_err(|e| Failure::failed_to(FAILED, &format!("get run image {accessible}"), e))?
    } else {
        return Ok(());
    };
    run_image.reference = image.identifier.clone();
    run_image.target = (api >= ApiVersion::new(0, 12)).then(|| image.target());
    Ok(())
}

/// The run image to use (Platform API 0.14+): the analyzer's choice, checked to be
/// still readable when `run.toml` lists it.
fn run_image_access_check(ctx: &Context, client: &Client, name: &str) -> Result<String, Failure> {
    let i = &ctx.inputs;
    if i.platform_api < ApiVersion::new(0, 14) {
        return Ok(name.to_string());
    }
    let run = Run::read_optional(Path::new(&i.run_path))
        .map_err(|e| Failure::new(FAILED, e))?
        .unwrap_or_default();
    let registry_mode = !i.use_daemon && !i.use_layout;
    let readable = |candidate: &str| !registry_mode || can_read(client, candidate);
    lifecycle::run_image::resolve_from_analyzed(name, &run, &readable)
        .map_err(|e| Failure::new(FAILED, e))
}

/// Whether the registry lets us read `name`.
fn can_read(client: &Client, name: &str) -> bool {
    Reference::parse(name).is_ok_and(|r| client.check_read_access(&r).is_ok())
}

/// Reads image `name` from the registry and saves its manifest and config (no layers)
/// as an OCI layout in `<kaniko>/cache/base/<manifest digest>`, for kaniko.
fn pull_sparse(ctx: &Context, registry: &RegistryStore, name: &str) -> anyhow::Result<StoredImage> {
    let base = Path::new(&ctx.inputs.kaniko_dir).join("cache").join("base");
    std::fs::create_dir_all(&base).context("failed to create cache directory")?;
    let image = registry
        .read(name)
        .context("failed to initialize remote image")?
        .ok_or_else(|| anyhow!("failed to get remote image"))?;
    let digest = image
        .identifier
        .rsplit_once('@')
        .map(|(_, d)| d.to_string())
        .ok_or_else(|| anyhow!("failed to get remote image digest"))?;
    let reference = Reference::parse(name)?;
    let client = registry.client();
    let manifest = client
        .get_manifest(&reference.repo().digest(&digest))?
        .ok_or_else(|| anyhow!("failed to get remote image"))?;
    let parsed: serde_json::Value = serde_json::from_slice(&manifest.bytes)?;
    let config_digest = parsed["config"]["digest"]
        .as_str()
        .ok_or_else(|| anyhow!("manifest {digest} has no config"))?;
    let config = client.get_blob_bytes(reference.repo(), config_digest, MAX_CONFIG)?;
    let path = base.join(&digest);
    ctx.logger
        .debug(format!("Saving image metadata to {}...", path.display()));
    write_sparse_layout(
        &path,
        &manifest.media_type,
        &manifest.bytes,
        &digest,
        &config,
        config_digest,
    )
    .context("failed to save layout image")?;
    Ok(image)
}

/// Writes an OCI layout at `dir` holding one image: its manifest and config blobs.
fn write_sparse_layout(
    dir: &Path,
    media_type: &str,
    manifest: &[u8],
    manifest_digest: &str,
    config: &[u8],
    config_digest: &str,
) -> std::io::Result<()> {
    let blobs = dir.join("blobs").join("sha256");
    std::fs::create_dir_all(&blobs)?;
    for (digest, bytes) in [(manifest_digest, manifest), (config_digest, config)] {
        let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
        std::fs::write(blobs.join(hex), bytes)?;
    }
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{
            "mediaType": media_type,
            "size": manifest.len(),
            "digest": manifest_digest,
        }],
    });
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#)?;
    std::fs::write(dir.join("index.json"), serde_json::to_vec(&index)?)
}

//! `libcnb-test/env`: a cached build+launch layer `runtime`, reused while its metadata
//! names the wanted runtime version (platform env `RUNTIME_VERSION`, default 1.0), and a
//! launch-only layer `settings`, both with environment modifications of every kind;
//! processes `web` (default, prints the environment) and `version`.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use libcnb::build::{BuildContext, BuildResult, BuildResultBuilder};
use libcnb::data::launch::{LaunchBuilder, ProcessBuilder};
use libcnb::data::{layer_name, process_type};
use libcnb::detect::{DetectContext, DetectResult, DetectResultBuilder};
use libcnb::generic::{GenericMetadata, GenericPlatform};
use libcnb::layer::{
    CachedLayerDefinition, EmptyLayerCause, InvalidMetadataAction, LayerState, RestoredLayerAction,
    UncachedLayerDefinition,
};
use libcnb::layer_env::{LayerEnv, ModificationBehavior, Scope};
use libcnb::{Buildpack, Platform, buildpack_main};
use libcnb_test_buildpacks::{TestBuildpackError, io_error};
use serde::{Deserialize, Serialize};

/// The runtime version installed when the platform asks for none.
const DEFAULT_RUNTIME_VERSION: &str = "1.0";

/// The `runtime` layer's metadata: what it holds.
#[derive(Serialize, Deserialize)]
struct RuntimeMetadata {
    version: String,
}

struct EnvBuildpack;

impl Buildpack for EnvBuildpack {
    type Platform = GenericPlatform;
    type Metadata = GenericMetadata;
    type Error = TestBuildpackError;

    fn detect(&self, _context: DetectContext<Self>) -> libcnb::Result<DetectResult, Self::Error> {
        DetectResultBuilder::pass().build()
    }

    fn build(&self, context: BuildContext<Self>) -> libcnb::Result<BuildResult, Self::Error> {
        let version = context
            .platform
            .env()
            .get_string_lossy("RUNTIME_VERSION")
            .unwrap_or_else(|| DEFAULT_RUNTIME_VERSION.to_string());
        let runtime = context.cached_layer(
            layer_name!("runtime"),
            CachedLayerDefinition {
                build: true,
                launch: true,
                invalid_metadata_action: &|_| {
                    (InvalidMetadataAction::DeleteLayer, "invalid metadata")
                },
                restored_layer_action: &|metadata: &RuntimeMetadata, _| {
                    if metadata.version == version {
                        (RestoredLayerAction::KeepLayer, String::new())
                    } else {
                        (RestoredLayerAction::DeleteLayer, metadata.version.clone())
                    }
                },
            },
        )?;
        let dir = runtime.path();
        match &runtime.state {
            LayerState::Restored { .. } => {
                let marker = dir.join("marker.txt");
                let marker = fs::read_to_string(&marker).map_err(io_error(marker))?;
                println!(
                    "libcnb-test/env: reusing cached runtime {version}, marker {}",
                    marker.trim()
                );
            }
            LayerState::Empty { cause } => {
                let why = match cause {
                    EmptyLayerCause::NewlyCreated => "new layer".to_string(),
                    EmptyLayerCause::InvalidMetadataAction { cause } => cause.to_string(),
                    EmptyLayerCause::RestoredLayerAction { cause } => {
                        format!("cached runtime {cause} is outdated")
                    }
                };
                let marker = install_runtime(&dir)?;
                println!("libcnb-test/env: installing runtime {version} ({why}), marker {marker}");
                runtime.write_metadata(RuntimeMetadata {
                    version: version.clone(),
                })?;
                runtime.write_env(
                    LayerEnv::new()
                        .chainable_insert(
                            Scope::All,
                            ModificationBehavior::Override,
                            "RUNTIME_HOME",
                            &dir,
                        )
                        .chainable_insert(
                            Scope::All,
                            ModificationBehavior::Override,
                            "RUNTIME_VERSION",
                            &version,
                        )
                        .chainable_insert(
                            Scope::All,
                            ModificationBehavior::Override,
                            "APP_PATH",
                            "/runtime/path",
                        )
                        .chainable_insert(
                            Scope::All,
                            ModificationBehavior::Override,
                            "APP_FLAGS",
                            "--base",
                        )
                        .chainable_insert(
                            Scope::Launch,
                            ModificationBehavior::Default,
                            "APP_MODE",
                            "from-runtime",
                        )
                        .chainable_insert(
                            Scope::Build,
                            ModificationBehavior::Override,
                            "RUNTIME_BUILD_ONLY",
                            "yes",
                        ),
                )?;
            }
        }

        let settings = context.uncached_layer(
            layer_name!("settings"),
            UncachedLayerDefinition {
                build: false,
                launch: true,
            },
        )?;
        settings.write_env(
            LayerEnv::new()
                .chainable_insert(
                    Scope::Launch,
                    ModificationBehavior::Prepend,
                    "APP_PATH",
                    "/settings/path",
                )
                .chainable_insert(
                    Scope::Launch,
                    ModificationBehavior::Delimiter,
                    "APP_PATH",
                    ":",
                )
                .chainable_insert(
                    Scope::Launch,
                    ModificationBehavior::Append,
                    "APP_FLAGS",
                    "--verbose",
                )
                .chainable_insert(
                    Scope::Launch,
                    ModificationBehavior::Delimiter,
                    "APP_FLAGS",
                    " ",
                )
                .chainable_insert(
                    Scope::Launch,
                    ModificationBehavior::Default,
                    "APP_MODE",
                    "from-settings",
                )
                .chainable_insert(
                    Scope::Process("web".to_string()),
                    ModificationBehavior::Override,
                    "WEB_ONLY",
                    "yes",
                ),
        )?;

        BuildResultBuilder::new()
            .launch(
                LaunchBuilder::new()
                    .process(
                        ProcessBuilder::new(process_type!("web"), ["env"])
                            .default(true)
                            .build(),
                    )
                    .process(
                        ProcessBuilder::new(process_type!("version"), ["runtime-version"]).build(),
                    )
                    .build(),
            )
            .build()
    }
}

/// Fills a fresh `runtime` layer: a marker unique to this installation and a
/// `bin/runtime-version` script (on `PATH` at launch, as every layer's `bin`).
fn install_runtime(dir: &Path) -> Result<String, TestBuildpackError> {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let marker = format!("{nanos}-{}", std::process::id());
    let path = dir.join("marker.txt");
    fs::write(&path, format!("{marker}\n")).map_err(io_error(path))?;
    let bin = dir.join("bin");
    fs::create_dir_all(&bin).map_err(io_error(&bin))?;
    let script = bin.join("runtime-version");
    fs::write(
        &script,
        "#!/bin/sh\necho \"runtime $RUNTIME_VERSION in $RUNTIME_HOME, web-only ${WEB_ONLY:-unset}\"\n",
    )
    .map_err(io_error(&script))?;
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).map_err(io_error(&script))?;
    Ok(marker)
}

buildpack_main!(EnvBuildpack);

//! The image stores and registry access the phases use, built from the resolved inputs
//! and the process environment (the library reads no environment itself).

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use lifecycle::cache::volume::{Owner, VolumeCache};
use lifecycle::daemon::Daemon;
use lifecycle::image::ImageStore;
use lifecycle::image::daemon_store::DaemonStore;
use lifecycle::image::layout::LayoutStore;
use lifecycle::image::registry_store::RegistryStore;
use lifecycle::registry::{Client, ClientConfig, Keychain, KeychainSources, TlsRoots};

use crate::driver::Context;

/// A registry client with the credentials, trust roots, proxies and insecure
/// registries the environment and flags give.
pub fn registry_client(ctx: &Context) -> anyhow::Result<Client> {
    let env = &ctx.process.env;
    let var = |key: &str| Some(env.get(key)).filter(|v| !v.is_empty());
    let sources = KeychainSources {
        registry_auth: var("CNB_REGISTRY_AUTH").map(str::to_string),
        docker_config_files: lifecycle::registry::auth::docker_config_candidates(|k| {
            var(k).map(OsString::from)
        }),
        helper_path: var("PATH").map(OsString::from),
    };
    let keychain = Keychain::new(sources)?;
    let config = ClientConfig {
        insecure_registries: ctx.inputs.insecure_registries.clone(),
        tls_roots: TlsRoots::System {
            cert_file: var("SSL_CERT_FILE").map(PathBuf::from),
            cert_dirs: var("SSL_CERT_DIR").map(|d| {
                d.split(':')
                    .filter(|p| !p.is_empty())
                    .map(PathBuf::from)
                    .collect()
            }),
        },
        proxy: ["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"]
            .into_iter()
            .find_map(var)
            .map(str::to_string),
        no_proxy: ["NO_PROXY", "no_proxy"]
            .into_iter()
            .find_map(var)
            .map(str::to_string),
        ..ClientConfig::default()
    };
    Ok(Client::new(config, keychain)?)
}

/// The store the flags select: an OCI layout with `-layout`, the Docker daemon with
/// `-daemon` (layers it must fetch go under `work_dir`; `-launch-cache` keeps layer
/// tars between exports), else a registry.
pub fn app_store(ctx: &Context, work_dir: &Path) -> anyhow::Result<Box<dyn ImageStore>> {
    let i = &ctx.inputs;
    if i.use_layout {
        return Ok(Box::new(LayoutStore::new(&i.layout_dir)));
    }
    if i.use_daemon {
        let host = ctx.process.env.get("DOCKER_HOST");
        let daemon = Daemon::connect(Some(host).filter(|h| !h.is_empty()))?;
        let launch_cache = if i.launch_cache_dir.is_empty() {
            None
        } else {
            let owner = Owner {
                uid: i.uid as u32,
                gid: i.gid as u32,
            };
            Some(VolumeCache::open(&i.launch_cache_dir, Some(owner))?)
        };
        return Ok(Box::new(DaemonStore::new(daemon, work_dir, launch_cache)));
    }
    Ok(Box::new(RegistryStore::new(registry_client(ctx)?)))
}

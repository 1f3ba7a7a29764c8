//! The image stores and registry access the phases use, built from the resolved inputs
//! and the process environment (the library reads no environment itself).

use std::ffi::OsString;
use std::path::PathBuf;

use lifecycle::image::ImageStore;
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

/// The store the flags select: an OCI layout with `-layout`, else a registry (the
/// daemon store comes with `-daemon`).
pub fn app_store(ctx: &Context) -> anyhow::Result<Box<dyn ImageStore>> {
    let i = &ctx.inputs;
    if i.use_layout {
        return Ok(Box::new(LayoutStore::new(&i.layout_dir)));
    }
    if i.use_daemon {
        anyhow::bail!("the Docker daemon store is not available yet");
    }
    Ok(Box::new(RegistryStore::new(registry_client(ctx)?)))
}

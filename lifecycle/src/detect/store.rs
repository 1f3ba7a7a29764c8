//! The module store: buildpacks at `<buildpacks>/<escaped id>/<version>/buildpack.toml`
//! and extensions at `<extensions>/<escaped id>/<version>/extension.toml`.

use std::path::{Path, PathBuf};

use buildpack_api::api::BUILDPACK_APIS;
use buildpack_api::descriptor::{BuildpackDescriptor, ExtensionDescriptor, ModuleDescriptor};
use buildpack_api::group::GroupElement;

use super::DetectError;
use super::order::{Module, ModuleStore};

/// Buildpack and extension directories.
pub(crate) struct DirStore {
    /// `<buildpacks>`.
    pub buildpacks_dir: PathBuf,
    /// `<extensions>`.
    pub extensions_dir: PathBuf,
}

impl DirStore {
    fn module_dir(&self, el: &GroupElement) -> PathBuf {
        let root = if el.extension {
            &self.extensions_dir
        } else {
            &self.buildpacks_dir
        };
        root.join(el.escaped_id()).join(&el.version)
    }
}

/// Reads a module's descriptor and checks its Buildpack API (exit 12 when unsupported).
fn load<D: ModuleDescriptor>(
    el: &GroupElement,
    dir: &Path,
    descriptor: D,
    order: buildpack_api::group::Order,
) -> Result<Module, DetectError> {
    let kind = if el.extension {
        "extension"
    } else {
        "buildpack"
    };
    let api = descriptor
        .api()
        .map_err(|_| DetectError::ParseBuildpackApi {
            kind,
            name: el.display_name(),
            api: descriptor.api_str().to_string(),
        })?;
    if !BUILDPACK_APIS.is_supported(&api) {
        return Err(DetectError::IncompatibleBuildpackApi {
            kind,
            name: el.display_name(),
            api: descriptor.api_str().to_string(),
        });
    }
    let targets = descriptor
        .targets_for_detect(dir)
        .map_err(|e| DetectError::Other(e.to_string()))?;
    Ok(Module {
        api,
        api_raw: descriptor.api_str().to_string(),
        dir: dir.to_path_buf(),
        homepage: descriptor.info().homepage.clone(),
        clear_env: descriptor.info().clear_env,
        targets,
        exec_env: descriptor.info().exec_env.clone(),
        order,
    })
}

impl ModuleStore for DirStore {
    fn lookup(&self, el: &GroupElement) -> Result<Module, DetectError> {
        let dir = self.module_dir(el);
        if el.extension {
            let d = ExtensionDescriptor::read_dir(&dir).map_err(DetectError::descriptor)?;
            load(el, &dir, d, Vec::new())
        } else {
            let d = BuildpackDescriptor::read_dir(&dir).map_err(DetectError::descriptor)?;
            let order = d.order.clone();
            load(el, &dir, d, order)
        }
    }
}

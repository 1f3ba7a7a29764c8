//! The module store: buildpacks at `<buildpacks>/<escaped id>/<version>/buildpack.toml`
//! and extensions at `<extensions>/<escaped id>/<version>/extension.toml`.

use std::path::{Path, PathBuf};

use buildpack_api::descriptor::{BuildpackDescriptor, ExtensionDescriptor, ModuleDescriptor};
use buildpack_api::group::GroupElement;

use platform_api::flags::DeprecationMode;
use platform_api::module_api::verify_buildpack_api;

use super::DetectError;
use super::order::{Module, ModuleStore};

/// Buildpack and extension directories.
pub(crate) struct DirStore {
    /// `<buildpacks>`.
    pub buildpacks_dir: PathBuf,
    /// `<extensions>`.
    pub extensions_dir: PathBuf,
    /// How deprecated Buildpack APIs are treated.
    pub deprecation_mode: DeprecationMode,
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

/// Turns a module's descriptor into a [`Module`] after checking its Buildpack API
/// (exit 12 when unsupported).
fn load<D: ModuleDescriptor>(
    el: &GroupElement,
    dir: &Path,
    descriptor: D,
    order: buildpack_api::group::Order,
    mode: DeprecationMode,
) -> Result<Module, DetectError> {
    let kind = if el.extension {
        "Extension"
    } else {
        "Buildpack"
    };
    let (api, api_warning) =
        verify_buildpack_api(kind, &el.display_name(), descriptor.api_str(), mode)?;
    let targets = descriptor
        .targets_for_detect(dir)
        .map_err(|e| DetectError::Other(e.to_string()))?;
    Ok(Module {
        api,
        api_raw: descriptor.api_str().to_string(),
        api_warning,
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
            load(el, &dir, d, Vec::new(), self.deprecation_mode)
        } else {
            let d = BuildpackDescriptor::read_dir(&dir).map_err(DetectError::descriptor)?;
            let order = d.order.clone();
            load(el, &dir, d, order, self.deprecation_mode)
        }
    }
}

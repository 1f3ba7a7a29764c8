//! The buildpack-side files: buildpack.toml and extension.toml, `<layer>.toml`,
//! launch.toml and build.toml at every Buildpack API, store.toml, detect's build plan,
//! exec.d output, Dockerfiles and extend-config.toml. The first byte picks the parser
//! (and API), the rest is the file. Parsers must return errors, never panic.
#![no_main]

use std::path::Path;

use buildpack_api::api::ApiVersion;
use buildpack_api::build::BuildToml;
use buildpack_api::descriptor::{BuildpackDescriptor, ExtensionDescriptor, ModuleKind};
use buildpack_api::dockerfile::{self, ExtendConfig};
use buildpack_api::execd::parse_exec_d_output;
use buildpack_api::launch::LaunchToml;
use buildpack_api::layer::LayerContentMetadata;
use buildpack_api::plan::BuildPlan;
use buildpack_api::store::StoreToml;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let api = ApiVersion::new(0, 7 + u64::from(selector >> 4) % 6);
    match selector % 10 {
        0 => drop(BuildpackDescriptor::from_toml(text)),
        1 => drop(ExtensionDescriptor::from_toml(text)),
        2 => drop(LayerContentMetadata::parse(
            text,
            Path::new("/layers/bp/layer.toml"),
        )),
        3 => drop(LaunchToml::parse(text, api)),
        4 => drop(BuildToml::parse(text)),
        5 => {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("store.toml");
            std::fs::write(&path, text).unwrap();
            drop(StoreToml::read(&path));
        }
        6 => drop(BuildPlan::parse(text, ModuleKind::Buildpack, "some/bp")),
        7 => drop(BuildPlan::parse(text, ModuleKind::Extension, "some/ext")),
        8 => drop(parse_exec_d_output(text)),
        _ => {
            drop(dockerfile::parse(text));
            drop(ExtendConfig::parse(text));
        }
    }
});

//! What comes from images: the `io.buildpacks.lifecycle.metadata`,
//! `io.buildpacks.build.metadata` and cache labels, image configs, manifests and
//! indexes, and image references. The first byte picks the parser. Parsers must return
//! errors, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lifecycle::image::ImageConfig;
use lifecycle::image::oci::{Index, Manifest};
use lifecycle::image::reference::Reference;
use platform_api::labels::{BuildMetadataLabel, CacheMetadata, LayersMetadata};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    match selector % 7 {
        0 => drop(LayersMetadata::parse(&text)),
        1 => drop(BuildMetadataLabel::parse(&text)),
        2 => drop(CacheMetadata::parse(&text)),
        3 => drop(ImageConfig::parse(rest)),
        4 => drop(serde_json::from_slice::<Manifest>(rest)),
        5 => drop(serde_json::from_slice::<Index>(rest)),
        _ => drop(Reference::parse(&text)),
    }
});

//! `store.toml` and `<layer>.toml` files, from the previous image's metadata and the
//! cache's, per the restore matrix:
//!
//! | build | cache | launch | metadata restored from |
//! |---|---|---|---|
//! | any | true | true | the previous image when the cache has the layer too (Platform API 0.14+: the cache when the image lacks it) |
//! | any | true | false | the cache |
//! | true | false | true | nowhere (the buildpack always remakes it) |
//! | false | false | true | the previous image |
//! | any | false | false | nowhere |
//!
//! Restored `<layer>.toml` files hold only `[metadata]`, never `[types]`: a buildpack
//! keeps a layer by setting its types again.

use std::collections::BTreeMap;
use std::path::Path;

use buildpack_api::api::ApiVersion;
use buildpack_api::id::escape;
use platform_api::labels::{BuildpackLayerMetadata, CacheMetadata};
use serde::Serialize;
use serde_json::Value;

use super::{RestoreError, RestoreInputs, sibling};
use crate::log::Logger;

/// The diffIDs of the layers whose `<layer>.toml` this restore wrote, by buildpack ID
/// then layer name.
pub type Written = BTreeMap<String, BTreeMap<String, String>>;

/// The TOML shape of `store.toml` and of a restored `<layer>.toml`.
#[derive(Serialize)]
struct MetadataToml<'a> {
    metadata: Option<&'a Value>,
}

/// Writes `{metadata = value}` to `path` as the reference's encoder does (an empty
/// file without metadata), creating the buildpack's directory when missing.
fn write_metadata(path: &Path, value: &Value) -> Result<(), RestoreError> {
    let text = buildpack_api::gotoml::to_string(&MetadataToml {
        metadata: Some(value).filter(|v| !v.is_null()),
    })
    .map_err(|cause| RestoreError::Encode {
        path: path.to_path_buf(),
        cause,
    })?;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(RestoreError::io("create", parent))?;
    }
    std::fs::write(path, text).map_err(RestoreError::io("write", path))
}

/// Writes `<layers>/<bp>/store.toml` for every buildpack of the group whose previous
/// image metadata has a store.
pub fn restore_stores(inputs: &RestoreInputs) -> Result<(), RestoreError> {
    for bp in &inputs.buildpacks {
        let store = inputs
            .app_metadata
            .for_buildpack(&bp.id)
            .and_then(|md| md.store.as_ref());
        if let Some(store) = store {
            let path = inputs.layers_dir.join(escape(&bp.id)).join("store.toml");
            write_metadata(&path, &store.metadata)?;
        }
    }
    Ok(())
}

/// Writes the `<layer>.toml` files the restore matrix calls for and returns the
/// diffID each restored layer was recorded with.
pub fn restore_layer_metadata(
    inputs: &RestoreInputs,
    cache: &CacheMetadata,
    logger: &Logger,
) -> Result<Written, RestoreError> {
    let empty = BTreeMap::new();
    let mut written = Written::new();
    for bp in &inputs.buildpacks {
        let bp_dir = inputs.layers_dir.join(escape(&bp.id));
        let app_layers = inputs
            .app_metadata
            .for_buildpack(&bp.id)
            .map_or(&empty, |md| &md.layers);
        let cached_layers = cache.for_buildpack(&bp.id).map_or(&empty, |md| &md.layers);
        let mut write = |name: &str, layer: &BuildpackLayerMetadata| {
            // A name from image or cache metadata that is not a plain file name would
            // put the layer outside the buildpack's directory: that layer is ignored.
            if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\0']) {
                logger.warn(format!(
                    "Ignoring layer {name:?} of buildpack {}: not a valid layer name",
                    bp.id
                ));
                return Ok(());
            }
            write_metadata(&sibling(&bp_dir.join(name), "toml"), &layer.data)?;
            written
                .entry(bp.id.clone())
                .or_default()
                .insert(name.to_string(), layer.sha.clone());
            Ok::<_, RestoreError>(())
        };
        for (name, layer) in app_layers {
            let identifier = format!("{}:{name}", bp.id);
            if !layer.launch {
                logger.debug(format!(
                    "Not restoring metadata for {identifier:?}, marked as launch=false"
                ));
                continue;
            }
            if layer.build && !layer.cache {
                logger.debug(format!(
                    "Not restoring metadata for {identifier:?}, marked as build=true, cache=false"
                ));
                continue;
            }
            if layer.cache && !cached_layers.get(name).is_some_and(|c| c.cache) {
                logger.debug(format!(
                    "Not restoring metadata for {identifier:?}, marked as cache=true, but not found in cache"
                ));
                continue;
            }
            logger.info(format!(
                "Restoring metadata for {identifier:?} from app image"
            ));
            write(name, layer)?;
        }
        for (name, layer) in cached_layers {
            let identifier = format!("{}:{name}", bp.id);
            if !layer.cache {
                logger.debug(format!(
                    "Not restoring {identifier:?} from cache, marked as cache=false"
                ));
                continue;
            }
            if layer.launch
                && (app_layers.contains_key(name) || inputs.platform_api < ApiVersion::new(0, 14))
            {
                logger.debug(format!(
                    "Not restoring {identifier:?} from cache, marked as launch=true"
                ));
                continue;
            }
            logger.info(format!("Restoring metadata for {identifier:?} from cache"));
            write(name, layer)?;
        }
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use buildpack_api::group::GroupElement;
    use platform_api::labels::{BuildpackLayersMetadata, LayersMetadata};

    use super::*;
    use crate::log::Level;

    /// Layer metadata named for its flags (`b`, `c`, `l`), with `data = {name = …}`.
    fn layer(name: &str, sha: &str) -> BuildpackLayerMetadata {
        BuildpackLayerMetadata {
            sha: sha.into(),
            data: serde_json::json!({ "name": name }),
            build: name.contains('b'),
            launch: name.contains('l'),
            cache: name.contains('c'),
        }
    }

    fn bp(names: &[&str], sha: &str) -> BuildpackLayersMetadata {
        BuildpackLayersMetadata {
            id: "a/bp".into(),
            version: "1".into(),
            layers: names
                .iter()
                .map(|n| (n.to_string(), layer(n, sha)))
                .collect(),
            store: None,
        }
    }

    fn restored(api: ApiVersion) -> (tempfile::TempDir, Written) {
        let dir = tempfile::tempdir().unwrap();
        let all = ["bcl", "bc", "bl", "b", "cl", "c", "l", "none"];
        let inputs = RestoreInputs {
            layers_dir: dir.path().to_path_buf(),
            buildpacks: vec![GroupElement {
                id: "a/bp".into(),
                version: "1".into(),
                ..Default::default()
            }],
            app_metadata: LayersMetadata {
                // `cl` is in the cache only.
                buildpacks: vec![bp(&["bcl", "bc", "bl", "b", "c", "l", "none"], "sha256:i")],
                ..Default::default()
            },
            platform_api: api,
            skip_layers: false,
            owner: crate::layer::Owner { uid: 0, gid: 0 },
        };
        let cache = CacheMetadata {
            buildpacks: vec![bp(&all, "sha256:c")],
            ..Default::default()
        };
        let written = restore_layer_metadata(&inputs, &cache, &Logger::new(Level::Error)).unwrap();
        (dir, written)
    }

    #[test]
    fn follows_the_restore_matrix() {
        for (api, cl) in [
            (ApiVersion::new(0, 13), None),
            (ApiVersion::new(0, 14), Some("sha256:c")),
        ] {
            let (dir, written) = restored(api);
            let expected: BTreeMap<String, String> = [
                ("bcl", Some("sha256:i")),
                ("bc", Some("sha256:c")),
                ("cl", cl),
                ("c", Some("sha256:c")),
                ("l", Some("sha256:i")),
            ]
            .into_iter()
            .filter_map(|(n, sha)| Some((n.to_string(), sha?.to_string())))
            .collect();
            assert_eq!(written["a/bp"], expected, "{api}");
            for name in ["bcl", "bc", "bl", "b", "cl", "c", "l", "none"] {
                let path = dir.path().join(format!("a_bp/{name}.toml"));
                if expected.contains_key(name) {
                    let text = std::fs::read_to_string(path).unwrap();
                    assert_eq!(text, format!("[metadata]\n  name = \"{name}\"\n"));
                } else {
                    assert!(!path.exists(), "{api}: {name}.toml");
                }
            }
        }
    }
}

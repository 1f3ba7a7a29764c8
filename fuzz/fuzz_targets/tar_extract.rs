//! Layer extraction (the restorer's cache layers, the analyzer's SBOM layer): any bytes
//! as a tar, extracted under a root with one allowed layer directory. It must fail
//! cleanly on hostile entries (traversal, absolute or escaping links, links out of the
//! layer, devices, bad headers) and never write outside the allowed directory: after
//! each run the root holds the layer's parents and the sentinel only.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use lifecycle::layer::extract::{ExtractOptions, extract};

fuzz_target!(|data: &[u8]| {
    let root = tempfile::tempdir().unwrap();
    let sentinel = root.path().join("sentinel");
    std::fs::write(&sentinel, "outside").unwrap();
    std::fs::create_dir_all(root.path().join("layers/bp")).unwrap();
    let options = ExtractOptions { same_owner: false };
    let _ = extract(data, root.path(), Path::new("/layers/bp/layer"), &options);
    assert_eq!(std::fs::read_to_string(&sentinel).unwrap(), "outside");
    for entry in std::fs::read_dir(root.path()).unwrap() {
        let name = entry.unwrap().file_name();
        assert!(
            name == "sentinel" || name == "layers",
            "wrote {name:?} outside the layer"
        );
    }
    for entry in std::fs::read_dir(root.path().join("layers")).unwrap() {
        let name = entry.unwrap().file_name();
        assert_eq!(name, "bp", "wrote layers/{name:?} outside the layer");
    }
    for entry in std::fs::read_dir(root.path().join("layers/bp")).unwrap() {
        let name = entry.unwrap().file_name();
        assert_eq!(name, "layer", "wrote layers/bp/{name:?} outside the layer");
    }
});

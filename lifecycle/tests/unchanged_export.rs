//! A rebuild's export of a launch + cache layer that was restored from the volume cache
//! and left alone reads neither the layer nor its cached tar: its diffID comes from its
//! file index, the image reuses the previous image's blob, and the cache step reuses
//! the committed tar on the restorer's verification stamp. Shown by the bytes the
//! process reads (`rchar`), so this file holds a single test: nothing else may read
//! meanwhile. A changed layer is read, hashed and added again.

use std::fs::{self, File, FileTimes};
use std::io::Write;
use std::path::{Path, PathBuf};

use buildpack_api::api::ApiVersion;
use buildpack_api::group::GroupElement;
use lifecycle::cache::volume::VolumeCache;
use lifecycle::export::{CacheTarget, ExportInputs, run};
use lifecycle::image::ImageStore;
use lifecycle::image::layout::LayoutStore;
use lifecycle::layer::Owner;
use lifecycle::layer::extract::{ExtractOptions, extract};
use lifecycle::log::{Level, Logger};
use lifecycle::unchanged::LayerIndex;
use platform_api::files::analyzed::{Analyzed, ImageIdentifier, RunImage};
use platform_api::labels::{CacheMetadata, LIFECYCLE_METADATA, LayersMetadata};

const OWNER: Owner = Owner {
    uid: 2222,
    gid: 3333,
};
const BP: &str = "test/bp";
const LAYER: &str = "big";
const NAME: &str = "example.com/app:latest";
/// The size of the layer's large file.
const BIG: usize = 16 << 20;

/// Bytes read by this process so far (every thread, through `read(2)` and friends).
fn bytes_read() -> u64 {
    let io = fs::read_to_string("/proc/self/io").unwrap();
    io.lines()
        .find_map(|l| l.strip_prefix("rchar: "))
        .unwrap()
        .parse()
        .unwrap()
}

struct Fixture {
    tmp: tempfile::TempDir,
    run_ref: String,
    store: LayoutStore,
    exports: usize,
}

impl Fixture {
    fn layers(&self) -> PathBuf {
        self.tmp.path().join("layers")
    }

    fn layer(&self) -> PathBuf {
        self.layers().join("test_bp").join(LAYER)
    }

    fn cache_dir(&self) -> PathBuf {
        self.tmp.path().join("cache")
    }

    /// Exports with `previous` (the image exported before) and the volume cache;
    /// returns the image digest and the bytes read meanwhile.
    fn export(&mut self, previous: Option<&str>) -> (String, u64) {
        self.exports += 1;
        let work = self.tmp.path().join(format!("work-{}", self.exports));
        fs::create_dir(&work).unwrap();
        let mut analyzed = Analyzed {
            run_image: Some(RunImage {
                reference: self.run_ref.clone(),
                image: "example.com/run:latest".into(),
                ..RunImage::default()
            }),
            ..Analyzed::default()
        };
        if let Some(previous) = previous {
            let stored = self.store.read(previous).unwrap().unwrap();
            let label = stored.image.config.label(LIFECYCLE_METADATA).unwrap();
            analyzed.metadata = LayersMetadata::parse(label).unwrap();
            analyzed.previous_image = Some(ImageIdentifier {
                reference: stored.identifier,
            });
        }
        let inputs = ExportInputs {
            platform_api: ApiVersion::new(0, 15),
            group: vec![GroupElement {
                id: BP.into(),
                version: "1.0.0".into(),
                api: "0.10".into(),
                ..GroupElement::default()
            }],
            analyzed,
            layers_dir: self.layers(),
            app_dir: self.tmp.path().join("app"),
            launcher_path: self.tmp.path().join("launcher"),
            lifecycle_sbom_dir: self.tmp.path().join("no-sbom"),
            launcher_sbom_dir: self.tmp.path().join("no-sbom"),
            project_metadata: Default::default(),
            run_image_for_export: Default::default(),
            default_process_type: String::new(),
            exec_env: String::new(),
            names: vec![NAME.into()],
            uid: OWNER.uid,
            gid: OWNER.gid,
            source_date_epoch: None,
            launcher_metadata: Default::default(),
            work_dir: work.clone(),
            extended_dir: None,
            extended_config: None,
        };
        let cache = VolumeCache::open(self.cache_dir(), None).unwrap();
        let before = bytes_read();
        let report = run(
            &inputs,
            &self.store,
            Some(CacheTarget::Volume(cache)),
            false,
            &Logger::new(Level::Error),
        )
        .unwrap();
        let read = bytes_read() - before;
        // Nothing of the size of the layer was made.
        for entry in walk(&work) {
            assert!(
                fs::metadata(&entry).unwrap().len() < (BIG as u64) / 2 || read > BIG as u64,
                "{} was written though nothing was read",
                entry.display()
            );
        }
        (report.image.digest, read)
    }

    /// Replaces `<layers>` by a fresh one holding what the restorer puts back: the
    /// layer's metadata and its contents from the volume cache, recorded in the index.
    fn restore(&self) {
        fs::rename(
            self.layers(),
            self.tmp.path().join(format!("layers-{}", self.exports)),
        )
        .unwrap();
        fs::create_dir_all(self.layers().join("config")).unwrap();
        fs::create_dir_all(self.layers().join("test_bp")).unwrap();
        fs::write(self.layers().join("config/metadata.toml"), "").unwrap();
        fs::write(
            self.layers().join("test_bp").join(format!("{LAYER}.toml")),
            "[types]\nlaunch = true\ncache = true\n",
        )
        .unwrap();
        let index = LayerIndex::new(&self.layers());
        let cache = VolumeCache::open(self.cache_dir(), None)
            .unwrap()
            .with_stamps(index.cache_stamps());
        let metadata: CacheMetadata = cache.metadata().unwrap();
        let diff_id = &metadata.for_buildpack(BP).unwrap().layers[LAYER].sha;
        let mut reader = cache.open_layer(diff_id).unwrap();
        let report = extract(
            &mut reader,
            Path::new("/"),
            &self.layer(),
            &ExtractOptions::default(),
        )
        .unwrap();
        reader.finish().unwrap();
        let skeleton = report.skeleton.expect("the whole tar was read");
        assert!(
            index
                .record(&self.layer(), OWNER, BP, LAYER, diff_id, &skeleton)
                .unwrap()
        );
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

#[test]
fn an_untouched_restored_layer_is_reused_without_being_read() {
    let tmp = tempfile::tempdir().unwrap();
    let run_image = spec_tests::images::run_image(&tmp.path().join("run"), &[]);
    let mut f = Fixture {
        run_ref: run_image.identifier(),
        store: LayoutStore::new(tmp.path().join("out")),
        tmp,
        exports: 0,
    };
    let layer = f.layer();
    fs::create_dir_all(layer.join("sub")).unwrap();
    fs::create_dir_all(f.layers().join("config")).unwrap();
    fs::write(f.layers().join("config/metadata.toml"), "").unwrap();
    fs::write(
        f.layers().join("test_bp").join(format!("{LAYER}.toml")),
        "[types]\nlaunch = true\ncache = true\n",
    )
    .unwrap();
    let mut big = File::create(layer.join("sub/big.bin")).unwrap();
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let block: Vec<u8> = (0..BIG / 8)
        .flat_map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()
        })
        .collect();
    big.write_all(&block).unwrap();
    drop(big);
    fs::write(layer.join("small.txt"), "small\n").unwrap();
    fs::create_dir(f.tmp.path().join("app")).unwrap();
    fs::create_dir(f.cache_dir()).unwrap();
    fs::write(f.tmp.path().join("app/app.txt"), "app\n").unwrap();
    fs::write(f.tmp.path().join("launcher"), "#!/bin/sh\n").unwrap();

    let (first, read) = f.export(None);
    assert!(read > BIG as u64, "the first export reads the layer");

    f.restore();
    let (second, read) = f.export(Some(NAME));
    assert_eq!(second, first, "the same image");
    assert!(
        read < (BIG as u64) / 4,
        "{read} bytes read: the layer or its cached tar was read"
    );
    let committed = f.cache_dir().join("committed");
    let metadata = VolumeCache::open(f.cache_dir(), None)
        .unwrap()
        .metadata()
        .unwrap();
    let diff_id = metadata.for_buildpack(BP).unwrap().layers[LAYER]
        .sha
        .clone();
    assert!(committed.join(format!("{diff_id}.tar")).is_file());
    assert!(
        !LayerIndex::new(&f.layers()).cache_stamps().exists(),
        "the commit removed the stamps"
    );

    // Content rewritten with the same size and modification time: read and re-added.
    let big = layer.join("sub/big.bin");
    let mtime = fs::metadata(&big).unwrap().modified().unwrap();
    let mut changed = fs::read(&big).unwrap();
    changed[BIG / 2] ^= 1;
    fs::write(&big, &changed).unwrap();
    File::options()
        .write(true)
        .open(&big)
        .unwrap()
        .set_times(FileTimes::new().set_modified(mtime))
        .unwrap();
    let (third, read) = f.export(Some(NAME));
    assert_ne!(third, first);
    assert!(read > BIG as u64, "the changed layer was read");
    let metadata = VolumeCache::open(f.cache_dir(), None)
        .unwrap()
        .metadata()
        .unwrap();
    let new_id = &metadata.for_buildpack(BP).unwrap().layers[LAYER].sha;
    assert_ne!(*new_id, diff_id);
    assert!(committed.join(format!("{new_id}.tar")).is_file());

    // The third export hashed the layer and recorded it: a fourth, in the same layers
    // directory, does not read the layer. (Nothing verified the committed tar in this
    // build, so the cache step reads that once.)
    let (fourth, read) = f.export(Some(NAME));
    assert_eq!(fourth, third);
    assert!(
        read > BIG as u64 && read < (BIG as u64) * 3 / 2,
        "{read} bytes read: the cached tar once, not the layer"
    );
}

//! The skeleton digest of a directory (the writer's tar of it without regular files'
//! contents, never opening them) equals the skeleton the extractor reports for the tar
//! the writer makes of it, and both equal an independent reading of the tar's bytes;
//! tars that extract to the same files but are not what the writer would make of them
//! are not recorded as the layer.

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};

use lifecycle::layer::extract::{ExtractOptions, extract};
use lifecycle::layer::{LayerOutputs, LayerSource, Owner, skeleton_digest, write_layer};
use lifecycle::unchanged::LayerIndex;
use proptest::prelude::*;
use sha2::{Digest, Sha256};

const OWNER: Owner = Owner {
    uid: 2222,
    gid: 3333,
};
const BP: &str = "test/bp";
const NAME: &str = "layer";
const BLOCK: usize = 512;

/// A file of a tree: path below the layer (parents created), size, seed of its bytes.
type FileSpec = (String, usize, u8);

/// A layer directory under a temporary `layers` directory.
struct Tree {
    tmp: tempfile::TempDir,
    layer: PathBuf,
}

impl Tree {
    /// A layer holding `files`, and symlinks `(path, target)`.
    fn new(files: &[FileSpec], symlinks: &[(String, String)]) -> Tree {
        let tmp = tempfile::tempdir().unwrap();
        let layer = tmp.path().join("layers").join("test_bp").join(NAME);
        fs::create_dir_all(&layer).unwrap();
        for (path, size, seed) in files {
            let path = layer.join(path);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            let data: Vec<u8> = (0..*size)
                .map(|i| (i as u8).wrapping_mul(*seed) ^ (i >> 8) as u8)
                .collect();
            fs::write(path, data).unwrap();
        }
        for (path, target) in symlinks {
            let path = layer.join(path);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            symlink(target, path).unwrap();
        }
        Tree { tmp, layer }
    }

    fn source(&self) -> LayerSource {
        LayerSource::dir(&self.layer, OWNER).unwrap()
    }

    /// The writer's tar of the layer: its bytes and diffID.
    fn tar(&self) -> (Vec<u8>, String) {
        let tar = self.tmp.path().join("layer.tar");
        let outputs = LayerOutputs {
            tar_file: Some(tar.clone()),
            ..LayerOutputs::default()
        };
        let written = write_layer(&self.source(), &outputs).unwrap();
        (fs::read(&tar).unwrap(), written.diff_id)
    }

    /// Replaces the layer with what `tar` extracts to; the skeleton the extractor
    /// reports.
    fn restore(&self, tar: &[u8]) -> String {
        fs::remove_dir_all(&self.layer).unwrap();
        let report = extract(tar, Path::new("/"), &self.layer, &ExtractOptions::default())
            .expect("the tar extracts");
        report.skeleton.expect("the whole tar was read")
    }

    /// Records the layer as restored from a tar with `diff_id` and `skeleton`.
    fn record(&self, diff_id: &str, skeleton: &str) -> bool {
        let index = LayerIndex::new(&self.tmp.path().join("layers"));
        let recorded = index
            .record(&self.layer, OWNER, BP, NAME, diff_id, skeleton)
            .unwrap();
        assert_eq!(
            index
                .unchanged_diff_id(&self.layer, OWNER, BP, NAME)
                .is_some(),
            recorded
        );
        recorded
    }
}

fn sha256(bytes: &[u8]) -> String {
    let hex: String = Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256:{hex}")
}

/// An entry of a tar: where its header starts, its type flag, and where its padded
/// data ends.
struct RawEntry {
    start: usize,
    kind: u8,
    data: usize,
    size: usize,
    end: usize,
}

/// The entries of a tar in order (extended headers are entries of their own) and
/// where the end of the archive starts, read from the bytes alone.
fn raw_entries(tar: &[u8]) -> (Vec<RawEntry>, usize) {
    let mut entries = Vec::new();
    let mut pos = 0;
    while !tar[pos..pos + BLOCK].iter().all(|&b| b == 0) {
        let header = &tar[pos..pos + BLOCK];
        let size_field = std::str::from_utf8(&header[124..136]).unwrap();
        let size = usize::from_str_radix(size_field.trim_matches(['\0', ' ']), 8).unwrap();
        let data = pos + BLOCK;
        let end = data + size.div_ceil(BLOCK) * BLOCK;
        entries.push(RawEntry {
            start: pos,
            kind: header[156],
            data,
            size,
            end,
        });
        pos = end;
    }
    (entries, pos)
}

/// The skeleton digest by definition: the SHA-256 of the tar's bytes without the
/// contents of regular files.
fn skeleton_of(tar: &[u8]) -> String {
    let (entries, trailer) = raw_entries(tar);
    let mut hasher = Sha256::new();
    for entry in &entries {
        hasher.update(&tar[entry.start..entry.data]);
        let content = if entry.kind == b'0' { entry.size } else { 0 };
        hasher.update(&tar[entry.data + content..entry.end]);
    }
    hasher.update(&tar[trailer..]);
    let hex: String = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256:{hex}")
}

/// Checks that the three skeletons of `tree` agree, that they leave file contents
/// out, and that the restored layer is recorded.
fn check(tree: &Tree) {
    let (tar, diff_id) = tree.tar();
    let by_definition = skeleton_of(&tar);
    let contents = raw_entries(&tar)
        .0
        .iter()
        .any(|e| e.kind == b'0' && e.size > 0);
    assert_eq!(
        by_definition != sha256(&tar),
        contents,
        "contents are left out"
    );
    assert_eq!(skeleton_digest(&tree.source()).unwrap(), by_definition);
    assert_eq!(tree.restore(&tar), by_definition);
    assert_eq!(skeleton_digest(&tree.source()).unwrap(), by_definition);
    assert!(tree.record(&diff_id, &by_definition));
}

#[test]
fn awkward_trees_have_one_skeleton_on_both_sides() {
    let long = "n".repeat(150);
    let files: Vec<FileSpec> = vec![
        ("empty".into(), 0, 1),
        ("one".into(), 1, 3),
        ("a/block".into(), 512, 5),
        ("a/block-and-one".into(), 513, 7),
        ("a/b/almost".into(), 511, 9),
        ("a/b/two-blocks".into(), 1024, 11),
        ("a/b/c/d/e/odd".into(), 70_001, 13),
        (format!("{long}/{long}"), 600, 15),
        ("non-ascii-é".into(), 3, 17),
    ];
    let symlinks = vec![
        ("a/link".to_string(), "block".to_string()),
        ("dangling".to_string(), "/nowhere/at/all".to_string()),
        (
            "a/b/long-target".to_string(),
            format!("../../{long}/{long}"),
        ),
    ];
    let tree = Tree::new(&files, &symlinks);
    fs::set_permissions(tree.layer.join("a/b"), fs::Permissions::from_mode(0o750)).unwrap();
    fs::set_permissions(tree.layer.join("one"), fs::Permissions::from_mode(0o4755)).unwrap();
    fs::create_dir(tree.layer.join("empty-dir")).unwrap();
    check(&tree);
    let (tar, _) = tree.tar();
    let kinds: Vec<u8> = raw_entries(&tar).0.iter().map(|e| e.kind).collect();
    assert!(
        kinds.contains(&b'x'),
        "long names and targets take PAX headers"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn random_trees_have_one_skeleton_on_both_sides(
        files in prop::collection::btree_map(
            ("[a-c]{1,2}(/[a-z]{1,3}){0,2}/f[a-z0-9]{0,120}", any::<u8>()),
            prop_oneof![0usize..3, 510usize..515, 1020usize..1030, 0usize..5000],
            0..12,
        ),
        link in "[a-z/.]{1,140}",
    ) {
        // A file path never doubles as a directory of another: those are dropped.
        let mut specs: Vec<FileSpec> = Vec::new();
        for ((path, seed), size) in files {
            let clash = specs.iter().any(|(other, _, _)| {
                other.starts_with(&format!("{path}/")) || path.starts_with(&format!("{other}/"))
            });
            if !clash {
                specs.push((path, size, seed));
            }
        }
        check(&Tree::new(&specs, &[("zz-link".to_string(), link)]));
    }
}

/// A tree of a few files for the tars below.
fn small_tree() -> Tree {
    let files: Vec<FileSpec> = vec![
        ("d/first".into(), 700, 3),
        ("d/second".into(), 20, 5),
        ("third".into(), 0, 7),
    ];
    Tree::new(&files, &[])
}

/// `tar` with the header at `start` changed by `edit` (its checksum fixed).
fn edit_header(tar: &mut [u8], start: usize, edit: impl FnOnce(&mut tar::Header)) {
    let mut header = tar::Header::new_old();
    header
        .as_mut_bytes()
        .copy_from_slice(&tar[start..start + BLOCK]);
    edit(&mut header);
    header.set_cksum();
    tar[start..start + BLOCK].copy_from_slice(header.as_bytes());
}

#[test]
fn entries_in_another_order_are_not_recorded() {
    let tree = small_tree();
    let (tar, _) = tree.tar();
    let (entries, _) = raw_entries(&tar);
    let files: Vec<&RawEntry> = entries.iter().filter(|e| e.kind == b'0').collect();
    let (first, second) = (files[0], files[1]);
    assert_eq!(
        first.end, second.start,
        "two files of one directory in a row"
    );
    let mut swapped = tar[..first.start].to_vec();
    swapped.extend_from_slice(&tar[second.start..second.end]);
    swapped.extend_from_slice(&tar[first.start..first.end]);
    swapped.extend_from_slice(&tar[second.end..]);
    let skeleton = tree.restore(&swapped);
    assert_eq!(skeleton, skeleton_of(&swapped));
    assert_ne!(skeleton, skeleton_of(&tar));
    // The same files are there, yet the writer would not make this tar of them.
    let (again, _) = tree.tar();
    assert_eq!(again, tar);
    assert!(!tree.record(&sha256(&swapped), &skeleton));
}

#[test]
fn a_parent_header_unlike_the_parent_on_disk_is_not_recorded() {
    let tree = small_tree();
    let (mut tar, _) = tree.tar();
    // The header of the `layers` directory, above the layer: extraction leaves the
    // directory on disk as it is, so the writer's header for it differs.
    let layers = tree.tmp.path().join("layers");
    let (entries, _) = raw_entries(&tar);
    let parent = entries
        .iter()
        .find(|e| {
            e.kind == b'5'
                && tar::Header::from_byte_slice(&tar[e.start..e.data])
                    .path()
                    .unwrap()
                    .strip_prefix("/")
                    .unwrap()
                    == layers.strip_prefix("/").unwrap()
        })
        .expect("the writer writes the layer's parents");
    let mode = fs::metadata(&layers).unwrap().permissions().mode() & 0o7777;
    edit_header(&mut tar, parent.start, |h| h.set_mode(mode ^ 0o005));
    let skeleton = tree.restore(&tar);
    assert_eq!(skeleton, skeleton_of(&tar));
    assert_eq!(
        fs::metadata(&layers).unwrap().permissions().mode() & 0o7777,
        mode,
        "a parent on disk is left alone"
    );
    assert!(!tree.record(&sha256(&tar), &skeleton));
}

#[test]
fn a_hard_link_entry_is_not_recorded() {
    // The writer tars hard-linked files as copies, so the tar of what a hard link entry
    // extracts to has another skeleton.
    let tree = small_tree();
    let (tar, _) = tree.tar();
    let (entries, _) = raw_entries(&tar);
    let files: Vec<&RawEntry> = entries.iter().filter(|e| e.kind == b'0').collect();
    let (first, second) = (files[0], files[1]);
    let target = tar::Header::from_byte_slice(&tar[first.start..first.data])
        .path()
        .unwrap()
        .into_owned();
    let mut linked = tar[..second.data].to_vec();
    edit_header(&mut linked, second.start, |h| {
        h.set_entry_type(tar::EntryType::Link);
        h.set_size(0);
        h.set_link_name(&target).unwrap();
    });
    linked.extend_from_slice(&tar[second.end..]);
    let skeleton = tree.restore(&linked);
    assert_eq!(skeleton, skeleton_of(&linked));
    let second_path = tree.layer.join("d/second");
    assert_eq!(
        fs::read(&second_path).unwrap().len(),
        700,
        "linked to the first"
    );
    assert!(!tree.record(&sha256(&linked), &skeleton));
}

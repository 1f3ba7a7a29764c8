//! App slices as the reference cuts them: a table of slice sets over the reference's own
//! test tree (plus cases of ours), each with the entries every resulting layer must list,
//! in order.

#[path = "golden/support.rs"]
mod support;

use std::fs;
use std::os::unix::fs::{MetadataExt, symlink};
use std::path::{Path, PathBuf};

use lifecycle::layer::{LayerError, Owner, app_slices};
use platform_api::files::metadata::Slice;

const OWNER: Owner = Owner {
    uid: 1234,
    gid: 4321,
};

/// The reference's `layers/testdata`, rebuilt: `target-dir` is the app.
fn testdata(root: &Path) -> PathBuf {
    let target = root.join("target-dir");
    for dir in [
        "target-dir/other-dir",
        "target-dir/some-dir",
        "dir-to-exclude",
        "target-di[r]",
    ] {
        fs::create_dir_all(root.join(dir)).unwrap();
    }
    for file in [
        "target-dir/file.txt",
        "target-dir/other-dir/other-file.md",
        "target-dir/other-dir/other-file.txt",
        "target-dir/some-dir/file.md",
        "target-dir/some-dir/some-file.txt",
        "dir-to-exclude/layer-file.txt",
        "target-di[r]/special-char-test-file.txt",
    ] {
        fs::write(root.join(file), b"").unwrap();
    }
    symlink("../dir-to-exclude", target.join("dir-link")).unwrap();
    symlink(
        "../dir-to-exclude/some-file.txt",
        target.join("file-link.txt"),
    )
    .unwrap();
    target
}

const ALL: &[&str] = &[
    ".",
    "dir-link",
    "file-link.txt",
    "file.txt",
    "other-dir",
    "other-dir/other-file.md",
    "other-dir/other-file.txt",
    "some-dir",
    "some-dir/file.md",
    "some-dir/some-file.txt",
];

fn slices(sets: &[&[&str]]) -> Vec<Slice> {
    sets.iter()
        .map(|paths| Slice {
            paths: paths.iter().map(|p| p.to_string()).collect(),
        })
        .collect()
}

/// The entries of each layer relative to `app` (`.` for the app dir itself), after
/// checking that a non-empty layer starts with the app dir's parents (own owners) and
/// that everything else is owned by [`OWNER`].
fn layer_entries(app: &Path, sets: &[&[&str]], scratch: &Path) -> Vec<Vec<String>> {
    let layers = app_slices(app, &slices(sets), OWNER).unwrap();
    assert_eq!(layers.len(), sets.len() + 1);
    let mut above: Vec<PathBuf> = app.ancestors().skip(1).map(Path::to_path_buf).collect();
    above.pop();
    above.reverse();
    layers
        .iter()
        .map(|layer| {
            let tar = support::our_tar(layer, scratch);
            let entries = support::entries(&tar);
            if entries.is_empty() {
                assert_eq!(tar, vec![0u8; 1024]);
                return Vec::new();
            }
            for (entry, parent) in entries.iter().zip(&above) {
                assert_eq!(Path::new(&entry.name()), parent);
                let meta = fs::metadata(parent).unwrap();
                assert_eq!(
                    (entry.uid, entry.gid),
                    (u64::from(meta.uid()), u64::from(meta.gid()))
                );
            }
            entries[above.len()..]
                .iter()
                .map(|entry| {
                    assert_eq!((entry.uid, entry.gid), (1234, 4321), "{}", entry.name());
                    let name = entry.name();
                    let rel = Path::new(&name).strip_prefix(app).unwrap();
                    if rel.as_os_str().is_empty() {
                        ".".to_string()
                    } else {
                        rel.display().to_string()
                    }
                })
                .collect()
        })
        .collect()
}

fn owned(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

/// What a case shows, its slices, and the entries of every resulting layer.
type Case<'a> = (&'a str, Vec<&'a [&'a str]>, Vec<Vec<&'a str>>);

#[test]
fn slice_table() {
    let tmp = tempfile::tempdir().unwrap();
    let scratch = tmp.path().join("scratch");
    fs::create_dir(&scratch).unwrap();
    let app = testdata(&tmp.path().join("testdata"));
    let without = |taken: &[&str]| -> Vec<&str> {
        ALL.iter().copied().filter(|n| !taken.contains(n)).collect()
    };
    let cases: Vec<Case> = vec![
        (
            "no slices: one app layer with everything",
            vec![],
            vec![ALL.to_vec()],
        ),
        (
            "the reference's n slices",
            vec![
                &["*.txt", "**/*.txt"],
                &["other-dir"],
                &["dir-link/*"],
                &["../**/dir-to-exclude"],
            ],
            vec![
                vec![
                    ".",
                    "file-link.txt",
                    "file.txt",
                    "other-dir",
                    "other-dir/other-file.txt",
                    "some-dir",
                    "some-dir/some-file.txt",
                ],
                vec![".", "other-dir", "other-dir/other-file.md"],
                vec![],
                vec![],
                vec![".", "dir-link", "some-dir", "some-dir/file.md"],
            ],
        ),
        (
            "a trailing slash matches the directory",
            vec![&["some-dir/"]],
            vec![
                vec![
                    ".",
                    "some-dir",
                    "some-dir/file.md",
                    "some-dir/some-file.txt",
                ],
                without(&["some-dir", "some-dir/file.md", "some-dir/some-file.txt"]),
            ],
        ),
        (
            "a directory whose children are all taken is taken",
            vec![&["other-dir/*"]],
            vec![
                vec![
                    ".",
                    "other-dir",
                    "other-dir/other-file.md",
                    "other-dir/other-file.txt",
                ],
                without(&[
                    "other-dir",
                    "other-dir/other-file.md",
                    "other-dir/other-file.txt",
                ]),
            ],
        ),
        (
            "an earlier slice wins; a matched directory brings what is left of it",
            vec![&["some-dir/file.md"], &["some-dir"]],
            vec![
                vec![".", "some-dir", "some-dir/file.md"],
                vec![".", "some-dir", "some-dir/some-file.txt"],
                without(&["some-dir", "some-dir/file.md", "some-dir/some-file.txt"]),
            ],
        ),
        (
            "everything taken: later slices and the app layer are empty",
            vec![&["*"], &["file.txt"]],
            vec![ALL.to_vec(), vec![], vec![]],
        ),
        (
            "absolute patterns match nothing",
            vec![&["/file.txt"]],
            vec![vec![], ALL.to_vec()],
        ),
        (
            "classes, ? and cleaning",
            vec![&["./file.[tm][xd]?"], &["other-dir/../some-dir/?ile.md"]],
            vec![
                vec![".", "file.txt"],
                vec![".", "some-dir", "some-dir/file.md"],
                without(&["file.txt", "some-dir/file.md"]),
            ],
        ),
    ];
    for (what, sets, want) in cases {
        let got = layer_entries(&app, &sets, &scratch);
        let want: Vec<Vec<String>> = want.iter().map(|names| owned(names)).collect();
        assert_eq!(got, want, "{what}");
    }

    // A directory name that looks like a pattern is not one.
    let special = tmp.path().join("testdata/target-di[r]");
    assert_eq!(
        layer_entries(&special, &[&["*"]], &scratch),
        [owned(&[".", "special-char-test-file.txt"]), vec![]]
    );
}

#[test]
fn app_layers_sort_by_full_path_unlike_directory_layers() {
    let tmp = tempfile::tempdir().unwrap();
    let app = tmp.path().join("app");
    fs::create_dir_all(app.join("a/c")).unwrap();
    for file in ["a-b", "a.txt", "a/c/z"] {
        fs::write(app.join(file), file).unwrap();
    }
    // "/" sorts after "-" and ".", so a's children come after its siblings.
    assert_eq!(
        layer_entries(&app, &[], tmp.path()),
        [owned(&[".", "a", "a-b", "a.txt", "a/c", "a/c/z"])]
    );
}

#[test]
fn a_malformed_pattern_fails_as_the_reference_does() {
    let tmp = tempfile::tempdir().unwrap();
    let app = testdata(&tmp.path().join("testdata"));
    let err = app_slices(&app, &slices(&[&["["]]), OWNER).unwrap_err();
    assert!(matches!(err, LayerError::BadPattern { .. }));
    assert_eq!(
        err.to_string(),
        "failed to check if 'dir-link' matches '[': syntax error in pattern"
    );
    // A pattern that never reaches its malformed part is no error, as in Go.
    assert!(app_slices(&app, &slices(&[&["zzz*["]]), OWNER).is_ok());
}

#[test]
fn a_missing_app_dir_fails() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("app");
    let err = app_slices(&missing, &[], OWNER).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("lstat {}: no such file or directory", missing.display())
    );
}

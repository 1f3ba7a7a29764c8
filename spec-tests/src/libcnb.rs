//! The libcnb test buildpacks (`spec-tests/buildpacks/libcnb`), packaged as
//! `cargo libcnb package` lays them out: one directory per buildpack, named for its ID
//! with `/` as `_`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The directory holding the packaged buildpacks: `CNB_TEST_LIBCNB_BUILDPACKS` when set
/// (scripts/test sets it from scripts/build-test-buildpacks), else what
/// scripts/build-test-buildpacks prints, run once per test process.
pub fn buildpacks_dir() -> &'static Path {
    PACKAGED.get_or_init(|| {
        if let Some(dir) = std::env::var_os("CNB_TEST_LIBCNB_BUILDPACKS") {
            return PathBuf::from(dir);
        }
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/build-test-buildpacks");
        let out = Command::new(&script)
            .output()
            .unwrap_or_else(|e| panic!("{}: {e}", script.display()));
        assert!(
            out.status.success(),
            "{} failed:\n{}{}",
            script.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let printed = String::from_utf8(out.stdout).expect("a UTF-8 path");
        PathBuf::from(printed.trim_end())
    })
}

/// The directory [`buildpacks_dir`] found.
static PACKAGED: OnceLock<PathBuf> = OnceLock::new();

/// The packaged buildpack with `id`, inside [`buildpacks_dir`].
pub fn buildpack(id: &str) -> PathBuf {
    let dir = buildpacks_dir().join(id.replace('/', "_"));
    assert!(
        dir.join("buildpack.toml").is_file(),
        "{} has no packaged buildpack {id}",
        buildpacks_dir().display()
    );
    dir
}

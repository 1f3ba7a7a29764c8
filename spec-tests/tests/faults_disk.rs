//! Full disks and read-only targets, the way pack runs an untrusted builder into an OCI
//! layout with a volume cache: a target on a small tmpfs (ENOSPC) or remounted read-only
//! (EROFS) gives a clear error (the image: exit 62; a full cache: the reference's
//! warnings, the image still made; a read-only cache: exit 1 before anything is written), leaves nothing that names missing blobs, and the next build,
//! with room again, restores only what it can verify and succeeds.

use std::path::{Path, PathBuf};
use std::process::Command;

use spec_tests::examples::{assert_first_build, assert_rebuild};
use spec_tests::pack::{Pack, Store};
use spec_tests::{BUILD_GID, BUILD_UID, run};

/// A mount made for a test, lazily unmounted on drop.
struct Mounted(PathBuf);

impl Mounted {
    /// A tmpfs of `size` (e.g. `2m`) over `dir`, owned by the build user.
    fn tmpfs(dir: &Path, size: &str) -> Mounted {
        let options = format!("size={size},uid={BUILD_UID},gid={BUILD_GID},mode=0755");
        run(Command::new("mount")
            .args(["-t", "tmpfs", "-o", &options, "tmpfs"])
            .arg(dir))
        .expect_code(0);
        Mounted(dir.to_path_buf())
    }

    /// `dir` bound over itself and remounted read-only.
    fn read_only(dir: &Path) -> Mounted {
        run(Command::new("mount").arg("--bind").arg(dir).arg(dir)).expect_code(0);
        let mounted = Mounted(dir.to_path_buf());
        run(Command::new("mount")
            .args(["-o", "remount,ro,bind"])
            .arg(dir))
        .expect_code(0);
        mounted
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn layout_pack(name: &str) -> Pack {
    Pack::new(Store::Layout, name)
}

/// The exporter of the current build, expected to fail with `code` and `message`.
fn export_fails(pack: &Pack, code: i32, message: &str) {
    let (container, argv) = pack.exporter();
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let ran = container.run(&argv);
    ran.expect_code(code).expect_output(message);
    assert!(!ran.all().contains("panicked"), "{}", ran.all());
}

/// The exporter's warning that the cache (or a layer of it) was not written, as the
/// reference words it, with the system's reason.
fn assert_cache_warning(out: &str, reason: &str) {
    let warned = out.contains("Warning: Failed to export cache")
        || out.contains("Warning: Failed to cache layer 'examples/tools:tools'");
    assert!(warned, "no cache warning in\n{out}");
    assert!(
        out.to_lowercase().contains(reason),
        "no {reason:?} in\n{out}"
    );
}

#[test]
fn an_image_layout_on_a_full_disk_fails_cleanly_and_the_next_build_succeeds() {
    let pack = layout_pack("full-layout-app");
    let dir = pack.layout_image_dir();
    {
        let _full = Mounted::tmpfs(&dir, "2m");
        pack.four_phases();
        export_fails(&pack, 62, "No space left on device");
        pack.assert_stored_image_whole();
    }
    // Room again: the build goes through, with no previous image to trust.
    assert_first_build(&pack.five_phases());
    pack.check_image();
}

#[test]
fn a_read_only_image_layout_fails_cleanly_and_the_next_build_succeeds() {
    let pack = layout_pack("ro-layout-app");
    assert_first_build(&pack.five_phases());
    let dir = pack.layout_image_dir();
    {
        let _ro = Mounted::read_only(&dir);
        pack.four_phases();
        export_fails(&pack, 62, "Read-only file system");
        pack.assert_stored_image_whole();
    }
    assert_rebuild(&pack.five_phases());
    pack.check_image();
}

#[test]
fn a_volume_cache_on_a_full_or_read_only_disk_and_later_builds_trusting_only_what_verifies() {
    let pack = layout_pack("cache-fault-app");
    let cache = pack.pod.volume("cache");
    {
        // The 4 MB tools layer does not fit: the image is made, the cache is not.
        let _full = Mounted::tmpfs(&cache, "1m");
        let out = pack.five_phases();
        assert_cache_warning(&out, "no space left on device");
        pack.check_image();
        // The next build finds no sound cache and installs the tools again.
        let out = pack.five_phases();
        assert!(out.contains("installing tools"), "{out}");
        assert!(!out.contains("tools restored from the cache"), "{out}");
        pack.check_image();
    }
    // Room again: a cache is committed. A read-only cache volume then fails the
    // exporter before it writes anything (as the reference: the volume cache cannot make
    // its staging directory), and the cache stays as it was for later builds.
    pack.five_phases();
    pack.four_phases();
    {
        let _ro = Mounted::read_only(&cache);
        export_fails(&pack, 1, "failed to create volume cache");
        export_fails(&pack, 1, "read-only file system");
        pack.assert_stored_image_whole();
    }
    assert_rebuild(&pack.five_phases());
    pack.check_image();
}

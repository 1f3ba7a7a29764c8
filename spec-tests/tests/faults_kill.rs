//! An exporter killed (SIGKILL) at many points of an export and of its cache commit, as
//! an OOM killer or a cancelled CI job does: after each kill the next build, run the way
//! pack runs an untrusted builder, must succeed, restoring only verified cache content,
//! and its image must run. The kills are injected by strace on the n-th call of a system
//! call that changes files (any thread of the exporter), for n growing until the export
//! gets through. Right after each kill, whatever image the store holds under the name
//! must be whole (no index or tag naming missing blobs). The figures are printed.

use spec_tests::examples::{assert_first_build, assert_rebuild};
use spec_tests::pack::{Pack, Store};
use spec_tests::registry::Registry;

/// The calls a kill is injected into: what creates, fills, links, renames, flushes or
/// removes files and directories (layout blobs and index, cache layers and metadata).
const SYSCALLS: [&str; 11] = [
    "openat",
    "write",
    "writev",
    "sendto",
    "mkdirat",
    "linkat",
    "renameat2",
    "rename",
    "fsync",
    "unlinkat",
    "fchownat",
];

/// The next n at which a kill lands: 1, 2, 3, 4, 6, 9, 13, … (half as far again each
/// time) until the export completes.
fn next(n: usize) -> usize {
    (n + 1).max(n * 3 / 2)
}

/// Kills the exporter of `pack`'s current build at every kill point, each followed by a
/// complete build that must reuse what is sound and run. Returns (kill points, kills).
fn kill_everywhere(pack: &Pack) -> (usize, usize) {
    let (mut points, mut kills) = (0, 0);
    for syscall in SYSCALLS {
        let mut n = 1;
        loop {
            points += 1;
            let (container, argv) = pack.exporter();
            let inject = format!("inject={syscall}:signal=KILL:when={n}");
            let mut traced = vec!["strace", "-f", "-qq", "-o", "/dev/null", "-e", &inject];
            traced.extend(argv.iter().map(String::as_str));
            let ran = container.run(&traced);
            assert!(
                !ran.all().contains("panicked"),
                "{syscall} #{n}: {}",
                ran.all()
            );
            if ran.code == 0 {
                break;
            }
            kills += 1;
            pack.assert_stored_image_whole();
            // The next build: fresh layers, the cache and the previous image as the
            // killed export left them.
            let out = pack.five_phases();
            assert_rebuild_or_fresh(&out, syscall, n);
            pack.check_image();
            n = next(n);
        }
    }
    (points, kills)
}

/// After a kill the next build either restored the tools layer from a sound cache or
/// made it again; it never restores something it cannot verify (a corrupt layer would
/// fail the restorer or the buildpack's check of the restored tool).
fn assert_rebuild_or_fresh(out: &str, syscall: &str, n: usize) {
    let restored = out.contains("tools restored from the cache: example-tool 1.2.3");
    let fresh = out.contains("installing tools");
    assert!(
        restored ^ fresh,
        "{syscall} #{n}: neither restored nor installed once:\n{out}"
    );
}

#[test]
fn an_exporter_killed_anywhere_in_a_layout_export_and_volume_cache_commit() {
    let pack = Pack::new(Store::Layout, "killed-app");
    assert_first_build(&pack.five_phases());
    assert_rebuild(&pack.five_phases());
    // The layers of the last build are kept: every killed export exports them again.
    pack.four_phases();
    let (points, kills) = kill_everywhere(&pack);
    spec_tests::figures(&format!(
        "kill_figures: store=layout cache=volume kill_points={points} kills={kills} failed_rebuilds=0"
    ));
    assert!(kills >= 30, "too few kills landed: {kills}");
}

#[test]
fn an_exporter_killed_anywhere_in_a_registry_export_and_image_cache_commit() {
    let registry = Registry::basic("kill-user", "kill-secret");
    let cache = registry.image("killed/app-cache:latest");
    let mut pack = Pack::new(Store::Registry(Box::new(registry)), "killed/app");
    pack.cache_image = Some(cache);
    assert_first_build(&pack.five_phases());
    pack.four_phases();
    let (points, kills) = kill_everywhere(&pack);
    spec_tests::figures(&format!(
        "kill_figures: store=registry cache=image kill_points={points} kills={kills} failed_rebuilds=0"
    ));
    assert!(kills >= 20, "too few kills landed: {kills}");
}

//! A flaky registry: a fault-injecting proxy in front of the real one answers a share of
//! requests with a connection reset, 500, 502, 503 or 429 (with `Retry-After`), a stall,
//! or a response cut short, from a seeded generator. Exports with an image cache and
//! rebases go through it many times. Each run either succeeds after the client's
//! bounded retries or fails with the spec's exit code (62 exporting, 72 rebasing, or 1
//! as the reference when an image cannot even be opened); and
//! after every run, whatever the registry holds under the app's and the cache's tags is
//! whole (read straight from the registry: every blob there, with its digest), so no
//! later pull or restore meets a tag naming missing or corrupt blobs. The figures are
//! printed.

use std::process::Command;
use std::time::Duration;

use spec_tests::export::built;
use spec_tests::registry::{Fault, FaultProxy, Registry};
use spec_tests::{BUILD_GID, BUILD_UID, Ran, run};

const LATEST: &str = "0.15";
/// (requests faulted per 1000, exports and as many rebases): a flaky registry the
/// retries get through, then one so bad that runs fail.
const PHASES: [(u64, usize); 2] = [(120, 10), (600, 4)];

/// How a failed export ends: 62 when saving fails; 1 when the images cannot even be
/// opened (the reference's `FailErr` for "get run image ID" and the like).
const EXPORT_FAILURES: [i32; 2] = [62, 1];
/// How a failed rebase ends, likewise.
const REBASE_FAILURES: [i32; 2] = [72, 1];

fn faults() -> Vec<Fault> {
    vec![
        Fault::Reset,
        Fault::Status(500),
        Fault::Status(502),
        Fault::Status(503),
        Fault::StatusRetryAfter(429, 1),
        Fault::Stall(Duration::from_millis(300)),
        Fault::Truncate,
    ]
}

/// Whether `tag` of `registry` (read directly) is whole: absent, or copied out with
/// every blob verified by skopeo. Returns false for a tag naming missing or corrupt
/// blobs.
fn whole_or_absent(registry: &Registry, tag: &str) -> bool {
    let name = format!("docker://{}", registry.image(tag));
    let inspect = run(Command::new("skopeo")
        .args(["inspect", "--raw", "--tls-verify=false"])
        .arg(&name));
    if inspect.code != 0 {
        return true;
    }
    let dir = tempfile::tempdir().unwrap();
    let copy = run(Command::new("skopeo")
        .args(["copy", "-q", "--src-tls-verify=false"])
        .arg(&name)
        .arg(format!("oci:{}:latest", dir.path().join("copy").display())));
    copy.code == 0
}

/// What the runs gave.
#[derive(Default)]
struct Figures {
    runs: usize,
    successes: usize,
    clean_failures: usize,
    corruptions: usize,
}

impl Figures {
    /// Counts a run that must end with 0, or with one of `failure_codes` and an error
    /// line; `whole` is what the tags were found to be after it.
    fn count(&mut self, what: &str, ran: &Ran, failure_codes: &[i32], whole: bool) {
        self.runs += 1;
        assert!(
            !ran.all().contains("panicked"),
            "{what} panicked:\n{}",
            ran.all()
        );
        match ran.code {
            0 => self.successes += 1,
            code if failure_codes.contains(&code) && ran.stdout.contains("ERROR: failed to") => {
                self.clean_failures += 1
            }
            code => panic!(
                "{what} ended with {code}, not 0 or one of {failure_codes:?}:\n{}",
                ran.all()
            ),
        }
        if !whole {
            self.corruptions += 1;
        }
    }
}

/// `runs` exports with the image cache, then `runs` rebases, through `proxy`.
fn through(
    e: &spec_tests::export::Exported,
    registry: &Registry,
    proxy: &FaultProxy,
    runs: usize,
    figures: &mut Figures,
) {
    let run_ref = format!("{}/run@{}", proxy.host(), e.run_image.digest);
    e.analyze(&run_ref, None);
    let app = format!("{}/app:latest", proxy.host());
    let cache = format!("{}/app-cache:latest", proxy.host());
    for i in 0..runs {
        let ran = e.exporter(&["-cache-image", &cache, &app], &[]);
        let whole = whole_or_absent(registry, "app:latest")
            && whole_or_absent(registry, "app-cache:latest");
        figures.count(&format!("export {i}"), &ran, &EXPORT_FAILURES, whole);
    }
    let (uid, gid) = (BUILD_UID.to_string(), BUILD_GID.to_string());
    let report = e
        .build
        .path("layers/rebase-report.toml")
        .display()
        .to_string();
    let run_image = format!("{}/run:latest", proxy.host());
    for i in 0..runs {
        let mut cmd = e.build.phase_as_root(
            "rebaser",
            &[
                "-uid",
                &uid,
                "-gid",
                &gid,
                "-report",
                &report,
                "-force",
                "-run-image",
                &run_image,
                &app,
            ],
        );
        let ran = run(&mut cmd);
        let whole = whole_or_absent(registry, "app:latest");
        figures.count(&format!("rebase {i}"), &ran, &REBASE_FAILURES, whole);
    }
}

#[test]
fn exports_with_an_image_cache_and_rebases_through_a_flaky_registry() {
    let e = built(LATEST);
    let registry = Registry::anonymous();
    registry.seed(&e.run_image.path, "latest", "run:latest");
    let mut figures = Figures::default();
    let (mut requests, mut injected) = (0, 0);
    for (seed, (per_mille, runs)) in PHASES.into_iter().enumerate() {
        let proxy = FaultProxy::random(registry.host(), 0x5eed + seed as u64, per_mille, faults());
        through(&e, &registry, &proxy, runs, &mut figures);
        let seen = proxy.requests();
        requests += seen.len();
        injected += seen.iter().filter(|r| r.fault.is_some()).count();
    }
    spec_tests::figures(&format!(
        "fault_figures: runs={} requests={requests} faults_injected={injected} successes={} clean_failures={} corruptions={}",
        figures.runs, figures.successes, figures.clean_failures, figures.corruptions
    ));
    assert_eq!(
        figures.corruptions, 0,
        "a tag named missing or corrupt blobs"
    );
    assert!(injected >= 50, "too few faults injected: {injected}");
    assert!(figures.successes > 0, "no run got through the faults");
    assert!(
        figures.clean_failures > 0,
        "no run failed, even at 60 % faults"
    );

    // After all that, a clean export straight to the registry works and leaves a whole
    // image and cache.
    let direct_run = format!("{}/run@{}", registry.host(), e.run_image.digest);
    e.analyze(&direct_run, None);
    e.exporter(
        &[
            "-cache-image",
            &registry.image("app-cache:latest"),
            &registry.image("app:latest"),
        ],
        &[],
    )
    .expect_code(0);
    assert!(whole_or_absent(&registry, "app:latest"));
    assert!(whole_or_absent(&registry, "app-cache:latest"));
}

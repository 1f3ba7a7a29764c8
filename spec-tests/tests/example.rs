//! The README's main job: `scripts/example` in each of its modes, on a state directory of
//! its own, as a user runs it. The first layout build makes every layer, the second
//! restores the cache and reuses every layer (same image digest), the rebase moves the
//! app onto a new run image release, and the registry and daemon builds run too; every
//! image prints the app's output, with the env, exec.d and process types of buildpacks of
//! every supported Buildpack API.

use std::path::Path;
use std::process::Command;

use spec_tests::examples::{PROCESSES, app_output};
use spec_tests::{Ran, run};

fn example(state: &Path, mode: &str) -> Ran {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/example");
    let ran = run(Command::new(script)
        .arg(mode)
        .env("EXAMPLE_PROFILE", "dev")
        .env("EXAMPLE_DIR", state));
    ran.expect_code(0);
    ran
}

/// The image digest of the build's report.
fn digest(ran: &Ran) -> String {
    let out = ran.all();
    let line = out
        .lines()
        .find(|l| l.trim_start().starts_with("digest = "))
        .unwrap_or_else(|| panic!("no digest in the report:\n{out}"));
    line.split('"').nth(1).unwrap().to_string()
}

#[test]
fn the_example_builds_rebuilds_rebases_and_runs_in_every_store() {
    let state = tempfile::Builder::new()
        .prefix("cnb-example-")
        .tempdir()
        .unwrap();
    let first = example(state.path(), "layout");
    first
        .expect_output(&app_output(1))
        .expect_output("installing tools")
        .expect_output("making greeting layer v2")
        .expect_output("Adding layer 'examples/tools:tools'")
        .expect_output("Adding label 'org.example.built-with'")
        .expect_output("reused from the previous image and the cache: 0");
    for (process, output) in PROCESSES {
        first.expect_output(&format!(
            "===> RUNNING process '{process}' (/cnb/process/{process})\n{output}"
        ));
    }
    for api in ["0.7", "0.8", "0.9", "0.10", "0.11", "0.12"] {
        first.expect_output(&format!("(Buildpack API {api}"));
    }

    let second = example(state.path(), "layout");
    second
        .expect_output(&app_output(1))
        .expect_output("Restoring data for \"examples/tools:tools\" from cache")
        .expect_output("tools restored from the cache: example-tool 1.2.3")
        .expect_output("greeting layer v2 is in the previous image: reusing it")
        .expect_output("Reusing layer 'examples/greeting:greeting'")
        .expect_output("Reusing layer 'examples/tools:tools'")
        .expect_output("Reusing layer 'samples/hello-world:hello'")
        .expect_output("Reused 2/2 app layer(s)")
        .expect_output("Reusing cache layer 'examples/tools:tools'")
        .expect_no_output("Adding layer");
    assert_eq!(digest(&first), digest(&second), "a rebuild of the same app");

    let rebased = example(state.path(), "rebase");
    rebased.expect_output(&app_output(2));
    assert_ne!(digest(&rebased), digest(&second));

    for mode in ["registry", "daemon"] {
        example(state.path(), mode)
            .expect_output(&app_output(1))
            .expect_output("Adding layer 'examples/tools:tools'");
        example(state.path(), mode)
            .expect_output(&app_output(1))
            .expect_output("Restoring data for \"examples/tools:tools\" from cache")
            .expect_output("Reusing layer 'examples/greeting:greeting'")
            .expect_output("Reusing layer 'examples/tools:tools'");
    }
}

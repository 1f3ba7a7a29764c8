//! Real buildpacks written with libcnb.rs (spec-tests/buildpacks/libcnb, packaged by
//! scripts/build-test-buildpacks) built into an OCI layout by our creator, as pack runs
//! it (root with `-uid`/`-gid`, a volume cache): libcnb checks the Buildpack API and
//! reads the target from the environment, its cached layer API keeps a restored layer
//! whose metadata matches and replaces one whose metadata is outdated, its layer
//! environment (override, default, prepend, append, build-only, per process) and exec.d
//! program apply at launch in the image.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use spec_tests::export::{read_image, tool};
use spec_tests::images;
use spec_tests::{Build, Ran, run};

const PLATFORM_API: &str = "0.15";
const ENV_BP: &str = "libcnb-test/env";
const EXECD_BP: &str = "libcnb-test/execd";

/// A build tree with the two libcnb buildpacks in its order, a run image in the output
/// layout, a volume cache, and run.toml naming the run image.
struct LibcnbBuild {
    build: Build,
}

impl LibcnbBuild {
    fn new() -> LibcnbBuild {
        let build = Build::new(PLATFORM_API);
        for id in [ENV_BP, EXECD_BP] {
            let to = build.path(&format!("cnb/buildpacks/{}/1.0.0", id.replace('/', "_")));
            fs::create_dir_all(to.parent().unwrap()).unwrap();
            // -a keeps bin/detect a link to bin/build, as libcnb wants its name.
            tool(
                Command::new("cp")
                    .arg("-a")
                    .arg(spec_tests::libcnb::buildpack(id))
                    .arg(&to),
            );
        }
        build.order(&format!(
            "[[order]]\n[[order.group]]\nid = \"{ENV_BP}\"\nversion = \"1.0.0\"\n\
             [[order.group]]\nid = \"{EXECD_BP}\"\nversion = \"1.0.0\"\n"
        ));
        build.write("workspace/app.txt", "app v1\n");
        build.write(
            "cnb/run.toml",
            "[[images]]\nimage = \"example.com/run:latest\"\n",
        );
        images::run_image(&build.path("layout-repo/example.com/run/latest"), &[]);
        fs::create_dir_all(build.path("cache")).unwrap();
        LibcnbBuild { build }
    }

    /// Runs the creator as root (dropping to the build user) into the layout with the
    /// volume cache, on a fresh layers directory as platforms give every build.
    fn create(&self) -> Ran {
        let b = &self.build;
        let layers = b.path("layers");
        fs::remove_dir_all(&layers).unwrap();
        fs::create_dir_all(&layers).unwrap();
        let s = |rel: &str| b.path(rel).display().to_string();
        let (layout, run_toml, cache) = (s("layout-repo"), s("cnb/run.toml"), s("cache"));
        let mut cmd = b.creator_as_root(&[
            "-layout",
            "-layout-dir",
            &layout,
            "-run",
            &run_toml,
            "-cache-dir",
            &cache,
            "-log-level",
            "debug",
            "my-app",
        ]);
        cmd.env("CNB_EXPERIMENTAL_MODE", "warn");
        run(&mut cmd)
    }

    fn image_dir(&self) -> PathBuf {
        self.build
            .path("layout-repo/index.docker.io/library/my-app/latest")
    }

    /// A layer directory of a buildpack in the layers directory.
    fn layer(&self, id: &str, name: &str) -> PathBuf {
        self.build
            .path("layers")
            .join(id.replace('/', "_"))
            .join(name)
    }
}

/// The rest of the line after `prefix` in the output.
fn line_after(ran: &Ran, prefix: &str) -> String {
    let all = ran.all();
    all.lines()
        .find_map(|l| l.split_once(prefix).map(|(_, rest)| rest.to_string()))
        .unwrap_or_else(|| panic!("no {prefix:?} in\n{all}"))
}

/// `env` output as a map.
fn env_map(out: &str) -> BTreeMap<String, String> {
    out.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The web process's environment: every kind of layer modification, in layer order,
/// per process, launch-only; the exec.d program's variables, set after the layers'.
fn check_launch_env(b: &LibcnbBuild, runtime_version: &str) {
    let runtime = b.layer(ENV_BP, "runtime");
    let image = images::Unpacked::new(&b.image_dir());
    let env = env_map(&image.run(None));
    let want = [
        ("RUNTIME_HOME", runtime.display().to_string()),
        ("RUNTIME_VERSION", runtime_version.to_string()),
        ("APP_PATH", "/settings/path:/runtime/path".to_string()),
        ("APP_FLAGS", "--base --verbose".to_string()),
        ("APP_MODE", "from-runtime".to_string()),
        ("WEB_ONLY", "yes".to_string()),
        ("EXECD_GREETING", "hello from exec.d".to_string()),
        ("EXECD_SAW_APP_MODE", "from-runtime".to_string()),
    ];
    for (key, value) in want {
        assert_eq!(env.get(key), Some(&value), "{key} in {env:#?}");
    }
    assert!(!env.contains_key("RUNTIME_BUILD_ONLY"), "{env:#?}");
    let path = &env["PATH"];
    assert!(
        path.split(':').any(|p| Path::new(p) == runtime.join("bin")),
        "{path}"
    );
    // Another process: the runtime layer's bin on PATH, no web-only variable.
    assert_eq!(
        image.run(Some("version")),
        format!(
            "runtime {runtime_version} in {}, web-only unset\n",
            runtime.display()
        )
    );
}

#[test]
fn libcnb_buildpacks_build_rebuild_from_cache_and_run() {
    let b = LibcnbBuild::new();
    let runtime = b.layer(ENV_BP, "runtime");

    // First build: every layer new.
    let first = b.create();
    first
        .expect_code(0)
        .expect_output("===> BUILDING")
        .expect_output(&format!(
            "libcnb-test/execd: build env RUNTIME_HOME={} RUNTIME_BUILD_ONLY=yes APP_MODE=unset",
            runtime.display()
        ))
        .expect_output("Adding layer 'libcnb-test/env:runtime'")
        .expect_output("Adding layer 'libcnb-test/env:settings'")
        .expect_output("Adding layer 'libcnb-test/execd:execd'")
        .expect_output("Adding cache layer 'libcnb-test/env:runtime'")
        .expect_output("Setting default process type 'web'")
        .expect_no_output("Adding cache layer 'libcnb-test/env:settings'")
        .expect_no_output("reusing cached runtime");
    let marker1 = line_after(
        &first,
        "libcnb-test/env: installing runtime 1.0 (new layer), marker ",
    );
    // What libcnb wrote: layer types and metadata, env files by scope, the exec.d copy.
    let runtime_toml = fs::read_to_string(runtime.with_extension("toml")).unwrap();
    let parsed: toml::Table = toml::from_str(&runtime_toml).unwrap();
    assert_eq!(
        parsed["metadata"]["version"].as_str(),
        Some("1.0"),
        "{runtime_toml}"
    );
    for t in ["build", "launch", "cache"] {
        assert_eq!(parsed["types"][t].as_bool(), Some(true), "{runtime_toml}");
    }
    for rel in [
        "runtime/env/RUNTIME_HOME.override",
        "runtime/env.build/RUNTIME_BUILD_ONLY.override",
        "runtime/env.launch/APP_MODE.default",
        "settings/env.launch/APP_PATH.prepend",
        "settings/env.launch/APP_PATH.delim",
        "settings/env.launch/web/WEB_ONLY.override",
    ] {
        assert!(b.layer(ENV_BP, rel).is_file(), "{rel}");
    }
    let exec_d = b.layer(EXECD_BP, "execd/exec.d/greeting");
    assert_eq!(
        fs::metadata(&exec_d).unwrap().permissions().mode() & 0o111,
        0o111
    );
    let (digest1, _, _) = read_image(&b.image_dir());
    check_launch_env(&b, "1.0");

    // Second build, the app changed: libcnb keeps the restored runtime layer (its
    // metadata matches), which is restored from the cache and not rebuilt.
    b.build.write("workspace/app.txt", "app v2\n");
    let second = b.create();
    second
        .expect_code(0)
        .expect_output(&format!(
            "libcnb-test/env: reusing cached runtime 1.0, marker {marker1}"
        ))
        .expect_output("Restoring data for \"libcnb-test/env:runtime\" from cache")
        .expect_output("Reusing layer 'libcnb-test/env:runtime'")
        .expect_output("Reusing cache layer 'libcnb-test/env:runtime'")
        // Uncached layers written again the same way give the same layers.
        .expect_output("Reusing layer 'libcnb-test/env:settings'")
        .expect_output("Reusing layer 'libcnb-test/execd:execd'")
        .expect_output("Added 1/1 app layer(s)")
        .expect_no_output("installing runtime");
    assert_eq!(
        fs::read_to_string(runtime.join("marker.txt")).unwrap(),
        format!("{marker1}\n")
    );
    let (digest2, _, _) = read_image(&b.image_dir());
    assert_ne!(digest1, digest2);
    check_launch_env(&b, "1.0");

    // Third build asking for another runtime: libcnb deletes the outdated restored
    // layer and the buildpack installs it anew.
    b.build.write("platform/env/RUNTIME_VERSION", "2.0");
    let third = b.create();
    third
        .expect_code(0)
        .expect_output("Restoring data for \"libcnb-test/env:runtime\" from cache")
        .expect_output("Adding layer 'libcnb-test/env:runtime'")
        .expect_output("Adding cache layer 'libcnb-test/env:runtime'")
        .expect_no_output("reusing cached runtime");
    let marker3 = line_after(
        &third,
        "libcnb-test/env: installing runtime 2.0 (cached runtime 1.0 is outdated), marker ",
    );
    assert_ne!(marker3, marker1);
    check_launch_env(&b, "2.0");
}

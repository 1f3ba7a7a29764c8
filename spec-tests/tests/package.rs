//! The release archive `scripts/package` makes for builder images: `lifecycle.toml` with
//! exactly the APIs the binaries implement (pack's `builder create` and Tekton's task
//! read it), and `lifecycle/` with the multicall binary, every phase link and the static
//! launcher, all owned by root.

use std::path::Path;
use std::process::Command;

use platform_api::api::PLATFORM_APIS;
use spec_tests::export::tool;
use spec_tests::run;

fn versions(value: &toml::Value) -> Vec<String> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn the_release_archive_describes_and_holds_the_lifecycle() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/package");
    let ran = run(Command::new(script).env("PACKAGE_PROFILE", "dev"));
    ran.expect_code(0);
    let archive = ran.stdout.trim().to_string();
    let archive = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(archive);

    let listing = tool(Command::new("tar").arg("-tvzf").arg(&archive));
    for line in listing.lines() {
        assert!(line.contains(" 0/0 "), "not owned by root: {line}");
    }
    let dir = tempfile::tempdir().unwrap();
    tool(
        Command::new("tar")
            .arg("-xzf")
            .arg(&archive)
            .arg("-C")
            .arg(dir.path()),
    );

    let descriptor: toml::Value =
        toml::from_str(&std::fs::read_to_string(dir.path().join("lifecycle.toml")).unwrap())
            .unwrap();
    let apis = &descriptor["apis"];
    let platform: Vec<String> = PLATFORM_APIS
        .supported
        .iter()
        .map(|v| v.to_string())
        .collect();
    let buildpack: Vec<String> = buildpack_api::api::BUILDPACK_APIS
        .supported
        .iter()
        .map(|v| v.to_string())
        .collect();
    assert_eq!(versions(&apis["platform"]["supported"]), platform);
    assert_eq!(versions(&apis["buildpack"]["supported"]), buildpack);
    assert_eq!(descriptor["api"]["platform"].as_str(), Some("0.7"));
    assert_eq!(
        descriptor["lifecycle"]["version"].as_str(),
        Some(env!("CARGO_PKG_VERSION"))
    );

    let lifecycle = dir.path().join("lifecycle");
    for phase in [
        "analyzer", "detector", "restorer", "builder", "exporter", "rebaser", "creator",
    ] {
        let ran = run(Command::new(lifecycle.join(phase))
            .arg("-version")
            .env_clear()
            .env("CNB_PLATFORM_API", "0.15"));
        assert_eq!(ran.code, 0, "{phase}: {}", ran.all());
        assert!(
            ran.stdout.contains(env!("CARGO_PKG_VERSION")),
            "{phase}: {}",
            ran.all()
        );
    }
    assert!(lifecycle.join("launcher").is_file());
}

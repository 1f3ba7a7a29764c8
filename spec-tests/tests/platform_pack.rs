//! pack's flows (Platform API 0.15), as `spec_tests::pack` runs them: each builds the
//! example twice (the second reuses the cache and the layers), and the image is pulled
//! back, validated and run.

use spec_tests::dockerd;
use spec_tests::examples::{OTHER_GID, OTHER_UID, assert_first_build, assert_rebuild};
use spec_tests::pack::{EPOCH, Pack, Store};
use spec_tests::registry::Registry;

#[test]
fn trusted_builder_publishes_with_an_image_cache_tags_and_a_creation_time() {
    let registry = Registry::basic("pack-user", "pack-secret");
    let mut pack = Pack::new(Store::Registry(Box::new(registry)), "example/app");
    if let Store::Registry(r) = &pack.store {
        pack.cache_image = Some(r.image("example/app-cache:latest"));
    }
    pack.epoch = Some(EPOCH);
    assert_first_build(&pack.create().all());
    pack.check_image();
    assert_rebuild(&pack.create().all());
    pack.check_image();
}

#[test]
fn trusted_builder_to_a_daemon_with_uid_and_gid_overrides() {
    let mut pack = Pack::new(Store::Daemon(dockerd::shared()), "pack-trusted-app");
    pack.ids = Some((OTHER_UID, OTHER_GID));
    let first = pack.create().all();
    assert_first_build(&first);
    assert!(
        first.contains("execution environment production"),
        "{first}"
    );
    pack.check_image();
    assert_rebuild(&pack.create().all());
    pack.check_image();
}

#[test]
fn trusted_builder_to_an_oci_layout() {
    let pack = Pack::new(Store::Layout, "trusted-app");
    assert_first_build(&pack.create().all());
    pack.check_image();
    assert_rebuild(&pack.create().all());
    pack.check_image();
}

#[test]
fn untrusted_builder_publishes_in_five_containers() {
    let pack = Pack::new(
        Store::Registry(Box::new(Registry::basic("pack-user", "pack-secret"))),
        "example/app",
    );
    assert_first_build(&pack.five_phases());
    pack.check_image();
    assert_rebuild(&pack.five_phases());
    pack.check_image();
}

#[test]
fn untrusted_builder_to_a_daemon_in_five_containers() {
    let pack = Pack::new(Store::Daemon(dockerd::shared()), "pack-untrusted-app");
    assert_first_build(&pack.five_phases());
    pack.check_image();
    assert_rebuild(&pack.five_phases());
    pack.check_image();
}

#[test]
fn untrusted_builder_to_an_oci_layout_in_five_containers() {
    let pack = Pack::new(Store::Layout, "untrusted-app");
    assert_first_build(&pack.five_phases());
    pack.check_image();
    assert_rebuild(&pack.five_phases());
    pack.check_image();
}

//! The platform files the phases read: order.toml, group.toml, plan.toml,
//! analyzed.toml, metadata.toml (at several Platform APIs), project-metadata.toml,
//! run.toml, stack.toml and system.toml. The first byte picks the file, the rest is
//! written to disk and read back as a phase reads it. Readers must return errors,
//! never panic.
#![no_main]

use buildpack_api::api::ApiVersion;
use libfuzzer_sys::fuzz_target;
use platform_api::files::{
    analyzed, group, metadata, order, plan, project_metadata, run, stack, system,
};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("file.toml");
    std::fs::write(&path, rest).unwrap();
    let platform_api = ApiVersion::new(0, 7 + u64::from(selector >> 4) % 9);
    match selector % 9 {
        0 => drop(order::OrderFile::read(&path)),
        1 => drop(group::read(&path)),
        2 => drop(plan::Plan::read(&path)),
        3 => drop(analyzed::Analyzed::read(&path)),
        4 => drop(metadata::BuildMetadata::read(&path, platform_api)),
        5 => drop(project_metadata::ProjectMetadata::read(&path)),
        6 => drop(run::Run::read(&path)),
        7 => drop(stack::Stack::read(&path)),
        _ => drop(system::System::read(&path)),
    }
});

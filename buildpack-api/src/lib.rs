//! The buildpack-side contract of Cloud Native Buildpacks as data.
//!
//! Every type here is lenient on input (unknown keys and the deprecated forms that the
//! supported Buildpack APIs still allow are accepted) and exact on output, with
//! behaviour switched by the buildpack's declared API version.

pub mod api;
pub mod bom;
pub mod build;
pub mod descriptor;
pub mod dirs;
pub mod dockerfile;
pub mod env;
pub mod execd;
pub mod goerr;
pub mod gotoml;
pub mod group;
pub mod id;
pub mod launch;
pub mod layer;
mod lenient;
pub mod plan;
pub mod sbom;
pub mod store;
pub mod target;

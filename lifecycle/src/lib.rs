//! The lifecycle's phases as functions over explicit inputs.
//!
//! Nothing here reads process-wide state: the binaries in `cmd/` resolve flags,
//! environment and defaults into each phase's input struct and map the phase's typed
//! error to the specification's exit code.

pub mod analyze;
pub mod build;
pub mod cache;
pub mod daemon;
pub mod detect;
pub mod exec;
pub mod export;
pub mod generate;
pub mod image;
pub mod layer;
pub mod layers_dir;
pub mod log;
pub mod privileges;
pub mod rebase;
pub mod registry;
pub mod restore;
pub mod run_image;
pub mod target;
pub mod unchanged;

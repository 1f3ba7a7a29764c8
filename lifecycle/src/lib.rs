//! The lifecycle's phases as functions over explicit inputs.
//!
//! Nothing here reads process-wide state: the binaries in `cmd/` resolve flags,
//! environment and defaults into each phase's input struct and map the phase's typed
//! error to the specification's exit code.

pub mod build;
pub mod detect;
pub mod exec;
pub mod generate;
pub mod log;
pub mod target;

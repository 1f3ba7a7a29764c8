//! `builder`: refuses root like the reference; the build itself is not written yet.

use platform_api::exit::BUILD_ERROR;
use platform_api::flags::Phase;

use super::{PhaseCommand, not_implemented, nothing, refuse_root};

/// The builder.
pub static COMMAND: PhaseCommand = PhaseCommand {
    phase: Phase::Build,
    validate: nothing,
    privileges: |_| refuse_root("build"),
    exec: |_| Err(not_implemented(Phase::Build, BUILD_ERROR)),
};

//! `restorer`: command line, validation and inputs are complete; the phase's work is not
//! written yet, so it fails with the phase's generic exit code.

use platform_api::exit::RESTORE_ERROR;
use platform_api::flags::Phase;

use super::{PhaseCommand, not_implemented, nothing};

/// The restorer.
pub static COMMAND: PhaseCommand = PhaseCommand {
    phase: Phase::Restore,
    validate: nothing,
    privileges: nothing,
    exec: |_| Err(not_implemented(Phase::Restore, RESTORE_ERROR)),
};

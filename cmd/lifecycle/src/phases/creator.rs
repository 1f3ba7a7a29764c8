//! `creator`: command line, validation and inputs are complete; the phase's work is not
//! written yet. The creator has no exit code of its own (it reports its sub-phases'), so
//! it fails with the generic code.

use platform_api::exit::FAILED;
use platform_api::flags::Phase;

use super::{PhaseCommand, guard_layout, not_implemented, nothing};

/// The creator.
pub static COMMAND: PhaseCommand = PhaseCommand {
    phase: Phase::Create,
    validate: guard_layout,
    privileges: nothing,
    exec: |_| Err(not_implemented(Phase::Create, FAILED)),
};

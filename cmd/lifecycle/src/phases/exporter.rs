//! `exporter`: command line, validation and inputs are complete; the phase's work is not
//! written yet, so it fails with the phase's generic exit code.

use platform_api::exit::EXPORT_ERROR;
use platform_api::flags::Phase;

use super::{PhaseCommand, guard_layout, not_implemented, nothing};

/// The exporter.
pub static COMMAND: PhaseCommand = PhaseCommand {
    phase: Phase::Export,
    validate: guard_layout,
    privileges: nothing,
    exec: |_| Err(not_implemented(Phase::Export, EXPORT_ERROR)),
};

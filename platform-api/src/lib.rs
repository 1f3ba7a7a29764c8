//! The platform-side contract of Cloud Native Buildpacks: the files platforms and phases
//! exchange, the image labels, every phase's flags with their env fallbacks and defaults
//! per Platform API, and the exit codes.

pub mod api;
pub mod exit;
pub mod experimental;
pub mod files;
pub mod flags;
pub mod labels;
pub mod launch;
pub mod module_api;

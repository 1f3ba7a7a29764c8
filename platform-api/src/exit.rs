//! Exit codes of the lifecycle, as the Platform specification assigns them.

/// A process exit code owned by the lifecycle.
pub type ExitCode = i32;

/// Success.
pub const SUCCESS: ExitCode = 0;
/// Generic failure.
pub const FAILED: ExitCode = 1;
/// Go's `flag` package exits 2 on an undefined or malformed flag.
pub const FLAG_PARSE: ExitCode = 2;
/// Invalid arguments (`failed to parse arguments`, `failed to resolve inputs`).
pub const INVALID_ARGS: ExitCode = 3;
/// The requested Platform API is not supported.
pub const INCOMPATIBLE_PLATFORM_API: ExitCode = 11;
/// A buildpack's or extension's API is not supported.
pub const INCOMPATIBLE_BUILDPACK_API: ExitCode = 12;
/// Detect: every group failed, no buildpack errored.
pub const DETECT_FAIL: ExitCode = 20;
/// Detect: every group failed and at least one buildpack errored.
pub const DETECT_BUILDPACK_ERROR: ExitCode = 21;
/// Detect: other error.
pub const DETECT_ERROR: ExitCode = 22;
/// Analyze error.
pub const ANALYZE_ERROR: ExitCode = 32;
/// Restore error.
pub const RESTORE_ERROR: ExitCode = 42;
/// Build: a buildpack's `/bin/build` failed.
pub const BUILD_BUILDPACK_FAILED: ExitCode = 51;
/// Build: other error.
pub const BUILD_ERROR: ExitCode = 52;
/// Export error.
pub const EXPORT_ERROR: ExitCode = 62;
/// Rebase error.
pub const REBASE_ERROR: ExitCode = 72;
/// Launch error before the process starts.
pub const LAUNCH_ERROR: ExitCode = 82;
/// Generate: an extension's `/bin/generate` failed.
pub const GENERATE_EXTENSION_FAILED: ExitCode = 91;
/// Generate: other error.
pub const GENERATE_ERROR: ExitCode = 92;
/// Extend error.
pub const EXTEND_ERROR: ExitCode = 102;

//! The version `-version` prints: `<package version>+<commit>`.

/// `<version>+<short commit>` (`unknown` when built outside a git checkout).
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "+", env!("LIFECYCLE_COMMIT"));

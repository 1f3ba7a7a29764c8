//! The Platform API versions this lifecycle implements.

pub use buildpack_api::api::{ApiSet, ApiVersion, ParseApiVersionError};

/// Platform API versions this lifecycle implements: 0.7 to 0.15, none deprecated.
pub const PLATFORM_APIS: ApiSet = ApiSet {
    supported: &[
        ApiVersion::new(0, 7),
        ApiVersion::new(0, 8),
        ApiVersion::new(0, 9),
        ApiVersion::new(0, 10),
        ApiVersion::new(0, 11),
        ApiVersion::new(0, 12),
        ApiVersion::new(0, 13),
        ApiVersion::new(0, 14),
        ApiVersion::new(0, 15),
    ],
    deprecated: &[],
};

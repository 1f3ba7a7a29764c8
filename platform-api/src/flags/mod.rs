//! The phases' command lines, compatible with the reference's Go `flag` usage.
//!
//! * [`flagset`]: a parser with the behaviour and messages of Go's `flag` package.
//! * [`table`]: every input's environment variables and default ([`INPUTS`]) and every
//!   phase's flags with their Platform API gates ([`FLAGS`]).
//! * [`inputs`]: [`LifecycleInputs`], filled from an explicit [`Environment`], then from
//!   flags ([`parse_command_line`]) and positional arguments, then resolved.
//! * [`api_check`]: `CNB_PLATFORM_API` and `CNB_DEPRECATION_MODE`.
//!
//! The usual sequence, as the reference's phase driver runs it:
//! [`verify_platform_api`] → [`LifecycleInputs::from_env`] → [`parse_command_line`]
//! (exit 2, or 0 for `-help`, on error) → `-version` → [`LifecycleInputs::take_positionals`]
//! and [`LifecycleInputs::resolve`] (exit 3 on error).

pub mod api_check;
pub mod command_line;
pub mod duration;
pub mod env;
pub mod flagset;
pub mod inputs;
pub mod phase;
pub mod strconv;
pub mod table;

pub use api_check::{
    DeprecationMode, ENV_DEPRECATION_MODE, ENV_PLATFORM_API, PlatformApiError, VerifiedPlatformApi,
    verify_platform_api,
};
pub use command_line::{CommandLine, FLAG_SET_NAME, VERSION_FLAG, flag_set, parse_command_line};
pub use duration::GoDuration;
pub use env::Environment;
pub use flagset::{FlagError, FlagErrorKind, FlagKind, FlagSet, FlagValue};
pub use inputs::{ArgsError, Input, LifecycleInputs, ResolveError, ResolveWarning};
pub use phase::Phase;
pub use table::{FLAGS, FlagRow, Gate, INPUTS, InputDefault, InputRow, flags_for};

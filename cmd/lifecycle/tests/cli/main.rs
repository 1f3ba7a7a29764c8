//! Black-box tests of the `lifecycle` binary's command line: dispatch, `-version`,
//! Platform API checks, Go flag errors, positional arguments and privilege checks.

mod arguments;
mod common;
mod dispatch;
mod phases;
mod version;

//! The files platforms and phases exchange, one module per file.
//!
//! Every type reads leniently (unknown keys are ignored and the deprecated forms the
//! reference still accepts for Platform API 0.7 to 0.15 are understood) and writes
//! exactly what the reference writes, through [`buildpack_api::gotoml`]. Writes are
//! atomic: the text goes to a temporary file in the same directory, which is then
//! renamed over the target, so a reader never sees a half-written file.
//!
//! Errors name the file and the cause as the reference words them, e.g.
//! `failed to read group file: open /layers/group.toml: no such file or directory`.

pub mod analyzed;
mod error;
pub mod freeform;
pub mod group;
mod image_name;
pub mod metadata;
pub mod order;
pub mod plan;
pub mod project_metadata;
pub mod report;
pub mod run;
pub mod stack;
pub mod system;
pub mod target;
mod toml_file;

pub use error::{FileAction, FileError, FileKind};

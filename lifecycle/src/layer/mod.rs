//! Layers as the reference writes them: the same tar bytes as the Go lifecycle for the
//! same files (so the same diffIDs, and layers of images it exported are reused), made
//! in one pass that hashes the tar, compresses it on every core and writes the blob.
//!
//! Describe a layer with a [`LayerSource`] (a directory, the app slices from
//! [`app_slices`], the launcher, the process-type links, an existing layer tarball
//! normalized as the reference normalizes extension layers), then either get its diffID
//! alone with [`diff_id`] or write it with [`write_layer`] into a blob directory and/or
//! an uncompressed tar file.
//!
//! Tar format, as Go's `archive/tar` with the reference's normalizing writer: absolute
//! entry names without trailing slashes, mtime 1980-01-01T00:00:01Z, empty user and
//! group names, USTAR headers (long ASCII names split into prefix and name) and PAX
//! records for what USTAR cannot hold, lexical walk order, symlinks with their target,
//! sockets skipped, hard links stored as full copies (the reference does not detect
//! them), and a file whose size changes while it is read fails the layer.

mod error;
pub mod extract;
pub mod fingerprint;
mod gopath;
mod gotar;
mod gzip;
mod pipeline;
mod slices;
mod source;
mod tarball;
mod tarstream;
mod walk;

pub use error::LayerError;
pub use gzip::Gzip;
pub use pipeline::{
    Blob, BlobTee, LayerOutputs, WrittenLayer, diff_id, skeleton_digest, write_layer,
    write_layer_teeing,
};
pub use slices::app_slices;
pub use source::{LayerSource, Owner};

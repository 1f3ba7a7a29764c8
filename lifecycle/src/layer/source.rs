//! What goes into a layer, and the entries each kind writes, in the reference's order.

use std::ffi::OsStr;
use std::fs::{self, File};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use buildpack_api::id::check_exportable_process_type;

use super::error::LayerError;
use super::gopath;
use super::gotar::{EntryType, Header};
use super::slices::SliceFiles;
use super::tarball;
use super::tarstream::{ChunkSink, TarStream};
use super::walk;

/// The directory holding the launcher and the process-type links.
const CNB_DIR: &[u8] = b"/cnb";
/// The launcher's directory.
const LIFECYCLE_DIR: &[u8] = b"/cnb/lifecycle";
/// Where the launcher goes, and what every process-type link points to.
const LAUNCHER_PATH: &[u8] = b"/cnb/lifecycle/launcher";
/// The process-type links' directory.
const PROCESS_DIR: &[u8] = b"/cnb/process";

/// The uid and gid given to the files of a layer (`CNB_USER_ID`, `CNB_GROUP_ID`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner {
    /// User ID.
    pub uid: u32,
    /// Group ID.
    pub gid: u32,
}

/// The contents of one layer, described; files are read only when the layer is
/// written or hashed.
#[derive(Debug, Clone)]
pub struct LayerSource {
    kind: Kind,
}

// The exporter writes layers concurrently.
const _: fn() = || {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<LayerSource>();
};

#[derive(Debug, Clone)]
enum Kind {
    Dir { dir: PathBuf, owner: Owner },
    Slice(SliceFiles),
    Launcher { path: PathBuf },
    ProcessTypes { types: Vec<String> },
    Tarball { path: PathBuf },
}

impl LayerSource {
    /// A directory at its absolute path (`<layers>/<bp>/<layer>`, `<layers>/config`,
    /// `<layers>/sbom/launch`): first its parent directories (outermost first, not `/`)
    /// with their own owner and mode, then the directory and everything below it in
    /// lexical order, owned by `owner`. A relative `dir` is taken from the working
    /// directory.
    pub fn dir(dir: &Path, owner: Owner) -> Result<LayerSource, LayerError> {
        Ok(LayerSource {
            kind: Kind::Dir {
                dir: walk::absolute(dir)?,
                owner,
            },
        })
    }

    /// The launcher layer: root-owned directories `/cnb` and `/cnb/lifecycle` (0755)
    /// and `/cnb/lifecycle/launcher` (0755, root) holding the contents of `launcher`.
    pub fn launcher(launcher: &Path) -> LayerSource {
        LayerSource {
            kind: Kind::Launcher {
                path: launcher.to_path_buf(),
            },
        }
    }

    /// The process-types layer: root-owned directories `/cnb` and `/cnb/process`
    /// (0755), then for each type in the given order a symlink `/cnb/process/<type>` to
    /// `/cnb/lifecycle/launcher`. A type that is empty or holds one of `/><:|&\` is
    /// refused as the reference refuses it.
    pub fn process_types<S: AsRef<str>>(
        types: impl IntoIterator<Item = S>,
    ) -> Result<LayerSource, LayerError> {
        let types = types
            .into_iter()
            .map(|t| {
                check_exportable_process_type(t.as_ref())?;
                Ok(t.as_ref().to_string())
            })
            .collect::<Result<Vec<_>, LayerError>>()?;
        Ok(LayerSource {
            kind: Kind::ProcessTypes { types },
        })
    }

    /// An existing layer tarball, gzip-compressed or plain (an extension layer): its
    /// entries as they are, except that every modification time becomes
    /// 1980-01-01T00:00:01Z and user and group names are emptied, Go's `archive/tar`
    /// reading and writing them as the reference's `TarLayer` does (owners, access and
    /// change times, extended attributes and the entries' header formats are kept).
    pub fn tarball(path: &Path) -> LayerSource {
        LayerSource {
            kind: Kind::Tarball {
                path: path.to_path_buf(),
            },
        }
    }

    /// An app slice (see [`super::app_slices`]).
    pub(crate) fn slice(files: SliceFiles) -> LayerSource {
        LayerSource {
            kind: Kind::Slice(files),
        }
    }

    /// Writes every entry of the layer into `stream`.
    pub(crate) fn write<S: ChunkSink>(
        &self,
        stream: &mut TarStream<'_, S>,
    ) -> Result<(), LayerError> {
        match &self.kind {
            Kind::Dir { dir, owner } => {
                for (path, stat) in walk::parents(dir)? {
                    stream.add_file(&path, &stat, None)?;
                }
                walk::walk(dir, |path, stat| stream.add_file(path, stat, Some(*owner)))
            }
            Kind::Slice(files) => files.write(stream),
            Kind::Launcher { path } => write_launcher(path, stream),
            Kind::Tarball { path } => tarball::copy(path, stream),
            Kind::ProcessTypes { types } => {
                root_dir(CNB_DIR, stream)?;
                root_dir(PROCESS_DIR, stream)?;
                for process_type in types {
                    let mut name = PROCESS_DIR.to_vec();
                    name.push(b'/');
                    name.extend_from_slice(process_type.as_bytes());
                    let name = gopath::clean(&name);
                    let header = Header {
                        link: LAUNCHER_PATH,
                        entry_type: EntryType::Symlink,
                        ..root_header(&name)
                    };
                    stream.header(&header, Path::new(process_type))?;
                }
                Ok(())
            }
        }
    }
}

fn write_launcher<S: ChunkSink>(
    path: &Path,
    stream: &mut TarStream<'_, S>,
) -> Result<(), LayerError> {
    let launcher_error = |op, source| LayerError::Launcher {
        op,
        path: path.to_path_buf(),
        source,
    };
    let meta = fs::metadata(path).map_err(|e| launcher_error("stat", e))?;
    if !meta.is_file() {
        return Err(LayerError::LauncherNotAFile {
            path: path.to_path_buf(),
        });
    }
    let file = File::open(path).map_err(|e| launcher_error("open", e))?;
    root_dir(CNB_DIR, stream)?;
    root_dir(LIFECYCLE_DIR, stream)?;
    let header = Header {
        entry_type: EntryType::Regular,
        size: meta.len(),
        ..root_header(LAUNCHER_PATH)
    };
    stream.header(&header, path)?;
    stream.content(file, meta.len(), path)
}

/// A root-owned 0755 directory entry.
fn root_dir<S: ChunkSink>(name: &[u8], stream: &mut TarStream<'_, S>) -> Result<(), LayerError> {
    let header = root_header(name);
    stream.header(&header, Path::new(OsStr::from_bytes(name)))
}

/// A root-owned 0755 directory header named `name`, the base of the synthetic entries.
fn root_header(name: &[u8]) -> Header<'_> {
    Header {
        name,
        link: b"",
        entry_type: EntryType::Dir,
        mode: 0o755,
        uid: 0,
        gid: 0,
        size: 0,
        dev_major: 0,
        dev_minor: 0,
    }
}

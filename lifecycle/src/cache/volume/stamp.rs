//! Verification stamps: proof that a committed layer tar was read in full and hashed to
//! its diffID, so that the same build need not read it again (the restorer reads and
//! verifies a layer, then the exporter's cache step would verify it once more before
//! reusing it).
//!
//! A stamp is a small file `<stamps>/<diffID>` holding the diffID and the tar's device,
//! inode, size, modification and change times as they were while it was read, in a
//! directory of the build (`<layers>/.fingerprints/…`), so that the cache directory
//! stays exactly as the reference lays it out and a stamp lives no longer than the
//! build. It holds while the tar's current metadata is the same: every write,
//! truncation, rename over it or new link changes the change time, which no system call
//! sets back. A commit links the tar into the next cache and drops the old name, which
//! changes its change time too, and then removes the stamps. A stamp holds
//! only when its bytes are exactly those written for the tar's current metadata and the
//! diffID asked about, so one that is damaged, foreign or for another file never does.

use std::fs::{self, File, Metadata};
use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, lchown};
use std::path::{Path, PathBuf};

use super::Owner;

/// The first bytes of a stamp.
const MAGIC: &[u8; 8] = b"cnb-vst\x01";

/// The metadata of a layer tar that any change of its bytes changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct FileState {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl FileState {
    /// The state of the file `meta` describes.
    pub(super) fn of(meta: &Metadata) -> FileState {
        FileState {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
        }
    }

    fn fields(&self) -> [u64; 7] {
        [
            self.dev,
            self.ino,
            self.size,
            self.mtime.0 as u64,
            self.mtime.1 as u64,
            self.ctime.0 as u64,
            self.ctime.1 as u64,
        ]
    }
}

/// Where the stamp of `diff_id` (a valid diffID) is kept in the stamps directory `dir`.
pub(super) fn path(dir: &Path, diff_id: &str) -> PathBuf {
    dir.join(diff_id)
}

/// Whether a stamp at `stamp` shows that the tar at `layer` was verified to hash to
/// `diff_id` and has not changed since.
pub(super) fn holds(stamp: &Path, layer: &Path, diff_id: &str) -> bool {
    let Ok(bytes) = fs::read(stamp) else {
        return false;
    };
    let Ok(meta) = fs::metadata(layer) else {
        return false;
    };
    meta.is_file() && bytes == encode(diff_id, &FileState::of(&meta))
}

/// Records that `file` (opened as `opened`) hashed to `diff_id` when it was read to its
/// end, if its metadata is still `opened` (nothing wrote it while it was read).
pub(super) fn record(
    stamp: &Path,
    diff_id: &str,
    file: &File,
    opened: FileState,
    owner: Option<Owner>,
) -> io::Result<()> {
    if FileState::of(&file.metadata()?) != opened {
        return Ok(());
    }
    let dir = stamp.parent().expect("a stamp is in the stamps directory");
    make_dir(dir, owner)?;
    let mut temp = tempfile::NamedTempFile::new_in(dir)?;
    temp.write_all(&encode(diff_id, &opened))?;
    chown(temp.path(), owner)?;
    temp.persist(stamp).map_err(|e| e.error)?;
    Ok(())
}

/// Creates `dir` and its missing parents, owned by `owner`.
fn make_dir(dir: &Path, owner: Option<Owner>) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent() {
        make_dir(parent, owner)?;
    }
    match fs::create_dir(dir) {
        Ok(()) => chown(dir, owner),
        Err(err) if err.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(err) => Err(err),
    }
}

fn chown(path: &Path, owner: Option<Owner>) -> io::Result<()> {
    match owner {
        Some(owner) => lchown(path, Some(owner.uid), Some(owner.gid)),
        None => Ok(()),
    }
}

/// The stamp's bytes: magic, the state's fields (little-endian), the diffID.
fn encode(diff_id: &str, state: &FileState) -> Vec<u8> {
    let mut out = Vec::with_capacity(MAGIC.len() + 7 * 8 + diff_id.len());
    out.extend_from_slice(MAGIC);
    for field in state.fields() {
        out.extend_from_slice(&field.to_le_bytes());
    }
    out.extend_from_slice(diff_id.as_bytes());
    out
}

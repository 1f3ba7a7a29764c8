//! Proof that a layer directory is unchanged without reading its files: an index of
//! every entry's metadata, taken when the layer's diffID is known (after it is restored
//! or hashed) and compared with a fresh index on the next build. When every field of
//! every entry is the same, the tar of [`LayerSource::dir`] would be the same bytes, so
//! the recorded diffID can be reused; when anything differs, the caller hashes.
//!
//! Why each field is recorded, for every entry of the layer directory (the directory
//! itself and everything below it, in the walk order of the layer tar):
//! - relative path, file type, permission bits, device numbers, symlink target: they
//!   are written in the entry's tar header (the walk reads them again on every
//!   comparison, so renames, additions, removals and retargeted links show directly);
//! - size: written in the header, and a content rewrite that changes it shows without
//!   the change time;
//! - uid and gid: the tar replaces them with the layer's owner, but a `chown` is a
//!   change of the directory the buildpack made, and costs nothing to notice;
//! - change time (ns): the key field. Every write, truncation, `chmod`, `chown`, rename,
//!   new hard link and `utimes` of an inode sets it to the current time, and no system
//!   call lets a process set it back, so content rewritten with its size and mtime
//!   restored still shows;
//! - inode and device: a file replaced by another one (moved over it, or a copy made on
//!   another file system or by an overlay copy-up) is another inode even if its times
//!   agree by accident;
//! - link count: a hard link made from outside the layer (through which it could be
//!   written) changes it, besides the change time;
//! - modification time (ns): redundant with the change time, kept as a second witness
//!   of content writes.
//!
//! Besides the entries, a fingerprint holds what else the tar bytes depend on: the
//! directory's absolute path (the entry names), the owner the layer is written with
//! (`LayerSource::dir`'s override), the header fields of the parent directories the
//! tar starts with (type, mode, owner: the tar holds no more of them, and their times
//! change whenever a sibling layer or `<layer>.toml` is written), and the version of
//! this lifecycle (a new tar writer may write other bytes for the same files).
//!
//! Change times are only as fine as the kernel clock that sets them (one tick, up to
//! 10 ms, or a whole second on file systems without sub-second times): a file written
//! in the same tick as its entry was read would keep its change time. So a fingerprint
//! is *settled* only when every change time it holds is older than the walk that read
//! it by more than that granularity; [`Fingerprint::take_settled`] waits for that, and
//! a fingerprint that is not settled never matches. A clock stepped backwards between
//! the two builds by root is the one thing that could make a written file keep its
//! exact change time; it would have to land on the same nanosecond.
//!
//! The file format is compact and checked: a magic string, a format version, the
//! lifecycle version, the diffID, the fields above (LEB128 numbers, paths sharing their
//! prefix with the previous entry), and a SHA-256 of all of it. A file that is missing,
//! truncated, corrupt, of another format or written by another lifecycle version reads
//! as no fingerprint.

use std::fs::{self, Metadata};
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};

use super::error::LayerError;
use super::walk::{self, Stat};
use super::{LayerSource, Owner};

/// The first bytes of a fingerprint file.
const MAGIC: &[u8; 8] = b"cnb-lfp\0";
/// The version of the file format; bump it when the encoding changes.
const FORMAT: u8 = 1;
/// The lifecycle that wrote a fingerprint: another one may write other tar bytes.
const LIFECYCLE_VERSION: &str = env!("CARGO_PKG_VERSION");
/// Length of the trailing checksum.
const CHECKSUM: usize = 32;
/// How long after a change time the kernel clock has surely moved on (a tick is at most
/// 10 ms), with room for the two clocks being read at slightly different moments.
const TICK_MARGIN: Duration = Duration::from_millis(20);
/// The same for file systems that keep whole seconds only (2 s covers FAT's).
const SECONDS_MARGIN: Duration = Duration::from_millis(2020);

/// The metadata of a layer directory's entries, to tell whether it changed since its
/// diffID was computed (see the module documentation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    /// The absolute, cleaned layer directory.
    dir: Vec<u8>,
    /// The owner the layer is written with.
    owner: Owner,
    /// Whether every change time is older than the walk by more than their granularity.
    settled: bool,
    /// The parent directories, as the tar's first headers record them.
    parents: Vec<Parent>,
    /// The directory and everything below it, in walk order.
    entries: Vec<Entry>,
}

/// A parent directory's header fields.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Parent {
    path: Vec<u8>,
    kind: u8,
    mode: u32,
    uid: u32,
    gid: u32,
}

/// One entry of the layer directory.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    /// Path below the layer directory, empty for the directory itself.
    path: Vec<u8>,
    kind: u8,
    /// The whole `st_mode`.
    mode: u32,
    uid: u32,
    gid: u32,
    size: u64,
    ino: u64,
    dev: u64,
    rdev: u64,
    nlink: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
    /// Symlink target, empty for other types.
    link: Vec<u8>,
}

impl Fingerprint {
    /// Reads the metadata of `dir` (taken from the working directory when relative) and
    /// everything below it, for the layer `LayerSource::dir(dir, owner)`. Fails when the
    /// directory cannot be walked. The result may not be settled (see
    /// [`Fingerprint::is_settled`]): that is enough for the fresh side of a comparison,
    /// not for a fingerprint to save.
    pub fn take(dir: &Path, owner: Owner) -> Result<Fingerprint, LayerError> {
        let dir = walk::absolute(dir)?;
        let started = SystemTime::now();
        let parents = walk::parents(&dir)?
            .into_iter()
            .map(|(path, stat)| Parent::new(path, &stat))
            .collect();
        let mut entries = Vec::new();
        let root_len = dir.as_os_str().len();
        walk::walk(&dir, |path, _| {
            let meta = fs::symlink_metadata(path).map_err(|e| LayerError::io("lstat", path, e))?;
            let rel = &path.as_os_str().as_bytes()[root_len..];
            let rel = rel.strip_prefix(b"/").unwrap_or(rel);
            entries.push(Entry::new(rel.to_vec(), path, &meta)?);
            Ok(())
        })?;
        let settled = newest_change(&entries).is_none_or(|(newest, margin)| {
            newest
                .checked_add(margin)
                .is_some_and(|limit| limit < started)
        });
        Ok(Fingerprint {
            dir: dir.into_os_string().into_encoded_bytes(),
            owner,
            settled,
            parents,
            entries,
        })
    }

    /// [`Fingerprint::take`], repeated after waiting for the clock to move past the
    /// newest change time until the result is settled or `max_wait` has passed (then
    /// the last, unsettled result is returned). Take it before the layer is hashed, or
    /// right after it is restored: files written just before need one clock tick (or a
    /// second on file systems without sub-second times) to settle.
    pub fn take_settled(
        dir: &Path,
        owner: Owner,
        max_wait: Duration,
    ) -> Result<Fingerprint, LayerError> {
        let deadline = Instant::now() + max_wait;
        loop {
            let fingerprint = Fingerprint::take(dir, owner)?;
            if fingerprint.settled {
                return Ok(fingerprint);
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(fingerprint);
            }
            let wait = newest_change(&fingerprint.entries)
                .and_then(|(newest, margin)| newest.checked_add(margin))
                .and_then(|limit| limit.duration_since(SystemTime::now()).ok())
                .unwrap_or(Duration::from_millis(1))
                .max(Duration::from_millis(1));
            std::thread::sleep(wait.min(deadline - now));
        }
    }

    /// Whether every change time is older than the walk that read it by more than the
    /// clock's granularity, so that any later change of an entry gives it a new one.
    pub fn is_settled(&self) -> bool {
        self.settled
    }

    /// Whether `current` (a fresh [`Fingerprint::take`] of the directory) shows nothing
    /// changed since `self` was taken: `self` is settled and every recorded field is
    /// the same.
    pub fn matches(&self, current: &Fingerprint) -> bool {
        self.settled
            && self.dir == current.dir
            && self.owner == current.owner
            && self.parents == current.parents
            && self.entries == current.entries
    }

    /// Saves the fingerprint with the diffID of the layer it describes at `path`,
    /// atomically (a temporary file in the same directory, renamed).
    pub fn write(&self, diff_id: &str, path: &Path) -> Result<(), LayerError> {
        let bytes = self.encode(diff_id);
        let dir = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        let mut file =
            tempfile::NamedTempFile::new_in(dir).map_err(|e| LayerError::io("open", dir, e))?;
        file.write_all(&bytes)
            .map_err(|e| LayerError::io("write", file.path(), e))?;
        file.persist(path)
            .map_err(|e| LayerError::io("rename", path, e.error))?;
        Ok(())
    }

    /// Saves `self` with `diff_id` at `path` (see [`Fingerprint::write`]) if it is
    /// settled and the directory still matches it, which proves that `diff_id`, hashed
    /// after `self` was taken, is the diffID of the files it describes; otherwise
    /// removes any fingerprint at `path`. Whether it was saved.
    pub fn save_if_unchanged(&self, diff_id: &str, path: &Path) -> Result<bool, LayerError> {
        let unchanged = self.settled && {
            let dir = Path::new(std::ffi::OsStr::from_bytes(&self.dir));
            self.matches(&Fingerprint::take(dir, self.owner)?)
        };
        if unchanged {
            self.write(diff_id, path)?;
        } else {
            match fs::remove_file(path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(LayerError::io("remove", path, e));
                }
                _ => {}
            }
        }
        Ok(unchanged)
    }

    /// The fingerprint and diffID saved at `path`, or `None` when there is none there
    /// or it cannot be trusted: unreadable, truncated, corrupt, of another format, or
    /// written by another lifecycle version.
    pub fn read(path: &Path) -> Option<(Fingerprint, String)> {
        let bytes = fs::read(path).ok()?;
        decode(&bytes)
    }

    /// The diffID saved with the fingerprint at `saved` if the layer
    /// `LayerSource::dir(dir, owner)` has not changed since, else `None` (also when
    /// `dir` cannot be walked: hashing it will tell why).
    pub fn unchanged_diff_id(dir: &Path, owner: Owner, saved: &Path) -> Option<String> {
        let (fingerprint, diff_id) = Fingerprint::read(saved)?;
        let current = Fingerprint::take(dir, owner).ok()?;
        fingerprint.matches(&current).then_some(diff_id)
    }

    /// The layer this fingerprint describes.
    pub fn source(&self) -> Result<LayerSource, LayerError> {
        LayerSource::dir(
            Path::new(std::ffi::OsStr::from_bytes(&self.dir)),
            self.owner,
        )
    }

    fn encode(&self, diff_id: &str) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + self.entries.len() * 48);
        out.extend_from_slice(MAGIC);
        out.push(FORMAT);
        put_bytes(&mut out, LIFECYCLE_VERSION.as_bytes());
        put_bytes(&mut out, diff_id.as_bytes());
        put_bytes(&mut out, &self.dir);
        put_uint(&mut out, u64::from(self.owner.uid));
        put_uint(&mut out, u64::from(self.owner.gid));
        out.push(u8::from(self.settled));
        put_uint(&mut out, self.parents.len() as u64);
        for parent in &self.parents {
            put_bytes(&mut out, &parent.path);
            out.push(parent.kind);
            put_uint(&mut out, u64::from(parent.mode));
            put_uint(&mut out, u64::from(parent.uid));
            put_uint(&mut out, u64::from(parent.gid));
        }
        put_uint(&mut out, self.entries.len() as u64);
        let mut previous: &[u8] = b"";
        for entry in &self.entries {
            let shared = previous
                .iter()
                .zip(&entry.path)
                .take_while(|(a, b)| a == b)
                .count();
            put_uint(&mut out, shared as u64);
            put_bytes(&mut out, &entry.path[shared..]);
            previous = &entry.path;
            out.push(entry.kind);
            for value in [
                u64::from(entry.mode),
                u64::from(entry.uid),
                u64::from(entry.gid),
                entry.size,
                entry.ino,
                entry.dev,
                entry.rdev,
                entry.nlink,
            ] {
                put_uint(&mut out, value);
            }
            for value in [entry.mtime.0, entry.mtime.1, entry.ctime.0, entry.ctime.1] {
                put_int(&mut out, value);
            }
            put_bytes(&mut out, &entry.link);
        }
        let checksum = Sha256::digest(&out);
        out.extend_from_slice(&checksum);
        out
    }
}

impl Parent {
    fn new(path: PathBuf, stat: &Stat) -> Parent {
        Parent {
            path: path.into_os_string().into_encoded_bytes(),
            kind: stat.entry_type.map_or(0, |t| t as u8 + 1),
            mode: stat.mode,
            uid: stat.uid,
            gid: stat.gid,
        }
    }
}

impl Entry {
    fn new(path: Vec<u8>, full: &Path, meta: &Metadata) -> Result<Entry, LayerError> {
        let file_type = meta.file_type();
        let kind = if file_type.is_file() {
            1
        } else if file_type.is_dir() {
            2
        } else if file_type.is_symlink() {
            3
        } else if file_type.is_char_device() {
            4
        } else if file_type.is_block_device() {
            5
        } else if file_type.is_fifo() {
            6
        } else {
            7
        };
        let link = if file_type.is_symlink() {
            fs::read_link(full)
                .map_err(|e| LayerError::io("readlink", full, e))?
                .into_os_string()
                .into_encoded_bytes()
        } else {
            Vec::new()
        };
        Ok(Entry {
            path,
            kind,
            mode: meta.mode(),
            uid: meta.uid(),
            gid: meta.gid(),
            size: meta.size(),
            ino: meta.ino(),
            dev: meta.dev(),
            rdev: meta.rdev(),
            nlink: meta.nlink(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
            link,
        })
    }
}

/// The newest change time of `entries`, and how long after it the clock has surely
/// moved on: longer when no entry has sub-second times (the file system may keep
/// none). `None` without entries.
fn newest_change(entries: &[Entry]) -> Option<(SystemTime, Duration)> {
    let newest = entries.iter().map(|e| e.ctime).max()?;
    let whole_seconds = entries.iter().all(|e| e.ctime.1 == 0);
    let margin = if whole_seconds {
        SECONDS_MARGIN
    } else {
        TICK_MARGIN
    };
    let time = match (u64::try_from(newest.0), u32::try_from(newest.1)) {
        (Ok(secs), Ok(nanos)) => UNIX_EPOCH.checked_add(Duration::new(secs, nanos))?,
        // Before 1970: long settled.
        _ => UNIX_EPOCH,
    };
    Some((time, margin))
}

fn put_uint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn put_int(out: &mut Vec<u8>, value: i64) {
    put_uint(out, ((value << 1) ^ (value >> 63)) as u64);
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_uint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// A fingerprint file's contents, checked.
fn decode(bytes: &[u8]) -> Option<(Fingerprint, String)> {
    let body_len = bytes.len().checked_sub(CHECKSUM)?;
    let (body, checksum) = bytes.split_at(body_len);
    if Sha256::digest(body).as_slice() != checksum {
        return None;
    }
    let mut reader = Reader {
        rest: body.strip_prefix(MAGIC.as_slice())?,
    };
    if reader.byte()? != FORMAT || reader.bytes()? != LIFECYCLE_VERSION.as_bytes() {
        return None;
    }
    let diff_id = String::from_utf8(reader.bytes()?.to_vec()).ok()?;
    let dir = reader.bytes()?.to_vec();
    let owner = Owner {
        uid: reader.u32()?,
        gid: reader.u32()?,
    };
    let settled = match reader.byte()? {
        0 => false,
        1 => true,
        _ => return None,
    };
    let parent_count = reader.count()?;
    let mut parents = Vec::with_capacity(parent_count);
    for _ in 0..parent_count {
        parents.push(Parent {
            path: reader.bytes()?.to_vec(),
            kind: reader.byte()?,
            mode: reader.u32()?,
            uid: reader.u32()?,
            gid: reader.u32()?,
        });
    }
    let entry_count = reader.count()?;
    let mut entries: Vec<Entry> = Vec::with_capacity(entry_count);
    for _ in 0..entry_count {
        let shared = usize::try_from(reader.uint()?).ok()?;
        let previous = entries.last().map_or(&[][..], |e| e.path.as_slice());
        let mut path = previous.get(..shared)?.to_vec();
        path.extend_from_slice(reader.bytes()?);
        entries.push(Entry {
            path,
            kind: reader.byte()?,
            mode: reader.u32()?,
            uid: reader.u32()?,
            gid: reader.u32()?,
            size: reader.uint()?,
            ino: reader.uint()?,
            dev: reader.uint()?,
            rdev: reader.uint()?,
            nlink: reader.uint()?,
            mtime: (reader.int()?, reader.int()?),
            ctime: (reader.int()?, reader.int()?),
            link: reader.bytes()?.to_vec(),
        });
    }
    if !reader.rest.is_empty() {
        return None;
    }
    Some((
        Fingerprint {
            dir,
            owner,
            settled,
            parents,
            entries,
        },
        diff_id,
    ))
}

/// Reads the encoding of [`Fingerprint::encode`], `None` at the first malformed field.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Option<u8> {
        let (&first, rest) = self.rest.split_first()?;
        self.rest = rest;
        Some(first)
    }

    fn uint(&mut self) -> Option<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.byte()?;
            let bits = u64::from(byte & 0x7f);
            if shift == 63 && bits > 1 {
                return None;
            }
            value |= bits << shift;
            if byte & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    }

    fn int(&mut self) -> Option<i64> {
        let raw = self.uint()?;
        Some(((raw >> 1) as i64) ^ -((raw & 1) as i64))
    }

    fn u32(&mut self) -> Option<u32> {
        u32::try_from(self.uint()?).ok()
    }

    /// A count of items that each take at least one byte, so no larger than what is left.
    fn count(&mut self) -> Option<usize> {
        usize::try_from(self.uint()?)
            .ok()
            .filter(|&n| n <= self.rest.len())
    }

    fn bytes(&mut self) -> Option<&'a [u8]> {
        let len = usize::try_from(self.uint()?).ok()?;
        let rest: &'a [u8] = self.rest;
        let (bytes, rest) = (rest.get(..len)?, rest.get(len..)?);
        self.rest = rest;
        Some(bytes)
    }
}

//! Extraction of a layer tar back into the file system (the restorer's cached layers),
//! confined to one directory.
//!
//! Entry names are absolute image paths (`/layers/<bp>/<layer>/...`) placed under a
//! root directory (normally `/`). Every entry must lie inside the allowed directory,
//! except directories above it, which are created when missing and otherwise left
//! alone. Paths are resolved one component at a time with `openat(O_NOFOLLOW)` from the
//! root, so no symlink is ever followed, whether it was there before or the layer
//! wrote it; symlinks are written as they are, whatever they point to. Hard links must
//! point to a file the same layer extracted before them, inside the allowed directory.
//! Device files and FIFOs are refused. Modes are set explicitly (the process umask is
//! neither read nor changed, so concurrent extractions are safe), owners are set when
//! asked (as root), modification times are those of the tar, and directories get their
//! mode, owner and time once everything below them is written.
//!
//! The tar is read as a stream: memory holds one copy buffer and, per entry, its name
//! (to check hard links and fix directories at the end), never file contents.
//!
//! While reading, the tar's *skeleton digest* is computed: the SHA-256 of every byte of
//! the stream except the contents of regular files (headers, extended headers, padding
//! and the end of the archive count). [`super::skeleton_digest`] computes the same for
//! the tar our writer would make of a directory without reading its files, so the two
//! show, cheaply, that an extracted directory tars back to the very bytes it came from.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use buildpack_api::goerr;
use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag, openat};
use nix::sys::stat::{
    FileStat, Mode, SFlag, UtimensatFlags, fchmod, fstatat, futimens, mkdirat, utimensat,
};
use nix::sys::time::TimeSpec;
use nix::unistd::{Gid, Uid, UnlinkatFlags, fchown, fchownat, linkat, symlinkat, unlinkat};
use sha2::{Digest, Sha256};
use tar::{Archive, EntryType};

/// Size of the copy buffer, and of the read buffer in front of the tar.
const BUF_SIZE: usize = 256 * 1024;

/// Mode given to directories created for an entry that has no entry of its own.
const IMPLICIT_DIR_MODE: u32 = 0o755;

/// How [`extract`] treats what the tar records beyond names and contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtractOptions {
    /// Give every entry the uid and gid of its header (needs root or `CAP_CHOWN`);
    /// when false, what is extracted belongs to the extracting user. The default is
    /// true when running as root.
    pub same_owner: bool,
}

impl Default for ExtractOptions {
    fn default() -> Self {
        ExtractOptions {
            same_owner: nix::unistd::geteuid().is_root(),
        }
    }
}

/// What [`extract`] wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExtractReport {
    /// Directory entries (created or already there).
    pub dirs: u64,
    /// Regular files.
    pub files: u64,
    /// Symlinks.
    pub symlinks: u64,
    /// Hard links.
    pub hard_links: u64,
    /// Bytes of regular file contents.
    pub bytes: u64,
    /// `sha256:<hex>` of the tar without its regular files' contents (see the module
    /// documentation); `None` when the rest of the stream after the last entry could
    /// not be read (the caller's digest check then says why).
    pub skeleton: Option<String>,
}

/// A reader that hashes what passes through it, except the number of bytes it is told
/// to skip (a regular file's content, set when its entry starts).
struct SkeletonReader<R> {
    inner: R,
    hasher: Sha256,
    skip: Arc<AtomicU64>,
}

impl<R: Read> Read for SkeletonReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let skip = self.skip.load(Ordering::Relaxed);
        let skipped = skip.min(n as u64);
        self.skip.store(skip - skipped, Ordering::Relaxed);
        self.hasher.update(&buf[skipped as usize..n]);
        Ok(n)
    }
}

/// Why a layer could not be extracted. Entry names are the image paths of the tar.
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    /// The allowed directory is not an absolute path without `..`.
    #[error("allowed directory {}: not an absolute path without '..'", .allowed.display())]
    Allowed {
        /// The directory given.
        allowed: PathBuf,
    },
    /// The root directory cannot be opened.
    #[error("{}", goerr::path_error("open", .root, .source))]
    Root {
        /// The root.
        root: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The tar cannot be read (or ends early), at or before the given entry.
    #[error("error extracting from archive{}: {source}",
        .entry.as_ref().map(|e| format!(" at entry {}", e.display())).unwrap_or_default())]
    Read {
        /// The entry being read, if its header was.
        entry: Option<PathBuf>,
        /// Why.
        source: io::Error,
    },
    /// An entry is refused: nothing of it was written.
    #[error("entry {}: {reason}", .entry.display())]
    Refused {
        /// The entry.
        entry: PathBuf,
        /// Why.
        reason: Refusal,
    },
    /// A file system operation failed for an entry (`op` names it: `mkdir`, `open`,
    /// `write`, `symlink`, `link`, `chmod`, ...; `path` is the file on the host).
    #[error("entry {}: {}", .entry.display(), goerr::path_error(.op, .path, .source))]
    Io {
        /// The entry.
        entry: PathBuf,
        /// The operation.
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
}

/// Why an entry is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Its name, or its hard link's target, has a `..` component.
    #[error("'..' in {}", .name.display())]
    DotDot {
        /// The name or target, as in the tar.
        name: PathBuf,
    },
    /// It is neither inside the allowed directory nor a directory above it.
    #[error("outside {}", .allowed.display())]
    Outside {
        /// The allowed directory.
        allowed: PathBuf,
    },
    /// It is above the allowed directory but not a directory.
    #[error("a {kind} above {}: only directories may be there", .allowed.display())]
    NotADirAbove {
        /// Its kind.
        kind: &'static str,
        /// The allowed directory.
        allowed: PathBuf,
    },
    /// A directory of its path is a symlink, which extraction never follows.
    #[error("{} is a symlink, which extraction does not follow", .path.display())]
    ThroughSymlink {
        /// The symlink (image path).
        path: PathBuf,
    },
    /// A directory of its path is something else than a directory.
    #[error("{} is not a directory", .path.display())]
    NotADirectory {
        /// The non-directory (image path).
        path: PathBuf,
    },
    /// A hard link points outside the allowed directory.
    #[error("hard link to {}, outside {}", .target.display(), .allowed.display())]
    LinkOutside {
        /// The target (image path).
        target: PathBuf,
        /// The allowed directory.
        allowed: PathBuf,
    },
    /// A hard link points to a file this layer has not extracted before it.
    #[error("hard link to {}, which this layer has not extracted before it", .target.display())]
    LinkNotExtracted {
        /// The target (image path).
        target: PathBuf,
    },
    /// A non-empty directory is where the entry goes.
    #[error("a non-empty directory is in its place")]
    DirectoryInTheWay,
    /// A kind of entry that is never extracted (devices, FIFOs, unknown types).
    #[error("{kind} entries are not extracted")]
    Unsupported {
        /// The kind.
        kind: String,
    },
    /// A header field cannot be used.
    #[error("bad {field} in its header: {value}")]
    BadHeader {
        /// The field.
        field: &'static str,
        /// Its value.
        value: String,
    },
}

/// Extracts the layer tar read from `reader` under `root`: the entry `/a/b` goes to
/// `<root>/a/b`. Every entry must be inside `allowed` (an image path such as
/// `/layers/<bp>/<layer>`, or `allowed` itself), except directory entries above it,
/// created when missing (with their mode, owner and time) and left as they are when
/// present. Existing files in an entry's place are replaced (a directory only when
/// empty). The first refused entry or failure stops the extraction: what was written
/// before it stays.
pub fn extract(
    reader: impl Read,
    root: &Path,
    allowed: &Path,
    options: &ExtractOptions,
) -> Result<ExtractReport, ExtractError> {
    let allowed_comps = allowed_components(allowed)?;
    let root_fd = File::open(root).map_err(|source| ExtractError::Root {
        root: root.to_path_buf(),
        source,
    })?;
    let mut extractor = Extractor {
        root: root.to_path_buf(),
        allowed: allowed_comps,
        allowed_path: allowed.to_path_buf(),
        same_owner: options.same_owner,
        cursor: Cursor {
            root: root_fd.into(),
            stack: Vec::new(),
        },
        extracted: HashSet::new(),
        dirs: HashMap::new(),
        buf: vec![0; BUF_SIZE],
        report: ExtractReport::default(),
        skip: Arc::new(AtomicU64::new(0)),
    };
    // The tar reader reads headers block by block and contents only when asked, so the
    // skeleton reader below it sees each entry's content right after its header.
    let mut archive = Archive::new(SkeletonReader {
        inner: BufReader::with_capacity(BUF_SIZE, reader),
        hasher: Sha256::new(),
        skip: extractor.skip.clone(),
    });
    let entries = archive.entries().map_err(|source| ExtractError::Read {
        entry: None,
        source,
    })?;
    let mut last: Option<PathBuf> = None;
    for entry in entries {
        let entry = entry.map_err(|source| ExtractError::Read {
            entry: last.clone(),
            source,
        })?;
        last = Some(extractor.entry(entry)?);
    }
    extractor.fix_dirs()?;
    // The rest of the stream (the end of the archive) belongs to the skeleton too.
    let mut rest = archive.into_inner();
    let drained = io::copy(&mut rest, &mut io::sink());
    extractor.report.skeleton = drained.ok().map(|_| {
        let digest = rest.hasher.finalize();
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        format!("sha256:{hex}")
    });
    Ok(extractor.report)
}

/// The components of the allowed directory.
fn allowed_components(allowed: &Path) -> Result<Vec<Vec<u8>>, ExtractError> {
    let bad = || ExtractError::Allowed {
        allowed: allowed.to_path_buf(),
    };
    if !allowed.is_absolute() {
        return Err(bad());
    }
    let mut comps = Vec::new();
    for comp in allowed.components() {
        match comp {
            Component::RootDir | Component::CurDir => {}
            Component::Normal(name) => comps.push(name.as_bytes().to_vec()),
            Component::ParentDir | Component::Prefix(_) => return Err(bad()),
        }
    }
    Ok(comps)
}

/// The components of a tar name taken from the root (leading `/`, `.` and empty
/// components dropped), or `None` when one is `..`.
fn name_components(name: &[u8]) -> Option<Vec<&[u8]>> {
    let mut comps = Vec::new();
    for comp in name.split(|&b| b == b'/') {
        match comp {
            b"" | b"." => {}
            b".." => return None,
            _ => comps.push(comp),
        }
    }
    Some(comps)
}

/// `a/b/c` from components, the key of extracted files and fixed directories.
fn join(comps: &[&[u8]]) -> Vec<u8> {
    comps.join(&b'/')
}

/// The image path of components.
fn image_path(comps: &[&[u8]]) -> PathBuf {
    let mut path = b"/".to_vec();
    path.extend_from_slice(&join(comps));
    PathBuf::from(std::ffi::OsStr::from_bytes(&path))
}

/// A failure of one entry before the entry's name is attached.
enum Fail {
    Refused(Refusal),
    /// `op` failed on the file at these components (under the root).
    Io(&'static str, Vec<u8>, io::Error),
}

impl Fail {
    fn io(op: &'static str, comps: &[&[u8]], errno: Errno) -> Fail {
        Fail::Io(op, join(comps), io::Error::from(errno))
    }
}

/// Where an entry is relative to the allowed directory.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    Inside,
    Above,
}

/// Mode, owner and time a directory gets once everything is extracted.
struct DirFix {
    mode: u32,
    owner: Option<(u32, u32)>,
    mtime: Option<TimeSpec>,
}

/// The header fields applied to an entry.
struct Meta {
    mode: u32,
    owner: Option<(u32, u32)>,
    mtime: TimeSpec,
}

/// Opened directories along the path of the last entry's parent, so consecutive
/// entries of one directory resolve without a system call. Each is opened with
/// `O_NOFOLLOW` from the one before it, the first from the root.
struct Cursor {
    root: OwnedFd,
    stack: Vec<(Vec<u8>, OwnedFd)>,
}

impl Cursor {
    /// The directory at `comps`, opened without following symlinks. Missing
    /// directories are created (mode 0700 until [`Extractor::fix_dirs`]) and recorded
    /// in `created` when it is given, and are an error otherwise.
    fn resolve(
        &mut self,
        comps: &[&[u8]],
        mut created: Option<&mut HashMap<Vec<u8>, DirFix>>,
    ) -> Result<BorrowedFd<'_>, Fail> {
        let common = self
            .stack
            .iter()
            .zip(comps)
            .take_while(|((name, _), comp)| name.as_slice() == **comp)
            .count();
        self.stack.truncate(common);
        for depth in common..comps.len() {
            let name = comps[depth];
            let dir = self
                .stack
                .last()
                .map_or(self.root.as_fd(), |(_, fd)| fd.as_fd());
            let fd = match open_dir(dir, name) {
                Err(Errno::ENOENT) if created.is_some() => {
                    match mkdirat(dir, name, Mode::from_bits_truncate(0o700)) {
                        Ok(()) | Err(Errno::EEXIST) => {}
                        Err(errno) => return Err(Fail::io("mkdir", &comps[..=depth], errno)),
                    }
                    if let Some(created) = created.as_deref_mut() {
                        created.entry(join(&comps[..=depth])).or_insert(DirFix {
                            mode: IMPLICIT_DIR_MODE,
                            owner: None,
                            mtime: None,
                        });
                    }
                    open_dir(dir, name)
                }
                other => other,
            };
            let fd = fd.map_err(|errno| not_a_dir(dir, name, &comps[..=depth], errno))?;
            self.stack.push((name.to_vec(), fd));
        }
        Ok(self
            .stack
            .last()
            .map_or(self.root.as_fd(), |(_, fd)| fd.as_fd()))
    }
}

/// Opens a directory for lookups only, refusing symlinks.
fn open_dir(dir: BorrowedFd<'_>, name: &[u8]) -> Result<OwnedFd, Errno> {
    openat(
        dir,
        name,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
}

/// Why `name` in `dir` could not be opened as a directory.
fn not_a_dir(dir: BorrowedFd<'_>, name: &[u8], comps: &[&[u8]], errno: Errno) -> Fail {
    if matches!(errno, Errno::ENOTDIR | Errno::ELOOP) {
        let symlink = lstat(dir, name).is_ok_and(|st| kind_of(&st) == SFlag::S_IFLNK);
        let path = image_path(comps);
        Fail::Refused(if symlink {
            Refusal::ThroughSymlink { path }
        } else {
            Refusal::NotADirectory { path }
        })
    } else {
        Fail::io("open", comps, errno)
    }
}

fn lstat(dir: BorrowedFd<'_>, name: &[u8]) -> Result<FileStat, Errno> {
    fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW)
}

fn kind_of(st: &FileStat) -> SFlag {
    SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits())
}

/// Removes what is at `name` in `dir` so an entry can take its place.
fn remove(dir: BorrowedFd<'_>, name: &[u8], comps: &[&[u8]]) -> Result<(), Fail> {
    let st = lstat(dir, name).map_err(|errno| Fail::io("lstat", comps, errno))?;
    if kind_of(&st) == SFlag::S_IFDIR {
        match unlinkat(dir, name, UnlinkatFlags::RemoveDir) {
            Ok(()) => Ok(()),
            Err(Errno::ENOTEMPTY | Errno::EEXIST) => Err(Fail::Refused(Refusal::DirectoryInTheWay)),
            Err(errno) => Err(Fail::io("remove", comps, errno)),
        }
    } else {
        unlinkat(dir, name, UnlinkatFlags::NoRemoveDir)
            .map_err(|errno| Fail::io("remove", comps, errno))
    }
}

/// Runs `create`, and once more after removing what is in the way when it fails with
/// `EEXIST`.
fn replacing<T>(
    dir: BorrowedFd<'_>,
    name: &[u8],
    comps: &[&[u8]],
    op: &'static str,
    mut create: impl FnMut() -> Result<T, Errno>,
) -> Result<T, Fail> {
    match create() {
        Err(Errno::EEXIST) => {
            remove(dir, name, comps)?;
            create().map_err(|errno| Fail::io(op, comps, errno))
        }
        other => other.map_err(|errno| Fail::io(op, comps, errno)),
    }
}

struct Extractor {
    root: PathBuf,
    allowed: Vec<Vec<u8>>,
    allowed_path: PathBuf,
    same_owner: bool,
    cursor: Cursor,
    /// Files, symlinks and hard links extracted so far (hard link targets).
    extracted: HashSet<Vec<u8>>,
    /// Directories to fix at the end.
    dirs: HashMap<Vec<u8>, DirFix>,
    buf: Vec<u8>,
    report: ExtractReport,
    /// Content bytes the skeleton reader must leave out.
    skip: Arc<AtomicU64>,
}

impl Extractor {
    /// Extracts one entry; returns its name.
    fn entry<R: Read>(&mut self, mut entry: tar::Entry<'_, R>) -> Result<PathBuf, ExtractError> {
        let name = entry.path_bytes().into_owned();
        let display = PathBuf::from(std::ffi::OsStr::from_bytes(&name));
        let kind = entry.header().entry_type();
        if kind.is_file() {
            self.skip.store(entry.size(), Ordering::Relaxed);
        }
        if kind.is_pax_global_extensions() {
            return Ok(display);
        }
        let refused = |reason| ExtractError::Refused {
            entry: display.clone(),
            reason,
        };
        let Some(comps) = name_components(&name) else {
            return Err(refused(Refusal::DotDot {
                name: display.clone(),
            }));
        };
        let entry_path = image_path(&comps);
        let result = match self.place(&comps, kind) {
            Err(reason) => Err(Fail::Refused(reason)),
            // The root itself is never changed.
            Ok(_) if comps.is_empty() => Ok(()),
            Ok(place) => self.write(&mut entry, &comps, kind, place),
        };
        result.map_err(|fail| match fail {
            Fail::Refused(reason) => ExtractError::Refused {
                entry: entry_path.clone(),
                reason,
            },
            Fail::Io(op, rel, source) => ExtractError::Io {
                entry: entry_path.clone(),
                op,
                path: self.root.join(std::ffi::OsStr::from_bytes(&rel)),
                source,
            },
        })?;
        Ok(entry_path)
    }

    /// Where an entry is, or why it is refused.
    fn place(&self, comps: &[&[u8]], kind: EntryType) -> Result<Place, Refusal> {
        let prefix = |a: &[&[u8]], b: &[Vec<u8>]| a.iter().zip(b).all(|(x, y)| *x == y.as_slice());
        if comps.len() >= self.allowed.len() && prefix(comps, &self.allowed) {
            Ok(Place::Inside)
        } else if prefix(comps, &self.allowed) {
            if kind.is_dir() {
                Ok(Place::Above)
            } else {
                Err(Refusal::NotADirAbove {
                    kind: kind_name(kind),
                    allowed: self.allowed_path.clone(),
                })
            }
        } else {
            Err(Refusal::Outside {
                allowed: self.allowed_path.clone(),
            })
        }
    }

    fn write<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        comps: &[&[u8]],
        kind: EntryType,
        place: Place,
    ) -> Result<(), Fail> {
        let meta = self.meta(entry)?;
        let (parent_comps, name) = comps.split_at(comps.len() - 1);
        let name = name[0];
        match kind {
            EntryType::Directory => {
                let parent = self.cursor.resolve(parent_comps, Some(&mut self.dirs))?;
                let created = match mkdirat(parent, name, Mode::from_bits_truncate(0o700)) {
                    Ok(()) => true,
                    Err(Errno::EEXIST) => {
                        let st = lstat(parent, name).map_err(|e| Fail::io("lstat", comps, e))?;
                        if kind_of(&st) != SFlag::S_IFDIR {
                            if place == Place::Above {
                                return Err(not_a_dir(parent, name, comps, Errno::ENOTDIR));
                            }
                            remove(parent, name, comps)?;
                            mkdirat(parent, name, Mode::from_bits_truncate(0o700))
                                .map_err(|e| Fail::io("mkdir", comps, e))?;
                        }
                        false
                    }
                    Err(errno) => return Err(Fail::io("mkdir", comps, errno)),
                };
                let key = join(comps);
                // A directory above the allowed one is fixed only when this extraction
                // created it (here or for an earlier entry below it).
                if created || place == Place::Inside || self.dirs.contains_key(&key) {
                    self.dirs.insert(
                        key,
                        DirFix {
                            mode: meta.mode,
                            owner: meta.owner,
                            mtime: Some(meta.mtime),
                        },
                    );
                }
                self.report.dirs += 1;
            }
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
                let parent = self.cursor.resolve(parent_comps, Some(&mut self.dirs))?;
                let fd = replacing(parent, name, comps, "open", || {
                    openat(
                        parent,
                        name,
                        OFlag::O_CREAT
                            | OFlag::O_EXCL
                            | OFlag::O_WRONLY
                            | OFlag::O_NOFOLLOW
                            | OFlag::O_CLOEXEC,
                        Mode::from_bits_truncate(0o600),
                    )
                })?;
                let mut file = File::from(fd);
                let size = entry.size();
                let mut written = 0u64;
                loop {
                    let n = match entry.read(&mut self.buf) {
                        Ok(0) => break,
                        Ok(n) => n,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(e) => return Err(Fail::Io("read", join(comps), e)),
                    };
                    file.write_all(&self.buf[..n])
                        .map_err(|e| Fail::Io("write", join(comps), e))?;
                    written += n as u64;
                }
                if written != size {
                    return Err(Fail::Io(
                        "read",
                        join(comps),
                        io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            format!("the tar ends after {written} of the file's {size} bytes"),
                        ),
                    ));
                }
                if let Some((uid, gid)) = meta.owner {
                    fchown(&file, Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid)))
                        .map_err(|e| Fail::io("chown", comps, e))?;
                }
                fchmod(&file, Mode::from_bits_truncate(meta.mode))
                    .map_err(|e| Fail::io("chmod", comps, e))?;
                futimens(&file, &TimeSpec::UTIME_OMIT, &meta.mtime)
                    .map_err(|e| Fail::io("chtimes", comps, e))?;
                self.extracted.insert(join(comps));
                self.report.files += 1;
                self.report.bytes += written;
            }
            EntryType::Symlink => {
                let target = entry.link_name_bytes().unwrap_or_default().into_owned();
                let parent = self.cursor.resolve(parent_comps, Some(&mut self.dirs))?;
                replacing(parent, name, comps, "symlink", || {
                    symlinkat(target.as_slice(), parent, name)
                })?;
                if let Some((uid, gid)) = meta.owner {
                    fchownat(
                        parent,
                        name,
                        Some(Uid::from_raw(uid)),
                        Some(Gid::from_raw(gid)),
                        AtFlags::AT_SYMLINK_NOFOLLOW,
                    )
                    .map_err(|e| Fail::io("lchown", comps, e))?;
                }
                utimensat(
                    parent,
                    name,
                    &TimeSpec::UTIME_OMIT,
                    &meta.mtime,
                    UtimensatFlags::NoFollowSymlink,
                )
                .map_err(|e| Fail::io("chtimes", comps, e))?;
                self.extracted.insert(join(comps));
                self.report.symlinks += 1;
            }
            EntryType::Link => {
                let target = entry.link_name_bytes().unwrap_or_default().into_owned();
                let target_display = PathBuf::from(std::ffi::OsStr::from_bytes(&target));
                let target_comps =
                    name_components(&target).ok_or(Fail::Refused(Refusal::DotDot {
                        name: target_display,
                    }))?;
                let target_path = image_path(&target_comps);
                if self.place(&target_comps, EntryType::Regular) != Ok(Place::Inside)
                    || target_comps.len() == self.allowed.len()
                {
                    return Err(Fail::Refused(Refusal::LinkOutside {
                        target: target_path,
                        allowed: self.allowed_path.clone(),
                    }));
                }
                if !self.extracted.contains(&join(&target_comps)) {
                    return Err(Fail::Refused(Refusal::LinkNotExtracted {
                        target: target_path,
                    }));
                }
                let (target_parent, target_name) = target_comps.split_at(target_comps.len() - 1);
                let mut target_cursor = Cursor {
                    root: self
                        .cursor
                        .root
                        .try_clone()
                        .map_err(|e| Fail::Io("dup", Vec::new(), e))?,
                    stack: Vec::new(),
                };
                let target_dir = target_cursor.resolve(target_parent, None)?;
                let parent = self.cursor.resolve(parent_comps, Some(&mut self.dirs))?;
                replacing(parent, name, comps, "link", || {
                    linkat(target_dir, target_name[0], parent, name, AtFlags::empty())
                })?;
                self.extracted.insert(join(comps));
                self.report.hard_links += 1;
            }
            other => {
                let kind = match other {
                    EntryType::Char | EntryType::Block | EntryType::Fifo => {
                        kind_name(other).to_string()
                    }
                    _ => format!("type {:?}", other.as_byte() as char),
                };
                return Err(Fail::Refused(Refusal::Unsupported { kind }));
            }
        }
        Ok(())
    }

    /// The mode, owner (when asked for) and modification time of an entry, PAX
    /// records included.
    fn meta<R: Read>(&self, entry: &mut tar::Entry<'_, R>) -> Result<Meta, Fail> {
        let header = entry.header();
        let bad = |field, value: String| Fail::Refused(Refusal::BadHeader { field, value });
        let mode = header.mode().map_err(|e| bad("mode", e.to_string()))? & 0o7777;
        let owner = if self.same_owner {
            // The tar crate has already applied PAX uid and gid records.
            let uid = header.uid().map_err(|e| bad("uid", e.to_string()))?;
            let gid = header.gid().map_err(|e| bad("gid", e.to_string()))?;
            let uid = u32::try_from(uid).map_err(|_| bad("uid", uid.to_string()))?;
            let gid = u32::try_from(gid).map_err(|_| bad("gid", gid.to_string()))?;
            Some((uid, gid))
        } else {
            None
        };
        let seconds = header.mtime().map_err(|e| bad("mtime", e.to_string()))?;
        let mut mtime = TimeSpec::new(
            i64::try_from(seconds).map_err(|_| bad("mtime", seconds.to_string()))?,
            0,
        );
        if let Some(pax) = entry
            .pax_extensions()
            .map_err(|e| Fail::Io("read", Vec::new(), e))?
        {
            for record in pax {
                let record = record.map_err(|e| Fail::Io("read", Vec::new(), e))?;
                let value = || String::from_utf8_lossy(record.value_bytes()).into_owned();
                match record.key_bytes() {
                    b"mtime" => mtime = pax_time(&value()).ok_or_else(|| bad("mtime", value()))?,
                    // The tar crate falls back to the header's size when a PAX size does
                    // not parse; Go's archive/tar refuses the entry, and so do we.
                    b"size" if value().parse::<u64>().is_err() => {
                        return Err(bad("size", value()));
                    }
                    _ => {}
                }
            }
        }
        Ok(Meta { mode, owner, mtime })
    }

    /// Gives directories their mode, owner and time, deepest first so that no
    /// directory is closed before what is below it is done. A directory since replaced
    /// by another kind of entry is skipped.
    fn fix_dirs(&mut self) -> Result<(), ExtractError> {
        let mut dirs: Vec<(Vec<u8>, DirFix)> = self.dirs.drain().collect();
        // A path sorts after its prefixes: in reverse, children come before parents.
        dirs.sort_unstable_by(|a, b| b.0.cmp(&a.0));
        for (key, fix) in dirs {
            let comps: Vec<&[u8]> = key.split(|&b| b == b'/').collect();
            let io_err = |op, errno: Errno| ExtractError::Io {
                entry: image_path(&comps),
                op,
                path: self.root.join(std::ffi::OsStr::from_bytes(&key)),
                source: io::Error::from(errno),
            };
            let (parent_comps, name) = comps.split_at(comps.len() - 1);
            let parent = match self.cursor.resolve(parent_comps, None) {
                Ok(parent) => parent,
                Err(_) => continue,
            };
            let dir = match openat(
                parent,
                name[0],
                OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                Mode::empty(),
            ) {
                Ok(dir) => dir,
                Err(Errno::ENOENT | Errno::ENOTDIR | Errno::ELOOP) => continue,
                Err(errno) => return Err(io_err("open", errno)),
            };
            if let Some((uid, gid)) = fix.owner {
                fchown(&dir, Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid)))
                    .map_err(|e| io_err("chown", e))?;
            }
            fchmod(&dir, Mode::from_bits_truncate(fix.mode)).map_err(|e| io_err("chmod", e))?;
            if let Some(mtime) = fix.mtime {
                futimens(&dir, &TimeSpec::UTIME_OMIT, &mtime).map_err(|e| io_err("chtimes", e))?;
            }
        }
        Ok(())
    }
}

/// A PAX time (`1234`, `1234.5`, `-1.25`).
fn pax_time(value: &str) -> Option<TimeSpec> {
    let (negative, digits) = match value.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, value),
    };
    let (secs, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if secs.is_empty() || !secs.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let secs: i64 = secs.parse().ok()?;
    let mut nanos: i64 = 0;
    for (i, b) in frac.bytes().take(9).enumerate() {
        nanos += i64::from(b - b'0') * 10i64.pow(8 - i as u32);
    }
    Some(if negative && nanos > 0 {
        TimeSpec::new(-secs - 1, 1_000_000_000 - nanos)
    } else if negative {
        TimeSpec::new(-secs, 0)
    } else {
        TimeSpec::new(secs, nanos)
    })
}

/// A word for an entry type, in messages.
fn kind_name(kind: EntryType) -> &'static str {
    match kind {
        EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => "regular file",
        EntryType::Directory => "directory",
        EntryType::Symlink => "symlink",
        EntryType::Link => "hard link",
        EntryType::Char => "character device",
        EntryType::Block => "block device",
        EntryType::Fifo => "FIFO",
        _ => "unknown type",
    }
}

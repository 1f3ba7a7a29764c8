//! The volume cache (`-cache-dir`, and the daemon exporter's `-launch-cache`): layer
//! tars and their metadata in a directory, laid out as the reference lays it out so
//! that platforms can keep one cache volume across lifecycle versions:
//!
//! ```text
//! <dir>/committed/sha256:<hex>.tar                        one uncompressed layer tar per diffID
//! <dir>/committed/io.buildpacks.lifecycle.cache.metadata  the CacheMetadata JSON
//! <dir>/staging/                                          the next cache, built by an export
//! <dir>/committed-backup/                                 the previous cache, during a commit
//! ```
//!
//! An export builds the next cache in `staging/`: layers it keeps are hard-linked from
//! `committed/` (after their contents are verified), layers it has just written are
//! hard-linked from where it wrote them. [`VolumeCache::commit`] then keeps only what
//! the new metadata references, flushes the new files to disk, renames `committed/` to
//! `committed-backup/` and `staging/` to `committed/`, and removes the backup. A crash at
//! any point leaves the old or the new cache: [`VolumeCache::open`] puts the backup back
//! when the process died between the two renames, and drops a leftover `staging/` or
//! `committed-backup/`.
//!
//! Layers are verified (their SHA-256 recomputed) before they are reused or restored;
//! a missing, unreadable or corrupted layer is a read error
//! ([`VolumeCacheError::is_read_error`]) that the phases turn into the reference's
//! warnings. With [`VolumeCache::with_stamps`], a layer read in full and found sound
//! gets a verification stamp in a directory of the build (see `stamp`), so that
//! verifying it again in the same build (the cache step reusing what the restorer
//! restored) does not read it again while its metadata is unchanged.

mod stamp;

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::fs::{self, File};
use std::io::{self, BufReader, ErrorKind, Read, Write};
use std::os::unix::fs::lchown;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;

use buildpack_api::goerr;
use platform_api::labels::{CACHE_METADATA, CacheMetadata, LabelError};
use sha2::{Digest, Sha256};

/// Size of the read buffer used to hash layers.
const READ_BUFFER: usize = 256 * 1024;

/// Who owns what the cache creates (directories, metadata and layer files).
///
/// The reference creates everything as the build user, because it switches to that
/// user before opening the cache; a process that keeps its privileges passes the build
/// user's IDs here to get the same result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner {
    /// User ID.
    pub uid: u32,
    /// Group ID.
    pub gid: u32,
}

/// Why a volume cache operation failed.
///
/// `Display` words the read errors as the reference does, so that
/// `Skipping reuse for layer <bp>:<layer>: <error>` reads the same.
#[derive(Debug, thiserror::Error)]
pub enum VolumeCacheError {
    /// The committed cache has no tar for this diffID (a read error).
    #[error("failed to find cache layer with SHA '{diff_id}'")]
    LayerNotFound {
        /// The diffID asked for.
        diff_id: String,
    },
    /// The committed tar for this diffID cannot be opened for lack of permission (a read
    /// error).
    #[error("failed to read cache layer with SHA '{diff_id}' due to insufficient permissions")]
    LayerPermissionDenied {
        /// The diffID asked for.
        diff_id: String,
    },
    /// The committed tar for this diffID does not hash to it (a read error).
    #[error("expected layer contents to have SHA '{diff_id}'; found '{found}'")]
    LayerCorrupt {
        /// The diffID asked for (the expected SHA).
        diff_id: String,
        /// The SHA-256 of the file's contents (`sha256:<hex>`).
        found: String,
    },
    /// A layer given to [`VolumeCache::add_layer_from_reader`] does not hash to its
    /// diffID; nothing was staged.
    #[error("layer contents have SHA '{found}', not the expected '{diff_id}'")]
    LayerMismatch {
        /// The diffID given.
        diff_id: String,
        /// The SHA-256 of the contents read.
        found: String,
    },
    /// A diffID given to an `add_layer` method is not `sha256:` and 64 lower-case hex
    /// digits (it names a file, so nothing else is accepted).
    #[error("invalid layer diffID '{0}'")]
    InvalidDiffId(String),
    /// The committed metadata file is not valid cache metadata. (The reference reads
    /// such a file as empty metadata.)
    #[error("reading cache metadata '{}': {source}", path.display())]
    Metadata {
        /// The metadata file.
        path: PathBuf,
        /// What is wrong with it.
        source: LabelError,
    },
    /// The new metadata cannot be written as JSON.
    #[error("marshalling metadata: {0}")]
    EncodeMetadata(LabelError),
    /// A file system operation failed.
    #[error("{action} '{}': {}", path.display(), goerr::text(cause))]
    Io {
        /// What was being done (`committing cache`).
        action: &'static str,
        /// The file or directory it was done to.
        path: PathBuf,
        /// The OS error.
        cause: io::Error,
    },
}

impl VolumeCacheError {
    /// Whether this is one of the reference's "read errors": the layer is missing,
    /// unreadable or corrupted, so the caller warns and skips it instead of failing.
    pub fn is_read_error(&self) -> bool {
        matches!(
            self,
            VolumeCacheError::LayerNotFound { .. }
                | VolumeCacheError::LayerPermissionDenied { .. }
                | VolumeCacheError::LayerCorrupt { .. }
        )
    }
}

/// Builds an [`VolumeCacheError::Io`] mapper for `action` on `path`.
fn io_error(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> VolumeCacheError {
    let path = path.to_path_buf();
    move |cause| VolumeCacheError::Io {
        action,
        path,
        cause,
    }
}

/// An open volume cache: the committed cache to read, and a staging area for the next
/// one. All methods take `&self`, so layers can be added, reused and read from several
/// threads; [`VolumeCache::commit`] consumes the cache.
#[derive(Debug)]
pub struct VolumeCache {
    dir: PathBuf,
    committed: PathBuf,
    staging: PathBuf,
    backup: PathBuf,
    /// Where verification stamps are kept, if anywhere.
    stamps: Option<PathBuf>,
    owner: Option<Owner>,
    /// Counter naming the paths handed out by [`VolumeCache::new_layer_path`].
    next_new: AtomicU64,
    /// Flushes of the staged layer files whose contents are new (not links to
    /// committed ones), started when they are staged so that the disk writes overlap
    /// the rest of the export; the commit waits for them.
    flushes: Mutex<Vec<Flush>>,
}

impl VolumeCache {
    /// Opens the cache in `dir`, which must exist. Recovers from a commit that crashed
    /// between its two renames (the backup becomes `committed/` again), removes a
    /// leftover backup or staging directory, and creates empty `staging/` and (when
    /// missing) `committed/` directories, owned by `owner` when given.
    pub fn open(dir: impl Into<PathBuf>, owner: Option<Owner>) -> Result<Self, VolumeCacheError> {
        let dir = dir.into();
        let meta = fs::metadata(&dir).map_err(io_error("opening cache directory", &dir))?;
        if !meta.is_dir() {
            return Err(VolumeCacheError::Io {
                action: "opening cache directory",
                path: dir,
                cause: io::Error::from(ErrorKind::NotADirectory),
            });
        }
        let cache = VolumeCache {
            stamps: None,
            committed: dir.join("committed"),
            staging: dir.join("staging"),
            backup: dir.join("committed-backup"),
            dir,
            owner,
            next_new: AtomicU64::new(0),
            flushes: Mutex::new(Vec::new()),
        };
        cache.recover()?;
        remove_tree(&cache.staging)
            .map_err(io_error("initializing staging directory", &cache.staging))?;
        cache.create_dir(&cache.staging, "initializing staging directory")?;
        if !exists(&cache.committed)
            .map_err(io_error("creating committed directory", &cache.committed))?
        {
            cache.create_dir(&cache.committed, "creating committed directory")?;
        }
        Ok(cache)
    }

    /// Keeps verification stamps in `dir`, a directory of this build (say
    /// [`LayerIndex::cache_stamps`](crate::unchanged::LayerIndex::cache_stamps)),
    /// created when first needed: a layer tar read to its end by a [`LayerReader`]
    /// (or [`VolumeCache::verify_layer`]) and found sound is stamped there, and
    /// [`VolumeCache::verify_layer`] trusts a stamp while the tar's metadata is
    /// unchanged. The cache directory itself stays as the reference lays it out.
    pub fn with_stamps(mut self, dir: impl Into<PathBuf>) -> Self {
        self.stamps = Some(dir.into());
        self
    }

    /// Undoes what a crashed commit left: with `committed/` present the backup is
    /// stale; without it the crash came between the renames and the backup is the
    /// cache.
    fn recover(&self) -> Result<(), VolumeCacheError> {
        if !exists(&self.backup).map_err(io_error("removing backup directory", &self.backup))? {
            return Ok(());
        }
        if exists(&self.committed)
            .map_err(io_error("restoring backup directory", &self.committed))?
        {
            remove_tree(&self.backup).map_err(io_error("removing backup directory", &self.backup))
        } else {
            fs::rename(&self.backup, &self.committed)
                .map_err(io_error("restoring backup directory", &self.backup))?;
            sync_dir(&self.dir).map_err(io_error("restoring backup directory", &self.dir))
        }
    }

    /// The cache directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The committed metadata: empty when the cache has none (a new cache), an error
    /// when the file cannot be read or parsed.
    pub fn metadata(&self) -> Result<CacheMetadata, VolumeCacheError> {
        let path = self.committed.join(CACHE_METADATA);
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(err) if err.kind() == ErrorKind::NotFound => return Ok(CacheMetadata::default()),
            Err(err) => return Err(io_error("opening metadata file", &path)(err)),
        };
        // Like Go's decoder, invalid UTF-8 inside strings reads as U+FFFD.
        CacheMetadata::parse(&String::from_utf8_lossy(&bytes))
            .map_err(|source| VolumeCacheError::Metadata { path, source })
    }

    /// Whether the committed cache has a tar for `diff_id` (not verified).
    pub fn has_layer(&self, diff_id: &str) -> Result<bool, VolumeCacheError> {
        let Some(path) = layer_path_in(&self.committed, diff_id) else {
            return Ok(false);
        };
        match fs::metadata(&path) {
            Ok(_) => Ok(true),
            Err(err) if err.kind() == ErrorKind::NotFound => Ok(false),
            Err(err) => Err(io_error("retrieving layer", &path)(err)),
        }
    }

    /// The path of the committed tar for `diff_id`, which exists (not verified).
    pub fn layer_path(&self, diff_id: &str) -> Result<PathBuf, VolumeCacheError> {
        let path = self.committed_layer(diff_id)?;
        match fs::metadata(&path) {
            Ok(_) => Ok(path),
            Err(err) => Err(layer_read_error(diff_id, &path, err)),
        }
    }

    /// Opens the committed tar for `diff_id` for streaming. The reader hashes what it
    /// returns and checks the digest at the end: see [`LayerReader`]. When the whole
    /// file is read and sound, a verification stamp is recorded for it.
    pub fn open_layer(&self, diff_id: &str) -> Result<LayerReader, VolumeCacheError> {
        let path = self.committed_layer(diff_id)?;
        let file = File::open(&path).map_err(|err| layer_read_error(diff_id, &path, err))?;
        // Without its metadata, the file is read and verified but not stamped.
        let opened = file.metadata().ok().map(|m| stamp::FileState::of(&m));
        Ok(LayerReader {
            inner: BufReader::with_capacity(READ_BUFFER, file),
            hasher: Sha256::new(),
            diff_id: diff_id.to_owned(),
            path,
            found: None,
            stamp: self
                .stamps
                .as_deref()
                .zip(opened)
                .map(|(dir, opened)| Stamping {
                    path: stamp::path(dir, diff_id),
                    opened,
                    owner: self.owner,
                }),
        })
    }

    /// Checks that the committed tar for `diff_id` hashes to it: by reading it whole,
    /// unless a verification stamp (see [`VolumeCache::with_stamps`]) shows it was read
    /// whole and found sound in this build and its metadata (device, inode, size,
    /// modification and change times) has not changed since.
    pub fn verify_layer(&self, diff_id: &str) -> Result<(), VolumeCacheError> {
        let path = self.committed_layer(diff_id)?;
        if let Some(dir) = &self.stamps
            && stamp::holds(&stamp::path(dir, diff_id), &path, diff_id)
        {
            return Ok(());
        }
        self.open_layer(diff_id)?.finish()
    }

    /// A fresh path inside `staging/` for the caller to write a layer tar to, then
    /// pass to [`VolumeCache::add_layer`]. The path stays valid until the commit, which
    /// removes it.
    pub fn new_layer_path(&self) -> PathBuf {
        let n = self.next_new.fetch_add(1, Ordering::Relaxed);
        self.staging.join(format!(".new-{n}.tar"))
    }

    /// Stages the layer tar at `written` under `diff_id`, its SHA-256 (computed by the
    /// caller while writing it; not recomputed). `written` is hard-linked, or copied
    /// when it cannot be (another file system), so it stays where it is. A layer already
    /// staged under `diff_id` is kept as it is.
    pub fn add_layer(&self, written: &Path, diff_id: &str) -> Result<(), VolumeCacheError> {
        let target = self.staging_layer(diff_id)?;
        match fs::hard_link(written, &target) {
            Ok(()) => {}
            Err(err) if err.kind() == ErrorKind::AlreadyExists => return Ok(()),
            Err(err)
                if matches!(
                    err.kind(),
                    ErrorKind::CrossesDevices
                        | ErrorKind::PermissionDenied
                        | ErrorKind::Unsupported
                        | ErrorKind::TooManyLinks
                ) =>
            {
                let temp = self.new_layer_path();
                fs::copy(written, &temp).map_err(io_error("caching layer", written))?;
                fs::rename(&temp, &target).map_err(io_error("caching layer", &target))?;
            }
            Err(err) => return Err(io_error("caching layer", written)(err)),
        }
        self.chown(&target, "caching layer")?;
        self.start_flush(target)
    }

    /// Stages a layer read from `reader` under `diff_id`, checking that the contents
    /// hash to it (nothing is staged when they do not). Replaces a layer already staged
    /// under `diff_id`.
    pub fn add_layer_from_reader(
        &self,
        reader: &mut dyn Read,
        diff_id: &str,
    ) -> Result<(), VolumeCacheError> {
        let target = self.staging_layer(diff_id)?;
        let temp = self.new_layer_path();
        // On failure the partial file stays in staging/, which the commit (or the
        // next open) clears.
        let found =
            write_hashed(reader, &temp).map_err(io_error("copying layer to tar file", &temp))?;
        if found != diff_id {
            fs::remove_file(&temp).map_err(io_error("removing layer file", &temp))?;
            return Err(VolumeCacheError::LayerMismatch {
                diff_id: diff_id.to_owned(),
                found,
            });
        }
        fs::rename(&temp, &target).map_err(io_error("caching layer", &target))?;
        self.chown(&target, "caching layer")?;
        self.start_flush(target)
    }

    /// Verifies the committed tar for `diff_id` and stages it by hard link: the next
    /// cache keeps it without copying. A corrupted or missing tar is a read error and
    /// stages nothing.
    pub fn reuse_layer(&self, diff_id: &str) -> Result<(), VolumeCacheError> {
        self.verify_layer(diff_id)?;
        let from = self.committed_layer(diff_id)?;
        let to = self.staging_layer(diff_id)?;
        match fs::hard_link(&from, &to) {
            Ok(()) => Ok(()),
            Err(err) if err.kind() == ErrorKind::AlreadyExists => Ok(()),
            Err(err) if err.kind() == ErrorKind::NotFound => {
                Err(layer_read_error(diff_id, &from, err))
            }
            Err(err) => Err(io_error("reusing layer", &from)(err)),
        }
    }

    /// Makes the staged cache the committed one.
    ///
    /// With `metadata` (the layer cache), writes it and keeps only the layers it
    /// references (every buildpack layer's `sha` and the SBOM layer's); without (the
    /// launch cache, which has no metadata), keeps every staged layer. Everything else
    /// in `staging/` is removed. The new files, the metadata and `staging/` are flushed
    /// to disk before the swap, and the cache directory after it. If the swap fails the
    /// old cache is put back. A layer the metadata references but that was never staged
    /// is simply absent, which readers report as [`VolumeCacheError::LayerNotFound`].
    pub fn commit(self, metadata: Option<&CacheMetadata>) -> Result<(), VolumeCacheError> {
        let keep = metadata.map(referenced_files);
        self.prune_staging(keep.as_ref())?;
        if let Some(metadata) = metadata {
            self.write_metadata(metadata)?;
        }
        let flushes = std::mem::take(&mut *self.flushes());
        for Flush { path, thread } in flushes {
            thread
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("flushing thread panicked")))
                .map_err(io_error("syncing layer", &path))?;
        }
        sync_dir(&self.staging).map_err(io_error("syncing staging directory", &self.staging))?;

        let had_committed = match fs::rename(&self.committed, &self.backup) {
            Ok(()) => true,
            Err(err) if err.kind() == ErrorKind::NotFound => false,
            Err(err) => return Err(io_error("backing up cache", &self.committed)(err)),
        };
        if let Err(err) = fs::rename(&self.staging, &self.committed) {
            if had_committed {
                fs::rename(&self.backup, &self.committed)
                    .map_err(io_error("rolling back cache", &self.backup))?;
            }
            return Err(io_error("committing cache", &self.staging)(err));
        }
        sync_dir(&self.dir).map_err(io_error("committing cache", &self.dir))?;
        // The stamps were about the cache just replaced (and its tars' change times
        // moved when they were linked into the new one): none holds any more.
        if let Some(stamps) = &self.stamps {
            let _ = remove_tree(stamps);
        }
        if had_committed {
            // A backup left behind (say, a file that cannot be removed) is harmless:
            // the next open removes it, as the reference does.
            let _ = remove_tree(&self.backup);
        }
        Ok(())
    }

    /// Removes from `staging/` everything but the layers to keep: those named in
    /// `keep`, or every layer file when `keep` is `None`.
    fn prune_staging(&self, keep: Option<&BTreeSet<String>>) -> Result<(), VolumeCacheError> {
        let entries = fs::read_dir(&self.staging)
            .map_err(io_error("reading staging directory", &self.staging))?;
        for entry in entries {
            let entry = entry.map_err(io_error("reading staging directory", &self.staging))?;
            let name = entry.file_name();
            let kept = match keep {
                Some(keep) => name.to_str().is_some_and(|name| keep.contains(name)),
                None => is_layer_file(&name),
            };
            if !kept {
                let path = entry.path();
                remove_tree(&path).map_err(io_error("removing stale cache entry", &path))?;
            }
        }
        Ok(())
    }

    /// Writes `metadata` into `staging/` as the reference's JSON encoder does (with a
    /// final newline) and flushes it.
    fn write_metadata(&self, metadata: &CacheMetadata) -> Result<(), VolumeCacheError> {
        let mut json = metadata
            .to_json()
            .map_err(VolumeCacheError::EncodeMetadata)?;
        json.push('\n');
        let path = self.staging.join(CACHE_METADATA);
        let mut file = File::create(&path).map_err(io_error("creating metadata file", &path))?;
        file.write_all(json.as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(io_error("writing metadata file", &path))?;
        self.chown(&path, "creating metadata file")
    }

    fn committed_layer(&self, diff_id: &str) -> Result<PathBuf, VolumeCacheError> {
        // A diffID that is not a digest cannot name a cached layer (nor escape the
        // directory): it is simply not found.
        layer_path_in(&self.committed, diff_id).ok_or_else(|| VolumeCacheError::LayerNotFound {
            diff_id: diff_id.to_owned(),
        })
    }

    fn staging_layer(&self, diff_id: &str) -> Result<PathBuf, VolumeCacheError> {
        layer_path_in(&self.staging, diff_id)
            .ok_or_else(|| VolumeCacheError::InvalidDiffId(diff_id.to_owned()))
    }

    /// Starts flushing the staged file at `path` to disk in a thread of its own.
    fn start_flush(&self, path: PathBuf) -> Result<(), VolumeCacheError> {
        let file = File::open(&path).map_err(io_error("syncing layer", &path))?;
        let thread = std::thread::Builder::new()
            .name("cache-flush".into())
            .spawn(move || file.sync_all())
            .map_err(io_error("syncing layer", &path))?;
        self.flushes().push(Flush { path, thread });
        Ok(())
    }

    fn flushes(&self) -> std::sync::MutexGuard<'_, Vec<Flush>> {
        // The list stays consistent even if a thread panicked while holding the lock.
        self.flushes
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn create_dir(&self, path: &Path, action: &'static str) -> Result<(), VolumeCacheError> {
        fs::create_dir(path).map_err(io_error(action, path))?;
        self.chown(path, action)
    }

    fn chown(&self, path: &Path, action: &'static str) -> Result<(), VolumeCacheError> {
        match self.owner {
            Some(owner) => {
                lchown(path, Some(owner.uid), Some(owner.gid)).map_err(io_error(action, path))
            }
            None => Ok(()),
        }
    }
}

/// A staged file being flushed to disk.
#[derive(Debug)]
struct Flush {
    path: PathBuf,
    thread: JoinHandle<io::Result<()>>,
}

/// A committed layer tar being read. It hashes every byte it returns; on reaching the
/// end it compares the digest with the diffID and, when they differ, fails the read
/// with an [`io::ErrorKind::InvalidData`] error whose inner error is
/// [`VolumeCacheError::LayerCorrupt`]. A consumer that stops before the end (a tar
/// reader stops at the end-of-archive blocks) calls [`LayerReader::finish`] to read the
/// rest and get the verdict. Either way, what was consumed before a mismatch came from
/// a corrupted file and should be discarded.
#[derive(Debug)]
pub struct LayerReader {
    inner: BufReader<File>,
    hasher: Sha256,
    diff_id: String,
    path: PathBuf,
    /// The digest of the whole file, once the end was reached.
    found: Option<String>,
    /// The stamp to record once the file is found sound, taken when it is recorded.
    stamp: Option<Stamping>,
}

/// The verification stamp a [`LayerReader`] records for a sound file.
#[derive(Debug)]
struct Stamping {
    path: PathBuf,
    /// The file's metadata when it was opened.
    opened: stamp::FileState,
    owner: Option<Owner>,
}

impl LayerReader {
    /// The diffID the layer is expected to have.
    pub fn diff_id(&self) -> &str {
        &self.diff_id
    }

    /// Reads what is left and checks the digest of the whole file.
    pub fn finish(mut self) -> Result<(), VolumeCacheError> {
        if self.found.is_none() {
            let mut buf = vec![0; READ_BUFFER];
            loop {
                match self.inner.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => self.hasher.update(&buf[..n]),
                    Err(err) if err.kind() == ErrorKind::Interrupted => {}
                    Err(err) => return Err(io_error("hashing layer", &self.path)(err)),
                }
            }
        }
        self.verdict()
    }

    /// Compares the digest of the whole file (computed on the first call) with the
    /// diffID.
    fn verdict(&mut self) -> Result<(), VolumeCacheError> {
        let found = match &self.found {
            Some(found) => found,
            None => self
                .found
                .insert(digest_string(std::mem::take(&mut self.hasher))),
        };
        if *found == self.diff_id {
            if let Some(stamping) = self.stamp.take() {
                // A stamp only saves a later read: failing to write one is no failure.
                let _ = stamp::record(
                    &stamping.path,
                    &self.diff_id,
                    self.inner.get_ref(),
                    stamping.opened,
                    stamping.owner,
                );
            }
            Ok(())
        } else {
            Err(VolumeCacheError::LayerCorrupt {
                diff_id: self.diff_id.clone(),
                found: found.clone(),
            })
        }
    }
}

impl Read for LayerReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.found.is_none() {
            let n = self.inner.read(buf)?;
            if n > 0 {
                self.hasher.update(&buf[..n]);
                return Ok(n);
            }
        }
        self.verdict()
            .map(|()| 0)
            .map_err(|err| io::Error::new(ErrorKind::InvalidData, err))
    }
}

/// Copies `reader` into a new file at `path`, returning the contents' diffID.
fn write_hashed(reader: &mut dyn Read, path: &Path) -> io::Result<String> {
    let mut file = File::create_new(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0; READ_BUFFER];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(err) if err.kind() == ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        };
        hasher.update(&buf[..n]);
        file.write_all(&buf[..n])?;
    }
    Ok(digest_string(hasher))
}

/// The reference's read error for a layer file that could not be opened.
fn layer_read_error(diff_id: &str, path: &Path, err: io::Error) -> VolumeCacheError {
    match err.kind() {
        ErrorKind::NotFound => VolumeCacheError::LayerNotFound {
            diff_id: diff_id.to_owned(),
        },
        ErrorKind::PermissionDenied => VolumeCacheError::LayerPermissionDenied {
            diff_id: diff_id.to_owned(),
        },
        _ => io_error("retrieving layer", path)(err),
    }
}

/// `sha256:<hex>` of what `hasher` has seen.
fn digest_string(hasher: Sha256) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(71);
    out.push_str("sha256:");
    for byte in hasher.finalize() {
        out.push(char::from(HEX[usize::from(byte >> 4)]));
        out.push(char::from(HEX[usize::from(byte & 0xf)]));
    }
    out
}

/// Whether `diff_id` is `sha256:` and 64 lower-case hex digits.
fn is_diff_id(diff_id: &str) -> bool {
    diff_id.strip_prefix("sha256:").is_some_and(|hex| {
        hex.len() == 64
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// `<dir>/<diffID>.tar`, or `None` when `diff_id` is not a diffID.
fn layer_path_in(dir: &Path, diff_id: &str) -> Option<PathBuf> {
    is_diff_id(diff_id).then(|| dir.join(format!("{diff_id}.tar")))
}

/// Whether a directory entry is a layer file (`<diffID>.tar`).
fn is_layer_file(name: &OsStr) -> bool {
    name.to_str()
        .and_then(|name| name.strip_suffix(".tar"))
        .is_some_and(is_diff_id)
}

/// The file names `metadata` references: a `<diffID>.tar` for each layer with a SHA.
fn referenced_files(metadata: &CacheMetadata) -> BTreeSet<String> {
    metadata
        .buildpacks
        .iter()
        .flat_map(|bp| bp.layers.values().map(|layer| &layer.sha))
        .chain([&metadata.sbom.sha])
        .filter(|sha| is_diff_id(sha))
        .map(|sha| format!("{sha}.tar"))
        .collect()
}

/// Whether `path` exists (without following a final symlink).
fn exists(path: &Path) -> io::Result<bool> {
    match fs::symlink_metadata(path) {
        Ok(_) => Ok(true),
        Err(err) if err.kind() == ErrorKind::NotFound => Ok(false),
        Err(err) => Err(err),
    }
}

/// Removes a file or a directory tree; nothing there is fine.
fn remove_tree(path: &Path) -> io::Result<()> {
    let result = match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
        Err(err) => Err(err),
    };
    match result {
        Err(err) if err.kind() == ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

/// Flushes a directory's entries to disk. Some network and FUSE file systems cannot
/// sync a directory (`EINVAL`); their renames are then as durable as they make them.
fn sync_dir(dir: &Path) -> io::Result<()> {
    match File::open(dir)?.sync_all() {
        Err(err) if matches!(err.kind(), ErrorKind::InvalidInput | ErrorKind::Unsupported) => {
            Ok(())
        }
        other => other,
    }
}

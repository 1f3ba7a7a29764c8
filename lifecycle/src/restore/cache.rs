//! Cached layers' contents: which layers to restore, and their extraction from a volume
//! cache or a cache image on a bounded pool of threads.
//!
//! Every layer is streamed from the cache into `<layers>/<bp>/<layer>` (and nowhere
//! else: [`extract`] refuses any entry outside it), hashed as it is read. A layer whose
//! tar is missing from the cache or does not hash to its diffID is removed again (its
//! directory and `<layer>.toml`) with the reference's `Skipping restore for layer`
//! warning; a tar with an entry that may not be extracted is removed and fails the
//! restore. Once a layer is back, its fingerprint is recorded ([`LayerIndex::record`])
//! so the exporter can prove it unchanged without hashing it; those records run on the
//! same pool, after the extractions waiting for a thread.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex};

use buildpack_api::id::escape;
use platform_api::labels::CacheMetadata;

use super::metadata::Written;
use super::{Cache, RestoreError, RestoreInputs, remove_dir, remove_layer};
use crate::layer::extract::{ExtractError, ExtractOptions, extract};
use crate::log::Logger;
use crate::unchanged::LayerIndex;

/// A cached layer to restore.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerJob {
    /// The buildpack ID.
    pub buildpack_id: String,
    /// The layer name.
    pub name: String,
    /// `<layers>/<escaped bp>/<name>`.
    pub dir: PathBuf,
    /// The diffID of its tar in the cache.
    pub diff_id: String,
}

impl LayerJob {
    /// `<bp>:<layer>`.
    pub fn identifier(&self) -> String {
        format!("{}:{}", self.buildpack_id, self.name)
    }
}

/// The layers of `<layers>/<bp>` (directories and `<name>.toml` files other than
/// `store.toml`, `launch.toml` and `build.toml`), sorted.
fn layers_on_disk(bp_dir: &Path) -> Result<BTreeSet<String>, RestoreError> {
    let mut names = BTreeSet::new();
    let entries = match std::fs::read_dir(bp_dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(names),
        Err(e) => return Err(RestoreError::io("read", bp_dir)(e)),
    };
    for entry in entries {
        let entry = entry.map_err(RestoreError::io("read", bp_dir))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let is_dir = entry
            .file_type()
            .map_err(RestoreError::io("read", &entry.path()))?
            .is_dir();
        if is_dir {
            names.insert(name);
        } else if let Some(stem) = name.strip_suffix(".toml")
            && !["store", "launch", "build"].contains(&stem)
        {
            names.insert(stem.to_string());
        }
    }
    Ok(names)
}

/// The cached layers to restore: every layer of a group buildpack in `<layers>` that
/// the cache holds as `cache = true`. One whose recorded diffID (from `written`, empty
/// when this restore did not write its metadata) differs from the cache's is removed.
pub fn plan(
    inputs: &RestoreInputs,
    cache: &CacheMetadata,
    written: &Written,
    logger: &Logger,
) -> Result<Vec<LayerJob>, RestoreError> {
    let empty = BTreeMap::new();
    let mut jobs = Vec::new();
    for bp in &inputs.buildpacks {
        let cached = cache.for_buildpack(&bp.id).map_or(&empty, |md| &md.layers);
        let recorded = written.get(&bp.id);
        let bp_dir = inputs.layers_dir.join(escape(&bp.id));
        logger.debug(format!("Reading buildpack directory: {}", bp_dir.display()));
        for name in layers_on_disk(&bp_dir)? {
            let Some(layer) = cached.get(&name).filter(|l| l.cache) else {
                continue;
            };
            let job = LayerJob {
                buildpack_id: bp.id.clone(),
                name: name.clone(),
                dir: bp_dir.join(&name),
                diff_id: layer.sha.clone(),
            };
            let sha = recorded
                .and_then(|r| r.get(&name))
                .map_or("", String::as_str);
            if sha != layer.sha {
                logger.info(format!("Removing {:?}, wrong sha", job.identifier()));
                logger.debug(format!("Layer sha: {sha:?}, cache sha: {:?}", layer.sha));
                super::remove_layer(&job.dir)?;
                continue;
            }
            logger.info(format!(
                "Restoring data for {:?} from cache",
                job.identifier()
            ));
            jobs.push(job);
        }
    }
    Ok(jobs)
}

/// Work for the pool.
enum Task {
    /// Extract layer `jobs[i]`.
    Layer(usize),
    /// Extract the cache's SBOM layer.
    Sbom,
    /// Record the fingerprint of restored layer `jobs[i]`, whose tar had this skeleton
    /// digest.
    Record(usize, String),
}

/// The pool's shared queue.
struct Queue {
    pending: VecDeque<Task>,
    active: usize,
}

/// How extracting one tar ended.
enum Outcome {
    /// Extracted and verified; the tar's skeleton digest, when it could be taken.
    Restored(Option<String>),
    /// Missing or corrupted in the cache: a read error, warned about.
    Unreadable(String),
}

/// Extracts `jobs` (and the SBOM layer `sbom_sha`, when given) from `cache`, at most
/// one per available core at a time (each on two threads: reading and hashing, and
/// writing), and records the restored layers' fingerprints.
/// Returns the layers removed because they could not be restored, as
/// `(buildpack ID, layer name)`. The first error is returned once every task ended.
pub fn run(
    inputs: &RestoreInputs,
    cache: Option<&Cache>,
    jobs: Vec<LayerJob>,
    sbom_sha: Option<&str>,
    logger: &Logger,
) -> Result<BTreeSet<(String, String)>, RestoreError> {
    let Some(cache) = cache else {
        return Ok(BTreeSet::new());
    };
    let mut pending: VecDeque<Task> = (0..jobs.len()).map(Task::Layer).collect();
    if sbom_sha.is_some() {
        pending.push_front(Task::Sbom);
    }
    if pending.is_empty() {
        return Ok(BTreeSet::new());
    }
    let workers = std::thread::available_parallelism()
        .map_or(4, |n| n.get())
        .min(pending.len());
    let queue = Mutex::new(Queue { pending, active: 0 });
    let removed = Mutex::new(BTreeSet::new());
    let changed = Condvar::new();
    let first_error = Mutex::new(None);
    let index = LayerIndex::new(&inputs.layers_dir);
    let options = ExtractOptions::default();
    let work = |task: Task| -> Result<Option<Task>, RestoreError> {
        match task {
            Task::Layer(i) => {
                let job = &jobs[i];
                let identifier = job.identifier();
                logger.debug(format!("Retrieving data for {:?}", job.diff_id));
                let outcome = extract_from(cache, &job.diff_id, &job.dir, &options)
                    .map_err(|e| e.named(&identifier));
                match &outcome {
                    Ok(Outcome::Restored(Some(skeleton))) => {
                        return Ok(Some(Task::Record(i, skeleton.clone())));
                    }
                    Ok(Outcome::Restored(None)) => return Ok(None),
                    Ok(Outcome::Unreadable(reason)) => {
                        logger.warn(format!("Skipping restore for layer {identifier}: {reason}"));
                    }
                    Err(_) => {}
                }
                removed
                    .lock()
                    .expect("removed set")
                    .insert((job.buildpack_id.clone(), job.name.clone()));
                remove_layer(&job.dir)?;
                outcome.map(|_| None)
            }
            Task::Record(i, skeleton) => {
                let job = &jobs[i];
                match index.record(
                    &job.dir,
                    inputs.owner,
                    &job.buildpack_id,
                    &job.name,
                    &job.diff_id,
                    &skeleton,
                ) {
                    Ok(true) => {}
                    Ok(false) => logger.debug(format!(
                        "Layer {:?} does not tar back to {}: no fingerprint recorded",
                        job.identifier(),
                        job.diff_id
                    )),
                    Err(err) => logger.debug(format!(
                        "Recording the fingerprint of {:?}: {err}",
                        job.identifier()
                    )),
                }
                Ok(None)
            }
            Task::Sbom => {
                let sha = sbom_sha.unwrap_or_default();
                let dir = inputs.layers_dir.join("sbom").join("cache");
                logger.info("Restoring data for SBOM from cache");
                logger.debug(format!("Retrieving SBOM layer data for {sha:?}"));
                match extract_from(cache, sha, &dir, &options).map_err(|e| e.named("SBOM"))? {
                    Outcome::Restored(_) => {}
                    Outcome::Unreadable(reason) => {
                        logger.warn(format!("Skipping restore for SBOM layer: {reason}"));
                        remove_dir(&dir)?;
                    }
                }
                Ok(None)
            }
        }
    };
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let task = {
                        let mut q = queue.lock().expect("restore queue");
                        loop {
                            if let Some(task) = q.pending.pop_front() {
                                q.active += 1;
                                break Some(task);
                            }
                            if q.active == 0 {
                                break None;
                            }
                            q = changed.wait(q).expect("restore queue");
                        }
                    };
                    let Some(task) = task else {
                        changed.notify_all();
                        return;
                    };
                    let next = work(task);
                    let mut q = queue.lock().expect("restore queue");
                    q.active -= 1;
                    match next {
                        Ok(Some(next)) => q.pending.push_back(next),
                        Ok(None) => {}
                        Err(err) => {
                            first_error.lock().expect("first error").get_or_insert(err);
                        }
                    }
                    drop(q);
                    changed.notify_all();
                }
            });
        }
    });
    match first_error.into_inner().expect("first error") {
        Some(err) => Err(err),
        None => Ok(removed.into_inner().expect("removed set")),
    }
}

/// Why extracting one tar failed, before it is named.
enum Failed {
    /// An entry was refused or could not be written.
    Extract(ExtractError),
    /// The cache could not be read.
    Cache(Box<dyn std::error::Error + Send + Sync>),
}

impl Failed {
    /// The error for layer `identifier`.
    fn named(self, identifier: &str) -> RestoreError {
        let identifier = identifier.to_string();
        match self {
            Failed::Extract(cause) => RestoreError::Extract { identifier, cause },
            Failed::Cache(cause) => RestoreError::Cache { identifier, cause },
        }
    }
}

/// The reference's read error for a tar the cache lacks.
fn not_found(diff_id: &str) -> Outcome {
    Outcome::Unreadable(format!("failed to find cache layer with SHA '{diff_id}'"))
}

/// Streams the cache's tar `diff_id` into `allowed` (its entries are absolute paths)
/// and checks its digest once the tar has ended.
fn extract_from(
    cache: &Cache,
    diff_id: &str,
    allowed: &Path,
    options: &ExtractOptions,
) -> Result<Outcome, Failed> {
    match cache {
        Cache::Volume(volume) => {
            let reader = match volume.open_layer(diff_id) {
                Ok(reader) => reader,
                Err(err) if err.is_read_error() => return Ok(Outcome::Unreadable(err.to_string())),
                Err(err) => return Err(Failed::Cache(Box::new(err))),
            };
            let (extracted, reader) = pipelined(reader, |r| extract_layer(r, allowed, options));
            match reader.finish() {
                Err(err) if err.is_read_error() => Ok(Outcome::Unreadable(err.to_string())),
                Err(err) => Err(extracted.err().unwrap_or(Failed::Cache(Box::new(err)))),
                Ok(()) => extracted.map(Outcome::Restored),
            }
        }
        Cache::Image { image: None, .. } => Ok(not_found(diff_id)),
        Cache::Image {
            store,
            image: Some(image),
        } => {
            if image.image.layer(diff_id).is_none() {
                return Ok(not_found(diff_id));
            }
            let stream = store
                .open_layer(image, diff_id)
                .map_err(|e| Failed::Cache(Box::new(e)))?;
            let (extracted, stream) = pipelined(stream, |r| extract_layer(r, allowed, options));
            match stream.finish() {
                Err(err) => Ok(Outcome::Unreadable(err.to_string())),
                Ok(()) => extracted.map(Outcome::Restored),
            }
        }
    }
}

/// Size of the chunks the reading thread hands to the extracting one.
const CHUNK: usize = 1 << 20;
/// Chunks in flight between them.
const CHUNKS_IN_FLIGHT: usize = 4;

/// Runs `consume` on what `reader` yields, read (and so hashed, and for a cache image
/// downloaded and gunzipped) on a thread of its own, so reading and writing the files
/// overlap. Returns `consume`'s result and the reader, for its verdict.
fn pipelined<R: Read + Send, T>(mut reader: R, consume: impl FnOnce(&mut dyn Read) -> T) -> (T, R) {
    let (full_tx, full_rx) = std::sync::mpsc::sync_channel::<io::Result<Vec<u8>>>(CHUNKS_IN_FLIGHT);
    let (empty_tx, empty_rx) = std::sync::mpsc::channel::<Vec<u8>>();
    std::thread::scope(|scope| {
        let producer = scope.spawn(move || {
            loop {
                let mut buf = empty_rx.try_recv().unwrap_or_else(|_| vec![0; CHUNK]);
                buf.resize(CHUNK, 0);
                let filled = fill(&mut reader, &mut buf);
                let done = !matches!(filled, Ok(n) if n > 0);
                let sent = full_tx.send(filled.map(|n| {
                    buf.truncate(n);
                    buf
                }));
                if done || sent.is_err() {
                    return reader;
                }
            }
        });
        let mut channel = ChannelReader {
            rx: full_rx,
            recycle: empty_tx,
            chunk: Vec::new(),
            at: 0,
        };
        let result = consume(&mut channel);
        drop(channel);
        (result, producer.join().expect("layer reading thread"))
    })
}

/// Reads until `buf` is full or the end; the count read.
fn fill(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match reader.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(m) => n += m,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// The consuming end of [`pipelined`].
struct ChannelReader {
    rx: std::sync::mpsc::Receiver<io::Result<Vec<u8>>>,
    recycle: std::sync::mpsc::Sender<Vec<u8>>,
    chunk: Vec<u8>,
    at: usize,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.at == self.chunk.len() {
            match self.rx.recv() {
                Ok(Ok(chunk)) if chunk.is_empty() => return Ok(0),
                Ok(Ok(chunk)) => {
                    let used = std::mem::replace(&mut self.chunk, chunk);
                    let _ = self.recycle.send(used);
                    self.at = 0;
                }
                Ok(Err(e)) => return Err(e),
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len() - self.at);
        buf[..n].copy_from_slice(&self.chunk[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// Extracts a layer tar under `/`, confined to `allowed`.
/// Returns the tar's skeleton digest, when it could be taken.
fn extract_layer(
    reader: impl Read,
    allowed: &Path,
    options: &ExtractOptions,
) -> Result<Option<String>, Failed> {
    extract(reader, Path::new("/"), allowed, options)
        .map(|report| report.skeleton)
        .map_err(Failed::Extract)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Yields `data`, then fails.
    struct FailingAtEnd(io::Cursor<Vec<u8>>);

    impl Read for FailingAtEnd {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            match self.0.read(buf)? {
                0 => Err(io::Error::new(io::ErrorKind::InvalidData, "bad digest")),
                n => Ok(n),
            }
        }
    }

    #[test]
    fn pipelined_passes_every_byte_and_the_readers_error_on() {
        let data: Vec<u8> = (0..3 * CHUNK + 123).map(|i| (i % 251) as u8).collect();
        let (read, reader) = pipelined(io::Cursor::new(data.clone()), |r| {
            let mut out = Vec::new();
            r.read_to_end(&mut out).map(|_| out)
        });
        assert_eq!(read.unwrap(), data);
        assert_eq!(reader.position(), data.len() as u64);

        let (read, _) = pipelined(FailingAtEnd(io::Cursor::new(data.clone())), |r| {
            let mut out = Vec::new();
            r.read_to_end(&mut out)
        });
        assert_eq!(read.unwrap_err().to_string(), "bad digest");
    }

    #[test]
    fn pipelined_stops_reading_when_the_consumer_stops() {
        let data = vec![7u8; 64 * CHUNK];
        let (first, reader) = pipelined(io::Cursor::new(data), |r| {
            let mut buf = [0; 10];
            r.read_exact(&mut buf).map(|()| buf)
        });
        assert_eq!(first.unwrap(), [7; 10]);
        // At most the chunks in flight (and the one being filled) were read ahead.
        assert!(reader.position() <= ((CHUNKS_IN_FLIGHT + 2) * CHUNK) as u64);
    }
}

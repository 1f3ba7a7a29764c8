//! One pass per layer: the walk and tar stream run on the calling thread and hand
//! fixed-size chunks to
//! - the tar consumer: SHA-256 of the tar (the diffID), and the tar file when asked;
//! - when a blob is asked for, the compressor threads (one chunk each at a time) and
//!   the assembler, which puts their output back in order behind the gzip header,
//!   hashes it (the digest) and writes the blob file.
//!
//! Chunks come from a fixed pool and go back to it once every consumer is done with
//! them, so memory does not depend on the layer's size, and a slow consumer slows the
//! walk down instead of piling data up. Output files are written under temporary names
//! next to their destination and renamed only when complete.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread;

use flate2::Crc;
use sha2::{Digest as _, Sha256};
use tempfile::NamedTempFile;

use super::error::LayerError;
use super::gzip::{self, ChunkCompressor, Gzip};
use super::source::LayerSource;
use super::tarstream::{CHUNK, ChunkSink, TarStream};

/// Where a layer is written, besides being hashed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LayerOutputs {
    /// Directory the gzip blob is written into, named by the hex of its SHA-256
    /// (`<blob_dir>/<hex>`, as in an OCI layout's `blobs/sha256`); `None` for no blob.
    pub blob_dir: Option<PathBuf>,
    /// File the uncompressed tar is written to (replaced if it exists); `None` for
    /// none.
    pub tar_file: Option<PathBuf>,
    /// Blob compression settings.
    pub gzip: Gzip,
}

/// A layer written by [`write_layer`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenLayer {
    /// `sha256:<hex>` of the uncompressed tar.
    pub diff_id: String,
    /// Length of the uncompressed tar.
    pub tar_size: u64,
    /// The gzip blob, when [`LayerOutputs::blob_dir`] was given.
    pub blob: Option<Blob>,
}

/// A compressed layer blob on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blob {
    /// `sha256:<hex>` of the blob.
    pub digest: String,
    /// Its length.
    pub size: u64,
    /// Where it is: `<blob_dir>/<hex>`.
    pub path: PathBuf,
}

/// Writes the layer described by `source` in one pass: its diffID always, and the blob
/// and tar file asked for in `outputs`. Both are written under temporary names in their
/// directory and renamed when complete; on failure they are removed and the output
/// paths are left as they were.
pub fn write_layer(
    source: &LayerSource,
    outputs: &LayerOutputs,
) -> Result<WrittenLayer, LayerError> {
    write_layer_teeing(source, outputs, None)
}

/// Receives the bytes of a layer's gzip blob in order while it is written, to send
/// them on before the layer is complete (a registry upload). Its own failures must not
/// fail the layer: a tee that cannot keep up just stops passing bytes on.
pub trait BlobTee: Send {
    /// The next bytes of the blob.
    fn write(&mut self, bytes: &[u8]);
    /// The blob is complete and has `digest`; `None` when it was abandoned.
    fn finish(self: Box<Self>, digest: Option<&str>);
}

/// [`write_layer`], passing the blob's bytes to `tee` as they are written (when a blob
/// is asked for).
pub fn write_layer_teeing(
    source: &LayerSource,
    outputs: &LayerOutputs,
    tee: Option<Box<dyn BlobTee>>,
) -> Result<WrittenLayer, LayerError> {
    let threads = outputs.gzip.threads();
    let pool = Arc::new(Pool::new(if outputs.blob_dir.is_some() {
        2 * threads + 6
    } else {
        4
    }));
    let tar_temp = outputs.tar_file.as_deref().map(temp_beside).transpose()?;
    let blob_temp = outputs.blob_dir.as_deref().map(temp_in).transpose()?;

    thread::scope(|scope| {
        let (tar_tx, tar_rx) = sync_channel::<Arc<Chunk>>(pool.capacity);
        let tar_thread = scope.spawn(move || hash_tar(tar_rx, tar_temp));

        let mut gzip_tx = None;
        let mut gzip_threads = Vec::new();
        let mut assembler = None;
        if let Some(temp) = blob_temp {
            let (job_tx, job_rx) = sync_channel::<Arc<Chunk>>(pool.capacity);
            let (done_tx, done_rx) = sync_channel::<Compressed>(pool.capacity);
            let job_rx = Arc::new(Mutex::new(job_rx));
            for _ in 0..threads {
                let job_rx = Arc::clone(&job_rx);
                let done_tx = done_tx.clone();
                let level = outputs.gzip.level();
                gzip_threads.push(scope.spawn(move || compress_chunks(&job_rx, &done_tx, level)));
            }
            let level = outputs.gzip.level();
            assembler = Some(scope.spawn(move || assemble(done_rx, temp, level, tee)));
            gzip_tx = Some(job_tx);
        }

        let mut sink = PipelineSink {
            pool: Arc::clone(&pool),
            seq: 0,
            tar_tx,
            gzip_tx,
        };
        let produced = {
            let mut stream = TarStream::new(&mut sink);
            source.write(&mut stream).and_then(|()| stream.finish())
        };
        drop(sink);

        let hashed = join(tar_thread);
        let mut compressed = Ok(());
        for worker in gzip_threads {
            if let Err(e) = join(worker) {
                compressed = compressed.and(Err(e));
            }
        }
        let blob = assembler.map(join).transpose();
        // A consumer's failure is the cause of the producer's.
        let (hashed, blob) = (hashed?, blob?);
        compressed?;
        let tar_size = produced?;
        let (diff_id, hashed_size) = hashed.expect("the tar consumer saw the last chunk");
        debug_assert_eq!(hashed_size, tar_size);
        Ok(WrittenLayer {
            diff_id,
            tar_size,
            blob: blob.map(|b| b.expect("the assembler saw the last chunk")),
        })
    })
}

/// The diffID (`sha256:<hex>` of the tar) of the layer described by `source`, writing
/// nothing: what [`write_layer`] would report, for checking whether a layer changed.
pub fn diff_id(source: &LayerSource) -> Result<String, LayerError> {
    write_layer(source, &LayerOutputs::default()).map(|layer| layer.diff_id)
}

/// The skeleton digest of the layer `source` describes: `sha256:<hex>` of its tar
/// without the contents of regular files, which are not opened (only their sizes from
/// the walk count). Equal to the skeleton [`super::extract::extract`] reports for the
/// tar [`write_layer`] makes, so that an extracted directory can be shown to tar back to
/// the bytes it came from without reading it again.
pub fn skeleton_digest(source: &LayerSource) -> Result<String, LayerError> {
    struct Hashing(Sha256);
    impl ChunkSink for Hashing {
        fn buffer(&mut self) -> Vec<u8> {
            vec![0; CHUNK]
        }
        fn send(&mut self, buffer: Vec<u8>, len: usize, _last: bool) -> Result<(), LayerError> {
            self.0.update(&buffer[..len]);
            Ok(())
        }
    }
    let mut sink = Hashing(Sha256::new());
    let mut stream = TarStream::skeleton(&mut sink);
    source.write(&mut stream)?;
    stream.finish()?;
    let hex: String = sink
        .0
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok(format!("sha256:{hex}"))
}

/// A full chunk of the tar stream (or the last one), shared by its consumers and
/// returned to the pool when they are done.
struct Chunk {
    data: Vec<u8>,
    len: usize,
    seq: u64,
    last: bool,
    pool: Arc<Pool>,
}

impl Chunk {
    fn bytes(&self) -> &[u8] {
        &self.data[..self.len]
    }
}

impl Drop for Chunk {
    fn drop(&mut self) {
        self.pool.give(std::mem::take(&mut self.data));
    }
}

/// A fixed number of chunk buffers.
struct Pool {
    capacity: usize,
    state: Mutex<(Vec<Vec<u8>>, usize)>,
    returned: Condvar,
}

impl Pool {
    fn new(capacity: usize) -> Self {
        Pool {
            capacity,
            state: Mutex::new((Vec::new(), 0)),
            returned: Condvar::new(),
        }
    }

    /// A free buffer, waiting for one when all are in use.
    fn take(&self) -> Vec<u8> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            let (free, allocated) = &mut *state;
            if let Some(buffer) = free.pop() {
                return buffer;
            }
            if *allocated < self.capacity {
                *allocated += 1;
                return vec![0; CHUNK];
            }
            state = self
                .returned
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    fn give(&self, buffer: Vec<u8>) {
        if buffer.len() == CHUNK {
            let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            state.0.push(buffer);
            self.returned.notify_one();
        }
    }
}

/// Hands chunks to the consumers.
struct PipelineSink {
    pool: Arc<Pool>,
    seq: u64,
    tar_tx: SyncSender<Arc<Chunk>>,
    gzip_tx: Option<SyncSender<Arc<Chunk>>>,
}

impl ChunkSink for PipelineSink {
    fn buffer(&mut self) -> Vec<u8> {
        self.pool.take()
    }

    fn send(&mut self, buffer: Vec<u8>, len: usize, last: bool) -> Result<(), LayerError> {
        let chunk = Arc::new(Chunk {
            data: buffer,
            len,
            seq: self.seq,
            last,
            pool: Arc::clone(&self.pool),
        });
        self.seq += 1;
        // A closed channel means that consumer failed; its error is reported instead.
        let stopped = || {
            LayerError::io(
                "write",
                Path::new("layer"),
                io::ErrorKind::BrokenPipe.into(),
            )
        };
        if let Some(gzip_tx) = &self.gzip_tx {
            gzip_tx.send(Arc::clone(&chunk)).map_err(|_| stopped())?;
        }
        self.tar_tx.send(chunk).map_err(|_| stopped())
    }
}

/// A compressed chunk on its way to the assembler; it keeps the chunk (so its pool
/// buffer) until written, which bounds the data in flight.
struct Compressed {
    chunk: Arc<Chunk>,
    deflated: Vec<u8>,
    crc: Crc,
}

/// The tar consumer: its diffID and length, and the tar file if asked for; `None` when
/// the stream stopped before its last chunk.
fn hash_tar(
    chunks: Receiver<Arc<Chunk>>,
    mut file: Option<(NamedTempFile, PathBuf)>,
) -> Result<Option<(String, u64)>, LayerError> {
    let mut sha = Sha256::new();
    let mut len = 0u64;
    let mut complete = false;
    for chunk in chunks {
        sha.update(chunk.bytes());
        if let Some((temp, _)) = &mut file {
            temp.write_all(chunk.bytes())
                .map_err(|e| LayerError::io("write", temp.path(), e))?;
        }
        len += chunk.len as u64;
        complete = chunk.last;
    }
    if !complete {
        return Ok(None);
    }
    if let Some((temp, path)) = file {
        temp.persist(&path)
            .map_err(|e| LayerError::io("rename", &path, e.error))?;
    }
    Ok(Some((format!("sha256:{}", hex(&sha.finalize())), len)))
}

/// A compressor thread: takes chunks until there are none left.
fn compress_chunks(
    jobs: &Mutex<Receiver<Arc<Chunk>>>,
    done: &SyncSender<Compressed>,
    level: u32,
) -> Result<(), LayerError> {
    let mut compressor = ChunkCompressor::new(level);
    loop {
        let job = jobs.lock().unwrap_or_else(PoisonError::into_inner).recv();
        let Ok(chunk) = job else {
            return Ok(());
        };
        let mut deflated = Vec::with_capacity(chunk.len + chunk.len / 8 + 4096);
        compressor.compress(chunk.bytes(), chunk.last, &mut deflated)?;
        let crc = gzip::crc(chunk.bytes());
        if done
            .send(Compressed {
                chunk,
                deflated,
                crc,
            })
            .is_err()
        {
            return Ok(());
        }
    }
}

/// The assembler: the blob, in stream order; `None` when the stream stopped before its
/// last chunk.
fn assemble(
    compressed: Receiver<Compressed>,
    temp: (NamedTempFile, PathBuf),
    level: u32,
    mut tee: Option<Box<dyn BlobTee>>,
) -> Result<Option<Blob>, LayerError> {
    let result = assemble_into(compressed, temp, level, &mut tee);
    if let Some(tee) = tee {
        let digest = match &result {
            Ok(Some(blob)) => Some(blob.digest.as_str()),
            _ => None,
        };
        tee.finish(digest);
    }
    result
}

fn assemble_into(
    compressed: Receiver<Compressed>,
    (mut temp, dir): (NamedTempFile, PathBuf),
    level: u32,
    tee: &mut Option<Box<dyn BlobTee>>,
) -> Result<Option<Blob>, LayerError> {
    let mut sha = Sha256::new();
    let mut size = 0u64;
    let mut write = |temp: &mut NamedTempFile, bytes: &[u8]| {
        sha.update(bytes);
        size += bytes.len() as u64;
        if let Some(tee) = tee.as_mut() {
            tee.write(bytes);
        }
        temp.write_all(bytes)
            .map_err(|e| LayerError::io("write", temp.path(), e))
    };
    write(&mut temp, &gzip::header(level))?;
    let mut crc = Crc::new();
    let mut tar_len = 0u64;
    let mut next = 0u64;
    let mut waiting = BTreeMap::new();
    let mut complete = false;
    for piece in compressed {
        waiting.insert(piece.chunk.seq, piece);
        while let Some(piece) = waiting.remove(&next) {
            write(&mut temp, &piece.deflated)?;
            crc.combine(&piece.crc);
            tar_len += piece.chunk.len as u64;
            complete = piece.chunk.last;
            next += 1;
        }
    }
    if !complete {
        return Ok(None);
    }
    write(&mut temp, &gzip::trailer(&crc, tar_len))?;
    let hex = hex(&sha.finalize());
    let path = dir.join(&hex);
    temp.persist(&path)
        .map_err(|e| LayerError::io("rename", &path, e.error))?;
    Ok(Some(Blob {
        digest: format!("sha256:{hex}"),
        size,
        path,
    }))
}

/// A temporary file in `dir`, and `dir`.
fn temp_in(dir: &Path) -> Result<(NamedTempFile, PathBuf), LayerError> {
    let temp = tempfile::Builder::new()
        .prefix(".layer-")
        .tempfile_in(dir)
        .map_err(|e| LayerError::io("open", dir, e))?;
    Ok((temp, dir.to_path_buf()))
}

/// A temporary file next to `path`, and `path`.
fn temp_beside(path: &Path) -> Result<(NamedTempFile, PathBuf), LayerError> {
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let (temp, _) = temp_in(dir)?;
    Ok((temp, path.to_path_buf()))
}

/// Joins a consumer thread, passing its panic on.
fn join<T>(handle: thread::ScopedJoinHandle<'_, T>) -> T {
    handle
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// Lower-case hex.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

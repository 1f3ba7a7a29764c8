//! The tar byte stream of a layer, cut into fixed-size chunks as it is produced: headers
//! from [`super::gotar`], file contents read straight into the chunk buffers (no other
//! copy), 512-byte padding, and Go's end of archive (two zero blocks, no further
//! padding). Chunk boundaries fall at fixed offsets of the stream, so whatever consumes
//! chunks independently (the parallel compressor) sees the same cuts on every machine.

use std::fs::File;
use std::io::{ErrorKind, Read};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use super::Owner;
use super::error::LayerError;
use super::gotar::{self, EntryType, Header};
use super::walk::Stat;

/// Size of a chunk of the tar stream.
pub(crate) const CHUNK: usize = 1 << 20;

/// Where chunks go.
pub(crate) trait ChunkSink {
    /// An empty buffer of [`CHUNK`] bytes to fill.
    fn buffer(&mut self) -> Vec<u8>;
    /// Takes the first `len` bytes of `buffer` as the next chunk: [`CHUNK`] bytes, or
    /// fewer for the last one.
    fn send(&mut self, buffer: Vec<u8>, len: usize, last: bool) -> Result<(), LayerError>;
}

/// Writes tar entries into chunks handed to a [`ChunkSink`].
pub(crate) struct TarStream<'s, S: ChunkSink> {
    sink: &'s mut S,
    buffer: Vec<u8>,
    filled: usize,
    total: u64,
    scratch: Vec<u8>,
    /// Leave regular files' contents out (the skeleton of the tar): their headers and
    /// padding are written, their files never opened.
    skeleton: bool,
}

impl<'s, S: ChunkSink> TarStream<'s, S> {
    /// A stream feeding `sink`.
    pub(crate) fn new(sink: &'s mut S) -> Self {
        let buffer = sink.buffer();
        TarStream {
            sink,
            buffer,
            filled: 0,
            total: 0,
            scratch: Vec::with_capacity(3 * gotar::BLOCK),
            skeleton: false,
        }
    }

    /// A stream feeding `sink` the skeleton of the tar: everything but the contents of
    /// regular files (see [`super::skeleton_digest`]).
    pub(crate) fn skeleton(sink: &'s mut S) -> Self {
        TarStream {
            skeleton: true,
            ..TarStream::new(sink)
        }
    }

    /// Archives the file at `path` (absolute and clean, which is its entry name) as the
    /// reference's `AddFileToArchive` does: `stat` is its `lstat` from the walk, `owner`
    /// (when given) replaces its uid and gid, a symlink's target is read now, a regular
    /// file's content is copied and must still be exactly `stat.size` bytes long;
    /// sockets are skipped.
    pub(crate) fn add_file(
        &mut self,
        path: &Path,
        stat: &Stat,
        owner: Option<Owner>,
    ) -> Result<(), LayerError> {
        let Some(entry_type) = stat.entry_type else {
            return Ok(());
        };
        let link = match entry_type {
            EntryType::Symlink => std::fs::read_link(path)
                .map_err(|e| LayerError::io("readlink", path, e))?
                .into_os_string()
                .into_encoded_bytes(),
            _ => Vec::new(),
        };
        let file = match entry_type {
            EntryType::Regular if self.skeleton => None,
            EntryType::Regular => {
                Some(File::open(path).map_err(|e| LayerError::io("open", path, e))?)
            }
            _ => None,
        };
        let (uid, gid) = owner.map_or((stat.uid, stat.gid), |o| (o.uid, o.gid));
        self.header(
            &Header {
                name: path.as_os_str().as_bytes(),
                link: &link,
                entry_type,
                mode: stat.mode,
                uid: u64::from(uid),
                gid: u64::from(gid),
                size: stat.size,
                dev_major: stat.dev.0,
                dev_minor: stat.dev.1,
            },
            path,
        )?;
        if let Some(file) = file {
            self.content(file, stat.size, path)?;
        } else if self.skeleton && entry_type == EntryType::Regular {
            self.zeros(gotar::padding(stat.size))?;
        }
        Ok(())
    }

    /// Writes a header; `path` names the entry in errors.
    pub(crate) fn header(&mut self, header: &Header<'_>, path: &Path) -> Result<(), LayerError> {
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        let encoded = header.encode(&mut scratch);
        let written = match encoded {
            Ok(()) => self.write(&scratch),
            Err(e) => Err(LayerError::Header {
                path: path.to_path_buf(),
                reason: e.to_string(),
            }),
        };
        self.scratch = scratch;
        written
    }

    /// Copies exactly `size` bytes of `file` (then its padding), failing if it holds
    /// fewer or more.
    pub(crate) fn content(
        &mut self,
        mut file: File,
        size: u64,
        path: &Path,
    ) -> Result<(), LayerError> {
        let mut remaining = size;
        while remaining > 0 {
            if self.filled == CHUNK {
                self.flush(false)?;
            }
            let room = (CHUNK - self.filled).min(usize::try_from(remaining).unwrap_or(usize::MAX));
            let target = &mut self.buffer[self.filled..self.filled + room];
            let n = match file.read(target) {
                Ok(0) => {
                    return Err(LayerError::FileChanged {
                        path: path.to_path_buf(),
                        size,
                        read: Some(size - remaining),
                    });
                }
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(LayerError::io("read", path, e)),
            };
            self.filled += n;
            self.total += n as u64;
            remaining -= n as u64;
        }
        let mut probe = [0u8; 1];
        loop {
            match file.read(&mut probe) {
                Ok(0) => break,
                Ok(_) => {
                    return Err(LayerError::FileChanged {
                        path: path.to_path_buf(),
                        size,
                        read: None,
                    });
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(LayerError::io("read", path, e)),
            }
        }
        self.zeros(gotar::padding(size))
    }

    /// Copies exactly `size` bytes of `reader` (the data of an entry of another archive)
    /// straight into the chunks, then the padding; `path` names the archive in errors,
    /// and a reader ending first fails with Go's `unexpected EOF`.
    pub(crate) fn copy_exact<R: Read>(
        &mut self,
        reader: &mut R,
        size: u64,
        path: &Path,
    ) -> Result<(), LayerError> {
        let mut remaining = size;
        while remaining > 0 {
            if self.filled == CHUNK {
                self.flush(false)?;
            }
            let room = (CHUNK - self.filled).min(usize::try_from(remaining).unwrap_or(usize::MAX));
            let n = match reader.read(&mut self.buffer[self.filled..self.filled + room]) {
                Ok(0) => {
                    let eof = std::io::Error::new(ErrorKind::UnexpectedEof, "unexpected EOF");
                    return Err(LayerError::io("read", path, eof));
                }
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(LayerError::io("read", path, e)),
            };
            self.filled += n;
            self.total += n as u64;
            remaining -= n as u64;
        }
        self.zeros(gotar::padding(size))
    }

    /// Ends the archive (two zero blocks) and sends the last chunk; the length of the
    /// whole stream.
    pub(crate) fn finish(mut self) -> Result<u64, LayerError> {
        self.zeros(2 * gotar::BLOCK)?;
        self.flush(true)?;
        Ok(self.total)
    }

    /// Writes bytes already encoded (headers made elsewhere).
    pub(crate) fn write(&mut self, mut data: &[u8]) -> Result<(), LayerError> {
        while !data.is_empty() {
            if self.filled == CHUNK {
                self.flush(false)?;
            }
            let n = (CHUNK - self.filled).min(data.len());
            self.buffer[self.filled..self.filled + n].copy_from_slice(&data[..n]);
            self.filled += n;
            self.total += n as u64;
            data = &data[n..];
        }
        Ok(())
    }

    fn zeros(&mut self, mut count: usize) -> Result<(), LayerError> {
        while count > 0 {
            if self.filled == CHUNK {
                self.flush(false)?;
            }
            let n = (CHUNK - self.filled).min(count);
            self.buffer[self.filled..self.filled + n].fill(0);
            self.filled += n;
            self.total += n as u64;
            count -= n;
        }
        Ok(())
    }

    fn flush(&mut self, last: bool) -> Result<(), LayerError> {
        let next = if last { Vec::new() } else { self.sink.buffer() };
        let full = std::mem::replace(&mut self.buffer, next);
        let len = std::mem::take(&mut self.filled);
        self.sink.send(full, len, last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layer::walk;

    /// Collects chunks in memory.
    #[derive(Default)]
    struct Collect {
        bytes: Vec<u8>,
        chunks: Vec<(usize, bool)>,
    }

    impl ChunkSink for Collect {
        fn buffer(&mut self) -> Vec<u8> {
            vec![0xAA; CHUNK]
        }

        fn send(&mut self, buffer: Vec<u8>, len: usize, last: bool) -> Result<(), LayerError> {
            self.bytes.extend_from_slice(&buffer[..len]);
            self.chunks.push((len, last));
            Ok(())
        }
    }

    #[test]
    fn chunks_are_cut_at_fixed_offsets() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("big");
        let data: Vec<u8> = (0..CHUNK * 5 / 2).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let mut sink = Collect::default();
        let mut stream = TarStream::new(&mut sink);
        stream
            .add_file(&path, &walk::lstat(&path).unwrap(), None)
            .unwrap();
        let total = stream.finish().unwrap();
        assert_eq!(total, (512 + data.len() + 1024) as u64);
        assert_eq!(
            sink.chunks,
            [
                (CHUNK, false),
                (CHUNK, false),
                (total as usize - 2 * CHUNK, true)
            ]
        );
        assert_eq!(&sink.bytes[512..512 + data.len()], &data[..]);
        assert!(sink.bytes[512 + data.len()..].iter().all(|&b| b == 0));
    }

    #[test]
    fn a_file_of_another_size_than_listed_fails() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("f");
        std::fs::write(&path, b"0123456789").unwrap();
        for (listed, read) in [(5, None), (20, Some(10))] {
            let mut sink = Collect::default();
            let mut stream = TarStream::new(&mut sink);
            let err = stream
                .content(File::open(&path).unwrap(), listed, &path)
                .unwrap_err();
            match err {
                LayerError::FileChanged { size, read: r, .. } => {
                    assert_eq!((size, r), (listed, read));
                }
                other => panic!("{other:?}"),
            }
        }
    }
}

//! Gzip made of independently compressed chunks, so one layer is compressed on every
//! core (as pigz does) while the output stays a single gzip member that depends only on
//! the bytes and the level, never on the thread count or the machine.
//!
//! Each chunk of the tar stream becomes byte-aligned raw deflate data: the chunk is cut
//! into 64 KiB pieces, pieces that look incompressible (a byte histogram close to
//! uniform, e.g. random or already compressed data) are stored as they are without
//! running the compressor, and each run of the other pieces is deflated from an empty
//! history and ended with a sync flush (kept only if it is smaller than storing it).
//! Only the last chunk ends with a final block. The gzip header, the concatenated chunks
//! and the trailer (CRC-32 and length of the whole tar) form the blob.

use std::thread::available_parallelism;

use flate2::{Compress, Compression, Crc, FlushCompress, Status};

use super::error::LayerError;

/// Size of the pieces a chunk is classified in.
const PIECE: usize = 64 * 1024;

/// Pieces shorter than this are always deflated.
const MIN_CLASSIFIED: usize = 4 * 1024;

/// A piece is stored when its collision entropy is at least log2 of this (7 bits per
/// byte): `sum(count²) * STORED_RATIO <= len²`. Random data is near 256, text and
/// programs far below 64.
const STORED_RATIO: u64 = 128;

/// Longest stored deflate block.
const MAX_STORED: usize = 65_535;

/// Gzip settings of a layer blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gzip {
    /// Compression level, 0 to 9, numbered as zlib-rs (like zlib-ng) numbers them: 1 is
    /// a static-Huffman mode faster than any zlib level, 2 is zlib's level-1 algorithm
    /// (`gzip -1`, `pigz -1`), 6 the usual default, 9 the best.
    pub level: u32,
    /// Compressor threads (at least 1); the output does not depend on it.
    pub threads: usize,
}

impl Default for Gzip {
    /// [`Gzip::FASTEST_ZLIB`] on every available core.
    fn default() -> Self {
        Gzip {
            level: Gzip::FASTEST_ZLIB,
            threads: available_parallelism().map_or(1, usize::from),
        }
    }
}

impl Gzip {
    /// The level doing what `gzip -1` does, the class of the reference's `BestSpeed`:
    /// blobs about the size of `pigz -1`'s (10 to 20 % smaller than level 1's, slightly
    /// smaller than the reference's), at about 1.4 times zlib's speed per core.
    pub const FASTEST_ZLIB: u32 = 2;

    /// The level, capped at 9.
    pub(crate) fn level(self) -> u32 {
        self.level.min(9)
    }

    /// The thread count, at least 1.
    pub(crate) fn threads(self) -> usize {
        self.threads.max(1)
    }
}

/// The gzip member header Go's `compress/gzip` writes: no name, mtime 0, OS unknown,
/// and the extra flags of the level (4 for the fastest levels, 2 for the best).
pub(crate) fn header(level: u32) -> [u8; 10] {
    let xfl = match level {
        1 | 2 => 4,
        9 => 2,
        _ => 0,
    };
    [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, xfl, 255]
}

/// The gzip member trailer: CRC-32 and length (mod 2³²) of the uncompressed data.
pub(crate) fn trailer(crc: &Crc, len: u64) -> [u8; 8] {
    let mut out = [0u8; 8];
    out[..4].copy_from_slice(&crc.sum().to_le_bytes());
    out[4..].copy_from_slice(&(len as u32).to_le_bytes());
    out
}

/// Compresses chunks one at a time (one per thread).
pub(crate) struct ChunkCompressor {
    deflate: Compress,
}

impl ChunkCompressor {
    /// A compressor at `level` (0 to 9).
    pub(crate) fn new(level: u32) -> Self {
        ChunkCompressor {
            deflate: Compress::new(Compression::new(level), false),
        }
    }

    /// Appends the raw deflate data of `chunk` to `out`: byte-aligned and not final,
    /// unless `last`, where it ends the deflate stream.
    pub(crate) fn compress(
        &mut self,
        chunk: &[u8],
        last: bool,
        out: &mut Vec<u8>,
    ) -> Result<(), LayerError> {
        let stored: Vec<bool> = chunk.chunks(PIECE).map(incompressible).collect();
        if stored.is_empty() {
            if last {
                store(&[], true, out);
            }
            return Ok(());
        }
        let mut first = 0;
        while first < stored.len() {
            let mut end = first + 1;
            while end < stored.len() && stored[end] == stored[first] {
                end += 1;
            }
            let run = &chunk[first * PIECE..(end * PIECE).min(chunk.len())];
            let final_run = last && end == stored.len();
            if stored[first] {
                store(run, final_run, out);
            } else {
                self.deflate_run(run, final_run, out)?;
            }
            first = end;
        }
        Ok(())
    }

    /// Deflates `run` from an empty history; falls back to stored blocks when that is
    /// not smaller.
    fn deflate_run(&mut self, run: &[u8], last: bool, out: &mut Vec<u8>) -> Result<(), LayerError> {
        self.deflate.reset();
        let mark = out.len();
        out.reserve(run.len() + run.len() / 8 + 1024);
        let flush = if last {
            FlushCompress::Finish
        } else {
            FlushCompress::Sync
        };
        let start = self.deflate.total_in();
        loop {
            let consumed = (self.deflate.total_in() - start) as usize;
            let status = self
                .deflate
                .compress_vec(&run[consumed..], out, flush)
                .map_err(|e| LayerError::Compress(e.to_string()))?;
            let consumed = (self.deflate.total_in() - start) as usize;
            let room_left = out.len() < out.capacity();
            match status {
                Status::StreamEnd => break,
                _ if !last && consumed == run.len() && room_left => break,
                _ if !room_left => out.reserve(64 * 1024),
                _ => {}
            }
        }
        if out.len() - mark >= stored_len(run.len()) {
            out.truncate(mark);
            store(run, last, out);
        }
        Ok(())
    }
}

/// The CRC-32 of `chunk`, to be combined in stream order.
pub(crate) fn crc(chunk: &[u8]) -> Crc {
    let mut crc = Crc::new();
    crc.update(chunk);
    crc
}

/// Whether a piece looks incompressible: its byte histogram is close to uniform.
fn incompressible(piece: &[u8]) -> bool {
    if piece.len() < MIN_CLASSIFIED {
        return false;
    }
    // Four tables so that runs of one byte do not serialize on one counter.
    let mut counts = [[0u32; 256]; 4];
    let mut quads = piece.chunks_exact(4);
    for q in &mut quads {
        counts[0][usize::from(q[0])] += 1;
        counts[1][usize::from(q[1])] += 1;
        counts[2][usize::from(q[2])] += 1;
        counts[3][usize::from(q[3])] += 1;
    }
    for &b in quads.remainder() {
        counts[0][usize::from(b)] += 1;
    }
    let squares: u64 = (0..256)
        .map(|b| {
            let c = u64::from(counts[0][b] + counts[1][b] + counts[2][b] + counts[3][b]);
            c * c
        })
        .sum();
    let len = piece.len() as u64;
    squares * STORED_RATIO <= len * len
}

/// Bytes `data` takes as stored blocks.
fn stored_len(len: usize) -> usize {
    len + 5 * len.div_ceil(MAX_STORED).max(1)
}

/// Appends `data` as stored blocks (byte-aligned), the last one final when `last`.
fn store(data: &[u8], last: bool, out: &mut Vec<u8>) {
    out.reserve(stored_len(data.len()));
    let mut blocks = data.chunks(MAX_STORED).peekable();
    if blocks.peek().is_none() {
        out.extend_from_slice(&[u8::from(last), 0, 0, 0xff, 0xff]);
        return;
    }
    while let Some(block) = blocks.next() {
        let is_final = last && blocks.peek().is_none();
        let len = block.len() as u16;
        out.push(u8::from(is_final));
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(block);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    /// A deterministic byte generator (xorshift).
    fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
        let mut x = seed | 1;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect()
    }

    fn text_bytes(len: usize) -> Vec<u8> {
        let words = [
            "layer",
            "tar",
            "gzip",
            "buildpack",
            "export",
            "digest",
            "the",
            "of",
        ];
        let mut out = Vec::with_capacity(len + 16);
        let mut i = 0usize;
        while out.len() < len {
            out.extend_from_slice(words[(i * 7 + i / 3) % words.len()].as_bytes());
            out.push(if i.is_multiple_of(11) { b'\n' } else { b' ' });
            i += 1;
        }
        out.truncate(len);
        out
    }

    fn gzip_of(chunks: &[&[u8]], level: u32) -> Vec<u8> {
        let mut out = header(level).to_vec();
        let mut all = Crc::new();
        let mut len = 0u64;
        let mut compressor = ChunkCompressor::new(level);
        for (i, chunk) in chunks.iter().enumerate() {
            compressor
                .compress(chunk, i + 1 == chunks.len(), &mut out)
                .unwrap();
            all.combine(&crc(chunk));
            len += chunk.len() as u64;
        }
        out.extend_from_slice(&trailer(&all, len));
        out
    }

    fn gunzip(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(data)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    #[test]
    fn classification_separates_random_from_text() {
        assert!(incompressible(&random_bytes(PIECE, 7)));
        assert!(!incompressible(&text_bytes(PIECE)));
        assert!(!incompressible(&vec![0u8; PIECE]));
        // Random data with a tar header's worth of zeros is still stored.
        let mut mixed = random_bytes(PIECE, 9);
        mixed[..1024].fill(0);
        assert!(incompressible(&mixed));
        assert!(!incompressible(&random_bytes(MIN_CLASSIFIED - 1, 3)));
    }

    #[test]
    fn chunks_concatenate_into_one_member() {
        let random = random_bytes(300_000, 1);
        let text = text_bytes(500_000);
        let mut mixed = text.clone();
        mixed.extend_from_slice(&random);
        mixed.extend_from_slice(&text[..1000]);
        let chunks: [&[u8]; 4] = [&mixed, &random, &text, &text[..10]];
        let gz = gzip_of(&chunks, 1);
        assert_eq!(gunzip(&gz), chunks.concat());
        // Random bytes are stored: barely larger than the input.
        let random_only = gzip_of(&[&random], 1);
        assert!(
            random_only.len() < random.len() + 100,
            "{}",
            random_only.len()
        );
        // Text compresses.
        assert!(gzip_of(&[&text], 1).len() < text.len() / 4);
    }

    #[test]
    fn empty_last_chunk_ends_the_stream() {
        let text = text_bytes(10_000);
        let gz = gzip_of(&[&text, &[]], 1);
        assert_eq!(gunzip(&gz), text);
        let gz = gzip_of(&[&[]], 1);
        assert_eq!(gunzip(&gz), b"");
    }

    #[test]
    fn every_level_round_trips() {
        let mut data = text_bytes(200_000);
        data.extend_from_slice(&random_bytes(100_000, 5));
        for level in 0..=9 {
            let gz = gzip_of(&[&data[..150_000], &data[150_000..]], level);
            assert_eq!(gunzip(&gz), data, "level {level}");
        }
    }

    #[test]
    fn header_flags_follow_go() {
        assert_eq!(header(1), [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 4, 255]);
        assert_eq!(header(2)[8], 4);
        assert_eq!(header(9)[8], 2);
        assert_eq!(header(6)[8], 0);
    }
}

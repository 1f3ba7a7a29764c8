//! A stored layer read back as its uncompressed tar, checked against its diff ID.

use std::io::{self, BufRead, BufReader, Read};

use flate2::bufread::MultiGzDecoder;
use sha2::{Digest as _, Sha256};

use super::model::hex;
use super::store::StoreError;

/// The uncompressed tar of a stored layer. Every byte returned is hashed; at the end of
/// the stream the digest is compared with the diff ID and a mismatch fails the read
/// (an [`io::ErrorKind::InvalidData`] error). A reader that stops before the end (a tar
/// reader stops at the end-of-archive blocks) calls [`LayerStream::finish`] to read the
/// rest and get the verdict. What was read before a mismatch should be discarded.
pub struct LayerStream {
    inner: Box<dyn Read + Send>,
    hasher: Sha256,
    diff_id: String,
    verdict: Option<Result<(), String>>,
}

impl std::fmt::Debug for LayerStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LayerStream")
            .field("diff_id", &self.diff_id)
            .finish()
    }
}

impl LayerStream {
    /// The tar in `blob`, gunzipped when it starts with the gzip magic, expected to
    /// hash to `diff_id`.
    pub fn new(blob: impl Read + Send + 'static, diff_id: &str) -> io::Result<Self> {
        let mut buffered = BufReader::with_capacity(1 << 16, blob);
        let gzip = buffered.fill_buf()?.starts_with(&[0x1f, 0x8b]);
        let inner: Box<dyn Read + Send> = if gzip {
            Box::new(MultiGzDecoder::new(buffered))
        } else {
            Box::new(buffered)
        };
        Ok(Self {
            inner,
            hasher: Sha256::new(),
            diff_id: diff_id.to_string(),
            verdict: None,
        })
    }

    /// The diff ID the layer must have.
    pub fn diff_id(&self) -> &str {
        &self.diff_id
    }

    /// Reads what is left and checks the digest of the whole tar.
    pub fn finish(mut self) -> Result<(), StoreError> {
        let mut sink = io::sink();
        io::copy(&mut self, &mut sink).map_err(|e| StoreError::Invalid(e.to_string()))?;
        match self.verdict.take() {
            Some(Err(message)) => Err(StoreError::Invalid(message)),
            _ => Ok(()),
        }
    }

    fn conclude(&mut self) -> Result<(), String> {
        let verdict = self.verdict.get_or_insert_with(|| {
            let found = format!(
                "sha256:{}",
                hex(&std::mem::take(&mut self.hasher).finalize())
            );
            if found == self.diff_id {
                Ok(())
            } else {
                Err(format!(
                    "layer {} does not match its diff ID (found {found})",
                    self.diff_id
                ))
            }
        });
        verdict.clone()
    }
}

impl Read for LayerStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(verdict) = &self.verdict {
            return match verdict {
                Ok(()) => Ok(0),
                Err(message) => Err(io::Error::new(io::ErrorKind::InvalidData, message.clone())),
            };
        }
        let n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() {
            self.conclude()
                .map_err(|m| io::Error::new(io::ErrorKind::InvalidData, m))?;
            return Ok(0);
        }
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;
    use crate::image::model::sha256_digest;

    fn gzipped(bytes: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(bytes).unwrap();
        enc.finish().unwrap()
    }

    #[test]
    fn reads_gzip_and_plain_tars_and_checks_the_diff_id() {
        let tar = vec![7u8; 5000];
        let id = sha256_digest(&tar);
        for blob in [gzipped(&tar), tar.clone()] {
            let mut out = Vec::new();
            LayerStream::new(io::Cursor::new(blob), &id)
                .unwrap()
                .read_to_end(&mut out)
                .unwrap();
            assert_eq!(out, tar);
        }
        let wrong = sha256_digest(b"other");
        let mut out = Vec::new();
        let err = LayerStream::new(io::Cursor::new(gzipped(&tar)), &wrong)
            .unwrap()
            .read_to_end(&mut out)
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        // Stopping early, then finishing, gives the same verdict.
        let mut stream = LayerStream::new(io::Cursor::new(tar.clone()), &wrong).unwrap();
        stream.read_exact(&mut [0; 10]).unwrap();
        assert!(stream.finish().is_err());
        let mut stream = LayerStream::new(io::Cursor::new(tar), &id).unwrap();
        stream.read_exact(&mut [0; 10]).unwrap();
        stream.finish().unwrap();
    }
}

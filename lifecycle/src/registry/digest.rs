//! SHA-256 content digests (`sha256:<hex>`) and readers that compute or check them.

use std::io::{self, Read};

use sha2::{Digest as _, Sha256};

/// `sha256:<hex>` of `bytes`.
pub fn sha256_digest(bytes: &[u8]) -> String {
    finish(Sha256::new_with_prefix(bytes))
}

/// `sha256:<hex>` of what `hasher` has seen.
pub(crate) fn finish(hasher: Sha256) -> String {
    let sum = hasher.finalize();
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256:");
    for b in sum.iter() {
        out.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
        out.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
    }
    out
}

/// Whether `digest` is `sha256:` and 64 lowercase hex digits.
pub fn valid_digest(digest: &str) -> bool {
    digest.strip_prefix("sha256:").is_some_and(|hex| {
        hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    })
}

/// Passes reads through while hashing them and counting bytes.
pub(crate) struct Hashing<R> {
    inner: R,
    hasher: Sha256,
    size: u64,
}

impl<R: Read> Hashing<R> {
    pub(crate) fn new(inner: R) -> Self {
        Hashing {
            inner,
            hasher: Sha256::new(),
            size: 0,
        }
    }

    /// The digest and size of everything read so far.
    pub(crate) fn finish(self) -> (String, u64) {
        (finish(self.hasher), self.size)
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }
}

/// Passes reads through and, at the end of the stream, fails with `InvalidData` unless the
/// content had the expected digest (and size, when known).
pub(crate) struct Verifying<R> {
    inner: Hashing<R>,
    expected: String,
    size: Option<u64>,
    checked: bool,
}

impl<R: Read> Verifying<R> {
    pub(crate) fn new(inner: R, expected: &str, size: Option<u64>) -> Self {
        Verifying {
            inner: Hashing::new(inner),
            expected: expected.to_string(),
            size,
            checked: false,
        }
    }
}

impl<R: Read> Read for Verifying<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n > 0 || buf.is_empty() || self.checked {
            if self.size.is_some_and(|s| self.inner.size > s) {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "blob {} is longer than its {} bytes",
                        self.expected,
                        self.size.unwrap_or(0)
                    ),
                ));
            }
            return Ok(n);
        }
        self.checked = true;
        let hasher = std::mem::take(&mut self.inner.hasher);
        let actual = finish(hasher);
        if let Some(size) = self.size.filter(|s| *s != self.inner.size) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "blob {} has {} bytes, expected {size}",
                    self.expected, self.inner.size
                ),
            ));
        }
        if actual != self.expected {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "blob digest mismatch: expected {}, got {actual}",
                    self.expected
                ),
            ));
        }
        Ok(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn digests() {
        assert_eq!(sha256_digest(b""), EMPTY);
        assert!(valid_digest(EMPTY));
        assert!(!valid_digest("sha256:E3B0"));
        assert!(!valid_digest(&EMPTY.replace("sha256", "sha512")));
        let mut h = Hashing::new(&b"abc"[..]);
        io::copy(&mut h, &mut io::sink()).unwrap();
        assert_eq!(h.finish(), (sha256_digest(b"abc"), 3));
    }

    #[test]
    fn verifying_reader_checks_at_the_end() {
        let good = sha256_digest(b"hello");
        let mut out = Vec::new();
        Verifying::new(&b"hello"[..], &good, Some(5))
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, b"hello");
        let err = Verifying::new(&b"hellp"[..], &good, None)
            .read_to_end(&mut Vec::new())
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(err.to_string().contains("digest mismatch"), "{err}");
        let err = Verifying::new(&b"hell"[..], &good, Some(5))
            .read_to_end(&mut Vec::new())
            .unwrap_err();
        assert!(err.to_string().contains("has 4 bytes"), "{err}");
        let err = Verifying::new(&b"hello!"[..], &good, Some(5))
            .read_to_end(&mut Vec::new())
            .unwrap_err();
        assert!(err.to_string().contains("longer"), "{err}");
    }
}

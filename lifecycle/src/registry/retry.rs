//! When and how long to retry: transient network failures and 408/429/5xx answers.

use std::io;
use std::time::Duration;

/// How many times to try a registry operation and how long to wait in between.
///
/// The default is the reference's: 3 tries, waiting 1 s then 3 s (plus up to 10 % jitter).
/// Tests pass a short policy.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Tries in all, the first included (at least 1).
    pub attempts: u32,
    /// The wait before the second try.
    pub initial_backoff: Duration,
    /// Each later wait is this many times the previous one.
    pub factor: u32,
    /// The longest `Retry-After` honoured; a longer one is cut to this.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 3,
            initial_backoff: Duration::from_secs(1),
            factor: 3,
            max_retry_after: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// The wait after failed try number `attempt` (1-based): the server's `Retry-After`
    /// when it gave one (capped), else the exponential back-off with jitter.
    pub(crate) fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(after) = retry_after {
            return after.min(self.max_retry_after);
        }
        let exp = self.factor.max(1).saturating_pow(attempt.saturating_sub(1));
        let base = self.initial_backoff.saturating_mul(exp);
        base + base.mul_f64(jitter() * 0.1)
    }
}

/// A number in [0, 1) that differs between calls, for spreading retries.
fn jitter() -> f64 {
    use std::hash::{BuildHasher, RandomState};
    let n = RandomState::new().hash_one(std::time::SystemTime::now());
    (n % 1000) as f64 / 1000.0
}

/// Whether an answer with this status is worth another try.
pub(crate) fn retryable_status(status: u16) -> bool {
    matches!(status, 408 | 429 | 499 | 500 | 502 | 503 | 504 | 522)
}

/// Whether a failed exchange is worth another try: connection refused, reset or aborted,
/// a broken pipe, an early end of stream, a timeout. TLS, DNS and protocol errors are not.
pub(crate) fn retryable_transport(err: &ureq::Error) -> bool {
    match err {
        ureq::Error::Io(e) => retryable_io(e),
        ureq::Error::Timeout(_) | ureq::Error::ConnectionFailed | ureq::Error::BodyStalled => true,
        // A connection closed in the middle of a response surfaces as a protocol error.
        ureq::Error::Protocol(_) => true,
        _ => false,
    }
}

/// The I/O error kinds of a transient connection failure.
pub(crate) fn retryable_io(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::UnexpectedEof
            | io::ErrorKind::TimedOut
            | io::ErrorKind::Interrupted
            | io::ErrorKind::NotConnected
    )
}

/// A `Retry-After` value in seconds (HTTP dates are not honoured).
pub(crate) fn parse_retry_after(value: Option<&str>) -> Option<Duration> {
    value?.trim().parse::<u64>().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_retry_after_is_capped() {
        let p = RetryPolicy::default();
        let d1 = p.delay(1, None);
        let d2 = p.delay(2, None);
        assert!(
            d1 >= Duration::from_secs(1) && d1 < Duration::from_millis(1101),
            "{d1:?}"
        );
        assert!(
            d2 >= Duration::from_secs(3) && d2 < Duration::from_millis(3301),
            "{d2:?}"
        );
        assert_eq!(
            p.delay(1, Some(Duration::from_secs(2))),
            Duration::from_secs(2)
        );
        assert_eq!(
            p.delay(1, Some(Duration::from_secs(3600))),
            Duration::from_secs(30)
        );
    }

    #[test]
    fn what_is_retried() {
        for s in [408, 429, 500, 502, 503, 504] {
            assert!(retryable_status(s), "{s}");
        }
        for s in [400, 401, 403, 404, 405, 409, 501] {
            assert!(!retryable_status(s), "{s}");
        }
        assert!(retryable_io(&io::Error::from(
            io::ErrorKind::ConnectionReset
        )));
        assert!(!retryable_io(&io::Error::from(
            io::ErrorKind::PermissionDenied
        )));
        assert!(!retryable_transport(&ureq::Error::HostNotFound));
        assert_eq!(parse_retry_after(Some(" 7 ")), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after(Some("Wed, 21 Oct 2015 07:28:00 GMT")),
            None
        );
    }
}

//! Go's `time.Duration` as the command line sees it: parsed like `time.ParseDuration`
//! (`-kaniko-cache-ttl`, `CNB_KANIKO_CACHE_TTL`) and printed like `Duration.String`
//! (usage defaults such as `336h0m0s`).

use std::fmt;
use std::str::FromStr;

const NANOSECOND: u64 = 1;
const MICROSECOND: u64 = 1_000 * NANOSECOND;
const MILLISECOND: u64 = 1_000 * MICROSECOND;
const SECOND: u64 = 1_000 * MILLISECOND;
const MINUTE: u64 = 60 * SECOND;
const HOUR: u64 = 60 * MINUTE;

/// A signed number of nanoseconds, like Go's `time.Duration`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct GoDuration(pub i64);

/// The input is not a Go duration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("time: invalid duration {0}")]
pub struct ParseDurationError(String);

impl GoDuration {
    /// `hours` hours.
    pub const fn from_hours(hours: i64) -> Self {
        Self(hours * HOUR as i64)
    }
}

impl FromStr for GoDuration {
    type Err = ParseDurationError;

    fn from_str(orig: &str) -> Result<Self, Self::Err> {
        let invalid = || ParseDurationError(super::strconv::quote(orig));
        let mut s = orig;
        let mut neg = false;
        if let Some(rest) = s.strip_prefix('-') {
            neg = true;
            s = rest;
        } else if let Some(rest) = s.strip_prefix('+') {
            s = rest;
        }
        if s == "0" {
            return Ok(Self(0));
        }
        if s.is_empty() {
            return Err(invalid());
        }
        const LIMIT: u64 = 1 << 63;
        let mut total: u64 = 0;
        while !s.is_empty() {
            if !s.starts_with(|c: char| c == '.' || c.is_ascii_digit()) {
                return Err(invalid());
            }
            let int_len = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
            let whole = leading_int(&s[..int_len]).ok_or_else(invalid)?;
            s = &s[int_len..];
            let mut frac: u64 = 0;
            let mut scale: f64 = 1.0;
            let mut has_frac = false;
            if let Some(rest) = s.strip_prefix('.') {
                let frac_len = rest
                    .find(|c: char| !c.is_ascii_digit())
                    .unwrap_or(rest.len());
                (frac, scale) = leading_fraction(&rest[..frac_len]);
                has_frac = frac_len > 0;
                s = &rest[frac_len..];
            }
            if int_len == 0 && !has_frac {
                return Err(invalid());
            }
            let unit_len = s
                .find(|c: char| c == '.' || c.is_ascii_digit())
                .unwrap_or(s.len());
            if unit_len == 0 {
                return Err(invalid());
            }
            let unit = unit_nanos(&s[..unit_len]).ok_or_else(invalid)?;
            s = &s[unit_len..];
            if whole > LIMIT / unit {
                return Err(invalid());
            }
            let mut v = whole * unit;
            if frac > 0 {
                v += (frac as f64 * (unit as f64 / scale)) as u64;
                if v > LIMIT {
                    return Err(invalid());
                }
            }
            total += v;
            if total > LIMIT {
                return Err(invalid());
            }
        }
        if neg {
            return Ok(Self((total as i64).wrapping_neg()));
        }
        if total > LIMIT - 1 {
            return Err(invalid());
        }
        Ok(Self(total as i64))
    }
}

/// The value of a run of decimal digits, failing past 2^63.
fn leading_int(digits: &str) -> Option<u64> {
    let mut x: u64 = 0;
    for b in digits.bytes() {
        if x > (1 << 63) / 10 {
            return None;
        }
        x = x * 10 + u64::from(b - b'0');
        if x > 1 << 63 {
            return None;
        }
    }
    Some(x)
}

/// The digits after a decimal point as a numerator and its power-of-ten scale; digits
/// beyond what fits are ignored.
fn leading_fraction(digits: &str) -> (u64, f64) {
    let mut x: u64 = 0;
    let mut scale = 1.0;
    let mut overflow = false;
    for b in digits.bytes() {
        if overflow || x > ((1u64 << 63) - 1) / 10 {
            overflow = true;
            continue;
        }
        let y = x * 10 + u64::from(b - b'0');
        if y > 1 << 63 {
            overflow = true;
            continue;
        }
        x = y;
        scale *= 10.0;
    }
    (x, scale)
}

fn unit_nanos(unit: &str) -> Option<u64> {
    Some(match unit {
        "ns" => NANOSECOND,
        "us" | "\u{b5}s" | "\u{3bc}s" => MICROSECOND,
        "ms" => MILLISECOND,
        "s" => SECOND,
        "m" => MINUTE,
        "h" => HOUR,
        _ => return None,
    })
}

impl fmt::Display for GoDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let u = self.0.unsigned_abs();
        if u == 0 {
            return f.write_str("0s");
        }
        if u < SECOND {
            let (unit, prec) = match u {
                u if u < MICROSECOND => ("ns", 0),
                u if u < MILLISECOND => ("\u{b5}s", 3),
                _ => ("ms", 6),
            };
            let (int, frac) = split_fraction(u, prec);
            return write!(f, "{sign}{int}{frac}{unit}");
        }
        let (secs, frac) = split_fraction(u, 9);
        let (mins, secs) = (secs / 60, secs % 60);
        let (hours, mins) = (mins / 60, mins % 60);
        f.write_str(sign)?;
        if hours > 0 {
            write!(f, "{hours}h")?;
        }
        if hours > 0 || mins > 0 {
            write!(f, "{mins}m")?;
        }
        write!(f, "{secs}{frac}s")
    }
}

/// `v / 10^prec` and its fraction as `.ddd` without trailing zeros (empty when zero).
fn split_fraction(v: u64, prec: u32) -> (u64, String) {
    let p = 10u64.pow(prec);
    let frac = v % p;
    if frac == 0 {
        return (v / p, String::new());
    }
    let digits = format!("{frac:0width$}", width = prec as usize);
    (v / p, format!(".{}", digits.trim_end_matches('0')))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Option<i64> {
        s.parse::<GoDuration>().ok().map(|d| d.0)
    }

    #[test]
    fn parses_like_go() {
        assert_eq!(parse("0"), Some(0));
        assert_eq!(parse("-0"), Some(0));
        assert_eq!(parse("336h"), Some(336 * 3600 * 1_000_000_000));
        assert_eq!(parse("1h30m"), Some(5400 * 1_000_000_000));
        assert_eq!(parse("1.5s"), Some(1_500_000_000));
        assert_eq!(parse(".5s"), Some(500_000_000));
        assert_eq!(parse("5.s"), Some(5_000_000_000));
        assert_eq!(parse("-2m"), Some(-120_000_000_000));
        assert_eq!(parse("+3us"), Some(3_000));
        assert_eq!(parse("3\u{b5}s"), Some(3_000));
        assert_eq!(parse("10ns"), Some(10));
        for bad in ["", "1", "-", ".", "h", "1x", "1h ", "1.h.", "3000000h"] {
            assert_eq!(parse(bad), None, "{bad}");
        }
        assert_eq!(
            "x".parse::<GoDuration>().unwrap_err().to_string(),
            "time: invalid duration \"x\""
        );
    }

    #[test]
    fn formats_like_go() {
        let cases = [
            (0, "0s"),
            (1, "1ns"),
            (1_100, "1.1\u{b5}s"),
            (2_200_000, "2.2ms"),
            (3_300_000_000, "3.3s"),
            (4 * 60 * 1_000_000_000 + 5_000_000_000, "4m5s"),
            (336 * 3600 * 1_000_000_000, "336h0m0s"),
            (-1_500_000_000, "-1.5s"),
            (3600 * 1_000_000_000 + 1, "1h0m0.000000001s"),
        ];
        for (nanos, want) in cases {
            assert_eq!(GoDuration(nanos).to_string(), want);
        }
        assert_eq!(GoDuration::from_hours(336).to_string(), "336h0m0s");
    }
}

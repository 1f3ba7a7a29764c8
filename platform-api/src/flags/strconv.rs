//! The few `strconv` behaviours of Go that the lifecycle's command line depends on:
//! boolean and integer parsing (for flags and environment variables) and `%q` quoting
//! (for error messages and usage defaults).

/// Why a number did not parse, worded as Go's `flag` package reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NumError {
    /// Not a number in the accepted syntax.
    #[error("parse error")]
    Syntax,
    /// A number, but outside the range of a 64-bit signed integer.
    #[error("value out of range")]
    Range,
}

/// Go's `strconv.ParseBool`: `1 t T TRUE true True` and `0 f F FALSE false False`.
pub fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// Go's `strconv.Atoi`: an optional sign followed by decimal digits, nothing else.
pub fn atoi(s: &str) -> Result<i64, NumError> {
    let (neg, digits) = split_sign(s);
    if digits.is_empty() {
        return Err(NumError::Syntax);
    }
    let magnitude = digits_value(digits, 10, false)?;
    apply_sign(neg, magnitude)
}

/// Go's `strconv.ParseInt(s, 0, 64)`, as used by integer flags: an optional sign, then a
/// decimal number, or one prefixed `0x`, `0o`, `0b` or just `0` (octal), with `_`
/// allowed between digits.
pub fn parse_int(s: &str) -> Result<i64, NumError> {
    let (neg, rest) = split_sign(s);
    if rest.is_empty() {
        return Err(NumError::Syntax);
    }
    let bytes = rest.as_bytes();
    let (base, digits) = if bytes[0] == b'0' && bytes.len() >= 3 {
        match bytes[1].to_ascii_lowercase() {
            b'x' => (16, &rest[2..]),
            b'o' => (8, &rest[2..]),
            b'b' => (2, &rest[2..]),
            _ => (8, &rest[1..]),
        }
    } else if bytes[0] == b'0' {
        (8, &rest[1..])
    } else {
        (10, rest)
    };
    let magnitude = digits_value(digits, base, true)?;
    if digits.contains('_') && !underscores_ok(s) {
        return Err(NumError::Syntax);
    }
    apply_sign(neg, magnitude)
}

fn split_sign(s: &str) -> (bool, &str) {
    match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    }
}

/// The unsigned value of `digits` in `base`; an overflow is reported at once, as Go does.
fn digits_value(digits: &str, base: u32, allow_underscores: bool) -> Result<u64, NumError> {
    let mut value: u64 = 0;
    for c in digits.chars() {
        if c == '_' && allow_underscores {
            continue;
        }
        let d = c.to_digit(base).ok_or(NumError::Syntax)?;
        value = value
            .checked_mul(u64::from(base))
            .and_then(|v| v.checked_add(u64::from(d)))
            .ok_or(NumError::Range)?;
    }
    Ok(value)
}

fn apply_sign(neg: bool, magnitude: u64) -> Result<i64, NumError> {
    const LIMIT: u64 = 1 << 63;
    match (neg, magnitude) {
        (false, m) if m < LIMIT => Ok(m as i64),
        (true, LIMIT) => Ok(i64::MIN),
        (true, m) if m < LIMIT => Ok(-(m as i64)),
        _ => Err(NumError::Range),
    }
}

/// Go's rule for `_` in base-prefixed literals: each underscore sits between two digits
/// (a base prefix counts as a digit).
fn underscores_ok(s: &str) -> bool {
    let (_, rest) = split_sign(s);
    let bytes = rest.as_bytes();
    #[derive(PartialEq)]
    enum Saw {
        Start,
        Digit,
        Underscore,
        Other,
    }
    let mut saw = Saw::Start;
    let mut i = 0;
    let mut hex = false;
    if bytes.len() >= 2
        && bytes[0] == b'0'
        && matches!(bytes[1].to_ascii_lowercase(), b'b' | b'o' | b'x')
    {
        i = 2;
        saw = Saw::Digit;
        hex = bytes[1].eq_ignore_ascii_case(&b'x');
    }
    for &b in &bytes[i..] {
        if b.is_ascii_digit() || (hex && b.is_ascii_hexdigit()) {
            saw = Saw::Digit;
        } else if b == b'_' {
            if saw != Saw::Digit {
                return false;
            }
            saw = Saw::Underscore;
        } else {
            if saw == Saw::Underscore {
                return false;
            }
            saw = Saw::Other;
        }
    }
    saw != Saw::Underscore
}

/// Go's `strconv.Quote` (the `%q` verb) for valid UTF-8 text: double quotes, with
/// backslash escapes for quotes, backslashes and non-printable characters.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if is_printable(c) => out.push(c),
            c if (c as u32) < 0x80 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push('"');
    out
}

/// An approximation of Go's `unicode.IsPrint`: no control characters and, of the
/// spaces, only U+0020.
fn is_printable(c: char) -> bool {
    c == ' '
        || !(c.is_control()
            || c.is_whitespace()
            || matches!(c, '\u{200b}'..='\u{200f}' | '\u{feff}'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bools_follow_parse_bool() {
        for t in ["1", "t", "T", "TRUE", "true", "True"] {
            assert_eq!(parse_bool(t), Some(true), "{t}");
        }
        for f in ["0", "f", "F", "FALSE", "false", "False"] {
            assert_eq!(parse_bool(f), Some(false), "{f}");
        }
        for bad in ["", "yes", "tRUE", "on", " true", "2"] {
            assert_eq!(parse_bool(bad), None, "{bad}");
        }
    }

    #[test]
    fn atoi_is_plain_decimal() {
        assert_eq!(atoi("1000"), Ok(1000));
        assert_eq!(atoi("+7"), Ok(7));
        assert_eq!(atoi("-7"), Ok(-7));
        assert_eq!(atoi("010"), Ok(10));
        for bad in ["", "-", "0x10", "1_000", " 1", "1.0"] {
            assert_eq!(atoi(bad), Err(NumError::Syntax), "{bad}");
        }
        assert_eq!(atoi("9223372036854775808"), Err(NumError::Range));
        assert_eq!(atoi("-9223372036854775808"), Ok(i64::MIN));
    }

    #[test]
    fn parse_int_accepts_go_literals() {
        assert_eq!(parse_int("1000"), Ok(1000));
        assert_eq!(parse_int("0x10"), Ok(16));
        assert_eq!(parse_int("0X1f"), Ok(31));
        assert_eq!(parse_int("0o17"), Ok(15));
        assert_eq!(parse_int("017"), Ok(15));
        assert_eq!(parse_int("0b101"), Ok(5));
        assert_eq!(parse_int("0"), Ok(0));
        assert_eq!(parse_int("-0x10"), Ok(-16));
        assert_eq!(parse_int("1_000"), Ok(1000));
        assert_eq!(parse_int("0x_1f"), Ok(31));
        for bad in ["", "abc", "0x", "08", "1__0", "_1", "1_", "0b2", "1e3"] {
            assert_eq!(parse_int(bad), Err(NumError::Syntax), "{bad}");
        }
        assert_eq!(parse_int("99999999999999999999"), Err(NumError::Range));
        assert_eq!(parse_int("9223372036854775808"), Err(NumError::Range));
    }

    #[test]
    fn quote_matches_go() {
        assert_eq!(quote("/layers"), "\"/layers\"");
        assert_eq!(quote(""), "\"\"");
        assert_eq!(quote("a\"b\\c\n\t"), "\"a\\\"b\\\\c\\n\\t\"");
        assert_eq!(quote("\u{1}"), "\"\\x01\"");
        assert_eq!(quote("\u{a0}é"), "\"\\u00a0é\"");
    }
}

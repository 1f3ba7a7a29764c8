//! JSON text as Go's `encoding/json` writes it.

use std::io;

use serde::Serialize;
use serde_json::ser::Formatter;

/// Serializes `value` compactly with Go's string escaping and float formatting.
pub(super) fn to_string<T: ?Sized + Serialize>(value: &T) -> Result<String, serde_json::Error> {
    let mut out = Vec::new();
    value.serialize(&mut serde_json::Serializer::with_formatter(
        &mut out,
        GoFormatter,
    ))?;
    String::from_utf8(out).map_err(|e| serde::ser::Error::custom(e.to_string()))
}

/// serde_json's compact output with Go's differences: HTML-significant characters and
/// the JavaScript line separators escaped, floats in `strconv` shortest form.
struct GoFormatter;

impl Formatter for GoFormatter {
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            let escaped = match c {
                '<' => "\\u003c",
                '>' => "\\u003e",
                '&' => "\\u0026",
                '\u{2028}' => "\\u2028",
                '\u{2029}' => "\\u2029",
                _ => continue,
            };
            writer.write_all(&fragment.as_bytes()[start..i])?;
            writer.write_all(escaped.as_bytes())?;
            start = i + c.len_utf8();
        }
        writer.write_all(&fragment.as_bytes()[start..])
    }

    fn write_f64<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: f64) -> io::Result<()> {
        let abs = value.abs();
        let text = if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
            exponent_form(format!("{value:e}"))
        } else {
            format!("{value}")
        };
        writer.write_all(text.as_bytes())
    }

    fn write_f32<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: f32) -> io::Result<()> {
        let abs = value.abs();
        let text = if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
            exponent_form(format!("{value:e}"))
        } else {
            format!("{value}")
        };
        writer.write_all(text.as_bytes())
    }
}

/// Rust's `1e21` / `1.5e-7` as Go writes them: `1e+21` / `1.5e-7`.
fn exponent_form(rust: String) -> String {
    match rust.split_once('e') {
        Some((mantissa, exp)) if !exp.starts_with('-') => format!("{mantissa}e+{exp}"),
        _ => rust,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_like_go() {
        let s = "a<b>&c\u{2028}\u{2029}\"\\\n\r\t\u{8}\u{c}\u{1}\u{7f}é";
        assert_eq!(
            to_string(s).unwrap(),
            "\"a\\u003cb\\u003e\\u0026c\\u2028\\u2029\\\"\\\\\\n\\r\\t\\b\\f\\u0001\u{7f}é\""
        );
    }

    #[test]
    fn floats_like_go() {
        let cases: &[(f64, &str)] = &[
            (5.0, "5"),
            (-0.0, "-0"),
            (1.5, "1.5"),
            (1e20, "100000000000000000000"),
            (1e21, "1e+21"),
            (1.5e-7, "1.5e-7"),
            (1e-6, "0.000001"),
            (1.23e-10, "1.23e-10"),
        ];
        for (f, want) in cases {
            assert_eq!(to_string(f).unwrap(), *want);
        }
        assert_eq!(to_string(&1.1f32).unwrap(), "1.1");
        assert_eq!(
            to_string(&serde_json::json!({"a": 2.0, "b": 3})).unwrap(),
            r#"{"a":2,"b":3}"#
        );
    }
}

//! Just enough JSON to tell the exec form of an instruction (`["a", "b"]`) from the
//! shell form: a whole-text JSON array is either all strings (exec form), has some
//! other element (an error in a Dockerfile), or the text is not a JSON array at all
//! (shell form).

/// What the argument text of an instruction is, read as JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum JsonArray {
    /// A JSON array of strings, decoded.
    Strings(Vec<String>),
    /// A valid JSON array with an element that is not a string.
    NotStrings,
    /// Not a JSON array (so the shell form).
    Invalid,
}

/// Reads `text` (leading whitespace ignored) as one JSON array.
pub(super) fn parse_array(text: &str) -> JsonArray {
    let mut p = Parser {
        s: text.trim_start().as_bytes(),
        i: 0,
    };
    if p.peek() != Some(b'[') {
        return JsonArray::Invalid;
    }
    let Some(elements) = p.array() else {
        return JsonArray::Invalid;
    };
    p.ws();
    if p.i != p.s.len() {
        return JsonArray::Invalid;
    }
    let mut strings = Vec::with_capacity(elements.len());
    for element in elements {
        match element {
            Some(s) => strings.push(s),
            None => return JsonArray::NotStrings,
        }
    }
    JsonArray::Strings(strings)
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    /// An array whose elements are `Some(string)` or `None` for any other value.
    fn array(&mut self) -> Option<Vec<Option<String>>> {
        self.ws();
        if !self.eat(b'[') {
            return None;
        }
        let mut out = Vec::new();
        self.ws();
        if self.eat(b']') {
            return Some(out);
        }
        loop {
            self.ws();
            if self.peek() == Some(b'"') {
                out.push(Some(self.string()?));
            } else {
                self.value()?;
                out.push(None);
            }
            self.ws();
            if self.eat(b']') {
                return Some(out);
            }
            if !self.eat(b',') {
                return None;
            }
        }
    }

    /// Skips any JSON value.
    fn value(&mut self) -> Option<()> {
        self.ws();
        match self.peek()? {
            b'"' => self.string().map(|_| ()),
            b'[' => self.array().map(|_| ()),
            b'{' => self.object(),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            _ => self.number(),
        }
    }

    fn object(&mut self) -> Option<()> {
        self.eat(b'{');
        self.ws();
        if self.eat(b'}') {
            return Some(());
        }
        loop {
            self.ws();
            if self.peek() != Some(b'"') {
                return None;
            }
            self.string()?;
            self.ws();
            if !self.eat(b':') {
                return None;
            }
            self.value()?;
            self.ws();
            if self.eat(b'}') {
                return Some(());
            }
            if !self.eat(b',') {
                return None;
            }
        }
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        if self.s[self.i..].starts_with(word) {
            self.i += word.len();
            Some(())
        } else {
            None
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.i;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.i += 1;
        }
        self.i - start
    }

    fn number(&mut self) -> Option<()> {
        self.eat(b'-');
        if self.eat(b'0') {
            // no further integer digits after a leading zero
        } else if self.digits() == 0 {
            return None;
        }
        if self.eat(b'.') && self.digits() == 0 {
            return None;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.i += 1;
            if !self.eat(b'+') {
                self.eat(b'-');
            }
            if self.digits() == 0 {
                return None;
            }
        }
        Some(())
    }

    fn hex4(&mut self) -> Option<u32> {
        let digits = self.s.get(self.i..self.i + 4)?;
        let text = std::str::from_utf8(digits).ok()?;
        let v = u32::from_str_radix(text, 16).ok()?;
        self.i += 4;
        Some(v)
    }

    fn string(&mut self) -> Option<String> {
        self.eat(b'"');
        let mut out: Vec<u8> = Vec::new();
        loop {
            let b = self.peek()?;
            self.i += 1;
            match b {
                b'"' => return Some(String::from_utf8_lossy(&out).into_owned()),
                b'\\' => {
                    let e = self.peek()?;
                    self.i += 1;
                    let c = match e {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => self.unicode_escape()?,
                        _ => return None,
                    };
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
                0..=0x1f => return None,
                _ => out.push(b),
            }
        }
    }

    /// The character of a `\uXXXX` escape (a surrogate pair when one follows),
    /// U+FFFD for an unpaired surrogate, as Go decodes them.
    fn unicode_escape(&mut self) -> Option<char> {
        let first = self.hex4()?;
        if (0xD800..0xDC00).contains(&first) && self.s[self.i..].starts_with(b"\\u") {
            let save = self.i;
            self.i += 2;
            if let Some(second) = self.hex4()
                && (0xDC00..0xE000).contains(&second)
            {
                let c = 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00);
                return Some(char::from_u32(c).unwrap_or('\u{FFFD}'));
            }
            self.i = save;
        }
        Some(char::from_u32(first).unwrap_or('\u{FFFD}'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_form() {
        assert_eq!(
            parse_array(r#"  ["/bin/sh", "-c", "echo \"hi\" \u00e9"] "#),
            JsonArray::Strings(vec!["/bin/sh".into(), "-c".into(), "echo \"hi\" é".into()])
        );
        assert_eq!(parse_array("[]"), JsonArray::Strings(vec![]));
        assert_eq!(
            parse_array(r#"["\ud83d\ude00", "\ud800"]"#),
            JsonArray::Strings(vec!["😀".into(), "\u{FFFD}".into()])
        );
    }

    #[test]
    fn not_strings() {
        assert_eq!(parse_array("[1, 2]"), JsonArray::NotStrings);
        assert_eq!(
            parse_array(r#"["a", {"b": [null, true, -1.5e3]}]"#),
            JsonArray::NotStrings
        );
    }

    #[test]
    fn shell_form() {
        for text in [
            "echo hi",
            "[abc]",
            r#"["a" "b"]"#,
            r#"["a"] trailing"#,
            r#"["unterminated]"#,
            "[01]",
            "[1.]",
            r#"["tab	inside"]"#,
            "",
        ] {
            assert_eq!(parse_array(text), JsonArray::Invalid, "{text}");
        }
    }
}

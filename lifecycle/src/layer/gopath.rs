//! Go's lexical path rules on raw bytes, as the reference applies them to layer entry
//! names and slice globs: `path.Clean` and `path/filepath.Match` (Unix flavour, `\`
//! escapes). File names are bytes, so both work on `&[u8]`; a byte that is not part of
//! valid UTF-8 reads as U+FFFD, as Go's `utf8.DecodeRuneInString` reads it.

/// Go's `path.Clean`: the shortest lexically equivalent path (`.` for an empty one).
pub(crate) fn clean(path: &[u8]) -> Vec<u8> {
    if path.is_empty() {
        return b".".to_vec();
    }
    let rooted = path[0] == b'/';
    let n = path.len();
    let mut out: Vec<u8> = Vec::with_capacity(n);
    let (mut r, mut dotdot) = (0, 0);
    if rooted {
        out.push(b'/');
        (r, dotdot) = (1, 1);
    }
    while r < n {
        let at_end = |i: usize| i == n || path[i] == b'/';
        if path[r] == b'/' || (path[r] == b'.' && at_end(r + 1)) {
            // An empty or `.` element.
            r += 1;
        } else if path[r] == b'.' && path[r + 1] == b'.' && at_end(r + 2) {
            r += 2;
            if out.len() > dotdot {
                let mut w = out.len() - 1;
                while w > dotdot && out[w] != b'/' {
                    w -= 1;
                }
                out.truncate(w);
            } else if !rooted {
                if !out.is_empty() {
                    out.push(b'/');
                }
                out.extend_from_slice(b"..");
                dotdot = out.len();
            }
        } else {
            if (rooted && out.len() != 1) || (!rooted && !out.is_empty()) {
                out.push(b'/');
            }
            while r < n && path[r] != b'/' {
                out.push(path[r]);
                r += 1;
            }
        }
    }
    if out.is_empty() {
        out.push(b'.');
    }
    out
}

/// A malformed glob, reported where Go's `filepath.Match` reports `ErrBadPattern`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BadPattern;

/// Go's `filepath.Match` on Unix: whether `name` matches the shell pattern `pattern`
/// (`*` and `?` never match `/`, `[...]` classes with `^` negation and ranges, `\`
/// escapes). Like Go, a malformed pattern is only an error when matching reaches the
/// malformed part.
pub(crate) fn glob_match(pattern: &[u8], name: &[u8]) -> Result<bool, BadPattern> {
    let mut pattern = pattern;
    let mut name = name;
    'pattern: while !pattern.is_empty() {
        let (star, chunk, rest) = scan_chunk(pattern);
        pattern = rest;
        if star && chunk.is_empty() {
            // A trailing star matches the rest of the name unless it has a slash.
            return Ok(!name.contains(&b'/'));
        }
        let (t, ok) = match_chunk(chunk, name)?;
        if ok && (t.is_empty() || !pattern.is_empty()) {
            name = t;
            continue;
        }
        if star {
            // Try again skipping 1, 2, ... bytes of the name, never across a slash.
            let mut i = 0;
            while i < name.len() && name[i] != b'/' {
                let (t, ok) = match_chunk(chunk, &name[i + 1..])?;
                if ok {
                    if pattern.is_empty() && !t.is_empty() {
                        i += 1;
                        continue;
                    }
                    name = t;
                    continue 'pattern;
                }
                i += 1;
            }
        }
        return Ok(false);
    }
    Ok(name.is_empty())
}

/// Splits off the leading stars and the chunk up to the next star outside a class.
fn scan_chunk(pattern: &[u8]) -> (bool, &[u8], &[u8]) {
    let mut pattern = pattern;
    let mut star = false;
    while let [b'*', rest @ ..] = pattern {
        pattern = rest;
        star = true;
    }
    let mut in_range = false;
    let mut i = 0;
    while i < pattern.len() {
        match pattern[i] {
            b'\\' if i + 1 < pattern.len() => i += 1,
            b'[' => in_range = true,
            b']' => in_range = false,
            b'*' if !in_range => break,
            _ => {}
        }
        i += 1;
    }
    (star, &pattern[..i], &pattern[i..])
}

/// Matches `chunk` (no stars) at the start of `s`: the rest of `s` and whether it
/// matched. The whole chunk is always parsed, so a malformed one is an error even after
/// a mismatch.
fn match_chunk<'s>(chunk: &[u8], s: &'s [u8]) -> Result<(&'s [u8], bool), BadPattern> {
    let mut chunk = chunk;
    let mut s = s;
    let mut failed = false;
    while !chunk.is_empty() {
        if !failed && s.is_empty() {
            failed = true;
        }
        match chunk[0] {
            b'[' => {
                let mut r = 0u32;
                if !failed {
                    let (rune, n) = decode_rune(s);
                    r = rune;
                    s = &s[n..];
                }
                chunk = &chunk[1..];
                let negated = chunk.first() == Some(&b'^');
                if negated {
                    chunk = &chunk[1..];
                }
                let mut matched = false;
                let mut ranges = 0;
                loop {
                    if chunk.first() == Some(&b']') && ranges > 0 {
                        chunk = &chunk[1..];
                        break;
                    }
                    let (lo, rest) = class_char(chunk)?;
                    chunk = rest;
                    let mut hi = lo;
                    if chunk[0] == b'-' {
                        let (h, rest) = class_char(&chunk[1..])?;
                        hi = h;
                        chunk = rest;
                    }
                    if lo <= r && r <= hi {
                        matched = true;
                    }
                    ranges += 1;
                }
                if matched == negated {
                    failed = true;
                }
            }
            b'?' => {
                if !failed {
                    if s[0] == b'/' {
                        failed = true;
                    }
                    let (_, n) = decode_rune(s);
                    s = &s[n..];
                }
                chunk = &chunk[1..];
            }
            c => {
                let c = if c == b'\\' {
                    chunk = &chunk[1..];
                    match chunk.first() {
                        Some(&escaped) => escaped,
                        None => return Err(BadPattern),
                    }
                } else {
                    c
                };
                if !failed {
                    if c != s[0] {
                        failed = true;
                    }
                    s = &s[1..];
                }
                chunk = &chunk[1..];
            }
        }
    }
    if failed {
        Ok((&[], false))
    } else {
        Ok((s, true))
    }
}

/// One possibly escaped character of a class and the chunk after it; like Go, the chunk
/// may not end right after it (the class must be closed).
fn class_char(chunk: &[u8]) -> Result<(u32, &[u8]), BadPattern> {
    let mut chunk = chunk;
    if chunk.is_empty() || chunk[0] == b'-' || chunk[0] == b']' {
        return Err(BadPattern);
    }
    if chunk[0] == b'\\' {
        chunk = &chunk[1..];
        if chunk.is_empty() {
            return Err(BadPattern);
        }
    }
    let (r, n) = decode_rune(chunk);
    let rest = &chunk[n..];
    if (r == REPLACEMENT && n == 1) || rest.is_empty() {
        return Err(BadPattern);
    }
    Ok((r, rest))
}

const REPLACEMENT: u32 = 0xFFFD;

/// Go's `utf8.DecodeRuneInString`: the first rune and its length, `(U+FFFD, 1)` for an
/// invalid or truncated sequence; `s` must not be empty.
fn decode_rune(s: &[u8]) -> (u32, usize) {
    let len = match s[0] {
        0x00..=0x7F => return (u32::from(s[0]), 1),
        0xC2..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF4 => 4,
        _ => return (REPLACEMENT, 1),
    };
    match s.get(..len).and_then(|seq| std::str::from_utf8(seq).ok()) {
        Some(text) => (text.chars().next().map_or(REPLACEMENT, u32::from), len),
        None => (REPLACEMENT, 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_matches_go() {
        // Cases from Go's path.Clean tests.
        for (input, want) in [
            ("", "."),
            ("abc", "abc"),
            ("abc/def", "abc/def"),
            ("a/b/c", "a/b/c"),
            (".", "."),
            ("..", ".."),
            ("../..", "../.."),
            ("../../abc", "../../abc"),
            ("/abc", "/abc"),
            ("/", "/"),
            ("abc/", "abc"),
            ("abc/def/", "abc/def"),
            ("/abc/", "/abc"),
            ("//abc", "/abc"),
            ("abc//def//ghi", "abc/def/ghi"),
            ("abc/./def", "abc/def"),
            ("/./abc/def", "/abc/def"),
            ("abc/.", "abc"),
            ("abc/def/ghi/../jkl", "abc/def/jkl"),
            ("abc/def/../ghi/../jkl", "abc/jkl"),
            ("abc/def/..", "abc"),
            ("abc/def/../..", "."),
            ("/abc/def/../..", "/"),
            ("abc/def/../../..", ".."),
            ("/abc/def/../../..", "/"),
            ("abc/def/../../../ghi/jkl/../../../mno", "../../mno"),
            ("abc/./../def", "def"),
            ("abc//./../def", "def"),
            ("abc/../../././../def", "../../def"),
            ("/cnb/process/..", "/cnb"),
        ] {
            assert_eq!(clean(input.as_bytes()), want.as_bytes(), "clean({input:?})");
        }
    }

    #[test]
    fn match_matches_go() {
        // Cases from Go's filepath.Match tests (Unix), plus non-UTF-8 names.
        let cases: &[(&str, &[u8], Result<bool, BadPattern>)] = &[
            ("abc", b"abc", Ok(true)),
            ("*", b"abc", Ok(true)),
            ("*c", b"abc", Ok(true)),
            ("a*", b"a", Ok(true)),
            ("a*", b"abc", Ok(true)),
            ("a*", b"ab/c", Ok(false)),
            ("a*/b", b"abc/b", Ok(true)),
            ("a*/b", b"a/c/b", Ok(false)),
            ("a*b*c*d*e*/f", b"axbxcxdxe/f", Ok(true)),
            ("a*b*c*d*e*/f", b"axbxcxdxexxx/f", Ok(true)),
            ("a*b*c*d*e*/f", b"axbxcxdxe/xxx/f", Ok(false)),
            ("a*b*c*d*e*/f", b"axbxcxdxexxx/fff", Ok(false)),
            ("a*b?c*x", b"abxbbxdbxebxczzx", Ok(true)),
            ("a*b?c*x", b"abxbbxdbxebxczzy", Ok(false)),
            ("ab[c]", b"abc", Ok(true)),
            ("ab[b-d]", b"abc", Ok(true)),
            ("ab[e-g]", b"abc", Ok(false)),
            ("ab[^c]", b"abc", Ok(false)),
            ("ab[^b-d]", b"abc", Ok(false)),
            ("ab[^e-g]", b"abc", Ok(true)),
            ("a\\*b", b"a*b", Ok(true)),
            ("a\\*b", b"ab", Ok(false)),
            ("a?b", "a☺b".as_bytes(), Ok(true)),
            ("a[^a]b", "a☺b".as_bytes(), Ok(true)),
            ("a???b", "a☺b".as_bytes(), Ok(false)),
            ("a[^a][^a][^a]b", "a☺b".as_bytes(), Ok(false)),
            ("[a-ζ]*", "α".as_bytes(), Ok(true)),
            ("*[a-ζ]", "A".as_bytes(), Ok(false)),
            ("a?b", b"a/b", Ok(false)),
            ("a*b", b"a/b", Ok(false)),
            ("[\\]a]", b"]", Ok(true)),
            ("[\\-]", b"-", Ok(true)),
            ("[x\\-]", b"x", Ok(true)),
            ("[x\\-]", b"-", Ok(true)),
            ("[x\\-]", b"z", Ok(false)),
            ("[\\-x]", b"x", Ok(true)),
            ("[\\-x]", b"-", Ok(true)),
            ("[\\-x]", b"a", Ok(false)),
            ("[]a]", b"]", Err(BadPattern)),
            ("[-]", b"-", Err(BadPattern)),
            ("[x-]", b"x", Err(BadPattern)),
            ("[x-]", b"-", Err(BadPattern)),
            ("[x-]", b"z", Err(BadPattern)),
            ("[-x]", b"x", Err(BadPattern)),
            ("[-x]", b"-", Err(BadPattern)),
            ("[-x]", b"a", Err(BadPattern)),
            ("\\", b"a", Err(BadPattern)),
            ("[a-b-c]", b"a", Err(BadPattern)),
            ("[", b"a", Err(BadPattern)),
            ("[^", b"a", Err(BadPattern)),
            ("[^bc", b"a", Err(BadPattern)),
            ("a[", b"a", Err(BadPattern)),
            ("a[", b"ab", Err(BadPattern)),
            ("a[", b"x", Err(BadPattern)),
            ("a/b[", b"x", Err(BadPattern)),
            ("*x", b"xxx", Ok(true)),
            // A mismatch before the malformed chunk is no error, as in Go.
            ("x*[", b"y", Ok(false)),
            // Invalid UTF-8 in names reads as U+FFFD, one byte at a time.
            ("a?b", b"a\xffb", Ok(true)),
            ("a??b", b"a\xff\xfeb", Ok(true)),
            ("a[^x]b", b"a\xffb", Ok(true)),
            ("*", b"\xff\xfe", Ok(true)),
        ];
        for (pattern, name, want) in cases {
            assert_eq!(
                glob_match(pattern.as_bytes(), name),
                *want,
                "Match({pattern:?}, {:?})",
                String::from_utf8_lossy(name)
            );
        }
    }
}

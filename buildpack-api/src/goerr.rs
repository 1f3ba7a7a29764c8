//! I/O errors worded as the reference (a Go program) words them, so messages that
//! platforms and users grep for stay the same.

use std::io;
use std::path::Path;

/// An OS error's text as Go prints it: the C library's message with a lower-case first
/// letter and no `(os error N)` suffix (`no such file or directory`).
pub fn text(err: &io::Error) -> String {
    let full = err.to_string();
    let text = match (err.raw_os_error(), full.rfind(" (os error ")) {
        (Some(_), Some(i)) => &full[..i],
        _ => &full[..],
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// A failed file operation as Go's `*PathError` prints it: `<op> <path>: <text>`.
pub fn path_error(op: &str, path: &Path, err: &io::Error) -> String {
    format!("{op} {}: {}", path.display(), text(err))
}

/// Go's names of the Linux signals 1 to 31 (`syscall.Signal.String`).
const SIGNAL_NAMES: [&str; 31] = [
    "hangup",
    "interrupt",
    "quit",
    "illegal instruction",
    "trace/breakpoint trap",
    "aborted",
    "bus error",
    "floating point exception",
    "killed",
    "user defined signal 1",
    "segmentation fault",
    "user defined signal 2",
    "broken pipe",
    "alarm clock",
    "terminated",
    "stack fault",
    "child exited",
    "continued",
    "stopped (signal)",
    "stopped",
    "stopped (tty input)",
    "stopped (tty output)",
    "urgent I/O condition",
    "CPU time limit exceeded",
    "file size limit exceeded",
    "virtual timer expired",
    "profiling timer expired",
    "window changed",
    "I/O possible",
    "power failure",
    "bad system call",
];

/// A signal as Go names it (`killed`, `CPU time limit exceeded`, else `signal N`).
pub fn signal_name(signal: i32) -> String {
    usize::try_from(signal - 1)
        .ok()
        .and_then(|i| SIGNAL_NAMES.get(i))
        .map_or_else(|| format!("signal {signal}"), |n| n.to_string())
}

/// The 1-based line a TOML error points at, when it points anywhere.
pub fn toml_line(text: &str, err: &toml::de::Error) -> Option<usize> {
    err.span().map(|span| {
        text.as_bytes()[..span.start.min(text.len())]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1
    })
}

/// A TOML syntax error on one line, shaped like the reference's decoder errors:
/// `toml: line N: <what is wrong>`.
pub fn toml(text: &str, err: &toml::de::Error) -> String {
    match toml_line(text, err) {
        Some(line) => format!("toml: line {line}: {}", err.message()),
        None => format!("toml: {}", err.message()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_errors_like_go() {
        let err = std::fs::read("/nonexistent/file").unwrap_err();
        assert_eq!(text(&err), "no such file or directory");
        assert_eq!(
            path_error("open", Path::new("/nonexistent/file"), &err),
            "open /nonexistent/file: no such file or directory"
        );
        let bad = "a = 1\nb = [\n";
        let err = ::toml::from_str::<::toml::Table>(bad).unwrap_err();
        assert!(
            toml(bad, &err).starts_with("toml: line 2: "),
            "{}",
            toml(bad, &err)
        );
        assert_eq!(signal_name(9), "killed");
        assert_eq!(signal_name(24), "CPU time limit exceeded");
        assert_eq!(signal_name(40), "signal 40");
        assert_eq!(signal_name(0), "signal 0");
        let custom = io::Error::other("Custom thing");
        assert_eq!(text(&custom), "custom thing");
    }
}

//! The launcher's own messages: warnings and errors on standard output, prefixed
//! `Warning: ` (bold yellow) and `ERROR: ` (bold red) unless `CNB_NO_COLOR` is true,
//! byte for byte as the reference prints them.

use std::io::Write;

/// Bold yellow.
const WARN_STYLE: &str = "\x1b[33;1m";
/// Bold red.
const ERROR_STYLE: &str = "\x1b[31;1m";
/// Back to normal.
const RESET: &str = "\x1b[0m";

/// Where the launcher reports.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Output {
    /// Whether the prefixes are coloured.
    pub(crate) color: bool,
}

impl Output {
    /// Prints `Warning: <message>`.
    pub(crate) fn warn(&self, message: &str) {
        self.print(&self.line(WARN_STYLE, "Warning: ", message));
    }

    /// Prints `ERROR: <message>`.
    pub(crate) fn error(&self, message: &str) {
        self.print(&self.line(ERROR_STYLE, "ERROR: ", message));
    }

    /// The prefixed line, ending in exactly one added newline when `message` has none.
    fn line(&self, style: &str, label: &str, message: &str) -> String {
        let mut line = String::with_capacity(message.len() + 24);
        if self.color {
            line.push_str(style);
            line.push_str(label);
            line.push_str(RESET);
        } else {
            line.push_str(label);
        }
        line.push_str(message);
        if !message.ends_with('\n') {
            line.push('\n');
        }
        line
    }

    /// Writes and flushes (the launcher may exec right after); a closed standard output
    /// must not stop the launch.
    fn print(&self, line: &str) {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(line.as_bytes());
        let _ = out.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes() {
        let plain = Output { color: false };
        assert_eq!(plain.line(WARN_STYLE, "Warning: ", "x"), "Warning: x\n");
        assert_eq!(plain.line(ERROR_STYLE, "ERROR: ", "x\n"), "ERROR: x\n");
        let color = Output { color: true };
        assert_eq!(
            color.line(ERROR_STYLE, "ERROR: ", "failed"),
            "\x1b[31;1mERROR: \x1b[0mfailed\n"
        );
        assert_eq!(
            color.line(WARN_STYLE, "Warning: ", "w"),
            "\x1b[33;1mWarning: \x1b[0mw\n"
        );
    }
}

//! The lifecycle's log output, shaped like the reference's: every level goes to stdout
//! (as the reference's logger does), warnings prefixed `Warning: ` and errors `ERROR: `,
//! filtered by level.

use std::fmt;
use std::io::Write;
use std::str::FromStr;

/// Log levels accepted by `-log-level` / `CNB_LOG_LEVEL`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Everything, including timings and per-buildpack output of passing detects.
    Debug,
    /// The default.
    Info,
    /// Warnings and errors only.
    Warn,
    /// Errors only.
    Error,
}

impl FromStr for Level {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "debug" => Ok(Level::Debug),
            "info" => Ok(Level::Info),
            "warn" | "warning" => Ok(Level::Warn),
            // The reference also accepts `fatal` (it then hides errors too); the
            // closest level here is `error`.
            "error" | "fatal" => Ok(Level::Error),
            _ => Err(format!("invalid log level '{s}'")),
        }
    }
}

/// A logger handed to every phase explicitly (no global state).
#[derive(Debug, Clone, Copy)]
pub struct Logger {
    level: Level,
}

impl Logger {
    /// A logger that prints messages at `level` and above.
    pub fn new(level: Level) -> Self {
        Self { level }
    }

    /// The current level.
    pub fn level(&self) -> Level {
        self.level
    }

    /// Whether messages of `level` are printed.
    pub fn enabled(&self, level: Level) -> bool {
        level >= self.level
    }

    /// Debug message (stdout).
    pub fn debug(&self, msg: impl fmt::Display) {
        if self.enabled(Level::Debug) {
            line(&mut std::io::stdout().lock(), "", msg);
        }
    }

    /// Info message (stdout).
    pub fn info(&self, msg: impl fmt::Display) {
        if self.enabled(Level::Info) {
            line(&mut std::io::stdout().lock(), "", msg);
        }
    }

    /// Warning (`Warning: ` prefix).
    pub fn warn(&self, msg: impl fmt::Display) {
        if self.enabled(Level::Warn) {
            line(&mut std::io::stdout().lock(), "Warning: ", msg);
        }
    }

    /// Error (`ERROR: ` prefix).
    pub fn error(&self, msg: impl fmt::Display) {
        if self.enabled(Level::Error) {
            line(&mut std::io::stdout().lock(), "ERROR: ", msg);
        }
    }

    /// Prints a plain message whatever the level (used to replay buffered lines).
    pub fn always(&self, msg: impl fmt::Display) {
        line(&mut std::io::stdout().lock(), "", msg);
    }
}

/// Writes one message, adding a line feed only when it lacks one (as the reference does).
fn line(w: &mut impl Write, prefix: &str, msg: impl fmt::Display) {
    let msg = msg.to_string();
    let lf = if msg.ends_with('\n') { "" } else { "\n" };
    let _ = write!(w, "{prefix}{msg}{lf}");
    let _ = w.flush();
}

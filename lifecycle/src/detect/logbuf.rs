//! Log lines held back until detection ends: the reference prints the resolver's debug
//! lines (per-buildpack output blocks, `======== Results ========`, pass/fail lines) at
//! their own level when detection succeeds, but all of them when it fails.

use crate::log::{Level, Logger};

/// Buffered log entries, in the order they were logged.
#[derive(Debug, Default)]
pub(crate) struct LogBuffer {
    entries: Vec<(Level, String)>,
}

impl LogBuffer {
    /// Records a debug line.
    pub(crate) fn debug(&mut self, msg: impl Into<String>) {
        self.entries.push((Level::Debug, msg.into()));
    }

    /// Records an info line.
    pub(crate) fn info(&mut self, msg: impl Into<String>) {
        self.entries.push((Level::Info, msg.into()));
    }

    /// Records a line at `level`.
    pub(crate) fn log(&mut self, level: Level, msg: impl Into<String>) {
        self.entries.push((level, msg.into()));
    }

    /// Prints the entries: every one when `failed`, else those the logger's level admits.
    pub(crate) fn flush(self, logger: &Logger, failed: bool) {
        for (level, msg) in self.entries {
            if failed || logger.enabled(level) {
                logger.always(&msg);
            }
        }
    }
}

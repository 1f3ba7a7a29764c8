//! A finished child's status as Go's `os.ProcessState` prints it (`exit status 3`,
//! `signal: killed`), for exec.d failures.

use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;

/// Go's names of the Linux signals 1 to 31.
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

/// `exit status N` or `signal: <name>`, with ` (core dumped)` when there is a core.
pub(crate) fn describe(status: ExitStatus) -> String {
    let mut text = match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(sig)) => {
            let name = usize::try_from(sig - 1)
                .ok()
                .and_then(|i| SIGNAL_NAMES.get(i))
                .map_or_else(|| format!("signal {sig}"), |n| n.to_string());
            format!("signal: {name}")
        }
        (None, None) => String::new(),
    };
    if status.core_dumped() {
        text.push_str(" (core dumped)");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_statuses_like_go() {
        assert_eq!(describe(ExitStatus::from_raw(3 << 8)), "exit status 3");
        assert_eq!(describe(ExitStatus::from_raw(9)), "signal: killed");
        assert_eq!(describe(ExitStatus::from_raw(15)), "signal: terminated");
        assert_eq!(
            describe(ExitStatus::from_raw(11 | 0x80)),
            "signal: segmentation fault (core dumped)"
        );
        assert_eq!(describe(ExitStatus::from_raw(40)), "signal: signal 40");
    }
}

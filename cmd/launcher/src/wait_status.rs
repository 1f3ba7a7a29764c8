//! A finished child's status as Go's `os.ProcessState` prints it (`exit status 3`,
//! `signal: killed`), for exec.d failures.

use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;

use buildpack_api::goerr;

/// `exit status N` or `signal: <name>`, with ` (core dumped)` when there is a core.
pub(crate) fn describe(status: ExitStatus) -> String {
    let mut text = match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(sig)) => format!("signal: {}", goerr::signal_name(sig)),
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

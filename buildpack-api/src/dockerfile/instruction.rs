//! The reference's per-instruction argument checks, turning a parsed line into a stage
//! start (`FROM`), a build argument or another command.

use super::lines::Numbered;
use super::{Instruction, Stage};

/// What a line is, once checked.
pub(super) enum Checked {
    /// `FROM`: a new stage.
    From(Stage),
    /// `ARG` (a meta argument before the first `FROM`).
    Arg(Instruction),
    /// Any other instruction.
    Command(Instruction),
}

/// Instruction names, for "did you mean" suggestions (sorted, so ties resolve the same
/// way every time).
const INSTRUCTIONS: [&str; 18] = [
    "ADD",
    "ARG",
    "CMD",
    "COPY",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "FROM",
    "HEALTHCHECK",
    "LABEL",
    "MAINTAINER",
    "ONBUILD",
    "RUN",
    "SHELL",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
];

fn at_least_one(name: &str) -> String {
    format!("{name} requires at least one argument")
}

fn exactly_one(name: &str) -> String {
    format!("{name} requires exactly one argument")
}

/// Checks a line's arguments; the error is the message without its location.
pub(super) fn check(numbered: Numbered) -> Result<Checked, String> {
    let Numbered { node, line } = numbered;
    let lower = node.cmd.to_ascii_lowercase();
    let args = &node.args;
    match lower.as_str() {
        "from" => {
            let name = stage_name(args)?;
            return Ok(Checked::From(Stage {
                base_name: args[0].clone(),
                name,
                line,
                commands: Vec::new(),
            }));
        }
        "env" | "label" => {
            let name = lower.to_ascii_uppercase();
            if args.is_empty() {
                return Err(at_least_one(&name));
            }
            if args.iter().step_by(2).any(String::is_empty) {
                return Err(format!("{name} names can not be blank"));
            }
        }
        "arg" => {
            if args.is_empty() {
                return Err(at_least_one("ARG"));
            }
            if args.iter().any(|a| a.starts_with('=')) {
                return Err("ARG names can not be blank".into());
            }
        }
        "add" | "copy" if args.len() < 2 => {
            return Err(format!(
                "{} requires at least two arguments, but only one was provided. Destination could not be determined",
                lower.to_ascii_uppercase()
            ));
        }
        "maintainer" | "stopsignal" | "user" | "workdir" if args.len() != 1 => {
            return Err(exactly_one(&lower.to_ascii_uppercase()));
        }
        "expose" if args.is_empty() => return Err(at_least_one("EXPOSE")),
        "volume" => {
            if args.is_empty() {
                return Err(at_least_one("VOLUME"));
            }
            if args.iter().any(|v| v.trim().is_empty()) {
                return Err("VOLUME specified can not be an empty string".into());
            }
        }
        "shell" => {
            if !node.json {
                return Err("SHELL requires the arguments to be in JSON form".into());
            }
            if args.is_empty() {
                return Err(at_least_one("SHELL"));
            }
        }
        "onbuild" => check_trigger(args)?,
        "healthcheck" => check_health(args, node.json)?,
        "add" | "copy" | "maintainer" | "stopsignal" | "user" | "workdir" | "expose" | "run"
        | "cmd" | "entrypoint" => {}
        _ => return Err(unknown(&node.cmd)),
    }
    let instruction = Instruction {
        name: node.cmd,
        line,
        flags: node.flags,
        args: node.args,
    };
    if lower == "arg" {
        Ok(Checked::Arg(instruction))
    } else {
        Ok(Checked::Command(instruction))
    }
}

/// `FROM image` or `FROM image AS name` (name: lower-case letter first, then letters,
/// digits, `-`, `_`, `.`).
fn stage_name(args: &[String]) -> Result<Option<String>, String> {
    match args {
        [_] => Ok(None),
        [_, as_word, name] if as_word.eq_ignore_ascii_case("as") => {
            let lower = name.to_lowercase();
            let mut chars = lower.chars();
            let valid = chars.next().is_some_and(|c| c.is_ascii_lowercase())
                && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c));
            if valid {
                Ok(Some(lower))
            } else {
                Err(format!(
                    "invalid name for build stage: {name:?}, name can't start with a number or contain symbols"
                ))
            }
        }
        _ => Err("FROM requires either one or three arguments".into()),
    }
}

fn check_trigger(args: &[String]) -> Result<(), String> {
    let Some(trigger) = args.first() else {
        return Err(at_least_one("ONBUILD"));
    };
    let trigger = trigger.trim().to_ascii_uppercase();
    match trigger.as_str() {
        "ONBUILD" => Err("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed".into()),
        "MAINTAINER" | "FROM" => Err(format!("{trigger} isn't allowed as an ONBUILD trigger")),
        _ => Ok(()),
    }
}

fn check_health(args: &[String], json: bool) -> Result<(), String> {
    let Some(kind) = args.first() else {
        return Err(at_least_one("HEALTHCHECK"));
    };
    match kind.to_ascii_uppercase().as_str() {
        "NONE" if args.len() > 1 => Err("HEALTHCHECK NONE takes no arguments".into()),
        "NONE" => Ok(()),
        // A shell-form command is never empty (an empty one is the empty string).
        "CMD" if json && args.len() == 1 => Err("Missing command after HEALTHCHECK CMD".into()),
        "CMD" => Ok(()),
        other => Err(format!("Unknown type {other:?} in HEALTHCHECK (try CMD)")),
    }
}

/// `unknown instruction: X`, with the closest instruction name (edit distance below 3)
/// suggested in the case the instruction was written in.
fn unknown(cmd: &str) -> String {
    let msg = format!("unknown instruction: {cmd}");
    let lower = cmd.to_lowercase();
    let mut best: Option<(&str, usize)> = None;
    for name in INSTRUCTIONS {
        let candidate = name.to_ascii_lowercase();
        if candidate == lower {
            return msg;
        }
        let d = levenshtein(&lower, &candidate);
        if d < best.map_or(3, |(_, b)| b) {
            best = Some((name, d));
        }
    }
    match best {
        Some((name, _)) => {
            let shown = if cmd == cmd.to_uppercase() {
                name.to_string()
            } else {
                name.to_ascii_lowercase()
            };
            format!("{msg} (did you mean {shown}?)")
        }
        None => msg,
    }
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut row = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            row[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(row[j] + 1);
        }
        prev = row;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::super::node::parse_line;
    use super::*;

    fn checked(line: &str) -> Result<Checked, String> {
        check(Numbered {
            node: parse_line(line, '\\')?,
            line: 7,
        })
    }

    fn err(line: &str) -> String {
        match checked(line) {
            Ok(_) => panic!("{line} passed"),
            Err(e) => e,
        }
    }

    #[test]
    fn from_lines() {
        let Ok(Checked::From(stage)) = checked("FROM --platform=x ${base_image} As Builder") else {
            panic!("not a stage")
        };
        assert_eq!(stage.base_name, "${base_image}");
        assert_eq!(stage.name.as_deref(), Some("builder"));
        assert_eq!(stage.line, 7);
        assert_eq!(err("FROM"), "FROM requires either one or three arguments");
        assert_eq!(
            err("FROM a b"),
            "FROM requires either one or three arguments"
        );
        assert_eq!(
            err("FROM a AS 1x"),
            "invalid name for build stage: \"1x\", name can't start with a number or contain symbols"
        );
    }

    #[test]
    fn argument_counts() {
        for (line, msg) in [
            ("ENV", "ENV requires at least one argument"),
            ("LABEL =x", "LABEL names can not be blank"),
            ("ARG", "ARG requires at least one argument"),
            ("ARG =x", "ARG names can not be blank"),
            (
                "COPY only-one",
                "COPY requires at least two arguments, but only one was provided. Destination could not be determined",
            ),
            ("USER", "USER requires exactly one argument"),
            ("WORKDIR", "WORKDIR requires exactly one argument"),
            ("EXPOSE", "EXPOSE requires at least one argument"),
            (
                "VOLUME [\" \"]",
                "VOLUME specified can not be an empty string",
            ),
            (
                "SHELL /bin/sh -c",
                "SHELL requires the arguments to be in JSON form",
            ),
            ("SHELL []", "SHELL requires at least one argument"),
            (
                "ONBUILD ONBUILD RUN x",
                "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed",
            ),
            ("ONBUILD from x", "FROM isn't allowed as an ONBUILD trigger"),
            ("HEALTHCHECK NONE x", "HEALTHCHECK NONE takes no arguments"),
            (
                "HEALTHCHECK CMD []",
                "Missing command after HEALTHCHECK CMD",
            ),
            (
                "HEALTHCHECK WHAT x",
                "Unknown type \"WHAT\" in HEALTHCHECK (try CMD)",
            ),
        ] {
            assert_eq!(err(line), msg, "{line}");
        }
        for line in [
            "RUN",
            "CMD",
            "ENTRYPOINT",
            "ENV A=1",
            "LABEL a b",
            "ARG a b=",
            "ADD a b",
            "USER root",
            "SHELL [\"sh\"]",
            "HEALTHCHECK NONE",
            "HEALTHCHECK CMD curl",
            "STOPSIGNAL SIGKILL",
            "MAINTAINER me",
            "EXPOSE 80/tcp",
            "VOLUME /x",
            "ONBUILD RUN x",
        ] {
            assert!(checked(line).is_ok(), "{line}");
        }
    }

    #[test]
    fn args_and_commands() {
        assert!(matches!(checked("arg a"), Ok(Checked::Arg(i)) if i.name == "arg"));
        assert!(
            matches!(checked("Run x"), Ok(Checked::Command(i)) if i.name == "Run" && i.line == 7)
        );
    }

    #[test]
    fn unknown_instructions() {
        assert_eq!(
            err("RUNN x"),
            "unknown instruction: RUNN (did you mean RUN?)"
        );
        assert_eq!(
            err("copyy a b"),
            "unknown instruction: copyy (did you mean copy?)"
        );
        assert_eq!(
            err("Workdr a"),
            "unknown instruction: Workdr (did you mean workdir?)"
        );
        assert_eq!(err("BANANA x"), "unknown instruction: BANANA");
        assert_eq!(levenshtein("kitten", "sitting"), 3);
    }
}

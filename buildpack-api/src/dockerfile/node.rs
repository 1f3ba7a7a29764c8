//! One logical Dockerfile line split as the reference's parser splits it: the
//! instruction word as written, leading `--flags`, and the arguments in the form the
//! instruction takes (exec-form JSON, whitespace words, quoted words, key/value pairs or
//! the raw rest of the line).

use super::json::{JsonArray, parse_array};

/// A parsed line, before instruction-specific checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Node {
    /// The instruction word as written (`RUN`, `run`, `Run` …).
    pub cmd: String,
    /// `--name[=value]` flags before the arguments, without the dashes.
    pub flags: Vec<String>,
    /// Arguments (key/value instructions alternate keys and values; `ONBUILD` starts
    /// with its trigger's instruction word).
    pub args: Vec<String>,
    /// Whether the arguments were written in exec (JSON) form.
    pub json: bool,
    /// The line's text after continuations were joined.
    pub original: String,
}

/// Separators between the instruction word and its arguments (Go's `[\t\v\f\r ]+`).
fn is_sep(c: char) -> bool {
    matches!(c, '\t' | '\u{b}' | '\u{c}' | '\r' | ' ')
}

/// Splits `line` (one logical line) into a node. Errors are the parser's own messages.
pub(super) fn parse_line(line: &str, escape: char) -> Result<Node, String> {
    let trimmed = line.trim();
    let (cmd, rest) = match trimmed.find(is_sep) {
        Some(at) => (&trimmed[..at], trimmed[at..].trim_start_matches(is_sep)),
        None => (trimmed, ""),
    };
    let (flags, rest) = if rest.is_empty() {
        (Vec::new(), "")
    } else {
        builder_flags(rest)
    };
    let (args, json) = match cmd.to_ascii_lowercase().as_str() {
        "add" | "copy" | "volume" => maybe_json_to_list(rest)?,
        "arg" => (words(rest, escape), false),
        "cmd" | "entrypoint" | "run" | "shell" => maybe_json(rest)?,
        "env" => (name_values(rest, "ENV", escape)?, false),
        "label" => (name_values(rest, "LABEL", escape)?, false),
        "expose" | "from" => (whitespace_words(rest), false),
        "healthcheck" => health(rest)?,
        "maintainer" | "stopsignal" | "user" | "workdir" => (whole(rest), false),
        "onbuild" => (trigger(rest, escape)?, false),
        _ => (Vec::new(), false),
    };
    Ok(Node {
        cmd: cmd.to_string(),
        flags,
        args,
        json,
        original: line.to_string(),
    })
}

/// Leading `--flag` words (quotes and backslashes honoured) and the rest of the line;
/// a lone `--` ends the flags.
fn builder_flags(line: &str) -> (Vec<String>, &str) {
    let mut flags = Vec::new();
    let mut rest = line.trim_start();
    while rest.starts_with("--") {
        let (word, after) = shell_word(rest);
        if word == "--" {
            return (flags, after.trim_start());
        }
        flags.push(word.trim_start_matches("--").to_string());
        rest = after.trim_start();
    }
    (flags, rest)
}

/// The first whitespace-delimited word of `s` (which starts with a non-space), quotes
/// removed and backslash escapes applied, and the text after it.
fn shell_word(s: &str) -> (String, &str) {
    let mut word = String::new();
    let mut quote: Option<char> = None;
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match (quote, c) {
            (None, c) if c.is_whitespace() => return (word, &s[i..]),
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (_, '\\') => {
                if let Some((_, next)) = chars.next() {
                    word.push(next);
                }
            }
            (_, c) => word.push(c),
        }
    }
    (word, "")
}

/// Whitespace-delimited words, nothing else interpreted (`FROM`, `EXPOSE`).
fn whitespace_words(rest: &str) -> Vec<String> {
    if rest.is_empty() {
        return Vec::new();
    }
    rest.split(is_sep)
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// The rest of the line as one argument (`USER`, `WORKDIR`, …).
fn whole(rest: &str) -> Vec<String> {
    if rest.is_empty() {
        Vec::new()
    } else {
        vec![rest.to_string()]
    }
}

const NOT_STRINGS: &str = "when using JSON array syntax, arrays must be comprised of strings only";

/// Exec form if the text is a JSON array of strings, else the whole text (`RUN`, `CMD`…).
fn maybe_json(rest: &str) -> Result<(Vec<String>, bool), String> {
    if rest.is_empty() {
        return Ok((Vec::new(), false));
    }
    match parse_array(rest) {
        JsonArray::Strings(list) => Ok((list, true)),
        JsonArray::NotStrings => Err(NOT_STRINGS.into()),
        JsonArray::Invalid => Ok((vec![rest.to_string()], false)),
    }
}

/// Exec form if the text is a JSON array of strings, else whitespace words (`COPY`…).
fn maybe_json_to_list(rest: &str) -> Result<(Vec<String>, bool), String> {
    match parse_array(rest) {
        JsonArray::Strings(list) => Ok((list, true)),
        JsonArray::NotStrings => Err(NOT_STRINGS.into()),
        JsonArray::Invalid => Ok((whitespace_words(rest), false)),
    }
}

/// Words separated by whitespace outside quotes; quotes and escapes are kept as written
/// (`ARG`, `ENV`, `LABEL`).
fn words(rest: &str, escape: char) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut blank_ok = false;
    let mut quote: Option<char> = None;
    let mut chars = rest.chars().peekable();
    while let Some(c) = chars.next() {
        match quote {
            None if c.is_whitespace() => {
                if blank_ok || !word.is_empty() {
                    out.push(std::mem::take(&mut word));
                }
                blank_ok = false;
            }
            None => {
                if c == '\'' || c == '"' {
                    quote = Some(c);
                    blank_ok = true;
                }
                if c == escape {
                    match chars.next() {
                        Some(next) => {
                            word.push(c);
                            word.push(next);
                        }
                        None => break,
                    }
                    continue;
                }
                word.push(c);
            }
            Some(q) => {
                if c == q {
                    quote = None;
                }
                if c == escape && q != '\'' {
                    match chars.next() {
                        Some(next) => {
                            word.push(c);
                            word.push(next);
                        }
                        None => break,
                    }
                    continue;
                }
                word.push(c);
            }
        }
    }
    if blank_ok || !word.is_empty() {
        out.push(word);
    }
    out
}

/// `KEY value` (legacy, one pair) or `k1=v1 k2=v2 …`, as alternating keys and values.
fn name_values(rest: &str, instruction: &str, escape: char) -> Result<Vec<String>, String> {
    let list = words(rest, escape);
    let Some(first) = list.first() else {
        return Ok(Vec::new());
    };
    if !first.contains('=') {
        return match rest.find(is_sep) {
            Some(at) => Ok(vec![
                rest[..at].to_string(),
                rest[at..].trim_start_matches(is_sep).to_string(),
            ]),
            None => Err(format!("{instruction} must have two arguments")),
        };
    }
    let mut out = Vec::new();
    for word in &list {
        let Some((key, value)) = word.split_once('=') else {
            return Err(format!(
                "Syntax error - can't find = in {word:?}. Must be of the form: name=value"
            ));
        };
        out.push(key.to_string());
        out.push(value.to_string());
    }
    Ok(out)
}

/// `HEALTHCHECK <type> [command]`: the type word, then the command as for `CMD`.
fn health(rest: &str) -> Result<(Vec<String>, bool), String> {
    let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
    if end == 0 {
        return Ok((Vec::new(), false));
    }
    let (mut args, json) = maybe_json(rest[end..].trim_start())?;
    args.insert(0, rest[..end].to_string());
    Ok((args, json))
}

/// `ONBUILD <instruction>`: the trigger's instruction word then its arguments.
fn trigger(rest: &str, escape: char) -> Result<Vec<String>, String> {
    if rest.is_empty() {
        return Ok(Vec::new());
    }
    let child = parse_line(rest, escape)?;
    let mut args = vec![child.cmd];
    args.extend(child.args);
    Ok(args)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(line: &str) -> Node {
        parse_line(line, '\\').unwrap()
    }

    #[test]
    fn instruction_word_flags_and_rest() {
        let n = node("  run  --mount=type=cache,target=/x --network=none  echo hi  ");
        assert_eq!(n.cmd, "run");
        assert_eq!(n.flags, ["mount=type=cache,target=/x", "network=none"]);
        assert_eq!(n.args, ["echo hi"]);
        assert!(!n.json);

        let n = node("COPY --chown=\"a b\" -- --src dst");
        assert_eq!(n.flags, ["chown=a b"]);
        assert_eq!(n.args, ["--src", "dst"]);

        let n = node("FROM --platform=linux/amd64 ${base_image} AS base");
        assert_eq!(n.args, ["${base_image}", "AS", "base"]);
        assert_eq!(node("USER").args, Vec::<String>::new());
    }

    #[test]
    fn exec_and_shell_forms() {
        let n = node(r#"CMD ["a", "b c"]"#);
        assert_eq!(n.args, ["a", "b c"]);
        assert!(n.json);
        assert_eq!(node("RUN [oops").args, ["[oops"]);
        assert_eq!(
            parse_line("ENTRYPOINT [1]", '\\').unwrap_err(),
            "when using JSON array syntax, arrays must be comprised of strings only"
        );
        assert_eq!(node("COPY a b  c").args, ["a", "b", "c"]);
        assert_eq!(node(r#"VOLUME ["/x y"]"#).args, ["/x y"]);
    }

    #[test]
    fn args_keep_quotes() {
        assert_eq!(
            node(r#"ARG base_image="some image" other"#).args,
            [r#"base_image="some image""#, "other"]
        );
        assert_eq!(node(r"ARG a\ b").args, [r"a\ b"]);
        assert_eq!(node("ARG ''").args, ["''"]);
    }

    #[test]
    fn key_values() {
        assert_eq!(node("ENV A=1 B=\"x y\"").args, ["A", "1", "B", "\"x y\""]);
        assert_eq!(node("ENV A  some value").args, ["A", "some value"]);
        assert_eq!(
            parse_line("ENV A", '\\').unwrap_err(),
            "ENV must have two arguments"
        );
        assert_eq!(
            parse_line("LABEL a=1 b", '\\').unwrap_err(),
            "Syntax error - can't find = in \"b\". Must be of the form: name=value"
        );
        assert!(node("LABEL").args.is_empty());
    }

    #[test]
    fn healthcheck_and_onbuild() {
        assert_eq!(node("HEALTHCHECK NONE").args, ["NONE"]);
        assert_eq!(
            node("HEALTHCHECK --interval=5s CMD curl -f x").args,
            ["CMD", "curl -f x"]
        );
        assert_eq!(node("ONBUILD RUN echo hi").args, ["RUN", "echo hi"]);
        assert!(node("ONBUILD").args.is_empty());
    }

    #[test]
    fn unknown_instruction_has_no_args() {
        let n = node("FOO bar baz");
        assert_eq!(n.cmd, "FOO");
        assert!(n.args.is_empty());
    }
}

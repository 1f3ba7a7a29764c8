//! From Dockerfile text to parsed lines, as the reference's parser reads it: a byte
//! order mark and parser directives (`# escape=`…) at the top, comment lines dropped,
//! lines ending in the escape character joined with the next (comment and blank lines
//! inside skipped), and heredoc bodies of `RUN`, `COPY` and `ADD` consumed.

use super::node::{Node, parse_line};

/// A parsed line and the 1-based line number where it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Numbered {
    /// The parsed line.
    pub node: Node,
    /// First physical line of the instruction.
    pub line: usize,
}

/// Every instruction line of `text`. Errors are the parser's messages.
pub(super) fn parse_lines(text: &str) -> Result<Vec<Numbered>, String> {
    let physical: Vec<&str> = text.split_inclusive('\n').collect();
    let mut directives = Directives::default();
    let mut out = Vec::new();
    let mut next = 0;
    let mut current = 0;
    while next < physical.len() {
        let mut raw = trim_newline(physical[next]);
        next += 1;
        if current == 0 {
            raw = raw.strip_prefix('\u{feff}').unwrap_or(raw);
        }
        let token = raw.trim_start();
        directives.check(token)?;
        current += 1;
        let start = current;
        let token = if is_comment(token) { "" } else { token };
        let (mut line, mut end) = trim_continuation(token, directives.escape);
        if end && line.is_empty() {
            continue;
        }
        while !end && next < physical.len() {
            let raw = trim_newline(physical[next]);
            next += 1;
            current += 1;
            if is_comment(raw) || raw.trim_start().is_empty() {
                continue;
            }
            let (part, e) = trim_continuation(raw, directives.escape);
            line.push_str(&part);
            end = e;
        }
        let node = parse_line(&line, directives.escape)?;
        if can_hold_heredoc(&node) && line.contains("<<") {
            for doc in heredocs(&line) {
                let mut terminated = false;
                while next < physical.len() {
                    let mut candidate = trim_newline(physical[next]);
                    next += 1;
                    current += 1;
                    if doc.chomp {
                        candidate = candidate.trim_start_matches('\t');
                    }
                    if candidate == doc.name {
                        terminated = true;
                        break;
                    }
                }
                if !terminated {
                    return Err("unterminated heredoc".into());
                }
            }
        }
        out.push(Numbered { node, line: start });
    }
    if out.is_empty() {
        return Err("file with no instructions".into());
    }
    Ok(out)
}

fn trim_newline(s: &str) -> &str {
    s.trim_end_matches(['\r', '\n'])
}

fn is_comment(s: &str) -> bool {
    s.trim_start().starts_with('#')
}

/// The line without a trailing escape character (and spaces or tabs after it), and
/// whether the instruction ends here. An escaped escape character does not continue.
fn trim_continuation(line: &str, escape: char) -> (String, bool) {
    let trimmed = line.trim_end_matches([' ', '\t']);
    if let Some(before) = trimmed.strip_suffix(escape)
        && !before.ends_with(escape)
    {
        return (before.to_string(), false);
    }
    (line.to_string(), true)
}

/// Parser directives at the top of the file (`syntax`, `escape`, `check`).
struct Directives {
    escape: char,
    done: bool,
    seen: Vec<String>,
}

impl Default for Directives {
    fn default() -> Self {
        Directives {
            escape: '\\',
            done: false,
            seen: Vec::new(),
        }
    }
}

impl Directives {
    /// Looks at a line (leading whitespace removed) while directives may still appear.
    fn check(&mut self, line: &str) -> Result<(), String> {
        if self.done {
            return Ok(());
        }
        let Some((name, value)) = directive(line) else {
            self.done = true;
            return Ok(());
        };
        let name = name.to_ascii_lowercase();
        if !["syntax", "escape", "check"].contains(&name.as_str()) {
            self.done = true;
            return Ok(());
        }
        if self.seen.contains(&name) {
            return Err(format!("only one {name} parser directive can be used"));
        }
        if name == "escape" {
            self.escape = match value {
                "\\" => '\\',
                "`" => '`',
                other => {
                    return Err(format!(
                        "invalid escape token '{other}' does not match ` or \\"
                    ));
                }
            };
        }
        self.seen.push(name);
        Ok(())
    }
}

/// Go's regexp `\s`.
fn go_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\u{c}' | '\r')
}

/// `# name = value` (name: a letter then letters/digits; value non-empty).
fn directive(line: &str) -> Option<(&str, &str)> {
    let rest = line.strip_prefix('#')?.trim_start_matches(go_space);
    let name_len = rest
        .char_indices()
        .find(|(i, c)| !(c.is_ascii_alphabetic() || (*i > 0 && c.is_ascii_digit())))
        .map_or(rest.len(), |(i, _)| i);
    if name_len == 0 {
        return None;
    }
    let (name, rest) = rest.split_at(name_len);
    let value = rest
        .trim_start_matches(go_space)
        .strip_prefix('=')?
        .trim_matches(go_space);
    (!value.is_empty()).then_some((name, value))
}

/// `RUN`, `COPY` and `ADD` (also as an `ONBUILD` trigger) may carry heredocs.
fn can_hold_heredoc(node: &Node) -> bool {
    let holds = |cmd: &str| matches!(cmd.to_ascii_lowercase().as_str(), "run" | "copy" | "add");
    if node.cmd.eq_ignore_ascii_case("onbuild") {
        return node.args.first().is_some_and(|t| holds(t));
    }
    holds(&node.cmd)
}

/// A heredoc opened on an instruction line.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Heredoc {
    /// The terminator word.
    name: String,
    /// `<<-`: leading tabs are ignored when looking for the terminator.
    chomp: bool,
}

/// The heredocs an instruction line opens, in order: words `[n]<<[-]WORD`, where WORD
/// (quotes removed) has no `<` and is one word.
fn heredocs(line: &str) -> Vec<Heredoc> {
    shell_words(line, true)
        .iter()
        .filter_map(|word| {
            let rest = word.trim_start_matches(|c: char| c.is_ascii_digit());
            let rest = rest.strip_prefix("<<")?;
            let (chomp, rest) = match rest.strip_prefix('-') {
                Some(r) => (true, r),
                None => (false, rest),
            };
            let rest = rest.trim_start_matches(go_space);
            if rest.is_empty() || rest.contains('<') {
                return None;
            }
            match shell_words(rest, false).as_slice() {
                [name] => Some(Heredoc {
                    name: name.clone(),
                    chomp,
                }),
                _ => None,
            }
        })
        .collect()
}

/// Shell-like words of `s` (whitespace outside quotes separates them); with `raw`,
/// quotes and backslashes are kept as written, otherwise removed/applied.
fn shell_words(s: &str, raw: bool) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
                continue;
            }
            (None, '\'' | '"') => {
                quote = Some(c);
                if raw {
                    word.push(c);
                }
            }
            (Some(q), c) if c == q => {
                quote = None;
                if raw {
                    word.push(c);
                }
            }
            (Some('\''), c) => word.push(c),
            (_, '\\') => {
                if raw {
                    word.push(c);
                }
                if let Some(next) = chars.next() {
                    word.push(next);
                }
            }
            (_, c) => word.push(c),
        }
        in_word = true;
    }
    if in_word {
        words.push(word);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<(usize, String, Vec<String>)> {
        parse_lines(text)
            .unwrap()
            .into_iter()
            .map(|n| (n.line, n.node.cmd, n.node.args))
            .collect()
    }

    fn one(line: usize, cmd: &str, args: &[&str]) -> (usize, String, Vec<String>) {
        (
            line,
            cmd.to_string(),
            args.iter().map(|s| s.to_string()).collect(),
        )
    }

    #[test]
    fn comments_blank_lines_and_continuations() {
        let text = "\u{feff}# a comment\n\n  ARG base_image=0\r\nFROM ${base_image}\nRUN echo a \\\n  # inside\n\n    && echo b \\  \n  && echo c\n# end\n";
        assert_eq!(
            lines(text),
            vec![
                one(3, "ARG", &["base_image=0"]),
                one(4, "FROM", &["${base_image}"]),
                one(5, "RUN", &["echo a     && echo b   && echo c"]),
            ]
        );
    }

    #[test]
    fn escaped_escape_does_not_continue_and_eof_ends_a_continuation() {
        assert_eq!(
            lines("RUN echo \\\\\nUSER x\nRUN a \\"),
            vec![
                one(1, "RUN", &["echo \\\\"]),
                one(2, "USER", &["x"]),
                one(3, "RUN", &["a"]),
            ]
        );
    }

    #[test]
    fn escape_directive() {
        assert_eq!(
            lines("# escape=`\nFROM x\nRUN a `\n b\nRUN c \\\n"),
            vec![
                one(2, "FROM", &["x"]),
                one(3, "RUN", &["a  b"]),
                one(5, "RUN", &["c \\"]),
            ]
        );
        assert_eq!(
            parse_lines("# escape=x\nFROM x").unwrap_err(),
            "invalid escape token 'x' does not match ` or \\"
        );
        assert_eq!(
            parse_lines("# syntax=a\n# syntax=b\nFROM x").unwrap_err(),
            "only one syntax parser directive can be used"
        );
        // Directives only count at the very top.
        assert_eq!(
            lines("FROM x\n# escape=`\nRUN a \\\n b"),
            vec![one(1, "FROM", &["x"]), one(3, "RUN", &["a  b"])]
        );
    }

    #[test]
    fn heredocs_are_consumed() {
        let text = "FROM x\nRUN <<EOF\nFROM not-an-instruction\nEOF\nCOPY <<-\"A\" <<B /dst\n\tcontent\n\tA\nother\nB\nUSER me\n";
        assert_eq!(
            lines(text),
            vec![
                one(1, "FROM", &["x"]),
                one(2, "RUN", &["<<EOF"]),
                one(5, "COPY", &["<<-\"A\"", "<<B", "/dst"]),
                one(10, "USER", &["me"]),
            ]
        );
        assert_eq!(
            parse_lines("FROM x\nRUN cat <<EOF\nno end\n").unwrap_err(),
            "unterminated heredoc"
        );
        // Only RUN, COPY and ADD hold heredocs; `<<` elsewhere is plain text.
        assert_eq!(
            lines("FROM x\nENV A=<<EOF\nUSER u"),
            vec![
                one(1, "FROM", &["x"]),
                one(2, "ENV", &["A", "<<EOF"]),
                one(3, "USER", &["u"])
            ]
        );
    }

    #[test]
    fn no_instructions() {
        for text in ["", "\n\n", "# only a comment\n", "  \t\n"] {
            assert_eq!(
                parse_lines(text).unwrap_err(),
                "file with no instructions",
                "{text:?}"
            );
        }
    }

    #[test]
    fn heredoc_words() {
        assert_eq!(
            heredocs("RUN 3<<-'E O' cat <<x<y \"<<Q\""),
            vec![Heredoc {
                name: "E O".into(),
                chomp: true
            }]
        );
    }
}

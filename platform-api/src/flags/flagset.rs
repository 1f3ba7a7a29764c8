//! A command-line parser with the behaviour of Go's `flag` package, which platforms
//! depend on: `-name value`, `-name=value`, `--name`, booleans that never take the next
//! argument, parsing that stops at the first positional argument or after `--`, and
//! Go's exact error texts and usage output.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use super::duration::GoDuration;
use super::strconv::{self, NumError};
use crate::exit::{ExitCode, FLAG_PARSE, SUCCESS};

/// The type of a flag, which decides how its value is parsed and shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagKind {
    /// `-name` or `-name=<ParseBool value>`; never consumes the next argument.
    Bool,
    /// Any text, including the empty string.
    String,
    /// A Go integer literal (`ParseInt(s, 0, 64)`).
    Int,
    /// A Go duration (`time.ParseDuration`).
    Duration,
    /// Repeatable: every occurrence appends its value.
    List,
}

impl FlagKind {
    /// The placeholder shown after the flag name in usage output.
    fn type_name(self) -> &'static str {
        match self {
            Self::Bool => "",
            Self::String => "string",
            Self::Int => "int",
            Self::Duration => "duration",
            Self::List => "value",
        }
    }
}

/// The value of a flag: its default before parsing, what the command line set after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlagValue {
    /// A [`FlagKind::Bool`] value.
    Bool(bool),
    /// A [`FlagKind::String`] value.
    Str(String),
    /// A [`FlagKind::Int`] value.
    Int(i64),
    /// A [`FlagKind::Duration`] value.
    Duration(GoDuration),
    /// A [`FlagKind::List`] value.
    List(Vec<String>),
}

impl FlagValue {
    /// The kind of flag holding such a value.
    pub fn kind(&self) -> FlagKind {
        match self {
            Self::Bool(_) => FlagKind::Bool,
            Self::Str(_) => FlagKind::String,
            Self::Int(_) => FlagKind::Int,
            Self::Duration(_) => FlagKind::Duration,
            Self::List(_) => FlagKind::List,
        }
    }

    /// Applies one occurrence of the flag on the command line.
    fn set(&mut self, raw: &str) -> Result<(), NumError> {
        match self {
            Self::Bool(b) => *b = strconv::parse_bool(raw).ok_or(NumError::Syntax)?,
            Self::Str(s) => *s = raw.to_string(),
            Self::Int(i) => *i = strconv::parse_int(raw)?,
            Self::Duration(d) => *d = raw.parse().map_err(|_| NumError::Syntax)?,
            Self::List(l) => l.push(raw.to_string()),
        }
        Ok(())
    }

    /// The value as Go's `flag.Value.String` renders it (used for usage defaults).
    fn go_string(&self) -> String {
        match self {
            Self::Bool(b) => b.to_string(),
            Self::Str(s) => s.clone(),
            Self::Int(i) => i.to_string(),
            Self::Duration(d) => d.to_string(),
            Self::List(l) => format!("[{}]", l.join(" ")),
        }
    }

    /// Whether the value is the zero value of its kind (Go omits such defaults in usage).
    fn is_zero(&self) -> bool {
        match self {
            Self::Bool(b) => !b,
            Self::Str(s) => s.is_empty(),
            Self::Int(i) => *i == 0,
            Self::Duration(d) => d.0 == 0,
            Self::List(l) => l.is_empty(),
        }
    }
}

/// What went wrong, with the message Go's `flag` package prints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlagErrorKind {
    /// `-h` or `-help` without such a flag defined: usage is printed and the exit is 0.
    Help,
    /// `---x`, `-=x` and the like.
    BadSyntax(String),
    /// A flag this command (at this Platform API) does not define.
    NotDefined(String),
    /// A non-boolean flag last on the command line without a value.
    NeedsArgument(String),
    /// `-<name>=<value>` where the value is not a Go boolean.
    InvalidBool {
        /// The flag name.
        name: String,
        /// The rejected value.
        value: String,
    },
    /// A value an integer or duration flag does not accept.
    InvalidValue {
        /// The flag name.
        name: String,
        /// The rejected value.
        value: String,
        /// `parse error` or `value out of range`.
        reason: NumError,
    },
}

impl fmt::Display for FlagErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Help => f.write_str("flag: help requested"),
            Self::BadSyntax(arg) => write!(f, "bad flag syntax: {arg}"),
            Self::NotDefined(name) => write!(f, "flag provided but not defined: -{name}"),
            Self::NeedsArgument(name) => write!(f, "flag needs an argument: -{name}"),
            Self::InvalidBool { name, value } => write!(
                f,
                "invalid boolean value {} for -{name}: {}",
                strconv::quote(value),
                NumError::Syntax
            ),
            Self::InvalidValue {
                name,
                value,
                reason,
            } => write!(
                f,
                "invalid value {} for flag -{name}: {reason}",
                strconv::quote(value)
            ),
        }
    }
}

/// A failed parse, carrying the usage text Go prints with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}")]
pub struct FlagError {
    /// What went wrong.
    pub kind: FlagErrorKind,
    /// The flag set's usage text (`Usage of <name>:` and one entry per flag).
    pub usage: String,
}

impl FlagError {
    /// Everything Go writes to stderr for this error: the message (except for help)
    /// followed by the usage text.
    pub fn stderr_text(&self) -> String {
        match self.kind {
            FlagErrorKind::Help => self.usage.clone(),
            _ => format!("{}\n{}", self.kind, self.usage),
        }
    }

    /// The exit status of Go's `ExitOnError` handling: 0 for help, 2 otherwise.
    pub fn exit_code(&self) -> ExitCode {
        match self.kind {
            FlagErrorKind::Help => SUCCESS,
            _ => FLAG_PARSE,
        }
    }
}

#[derive(Debug, Clone)]
struct Flag {
    usage: String,
    value: FlagValue,
    default: FlagValue,
}

/// A set of defined flags, parsed like Go's `flag.FlagSet` with `ExitOnError`.
#[derive(Debug, Clone)]
pub struct FlagSet {
    name: String,
    flags: BTreeMap<String, Flag>,
    seen: BTreeSet<String>,
}

impl FlagSet {
    /// An empty set; `name` appears in the usage header (`Usage of <name>:`).
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            flags: BTreeMap::new(),
            seen: BTreeSet::new(),
        }
    }

    /// Defines flag `name` (without dashes) holding `default` until the command line
    /// sets it. Defining a name twice keeps the last definition.
    pub fn define(&mut self, name: &str, default: FlagValue, usage: &str) {
        let flag = Flag {
            usage: usage.to_string(),
            value: default.clone(),
            default,
        };
        self.flags.insert(name.to_string(), flag);
    }

    /// Whether `name` is defined.
    pub fn is_defined(&self, name: &str) -> bool {
        self.flags.contains_key(name)
    }

    /// Parses `args` (the command line without the program name), setting flag values,
    /// and returns the positional arguments left after the flags.
    pub fn parse(&mut self, args: &[String]) -> Result<Vec<String>, FlagError> {
        let mut rest = args;
        while let Some(arg) = rest.first() {
            if arg.len() < 2 || !arg.starts_with('-') {
                break;
            }
            let name = match arg.strip_prefix("--") {
                Some("") => {
                    rest = &rest[1..];
                    break;
                }
                Some(name) => name,
                None => &arg[1..],
            };
            if name.is_empty() || name.starts_with('-') || name.starts_with('=') {
                return Err(self.fail(FlagErrorKind::BadSyntax(arg.clone())));
            }
            rest = &rest[1..];
            // An `=` splits name and value, but never as the first character of the name.
            let (name, inline) = match name.bytes().skip(1).position(|b| b == b'=') {
                Some(i) => (&name[..=i], Some(&name[i + 2..])),
                None => (name, None),
            };
            let Some(flag) = self.flags.get_mut(name) else {
                if name == "help" || name == "h" {
                    return Err(self.fail(FlagErrorKind::Help));
                }
                return Err(self.fail(FlagErrorKind::NotDefined(name.to_string())));
            };
            let outcome = if flag.value.kind() == FlagKind::Bool {
                let raw = inline.unwrap_or("true");
                flag.value.set(raw).map_err(|_| FlagErrorKind::InvalidBool {
                    name: name.to_string(),
                    value: raw.to_string(),
                })
            } else {
                let raw = match inline {
                    Some(v) => Some(v),
                    None => rest.first().map(|next| {
                        rest = &rest[1..];
                        next.as_str()
                    }),
                };
                match raw {
                    None => Err(FlagErrorKind::NeedsArgument(name.to_string())),
                    Some(raw) => {
                        flag.value
                            .set(raw)
                            .map_err(|reason| FlagErrorKind::InvalidValue {
                                name: name.to_string(),
                                value: raw.to_string(),
                                reason,
                            })
                    }
                }
            };
            if let Err(kind) = outcome {
                return Err(self.fail(kind));
            }
            self.seen.insert(name.to_string());
        }
        Ok(rest.to_vec())
    }

    /// The current value of flag `name`.
    pub fn value(&self, name: &str) -> Option<&FlagValue> {
        self.flags.get(name).map(|f| &f.value)
    }

    /// Whether the command line set flag `name`.
    pub fn is_set(&self, name: &str) -> bool {
        self.seen.contains(name)
    }

    /// The usage text Go's default usage function prints: a `Usage of <name>:` header,
    /// then each flag in name order with its type, usage and non-zero default.
    pub fn usage(&self) -> String {
        let mut out = format!("Usage of {}:\n", self.name);
        for (name, flag) in &self.flags {
            let mut line = format!("  -{name}");
            let type_name = flag.default.kind().type_name();
            if !type_name.is_empty() {
                line.push(' ');
                line.push_str(type_name);
            }
            line.push_str(if line.len() <= 4 { "\t" } else { "\n    \t" });
            line.push_str(&flag.usage.replace('\n', "\n    \t"));
            if !flag.default.is_zero() {
                let shown = match &flag.default {
                    FlagValue::Str(s) => strconv::quote(s),
                    other => other.go_string(),
                };
                line.push_str(&format!(" (default {shown})"));
            }
            out.push_str(&line);
            out.push('\n');
        }
        out
    }

    fn fail(&self, kind: FlagErrorKind) -> FlagError {
        FlagError {
            kind,
            usage: self.usage(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set() -> FlagSet {
        let mut fs = FlagSet::new("lifecycle");
        fs.define("daemon", FlagValue::Bool(false), "export to docker daemon");
        fs.define(
            "layers",
            FlagValue::Str("/layers".into()),
            "path to layers directory",
        );
        fs.define(
            "run-image",
            FlagValue::Str(String::new()),
            "reference to run image",
        );
        fs.define("uid", FlagValue::Int(0), "UID of user");
        fs.define("tag", FlagValue::List(vec![]), "additional tags");
        fs.define(
            "kaniko-cache-ttl",
            FlagValue::Duration(GoDuration::from_hours(336)),
            "kaniko cache time-to-live",
        );
        fs
    }

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    fn parse(a: &[&str]) -> (FlagSet, Result<Vec<String>, FlagError>) {
        let mut fs = set();
        let r = fs.parse(&args(a));
        (fs, r)
    }

    fn err(a: &[&str]) -> FlagError {
        parse(a).1.expect_err("should fail")
    }

    #[test]
    fn value_forms() {
        for form in [
            &["-layers", "/x"][..],
            &["-layers=/x"],
            &["--layers", "/x"],
            &["--layers=/x"],
        ] {
            let (fs, r) = parse(form);
            assert_eq!(r.unwrap(), Vec::<String>::new(), "{form:?}");
            assert_eq!(fs.value("layers"), Some(&FlagValue::Str("/x".into())));
            assert!(fs.is_set("layers"));
        }
    }

    #[test]
    fn empty_and_dash_values() {
        let (fs, r) = parse(&["-run-image=", "-layers", "-daemon"]);
        assert!(r.unwrap().is_empty());
        assert_eq!(fs.value("run-image"), Some(&FlagValue::Str(String::new())));
        assert!(fs.is_set("run-image"));
        // A string flag takes the next argument even when it looks like a flag.
        assert_eq!(fs.value("layers"), Some(&FlagValue::Str("-daemon".into())));
        assert_eq!(fs.value("daemon"), Some(&FlagValue::Bool(false)));
        let (fs, _) = parse(&["-layers=a=b"]);
        assert_eq!(fs.value("layers"), Some(&FlagValue::Str("a=b".into())));
    }

    #[test]
    fn bools_never_consume_the_next_argument() {
        let (fs, r) = parse(&["-daemon", "false"]);
        assert_eq!(r.unwrap(), args(&["false"]));
        assert_eq!(fs.value("daemon"), Some(&FlagValue::Bool(true)));
        for (form, want) in [
            ("-daemon=false", false),
            ("-daemon=T", true),
            ("--daemon=0", false),
            ("-daemon=1", true),
        ] {
            let (fs, r) = parse(&[form]);
            assert!(r.unwrap().is_empty());
            assert_eq!(fs.value("daemon"), Some(&FlagValue::Bool(want)), "{form}");
        }
    }

    #[test]
    fn parsing_stops_at_positionals_and_double_dash() {
        let (fs, r) = parse(&["-daemon", "img", "-layers", "/x"]);
        assert_eq!(r.unwrap(), args(&["img", "-layers", "/x"]));
        assert_eq!(fs.value("layers"), Some(&FlagValue::Str("/layers".into())));
        assert!(!fs.is_set("layers"));
        let (_, r) = parse(&["--", "-daemon"]);
        assert_eq!(r.unwrap(), args(&["-daemon"]));
        let (_, r) = parse(&["-", "-daemon"]);
        assert_eq!(r.unwrap(), args(&["-", "-daemon"]));
        let (_, r) = parse(&["-daemon", "--", "--", "x"]);
        assert_eq!(r.unwrap(), args(&["--", "x"]));
        let (_, r) = parse(&["", "-daemon"]);
        assert_eq!(r.unwrap(), args(&["", "-daemon"]));
    }

    #[test]
    fn repeated_list_flags_append() {
        let (fs, r) = parse(&["-tag", "a", "-tag=", "--tag=b"]);
        assert!(r.unwrap().is_empty());
        assert_eq!(
            fs.value("tag"),
            Some(&FlagValue::List(args(&["a", "", "b"])))
        );
    }

    #[test]
    fn integers_and_durations() {
        let (fs, _) = parse(&["-uid", "0x10", "-kaniko-cache-ttl=1h"]);
        assert_eq!(fs.value("uid"), Some(&FlagValue::Int(16)));
        assert_eq!(
            fs.value("kaniko-cache-ttl"),
            Some(&FlagValue::Duration(GoDuration::from_hours(1)))
        );
        assert_eq!(
            err(&["-uid", "abc"]).kind.to_string(),
            "invalid value \"abc\" for flag -uid: parse error"
        );
        assert_eq!(
            err(&["-uid=99999999999999999999"]).kind.to_string(),
            "invalid value \"99999999999999999999\" for flag -uid: value out of range"
        );
        assert_eq!(
            err(&["-kaniko-cache-ttl", "2 days"]).kind.to_string(),
            "invalid value \"2 days\" for flag -kaniko-cache-ttl: parse error"
        );
    }

    #[test]
    fn error_texts_match_go() {
        let cases: [(&[&str], &str); 7] = [
            (&["-x"], "flag provided but not defined: -x"),
            (&["--nope=1"], "flag provided but not defined: -nope"),
            (&["-layers"], "flag needs an argument: -layers"),
            (
                &["-daemon=yes"],
                "invalid boolean value \"yes\" for -daemon: parse error",
            ),
            (
                &["-daemon="],
                "invalid boolean value \"\" for -daemon: parse error",
            ),
            (&["---daemon"], "bad flag syntax: ---daemon"),
            (&["-=x"], "bad flag syntax: -=x"),
        ];
        for (a, want) in cases {
            let e = err(a);
            assert_eq!(e.kind.to_string(), want, "{a:?}");
            assert_eq!(e.exit_code(), 2);
            assert_eq!(e.stderr_text(), format!("{want}\n{}", set().usage()));
        }
    }

    #[test]
    fn help_prints_usage_and_exits_zero() {
        for a in ["-h", "-help", "--help", "-help=1"] {
            let e = err(&[a]);
            assert_eq!(e.kind, FlagErrorKind::Help, "{a}");
            assert_eq!(e.exit_code(), 0);
            assert_eq!(e.stderr_text(), set().usage());
        }
        // A defined -h is an ordinary flag.
        let mut fs = FlagSet::new("x");
        fs.define("h", FlagValue::Bool(false), "help");
        assert!(fs.parse(&args(&["-h"])).is_ok());
    }

    #[test]
    fn usage_matches_go_layout() {
        let mut fs = set();
        fs.define("x", FlagValue::Bool(true), "short");
        fs.define(
            "insecure-registry",
            FlagValue::List(args(&["a", "b"])),
            "insecure registries",
        );
        let want = concat!(
            "Usage of lifecycle:\n",
            "  -daemon\n    \texport to docker daemon\n",
            "  -insecure-registry value\n    \tinsecure registries (default [a b])\n",
            "  -kaniko-cache-ttl duration\n    \tkaniko cache time-to-live (default 336h0m0s)\n",
            "  -layers string\n    \tpath to layers directory (default \"/layers\")\n",
            "  -run-image string\n    \treference to run image\n",
            "  -tag value\n    \tadditional tags\n",
            "  -uid int\n    \tUID of user\n",
            "  -x\tshort (default true)\n",
        );
        assert_eq!(fs.usage(), want);
    }

    #[test]
    fn usage_defaults_are_the_values_before_parsing() {
        let mut fs = set();
        fs.parse(&args(&["-layers", "/elsewhere"])).unwrap();
        assert!(fs.usage().contains("(default \"/layers\")"));
        assert!(fs.is_defined("uid"));
        assert!(!fs.is_defined("nope"));
    }
}

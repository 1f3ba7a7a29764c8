//! Image extensions' Dockerfiles (`build.Dockerfile`, `run.Dockerfile`) read the way the
//! reference lifecycle reads them, and the checks it applies after `/bin/generate`:
//!
//! - a `build.Dockerfile` must open with `ARG base_image` then `FROM ${base_image}`;
//! - a `run.Dockerfile` has one `FROM`: `FROM ${base_image}` extends the run image,
//!   any other image switches to it;
//! - more than one stage is an error in both;
//! - instructions other than `ADD`, `ARG`, `COPY`, `ENV`, `LABEL`, `RUN`, `SHELL`,
//!   `USER` and `WORKDIR` are allowed but reported as [`Warning`]s.
//!
//! Also here: `extend-config.toml`, the build arguments an extension provides.

mod extend_config;
mod instruction;
mod json;
mod lines;
mod node;

use std::fmt;

pub use extend_config::{ExtendArg, ExtendConfig, ExtendConfigError, ExtendSection};

/// The build argument every Dockerfile gets: the image being extended.
pub const BASE_IMAGE_ARG: &str = "base_image";
/// How a Dockerfile refers to the image being extended in `FROM`.
pub const BASE_IMAGE_REF: &str = "${base_image}";
/// Instructions the specification allows in extension Dockerfiles (others are
/// discouraged and only warned about).
pub const RECOMMENDED_INSTRUCTIONS: [&str; 10] = [
    "FROM", "ADD", "ARG", "COPY", "ENV", "LABEL", "RUN", "SHELL", "USER", "WORKDIR",
];

/// Which image a Dockerfile applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// The build image (`build.Dockerfile`).
    Build,
    /// The run image (`run.Dockerfile`).
    Run,
}

impl Kind {
    /// `build` or `run` (directory names in the generated tree).
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Build => "build",
            Kind::Run => "run",
        }
    }

    /// `build.Dockerfile` or `run.Dockerfile`.
    pub fn file_name(self) -> &'static str {
        match self {
            Kind::Build => "build.Dockerfile",
            Kind::Run => "run.Dockerfile",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.file_name())
    }
}

/// One instruction after the first `FROM` (or an `ARG` before it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instruction {
    /// The instruction word as written (`RUN`, `run` …).
    pub name: String,
    /// The line it starts on (1-based).
    pub line: usize,
    /// `--name[=value]` flags, without the dashes.
    pub flags: Vec<String>,
    /// Arguments as the reference's parser splits them (exec-form lists decoded;
    /// `ENV`/`LABEL` alternate keys and values; `ARG` words keep their quotes).
    pub args: Vec<String>,
}

impl Instruction {
    /// For an `ARG`, the name of its first argument (the text before `=`).
    pub fn first_arg_name(&self) -> Option<&str> {
        self.args
            .first()
            .map(|a| a.split_once('=').map_or(a.as_str(), |(k, _)| k))
    }
}

/// A build stage: a `FROM` and the instructions up to the next one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    /// The image as written after `FROM` (not expanded: `${base_image}` stays as is).
    pub base_name: String,
    /// The `AS` name, lower-cased.
    pub name: Option<String>,
    /// The line of the `FROM`.
    pub line: usize,
    /// The stage's instructions.
    pub commands: Vec<Instruction>,
}

/// A parsed Dockerfile.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dockerfile {
    /// `ARG`s before the first `FROM`.
    pub meta_args: Vec<Instruction>,
    /// Stages in order.
    pub stages: Vec<Stage>,
}

/// Why a Dockerfile is rejected (messages as the reference words them).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DockerfileError {
    /// The text is not a Dockerfile (e.g. `file with no instructions`,
    /// `dockerfile parse error on line 3: unknown instruction: FOO`).
    #[error("{0}")]
    Parse(String),
    /// More than one `FROM`.
    #[error("{0} is not permitted to use multistage build")]
    MultiStage(Kind),
    /// No `FROM` at all.
    #[error("{0} should have at least one stage")]
    NoStage(Kind),
    /// A `build.Dockerfile` whose only meta argument is not `base_image`.
    #[error("build.Dockerfile did not start with required ARG command")]
    MissingBaseImageArg,
    /// A `build.Dockerfile` whose stage is not `FROM ${{base_image}}`.
    #[error("build.Dockerfile did not contain required FROM ${{base_image}} command")]
    MissingBaseImageFrom,
}

/// A discouraged instruction in a valid Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// The Dockerfile it is in.
    pub kind: Kind,
    /// The instruction, upper-cased.
    pub instruction: String,
    /// Its line.
    pub line: usize,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} command {} on line {} is not recommended",
            self.kind, self.instruction, self.line
        )
    }
}

/// What a valid `run.Dockerfile` does.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunDockerfile {
    /// The image it switches the run image to (`None`: `FROM ${base_image}`).
    pub with_base: Option<String>,
    /// Whether it has instructions to apply (otherwise it only switches the image).
    pub extend: bool,
    /// Discouraged instructions.
    pub warnings: Vec<Warning>,
}

/// Parses Dockerfile text into meta arguments and stages, with the reference parser's
/// error messages.
pub fn parse(text: &str) -> Result<Dockerfile, DockerfileError> {
    let mut file = Dockerfile::default();
    for numbered in lines::parse_lines(text).map_err(DockerfileError::Parse)? {
        let line = numbered.line;
        let checked = instruction::check(numbered).map_err(|e| {
            DockerfileError::Parse(format!("dockerfile parse error on line {line}: {e}"))
        })?;
        match checked {
            instruction::Checked::From(stage) => file.stages.push(stage),
            instruction::Checked::Arg(arg) if file.stages.is_empty() => file.meta_args.push(arg),
            instruction::Checked::Arg(i) | instruction::Checked::Command(i) => {
                match file.stages.last_mut() {
                    Some(stage) => stage.commands.push(i),
                    None => {
                        return Err(DockerfileError::Parse(
                            "no build stage in current context".into(),
                        ));
                    }
                }
            }
        }
    }
    Ok(file)
}

fn warnings(kind: Kind, stages: &[Stage]) -> Vec<Warning> {
    stages
        .iter()
        .flat_map(|s| &s.commands)
        .map(|c| Warning {
            kind,
            instruction: c.name.to_ascii_uppercase(),
            line: c.line,
        })
        .filter(|w| !RECOMMENDED_INSTRUCTIONS.contains(&w.instruction.as_str()))
        .collect()
}

/// Checks a `build.Dockerfile`; `Ok` carries the discouraged instructions.
pub fn validate_build(text: &str) -> Result<Vec<Warning>, DockerfileError> {
    let file = parse(text)?;
    if file.stages.len() > 1 {
        return Err(DockerfileError::MultiStage(Kind::Build));
    }
    let found = warnings(Kind::Build, &file.stages);
    match file.meta_args.as_slice() {
        [arg] if arg.first_arg_name() == Some(BASE_IMAGE_ARG) => {}
        _ => return Err(DockerfileError::MissingBaseImageArg),
    }
    match file.stages.first() {
        None => Err(DockerfileError::NoStage(Kind::Build)),
        Some(stage) if stage.base_name != BASE_IMAGE_REF => {
            Err(DockerfileError::MissingBaseImageFrom)
        }
        Some(_) => Ok(found),
    }
}

/// Checks a `run.Dockerfile` and tells whether it switches and/or extends the run image.
pub fn validate_run(text: &str) -> Result<RunDockerfile, DockerfileError> {
    let file = parse(text)?;
    let stage = match file.stages.as_slice() {
        [] => return Err(DockerfileError::NoStage(Kind::Run)),
        [stage] => stage,
        _ => return Err(DockerfileError::MultiStage(Kind::Run)),
    };
    Ok(RunDockerfile {
        with_base: (stage.base_name != BASE_IMAGE_REF).then(|| stage.base_name.clone()),
        extend: !stage.commands.is_empty(),
        warnings: warnings(Kind::Run, &file.stages),
    })
}

#[cfg(test)]
mod tests;

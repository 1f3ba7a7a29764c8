//! The driver every phase runs through, in the reference's order: parse the phase's
//! flags (exit 2), honour `-version`, set the log level, warn about flag-like
//! positionals, validate positionals and resolve inputs (exit 3), run the phase's own
//! validation, check privileges, then execute.

use std::ffi::OsString;
use std::path::PathBuf;

use buildpack_api::api::ApiVersion;
use lifecycle::log::{Level, Logger};
use platform_api::exit::{ExitCode, FAILED, INVALID_ARGS, SUCCESS};
use platform_api::flags::{
    DeprecationMode, ENV_DEPRECATION_MODE, Environment, LifecycleInputs, parse_command_line,
};

use crate::failure::Failure;
use crate::phases::PhaseCommand;
use crate::version::VERSION;

/// What the process was started with, read once in `main`.
#[derive(Debug, Clone)]
pub struct Process {
    /// The environment, as text.
    pub env: Environment,
    /// The environment, as given (handed to phases that pass it on to buildpacks).
    pub environ: Vec<(OsString, OsString)>,
    /// The working directory, when it can be determined.
    pub cwd: Option<PathBuf>,
}

/// What a phase's steps receive.
pub struct Context<'a> {
    /// The resolved inputs.
    pub inputs: LifecycleInputs,
    /// The logger, at the requested level.
    pub logger: Logger,
    /// The process's environment and working directory.
    pub process: &'a Process,
}

impl Context<'_> {
    /// `CNB_DEPRECATION_MODE`, for the Buildpack APIs the phase checks.
    pub fn deprecation_mode(&self) -> DeprecationMode {
        DeprecationMode::from_env_value(self.process.env.get(ENV_DEPRECATION_MODE))
    }
}

/// A logger for output before the log level is known (the reference's logger starts at
/// debug level).
pub fn early_logger() -> Logger {
    Logger::new(Level::Debug)
}

/// Prints the version line and returns success.
pub fn print_version() -> ExitCode {
    early_logger().info(VERSION);
    SUCCESS
}

/// Runs `command` with `args` (the command line after the program or subcommand name);
/// `name` is how it was invoked (`detector` or `detect`).
pub fn run(
    command: &PhaseCommand,
    name: &str,
    args: &[String],
    api: ApiVersion,
    process: &Process,
) -> ExitCode {
    let inputs = LifecycleInputs::from_env(api, &process.env);
    let parsed = match parse_command_line(command.phase, inputs, args) {
        Ok(parsed) => parsed,
        Err(err) => {
            eprint!("{}", err.stderr_text());
            return err.exit_code();
        }
    };
    if parsed.show_version {
        return print_version();
    }
    let Some(level) = log_level(&parsed.inputs.log_level) else {
        return Failure::bare(FAILED, "parse log level: invalid level").report(&early_logger());
    };
    let logger = Logger::new(level);
    for arg in parsed.args.iter().filter(|a| a.starts_with('-')) {
        logger.warn(format!(
            "Warning: unconsumed flag-like positional arg: \n\t{arg}\n\t This will not be interpreted as a flag.\n\t Did you mean to put this before the first positional argument?"
        ));
    }
    logger.debug(format!("Starting {name}..."));
    logger.debug("Parsing inputs...");
    let mut inputs = parsed.inputs;
    if let Err(err) = inputs.take_positionals(command.phase, &parsed.args) {
        return Failure::failed_to(INVALID_ARGS, "parse arguments", err).report(&logger);
    }
    match inputs.resolve(command.phase, process.cwd.as_deref()) {
        Ok(warnings) => warnings.iter().for_each(|w| logger.warn(w)),
        Err(err) => {
            return Failure::failed_to(INVALID_ARGS, "resolve inputs", err).report(&logger);
        }
    }
    let ctx = Context {
        inputs,
        logger,
        process,
    };
    let outcome = (command.validate)(&ctx)
        .and_then(|()| {
            ctx.logger.debug("Ensuring privileges...");
            (command.privileges)(&ctx)
        })
        .and_then(|()| {
            lifecycle::privileges::hide_from_children().map_err(|e| {
                Failure::failed_to(FAILED, "hide credentials from child processes", e)
            })?;
            ctx.logger.debug("Executing command...");
            (command.exec)(&ctx)
        });
    match outcome {
        Ok(()) => SUCCESS,
        Err(failure) => failure.report(&ctx.logger),
    }
}

/// The reference's log level names (case-insensitive, `fatal` meaning `error`).
fn log_level(text: &str) -> Option<Level> {
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_levels_like_the_reference() {
        assert_eq!(log_level("DEBUG"), Some(Level::Debug));
        assert_eq!(log_level("info"), Some(Level::Info));
        assert_eq!(log_level("Warning"), Some(Level::Warn));
        assert_eq!(log_level("error"), Some(Level::Error));
        assert_eq!(log_level(""), None);
        assert_eq!(log_level("verbose"), None);
    }
}

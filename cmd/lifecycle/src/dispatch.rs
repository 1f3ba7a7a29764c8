//! Chooses the phase: by the name the binary was invoked under (`detector`, …), else by
//! the first argument (`lifecycle detect …`), with `lifecycle -version` answered before
//! anything else. `CNB_PLATFORM_API` is verified before any phase flag is parsed.

use buildpack_api::api::ApiVersion;
use platform_api::api::PLATFORM_APIS;
use platform_api::exit::{ExitCode, INVALID_ARGS};
use platform_api::flags::{
    DeprecationMode, ENV_DEPRECATION_MODE, ENV_PLATFORM_API, Phase, verify_platform_api,
};

use crate::driver::{self, Process, early_logger};
use crate::failure::Failure;
use crate::phases;

/// Runs the command line `argv` (program name first) and returns the exit code.
pub fn run(argv: &[String], process: &Process) -> ExitCode {
    let program = argv.first().map_or("", String::as_str);
    let invoked_as = strip_extension(program);
    if let Some(phase) = Phase::from_binary_name(&invoked_as) {
        return match platform_api(process) {
            Ok(api) => driver::run(
                phases::command(phase),
                &invoked_as,
                &argv[1..],
                api,
                process,
            ),
            Err(code) => code,
        };
    }
    let Some(first) = argv.get(1) else {
        return Failure::bare(INVALID_ARGS, "parse arguments").report(&early_logger());
    };
    if first == "-version" {
        return driver::print_version();
    }
    let api = match platform_api(process) {
        Ok(api) => api,
        Err(code) => return code,
    };
    let subcommand = base(first);
    match Phase::from_subcommand(&subcommand) {
        Some(phase) => driver::run(
            phases::command(phase),
            &subcommand,
            &argv[2..],
            api,
            process,
        ),
        None => {
            let valid: Vec<_> = Phase::ALL.iter().map(|p| p.subcommand()).collect();
            let action = format!(
                "recognize phase: {subcommand} \nValid phases: {}",
                valid.join(", ")
            );
            Failure::bare(INVALID_ARGS, action).report(&early_logger())
        }
    }
}

/// Verifies `CNB_PLATFORM_API`, logging what the reference logs; on failure returns the
/// exit code (11).
fn platform_api(process: &Process) -> Result<ApiVersion, ExitCode> {
    let logger = early_logger();
    let mode = DeprecationMode::from_env_value(process.env.get(ENV_DEPRECATION_MODE));
    match verify_platform_api(process.env.get(ENV_PLATFORM_API), mode, &PLATFORM_APIS) {
        Ok(verified) => {
            if let Some(warning) = verified.warning {
                logger.warn(warning);
            }
            Ok(verified.version)
        }
        Err(err) => {
            for line in err.preceding_errors() {
                logger.error(line);
            }
            let code = err.exit_code();
            Err(Failure::new(code, err).report(&logger))
        }
    }
}

/// The invoked name without directory or extension, as Go's
/// `TrimSuffix(filepath.Base(p), filepath.Ext(p))`.
fn strip_extension(path: &str) -> String {
    let name = base(path);
    let last = path.rsplit('/').next().unwrap_or(path);
    match last.rfind('.') {
        Some(dot) => name.strip_suffix(&last[dot..]).unwrap_or(&name).to_string(),
        None => name,
    }
}

/// Go's `filepath.Base`: the last element, ignoring trailing slashes (`.` for an empty
/// path, `/` for only slashes).
fn base(path: &str) -> String {
    if path.is_empty() {
        return ".".to_string();
    }
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        return "/".to_string();
    }
    trimmed.rsplit('/').next().unwrap_or(trimmed).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_like_go_filepath() {
        assert_eq!(strip_extension("/cnb/lifecycle/detector"), "detector");
        assert_eq!(strip_extension("detector.exe"), "detector");
        assert_eq!(strip_extension("./a.b/analyzer"), "analyzer");
        assert_eq!(strip_extension("lifecycle"), "lifecycle");
        assert_eq!(strip_extension(""), ".");
        assert_eq!(base("/x/detect"), "detect");
        assert_eq!(base("detect/"), "detect");
        assert_eq!(base("///"), "/");
        assert_eq!(base(""), ".");
    }
}

//! The CNB launcher, the entrypoint of every app image: it picks the process to run
//! (from the `/cnb/process/<type>` name it was invoked by, or from its arguments),
//! builds the launch environment from the launch layers and their exec.d programs, and
//! replaces itself with the process, directly or through bash. Only its own failures
//! are reported (exit 11, 12, 1 for an unreadable `metadata.toml`, 82 otherwise);
//! after that the exit status is the process's.

mod arena;
mod direct;
mod environment;
mod error;
mod execd;
mod launcher;
mod layers;
mod lookpath;
mod output;
mod settings;
mod shell;
#[cfg(target_os = "linux")]
mod sys;
mod wait_status;

#[cfg(not(target_os = "linux"))]
compile_error!("the launcher's C library declarations (src/sys.rs) are Linux's");

use std::ffi::OsString;

use buildpack_api::env::Env;
use buildpack_api::goerr;
use platform_api::api::PLATFORM_APIS;
use platform_api::exit::{ExitCode, FAILED, LAUNCH_ERROR};
use platform_api::files::FileError;
use platform_api::flags::verify_platform_api;
use platform_api::launch::{ProcessSelector, VerifiedBuildpack, read_metadata};
use platform_api::module_api::verify_buildpack_api;

use crate::launcher::Launcher;
use crate::output::Output;
use crate::settings::Settings;

#[global_allocator]
static ALLOC: arena::ArenaAlloc = arena::ArenaAlloc;

fn main() {
    std::process::exit(run());
}

/// Launches; returns the exit code of a failure (success never returns).
fn run() -> ExitCode {
    let settings = Settings::from_env(|key| std::env::var_os(key));
    let out = Output {
        color: settings.color,
    };
    let platform_api = match verify_platform_api(
        &settings.platform_api,
        settings.deprecation_mode,
        &PLATFORM_APIS,
    ) {
        Ok(verified) => {
            if let Some(warning) = verified.warning {
                out.warn(&warning);
            }
            verified.version
        }
        Err(err) => {
            for line in err.preceding_errors() {
                out.error(&line);
            }
            out.error(&err.to_string());
            return err.exit_code();
        }
    };
    let metadata = match read_metadata(&settings.layers_dir) {
        Ok(metadata) => metadata,
        Err(err) => {
            out.error(&format!(
                "failed to read metadata: {}",
                metadata_error(&err)
            ));
            return FAILED;
        }
    };
    let mut buildpacks = Vec::with_capacity(metadata.buildpacks.len());
    for buildpack in &metadata.buildpacks {
        match verify_buildpack_api(
            "buildpack",
            &buildpack.id,
            &buildpack.api,
            settings.deprecation_mode,
        ) {
            Ok((api, warning)) => {
                warning.iter().for_each(|w| out.warn(w));
                buildpacks.push(VerifiedBuildpack {
                    id: buildpack.id.clone(),
                    api,
                });
            }
            Err(err) => {
                for line in err.preceding_errors() {
                    out.error(&line);
                }
                out.error(&err.to_string());
                return err.exit_code();
            }
        }
    }
    if !settings.process_type.is_empty() {
        let t = &settings.process_type;
        out.warn(&format!(
            "CNB_PROCESS_TYPE is not supported in Platform API {platform_api}"
        ));
        out.warn(&format!(
            "Run with ENTRYPOINT '{t}' to invoke the '{t}' process type"
        ));
    }
    let mut argv = std::env::args_os();
    let argv0 = argv.next().unwrap_or_default();
    let args: Vec<OsString> = argv.collect();
    let selector = ProcessSelector::new(
        &metadata.processes,
        &buildpacks,
        platform_api,
        &settings.exec_env,
    );
    let launcher = Launcher {
        layers_dir: &settings.layers_dir,
        app_dir: &settings.app_dir,
        selector,
    };
    let env = Env::for_launch(std::env::vars_os());
    let Err(err) = launcher.launch(&argv0, selector.default_process_type(&argv0), &args, env);
    out.error(&format!("failed to launch: {err}"));
    LAUNCH_ERROR
}

/// Why `metadata.toml` could not be read, in the reference's words.
fn metadata_error(err: &FileError) -> String {
    match err {
        FileError::Io {
            op, path, cause, ..
        } => goerr::path_error(op, path, cause),
        FileError::Syntax {
            line: Some(line),
            message,
            ..
        } => format!("toml: line {line}: {message}"),
        FileError::Syntax { message, .. } => format!("toml: {message}"),
        other => other.to_string(),
    }
}

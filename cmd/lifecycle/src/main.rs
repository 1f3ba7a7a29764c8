//! The multicall `lifecycle` binary: `detector`, `analyzer`, … by the name it is invoked
//! under, or `lifecycle <phase>`.

mod dispatch;
mod driver;
mod failure;
mod phases;
mod stores;
mod version;

use std::ffi::OsString;
use std::io::Write;

use platform_api::flags::Environment;

fn main() {
    let argv: Vec<String> = std::env::args_os().map(lossy).collect();
    let environ: Vec<(OsString, OsString)> = std::env::vars_os().collect();
    let env: Environment = environ
        .iter()
        .map(|(k, v)| (lossy(k.clone()), lossy(v.clone())))
        .collect();
    let process = driver::Process {
        env,
        environ,
        cwd: std::env::current_dir().ok(),
    };
    let code = dispatch::run(&argv, &process);
    let _ = std::io::stdout().flush();
    std::process::exit(code);
}

fn lossy(s: OsString) -> String {
    s.into_string()
        .unwrap_or_else(|s| s.to_string_lossy().into_owned())
}

//! Every phase's command line (Go `flag` syntax, Platform API gates): the first byte
//! picks the phase and Platform API, the rest is the arguments separated by NUL bytes.
//! Parsing must return errors, never panic.
#![no_main]

use buildpack_api::api::ApiVersion;
use libfuzzer_sys::fuzz_target;
use platform_api::flags::{Environment, LifecycleInputs, Phase, parse_command_line};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let phase = Phase::ALL[usize::from(selector) % Phase::ALL.len()];
    let api = ApiVersion::new(0, 7 + u64::from(selector >> 3) % 9);
    let args: Vec<String> = rest
        .split(|&b| b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    let inputs = LifecycleInputs::from_env(api, &Environment::new());
    drop(parse_command_line(phase, inputs, &args));
});

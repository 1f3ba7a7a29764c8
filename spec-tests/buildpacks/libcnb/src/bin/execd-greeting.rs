//! The exec.d program of `libcnb-test/execd`: run by the launcher before the app
//! process, it sets `EXECD_GREETING` and echoes the `APP_MODE` it was started with
//! (layer environment applies before exec.d) as `EXECD_SAW_APP_MODE`.

use libcnb::data::exec_d_program_output_key;
use libcnb::exec_d::write_exec_d_program_output;

fn main() {
    let mode = std::env::var("APP_MODE").unwrap_or_else(|_| "unset".to_string());
    write_exec_d_program_output([
        (
            exec_d_program_output_key!("EXECD_GREETING"),
            "hello from exec.d".to_string(),
        ),
        (exec_d_program_output_key!("EXECD_SAW_APP_MODE"), mode),
    ]);
}

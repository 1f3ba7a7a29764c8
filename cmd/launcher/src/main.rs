//! The CNB launcher (the complete launcher lands with its own issue; this binary only
//! answers `-version` so far and refuses everything else).

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-version" || a == "--version") {
        println!("{}", env!("CARGO_PKG_VERSION"));
        return;
    }
    eprintln!("ERROR: failed to launch: not implemented");
    std::process::exit(platform_api::exit::LAUNCH_ERROR);
}

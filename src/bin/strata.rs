//! `strata`: the client. Every command is a request to `stratad`, but for
//! `strata bench`, which measures the union filesystem on this machine
//! itself (`strata::bench`).

fn main() {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.get(1).is_some_and(|verb| verb == "bench") {
        std::process::exit(strata::bench::main(&args[1..]));
    }
    std::process::exit(strata::cli::main_with(vec![strata::bench::command()]));
}

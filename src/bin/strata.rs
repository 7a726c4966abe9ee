//! `strata`: the client. Every command is a request to `stratad`.

fn main() {
    std::process::exit(strata::cli::main());
}

//! `strata completion bash|zsh|fish|...`: a completion script for the shell,
//! generated from the same clap tree that parses the command line (so it
//! cannot drift from it); it needs no daemon.

use crate::cli::{Error, write_bytes};
use std::io::Write;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The shell to complete for
    #[arg(value_enum, value_name = "SHELL")]
    shell: clap_complete::Shell,
}

pub fn run(args: Args, out: &mut impl Write) -> Result<(), Error> {
    let mut command = crate::cli::command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "strata", &mut script);
    write_bytes(out, &script)
}

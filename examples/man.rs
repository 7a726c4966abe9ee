//! Writes strata's man pages into DIR (default target/man): strata.1, and
//! strata-VERB.1 for every verb (strata-container-ls.1 for the management
//! forms). Run by scripts/man.sh. An example rather than a verb of strata,
//! so that clap_mangen stays a dev-dependency and out of the binary.

use std::path::{Path, PathBuf};

fn main() -> std::io::Result<()> {
    let dir = std::env::args_os()
        .nth(1)
        .map_or_else(|| PathBuf::from("target/man"), PathBuf::from);
    std::fs::create_dir_all(&dir)?;
    strata::cli::with_external(vec![strata::bench::command()]);
    let mut root = strata::cli::command();
    root.build();
    let written = write_pages(&dir, &root, "strata")?;
    println!("{written} pages in {}", dir.display());
    Ok(())
}

/// The page of `command` as `name`.1, then its verbs' pages; how many.
pub fn write_pages(dir: &Path, command: &clap::Command, name: &str) -> std::io::Result<usize> {
    // clap names commands with &'static str (no "string" feature): this
    // one-shot program leaks its few page names.
    let leaked: &'static str = Box::leak(name.to_string().into_boxed_str());
    let mut page = Vec::new();
    clap_mangen::Man::new(command.clone().name(leaked)).render(&mut page)?;
    std::fs::write(dir.join(format!("{name}.1")), page)?;
    let mut written = 1;
    for verb in command.get_subcommands().filter(|v| v.get_name() != "help") {
        written += write_pages(dir, verb, &format!("{name}-{}", verb.get_name()))?;
    }
    Ok(written)
}

//! The integration tests: one binary, a real `stratad` per test on a
//! temporary socket and store, driven by the `strata` binary, raw HTTP and
//! (when installed) the real `docker` CLI.

mod util;

mod cli;
mod confinement;
mod containers;
mod daemon;
mod docker_cli;
mod fs;
mod hostile;
mod import;
mod memory;
mod options;
mod requests;
mod run;
mod store;

//! Strata: a layered filesystem and container tool.
//!
//! The modules mirror the architecture, and imports flow one way:
//! `cli` knows only the API's wire types (`api::types`); `api` orchestrates
//! `layers` (and, with containers, `fs`); `fs`, the union filesystem, reads
//! `layers` (their indexes); `layers` knows no mounts or processes; `sys`
//! holds every direct conversation with the kernel that needs care (path
//! resolution beneath a root, locking, xattrs) and is the only module
//! allowed `unsafe`.

#![deny(unsafe_code)]

pub mod api;
pub mod cli;
pub mod engine;
pub mod fs;
pub mod layers;
pub mod quote;
pub mod run;
pub mod sys;
pub mod time;
pub mod wire;

/// The crate's error: one variant per module, as each module has its own enum.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Layers(#[from] layers::Error),
    #[error(transparent)]
    Api(#[from] api::Error),
    #[error(transparent)]
    Cli(#[from] cli::Error),
    #[error(transparent)]
    Run(#[from] run::Error),
}

/// The version every component reports (defined with the wire, which the
/// client shares).
pub use wire::VERSION;

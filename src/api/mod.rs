//! The daemon's HTTP API: the Docker Engine API over a Unix socket and,
//! with TLS and client certificates, over TCP. It translates requests to
//! the engine (`crate::engine`, containers) and the store (`layers`,
//! images), and their answers to the wire shapes of `crate::wire`, which is
//! all the client sees.

mod archives;
mod containers;
mod convert;
mod copy;
mod error;
mod events;
mod handle;
mod hijack;
mod http;
mod images;
mod network;
mod networks;
mod prune;
mod push;
mod registry;
mod resources;
mod routes;
mod server;
mod system;
mod unsupported;
mod user_mounts;
mod volumes;

pub use error::ApiError;
pub use handle::{Daemon, DaemonConfig, TlsFiles};
pub use registry::default_config_dir;
pub use server::default_root;

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Store(#[from] crate::layers::Error),
    #[error("{0}")]
    Config(String),
    #[error("TLS: {0}")]
    Tls(String),
    #[error("cannot listen on {host}: {source}")]
    Listen { host: String, source: std::io::Error },
    #[error("another stratad is already listening on {}", .0.display())]
    SocketInUse(PathBuf),
}

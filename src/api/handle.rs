//! What every request handler holds: the daemon's handle (`Daemon`: the
//! store, the engine, the configuration) and the shape of a reply. Its
//! own module so that the handlers (containers, images, system, hijack)
//! import it, routes import the handlers, and the server imports routes:
//! no module imports one that imports it.

use super::error::ApiError;
use super::http::Body;
use crate::engine::Engine;
use crate::layers::Store;
use crate::wire::Host;
use hyper::Response;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// What a handler answers: a response, or an error that becomes Docker's
/// `{"message": …}`.
pub(crate) type Reply = Result<Response<Body>, ApiError>;

/// Certificate files for `--tlsverify`, as Docker names them.
#[derive(Clone, Debug)]
pub struct TlsFiles {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

#[derive(Clone, Debug)]
pub struct DaemonConfig {
    pub root: PathBuf,
    pub hosts: Vec<Host>,
    /// Required for every TCP host unless `insecure`.
    pub tls: Option<TlsFiles>,
    /// Plain TCP, allowed on loopback addresses only.
    pub insecure: bool,
    /// The program run as each container's shim and init (`stratad` itself).
    pub helper: PathBuf,
    /// How long running containers get to stop at shutdown, at most.
    pub shutdown_timeout: std::time::Duration,
    /// Which cgroup mechanism enforces the containers' device rules (root).
    pub device_cgroup: crate::run::cgroup::Choice,
    /// `--insecure-registry` and `--config-dir` (registries' CAs).
    pub registry: crate::engine::RegistryConfig,
    /// `--no-spare`: every container starts on a new shim.
    pub no_spare: bool,
}

/// Everything a request handler may reach.
pub struct Daemon {
    pub store: Arc<Store>,
    pub engine: Arc<Engine>,
    pub config: DaemonConfig,
    pub started: Instant,
}

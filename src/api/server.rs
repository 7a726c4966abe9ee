//! Listening: a Unix socket (mode 0660), and TCP only with TLS and client
//! certificates, or in the clear on loopback with an explicit `--insecure`.

use super::Error;
use super::handle::{Daemon, DaemonConfig, TlsFiles};
use super::routes;
use crate::layers::Store;
use crate::wire::Host;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, UnixListener};
use tokio_rustls::TlsAcceptor;

/// `/var/lib/strata` for root, `$XDG_DATA_HOME/strata` (or
/// `~/.local/share/strata`) otherwise.
pub fn default_root() -> PathBuf {
    if crate::sys::is_root() {
        return PathBuf::from("/var/lib/strata");
    }
    if let Some(d) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(d).join("strata");
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/"));
    home.join(".local/share/strata")
}

enum Bound {
    Unix(UnixListener, PathBuf),
    Tcp(TcpListener, Option<TlsAcceptor>),
}

fn is_loopback(host: &str) -> bool {
    host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

impl Daemon {
    /// Opens the store and binds every listener. Errors here are the
    /// daemon's start-up errors: bad flags, a locked store, a busy socket.
    pub async fn start(config: DaemonConfig) -> Result<(Arc<Daemon>, Listeners), Error> {
        if config.hosts.is_empty() {
            return Err(Error::Config("no host to listen on".into()));
        }
        for host in &config.hosts {
            if let Host::Tcp { host: h, .. } = host {
                match (&config.tls, config.insecure) {
                    (Some(_), _) => {}
                    (None, true) if is_loopback(h) => {
                        let warning = format!(
                            "WARNING: listening on {host} without TLS: anyone on this machine who can reach the port controls stratad"
                        );
                        tracing::warn!("{warning}");
                        eprintln!("{warning}");
                    }
                    (None, true) => {
                        return Err(Error::Config(format!(
                            "refusing plain TCP on {host}: --insecure is only allowed on loopback addresses (127.0.0.1, ::1, localhost)"
                        )));
                    }
                    (None, false) => {
                        return Err(Error::Config(format!(
                            "refusing to listen on {host} without TLS: pass --tlsverify --tlscacert --tlscert --tlskey, or --insecure on a loopback address"
                        )));
                    }
                }
            }
        }
        let acceptor = config.tls.as_ref().map(tls_acceptor).transpose()?;
        let root = config.root.clone();
        let store = tokio::task::spawn_blocking(move || Store::open(&root))
            .await
            .map_err(|e| Error::Config(format!("opening the store: {e}")))??;
        let mut bound = Vec::new();
        for host in &config.hosts {
            bound.push(bind(host, acceptor.clone()).await?);
        }
        let store = Arc::new(store);
        let helper = config.helper.clone();
        let engine_store = store.clone();
        let devices = crate::run::cgroup::DevicePolicy::new(config.device_cgroup, store.root())
            .map_err(|e| Error::Config(format!("--device-cgroup: {e}")))?;
        if let crate::run::cgroup::DevicePolicy::Unavailable(why) = &devices {
            tracing::warn!("{why}");
        }
        let engine = tokio::task::spawn_blocking(move || crate::engine::Engine::open(engine_store, helper, devices))
            .await
            .map_err(|e| Error::Config(format!("loading containers: {e}")))?
            .map_err(|e| Error::Config(format!("loading containers: {e}")))?;
        let _ = crate::engine::RUNTIME.set(tokio::runtime::Handle::current());
        let daemon = Arc::new(Daemon {
            engine: Arc::new(engine),
            store,
            config,
            started: Instant::now(),
        });
        daemon.engine.keep_spares(daemon.config.no_spare);
        daemon.engine.keep_spare_networks(daemon.config.no_spare);
        daemon.engine.start_restart_policies();
        Ok((daemon, Listeners(bound)))
    }
}

/// Bound listeners, ready to serve.
pub struct Listeners(Vec<Bound>);

impl Listeners {
    /// Serves until `shutdown` completes, then removes the Unix sockets.
    pub async fn serve(self, daemon: Arc<Daemon>, shutdown: impl Future<Output = ()>) {
        let mut tasks = tokio::task::JoinSet::new();
        let mut sockets = Vec::new();
        for b in self.0 {
            let d = daemon.clone();
            match b {
                Bound::Unix(l, path) => {
                    sockets.push(path);
                    tasks.spawn(async move {
                        loop {
                            match l.accept().await {
                                Ok((stream, _)) => spawn_connection(d.clone(), stream),
                                Err(e) => accept_error(e).await,
                            }
                        }
                    });
                }
                Bound::Tcp(l, tls) => {
                    tasks.spawn(async move {
                        loop {
                            match l.accept().await {
                                Ok((stream, peer)) => match &tls {
                                    Some(acceptor) => {
                                        let (acceptor, d) = (acceptor.clone(), d.clone());
                                        tokio::spawn(async move {
                                            match acceptor.accept(stream).await {
                                                Ok(s) => spawn_connection(d, s),
                                                Err(e) => tracing::info!(%peer, "TLS handshake refused: {e}"),
                                            }
                                        });
                                    }
                                    None => spawn_connection(d.clone(), stream),
                                },
                                Err(e) => accept_error(e).await,
                            }
                        }
                    });
                }
            }
        }
        shutdown.await;
        tasks.shutdown().await;
        daemon.engine.shutdown(daemon.config.shutdown_timeout).await;
        for path in sockets {
            let _ = std::fs::remove_file(path);
        }
    }
}

async fn accept_error(e: std::io::Error) {
    // EMFILE and friends: back off instead of spinning.
    tracing::warn!("accept: {e}");
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
}

fn spawn_connection<S>(daemon: Arc<Daemon>, stream: S)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    tokio::spawn(async move {
        let service = service_fn(move |req| routes::handle(daemon.clone(), req));
        // A client that never finishes its request headers is dropped.
        if let Err(e) = http1::Builder::new()
            .timer(hyper_util::rt::TokioTimer::new())
            .header_read_timeout(std::time::Duration::from_secs(30))
            .serve_connection(TokioIo::new(stream), service)
            .with_upgrades()
            .await
        {
            tracing::debug!("connection: {e}");
        }
    });
}

async fn bind(host: &Host, tls: Option<TlsAcceptor>) -> Result<Bound, Error> {
    let listen_err = |source| Error::Listen {
        host: host.to_string(),
        source,
    };
    match host {
        Host::Unix(path) => {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(listen_err)?;
            }
            remove_stale_socket(path).await?;
            let listener = UnixListener::bind(path).map_err(listen_err)?;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660)).map_err(listen_err)?;
            tracing::info!("listening on {host}");
            Ok(Bound::Unix(listener, path.clone()))
        }
        Host::Tcp { host: h, port } => {
            let addr: SocketAddr = match h.parse::<IpAddr>() {
                Ok(ip) => SocketAddr::new(ip, *port),
                Err(_) if h == "localhost" => SocketAddr::from(([127, 0, 0, 1], *port)),
                Err(_) => tokio::net::lookup_host((h.as_str(), *port))
                    .await
                    .map_err(listen_err)?
                    .next()
                    .ok_or_else(|| Error::Config(format!("{host}: no address")))?,
            };
            let listener = TcpListener::bind(addr).await.map_err(listen_err)?;
            tracing::info!("listening on {host}{}", if tls.is_some() { " (TLS)" } else { "" });
            Ok(Bound::Tcp(listener, tls))
        }
    }
}

/// A socket file left by a daemon that died is removed; one a live daemon
/// answers on is not.
async fn remove_stale_socket(path: &Path) -> Result<(), Error> {
    if std::fs::symlink_metadata(path).is_err() {
        return Ok(());
    }
    if tokio::net::UnixStream::connect(path).await.is_ok() {
        return Err(Error::SocketInUse(path.to_path_buf()));
    }
    std::fs::remove_file(path).map_err(|source| Error::Listen {
        host: format!("unix://{}", path.display()),
        source,
    })
}

fn tls_acceptor(files: &TlsFiles) -> Result<TlsAcceptor, Error> {
    let read_err =
        |what: &str, p: &Path, e: &dyn std::fmt::Display| Error::Tls(format!("reading {what} {}: {e}", p.display()));
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert)
        .map_err(|e| read_err("certificate", &files.cert, &e))?
        .collect::<Result<_, _>>()
        .map_err(|e| read_err("certificate", &files.cert, &e))?;
    if certs.is_empty() {
        return Err(Error::Tls(format!("no certificate in {}", files.cert.display())));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| read_err("key", &files.key, &e))?;
    let mut roots = rustls::RootCertStore::empty();
    for ca in CertificateDer::pem_file_iter(&files.ca).map_err(|e| read_err("CA", &files.ca, &e))? {
        let ca = ca.map_err(|e| read_err("CA", &files.ca, &e))?;
        roots.add(ca).map_err(|e| read_err("CA", &files.ca, &e))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| Error::Tls(e.to_string()))?;
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Tls(e.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)
        .map_err(|e| Error::Tls(e.to_string()))?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

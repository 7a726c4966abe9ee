//! Connections to registries: TCP, then TLS with the system's roots plus
//! the CAs in `certs.d/HOST[:PORT]/*.crt` (and a client certificate from
//! `client.cert`/`client.key` there), one HTTP/1.1 exchange per connection.
//! Plain HTTP is for loopback hosts and `--insecure-registry` ones only.

use super::RegistryConfig;
use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use hyper::body::Incoming;
use hyper::{Request, Response, Uri};
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use std::collections::HashMap;
use std::io;
use std::net::IpAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};

pub type ReqBody = BoxBody<Bytes, io::Error>;

/// How long a connection (TCP and TLS) may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a reply (its headers, or the next piece of its body) may take.
pub const PROGRESS_TIMEOUT: Duration = Duration::from_secs(60);

/// Why a request got no reply. `Display` names no credential: requests
/// carry them in headers, which no message quotes.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("dial tcp {0}")]
    Connect(String),
    #[error("tls: {0}")]
    Tls(String),
    #[error("http: server gave HTTP response to HTTPS client")]
    PlainServer,
    #[error("net/http: request canceled (Client.Timeout exceeded while awaiting headers)")]
    Timeout,
    #[error("{0}")]
    Protocol(String),
}

impl TransportError {
    /// Worth another try: the network, not the request, failed.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            TransportError::Connect(_) | TransportError::Timeout | TransportError::Protocol(_)
        )
    }
}

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

pub struct Transport {
    config: RegistryConfig,
    /// The TLS set-up of each registry (its certs.d), read once per session.
    tls: Mutex<HashMap<String, Arc<rustls::ClientConfig>>>,
}

impl Transport {
    pub fn new(config: RegistryConfig) -> Transport {
        Transport {
            config,
            tls: Mutex::new(HashMap::new()),
        }
    }

    /// Whether `authority` (`HOST[:PORT]`) may be spoken to in plain HTTP:
    /// loopback (as Docker treats 127.0.0.0/8) or named insecure.
    pub fn allows_plain(&self, authority: &str) -> bool {
        let host = host_of(authority);
        let loopback = host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
        loopback
            || self
                .config
                .insecure
                .iter()
                .any(|entry| entry == authority || entry == host)
    }

    /// Sends `req` (an absolute URI) on a new connection and returns the
    /// reply's head; its body is read by the caller.
    pub async fn send(&self, mut req: Request<ReqBody>) -> Result<Response<Incoming>, TransportError> {
        let uri = req.uri().clone();
        let authority = uri
            .authority()
            .map(|a| a.as_str().to_string())
            .ok_or_else(|| TransportError::Protocol(format!("no host in {uri}")))?;
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") if self.allows_plain(&authority) => false,
            _ => return Err(TransportError::Protocol(format!("refusing plain HTTP to {authority}"))),
        };
        let stream = tokio::time::timeout(CONNECT_TIMEOUT, self.connect(&authority, https))
            .await
            .map_err(|_| TransportError::Connect(format!("{authority}: i/o timeout")))??;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| TransportError::Protocol(e.to_string()))?;
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!("registry connection: {e}");
            }
        });
        let path = uri.path_and_query().map_or("/", |p| p.as_str());
        *req.uri_mut() = path
            .parse::<Uri>()
            .map_err(|e| TransportError::Protocol(e.to_string()))?;
        req.headers_mut().insert(
            hyper::header::HOST,
            authority
                .parse()
                .map_err(|_| TransportError::Protocol("bad host".into()))?,
        );
        req.headers_mut().insert(
            hyper::header::USER_AGENT,
            hyper::header::HeaderValue::from_static(concat!("strata/", env!("CARGO_PKG_VERSION"))),
        );
        match tokio::time::timeout(PROGRESS_TIMEOUT, sender.send_request(req)).await {
            Err(_) => Err(TransportError::Timeout),
            Ok(Err(e)) => Err(TransportError::Protocol(e.to_string())),
            Ok(Ok(resp)) => Ok(resp),
        }
    }

    async fn connect(&self, authority: &str, https: bool) -> Result<Box<dyn Stream>, TransportError> {
        let host = host_of(authority);
        let port = port_of(authority).unwrap_or(if https { 443 } else { 80 });
        let tcp = tokio::net::TcpStream::connect((host, port))
            .await
            .map_err(|e| TransportError::Connect(format!("{host}:{port}: connect: {}", describe(&e))))?;
        let _ = tcp.set_nodelay(true);
        if !https {
            return Ok(Box::new(tcp));
        }
        let config = self.tls_config(authority)?;
        let name = ServerName::try_from(host.to_string()).map_err(|e| TransportError::Tls(e.to_string()))?;
        let tls = tokio_rustls::TlsConnector::from(config)
            .connect(name, tcp)
            .await
            .map_err(
                |e| match e.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()) {
                    Some(rustls::Error::InvalidMessage(_)) => TransportError::PlainServer,
                    _ => TransportError::Tls(e.to_string()),
                },
            )?;
        Ok(Box::new(tls))
    }

    fn tls_config(&self, authority: &str) -> Result<Arc<rustls::ClientConfig>, TransportError> {
        let mut cache = self.tls.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = cache.get(authority) {
            return Ok(c.clone());
        }
        let dir = self.config.config_dir.join("certs.d").join(authority);
        let config = Arc::new(tls_config_for(&dir)?);
        cache.insert(authority.to_string(), config.clone());
        Ok(config)
    }
}

/// The system's roots, read once.
fn system_roots() -> &'static [CertificateDer<'static>] {
    static ROOTS: OnceLock<Vec<CertificateDer<'static>>> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let found = rustls_native_certs::load_native_certs();
        for e in &found.errors {
            tracing::warn!("reading the system's CA certificates: {e}");
        }
        found.certs
    })
}

/// Roots plus `dir/*.crt`; `dir/client.cert` + `dir/client.key` when both
/// are there.
fn tls_config_for(dir: &Path) -> Result<rustls::ClientConfig, TransportError> {
    let err = |p: &Path, e: &dyn std::fmt::Display| TransportError::Tls(format!("reading {}: {e}", p.display()));
    let mut roots = rustls::RootCertStore::empty();
    roots.add_parsable_certificates(system_roots().iter().cloned());
    let mut names: Vec<_> = match std::fs::read_dir(dir) {
        Ok(entries) => entries.filter_map(|e| e.ok()).map(|e| e.path()).collect(),
        Err(_) => Vec::new(),
    };
    names.sort();
    for path in names.iter().filter(|p| p.extension().is_some_and(|x| x == "crt")) {
        for cert in CertificateDer::pem_file_iter(path).map_err(|e| err(path, &e))? {
            roots.add(cert.map_err(|e| err(path, &e))?).map_err(|e| err(path, &e))?;
        }
    }
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| TransportError::Tls(e.to_string()))?
        .with_root_certificates(roots);
    let (cert, key) = (dir.join("client.cert"), dir.join("client.key"));
    if cert.exists() && key.exists() {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&cert)
            .map_err(|e| err(&cert, &e))?
            .collect::<Result<_, _>>()
            .map_err(|e| err(&cert, &e))?;
        let private = PrivateKeyDer::from_pem_file(&key).map_err(|e| err(&key, &e))?;
        return builder
            .with_client_auth_cert(certs, private)
            .map_err(|e| TransportError::Tls(e.to_string()));
    }
    Ok(builder.with_no_client_auth())
}

/// `HOST` of `HOST[:PORT]` (brackets of an IPv6 literal removed).
pub fn host_of(authority: &str) -> &str {
    if let Some(rest) = authority.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match authority.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|c| c.is_ascii_digit()) => h,
        _ => authority,
    }
}

fn port_of(authority: &str) -> Option<u16> {
    let tail = authority.rsplit(']').next().unwrap_or(authority);
    tail.rsplit_once(':').and_then(|(_, p)| p.parse().ok())
}

/// An I/O error as Go words the common ones (`connection refused`).
fn describe(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => "connection refused".to_string(),
        io::ErrorKind::TimedOut => "i/o timeout".to_string(),
        _ => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_and_named_hosts_may_be_plain() {
        let t = Transport::new(RegistryConfig {
            insecure: vec!["reg.lan:5000".into(), "other.lan".into()],
            config_dir: "/nonexistent".into(),
        });
        for ok in [
            "127.0.0.1:5000",
            "127.8.9.1",
            "localhost:1",
            "[::1]:5000",
            "reg.lan:5000",
            "other.lan:99",
        ] {
            assert!(t.allows_plain(ok), "{ok}");
        }
        for no in ["reg.lan:5001", "10.0.0.1:5000", "example.com", "128.0.0.1"] {
            assert!(!t.allows_plain(no), "{no}");
        }
        assert_eq!((host_of("[::1]:5000"), port_of("[::1]:5000")), ("::1", Some(5000)));
        assert_eq!((host_of("a.b"), port_of("a.b")), ("a.b", None));
    }
}

//! The HTTP client: one connection per request to `stratad` over its Unix
//! socket or over TCP with TLS.

use super::Error;
use crate::wire::{API_VERSION, AuthConfig, ErrorResponse, Host, REGISTRY_AUTH_HEADER};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty, combinators::BoxBody};
use hyper::body::{Body as HttpBody, Frame, Incoming};
use hyper::{Method, Request, Response};
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde::de::DeserializeOwned;
use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

pub type ReqBody = BoxBody<Bytes, io::Error>;

/// Client certificate files for `--tlsverify`.
#[derive(Clone, Debug)]
pub struct TlsFiles {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

#[derive(Clone)]
pub struct Client {
    host: Host,
    tls: Option<Arc<rustls::ClientConfig>>,
}

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

impl Client {
    pub fn new(host: Host, tls: Option<&TlsFiles>) -> Result<Client, Error> {
        let tls = tls.map(client_tls).transpose()?.map(Arc::new);
        if matches!(host, Host::Unix(_)) && tls.is_some() {
            return Err(Error::Usage("--tlsverify applies to tcp:// hosts only".into()));
        }
        Ok(Client { host, tls })
    }

    pub fn host(&self) -> &Host {
        &self.host
    }

    async fn connect(&self) -> Result<Box<dyn Stream>, Error> {
        let connect_err = |source: io::Error| Error::Connect {
            host: self.host.to_string(),
            source,
        };
        match &self.host {
            Host::Unix(path) => Ok(Box::new(
                tokio::net::UnixStream::connect(path).await.map_err(connect_err)?,
            )),
            Host::Tcp { host, port } => {
                let tcp = tokio::net::TcpStream::connect((host.as_str(), *port))
                    .await
                    .map_err(connect_err)?;
                match &self.tls {
                    None => Ok(Box::new(tcp)),
                    Some(config) => {
                        let name = ServerName::try_from(host.clone())
                            .map_err(|e| Error::Tls(format!("server name {host:?}: {e}")))?;
                        let tls = tokio_rustls::TlsConnector::from(config.clone())
                            .connect(name, tcp)
                            .await
                            .map_err(|e| Error::Tls(format!("handshake with {}: {e}", self.host)))?;
                        Ok(Box::new(tls))
                    }
                }
            }
        }
    }

    /// Sends one request; `path` is without the version prefix.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<ReqBody>,
    ) -> Result<Response<Incoming>, Error> {
        self.send(method, path, body, false, &[]).await
    }

    /// Sends a request that takes over the connection (attach, exec start)
    /// and returns the raw stream once the daemon answers `101`.
    pub async fn hijack(&self, path: &str, body: Option<Vec<u8>>) -> Result<TokioIo<hyper::upgrade::Upgraded>, Error> {
        let body = body.map(|b| {
            http_body_util::Full::new(Bytes::from(b))
                .map_err(|never| match never {})
                .boxed()
        });
        let resp = self.send(Method::POST, path, body, true, &[]).await?;
        if resp.status() != hyper::StatusCode::SWITCHING_PROTOCOLS {
            return Err(error_of(resp).await);
        }
        let upgraded = hyper::upgrade::on(resp)
            .await
            .map_err(|e| Error::Protocol(format!("taking over the connection: {e}")))?;
        Ok(TokioIo::new(upgraded))
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<ReqBody>,
        upgrade: bool,
        headers: &[(&'static str, String)],
    ) -> Result<Response<Incoming>, Error> {
        let stream = self.connect().await?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| Error::Protocol(e.to_string()))?;
        tokio::spawn(async move {
            let _ = conn.with_upgrades().await;
        });
        let authority = match &self.host {
            Host::Unix(_) => "localhost".to_string(),
            Host::Tcp { host, port } => format!("{host}:{port}"),
        };
        let body = body.unwrap_or_else(|| Empty::new().map_err(|never| match never {}).boxed());
        let mut req = Request::builder()
            .method(method)
            .uri(format!("/v{API_VERSION}{path}"))
            .header(hyper::header::HOST, authority)
            .header(hyper::header::USER_AGENT, concat!("strata/", env!("CARGO_PKG_VERSION")));
        for (name, value) in headers {
            req = req.header(*name, value);
        }
        if upgrade {
            req = req
                .header(hyper::header::CONNECTION, "Upgrade")
                .header(hyper::header::UPGRADE, "tcp");
        }
        let req = req.body(body).map_err(|e| Error::Protocol(e.to_string()))?;
        sender
            .send_request(req)
            .await
            .map_err(|e| Error::Protocol(e.to_string()))
    }

    /// Sends a request and returns the whole body of a successful reply, or
    /// the daemon's error message.
    pub async fn call(&self, method: Method, path: &str, body: Option<ReqBody>) -> Result<Bytes, Error> {
        let body = self.stream(method, path, body).await?;
        Ok(body
            .collect()
            .await
            .map_err(|e| Error::Protocol(e.to_string()))?
            .to_bytes())
    }

    /// Sends a request and returns the body of a successful reply to read
    /// as it arrives (logs, waits), or the daemon's error message.
    pub async fn stream(&self, method: Method, path: &str, body: Option<ReqBody>) -> Result<Incoming, Error> {
        successful(self.request(method, path, body).await?).await
    }

    /// Like [`Client::stream`], with registry credentials in the
    /// `X-Registry-Auth` header (pull, push), as the docker CLI sends them.
    pub async fn stream_with_auth(
        &self,
        method: Method,
        path: &str,
        body: Option<ReqBody>,
        auth: &AuthConfig,
    ) -> Result<Incoming, Error> {
        let header = [(REGISTRY_AUTH_HEADER, auth.to_header())];
        successful(self.send(method, path, body, false, &header).await?).await
    }

    /// POSTs a JSON body and returns the reply's body.
    pub async fn post_json<T: serde::Serialize>(&self, path: &str, body: &T) -> Result<Bytes, Error> {
        let bytes = serde_json::to_vec(body).map_err(|e| Error::Protocol(e.to_string()))?;
        let body = http_body_util::Full::new(Bytes::from(bytes))
            .map_err(|never| match never {})
            .boxed();
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T, Error> {
        let bytes = self.call(Method::GET, path, None).await?;
        serde_json::from_slice(&bytes).map_err(|e| Error::Protocol(format!("bad reply to GET {path}: {e}")))
    }
}

/// The body of a successful reply, or the daemon's error.
async fn successful(resp: Response<Incoming>) -> Result<Incoming, Error> {
    if resp.status().is_client_error() || resp.status().is_server_error() {
        return Err(error_of(resp).await);
    }
    Ok(resp.into_body())
}

/// The daemon's error in a reply with an error status.
async fn error_of(resp: Response<Incoming>) -> Error {
    let status = resp.status();
    match resp.into_body().collect().await {
        Ok(body) => daemon_error(status, &body.to_bytes()),
        Err(e) => Error::Protocol(e.to_string()),
    }
}

fn daemon_error(status: hyper::StatusCode, bytes: &[u8]) -> Error {
    let message = serde_json::from_slice::<ErrorResponse>(bytes)
        .map(|e| e.message)
        .unwrap_or_else(|_| format!("{status}: {}", String::from_utf8_lossy(bytes).trim()));
    Error::Daemon {
        status: status.as_u16(),
        message,
    }
}

fn client_tls(files: &TlsFiles) -> Result<rustls::ClientConfig, Error> {
    let err =
        |what: &str, p: &PathBuf, e: &dyn std::fmt::Display| Error::Tls(format!("reading {what} {}: {e}", p.display()));
    let mut roots = rustls::RootCertStore::empty();
    for ca in CertificateDer::pem_file_iter(&files.ca).map_err(|e| err("CA", &files.ca, &e))? {
        roots
            .add(ca.map_err(|e| err("CA", &files.ca, &e))?)
            .map_err(|e| err("CA", &files.ca, &e))?;
    }
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert)
        .map_err(|e| err("certificate", &files.cert, &e))?
        .collect::<Result<_, _>>()
        .map_err(|e| err("certificate", &files.cert, &e))?;
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| err("key", &files.key, &e))?;
    rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_client_auth_cert(certs, key)
        .map_err(|e| Error::Tls(e.to_string()))
}

/// A request body streamed from a reader (a file or stdin), sent chunked.
pub struct ReaderBody<R> {
    reader: R,
    buf: Box<[u8]>,
    done: bool,
}

impl<R: AsyncRead + Unpin + Send + Sync + 'static> ReaderBody<R> {
    pub fn boxed(reader: R) -> ReqBody {
        ReaderBody {
            reader,
            buf: vec![0u8; 256 * 1024].into_boxed_slice(),
            done: false,
        }
        .boxed()
    }
}

impl<R: AsyncRead + Unpin> HttpBody for ReaderBody<R> {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        let mut rb = ReadBuf::new(&mut this.buf);
        match Pin::new(&mut this.reader).poll_read(cx, &mut rb) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(e)) => Poll::Ready(Some(Err(e))),
            Poll::Ready(Ok(())) if rb.filled().is_empty() => {
                this.done = true;
                Poll::Ready(None)
            }
            Poll::Ready(Ok(())) => Poll::Ready(Some(Ok(Frame::data(Bytes::copy_from_slice(rb.filled()))))),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done
    }
}

//! One repository's conversation with its registry: the endpoint found by
//! a ping (HTTPS, or plain HTTP where allowed), authentication answered as
//! challenged (tokens cached per scope for the session), manifests and
//! blobs fetched with bounded retries (connect errors, 429, 5xx; never
//! other 4xx) and blobs resumed with `Range` when a download breaks.
//!
//! The push side adds its requests through [`Session::send`] and
//! [`Session::add_scope`].

use super::auth::{self, Challenge, TokenError};
use super::manifest::{self, BlobRef, Manifest, Platform};
use super::name::RemoteName;
use super::transport::{PROGRESS_TIMEOUT, ReqBody, Transport, TransportError};
use super::{Credentials, Error, RegistryConfig, Result};
use crate::layers::Digest;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderName, HeaderValue};
use hyper::{Method, Response, StatusCode};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// Waits between attempts: 3 attempts in all.
pub const RETRY_DELAYS: [Duration; 2] = [Duration::from_millis(500), Duration::from_secs(1)];
/// The longest `Retry-After` honoured.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(10);
/// Redirects followed for one request.
const MAX_REDIRECTS: usize = 5;
/// How much of an error reply is read for its message.
const MAX_ERROR_BODY: usize = 64 << 10;
/// Times a broken blob download is resumed.
const MAX_RESUMES: usize = 3;

/// A request to the registry: `path` is `/v2/…` (or an absolute URL, as
/// an upload's `Location` is); the body is kept so a retry can resend it.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: Method,
    pub path: String,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub body: Bytes,
}

impl Request {
    pub fn new(method: Method, path: impl Into<String>) -> Request {
        Request {
            method,
            path: path.into(),
            headers: Vec::new(),
            body: Bytes::new(),
        }
    }

    pub fn header(mut self, name: HeaderName, value: &str) -> Request {
        if let Ok(v) = HeaderValue::from_str(value) {
            self.headers.push((name, v));
        }
        self
    }
}

/// How the registry wants to be spoken to, learnt from its challenges.
#[derive(Clone, Debug)]
enum AuthMode {
    Anonymous,
    Basic,
    Bearer { realm: String, service: Option<String> },
}

struct State {
    /// `https://HOST[:PORT]` or `http://…`, once a ping has chosen.
    base: Option<String>,
    auth: AuthMode,
    /// Bearer tokens by the scopes they were issued for.
    tokens: HashMap<String, String>,
}

pub struct Session {
    transport: Transport,
    name: RemoteName,
    creds: Credentials,
    scopes: std::sync::Mutex<Vec<String>>,
    state: tokio::sync::Mutex<State>,
}

/// A reply whose status the caller reads, and the URL it came from.
pub struct Reply {
    pub response: Response<Incoming>,
    pub url: String,
}

impl Session {
    /// A session for `name`'s repository asking for `actions` (`pull` or
    /// `pull,push`). Nothing is sent yet.
    pub fn new(config: RegistryConfig, name: RemoteName, creds: Credentials, actions: &str) -> Arc<Session> {
        // A login asks for no repository: no scope.
        let scopes = if name.path().is_empty() || actions.is_empty() {
            Vec::new()
        } else {
            vec![format!("repository:{}:{actions}", name.path())]
        };
        Arc::new(Session {
            transport: Transport::new(config),
            name,
            creds,
            scopes: std::sync::Mutex::new(scopes),
            state: tokio::sync::Mutex::new(State {
                base: None,
                auth: AuthMode::Anonymous,
                tokens: HashMap::new(),
            }),
        })
    }

    pub fn name(&self) -> &RemoteName {
        &self.name
    }

    /// Asks for another scope too (a cross-repository mount's source).
    pub fn add_scope(&self, scope: String) {
        let mut scopes = self.scopes.lock().unwrap_or_else(|p| p.into_inner());
        if !scopes.contains(&scope) {
            scopes.push(scope);
        }
    }

    fn scopes(&self) -> Vec<String> {
        self.scopes.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// `GET /v2/`: chooses HTTPS or (where allowed) plain HTTP, and learns
    /// the registry's challenge. Done once; later calls return at once.
    pub async fn ping(&self) -> Result<()> {
        let mut state = self.state.lock().await;
        if state.base.is_some() {
            return Ok(());
        }
        let endpoint = self.name.endpoint();
        let mut last = None;
        // Where plain HTTP is allowed it is tried first: a TLS registry
        // answers it at once (Go's servers with a 400), while a plain one
        // may never answer a TLS handshake. Nothing secret is sent yet.
        let schemes: &[&str] = if self.transport.allows_plain(endpoint) {
            &["http", "https"]
        } else {
            &["https"]
        };
        for scheme in schemes {
            let url = format!("{scheme}://{endpoint}/v2/");
            match self.send_with_retries(&Request::new(Method::GET, &url), None).await {
                Ok(resp) if *scheme == "http" && resp.status() == StatusCode::BAD_REQUEST => {
                    last = Some(Error::Protocol(format!("{url}: 400 Bad Request (a TLS registry?)")));
                }
                Ok(resp) => {
                    state.base = Some(format!("{scheme}://{endpoint}"));
                    if resp.status() == StatusCode::UNAUTHORIZED {
                        state.auth = mode_of(&resp).unwrap_or(AuthMode::Anonymous);
                    }
                    return Ok(());
                }
                Err(e) => {
                    tracing::debug!("ping {url}: {e}");
                    last = Some(e);
                }
            }
        }
        Err(last.expect("one scheme at least"))
    }

    /// Verifies the credentials: the ping's challenge answered, then
    /// `/v2/` must answer 200.
    pub async fn check_login(&self) -> Result<()> {
        self.ping().await?;
        let reply = self.send(&Request::new(Method::GET, "/v2/")).await?;
        let status = reply.response.status();
        if status.is_success() {
            return Ok(());
        }
        if status == StatusCode::UNAUTHORIZED {
            return Err(Error::Unauthorized(format!(
                "login attempt to {} failed with status: 401 Unauthorized",
                reply.url
            )));
        }
        Err(status_error(reply, &self.name).await)
    }

    /// Sends `req` with the session's authentication, retrying transient
    /// failures; on a 401, answers the challenge and tries once more. The
    /// reply may be any status: the caller decides (see [`status_error`]).
    pub async fn send(&self, req: &Request) -> Result<Reply> {
        self.ping().await?;
        let url = self.url(&req.path).await;
        let mut req = req.clone();
        req.path = url.clone();
        let mut auth = self.authorization(false).await?;
        let mut resp = self.send_with_retries(&req, auth.as_deref()).await?;
        if resp.status() == StatusCode::UNAUTHORIZED {
            if let Some(mode) = mode_of(&resp) {
                self.state.lock().await.auth = mode;
            }
            let method = go_method(&req.method);
            auth = self.authorization(true).await.map_err(|e| match e {
                Error::NoCredentials { .. } => Error::NoCredentials {
                    method,
                    url: url.clone(),
                },
                e => e,
            })?;
            if auth.is_none() && matches!(self.state.lock().await.auth, AuthMode::Basic) {
                return Err(Error::NoCredentials {
                    method: go_method(&req.method),
                    url,
                });
            }
            resp = self.send_with_retries(&req, auth.as_deref()).await?;
        }
        Ok(Reply { response: resp, url })
    }

    /// An absolute URL for `path` on the endpoint the ping chose.
    async fn url(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            return path.to_string();
        }
        let base = self.state.lock().await.base.clone().unwrap_or_default();
        format!("{base}{path}")
    }

    /// The `Authorization` value for the current mode; `fresh` asks the
    /// token issuer again (after a 401) instead of the cache.
    async fn authorization(&self, fresh: bool) -> Result<Option<String>> {
        let mut state = self.state.lock().await;
        match state.auth.clone() {
            AuthMode::Anonymous => Ok(None),
            AuthMode::Basic => Ok(auth::basic_header(&self.creds)),
            AuthMode::Bearer { realm, service } => {
                if !self.creds.registry_token.is_empty() {
                    return Ok(Some(format!("Bearer {}", self.creds.registry_token)));
                }
                let scopes = self.scopes();
                let key = scopes.join(" ");
                if !fresh && let Some(t) = state.tokens.get(&key) {
                    return Ok(Some(format!("Bearer {t}")));
                }
                let token = auth::fetch_token(&self.transport, &realm, service.as_deref(), &scopes, &self.creds)
                    .await
                    .map_err(|e| match e {
                        TokenError::Refused(m) => Error::Unauthorized(m),
                        TokenError::Failed(m) => Error::Protocol(m),
                    })?;
                state.tokens.insert(key, token.clone());
                Ok(Some(format!("Bearer {token}")))
            }
        }
    }

    /// One request, retried on connect errors, 429 and 5xx with backoff;
    /// the last reply (or error) is returned.
    async fn send_with_retries(&self, req: &Request, auth: Option<&str>) -> Result<Response<Incoming>> {
        let mut attempt = 0;
        loop {
            let result = self.transport.send(build(req, auth)?).await;
            let wait = match &result {
                Err(e) if e.is_transient() => RETRY_DELAYS.get(attempt).copied(),
                Ok(r) if r.status() == StatusCode::TOO_MANY_REQUESTS => {
                    RETRY_DELAYS.get(attempt).map(|d| retry_after(r).unwrap_or(*d))
                }
                Ok(r) if r.status().is_server_error() => RETRY_DELAYS.get(attempt).copied(),
                _ => None,
            };
            match (wait, result) {
                (Some(d), r) => {
                    let what = r
                        .as_ref()
                        .map(|r| r.status().to_string())
                        .unwrap_or_else(|e| e.to_string());
                    tracing::info!("{} {}: {what}; retrying in {d:?}", req.method, req.path);
                    tokio::time::sleep(d).await;
                    attempt += 1;
                }
                (None, Ok(r)) => return Ok(r),
                (None, Err(e)) => {
                    return Err(match e {
                        TransportError::Tls(m) => {
                            Error::Tls(format!("{} \"{}\": tls: {m}", go_method(&req.method), req.path))
                        }
                        e => Error::Connect {
                            method: go_method(&req.method),
                            url: req.path.clone(),
                            message: e.to_string(),
                        },
                    });
                }
            }
        }
    }

    /// Sends `req`, following redirects (a blob's storage may be
    /// elsewhere); credentials go to the registry's own host only.
    async fn send_following(&self, req: &Request) -> Result<Reply> {
        let mut reply = self.send(req).await?;
        for _ in 0..MAX_REDIRECTS {
            let status = reply.response.status();
            if !status.is_redirection() {
                return Ok(reply);
            }
            let Some(location) = reply.response.headers().get(hyper::header::LOCATION) else {
                return Ok(reply);
            };
            let location = location
                .to_str()
                .map_err(|_| Error::Protocol("a bad redirect".into()))?;
            let next = join_url(&reply.url, location);
            let mut r = req.clone();
            r.path = next.clone();
            // Storage elsewhere (S3, a CDN) must not get the credentials.
            let same_host = authority_of(&next) == Some(self.name.endpoint());
            let auth = if same_host {
                self.authorization(false).await?
            } else {
                None
            };
            let resp = self.send_with_retries(&r, auth.as_deref()).await?;
            reply = Reply {
                response: resp,
                url: next,
            };
        }
        Err(Error::Protocol(format!("too many redirects fetching {}", req.path)))
    }

    /// The manifest `reference` (a tag or digest) names: its bytes,
    /// verified against a digest reference and `Docker-Content-Digest`, and
    /// their digest.
    pub async fn manifest(&self, reference: &str) -> Result<(Manifest, Bytes, Digest)> {
        let path = format!("/v2/{}/manifests/{reference}", self.name.path());
        let req = Request::new(Method::GET, path).header(hyper::header::ACCEPT, manifest::ACCEPT);
        let reply = self.send(&req).await?;
        if !reply.response.status().is_success() {
            return Err(status_error(reply, &self.name).await);
        }
        let headers = reply.response.headers().clone();
        let too_big = |_| Error::ManifestTooBig;
        if let Some(len) = content_length(&reply.response)
            && len > manifest::MAX_MANIFEST_BYTES as u64
        {
            return Err(Error::ManifestTooBig);
        }
        let bytes = read_limited(reply.response.into_body(), manifest::MAX_MANIFEST_BYTES)
            .await
            .map_err(too_big)?;
        let asked = reference.parse::<Digest>().ok();
        let header = headers.get("docker-content-digest").and_then(|v| v.to_str().ok());
        let digest = manifest::verify(&bytes, asked, header)?;
        let content_type = headers.get(hyper::header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
        let parsed = manifest::parse(&bytes, content_type, &self.name.display())?;
        Ok((parsed, bytes, digest))
    }

    /// The name's manifest, resolved through indexes (at most
    /// [`manifest::MAX_INDEX_DEPTH`] deep) to the entry for `platform`.
    /// Returns the digest of the top manifest (the RepoDigest), and the
    /// image manifest's config and layers.
    pub async fn resolve(&self, platform: &Platform) -> Result<Resolved> {
        let (mut current, _, top) = self.manifest(&self.name.manifest_reference()).await?;
        let mut depth = 0;
        loop {
            match current {
                Manifest::Image { config, layers } => {
                    return Ok(Resolved {
                        digest: top,
                        config,
                        layers,
                    });
                }
                Manifest::Index(_) if depth == manifest::MAX_INDEX_DEPTH => return Err(Error::IndexTooDeep),
                Manifest::Index(entries) => {
                    depth += 1;
                    let entry = manifest::select(&entries, platform)?;
                    current = self.manifest(&entry.blob.digest.to_string()).await?.0;
                }
            }
        }
    }

    /// A small blob (a config) read whole, its size and digest checked.
    pub async fn blob_bytes(self: &Arc<Self>, blob: &BlobRef, max: u64) -> Result<Bytes> {
        if blob.size > max {
            return Err(Error::Blob {
                digest: blob.digest,
                message: format!("{} bytes is more than the {max} allowed", blob.size),
            });
        }
        let mut b = self.blob(blob.digest, Some(blob.size)).await?;
        let mut all = Vec::with_capacity(blob.size as usize);
        while let Some(chunk) = b.next_chunk().await? {
            all.extend_from_slice(&chunk);
        }
        if all.len() as u64 != blob.size || Digest::of(&all) != blob.digest {
            return Err(Error::Blob {
                digest: blob.digest,
                message: "digest or size does not match its descriptor".into(),
            });
        }
        Ok(all.into())
    }

    /// Starts a blob download (`size`: the descriptor's, when known).
    pub async fn blob(self: &Arc<Self>, digest: Digest, size: Option<u64>) -> Result<Blob> {
        let body = self.blob_body(digest, 0).await?.0;
        Ok(Blob {
            session: Arc::clone(self),
            digest,
            size,
            received: 0,
            body: Some(body),
            skip: 0,
            resumes: 0,
        })
    }

    /// `GET` of a blob from `offset` (a `Range` request past 0); the body
    /// and how many bytes of it precede `offset` (a server ignoring the
    /// range sends them again).
    async fn blob_body(&self, digest: Digest, offset: u64) -> Result<(Incoming, u64)> {
        let mut req = Request::new(Method::GET, format!("/v2/{}/blobs/{digest}", self.name.path()));
        if offset > 0 {
            req = req.header(hyper::header::RANGE, &format!("bytes={offset}-"));
        }
        let reply = self.send_following(&req).await?;
        match reply.response.status() {
            StatusCode::PARTIAL_CONTENT if offset > 0 => Ok((reply.response.into_body(), 0)),
            StatusCode::OK => Ok((reply.response.into_body(), offset)),
            _ => Err(status_error(reply, &self.name).await),
        }
    }
}

/// An image manifest reached from a name.
#[derive(Clone, Debug)]
pub struct Resolved {
    /// The digest of the manifest the name named (an index's, for a list).
    pub digest: Digest,
    pub config: BlobRef,
    pub layers: Vec<manifest::Layer>,
}

/// A blob being downloaded, as pieces; resumed where it broke.
pub struct Blob {
    session: Arc<Session>,
    digest: Digest,
    size: Option<u64>,
    received: u64,
    body: Option<Incoming>,
    /// Bytes to drop from the body (a restart the server did not resume).
    skip: u64,
    resumes: usize,
}

impl Blob {
    pub fn digest(&self) -> Digest {
        self.digest
    }

    /// The next piece, `None` at the end. A stall (no byte in
    /// [`PROGRESS_TIMEOUT`]) or a broken connection (a body cut before its
    /// length) is resumed from where it stopped, a few times.
    pub async fn next_chunk(&mut self) -> Result<Option<Bytes>> {
        loop {
            let Some(body) = self.body.as_mut() else {
                return Ok(None);
            };
            let failure = match tokio::time::timeout(PROGRESS_TIMEOUT, body.frame()).await {
                Err(_) => "no data for 60s".to_string(),
                Ok(Some(Err(e))) => e.to_string(),
                Ok(Some(Ok(frame))) => {
                    let Ok(mut data) = frame.into_data() else { continue };
                    if self.skip > 0 {
                        let n = self.skip.min(data.len() as u64);
                        self.skip -= n;
                        data = data.slice(n as usize..);
                    }
                    if data.is_empty() {
                        continue;
                    }
                    self.received += data.len() as u64;
                    if let Some(size) = self.size
                        && self.received > size
                    {
                        // Bounded by its descriptor: nothing more is read.
                        tracing::debug!("blob {} is longer than its descriptor's {size} bytes", self.digest);
                        return Err(Error::BlobVerification(self.digest));
                    }
                    return Ok(Some(data));
                }
                // A reply that ended as its length said is the whole blob,
                // short or not: the digest check judges it.
                Ok(None) => {
                    self.body = None;
                    return Ok(None);
                }
            };
            self.resume(failure).await?;
        }
    }

    async fn resume(&mut self, failure: String) -> Result<()> {
        self.body = None;
        if self.resumes >= MAX_RESUMES {
            return Err(Error::Blob {
                digest: self.digest,
                message: failure,
            });
        }
        self.resumes += 1;
        tracing::info!("blob {}: {failure}; resuming at byte {}", self.digest, self.received);
        let (body, skip) = self.session.blob_body(self.digest, self.received).await?;
        self.body = Some(body);
        self.skip = skip;
        Ok(())
    }
}

fn build(req: &Request, auth: Option<&str>) -> Result<hyper::Request<ReqBody>> {
    let mut b = hyper::Request::builder().method(req.method.clone()).uri(&req.path);
    for (k, v) in &req.headers {
        b = b.header(k, v);
    }
    if let Some(a) = auth {
        b = b.header(hyper::header::AUTHORIZATION, a);
    }
    let body = Full::new(req.body.clone()).map_err(|never| match never {}).boxed();
    b.body(body)
        .map_err(|e| Error::Protocol(format!("bad request {}: {e}", req.path)))
}

/// The mode a 401's challenges ask for (Bearer preferred).
fn mode_of(resp: &Response<Incoming>) -> Option<AuthMode> {
    let values = resp
        .headers()
        .get_all(hyper::header::WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok());
    let challenges = auth::parse_challenges(values);
    let bearer = challenges.iter().find_map(|c| match c {
        Challenge::Bearer { realm, service } => Some(AuthMode::Bearer {
            realm: realm.clone(),
            service: service.clone(),
        }),
        Challenge::Basic => None,
    });
    bearer.or_else(|| challenges.contains(&Challenge::Basic).then_some(AuthMode::Basic))
}

/// `Retry-After` in seconds, capped.
fn retry_after(resp: &Response<Incoming>) -> Option<Duration> {
    let secs: u64 = resp
        .headers()
        .get(hyper::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(secs).min(MAX_RETRY_AFTER))
}

/// A reply's `Content-Length`, when it has a valid one.
pub(super) fn content_length<B>(resp: &Response<B>) -> Option<u64> {
    resp.headers()
        .get(hyper::header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// Reads a body of at most `max` bytes.
async fn read_limited(body: Incoming, max: usize) -> std::result::Result<Bytes, String> {
    let collected = tokio::time::timeout(PROGRESS_TIMEOUT, Limited::new(body, max).collect())
        .await
        .map_err(|_| "timeout".to_string())?
        .map_err(|e| e.to_string())?;
    Ok(collected.to_bytes())
}

/// Go's way of naming a method in a URL error (`Get`, `Head`, `Put`).
fn go_method(m: &Method) -> String {
    let s = m.as_str();
    let mut out = s[..1].to_string();
    out.push_str(&s[1..].to_ascii_lowercase());
    out
}

/// `HOST[:PORT]` of an absolute URL.
fn authority_of(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    Some(rest.split(['/', '?']).next().unwrap_or(rest))
}

/// `location` resolved against `base` (absolute, or a path on its host).
fn join_url(base: &str, location: &str) -> String {
    if location.starts_with("http://") || location.starts_with("https://") {
        return location.to_string();
    }
    let host_end = base.find("://").map_or(0, |i| i + 3);
    let root = match base[host_end..].find('/') {
        Some(i) => &base[..host_end + i],
        None => base,
    };
    format!("{root}{location}")
}

/// The message of a registry's error body (`{"errors":[{code,message}]}`),
/// as Docker's errcode words it: `manifest unknown: manifest unknown`.
pub fn registry_message(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Body {
        errors: Vec<Item>,
    }
    #[derive(serde::Deserialize)]
    struct Item {
        #[serde(default)]
        code: String,
        #[serde(default)]
        message: String,
    }
    let body: Body = serde_json::from_slice(body).ok()?;
    let parts: Vec<String> = body
        .errors
        .iter()
        .map(|e| {
            let code = e.code.replace('_', " ").to_ascii_lowercase();
            match (code.is_empty(), e.message.is_empty()) {
                (false, false) => format!("{code}: {}", e.message),
                (false, true) => code,
                _ => e.message.clone(),
            }
        })
        .collect();
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// The error for a reply that is not a success, in Docker's words.
pub async fn status_error(reply: Reply, name: &RemoteName) -> Error {
    let status = reply.response.status();
    let body = read_limited(reply.response.into_body(), MAX_ERROR_BODY)
        .await
        .unwrap_or_default();
    let message = registry_message(&body);
    match status {
        StatusCode::NOT_FOUND if reply.url.contains("/manifests/") => Error::ManifestUnknown {
            name: name.display(),
            detail: message.unwrap_or_else(|| "manifest unknown".into()),
        },
        StatusCode::NOT_FOUND => Error::NotFound(message.unwrap_or_else(|| format!("{} not found", reply.url))),
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
            Error::Unauthorized(message.unwrap_or_else(|| "unauthorized: authentication required".into()))
        }
        // As distribution's client: a 5xx's body is not the registry's word.
        s if s.is_server_error() || message.is_none() => Error::Status(
            format!(
                "received unexpected HTTP status: {} {}",
                s.as_u16(),
                s.canonical_reason().unwrap_or("")
            )
            .trim_end()
            .to_string(),
        ),
        _ => Error::Status(message.unwrap_or_default()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_errors_read_as_docker_words_them() {
        let body = br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"x"}}]}"#;
        assert_eq!(registry_message(body).unwrap(), "manifest unknown: manifest unknown");
        let body = br#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#;
        assert_eq!(registry_message(body).unwrap(), "unauthorized: authentication required");
        assert_eq!(registry_message(b"<html>"), None);
        assert_eq!(go_method(&Method::HEAD), "Head");
        assert_eq!(join_url("http://a:1/v2/x/blobs/y", "/store/z"), "http://a:1/store/z");
        assert_eq!(join_url("http://a:1/v2/", "https://b/c"), "https://b/c");
        assert_eq!(authority_of("http://a:1/v2/x?y"), Some("a:1"));
        assert_eq!(authority_of("https://b?q"), Some("b"));
        assert_eq!(authority_of("/relative"), None);
    }
}

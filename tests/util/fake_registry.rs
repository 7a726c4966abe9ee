//! A scripted registry for what a real one never does: an HTTP/1.1 server
//! on 127.0.0.1 in a thread that answers each `METHOD /path` from a script
//! of [`Answer`]s (taken in turn, the last one repeating): wrong digests or
//! sizes, a body cut mid-way, 401/404/429/5xx some times before success,
//! a body held open (stalled) until the test releases it, oversized
//! manifests. It counts every request it gets.
//!
//! Every reply says `Connection: close`: one request per connection, so a
//! stalled body never holds up another request.

use super::test_image::{RegistryImage, digest_of};
use super::token_issuer::read_head;
use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// One scripted reply.
#[derive(Clone, Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The `Content-Length` sent, when it is not the body's (a lie).
    pub declared_length: Option<u64>,
    /// Only this many body bytes are sent, then the connection ends…
    pub cut_at: Option<usize>,
    /// …or, stalled, stays open until [`FakeRegistry::release`] or drop.
    pub stall: bool,
    /// How many requests this answer serves before the next in the script.
    pub times: usize,
}

impl Answer {
    /// 200 with `body` as `content_type`, its `Docker-Content-Digest` the
    /// body's sha256 (what an honest registry says).
    pub fn ok(content_type: &str, body: Vec<u8>) -> Answer {
        let digest = digest_of(&body);
        Answer {
            status: 200,
            headers: vec![
                ("Content-Type".into(), content_type.into()),
                ("Docker-Content-Digest".into(), digest),
            ],
            body,
            declared_length: None,
            cut_at: None,
            stall: false,
            times: 1,
        }
    }

    /// `status` with the registry error body distribution sends for it
    /// (`{"errors":[{"code","message"}]}`); 401 challenges for Basic auth.
    pub fn status(status: u16) -> Answer {
        let (code, message) = match status {
            401 => ("UNAUTHORIZED", "authentication required"),
            403 => ("DENIED", "requested access to the resource is denied"),
            404 => ("NOT_FOUND", "not found"),
            429 => ("TOOMANYREQUESTS", "too many requests"),
            503 => ("UNAVAILABLE", "service unavailable"),
            _ => ("UNKNOWN", "unknown error"),
        };
        let mut a = Answer::error(status, code, message);
        if status == 401 {
            a = a.header("WWW-Authenticate", r#"Basic realm="fake-registry""#);
        }
        a
    }

    /// `status` with one registry error `code` and `message`.
    pub fn error(status: u16, code: &str, message: &str) -> Answer {
        let body = serde_json::json!({"errors": [{"code": code, "message": message, "detail": null}]});
        let mut a = Answer::ok("application/json", body.to_string().into_bytes());
        a.status = status;
        a.headers.retain(|(k, _)| k != "Docker-Content-Digest");
        a
    }

    /// Adds (or replaces) a header.
    pub fn header(mut self, name: &str, value: &str) -> Answer {
        self.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sends `Content-Length: n` whatever the body's length.
    pub fn declared_length(mut self, n: u64) -> Answer {
        self.declared_length = Some(n);
        self
    }

    /// Sends the full length but only `at` bytes of the body, then closes.
    pub fn truncated(mut self, at: usize) -> Answer {
        self.cut_at = Some(at);
        self
    }

    /// Sends `at` bytes of the body, then holds the connection open until
    /// the test releases it (or drops the fake).
    pub fn stalled(mut self, at: usize) -> Answer {
        self.cut_at = Some(at);
        self.stall = true;
        self
    }

    /// Serves `n` requests before the script moves on.
    pub fn times(mut self, n: usize) -> Answer {
        self.times = n;
        self
    }
}

struct Route {
    method: String,
    path: String,
    script: VecDeque<Answer>,
}

#[derive(Default)]
struct State {
    routes: Mutex<Vec<Route>>,
    requests: Mutex<Vec<String>>,
    released: Mutex<bool>,
    wake: Condvar,
}

/// The scripted registry, stopped on drop (stalled bodies released).
pub struct FakeRegistry {
    port: u16,
    state: Arc<State>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeRegistry {
    /// Listens on a free loopback port; `GET /v2/` answers 200, any path
    /// without a script 404.
    pub fn start() -> FakeRegistry {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the fake registry");
        let port = listener.local_addr().expect("addr").port();
        let state = Arc::new(State::default());
        let stop = Arc::new(AtomicBool::new(false));
        let (state2, stop2) = (state.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    return;
                }
                let state = state2.clone();
                if let Ok(conn) = conn {
                    std::thread::spawn(move || serve(conn, &state));
                }
            }
        });
        let fake = FakeRegistry {
            port,
            state,
            stop,
            thread: Some(thread),
        };
        fake.on("GET", "/v2/", vec![Answer::ok("application/json", b"{}".to_vec())]);
        fake
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr())
    }

    /// Scripts `METHOD PATH` (the path without its query; a GET script
    /// answers HEAD too, without the body), replacing any script it had.
    pub fn on(&self, method: &str, path: &str, script: Vec<Answer>) {
        assert!(!script.is_empty(), "a script needs an answer");
        let mut routes = self.state.routes.lock().expect("lock");
        routes.retain(|r| !(r.method == method && r.path == path));
        routes.push(Route {
            method: method.into(),
            path: path.into(),
            script: script.into(),
        });
    }

    /// Serves REPO's manifest REFERENCE (a tag or digest) with `script`.
    pub fn manifest(&self, repo: &str, reference: &str, script: Vec<Answer>) {
        self.on("GET", &format!("/v2/{repo}/manifests/{reference}"), script);
    }

    /// Serves REPO's blob DIGEST with `script`.
    pub fn blob(&self, repo: &str, digest: &str, script: Vec<Answer>) {
        self.on("GET", &format!("/v2/{repo}/blobs/{digest}"), script);
    }

    /// Serves `image` honestly as REPO:TAG (and by digest): a test then
    /// replaces the part it wants hostile.
    pub fn serve_image(&self, repo: &str, tag: &str, image: &RegistryImage) {
        let m = &image.manifest;
        for reference in [tag, m.digest.as_str()] {
            self.manifest(repo, reference, vec![Answer::ok(&m.media_type, m.bytes.clone())]);
        }
        for blob in std::iter::once(&image.config).chain(&image.layers) {
            self.blob(
                repo,
                &blob.digest,
                vec![Answer::ok("application/octet-stream", blob.bytes.clone())],
            );
        }
    }

    /// Every request so far, in order, as `METHOD /path?query`.
    pub fn requests(&self) -> Vec<String> {
        self.state.requests.lock().expect("lock").clone()
    }

    /// How many requests were `METHOD PATH` (the path without its query).
    pub fn count(&self, method: &str, path: &str) -> usize {
        let want = format!("{method} {path}");
        let requests = self.requests();
        requests
            .iter()
            .filter(|r| r.split('?').next() == Some(want.as_str()))
            .count()
    }

    /// Ends every stalled body (their connections close, cut short).
    pub fn release(&self) {
        *self.state.released.lock().expect("lock") = true;
        self.state.wake.notify_all();
    }
}

impl Drop for FakeRegistry {
    fn drop(&mut self) {
        self.release();
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// One request on `conn`: logged, its body read (and dropped), answered
/// from its script.
fn serve(mut conn: TcpStream, state: &State) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(30)));
    // Not HTTP (a client trying TLS first, as for any registry): closed at
    // once, so that it falls back to plain HTTP without waiting.
    let mut first = [0u8; 1];
    if conn
        .peek(&mut first)
        .map_or(true, |n| n == 0 || !first[0].is_ascii_uppercase())
    {
        return;
    }
    let Some(head) = read_head(&mut conn) else { return };
    let mut words = head.split_whitespace();
    let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    state.requests.lock().expect("lock").push(format!("{method} {target}"));
    if !drain_body(&mut conn, &head) {
        return;
    }
    let path = target.split('?').next().unwrap_or("");
    let answer = next_answer(state, method, path);
    let mut reply = format!("HTTP/1.1 {} {}\r\n", answer.status, reason(answer.status));
    for (k, v) in &answer.headers {
        reply += &format!("{k}: {v}\r\n");
    }
    let length = answer.declared_length.unwrap_or(answer.body.len() as u64);
    reply += &format!("Content-Length: {length}\r\nConnection: close\r\n\r\n");
    if conn.write_all(reply.as_bytes()).is_err() || method == "HEAD" {
        return;
    }
    let sent = answer.cut_at.unwrap_or(answer.body.len()).min(answer.body.len());
    if conn.write_all(&answer.body[..sent]).is_err() || conn.flush().is_err() {
        return;
    }
    if answer.stall {
        let released = state.released.lock().expect("lock");
        let _ = state
            .wake
            .wait_timeout_while(released, Duration::from_secs(120), |released| !*released);
    }
}

/// Reads a request body (`Content-Length` or chunked) to its end; false
/// when the client went away.
fn drain_body(conn: &mut TcpStream, head: &str) -> bool {
    let header = |name: &str| {
        head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    };
    if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        loop {
            let Some(size_line) = read_line(conn) else { return false };
            let size = usize::from_str_radix(size_line.split(';').next().unwrap_or("").trim(), 16).unwrap_or(0);
            if size == 0 {
                return read_line(conn).is_some();
            }
            let mut chunk = vec![0u8; size + 2];
            if conn.read_exact(&mut chunk).is_err() {
                return false;
            }
        }
    }
    let length: u64 = header("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
    std::io::copy(&mut conn.take(length), &mut std::io::sink()).is_ok_and(|n| n == length)
}

fn read_line(conn: &mut TcpStream) -> Option<String> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while !line.ends_with(b"\r\n") {
        if line.len() > 1024 || conn.read(&mut byte).ok()? == 0 {
            return None;
        }
        line.push(byte[0]);
    }
    Some(String::from_utf8_lossy(&line).trim_end().to_string())
}

/// The script's current answer for `METHOD PATH` (HEAD takes GET's), moved
/// on when used up; 404 without a script.
fn next_answer(state: &State, method: &str, path: &str) -> Answer {
    let mut routes = state.routes.lock().expect("lock");
    let wanted = if method == "HEAD" { "GET" } else { method };
    let Some(route) = routes.iter_mut().find(|r| r.method == wanted && r.path == path) else {
        return Answer::status(404);
    };
    let front = route.script.front_mut().expect("scripts are not empty");
    let answer = front.clone();
    front.times = front.times.saturating_sub(1);
    if front.times == 0 && route.script.len() > 1 {
        route.script.pop_front();
    }
    answer
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        206 => "Partial Content",
        307 => "Temporary Redirect",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

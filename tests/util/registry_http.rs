//! Raw HTTP to registries for the tests, by `curl` (which speaks TLS with
//! a given CA): requests, replies, Basic and Bearer headers.

use std::path::PathBuf;
use std::process::{Command, Stdio};

/// Where requests go: the registry's base URL and the CA it is trusted by.
pub struct Endpoint {
    pub base: String,
    pub ca: Option<PathBuf>,
}

/// One HTTP request for [`Registry::request`]: a path under the registry
/// (or an absolute URL, as upload `Location`s are), headers, a body.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
}

impl Request {
    pub fn new(method: &str, path: &str) -> Request {
        Request {
            method: method.into(),
            path: path.into(),
            headers: Vec::new(),
            body: None,
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Request {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn body(mut self, body: Vec<u8>) -> Request {
        self.body = Some(body);
        self
    }
}

/// A reply: status (0 when nothing answered), headers, body.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    /// The first header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON (panics, showing it, when it is not).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {self:?}"))
    }
}

impl Endpoint {
    /// `req` by curl, with `authorization` as its Authorization header.
    pub fn curl(&self, req: &Request, authorization: Option<&str>) -> Reply {
        let tmp = tempfile::tempdir().expect("tempdir");
        let (head, body, input) = (
            tmp.path().join("head"),
            tmp.path().join("body"),
            tmp.path().join("input"),
        );
        let url = if req.path.starts_with("http") {
            req.path.clone()
        } else {
            format!("{}{}", self.base, req.path)
        };
        let mut cmd = Command::new("curl");
        cmd.args(["-sS", "--max-time", "60", "-w", "%{http_code}", "-H", "Expect:"]);
        cmd.arg("-D").arg(&head).arg("-o").arg(&body);
        if req.method == "HEAD" {
            cmd.arg("--head");
        } else {
            cmd.args(["-X", &req.method]);
        }
        if let Some(ca) = &self.ca {
            cmd.arg("--cacert").arg(ca);
        }
        for (k, v) in &req.headers {
            cmd.arg("-H").arg(format!("{k}: {v}"));
        }
        if let Some(a) = authorization {
            cmd.arg("-H").arg(format!("Authorization: {a}"));
        }
        if let Some(data) = &req.body {
            std::fs::write(&input, data).expect("write the request body");
            cmd.arg("--data-binary").arg(format!("@{}", input.display()));
        }
        let out = cmd.arg(&url).stdin(Stdio::null()).output().expect("run curl");
        let status = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap_or(0);
        let head = std::fs::read_to_string(&head).unwrap_or_default();
        // After redirects or 100 Continue, the last header block is the reply's.
        let last = head.trim_end().rsplit("\r\n\r\n").next().unwrap_or("");
        let headers = last
            .lines()
            .skip(1)
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect();
        Reply {
            status,
            headers,
            body: std::fs::read(&body).unwrap_or_default(),
        }
    }
}

/// The parameters of a `WWW-Authenticate: Bearer k="v",…` challenge.
pub fn bearer_challenge(header: &str) -> Option<Vec<(String, String)>> {
    let mut rest = header.strip_prefix("Bearer ")?.trim();
    let mut params = Vec::new();
    while let Some((key, tail)) = rest.split_once('=') {
        let tail = tail.strip_prefix('"')?;
        let (value, after) = tail.split_once('"')?;
        params.push((key.trim().to_string(), value.to_string()));
        rest = after.trim_start_matches(',').trim();
    }
    Some(params)
}

pub fn basic_header(user: &str, password: &str) -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

/// Percent-encodes what a query value may not hold as is.
pub fn query_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

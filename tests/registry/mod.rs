//! Images to and from registries: the fixtures, pull, push, login.

mod auth;
mod fixtures;
mod hostile;
mod pull;
mod push;
mod upload;

use crate::util::{Daemon, http_request_with};

/// A pull's reply: its status and its lines (one JSON object each; an
/// error reply's `{"message": …}` as one line).
#[derive(Debug)]
pub struct Pull {
    pub status: u16,
    pub lines: Vec<serde_json::Value>,
}

impl Pull {
    /// The error: the reply's message, or the stream's last `error`.
    pub fn message(&self) -> String {
        let last = self.lines.last().cloned().unwrap_or_default();
        let m = if self.status == 200 {
            &last["error"]
        } else {
            &last["message"]
        };
        m.as_str().unwrap_or_default().to_string()
    }
}

/// `POST /images/create?QUERY` with an optional `X-Registry-Auth`.
pub fn pull_query(d: &Daemon, query: &str, auth: Option<&str>) -> Pull {
    let headers: Vec<(&str, &str)> = auth.map(|a| ("X-Registry-Auth", a)).into_iter().collect();
    let (status, body) = http_request_with(&d.socket, "POST", &format!("/images/create?{query}"), &headers, b"");
    let lines = body
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}")))
        .collect();
    Pull { status, lines }
}

pub fn pull(d: &Daemon, image: &str, tag: &str, auth: Option<&str>) -> Pull {
    pull_query(d, &format!("fromImage={image}&tag={tag}"), auth)
}

/// The lines whose status is `status`.
pub fn lines_with<'a>(lines: &'a [serde_json::Value], status: &str) -> Vec<&'a serde_json::Value> {
    lines.iter().filter(|l| l["status"] == status).collect()
}

/// What the store's `tmp/` holds.
pub fn tmp_entries(d: &Daemon) -> Vec<String> {
    match std::fs::read_dir(d.root.join("tmp")) {
        Ok(rd) => rd
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    }
}

//! Small HTTP helpers: response bodies, JSON replies, query strings.

use bytes::Bytes;
use http_body_util::{BodyExt, Full, combinators::BoxBody};
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{Response, StatusCode};
use serde::Serialize;
use std::io;

pub type Body = BoxBody<Bytes, io::Error>;

/// The largest JSON request body read (a create request with its
/// environment, a seccomp profile, an exec): larger ones get a 413 before
/// they are buffered.
pub const JSON_BODY_LIMIT: usize = 1 << 20;

/// Reads a whole request body of at most `limit` bytes.
pub async fn read_body<B>(body: B, limit: usize) -> Result<Bytes, crate::api::error::ApiError>
where
    B: hyper::body::Body,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    use crate::api::error::ApiError;
    match http_body_util::Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() => Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("request body is larger than the limit of {limit} bytes"),
        )),
        Err(e) => Err(ApiError::bad_request(format!("reading the request: {e}"))),
    }
}

pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).map_err(|never| match never {}).boxed()
}

pub fn empty(status: StatusCode) -> Response<Body> {
    let mut r = Response::new(full(Bytes::new()));
    *r.status_mut() = status;
    r
}

pub fn bytes(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Response<Body> {
    let mut r = Response::new(full(body));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

pub fn json<T: Serialize + ?Sized>(status: StatusCode, value: &T) -> Response<Body> {
    let mut body = serde_json::to_vec(value).expect("API types serialise");
    body.push(b'\n');
    bytes(status, "application/json", body)
}

/// Decodes `%XX` escapes (and `+` as space in query strings).
pub fn percent_decode(s: &str, plus_is_space: bool) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                // Two hex digits exactly (from_str_radix alone takes "+1").
                let hex = Some(&b[i + 1..i + 3])
                    .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(v) => {
                        out.push(v);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            b'+' if plus_is_space => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A parsed query string; keys may repeat (`changes=…&changes=…`).
#[derive(Debug, Default)]
pub struct Query(Vec<(String, String)>);

impl Query {
    pub fn parse(q: Option<&str>) -> Query {
        Query(
            q.unwrap_or("")
                .split('&')
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let (k, v) = p.split_once('=').unwrap_or((p, ""));
                    (percent_decode(k, true), percent_decode(v, true))
                })
                .collect(),
        )
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    pub fn get_all(&self, key: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// Docker's boolean parameters: `1`, `true`, `True` are true; absent,
    /// empty, `0`, `false` are false.
    pub fn flag(&self, key: &str) -> bool {
        matches!(self.get(key), Some(v) if !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false"))
    }
}

/// A body sent as its chunks arrive on `rx`, ending when every sender is
/// dropped. The response head goes out at once (a `/wait` client sends its
/// start only after the head of the wait arrives).
pub fn channel(rx: tokio::sync::mpsc::Receiver<Bytes>) -> Body {
    ChannelBody(rx).boxed()
}

/// [`channel`] whose senders can also fail the body: an `Err` chunk cuts
/// the response (the client sees a broken transfer, never a clean end of
/// a cut archive).
pub fn fallible_channel(rx: tokio::sync::mpsc::Receiver<io::Result<Bytes>>) -> Body {
    ChannelBody(rx).boxed()
}

struct ChannelBody<T>(tokio::sync::mpsc::Receiver<T>);

/// What a [`ChannelBody`] carries: chunks, or chunks that may be errors.
trait Chunk {
    fn into_frame(self) -> io::Result<hyper::body::Frame<Bytes>>;
}

impl Chunk for Bytes {
    fn into_frame(self) -> io::Result<hyper::body::Frame<Bytes>> {
        Ok(hyper::body::Frame::data(self))
    }
}

impl Chunk for io::Result<Bytes> {
    fn into_frame(self) -> io::Result<hyper::body::Frame<Bytes>> {
        self.map(hyper::body::Frame::data)
    }
}

impl<T: Chunk> hyper::body::Body for ChannelBody<T> {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, io::Error>>> {
        self.0.poll_recv(cx).map(|chunk| chunk.map(Chunk::into_frame))
    }
}

/// Docker's `filters` query: `{"key":{"value":true}}` or `{"key":["value"]}`.
pub fn parse_filters(
    raw: Option<&str>,
) -> Result<std::collections::BTreeMap<String, Vec<String>>, crate::api::error::ApiError> {
    let mut out = std::collections::BTreeMap::new();
    let Some(raw) = raw.filter(|r| !r.is_empty()) else {
        return Ok(out);
    };
    let bad =
        || crate::api::error::ApiError::bad_request(format!("invalid filters: {}", crate::quote::excerpt(raw, 128)));
    let v: serde_json::Value = serde_json::from_str(raw).map_err(|_| bad())?;
    for (key, values) in v.as_object().ok_or_else(bad)? {
        let list: Vec<String> = match values {
            serde_json::Value::Object(m) => m.keys().cloned().collect(),
            serde_json::Value::Array(a) => a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect(),
            _ => return Err(bad()),
        };
        out.insert(key.clone(), list);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_decode() {
        let q = Query::parse(Some(
            "repo=docker.io%2Flibrary%2Fx&tag=&changes=CMD+%5B%22sh%22%5D&changes=ENV+A%3D1&force=1&bad=%zz&end=%4",
        ));
        assert_eq!(q.get("repo"), Some("docker.io/library/x"));
        assert_eq!(q.get("tag"), Some(""));
        assert_eq!(q.get_all("changes"), vec!["CMD [\"sh\"]", "ENV A=1"]);
        assert!(q.flag("force"));
        assert!(!q.flag("tag"));
        assert!(!q.flag("missing"));
        assert_eq!(q.get("bad"), Some("%zz"));
        assert_eq!(q.get("end"), Some("%4"));
        assert_eq!(percent_decode("%+1%-1", false), "%+1%-1");
    }

    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Any query string parses; what was escaped decodes back.
        #[test]
        fn any_query_parses_and_escapes_round_trip(raw in ".{0,200}", key in "[a-z]{1,8}", value in ".{0,40}") {
            let _ = Query::parse(Some(&raw));
            let escaped: String = value.bytes().map(|b| format!("%{b:02X}")).collect();
            let q = Query::parse(Some(&format!("{key}={escaped}&other=1")));
            prop_assert_eq!(q.get(&key), Some(value.as_str()));
        }

        /// Filters never panic, and a parsed filter set is what was sent.
        #[test]
        fn any_filters_parse_or_fail_cleanly(raw in ".{0,200}", key in "[a-z-]{1,10}", values in proptest::collection::vec("[ -~]{0,12}", 0..4)) {
            let _ = parse_filters(Some(&raw));
            let map: serde_json::Map<String, serde_json::Value> =
                values.iter().map(|v| (v.clone(), serde_json::Value::Bool(true))).collect();
            let json = serde_json::json!({ key.clone(): map }).to_string();
            let parsed = parse_filters(Some(&json)).unwrap();
            let mut want = values.clone();
            want.sort();
            want.dedup();
            prop_assert_eq!(parsed.get(&key).cloned().unwrap_or_default(), want);
        }
    }
}

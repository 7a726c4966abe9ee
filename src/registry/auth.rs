//! Registry authentication: `WWW-Authenticate` challenges (Basic, Bearer),
//! and the token flow — `GET realm?service=…&scope=…` with the user's
//! Basic credentials when there are any, or an OAuth2 refresh with an
//! identity token — whose `token` (or `access_token`) is then sent as
//! `Authorization: Bearer`.

use super::Credentials;
use super::transport::{PROGRESS_TIMEOUT, ReqBody, Transport};
use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::{Method, Request, StatusCode};

/// The largest token reply read.
const MAX_TOKEN_REPLY: usize = 1 << 20;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Challenge {
    Basic,
    Bearer { realm: String, service: Option<String> },
}

/// The challenges of a 401 reply's `WWW-Authenticate` headers, in order.
pub fn parse_challenges<'a>(headers: impl Iterator<Item = &'a str>) -> Vec<Challenge> {
    let mut out = Vec::new();
    for value in headers {
        let value = value.trim();
        let (scheme, params) = value.split_once(' ').unwrap_or((value, ""));
        let params = parse_params(params);
        let get = |k: &str| {
            params
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(k))
                .map(|(_, v)| v.clone())
        };
        match scheme.to_ascii_lowercase().as_str() {
            "basic" => out.push(Challenge::Basic),
            "bearer" => {
                if let Some(realm) = get("realm") {
                    out.push(Challenge::Bearer {
                        realm,
                        service: get("service"),
                    });
                }
            }
            _ => {}
        }
    }
    out
}

/// `k="v", k2=v2` (quoted strings with `\` escapes), as RFC 7235 writes them.
fn parse_params(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let key: String = std::iter::from_fn(|| chars.next_if(|c| *c != '=' && *c != ',')).collect();
        if key.is_empty() {
            return out;
        }
        if chars.next() != Some('=') {
            continue;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            value = std::iter::from_fn(|| chars.next_if(|c| *c != ',')).collect();
        }
        out.push((key.trim().to_string(), value.trim().to_string()));
    }
}

/// `Basic base64(user:password)` when there is a user name.
pub fn basic_header(creds: &Credentials) -> Option<String> {
    if creds.username.is_empty() {
        return None;
    }
    let pair = format!("{}:{}", creds.username, creds.password);
    Some(format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    ))
}

/// Why a token could not be had. Holds no credential.
#[derive(Debug)]
pub enum TokenError {
    /// The issuer refused the credentials (or anonymous access).
    Refused(String),
    Failed(String),
}

/// Asks the token issuer at `realm` for a token for `scopes`.
pub async fn fetch_token(
    transport: &Transport,
    realm: &str,
    service: Option<&str>,
    scopes: &[String],
    creds: &Credentials,
) -> Result<String, TokenError> {
    let mut query: Vec<(&str, &str)> = Vec::new();
    if let Some(s) = service {
        query.push(("service", s));
    }
    for s in scopes {
        query.push(("scope", s));
    }
    let req = if !creds.identity_token.is_empty() {
        // OAuth2: the identity token is a refresh token.
        let mut form = query.clone();
        form.extend([
            ("grant_type", "refresh_token"),
            ("refresh_token", creds.identity_token.as_str()),
            ("client_id", "strata"),
        ]);
        Request::builder()
            .method(Method::POST)
            .uri(realm)
            .header(hyper::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(full(encode_query(&form)))
    } else {
        let sep = if realm.contains('?') { '&' } else { '?' };
        let mut builder = Request::builder()
            .method(Method::GET)
            .uri(format!("{realm}{sep}{}", encode_query(&query)));
        if let Some(basic) = basic_header(creds) {
            builder = builder.header(hyper::header::AUTHORIZATION, basic);
        }
        builder.body(full(String::new()))
    };
    let req = req.map_err(|e| TokenError::Failed(format!("token realm {realm:?}: {e}")))?;
    let resp = transport
        .send(req)
        .await
        .map_err(|e| TokenError::Failed(format!("fetching a token from {realm}: {e}")))?;
    let status = resp.status();
    let body = tokio::time::timeout(
        PROGRESS_TIMEOUT,
        Limited::new(resp.into_body(), MAX_TOKEN_REPLY).collect(),
    )
    .await
    .map_err(|_| TokenError::Failed(format!("reading the token reply from {realm}: timeout")))?
    .map_err(|e| TokenError::Failed(format!("reading the token reply: {e}")))?
    .to_bytes();
    if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
        return Err(TokenError::Refused(
            super::session::registry_message(&body)
                .unwrap_or_else(|| "unauthorized: authentication required".to_string()),
        ));
    }
    if !status.is_success() {
        return Err(TokenError::Failed(format!("token server {realm} answered {status}")));
    }
    #[derive(serde::Deserialize)]
    struct Reply {
        #[serde(default)]
        token: String,
        #[serde(default)]
        access_token: String,
    }
    let reply: Reply =
        serde_json::from_slice(&body).map_err(|e| TokenError::Failed(format!("bad token reply: {e}")))?;
    let token = if reply.token.is_empty() {
        reply.access_token
    } else {
        reply.token
    };
    if token.is_empty() {
        return Err(TokenError::Failed("the token server sent no token".into()));
    }
    Ok(token)
}

fn full(s: String) -> ReqBody {
    Full::new(Bytes::from(s)).map_err(|never| match never {}).boxed()
}

/// `k=v&k2=v2`, percent-encoded.
pub fn encode_query(pairs: &[(&str, &str)]) -> String {
    let enc = |s: &str| {
        let mut out = String::with_capacity(s.len());
        for b in s.bytes() {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                out.push(char::from(b));
            } else {
                out.push_str(&format!("%{b:02X}"));
            }
        }
        out
    };
    let parts: Vec<String> = pairs.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect();
    parts.join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_are_read_as_registries_write_them() {
        let got = parse_challenges(
            [
                r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull""#,
                r#"Basic realm="Registry Realm""#,
                "Negotiate",
            ]
            .into_iter(),
        );
        assert_eq!(
            got,
            vec![
                Challenge::Bearer {
                    realm: "https://auth.docker.io/token".into(),
                    service: Some("registry.docker.io".into())
                },
                Challenge::Basic
            ]
        );
        let odd = parse_challenges([r#"bearer service=x, realm="http://a/t?x=\"1\"""#].into_iter());
        assert_eq!(
            odd,
            vec![Challenge::Bearer {
                realm: r#"http://a/t?x="1""#.into(),
                service: Some("x".into())
            }]
        );
        assert!(parse_challenges(["Bearer service=x"].into_iter()).is_empty());
    }

    #[test]
    fn queries_are_encoded_and_basic_needs_a_user() {
        assert_eq!(
            encode_query(&[("scope", "repository:a/b:pull,push"), ("service", "x y")]),
            "scope=repository%3Aa%2Fb%3Apull%2Cpush&service=x%20y"
        );
        assert_eq!(basic_header(&Credentials::default()), None);
        let creds = Credentials {
            username: "u".into(),
            password: "p".into(),
            ..Default::default()
        };
        assert_eq!(basic_header(&creds).unwrap(), "Basic dTpw");
    }
}

//! A small bearer-token issuer for a registry configured with `auth:
//! token` (distribution 2.8): `GET /token?service=…&scope=…` on 127.0.0.1
//! checks Basic credentials and answers `{"token": JWT, "access_token":
//! JWT}`, an RS256 JWT signed by `openssl dgst -sha256 -sign` with a key
//! made in the test; its header's `x5c` carries the signing certificate,
//! which is the registry's `rootcertbundle`.

use base64::Engine;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The `iss` claim the issuer signs and the registry trusts.
pub const TOKEN_ISSUER: &str = "strata-test-issuer";
/// The `aud` claim: the registry's `service`.
pub const TOKEN_SERVICE: &str = "strata-test-registry";

/// Who may have a token: `user`/`password` for every action asked for;
/// with `anonymous_pull`, anyone without credentials for `pull` (as Docker
/// Hub for public repositories); wrong credentials: 401.
#[derive(Clone)]
pub struct TokenPolicy {
    pub user: String,
    pub password: String,
    pub anonymous_pull: bool,
}

/// The issuer's thread, stopped on drop.
pub struct TokenIssuer {
    port: u16,
    stop: Arc<AtomicBool>,
    requests: Arc<Mutex<Vec<String>>>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// The signing certificate (PEM): the registry's `rootcertbundle`.
    pub cert: PathBuf,
}

struct Signer {
    key: PathBuf,
    x5c: String,
    policy: TokenPolicy,
    serial: AtomicU64,
}

impl TokenIssuer {
    /// Makes an RSA key and self-signed certificate under `dir` and starts
    /// issuing on a free loopback port.
    pub fn start(dir: &Path, policy: TokenPolicy) -> Result<TokenIssuer, String> {
        let key = dir.join("token.key");
        let cert = dir.join("token.pem");
        super::registry::openssl(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=strata-token-issuer",
            "-keyout",
            path(&key),
            "-out",
            path(&cert),
        ])?;
        let pem = std::fs::read_to_string(&cert).map_err(|e| format!("read {}: {e}", cert.display()))?;
        // A PEM body is the standard base64 of the DER: x5c's form.
        let x5c: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind the token issuer: {e}"))?;
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let signer = Signer {
            key,
            x5c,
            policy,
            serial: AtomicU64::new(0),
        };
        let (stop2, requests2) = (stop.clone(), requests.clone());
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    return;
                }
                if let Ok(conn) = conn {
                    signer.serve(conn, &requests2);
                }
            }
        });
        Ok(TokenIssuer {
            port,
            stop,
            requests,
            thread: Some(thread),
            cert,
        })
    }

    /// The realm the registry sends clients to.
    pub fn realm(&self) -> String {
        format!("http://127.0.0.1:{}/token", self.port)
    }

    /// Each token request so far, as `account=USER scope=SCOPE… -> STATUS`
    /// (`account=` empty for anonymous ones).
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().expect("lock").clone()
    }
}

impl Drop for TokenIssuer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop, which then sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Signer {
    fn serve(&self, mut conn: TcpStream, log: &Mutex<Vec<String>>) {
        let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
        let Some(head) = read_head(&mut conn) else { return };
        let target = head.split_whitespace().nth(1).unwrap_or("");
        let query = target.split_once('?').map_or("", |(_, q)| q);
        let params: Vec<(String, String)> = query
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (percent_decode(k), percent_decode(v)))
            .collect();
        let scopes: Vec<&str> = params
            .iter()
            .filter(|(k, _)| k == "scope")
            .map(|(_, v)| v.as_str())
            .collect();
        let service = params
            .iter()
            .find(|(k, _)| k == "service")
            .map_or("", |(_, v)| v.as_str());
        let creds = basic_credentials(&head);
        let (status, body) = match &creds {
            Some((u, p)) if *u == self.policy.user && *p == self.policy.password => (
                200,
                self.token_reply(u, service, &scopes, &["pull", "push", "delete", "*"]),
            ),
            None if self.policy.anonymous_pull => (200, self.token_reply("", service, &scopes, &["pull"])),
            _ => (401, r#"{"details":"incorrect username or password"}"#.to_string()),
        };
        let account = creds.map(|(u, _)| u).unwrap_or_default();
        log.lock()
            .expect("lock")
            .push(format!("account={account} scope={} -> {status}", scopes.join(" ")));
        let reason = if status == 200 { "OK" } else { "Unauthorized" };
        let reply = format!(
            "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = conn.write_all(reply.as_bytes());
    }

    /// `{"token", "access_token"}` granting each scope's actions that are
    /// among `allowed`.
    fn token_reply(&self, subject: &str, service: &str, scopes: &[&str], allowed: &[&str]) -> String {
        let access: Vec<_> = scopes
            .iter()
            .flat_map(|s| s.split(' '))
            .filter_map(|scope| {
                let (kind, rest) = scope.split_once(':')?;
                let (name, actions) = rest.rsplit_once(':')?;
                let granted: Vec<&str> = actions.split(',').filter(|a| allowed.contains(a)).collect();
                Some(serde_json::json!({"type": kind, "name": name, "actions": granted}))
            })
            .collect();
        let now = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_secs();
        let serial = self.serial.fetch_add(1, Ordering::SeqCst);
        let claims = serde_json::json!({
            "iss": TOKEN_ISSUER, "sub": subject, "aud": service,
            "exp": now + 300, "nbf": now - 10, "iat": now,
            "jti": format!("{now}-{serial}"), "access": access,
        });
        let header = serde_json::json!({"typ": "JWT", "alg": "RS256", "x5c": [self.x5c]});
        let b64 = |v: &serde_json::Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        let signing_input = format!("{}.{}", b64(&header), b64(&claims));
        let jwt = match self.sign(signing_input.as_bytes()) {
            Ok(sig) => format!(
                "{signing_input}.{}",
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sig)
            ),
            Err(e) => panic!("token issuer: {e}"),
        };
        serde_json::json!({"token": jwt, "access_token": jwt, "expires_in": 300}).to_string()
    }

    /// The RS256 (PKCS#1 v1.5, SHA-256) signature of `input`.
    fn sign(&self, input: &[u8]) -> Result<Vec<u8>, String> {
        let mut child = Command::new("openssl")
            .args(["dgst", "-sha256", "-binary", "-sign"])
            .arg(&self.key)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("openssl dgst: {e}"))?;
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input)
            .map_err(|e| e.to_string())?;
        let out = child.wait_with_output().map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(format!("openssl dgst: {}", String::from_utf8_lossy(&out.stderr)));
        }
        Ok(out.stdout)
    }
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// The request head (up to the blank line, at most 64 KiB), or None.
pub(crate) fn read_head(conn: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > 64 << 10 || conn.read(&mut byte).ok()? == 0 {
            return None;
        }
        head.push(byte[0]);
    }
    Some(String::from_utf8_lossy(&head).into_owned())
}

/// The user and password of an `Authorization: Basic` header in `head`.
fn basic_credentials(head: &str) -> Option<(String, String)> {
    let value = head.lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.eq_ignore_ascii_case("authorization").then(|| value.trim())
    })?;
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (u, p) = text.split_once(':')?;
    Some((u.to_string(), p.to_string()))
}

/// `%XX` and `+` decoded.
pub(crate) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

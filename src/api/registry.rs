//! Registries: `POST /images/create?fromImage=…` (pull, Docker's JSON
//! progress stream) and `POST /auth` (a login checked against the
//! registry; nothing is stored). Credentials come from the request
//! (`X-Registry-Auth`, or the login's body) and go no further than the
//! registry client.

use super::error::ApiError;
use super::handle::{Daemon, Reply};
use super::http::{self, Query, json, read_body};
use crate::engine::progress::{Event, Progress};
use crate::engine::{Credentials, PullOutcome, PullRequest};
use crate::wire::{AuthConfig, AuthResponse, ProgressDetail, PushResult, REGISTRY_AUTH_HEADER, StreamMessage};
use bytes::Bytes;
use hyper::body::Incoming;
use hyper::header::HeaderMap;
use hyper::{Response, StatusCode};
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::mpsc;

/// Progress events buffered between the pull and the client.
const EVENTS_IN_FLIGHT: usize = 64;

/// Strata's config directory (`certs.d/` for registries' CAs):
/// `/etc/strata` as root, `$XDG_CONFIG_HOME/strata` (or
/// `~/.config/strata`) otherwise.
pub fn default_config_dir() -> PathBuf {
    if crate::sys::is_root() {
        return PathBuf::from("/etc/strata");
    }
    if let Some(d) = std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(d).join("strata");
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/"));
    home.join(".config/strata")
}

fn credentials_of(auth: AuthConfig) -> Credentials {
    Credentials {
        username: auth.username,
        password: auth.password,
        identity_token: auth.identitytoken,
        registry_token: auth.registrytoken,
    }
}

/// The request's `X-Registry-Auth` (none: anonymous; unreadable: a 400).
pub(super) fn request_credentials(headers: &HeaderMap) -> Result<Credentials, ApiError> {
    let Some(value) = headers.get(REGISTRY_AUTH_HEADER) else {
        return Ok(Credentials::default());
    };
    let value = value
        .to_str()
        .map_err(|_| ApiError::bad_request("invalid X-Registry-Auth header: not base64"))?;
    let auth = AuthConfig::from_header(value).map_err(|e| ApiError::bad_request(e.to_string()))?;
    Ok(credentials_of(auth))
}

/// `POST /images/create?fromImage=NAME&tag=TAG&platform=P`. Failures before
/// the first line (a bad name, no such manifest, refused credentials) are
/// plain error replies, as Docker's are; later ones end the stream with an
/// `errorDetail` line.
pub async fn pull(daemon: &Arc<Daemon>, query: &Query, headers: &HeaderMap) -> Reply {
    let credentials = request_credentials(headers)?;
    let req = PullRequest {
        image: query.get("fromImage").unwrap_or("").to_string(),
        tag: query.get("tag").unwrap_or("").to_string(),
        platform: query.get("platform").map(str::to_string),
        credentials,
    };
    let (tx, mut rx) = mpsc::channel(EVENTS_IN_FLIGHT);
    let engine = Arc::clone(&daemon.engine);
    let config = daemon.config.registry.clone();
    let task = tokio::spawn(async move { engine.pull(config, req, Progress::new(tx)).await });
    let Some(first) = rx.recv().await else {
        // The pull ended without a word: it failed before it began.
        let outcome = task
            .await
            .map_err(|e| ApiError::internal(format!("pull task failed: {e}")))?;
        return Err(outcome
            .err()
            .map_or_else(|| ApiError::internal("pull ended without progress"), ApiError::from));
    };
    let (body_tx, body_rx) = mpsc::channel::<Bytes>(EVENTS_IN_FLIGHT);
    tokio::spawn(async move {
        let _ = body_tx.send(line_of(first)).await;
        while let Some(event) = rx.recv().await {
            let _ = body_tx.send(line_of(event)).await;
        }
        let ended: Result<PullOutcome, String> = match task.await {
            Ok(r) => r.map_err(|e| e.to_string()),
            Err(e) => Err(format!("pull task failed: {e}")),
        };
        match ended {
            Ok(outcome) => tracing::info!(image = %outcome.image, digest = %outcome.digest, "pulled {}", outcome.name),
            Err(message) => {
                tracing::warn!("pull failed: {message}");
                let _ = body_tx.send(StreamMessage::failure(message).to_line().into()).await;
            }
        }
    });
    let mut resp = Response::new(http::channel(body_rx));
    resp.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    Ok(resp)
}

/// An event as one line of Docker's stream.
pub(super) fn line_of(event: Event) -> Bytes {
    let message = match event {
        Event::Message { id, text } => StreamMessage::status(id.as_deref(), text),
        // Every layer line carries progressDetail (`{}` while no bytes
        // move), as dockerd's progress.Update writes it: a client's terminal
        // display keeps one line per layer only for lines that have it.
        Event::Layer { id, state, bytes } => StreamMessage {
            progress_detail: Some(ProgressDetail {
                current: bytes.map(|(current, _)| current),
                total: bytes.and_then(|(_, total)| total),
            }),
            ..StreamMessage::status(Some(&id), state.text())
        },
        Event::Pushed { tag, digest, size } => StreamMessage {
            progress_detail: Some(ProgressDetail::default()),
            aux: serde_json::to_value(PushResult { tag, digest, size }).ok(),
            ..Default::default()
        },
    };
    message.to_line().into()
}

/// `POST /auth`: checks the credentials against the registry (its `/v2/`,
/// answering the challenge). The daemon keeps nothing.
pub async fn login(daemon: &Arc<Daemon>, body: Incoming) -> Reply {
    let bytes = read_body(body, http::JSON_BODY_LIMIT).await?;
    let mut auth: AuthConfig = serde_json::from_slice(&bytes)
        .map_err(|_| ApiError::bad_request("invalid login request: not the JSON of a registry login"))?;
    auth.fill_from_auth_field();
    let server = registry_host(&auth.serveraddress);
    crate::engine::login(daemon.config.registry.clone(), &server, credentials_of(auth)).await?;
    Ok(json(
        StatusCode::OK,
        &AuthResponse {
            status: "Login Succeeded".into(),
            identity_token: String::new(),
        },
    ))
}

/// The registry a login's `serveraddress` names: `https://index.docker.io/v1/`
/// is Docker Hub; a scheme and path are dropped.
fn registry_host(address: &str) -> String {
    let a = address.trim();
    let a = a.split_once("://").map_or(a, |(_, rest)| rest);
    let host = a.split('/').next().unwrap_or("");
    match host {
        "" | "index.docker.io" | "registry-1.docker.io" => "docker.io".to_string(),
        h => h.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::progress::LayerState;

    #[test]
    fn events_become_docker_lines() {
        let line = line_of(Event::Layer {
            id: "0123456789ab".into(),
            state: LayerState::Downloading,
            bytes: Some((5, Some(10))),
        });
        assert_eq!(
            std::str::from_utf8(&line).unwrap(),
            "{\"id\":\"0123456789ab\",\"status\":\"Downloading\",\"progressDetail\":{\"current\":5,\"total\":10}}\n"
        );
        let line = line_of(Event::Layer {
            id: "0123456789ab".into(),
            state: LayerState::PullComplete,
            bytes: None,
        });
        assert_eq!(
            std::str::from_utf8(&line).unwrap(),
            "{\"id\":\"0123456789ab\",\"status\":\"Pull complete\",\"progressDetail\":{}}\n"
        );
        let line = line_of(Event::Message {
            id: Some("latest".into()),
            text: "Pulling from library/busybox".into(),
        });
        assert_eq!(
            std::str::from_utf8(&line).unwrap(),
            "{\"id\":\"latest\",\"status\":\"Pulling from library/busybox\"}\n"
        );
    }

    #[test]
    fn login_addresses_name_their_registry() {
        assert_eq!(registry_host("https://index.docker.io/v1/"), "docker.io");
        assert_eq!(registry_host(""), "docker.io");
        assert_eq!(registry_host("127.0.0.1:5000"), "127.0.0.1:5000");
        assert_eq!(registry_host("http://reg.lan:5000/v2/"), "reg.lan:5000");
    }

    #[test]
    fn a_bad_auth_header_is_a_400() {
        let mut h = HeaderMap::new();
        h.insert(REGISTRY_AUTH_HEADER, "!!!".parse().unwrap());
        assert_eq!(request_credentials(&h).unwrap_err().status, StatusCode::BAD_REQUEST);
        h.insert(REGISTRY_AUTH_HEADER, "e30=".parse().unwrap());
        assert!(request_credentials(&h).unwrap().is_empty());
    }
}

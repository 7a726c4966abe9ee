//! `POST /images/{name}/push?tag=TAG` (no tag: every tag of the name, as
//! `docker push --all-tags` asks): Docker's JSON progress stream, each
//! tag ending with its `TAG: digest: … size: N` line and the `aux`
//! PushResult. A name not in the store is a plain 404 before the stream;
//! later failures end it with an `errorDetail` line. Credentials come from
//! `X-Registry-Auth` and go no further than the registry client.

use super::handle::{Daemon, Reply};
use super::http::{self, Query};
use super::registry::{line_of, request_credentials};
use crate::engine::PushRequest;
use crate::engine::progress::Progress;
use crate::wire::StreamMessage;
use bytes::Bytes;
use hyper::Response;
use hyper::header::HeaderMap;
use std::sync::Arc;
use tokio::sync::mpsc;

/// Progress events buffered between the push and the client.
const EVENTS_IN_FLIGHT: usize = 64;

pub async fn push(daemon: &Arc<Daemon>, name: &str, query: &Query, headers: &HeaderMap) -> Reply {
    let req = PushRequest {
        name: name.to_string(),
        tag: query.get("tag").unwrap_or("").to_string(),
        credentials: request_credentials(headers)?,
    };
    daemon.engine.push_tags(&req)?;
    let (tx, mut rx) = mpsc::channel(EVENTS_IN_FLIGHT);
    let engine = Arc::clone(&daemon.engine);
    let config = daemon.config.registry.clone();
    let task = tokio::spawn(async move { engine.push(config, req, Progress::new(tx)).await });
    let (body_tx, body_rx) = mpsc::channel::<Bytes>(EVENTS_IN_FLIGHT);
    tokio::spawn(async move {
        while let Some(event) = rx.recv().await {
            let _ = body_tx.send(line_of(event)).await;
        }
        let failure = match task.await {
            Ok(Ok(pushed)) => {
                for t in pushed {
                    tracing::info!(digest = %t.digest, "pushed {}", t.tag);
                }
                return;
            }
            Ok(Err(e)) => e.to_string(),
            Err(e) => format!("push task failed: {e}"),
        };
        tracing::warn!("push failed: {failure}");
        let _ = body_tx.send(StreamMessage::failure(failure).to_line().into()).await;
    });
    let mut resp = Response::new(http::channel(body_rx));
    resp.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    Ok(resp)
}

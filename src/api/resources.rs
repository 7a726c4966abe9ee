//! `POST /containers/{id}/pause`, `/unpause` and `/update`: thin over the
//! engine (`engine::pause`, `engine::update`).

use super::handle::{Daemon, Reply};
use super::http::{empty, json};
use crate::engine::Container;
use hyper::StatusCode;
use hyper::body::Incoming;
use std::sync::Arc;

pub async fn pause(daemon: &Arc<Daemon>, c: &Arc<Container>) -> Reply {
    daemon.engine.pause(c).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

pub async fn unpause(daemon: &Arc<Daemon>, c: &Arc<Container>) -> Reply {
    daemon.engine.unpause(c).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

pub async fn update(daemon: &Arc<Daemon>, c: &Arc<Container>, req: hyper::Request<Incoming>) -> Reply {
    let body = super::http::read_body(req.into_body(), super::http::JSON_BODY_LIMIT).await?;
    let update: serde_json::Map<String, serde_json::Value> = if body.iter().all(u8::is_ascii_whitespace) {
        Default::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| super::error::ApiError::bad_request(format!("invalid JSON: {e}")))?
    };
    let warnings = daemon.engine.update(c, update).await?;
    Ok(json(StatusCode::OK, &serde_json::json!({ "Warnings": warnings })))
}

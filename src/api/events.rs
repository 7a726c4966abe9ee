//! `GET /events`: the engine's events as Docker streams them, one JSON
//! object per line, each sent as it happens. With `until`, the stream ends
//! there (at once when it is past, after the journal's matches); without,
//! it lasts until the client goes away, which frees its subscription.

use super::error::ApiError;
use super::handle::{Daemon, Reply};
use super::http::{Query, channel, parse_filters};
use crate::engine::events::{Event, EventFilter, Kind};
use crate::time;
use crate::wire::{EventActor, EventMessage, timestamp};
use bytes::Bytes;
use hyper::Response;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use std::sync::Arc;
use tokio::sync::mpsc;

/// Lines queued for a client that reads slowly: past this, its task waits
/// (and its subscription may lose events, never the daemon).
const QUEUED_LINES: usize = 64;

/// Docker's wire shape of an event, with the deprecated fields moby 28
/// still fills for containers and images.
fn to_wire(e: &Event) -> EventMessage {
    let (status, id, from) = match e.kind {
        Kind::Container => (
            e.action.clone(),
            e.id.clone(),
            e.attributes.get("image").cloned().unwrap_or_default(),
        ),
        Kind::Image => (e.action.clone(), e.id.clone(), String::new()),
        _ => Default::default(),
    };
    EventMessage {
        status,
        id,
        from,
        kind: e.kind.as_str().to_string(),
        action: e.action.clone(),
        actor: EventActor {
            id: e.id.clone(),
            attributes: e.attributes.clone(),
        },
        scope: "local".into(),
        time: e.time_secs(),
        time_nano: e.time_nanos,
    }
}

fn line(e: &Event) -> Bytes {
    let mut v = serde_json::to_vec(&to_wire(e)).expect("events serialise");
    v.push(b'\n');
    Bytes::from(v)
}

fn now_nanos() -> i64 {
    let (s, n) = time::now();
    s * 1_000_000_000 + i64::from(n)
}

/// `since`/`until`: absent or empty is no bound.
fn bound(query: &Query, key: &str) -> Result<Option<i64>, ApiError> {
    match query.get(key).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => timestamp::parse_any(v, time::now())
            .map(Some)
            .map_err(|e| ApiError::bad_request(crate::quote::bounded(e.to_string()))),
    }
}

pub async fn events(daemon: &Arc<Daemon>, query: &Query) -> Reply {
    let since = bound(query, "since")?;
    let until = bound(query, "until")?;
    if let Some(u) = until
        && u < since.unwrap_or(i64::MIN)
    {
        return Err(ApiError::bad_request(format!(
            "`since` time ({}) cannot be after `until` time ({})",
            crate::quote::excerpt(query.get("since").unwrap_or(""), 64),
            crate::quote::excerpt(query.get("until").unwrap_or(""), 64)
        )));
    }
    let filter = EventFilter::parse(&parse_filters(query.get("filters"))?)?;
    let mut subscription = daemon.engine.events().subscribe(since, until, filter);
    let (tx, rx) = mpsc::channel::<Bytes>(QUEUED_LINES);
    tokio::spawn(async move {
        for e in std::mem::take(&mut subscription.past) {
            if tx.send(line(&e)).await.is_err() {
                return;
            }
        }
        let left = match until {
            Some(u) if u <= now_nanos() => return,
            Some(u) => Some(std::time::Duration::from_nanos((u - now_nanos()).max(0) as u64)),
            None => None,
        };
        let deadline = async move {
            match left {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                next = subscription.next() => match next {
                    Some(e) if until.is_some_and(|u| e.time_nanos > u) => return,
                    Some(e) => {
                        if tx.send(line(&e)).await.is_err() {
                            return;
                        }
                    }
                    None => return,
                },
                () = &mut deadline => return,
                // The client went away: the subscription goes with this task.
                () = tx.closed() => return,
            }
        }
    });
    let mut resp = Response::new(channel(rx));
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(resp)
}

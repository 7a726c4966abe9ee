//! `/strata/mounts`: Strata's own routes for `strata mount` / `unmount`
//! (the Docker API has none) over [`crate::engine::user_mounts`].

use super::error::ApiError;
use super::handle::{Daemon, Reply};
use super::http::{JSON_BODY_LIMIT, Query, json, read_body};
use crate::engine::user_mounts::{Kind, MountRequest, MountView, Unmount};
use crate::wire::{UserMount, UserMountRequest};
use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use std::path::PathBuf;
use std::sync::Arc;

fn wire(v: &MountView) -> UserMount {
    let shown = |p: &Option<PathBuf>| p.as_ref().map(|p| p.display().to_string()).unwrap_or_default();
    UserMount {
        target: v.target.clone(),
        id: v.id.clone(),
        kind: match v.kind {
            Kind::Image => "image",
            Kind::Container => "container",
        }
        .into(),
        dir: v.dir.display().to_string(),
        upper: shown(&v.upper),
        work: shown(&v.work),
        rw: v.upper.is_some(),
    }
}

/// A path of the request: absent when empty.
fn path_of(s: String) -> Option<PathBuf> {
    (!s.is_empty()).then(|| PathBuf::from(s))
}

/// `POST /strata/mounts`: mounts, and answers the mount (201).
pub async fn create(daemon: &Arc<Daemon>, req: Request<Incoming>) -> Reply {
    let body = read_body(req.into_body(), JSON_BODY_LIMIT).await?;
    let body: UserMountRequest =
        serde_json::from_slice(&body).map_err(|e| ApiError::bad_request(format!("invalid JSON: {e}")))?;
    if body.target.is_empty() {
        return Err(ApiError::bad_request("no image to mount"));
    }
    let request = MountRequest {
        target: body.target,
        dir: path_of(body.dir),
        upper: path_of(body.upper),
        work: path_of(body.work),
    };
    let engine = daemon.engine.clone();
    let view = tokio::task::spawn_blocking(move || engine.user_mount(request))
        .await
        .map_err(|e| ApiError::internal(format!("mount task failed: {e}")))??;
    Ok(json(StatusCode::CREATED, &wire(&view)))
}

/// `GET /strata/mounts`.
pub fn list(daemon: &Daemon) -> Reply {
    let mounts: Vec<UserMount> = daemon.engine.user_mounts().iter().map(wire).collect();
    Ok(json(StatusCode::OK, &mounts))
}

/// `DELETE /strata/mounts?dir=…|target=…|all=1`: exactly one of them;
/// answers the mounts ended.
pub async fn remove(daemon: &Arc<Daemon>, query: &Query) -> Reply {
    let dir = query.get("dir").map(PathBuf::from);
    let target = query.get("target").map(str::to_string);
    let all = query.flag("all");
    if usize::from(dir.is_some()) + usize::from(target.is_some()) + usize::from(all) != 1 {
        return Err(ApiError::bad_request("give exactly one of dir=, target= and all=1"));
    }
    let engine = daemon.engine.clone();
    let ended = tokio::task::spawn_blocking(move || {
        let which = match (&dir, &target) {
            (Some(d), _) => Unmount::Dir(d),
            (_, Some(t)) => Unmount::Target(t),
            _ => Unmount::All,
        };
        engine.user_unmount(which)
    })
    .await
    .map_err(|e| ApiError::internal(format!("unmount task failed: {e}")))??;
    let ended: Vec<UserMount> = ended.iter().map(wire).collect();
    Ok(json(StatusCode::OK, &ended))
}

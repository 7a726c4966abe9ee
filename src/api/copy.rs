//! `HEAD`, `GET` and `PUT /containers/{id}/archive`: what `docker cp`
//! uses. The path's stat travels base64'd in `X-Docker-Container-Path-Stat`;
//! a tar streams out (a failure after the first byte cuts it) or in (read
//! as it comes, extracted by the store's rules).

use super::archives::{ChunkWriter, tar_response};
use super::error::ApiError;
use super::handle::{Daemon, Reply};
use super::http::{self, Query};
use crate::engine::{Container, CopyIn, PathStat};
use crate::wire::ContainerPathStat;
use base64::Engine as _;
use bytes::Bytes;
use hyper::header::HeaderValue;
use hyper::{Response, StatusCode};
use std::io;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

fn path_of(query: &Query) -> Result<String, ApiError> {
    match query.get("path") {
        Some(p) if !p.is_empty() => Ok(p.to_string()),
        _ => Err(ApiError::bad_request("path is required")),
    }
}

fn stat_header(stat: PathStat) -> HeaderValue {
    let wire = ContainerPathStat {
        name: stat.name,
        size: stat.size,
        mode: stat.mode,
        mtime: stat.mtime,
        link_target: stat.link_target,
    };
    let json = serde_json::to_vec(&wire).unwrap_or_default();
    let b64 = base64::engine::general_purpose::STANDARD.encode(json);
    HeaderValue::from_str(&b64).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// `HEAD /containers/{id}/archive?path=P`.
pub async fn head(daemon: &Arc<Daemon>, c: &Arc<Container>, asked: &str, query: &Query) -> Reply {
    let path = path_of(query)?;
    let stat = daemon.engine.stat_path(c, asked, &path).await?;
    let mut r = http::empty(StatusCode::OK);
    r.headers_mut().insert(ContainerPathStat::HEADER, stat_header(stat));
    Ok(r)
}

/// `GET /containers/{id}/archive?path=P`: a tar of P.
pub async fn get(daemon: &Arc<Daemon>, c: &Arc<Container>, asked: &str, query: &Query) -> Reply {
    let path = path_of(query)?;
    let (tx, rx) = mpsc::channel::<io::Result<Bytes>>(4);
    let (started_tx, started) = oneshot::channel::<PathStat>();
    let writer = ChunkWriter::new(tx.clone());
    let (engine, container, asked) = (daemon.engine.clone(), c.clone(), asked.to_string());
    let task = tokio::spawn(async move {
        let started = move |stat| {
            let _ = started_tx.send(stat);
        };
        engine.archive_path(&container, &asked, &path, writer, started).await
    });
    let stat = match started.await {
        Ok(stat) => stat,
        Err(_) => {
            return match task.await {
                Ok(Err(e)) => Err(e.into()),
                Ok(Ok(_)) => Err(ApiError::internal("the archive ended before it started")),
                Err(e) => Err(ApiError::internal(format!("archive task failed: {e}"))),
            };
        }
    };
    let id = c.id[..12].to_string();
    tokio::spawn(async move {
        match task.await {
            Ok(Ok(bytes)) => tracing::debug!(container = %id, bytes, "copied out"),
            Ok(Err(e)) => {
                tracing::warn!(container = %id, "copy cut short: {e}");
                let _ = tx.send(Err(io::Error::other(e.to_string()))).await;
            }
            Err(e) => tracing::error!(container = %id, "archive task failed: {e}"),
        }
    });
    let mut r: Response<_> = tar_response(rx);
    r.headers_mut().insert(ContainerPathStat::HEADER, stat_header(stat));
    Ok(r)
}

/// `PUT /containers/{id}/archive?path=DIR&noOverwriteDirNonDir=&copyUIDGID=`.
pub async fn put(
    daemon: &Arc<Daemon>,
    c: &Arc<Container>,
    asked: &str,
    query: &Query,
    body: hyper::body::Incoming,
) -> Reply {
    let path = path_of(query)?;
    let how = CopyIn {
        no_overwrite_dir_non_dir: query.flag("noOverwriteDirNonDir"),
        copy_uid_gid: query.flag("copyUIDGID"),
    };
    let (tx, rx) = mpsc::channel::<io::Result<Bytes>>(16);
    let reader = crate::engine::PieceReader::new(rx);
    let (_, done) = tokio::join!(
        super::images::pump(body, tx),
        daemon.engine.extract_to(c, asked, &path, reader, how)
    );
    done?;
    Ok(http::empty(StatusCode::OK))
}

//! `/images/get`, `/images/{name}/get`, `/images/load` and
//! `/containers/{id}/export`: archives streamed out and in. What can be
//! checked before the first byte is (unknown names get their 404 then);
//! a failure mid-stream aborts the response rather than ending it cleanly,
//! so a client never takes a cut archive for a whole one.

use super::error::ApiError;
use super::handle::{Daemon, Reply};
use super::http::{self, Body, Query};
use crate::engine::Container;
use crate::layers::archive::{self, load, save};
use crate::wire::{ProgressDetail, StreamMessage};
use bytes::Bytes;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{Response, StatusCode};
use std::io::{self, Write};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

impl From<archive::Error> for ApiError {
    fn from(e: archive::Error) -> Self {
        match e {
            archive::Error::NotFound(m) => ApiError::not_found(m),
            archive::Error::Invalid(m) => ApiError::bad_request(m),
            archive::Error::Store(e) => e.into(),
        }
    }
}

/// Chunks written from a blocking task, sent to the response body.
pub(super) struct ChunkWriter {
    tx: mpsc::Sender<io::Result<Bytes>>,
    buf: Vec<u8>,
}

const CHUNK: usize = 64 * 1024;

impl ChunkWriter {
    pub(super) fn new(tx: mpsc::Sender<io::Result<Bytes>>) -> Self {
        ChunkWriter {
            tx,
            buf: Vec::with_capacity(CHUNK),
        }
    }

    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the client went away"))
    }
}

impl Write for ChunkWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = data.len().min(CHUNK - self.buf.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == CHUNK {
            self.send()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send()
    }
}

/// A `200 application/x-tar` whose body `write` produces on a blocking
/// thread. An error of `write` is logged and cuts the response.
fn tar_stream(
    what: &'static str,
    write: impl FnOnce(&mut ChunkWriter) -> io::Result<()> + Send + 'static,
) -> Response<Body> {
    let (tx, rx) = mpsc::channel::<io::Result<Bytes>>(4);
    tokio::task::spawn_blocking(move || {
        let mut out = ChunkWriter::new(tx.clone());
        if let Err(e) = write(&mut out).and_then(|()| out.flush()) {
            if e.kind() == io::ErrorKind::BrokenPipe {
                tracing::debug!("{what}: the client went away");
            } else {
                tracing::error!("{what}: {e}");
                let _ = tx.blocking_send(Err(e));
            }
        }
    });
    tar_response(rx)
}

pub(super) fn tar_response(rx: mpsc::Receiver<io::Result<Bytes>>) -> Response<Body> {
    let mut r = Response::new(http::fallible_channel(rx));
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/x-tar"));
    r
}

/// `GET /images/get?names=…` and `GET /images/{name}/get`: the images in
/// the archive Docker 25+ writes.
pub async fn save(daemon: &Arc<Daemon>, names: Vec<String>) -> Reply {
    if names.is_empty() {
        return Err(ApiError::bad_request("no image names given"));
    }
    let store = daemon.store.clone();
    let plan = {
        let (store, names) = (store.clone(), names.clone());
        tokio::task::spawn_blocking(move || save::plan(&store, &names))
            .await
            .map_err(|e| ApiError::internal(format!("save task failed: {e}")))??
    };
    tracing::info!(images = ?names, layer_bytes = plan.layer_bytes(), "saving");
    for name in &names {
        if let Ok(id) = store.resolve(name) {
            let id = id.to_string();
            daemon.engine.image_event("save", &id, &id);
        }
    }
    Ok(tar_stream("saving images", move |out| save::write(&store, &plan, out)))
}

/// `GET /containers/{id}/export`: the container's whole root as a tar.
/// A failure to mount or list the root is the reply (before any byte);
/// one while writing cuts the stream.
pub async fn export(daemon: &Arc<Daemon>, c: &Arc<Container>) -> Reply {
    let (tx, rx) = mpsc::channel::<io::Result<Bytes>>(4);
    let (started_tx, started) = oneshot::channel::<()>();
    let writer = ChunkWriter::new(tx.clone());
    let (engine, container) = (daemon.engine.clone(), c.clone());
    let task = tokio::spawn(async move {
        let started = move || {
            let _ = started_tx.send(());
        };
        engine.export(&container, writer, started).await
    });
    if started.await.is_err() {
        return match task.await {
            Ok(Err(e)) => Err(e.into()),
            Ok(Ok(_)) => Err(ApiError::internal("the export ended before it started")),
            Err(e) => Err(ApiError::internal(format!("export task failed: {e}"))),
        };
    }
    let id = c.id[..12].to_string();
    tokio::spawn(async move {
        match task.await {
            Ok(Ok(bytes)) => tracing::info!(container = %id, bytes, "exported"),
            Ok(Err(e)) => {
                tracing::warn!(container = %id, "export cut short: {e}");
                let _ = tx.send(Err(io::Error::other(e.to_string()))).await;
            }
            Err(e) => tracing::error!(container = %id, "export task failed: {e}"),
        }
    });
    Ok(tar_response(rx))
}

/// `POST /images/load`: the archive in the body (plain or gzip'd), loaded
/// all or nothing, named as Docker names what it loaded. Without `quiet`,
/// each layer's progress is reported as it is stored; a failure before the
/// first report is the reply's status (a refused archive: 400), one after
/// it the stream's last line, as Docker's.
pub async fn load(daemon: &Arc<Daemon>, query: &Query, body: hyper::body::Incoming) -> Reply {
    let quiet = query.flag("quiet");
    let (tx, rx) = mpsc::channel::<io::Result<Bytes>>(16);
    let (progress_tx, mut progress) = mpsc::channel::<Bytes>(64);
    let store = daemon.store.clone();
    let mut work = tokio::task::spawn_blocking(move || {
        let mut report = |p: load::Progress| {
            if !quiet {
                // Never waits: a line a slow client has not taken is dropped.
                let _ = progress_tx.try_send(Bytes::from(progress_line(p)));
            }
        };
        load::load_reporting(&store, crate::engine::PieceReader::new(rx), &mut report)
    });
    super::images::pump(body, tx).await;
    let first = tokio::select! {
        line = progress.recv() => line,
        done = &mut work => return Ok(json_lines(loaded_lines(&daemon.engine, done)?)),
    };
    let Some(first) = first else {
        return Ok(json_lines(loaded_lines(&daemon.engine, work.await)?));
    };
    let engine = daemon.engine.clone();
    let (body_tx, body_rx) = mpsc::channel::<io::Result<Bytes>>(16);
    tokio::spawn(async move {
        let _ = body_tx.send(Ok(first)).await;
        while let Some(line) = progress.recv().await {
            let _ = body_tx.send(Ok(line)).await;
        }
        let last = loaded_lines(&engine, work.await).unwrap_or_else(|e| StreamMessage::failure(e.message).to_line());
        let _ = body_tx.send(Ok(Bytes::from(last))).await;
    });
    let mut r = Response::new(http::fallible_channel(body_rx));
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(r)
}

fn progress_line(p: load::Progress) -> Vec<u8> {
    StreamMessage {
        id: Some(p.layer.short()),
        status: Some("Loading layer".into()),
        progress_detail: Some(ProgressDetail {
            current: Some(p.current),
            total: Some(p.total),
        }),
        ..Default::default()
    }
    .to_line()
}

fn json_lines(lines: Vec<u8>) -> Response<Body> {
    super::http::bytes(StatusCode::OK, "application/json", lines)
}

/// The lines naming what a load added (each image's `load` event), or
/// why it failed.
fn loaded_lines(
    engine: &crate::engine::Engine,
    done: Result<Result<Vec<load::Loaded>, archive::Error>, tokio::task::JoinError>,
) -> Result<Vec<u8>, ApiError> {
    let loaded = done.map_err(|e| ApiError::internal(format!("load task failed: {e}")))??;
    let mut lines = Vec::new();
    let mut line = |text: String| {
        lines.extend(
            StreamMessage {
                stream: Some(text),
                ..Default::default()
            }
            .to_line(),
        )
    };
    for image in &loaded {
        tracing::info!(image = %image.id, tags = image.tags.len(), "loaded");
        let id = image.id.to_string();
        engine.image_event("load", &id, &id);
        for (tag, old) in &image.moved {
            line(format!(
                "The image {tag} already exists, renaming the old one with ID {old} to empty string\n"
            ));
        }
        if image.tags.is_empty() {
            line(format!("Loaded image ID: {}\n", image.id));
        }
        for tag in &image.tags {
            line(format!("Loaded image: {tag}\n"));
        }
    }
    Ok(lines)
}

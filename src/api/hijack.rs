//! Attach and exec sessions: the HTTP connection is taken over (`101
//! UPGRADED`) and becomes a raw byte stream both ways. Output goes out raw
//! for a TTY, framed (`wire::frame_header`) otherwise; input goes to
//! the process's stdin unframed. When the client half-closes, stdin is
//! closed if the session owns it; the session ends when the output ends.

use super::error::ApiError;
use super::handle::Reply;
use super::http::full;
use crate::engine::Stdin;
use crate::engine::output::Chunk;
use crate::wire::frame_header;
use bytes::Bytes;
use hyper::body::Incoming;
use hyper::header::{CONNECTION, CONTENT_TYPE, HeaderValue, UPGRADE};
use hyper::upgrade::Upgraded;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::future::Future;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

pub type Conn = TokioIo<Upgraded>;

/// Answers `101 UPGRADED` and runs `session` on the connection once hyper
/// hands it over.
pub fn upgrade<F, Fut>(req: &mut Request<Incoming>, tty: bool, session: F) -> Reply
where
    F: FnOnce(Conn) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    if req.headers().get(UPGRADE).is_none() {
        return Err(ApiError::bad_request(
            "this endpoint takes over the connection: send Connection: Upgrade and Upgrade: tcp",
        ));
    }
    let on_upgrade = hyper::upgrade::on(req);
    tokio::spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => session(TokioIo::new(upgraded)).await,
            Err(e) => tracing::debug!("upgrade failed: {e}"),
        }
    });
    let mut resp = Response::new(full(Bytes::new()));
    *resp.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = resp.headers_mut();
    h.insert(CONNECTION, HeaderValue::from_static("Upgrade"));
    h.insert(UPGRADE, HeaderValue::from_static("tcp"));
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static(if tty {
            "application/vnd.docker.raw-stream"
        } else {
            "application/vnd.docker.multiplexed-stream"
        }),
    );
    Ok(resp)
}

/// What a session carries.
pub struct Session {
    /// Output already there (log replay), then the live subscription.
    pub replay: Vec<Chunk>,
    pub output: Option<mpsc::UnboundedReceiver<Chunk>>,
    pub stdout: bool,
    pub stderr: bool,
    /// Where the client's input goes, and whether its end closes stdin.
    pub stdin: Option<(Arc<Stdin>, bool)>,
    pub tty: bool,
    /// Awaited after the output ends, before the stream closes.
    pub before_close: Option<std::pin::Pin<Box<dyn Future<Output = ()> + Send>>>,
}

pub fn encode(tty: bool, (stream, data): &Chunk) -> Bytes {
    if tty {
        return data.clone();
    }
    let mut v = Vec::with_capacity(8 + data.len());
    v.extend_from_slice(&frame_header(*stream, data.len()));
    v.extend_from_slice(data);
    Bytes::from(v)
}

pub async fn run(conn: Conn, mut s: Session) {
    let (mut rd, mut wr) = tokio::io::split(conn);
    let wanted = |stream: u8| (stream == 1 && s.stdout) || (stream == 2 && s.stderr);
    let stdin = s.stdin.take();
    let input = async move {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            match rd.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if let Some((sink, _)) = &stdin {
                        let sink = sink.clone();
                        let data = buf[..n].to_vec();
                        let _ = tokio::task::spawn_blocking(move || sink.write(&data)).await;
                    }
                }
            }
        }
        if let Some((sink, true)) = &stdin {
            sink.close();
        }
        // Half-closed: keep sending output until it ends.
        std::future::pending::<()>().await
    };
    let tty = s.tty;
    let output = async move {
        for chunk in &s.replay {
            if wanted(chunk.0) && wr.write_all(&encode(tty, chunk)).await.is_err() {
                return;
            }
        }
        if let Some(rx) = s.output.as_mut() {
            while let Some(chunk) = rx.recv().await {
                if wanted(chunk.0) && wr.write_all(&encode(tty, &chunk)).await.is_err() {
                    return;
                }
            }
        }
        if let Some(f) = s.before_close.take() {
            f.await;
        }
        let _ = wr.shutdown().await;
    };
    tokio::select! {
        _ = output => {}
        _ = input => {}
    }
}

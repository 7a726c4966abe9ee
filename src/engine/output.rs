//! A process's output: read from its pipes or pty by one thread per source,
//! appended to the container's log and handed to every attached client.
//!
//! Invariant: the log append and the hand-out to subscribers happen under
//! one lock, so a client that subscribes and notes the log's length at that
//! moment sees every byte exactly once (the file up to that length, then
//! the subscription).
//!
//! A run's output has ended when every reader has reached the end of its
//! source; [`Output::wait_drained`] lets the exit wait for that.

use crate::time;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

pub const STDOUT: u8 = 1;
pub const STDERR: u8 = 2;

/// How long an exit waits for its output to be read to the end (Docker's
/// wait for its streams, too): longer only if something outside the
/// container still holds its pipes.
pub const DRAIN_LIMIT: Duration = Duration::from_secs(2);

/// One chunk of output and the stream it came from.
pub type Chunk = (u8, Bytes);

/// A line of the log file, in Docker's json-file format.
#[derive(Serialize, Deserialize)]
pub struct LogLine {
    pub log: String,
    pub stream: String,
    pub time: String,
}

pub struct Output {
    inner: Mutex<Inner>,
    /// Notified when the last reader of a run ends (`sources` reaches 0).
    drained: Condvar,
    log_path: Option<PathBuf>,
}

struct Inner {
    log: Option<File>,
    log_len: u64,
    subscribers: Vec<mpsc::UnboundedSender<Chunk>>,
    /// Readers of the current run still going; its output has ended at 0.
    sources: usize,
}

impl Output {
    /// Output kept in `log_path` (a container's), or only handed out (an exec's).
    pub fn new(log_path: Option<&Path>) -> Output {
        let log_len = log_path.and_then(|p| std::fs::metadata(p).ok()).map_or(0, |m| m.len());
        Output {
            inner: Mutex::new(Inner {
                log: None,
                log_len,
                subscribers: Vec::new(),
                sources: 0,
            }),
            drained: Condvar::new(),
            log_path: log_path.map(Path::to_path_buf),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn log_path(&self) -> Option<&Path> {
        self.log_path.as_deref()
    }

    /// Starts a reader thread for each source of a new run.
    pub fn start_run(self: &Arc<Self>, sources: Vec<(u8, File)>) {
        {
            let mut inner = self.lock();
            inner.sources += sources.len();
            if inner.log.is_none()
                && let Some(p) = &self.log_path
            {
                // The log is what the container printed: its user's alone.
                let opened = {
                    use std::os::unix::fs::OpenOptionsExt;
                    std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .mode(0o600)
                        .open(p)
                };
                match opened {
                    Ok(f) => inner.log = Some(f),
                    Err(e) => tracing::warn!("opening the log {}: {e}", p.display()),
                }
            }
        }
        for (stream, file) in sources {
            let out = self.clone();
            let spawned = std::thread::Builder::new()
                .name("output".into())
                .spawn(move || out.pump(stream, file));
            if let Err(e) = spawned {
                tracing::error!("starting an output reader: {e}");
                self.source_done();
            }
        }
    }

    fn pump(&self, stream: u8, mut file: File) {
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            match file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => self.publish(stream, &buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // A pty master reads EIO once every slave is closed: the end.
                Err(_) => break,
            }
        }
        self.source_done();
    }

    fn publish(&self, stream: u8, data: &[u8]) {
        let mut inner = self.lock();
        if let Some(log) = inner.log.as_mut() {
            let (secs, nanos) = time::now();
            let line = LogLine {
                log: String::from_utf8_lossy(data).into_owned(),
                stream: if stream == STDERR { "stderr" } else { "stdout" }.into(),
                time: time::format_rfc3339(secs, nanos),
            };
            let mut bytes = serde_json::to_vec(&line).unwrap_or_default();
            bytes.push(b'\n');
            match log.write_all(&bytes) {
                Ok(()) => inner.log_len += bytes.len() as u64,
                Err(e) => tracing::warn!("writing the container log: {e}"),
            }
        }
        let chunk = Bytes::copy_from_slice(data);
        inner.subscribers.retain(|s| s.send((stream, chunk.clone())).is_ok());
    }

    fn source_done(&self) {
        let mut inner = self.lock();
        inner.sources = inner.sources.saturating_sub(1);
        if inner.sources == 0 {
            // The run's output has ended: attached clients are done.
            inner.subscribers.clear();
            inner.log = None;
            self.drained.notify_all();
        }
    }

    /// Waits until the current run's output has been read to its end (every
    /// reader saw end of file), at most `limit`; false if it had not by then.
    pub fn wait_drained(&self, limit: Duration) -> bool {
        let inner = self.lock();
        let (inner, _) = self
            .drained
            .wait_timeout_while(inner, limit, |i| i.sources > 0)
            .unwrap_or_else(|p| p.into_inner());
        inner.sources == 0
    }

    /// Output from now on, and the log's length at this moment. The
    /// receiver ends when the current (or, before a start, the next) run's
    /// output ends.
    pub fn subscribe(&self) -> (mpsc::UnboundedReceiver<Chunk>, u64) {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut inner = self.lock();
        inner.subscribers.push(tx);
        (rx, inner.log_len)
    }

    /// True while a run's output is still being read.
    pub fn is_open(&self) -> bool {
        self.lock().sources > 0
    }

    /// Ends every subscription now (the container is gone).
    pub fn close(&self) {
        self.lock().subscribers.clear();
    }
}

/// The log's lines up to `limit` bytes (what existed at a subscription).
pub fn read_log(path: &Path, limit: u64) -> io::Result<Vec<LogLine>> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut bytes = Vec::new();
    file.take(limit).read_to_end(&mut bytes)?;
    Ok(bytes
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .filter_map(|l| serde_json::from_slice(l).ok())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscribers_see_each_byte_once_and_end_with_the_run() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log.json");
        let out = Arc::new(Output::new(Some(&log)));
        let (r1, w1) = std::io::pipe().unwrap();
        let (mut rx, len) = out.subscribe();
        assert_eq!(len, 0);
        out.start_run(vec![(STDOUT, File::from(std::os::fd::OwnedFd::from(r1)))]);
        let mut w1 = w1;
        w1.write_all(b"hello\n").unwrap();
        drop(w1);
        let mut got = Vec::new();
        while let Some((s, b)) = rx.blocking_recv() {
            assert_eq!(s, STDOUT);
            got.extend_from_slice(&b);
        }
        assert_eq!(got, b"hello\n");
        let lines = read_log(&log, u64::MAX).unwrap();
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].log, "hello\n");
        assert_eq!(lines[0].stream, "stdout");
        // A later subscriber starts after what the log holds.
        let (_rx2, len2) = out.subscribe();
        assert_eq!(len2, std::fs::metadata(&log).unwrap().len());
    }

    #[test]
    fn wait_drained_returns_once_every_source_is_read_to_its_end() {
        let out = Arc::new(Output::new(None));
        let (mut rx, _) = out.subscribe();
        let (r1, mut w1) = std::io::pipe().unwrap();
        let (r2, mut w2) = std::io::pipe().unwrap();
        out.start_run(vec![
            (STDOUT, File::from(std::os::fd::OwnedFd::from(r1))),
            (STDERR, File::from(std::os::fd::OwnedFd::from(r2))),
        ]);
        w1.write_all(b"out").unwrap();
        w2.write_all(b"err").unwrap();
        drop(w1);
        // One writer still open: not drained, however long we wait.
        assert!(!out.wait_drained(Duration::from_millis(100)));
        drop(w2);
        assert!(out.wait_drained(Duration::from_secs(10)));
        // Drained means published: both streams are already in the channel.
        let mut got = Vec::new();
        while let Ok((s, b)) = rx.try_recv() {
            got.push((s, b));
        }
        got.sort();
        assert_eq!(got, vec![(STDOUT, Bytes::from("out")), (STDERR, Bytes::from("err"))]);
    }
}

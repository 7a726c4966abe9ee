//! Progress of moving images (pull, push), as typed events on a channel:
//! the api turns each into one line of Docker's JSON stream. Layer events
//! carry the layer's short ID (12 hex digits of its blob digest) and, while
//! bytes move, how many of how many.

use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Where a layer is, in Docker's words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayerState {
    PullingFsLayer,
    Waiting,
    Downloading,
    VerifyingChecksum,
    DownloadComplete,
    Extracting,
    PullComplete,
    AlreadyExists,
    Preparing,
    Pushing,
    Pushed,
    LayerAlreadyExists,
}

impl LayerState {
    pub fn text(self) -> &'static str {
        match self {
            LayerState::PullingFsLayer => "Pulling fs layer",
            LayerState::Waiting => "Waiting",
            LayerState::Downloading => "Downloading",
            LayerState::VerifyingChecksum => "Verifying Checksum",
            LayerState::DownloadComplete => "Download complete",
            LayerState::Extracting => "Extracting",
            LayerState::PullComplete => "Pull complete",
            LayerState::AlreadyExists => "Already exists",
            LayerState::Preparing => "Preparing",
            LayerState::Pushing => "Pushing",
            LayerState::Pushed => "Pushed",
            LayerState::LayerAlreadyExists => "Layer already exists",
        }
    }
}

/// One progress event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A line of its own (`Digest: …`), or about `id` (`latest: Pulling
    /// from library/busybox`).
    Message { id: Option<String>, text: String },
    /// A tag pushed: its manifest's digest and size (the stream's `aux`).
    Pushed { tag: String, digest: String, size: u64 },
    /// A layer's state; `bytes` is `(current, total)` while it moves.
    Layer {
        id: String,
        state: LayerState,
        bytes: Option<(u64, Option<u64>)>,
    },
}

/// The sending side, which never fails the work: a client that went away
/// stops getting lines, the pull goes on.
#[derive(Clone)]
pub struct Progress(Option<mpsc::Sender<Event>>);

/// Byte counts are sent at most this often per layer.
const BYTES_INTERVAL: Duration = Duration::from_millis(100);

impl Progress {
    pub fn new(tx: mpsc::Sender<Event>) -> Progress {
        Progress(Some(tx))
    }

    /// Progress nobody watches.
    pub fn none() -> Progress {
        Progress(None)
    }

    pub async fn send(&self, event: Event) {
        if let Some(tx) = &self.0 {
            let _ = tx.send(event).await;
        }
    }

    pub async fn message(&self, id: Option<&str>, text: impl Into<String>) {
        let id = id.map(str::to_string);
        self.send(Event::Message { id, text: text.into() }).await;
    }

    pub async fn layer(&self, id: &str, state: LayerState) {
        let id = id.to_string();
        self.send(Event::Layer { id, state, bytes: None }).await;
    }
}

/// Byte counts of one layer, throttled to [`BYTES_INTERVAL`].
pub struct ByteCounter {
    id: String,
    state: LayerState,
    total: Option<u64>,
    current: u64,
    last: Option<Instant>,
}

impl ByteCounter {
    pub fn new(id: &str, state: LayerState, total: Option<u64>) -> ByteCounter {
        ByteCounter {
            id: id.to_string(),
            state,
            total,
            current: 0,
            last: None,
        }
    }

    /// Counts `n` more bytes, and reports them unless it did so just now.
    pub async fn add(&mut self, progress: &Progress, n: u64) {
        self.current += n;
        let due = self.last.is_none_or(|t| t.elapsed() >= BYTES_INTERVAL);
        if due || self.total == Some(self.current) {
            self.last = Some(Instant::now());
            let event = Event::Layer {
                id: self.id.clone(),
                state: self.state,
                bytes: Some((self.current, self.total)),
            };
            progress.send(event).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn byte_counts_are_throttled_but_the_last_is_sent() {
        let (tx, mut rx) = mpsc::channel(100);
        let progress = Progress::new(tx);
        let mut c = ByteCounter::new("abc", LayerState::Downloading, Some(30));
        for _ in 0..3 {
            c.add(&progress, 10).await;
        }
        drop(progress);
        let mut got = Vec::new();
        while let Some(e) = rx.recv().await {
            got.push(e);
        }
        let counts: Vec<_> = got
            .iter()
            .map(|e| match e {
                Event::Layer { bytes, .. } => bytes.unwrap(),
                _ => panic!("{e:?}"),
            })
            .collect();
        assert_eq!(counts, vec![(10, Some(30)), (30, Some(30))]);
        assert_eq!(LayerState::VerifyingChecksum.text(), "Verifying Checksum");
    }
}

//! `pull`: an image from a registry into the store. The name is resolved
//! (an index to the platform asked for), the config fetched and checked
//! against its digest, then the layers, 3 at a time: each streamed from the
//! network through the store's checked extraction (sha256 and size of the
//! blob, decompression, sha256 of the tar: no copy of the blob on disk),
//! so that nothing becomes visible before it is verified. The image (its
//! config bytes verbatim), tag and RepoDigest are committed in one state
//! write at the end. Layers already stored are skipped. A failure leaves
//! nothing of this pull behind: no image, no tag, no layer.

use super::Engine;
use super::error::Error;
use super::progress::{ByteCounter, LayerState, Progress};
use crate::layers::{BlobExpectation, Digest, ExpectedLayer, ExternalImage, ImageConfig, Store};
use crate::registry::{self, Credentials, Platform, RegistryConfig, RemoteName, Session, manifest};
use bytes::Bytes;
use std::io::{self, Read};
use std::sync::Arc;
use tokio::sync::{Semaphore, mpsc, watch};

/// Layers downloaded at once, as Docker does.
const CONCURRENT_DOWNLOADS: usize = 3;
/// Pieces of a blob in flight between the network and the extraction.
const PIECES_IN_FLIGHT: usize = 16;

/// What to pull, as the API's `POST /images/create` asks.
#[derive(Clone, Debug)]
pub struct PullRequest {
    pub image: String,
    pub tag: String,
    /// `os/arch[/variant]`; the host's platform when `None`.
    pub platform: Option<String>,
    pub credentials: Credentials,
}

/// What a pull did.
#[derive(Clone, Debug)]
pub struct PullOutcome {
    pub image: Digest,
    /// The manifest's digest (an index's, for a list): the RepoDigest.
    pub digest: Digest,
    /// False when the tag already named this image ("up to date").
    pub updated: bool,
    /// `NAME:TAG` (or `NAME@DIGEST`) as Docker's status line shows it.
    pub name: String,
}

impl Engine {
    /// Pulls `req`, reporting on `progress`. Errors before the first event
    /// (a bad name, a missing manifest, refused credentials) are for the
    /// API to answer with a status; later ones end the stream.
    pub async fn pull(
        &self,
        config: RegistryConfig,
        req: PullRequest,
        progress: Progress,
    ) -> Result<PullOutcome, Error> {
        let outcome = pull(&self.store, config, req, progress).await?;
        // As moby's: the reference pulled, and its repository's name.
        let repository = match outcome.name.split_once('@') {
            Some((repo, _)) => repo.to_string(),
            None => crate::layers::Reference::parse(&outcome.name)
                .map(|r| r.name().to_string())
                .unwrap_or_else(|_| outcome.name.clone()),
        };
        self.image_event("pull", &outcome.name, &repository);
        Ok(outcome)
    }
}

/// A registry failure as the engine's kinds.
pub(super) fn registry_error(e: registry::Error) -> Error {
    if e.is_not_found() {
        Error::NotFound(e.to_string())
    } else if e.is_unauthorized() {
        Error::Unauthorized(e.to_string())
    } else if e.is_bad_request() {
        Error::InvalidArgument(e.to_string())
    } else {
        Error::Internal(e.to_string())
    }
}

pub async fn pull(
    store: &Arc<Store>,
    config: RegistryConfig,
    req: PullRequest,
    progress: Progress,
) -> Result<PullOutcome, Error> {
    let name = RemoteName::parse(&req.image, &req.tag).map_err(registry_error)?;
    let asked = match &req.platform {
        Some(p) if !p.is_empty() => Some(Platform::parse(p).map_err(registry_error)?),
        _ => None,
    };
    let platform = asked.clone().unwrap_or_else(Platform::host);
    let session = Session::new(config, name.clone(), req.credentials, "pull");
    let resolved = session.resolve(&platform).await.map_err(registry_error)?;
    let id = if name.tag().is_empty() {
        resolved.digest.to_string()
    } else {
        name.tag().to_string()
    };
    progress
        .message(Some(&id), format!("Pulling from {}", name.path()))
        .await;
    let config_bytes = session
        .blob_bytes(&resolved.config, manifest::MAX_CONFIG_BYTES)
        .await
        .map_err(registry_error)?;
    let image_config = ImageConfig::parse(&config_bytes).map_err(crate::layers::Error::from)?;
    let mismatch = platform_mismatch(asked.as_ref(), &image_config, &name);
    let diff_ids = image_config.rootfs.diff_ids.clone();
    if diff_ids.len() != resolved.layers.len() {
        return Err(Error::InvalidArgument(format!(
            "layers from manifest don't match image configuration: {} layers, {} diff_ids",
            resolved.layers.len(),
            diff_ids.len()
        )));
    }
    let layers: Vec<PlannedLayer> = resolved
        .layers
        .iter()
        .zip(&diff_ids)
        .map(|(l, d)| PlannedLayer {
            expected: ExpectedLayer {
                diff_id: *d,
                compression: l.compression,
                blob: Some(BlobExpectation {
                    digest: l.blob.digest,
                    size: l.blob.size,
                }),
            },
            stored: store.layer(d).is_some(),
        })
        .collect();
    let fetched = fetch_layers(store, &session, &layers, &progress).await;
    let committed = match fetched {
        Ok(()) => commit(store, &name, &config_bytes, resolved.digest, &layers).await,
        Err(e) => Err(e),
    };
    let (image, updated) = match committed {
        Ok(x) => x,
        Err(e) => {
            let fresh: Vec<Digest> = layers
                .iter()
                .filter(|l| !l.stored)
                .map(|l| l.expected.diff_id)
                .collect();
            let store = Arc::clone(store);
            let _ = tokio::task::spawn_blocking(move || store.discard_unreferenced_layers(&fresh)).await;
            return Err(e);
        }
    };
    progress.message(None, format!("Digest: {}", resolved.digest)).await;
    let name = name.display();
    let status = if updated {
        "Downloaded newer image for"
    } else {
        "Image is up to date for"
    };
    progress.message(None, format!("Status: {status} {name}")).await;
    if let Some(warning) = mismatch {
        progress.message(None, warning).await;
    }
    Ok(PullOutcome {
        image,
        digest: resolved.digest,
        updated,
        name,
    })
}

/// Docker's warning when the image pulled is not of the platform asked for
/// (a single-platform image, which has no other to offer): the pull stands,
/// as Docker's does, and the stream says so. `None` when none was asked.
fn platform_mismatch(asked: Option<&Platform>, config: &ImageConfig, name: &RemoteName) -> Option<String> {
    let asked = asked?;
    let variant = config.extra.get("variant").and_then(|v| v.as_str());
    let actual = Platform::new(&config.os, &config.architecture, variant);
    if asked.matches(&actual) {
        return None;
    }
    let full = match name.digest() {
        Some(d) => format!("{}/{}@{d}", name.domain(), name.path()),
        None => format!("{}/{}:{}", name.domain(), name.path(), name.tag()),
    };
    Some(format!(
        "WARNING: image with reference {full} was found but does not match the specified platform: wanted {asked}, actual: {actual}"
    ))
}

/// A layer of the image and whether the store already has it.
struct PlannedLayer {
    expected: ExpectedLayer,
    stored: bool,
}

impl PlannedLayer {
    fn short_id(&self) -> String {
        self.expected.blob.map(|b| b.digest.short()).unwrap_or_default()
    }
}

/// Downloads and stores the layers not yet stored, [`CONCURRENT_DOWNLOADS`]
/// at a time. On the first failure the others are told to stop, and every
/// one is waited for (so none is renamed into place after the cleanup).
async fn fetch_layers(
    store: &Arc<Store>,
    session: &Arc<Session>,
    layers: &[PlannedLayer],
    progress: &Progress,
) -> Result<(), Error> {
    for l in layers {
        let state = if l.stored {
            LayerState::AlreadyExists
        } else {
            LayerState::PullingFsLayer
        };
        progress.layer(&l.short_id(), state).await;
    }
    let permits = Arc::new(Semaphore::new(CONCURRENT_DOWNLOADS));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();
    for (n, l) in layers.iter().filter(|l| !l.stored).enumerate() {
        if n >= CONCURRENT_DOWNLOADS {
            progress.layer(&l.short_id(), LayerState::Waiting).await;
        }
        let job = LayerJob {
            store: Arc::clone(store),
            session: Arc::clone(session),
            expected: l.expected,
            id: l.short_id(),
            progress: progress.clone(),
            stop: stop_rx.clone(),
        };
        let permits = Arc::clone(&permits);
        tasks.spawn(async move {
            let _permit = permits
                .acquire_owned()
                .await
                .map_err(|_| Error::internal("pull cancelled"))?;
            job.run().await
        });
    }
    let mut first_error = None;
    while let Some(joined) = tasks.join_next().await {
        let result = joined.unwrap_or_else(|e| Err(Error::internal(format!("layer task failed: {e}"))));
        if let Err(e) = result
            && first_error.is_none()
        {
            let _ = stop_tx.send(true);
            first_error = Some(e);
        }
    }
    first_error.map_or(Ok(()), Err)
}

/// One layer's download into the store.
struct LayerJob {
    store: Arc<Store>,
    session: Arc<Session>,
    expected: ExpectedLayer,
    id: String,
    progress: Progress,
    stop: watch::Receiver<bool>,
}

impl LayerJob {
    async fn run(mut self) -> Result<(), Error> {
        if *self.stop.borrow() {
            return Err(Error::internal("pull cancelled"));
        }
        let blob = self.expected.blob.expect("a pulled layer has a blob");
        let (tx, rx) = mpsc::channel::<io::Result<Bytes>>(PIECES_IN_FLIGHT);
        let store = Arc::clone(&self.store);
        let expected = self.expected;
        let extraction = tokio::task::spawn_blocking(move || {
            store.store_layer_expecting(
                PieceReader {
                    rx,
                    piece: Bytes::new(),
                },
                &expected,
            )
        });
        let downloaded = self.download(blob, tx).await;
        // The extraction ends either way: the sender is gone.
        let stored = extraction
            .await
            .map_err(|e| Error::internal(format!("layer extraction failed: {e}")))?;
        downloaded?;
        stored?;
        self.progress.layer(&self.id, LayerState::PullComplete).await;
        Ok(())
    }

    /// Feeds the blob to the extraction; the pieces' own errors go to it too
    /// (so it stops), and are returned.
    async fn download(&mut self, blob: BlobExpectation, tx: mpsc::Sender<io::Result<Bytes>>) -> Result<(), Error> {
        let mut counter = ByteCounter::new(&self.id, LayerState::Downloading, Some(blob.size));
        let mut stream = self
            .session
            .blob(blob.digest, Some(blob.size))
            .await
            .map_err(registry_error)?;
        loop {
            let piece = tokio::select! {
                piece = stream.next_chunk() => piece,
                _ = self.stop.changed() => return Err(Error::internal("pull cancelled")),
            };
            match piece {
                Ok(Some(data)) => {
                    let n = data.len() as u64;
                    if tx.send(Ok(data)).await.is_err() {
                        // The extraction refused the layer; its error says why.
                        return Ok(());
                    }
                    counter.add(&self.progress, n).await;
                }
                Ok(None) => break,
                Err(e) => {
                    let _ = tx.send(Err(io::Error::other(e.to_string()))).await;
                    return Err(registry_error(e));
                }
            }
        }
        drop(tx);
        for state in [
            LayerState::VerifyingChecksum,
            LayerState::DownloadComplete,
            LayerState::Extracting,
        ] {
            self.progress.layer(&self.id, state).await;
        }
        Ok(())
    }
}

/// Commits the image with its tag, RepoDigest and blob records; returns
/// its ID and whether the tag moved to it.
async fn commit(
    store: &Arc<Store>,
    name: &RemoteName,
    config: &Bytes,
    digest: Digest,
    layers: &[PlannedLayer],
) -> Result<(Digest, bool), Error> {
    let store = Arc::clone(store);
    let tag = name.store_tag();
    let repo_digest = name.repo_digest(&digest);
    let blobs: Vec<(Digest, Digest)> = layers
        .iter()
        .filter_map(|l| l.expected.blob.map(|b| (b.digest, l.expected.diff_id)))
        .collect();
    let config = config.clone();
    tokio::task::spawn_blocking(move || {
        let id = Digest::of(&config);
        let before = match &tag {
            Some(t) => store.resolve(&t.to_string()).ok(),
            None => store.image(&id.to_string()).ok().map(|i| i.id),
        };
        let image = ExternalImage {
            config: &config,
            tags: tag.into_iter().collect(),
            repo_digests: vec![repo_digest],
            blobs,
        };
        let id = store.add_external_image(&image)?;
        Ok((id, before != Some(id)))
    })
    .await
    .map_err(|e| Error::internal(format!("commit task failed: {e}")))?
}

/// The blocking side of a blob's pieces: what the extraction reads.
pub struct PieceReader {
    rx: mpsc::Receiver<io::Result<Bytes>>,
    piece: Bytes,
}

impl PieceReader {
    pub fn new(rx: mpsc::Receiver<io::Result<Bytes>>) -> PieceReader {
        PieceReader {
            rx,
            piece: Bytes::new(),
        }
    }
}

impl Read for PieceReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.piece.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(p)) => self.piece = p,
                Some(Err(e)) => return Err(e),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.piece.len());
        buf[..n].copy_from_slice(&self.piece.split_to(n));
        Ok(n)
    }
}

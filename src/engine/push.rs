//! `push`: an image of the store to a registry. Each layer's exact tar
//! (`Store::layer_tar`) is gzip-compressed deterministically — no name, no
//! mtime, one level — so the same layer always makes the same blob, and
//! that blob is remembered for the layer (the store's blob map, as a pull
//! fills it): the next push of the layer finds it with a `HEAD` ("Layer
//! already exists") or mounts it from the repository it was pulled from.
//! Otherwise the blob is compressed and uploaded in one pass, in chunks,
//! 3 layers at a time: no copy of it on disk. Then the config and the
//! Docker schema 2 manifest, by tag.

use super::Engine;
use super::error::Error;
use super::progress::{ByteCounter, Event, LayerState, Progress};
use super::pull::registry_error;
use crate::layers::{Digest, ImageConfig, Reference, Store};
use crate::registry::{Credentials, Mount, RegistryConfig, RemoteName, Session, Upload};
use bytes::Bytes;
use sha2::{Digest as _, Sha256};
use std::io::{self, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::{Semaphore, mpsc};

/// Layers uploaded at once.
const CONCURRENT_UPLOADS: usize = 3;
/// The gzip level of every pushed layer. Fixed: a layer's blob digest
/// depends on it. The fastest level: on a fast network compression is
/// the push's cost, and it costs a few per cent of size only.
pub const PUSH_GZIP_LEVEL: u32 = 1;
/// Bytes of compressed layer per `PATCH`: what one layer holds in memory
/// (a chunk being sent, one being filled).
const CHUNK_BYTES: usize = 4 << 20;

pub const MEDIA_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const MEDIA_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
const MEDIA_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";

/// What to push, as `POST /images/{name}/push?tag=` asks.
#[derive(Clone, Debug)]
pub struct PushRequest {
    pub name: String,
    /// Empty: every tag of the name (`--all-tags`).
    pub tag: String,
    pub credentials: Credentials,
}

/// One tag pushed: the manifest's digest and size, as Docker reports them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushedTag {
    pub tag: String,
    pub digest: Digest,
    pub size: u64,
}

impl Engine {
    /// The tags `req` pushes, checked before anything is sent: Docker's 404
    /// when the name (or name:tag) is not in the store.
    pub fn push_tags(&self, req: &PushRequest) -> Result<Vec<Reference>, Error> {
        tags_to_push(&self.store, &req.name, &req.tag)
    }

    /// Pushes every tag of `req`, reporting on `progress`.
    pub async fn push(
        &self,
        config: RegistryConfig,
        req: PushRequest,
        progress: Progress,
    ) -> Result<Vec<PushedTag>, Error> {
        let tags = tags_to_push(&self.store, &req.name, &req.tag)?;
        let first = tags.first().map_or("latest", |t| t.tag());
        let name = RemoteName::parse(&req.name, first).map_err(registry_error)?;
        progress
            .message(
                None,
                format!("The push refers to repository [{}/{}]", name.domain(), name.path()),
            )
            .await;
        let session = Session::new(config, name, req.credentials, "pull,push");
        let mut pushed = Vec::new();
        for tag in &tags {
            let done = push_tag(&self.store, &session, tag, &progress).await?;
            self.image_event("push", &tag.to_string(), tag.name());
            progress
                .message(
                    None,
                    format!("{}: digest: {} size: {}", done.tag, done.digest, done.size),
                )
                .await;
            progress
                .send(Event::Pushed {
                    tag: done.tag.clone(),
                    digest: done.digest.to_string(),
                    size: done.size,
                })
                .await;
            pushed.push(done);
        }
        Ok(pushed)
    }
}

/// `name:tag`, or with no tag every tag of `name`; Docker's wording when
/// there is none.
fn tags_to_push(store: &Store, name: &str, tag: &str) -> Result<Vec<Reference>, Error> {
    let missing = || Error::NotFound(format!("An image does not exist locally with the tag: {name}"));
    let wanted = RemoteName::parse(name, if tag.is_empty() { "latest" } else { tag }).map_err(registry_error)?;
    if !tag.is_empty() || name.contains('@') {
        let reference = wanted.store_tag().ok_or_else(missing)?;
        store.image(&reference.to_string()).map_err(|_| missing())?;
        return Ok(vec![reference]);
    }
    let mut tags: Vec<Reference> = store
        .images()
        .into_iter()
        .flat_map(|i| i.tags)
        .filter(|t| t.name() == wanted.familiar())
        .collect();
    tags.sort_by(|a, b| a.tag().cmp(b.tag()));
    if tags.is_empty() {
        return Err(missing());
    }
    Ok(tags)
}

/// One tag: its layers (3 at a time), its config, its manifest.
async fn push_tag(
    store: &Arc<Store>,
    session: &Arc<Session>,
    tag: &Reference,
    progress: &Progress,
) -> Result<PushedTag, Error> {
    let config_bytes = store.config_bytes(&tag.to_string()).map_err(Error::from)?;
    let config = ImageConfig::parse(&config_bytes).map_err(crate::layers::Error::from)?;
    let diff_ids = config.rootfs.diff_ids.clone();
    for d in &diff_ids {
        progress.layer(&short(d), LayerState::Preparing).await;
    }
    let slots = Arc::new(Semaphore::new(CONCURRENT_UPLOADS));
    let mut tasks = Vec::new();
    for (i, diff_id) in diff_ids.iter().enumerate() {
        if i >= CONCURRENT_UPLOADS {
            progress.layer(&short(diff_id), LayerState::Waiting).await;
        }
        let sources = mount_sources(store, diff_id, session.name());
        let (store, session, progress, slots) = (
            Arc::clone(store),
            Arc::clone(session),
            progress.clone(),
            Arc::clone(&slots),
        );
        let diff_id = *diff_id;
        tasks.push(tokio::spawn(async move {
            let _slot = slots
                .acquire_owned()
                .await
                .map_err(|e| Error::Internal(e.to_string()))?;
            push_layer(&store, &session, &diff_id, &sources, &progress).await
        }));
    }
    let layers = join_in_order(tasks).await?;
    let config_digest = session
        .put_blob(Bytes::from(config_bytes.clone()))
        .await
        .map_err(registry_error)?;
    let manifest = schema2_manifest(&config_digest, config_bytes.len() as u64, &layers);
    let size = manifest.len() as u64;
    let digest = session
        .put_manifest(tag.tag(), MEDIA_MANIFEST, Bytes::from(manifest))
        .await
        .map_err(registry_error)?;
    Ok(PushedTag {
        tag: tag.tag().to_string(),
        digest,
        size,
    })
}

/// The layers' results in order; the first failure stops the others.
async fn join_in_order(
    tasks: Vec<tokio::task::JoinHandle<Result<(Digest, u64), Error>>>,
) -> Result<Vec<(Digest, u64)>, Error> {
    let mut layers = Vec::new();
    let mut tasks = tasks.into_iter();
    while let Some(t) = tasks.next() {
        let done = t
            .await
            .map_err(|e| Error::Internal(format!("push task failed: {e}")))
            .and_then(|r| r);
        match done {
            Ok(layer) => layers.push(layer),
            Err(e) => {
                tasks.for_each(|t| t.abort());
                return Err(e);
            }
        }
    }
    Ok(layers)
}

/// The 12 hex digits Docker shows a layer by.
fn short(d: &Digest) -> String {
    d.hex()[..12].to_string()
}

/// Where a layer's blob may be mounted from: the repositories of the same
/// registry that images holding the layer were pulled from (their
/// RepoDigests), other than the one pushed to. (Docker keeps each blob's
/// source repository; the RepoDigests of the images that hold it are ours.)
fn mount_sources(store: &Store, diff_id: &Digest, target: &RemoteName) -> Vec<String> {
    let digests: Vec<String> = store
        .images()
        .into_iter()
        .filter(|i| i.config.rootfs.diff_ids.contains(diff_id))
        .flat_map(|i| i.repo_digests)
        .collect();
    repo_sources(&digests, target)
}

/// The repositories of `repo_digests` on `target`'s registry, other than
/// `target`'s own, each once.
fn repo_sources(repo_digests: &[String], target: &RemoteName) -> Vec<String> {
    let mut sources: Vec<String> = repo_digests
        .iter()
        .filter_map(|rd| RemoteName::parse(rd, "").ok())
        .filter(|n| n.domain() == target.domain() && n.path() != target.path())
        .map(|n| n.path().to_string())
        .collect();
    sources.sort();
    sources.dedup();
    sources
}

/// A layer's blob in the registry: found, mounted, or compressed and
/// uploaded (then remembered). Its digest and size.
async fn push_layer(
    store: &Arc<Store>,
    session: &Arc<Session>,
    diff_id: &Digest,
    sources: &[String],
    progress: &Progress,
) -> Result<(Digest, u64), Error> {
    let id = short(diff_id);
    let known = store.blobs_of_layer(diff_id);
    for blob in &known {
        if let Some(size) = session.blob_exists(blob).await.map_err(registry_error)?
            && is_gzip(session, blob).await?
        {
            progress.layer(&id, LayerState::LayerAlreadyExists).await;
            return Ok((*blob, size));
        }
    }
    let mut upload = None;
    'mounting: for blob in &known {
        for source in sources {
            match session.mount_blob(blob, source).await.map_err(registry_error)? {
                Mount::Mounted => {
                    let size = session.blob_exists(blob).await.map_err(registry_error)?;
                    if let Some(size) = size
                        && is_gzip(session, blob).await?
                    {
                        progress.message(Some(&id), format!("Mounted from {source}")).await;
                        return Ok((*blob, size));
                    }
                }
                Mount::Upload(u) => {
                    upload = Some(u);
                    break 'mounting;
                }
            }
        }
    }
    let upload = match upload {
        Some(u) => u,
        None => session.start_upload().await.map_err(registry_error)?,
    };
    let (digest, size) = upload_layer(store, session, diff_id, upload, progress).await?;
    store.remember_blob(digest, *diff_id).map_err(Error::from)?;
    progress.layer(&id, LayerState::Pushed).await;
    Ok((digest, size))
}

/// Whether a blob in the registry is gzip (a manifest here says so): a
/// blob the layer was pulled as may be zstd.
async fn is_gzip(session: &Arc<Session>, blob: &Digest) -> Result<bool, Error> {
    let head = session.blob_prefix(blob, 2).await.map_err(registry_error)?;
    Ok(head[..] == [0x1f, 0x8b])
}

/// Compresses the layer (in a blocking task) and sends it as it comes,
/// chunk by chunk, then commits the upload as the digest it turned out
/// to have.
async fn upload_layer(
    store: &Arc<Store>,
    session: &Arc<Session>,
    diff_id: &Digest,
    mut upload: Upload,
    progress: &Progress,
) -> Result<(Digest, u64), Error> {
    let tar = store.layer_tar(diff_id).map_err(Error::from)?;
    let mut counter = ByteCounter::new(&short(diff_id), LayerState::Pushing, Some(tar.size()));
    let read = Arc::new(AtomicU64::new(0));
    let (tx, mut rx) = mpsc::channel::<Bytes>(1);
    let read2 = Arc::clone(&read);
    let compress = tokio::task::spawn_blocking(move || compress_layer(tar, &tx, &read2));
    let mut reported = 0;
    while let Some(chunk) = rx.recv().await {
        session.upload_chunk(&mut upload, chunk).await.map_err(registry_error)?;
        let now = read.load(Ordering::Relaxed);
        counter.add(progress, now - reported).await;
        reported = now;
    }
    let (digest, size) = compress
        .await
        .map_err(|e| Error::Internal(format!("compressing layer {diff_id}: {e}")))?
        .map_err(|e| Error::Internal(format!("reading layer {diff_id}: {e}")))?;
    session
        .finish_upload(upload, &digest, Bytes::new())
        .await
        .map_err(registry_error)?;
    Ok((digest, size))
}

/// Reads `tar` through the deterministic gzip into chunks of
/// [`CHUNK_BYTES`] sent on `tx`, counting the tar's bytes in `read`: the
/// compressed blob's digest and size. The tar checks its own diff_id at
/// its end (an error then, and the upload is never committed).
fn compress_layer(tar: impl Read, tx: &mpsc::Sender<Bytes>, read: &AtomicU64) -> io::Result<(Digest, u64)> {
    let counted = Counted { inner: tar, read };
    let mut gz = deterministic_gzip(counted);
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    loop {
        let mut chunk = vec![0u8; CHUNK_BYTES];
        let mut filled = 0;
        while filled < CHUNK_BYTES {
            match gz.read(&mut chunk[filled..])? {
                0 => break,
                n => filled += n,
            }
        }
        chunk.truncate(filled);
        hasher.update(&chunk);
        size += filled as u64;
        let last = filled < CHUNK_BYTES;
        if filled > 0 && tx.blocking_send(Bytes::from(chunk)).is_err() {
            return Err(io::Error::other("the upload stopped"));
        }
        if last {
            return Ok((Digest::from_bytes(hasher.finalize().into()), size));
        }
    }
}

/// gzip of `reader` as every push makes it: no name, mtime 0, "unknown"
/// OS, [`PUSH_GZIP_LEVEL`].
pub fn deterministic_gzip<R: Read>(reader: R) -> flate2::read::GzEncoder<R> {
    flate2::GzBuilder::new()
        .mtime(0)
        .operating_system(255)
        .read(reader, flate2::Compression::new(PUSH_GZIP_LEVEL))
}

/// A reader counting what is read through it.
struct Counted<'a, R> {
    inner: R,
    read: &'a AtomicU64,
}

impl<R: Read> Read for Counted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// A Docker schema 2 manifest (fields in Docker's order).
fn schema2_manifest(config: &Digest, config_size: u64, layers: &[(Digest, u64)]) -> Vec<u8> {
    #[derive(serde::Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Descriptor {
        media_type: &'static str,
        size: u64,
        digest: String,
    }
    #[derive(serde::Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Manifest {
        schema_version: u32,
        media_type: &'static str,
        config: Descriptor,
        layers: Vec<Descriptor>,
    }
    let m = Manifest {
        schema_version: 2,
        media_type: MEDIA_MANIFEST,
        config: Descriptor {
            media_type: MEDIA_CONFIG,
            size: config_size,
            digest: config.to_string(),
        },
        layers: layers
            .iter()
            .map(|(d, size)| Descriptor {
                media_type: MEDIA_LAYER,
                size: *size,
                digest: d.to_string(),
            })
            .collect(),
    };
    serde_json::to_vec_pretty(&m).expect("a manifest serializes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_layer_compresses_to_the_same_blob() {
        let tar: Vec<u8> = (0..200_000u32).flat_map(|i| (i % 251).to_le_bytes()).collect();
        let run = || {
            let (tx, mut rx) = mpsc::channel(64);
            let read = AtomicU64::new(0);
            let (digest, size) = compress_layer(&tar[..], &tx, &read).unwrap();
            drop(tx);
            let mut blob = Vec::new();
            while let Ok(c) = rx.try_recv() {
                blob.extend_from_slice(&c);
            }
            assert_eq!(read.load(Ordering::Relaxed), tar.len() as u64);
            (digest, size, blob)
        };
        let (d1, s1, b1) = run();
        let (d2, s2, b2) = run();
        assert_eq!((d1, s1), (d2, s2));
        assert_eq!((Digest::of(&b1), b1.len() as u64), (d1, s1));
        assert_eq!(b1, b2);
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(&b1[..]).read_to_end(&mut back).unwrap();
        assert_eq!(back, tar);
        // mtime 0 and the "unknown" OS in the header.
        assert_eq!((&b1[4..8], b1[9]), (&[0u8; 4][..], 255));
    }

    #[test]
    fn the_manifest_lists_config_and_layers_in_order() {
        let (c, l1, l2) = (Digest::of(b"c"), Digest::of(b"1"), Digest::of(b"2"));
        let m: serde_json::Value = serde_json::from_slice(&schema2_manifest(&c, 10, &[(l1, 5), (l2, 6)])).unwrap();
        assert_eq!(m["mediaType"], MEDIA_MANIFEST);
        assert_eq!(m["config"]["digest"], c.to_string());
        assert_eq!(m["layers"][1]["digest"], l2.to_string());
        assert_eq!(m["layers"][0]["size"], 5);
        assert_eq!(m["layers"][0]["mediaType"], MEDIA_LAYER);
    }

    #[test]
    fn mounts_come_from_other_repositories_of_the_same_registry() {
        let target = RemoteName::parse("127.0.0.1:5000/mine", "v1").unwrap();
        let d = Digest::of(b"m");
        let digests = vec![
            format!("127.0.0.1:5000/library/busybox@{d}"),
            format!("127.0.0.1:5000/mine@{d}"),
            format!("other.lan/library/busybox@{d}"),
        ];
        assert_eq!(repo_sources(&digests, &target), vec!["library/busybox".to_string()]);
    }
}

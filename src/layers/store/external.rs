//! Content whose identity comes from elsewhere (a registry, an archive):
//! layers checked against the diff_id (and compressed digest and size) their
//! image names before they are renamed into place, and images whose config
//! bytes are kept verbatim, so their ID is the sha256 the source gave them.

use super::state::{ImageRecord, LayerRecord};
use super::{RECORD_MODE, Store, io_ctx};
use crate::layers::digest::Digest;
use crate::layers::image::ImageConfig;
use crate::layers::reference::Reference;
use crate::layers::{Error, Result};
use crate::sys;
use sha2::{Digest as _, Sha256};
use std::cell::RefCell;
use std::io::{self, Read};
use std::rc::Rc;

/// How a layer blob is compressed (from its media type).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

/// The compressed blob a layer comes from, as its descriptor names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlobExpectation {
    pub digest: Digest,
    pub size: u64,
}

/// What a layer from elsewhere must turn out to be.
#[derive(Clone, Copy, Debug)]
pub struct ExpectedLayer {
    /// The diff_id the image's config lists for it.
    pub diff_id: Digest,
    pub compression: Compression,
    /// The blob's digest and size, checked over every byte of the stream
    /// (`None`: an archive's layer, known by its diff_id alone).
    pub blob: Option<BlobExpectation>,
}

/// An image whose config bytes come from elsewhere, and the names it gets.
#[derive(Clone, Debug, Default)]
pub struct ExternalImage<'a> {
    /// The config, stored byte for byte: the image ID is its sha256.
    pub config: &'a [u8],
    pub tags: Vec<Reference>,
    /// `repo@sha256:…` of the manifest it came by.
    pub repo_digests: Vec<String>,
    /// Compressed blob digest → diff_id, for the layers a pull brought.
    pub blobs: Vec<(Digest, Digest)>,
}

impl Store {
    /// Stores a layer read from `reader` (compressed as `expected` says),
    /// refusing it unless its diff_id, and its blob's digest and size when
    /// given, are the expected ones. Checked after extraction and before the
    /// rename: a refused layer leaves nothing behind. Like every stored
    /// layer, it must be referenced by an image (see
    /// [`Store::add_external_image`]) before the next start, or it is
    /// collected; [`Store::discard_unreferenced_layers`] drops it sooner.
    pub fn store_layer_expecting(&self, reader: impl Read, expected: &ExpectedLayer) -> Result<LayerRecord> {
        let limit = expected.blob.map_or(u64::MAX, |b| b.size);
        let tally = Rc::new(RefCell::new(Tally {
            inner: reader,
            hasher: Sha256::new(),
            bytes: 0,
            limit,
            source_error: None,
        }));
        let read_error = Rc::new(RefCell::new(None));
        let decoded = NotingErrors {
            inner: decoder(expected.compression, SharedTally(Rc::clone(&tally)))?,
            error: Rc::clone(&read_error),
        };
        // The blob first (as Docker checks it): wrong bytes are a wrong
        // blob, whatever tar they happen to make.
        let mut check = |extracted: &crate::layers::untar::Extracted| {
            if let Some(blob) = expected.blob {
                verify_blob(&tally, blob)?;
            }
            if extracted.diff_id != expected.diff_id {
                return Err(Error::DiffIdMismatch {
                    expected: expected.diff_id,
                    actual: extracted.diff_id,
                });
            }
            Ok(())
        };
        let (extracted, _) = self.store_layer_checked(decoded, &mut check).map_err(|e| {
            let read_error = read_error.borrow_mut().take();
            blob_error(e, read_error, &tally, expected)
        })?;
        Ok(super::ingest::record_of(&extracted))
    }

    /// The diff_id of the stored layer a blob was pulled as, if that layer
    /// is still stored.
    pub fn layer_for_blob(&self, blob: &Digest) -> Option<Digest> {
        let state = self.state();
        state.blobs.get(blob).filter(|d| state.layers.contains_key(*d)).copied()
    }

    /// The blobs a stored layer is known by (pulled as, or pushed as),
    /// in digest order.
    pub fn blobs_of_layer(&self, diff_id: &Digest) -> Vec<Digest> {
        let state = self.state();
        state
            .blobs
            .iter()
            .filter(|(_, d)| *d == diff_id)
            .map(|(b, _)| *b)
            .collect()
    }

    /// Records that `blob` decompresses to the stored layer `diff_id` (a
    /// push made it), persisted with the state so the next push or pull
    /// knows it. A layer no longer stored is not recorded.
    pub fn remember_blob(&self, blob: Digest, diff_id: Digest) -> Result<()> {
        let mut state = self.state();
        if !state.layers.contains_key(&diff_id) || state.blobs.get(&blob) == Some(&diff_id) {
            return Ok(());
        }
        let mut next = state.clone();
        next.blobs.insert(blob, diff_id);
        self.replace_state(&mut state, next)
    }

    /// Removes layers stored for an image that was then not committed (a
    /// failed pull or load); layers an image references are kept.
    pub fn discard_unreferenced_layers(&self, diff_ids: &[Digest]) {
        for d in diff_ids {
            if self.layer_dir(d).exists() {
                self.discard_if_unreferenced(d);
            }
        }
    }

    /// Adds (or re-tags) an image whose config bytes come from elsewhere.
    pub fn add_config_image(&self, config: &[u8], tags: &[Reference], repo_digests: &[String]) -> Result<Digest> {
        self.add_external_image(&ExternalImage {
            config,
            tags: tags.to_vec(),
            repo_digests: repo_digests.to_vec(),
            blobs: Vec::new(),
        })
    }

    /// Commits an image whose config bytes are `image.config`, verbatim: it
    /// must parse, and every layer it lists must be stored (in an image, or
    /// just stored by [`Store::store_layer_expecting`]). The image, its
    /// tags, repo digests and blob records become visible in one state
    /// write. An image already stored keeps its record and gains the names.
    pub fn add_external_image(&self, image: &ExternalImage<'_>) -> Result<Digest> {
        let config = ImageConfig::parse(image.config)?;
        let id = Digest::of(image.config);
        let mut new_layers = Vec::new();
        for diff_id in &config.rootfs.diff_ids {
            if self.layer(diff_id).is_some() {
                continue;
            }
            if !self.layer_dir(diff_id).join("index").exists() {
                return Err(Error::MissingLayer(*diff_id));
            }
            new_layers.push(self.read_layer_record(diff_id)?);
        }
        self.ensure_chain_index(&config.rootfs.diff_ids)?;
        let path = self.config_path(&id);
        let mut state = self.state();
        if !path.exists() {
            sys::write_atomic(&path, image.config, RECORD_MODE).map_err(io_ctx("writing the image config"))?;
        }
        let mut next = state.clone();
        for l in new_layers {
            next.layers.insert(l.diff_id, l);
        }
        let record = next.images.entry(id).or_insert_with(|| ImageRecord {
            config,
            parent: None,
            repo_digests: Default::default(),
        });
        record.repo_digests.extend(image.repo_digests.iter().cloned());
        for tag in &image.tags {
            next.tags.insert(tag.clone(), id);
        }
        next.blobs.extend(image.blobs.iter().copied());
        self.replace_state(&mut state, next)?;
        Ok(id)
    }
}

/// Reads the rest of the blob (the decompressor may stop at its end
/// marker: the digest covers every byte) and checks its digest and size.
fn verify_blob<R: Read>(tally: &Rc<RefCell<Tally<R>>>, blob: BlobExpectation) -> Result<()> {
    let drained = io::copy(&mut SharedTally(Rc::clone(tally)), &mut io::sink());
    let t = tally.borrow();
    if let Some(source) = &t.source_error {
        return Err(Error::BlobUnreadable(blob.digest, source.clone()));
    }
    let digest = Digest::from_bytes(t.hasher.clone().finalize().into());
    if drained.is_err() || t.bytes != blob.size || digest != blob.digest {
        return Err(Error::LayerVerification(blob.digest));
    }
    Ok(())
}

/// A failure to read or decompress a blob, or an archive error in it, is
/// the blob's fault: a wrong blob (digest or size) when it is one, else
/// unreadable (a broken download). The store's own disk errors stay as
/// they are.
fn blob_error<R: Read>(
    e: Error,
    read_error: Option<String>,
    tally: &Rc<RefCell<Tally<R>>>,
    expected: &ExpectedLayer,
) -> Error {
    let Some(blob) = expected.blob else { return e };
    let blamed_on_blob = read_error.is_some() || matches!(e, Error::Archive(_));
    if !blamed_on_blob {
        return e;
    }
    match verify_blob(tally, blob) {
        Err(wrong) => wrong,
        Ok(()) => Error::BlobUnreadable(blob.digest, read_error.unwrap_or_else(|| e.to_string())),
    }
}

/// Remembers the first error reading the (decompressed) blob, so that it is
/// reported as the blob's, whatever layer of the extraction saw it.
struct NotingErrors<R> {
    inner: R,
    error: Rc<RefCell<Option<String>>>,
}

impl<R: Read> Read for NotingErrors<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).inspect_err(|e| {
            self.error.borrow_mut().get_or_insert_with(|| e.to_string());
        })
    }
}

/// The compressed stream, hashed and counted as it is read; more bytes
/// than the descriptor's size is an error at once (nothing unbounded).
struct Tally<R> {
    inner: R,
    hasher: Sha256,
    bytes: u64,
    limit: u64,
    /// The source's own failure (the network's), as opposed to bad bytes.
    source_error: Option<String>,
}

/// A handle on the one [`Tally`]: the decompressor reads through one, the
/// final check drains the rest through another.
struct SharedTally<R>(Rc<RefCell<Tally<R>>>);

impl<R: Read> Read for SharedTally<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut t = self.0.borrow_mut();
        let n = match t.inner.read(buf) {
            Ok(n) => n,
            Err(e) => {
                t.source_error.get_or_insert_with(|| e.to_string());
                return Err(e);
            }
        };
        t.hasher.update(&buf[..n]);
        t.bytes += n as u64;
        if t.bytes > t.limit {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("the blob is longer than its descriptor's {} bytes", t.limit),
            ));
        }
        Ok(n)
    }
}

fn decoder<'a>(compression: Compression, src: impl Read + 'a) -> Result<Box<dyn Read + 'a>> {
    Ok(match compression {
        Compression::None => Box::new(src),
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(src)),
        Compression::Zstd => Box::new(ZstdFrames::new(src)),
    })
}

/// Every frame of a zstd stream, skippable frames skipped (ruzstd's
/// decoder reads one frame).
struct ZstdFrames<R: Read> {
    source: Option<io::BufReader<R>>,
    current: Option<ruzstd::decoding::StreamingDecoder<io::BufReader<R>, ruzstd::decoding::FrameDecoder>>,
}

impl<R: Read> ZstdFrames<R> {
    fn new(src: R) -> Self {
        ZstdFrames {
            source: Some(io::BufReader::new(src)),
            current: None,
        }
    }

    /// Starts the next frame; false at the end of the stream.
    fn next_frame(&mut self) -> io::Result<bool> {
        use ruzstd::decoding::errors::{FrameDecoderError, ReadFrameHeaderError};
        use std::io::BufRead;
        loop {
            let mut src = match self.source.take() {
                Some(s) => s,
                None => match self.current.take() {
                    Some(d) => d.into_inner(),
                    None => return Ok(false),
                },
            };
            if src.fill_buf()?.is_empty() {
                return Ok(false);
            }
            // `new` reads the frame header from the source it owns, which
            // it gives back only on success: a skippable frame's header is
            // read by hand first.
            let head = src.fill_buf()?;
            if head.len() >= 8
                && (0x184D_2A50..=0x184D_2A5F).contains(&u32::from_le_bytes([head[0], head[1], head[2], head[3]]))
            {
                let len = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
                src.consume(8);
                io::copy(&mut (&mut src).take(u64::from(len)), &mut io::sink())?;
                self.source = Some(src);
                continue;
            }
            match ruzstd::decoding::StreamingDecoder::new(src) {
                Ok(d) => {
                    self.current = Some(d);
                    return Ok(true);
                }
                Err(FrameDecoderError::ReadFrameHeaderError(ReadFrameHeaderError::SkipFrame { .. })) => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "a split zstd skippable frame",
                    ));
                }
                Err(e) => return Err(io::Error::new(io::ErrorKind::InvalidData, format!("zstd: {e}"))),
            }
        }
    }
}

impl<R: Read> Read for ZstdFrames<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if let Some(d) = self.current.as_mut() {
                let n = d.read(buf)?;
                if n > 0 || buf.is_empty() {
                    return Ok(n);
                }
            }
            if !self.next_frame()? {
                return Ok(0);
            }
        }
    }
}

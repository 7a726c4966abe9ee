//! Bringing content in: layers from tar streams (extracted under `tmp/`,
//! flushed, renamed into place), images imported or committed on top of a
//! parent, and the chain indexes they need, all before the state names them.

use super::state::{ImageRecord, LayerRecord};
use super::{RECORD_MODE, Store, io_ctx};
use crate::layers::chain;
use crate::layers::digest::Digest;
use crate::layers::image::{History, ImageConfig};
use crate::layers::index::LayerIndex;
use crate::layers::reference::Reference;
use crate::layers::tarlayout::LayoutWriter;
use crate::layers::untar::{self, ArchiveError, ExtractOptions};
use crate::layers::{Error, Result};
use crate::sys::{self, BeneathDir};
use crate::time;
use std::fs;
use std::io::{self, Read, Write};

/// Options for importing a root filesystem tar as a one-layer image.
#[derive(Clone, Debug, Default)]
pub struct ImportOptions {
    pub tag: Option<Reference>,
    /// History comment; defaults to `Imported from -`, as Docker writes.
    pub message: Option<String>,
    /// Dockerfile-style instructions (`CMD ["sh"]`) applied to the config.
    pub changes: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct ImportResult {
    pub image: Digest,
    pub layer: Digest,
    pub tar_bytes: u64,
    pub entries: usize,
}

impl Store {
    /// Builds the chain index for `diff_ids` unless it exists. Written before
    /// the image that needs it is committed, so a committed image always has
    /// its chain index.
    pub(super) fn ensure_chain_index(&self, diff_ids: &[Digest]) -> Result<()> {
        let Some(chain) = chain::chain_id(diff_ids) else {
            return Ok(());
        };
        let path = self.chain_index_path(&chain);
        if path.exists() {
            return Ok(());
        }
        let mut indexes = Vec::with_capacity(diff_ids.len());
        for d in diff_ids {
            let index = LayerIndex::open(&self.layer_dir(d).join("index"))
                .map_err(io_ctx(format!("reading the index of {d}")))?;
            // The chain index is built once and trusted from then on.
            index.verify().map_err(|e| Error::Io {
                context: format!("layer {d}"),
                source: io::Error::new(io::ErrorKind::InvalidData, e),
            })?;
            indexes.push(index);
        }
        let merged = chain::merge(&indexes);
        sys::write_atomic(&path, &merged.encode(), RECORD_MODE).map_err(io_ctx("writing the chain index"))
    }

    /// Stores a layer from a tar stream (plain or gzip). The layer is
    /// extracted under `tmp/` with its tar layout (so that its exact tar can
    /// be handed out again), flushed with one `syncfs`, and renamed into
    /// `layers/<diff_id>`; an identical layer already stored is kept and the
    /// new copy dropped before it is flushed (its digest is known only once
    /// the stream ends). The returned layer is not yet referenced: the caller
    /// must reference it from an image before the next start, or it is
    /// collected.
    fn store_layer(&self, reader: impl Read) -> Result<(untar::Extracted, Digest)> {
        self.store_layer_checked(reader, &mut |_| Ok(()))
    }

    /// [`Store::store_layer`], with `check` run on the extracted layer before
    /// anything is renamed into place: an error from it discards the layer.
    pub(super) fn store_layer_checked(
        &self,
        reader: impl Read,
        check: &mut dyn FnMut(&untar::Extracted) -> Result<()>,
    ) -> Result<(untar::Extracted, Digest)> {
        let work = self.temp_dir("layer")?;
        let result = (|| {
            let tree = work.join("root");
            fs::create_dir(&tree).map_err(io_ctx("creating the layer directory"))?;
            let dir = BeneathDir::open(&tree).map_err(io_ctx("opening the layer directory"))?;
            let reader = decompressed(reader)?;
            let mut layout = LayoutWriter::create(&work)?;
            let opts = ExtractOptions {
                privileged: self.privileged,
            };
            let extracted = untar::extract_recording(reader, &dir, opts, &mut layout)?;
            check(&extracted)?;
            if self.layer_dir(&extracted.diff_id).exists() {
                return Ok((extracted, false));
            }
            layout.finish(&extracted.diff_id, extracted.tar_bytes)?;
            let mut f = fs::File::create(work.join("index")).map_err(io_ctx("writing the layer index"))?;
            f.write_all(&extracted.index.encode())
                .map_err(io_ctx("writing the layer index"))?;
            drop(f);
            sys::syncfs(dir.as_fd()).map_err(io_ctx("flushing the layer"))?;
            Ok((extracted, true))
        })();
        let (extracted, new) = match result {
            Ok(x) => x,
            Err(e) => {
                if let Err(clean) = self.discard(&work) {
                    tracing::warn!("could not remove {}: {clean}", work.display());
                }
                return Err(e);
            }
        };
        let diff_id = extracted.diff_id;
        let dest = self.layer_dir(&diff_id);
        if !new {
            tracing::debug!("layer {diff_id} already stored; dropping the new copy unflushed");
            self.discard(&work)?;
            return Ok((extracted, diff_id));
        }
        match fs::rename(&work, &dest) {
            Ok(()) => sys::fsync_dir(&self.root.join("layers")).map_err(io_ctx("syncing layers/"))?,
            // Stored meanwhile (renaming a directory onto a non-empty one fails).
            Err(e) if dest.exists() => {
                tracing::debug!("layer {diff_id} already stored ({e}); dropping the new copy");
                self.discard(&work)?;
            }
            Err(e) => return Err(io_ctx("moving the layer into place")(e)),
        }
        Ok((extracted, diff_id))
    }

    /// Imports a root filesystem tar as a new one-layer image, as
    /// `docker import` does, tagging it if asked.
    pub fn import(&self, reader: impl Read, opts: &ImportOptions) -> Result<ImportResult> {
        // Validate everything the client sent before touching the disk.
        let mut config = ImageConfig {
            architecture: ImageConfig::host_architecture().to_string(),
            os: "linux".to_string(),
            ..Default::default()
        };
        for change in &opts.changes {
            config.apply_change(change)?;
        }
        let (extracted, diff_id) = self.store_layer(reader)?;
        let (secs, nanos) = time::now();
        let created = time::format_rfc3339(secs, nanos);
        let comment = opts
            .message
            .clone()
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| "Imported from -".to_string());
        config.created = Some(created.clone());
        config.comment = Some(comment.clone());
        config.history = vec![History {
            created: Some(created),
            comment: Some(comment),
            ..Default::default()
        }];
        config.rootfs.diff_ids = vec![diff_id];
        let image = match self.add_image(config, None, opts.tag.clone(), vec![record_of(&extracted)]) {
            Ok(id) => id,
            Err(e) => {
                // Not committed: drop the layer now rather than at the next
                // start (it may be what filled the disk).
                self.discard_if_unreferenced(&diff_id);
                return Err(e);
            }
        };
        Ok(ImportResult {
            image,
            layer: diff_id,
            tar_bytes: extracted.tar_bytes,
            entries: extracted.index.len(),
        })
    }

    /// Commits a new image on top of `parent`: `config` is the new image's
    /// config with the parent's layers and history, plus the new history
    /// entry last; `layer`, when there are changes, is the new layer's tar
    /// (stored like any other, so an identical layer is stored once), whose
    /// diff_id is appended to the layer list. Without a layer the history
    /// entry is marked `empty_layer`. Returns the image ID and the new
    /// layer's diff_id.
    pub fn commit(
        &self,
        parent: &Digest,
        mut config: ImageConfig,
        layer: Option<&mut dyn Read>,
        tag: Option<Reference>,
    ) -> Result<(Digest, Option<Digest>)> {
        if !self.state().images.contains_key(parent) {
            return Err(Error::ImageNotFound(parent.to_string()));
        }
        let stored = match layer {
            Some(reader) => Some(self.store_layer(reader)?),
            None => None,
        };
        let mut new_layers = Vec::new();
        match &stored {
            Some((extracted, diff_id)) => {
                config.rootfs.diff_ids.push(*diff_id);
                new_layers.push(record_of(extracted));
            }
            None => {
                if let Some(h) = config.history.last_mut() {
                    h.empty_layer = true;
                }
            }
        }
        match self.add_image(config, Some(*parent), tag, new_layers) {
            Ok(id) => Ok((id, stored.map(|(_, d)| d))),
            Err(e) => {
                if let Some((_, d)) = &stored {
                    self.discard_if_unreferenced(d);
                }
                Err(e)
            }
        }
    }

    pub(super) fn discard_if_unreferenced(&self, diff_id: &Digest) {
        let state = self.state();
        if state.layers.contains_key(diff_id) {
            return;
        }
        if let Err(e) = self.discard(&self.layer_dir(diff_id)) {
            tracing::warn!("removing uncommitted layer {diff_id}: {e}");
        }
    }

    /// Writes a config and commits an image (and optional tag) to the state.
    fn add_image(
        &self,
        config: ImageConfig,
        parent: Option<Digest>,
        tag: Option<Reference>,
        new_layers: Vec<LayerRecord>,
    ) -> Result<Digest> {
        let bytes = config.to_bytes();
        let id = Digest::of(&bytes);
        let path = self.config_path(&id);
        self.ensure_chain_index(&config.rootfs.diff_ids)?;
        let mut state = self.state();
        if !path.exists() {
            sys::write_atomic(&path, &bytes, RECORD_MODE).map_err(io_ctx("writing the image config"))?;
        }
        let mut next = state.clone();
        for l in new_layers {
            next.layers.insert(l.diff_id, l);
        }
        let repo_digests = Default::default();
        next.images.insert(
            id,
            ImageRecord {
                config,
                parent,
                repo_digests,
            },
        );
        if let Some(tag) = tag {
            next.tags.insert(tag, id);
        }
        self.replace_state(&mut state, next)?;
        Ok(id)
    }
}

/// The record of a layer just extracted.
pub(super) fn record_of(extracted: &untar::Extracted) -> LayerRecord {
    LayerRecord {
        diff_id: extracted.diff_id,
        size: extracted.index.content_size(),
        entries: extracted.index.len(),
    }
}

/// Detects the stream's compression from its first bytes; gzip is decoded,
/// other compressions are refused with a clear error.
pub(crate) fn decompressed<'a>(mut reader: impl Read + 'a) -> Result<Box<dyn Read + 'a>> {
    let mut head = Vec::with_capacity(6);
    let mut buf = [0u8; 6];
    while head.len() < 6 {
        let n = reader
            .read(&mut buf[..6 - head.len()])
            .map_err(io_ctx("reading the archive"))?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let whole = io::Cursor::new(head.clone()).chain(reader);
    let refuse = |what| Err(Error::Archive(ArchiveError::Compressed(what)));
    match head.as_slice() {
        [0x1f, 0x8b, ..] => Ok(Box::new(flate2::read::MultiGzDecoder::new(whole))),
        [b'B', b'Z', b'h', ..] => refuse("bzip2"),
        [0xfd, b'7', b'z', b'X', b'Z', 0x00] => refuse("xz"),
        [0x28, 0xb5, 0x2f, 0xfd, ..] => refuse("zstd"),
        _ => Ok(Box::new(whole)),
    }
}

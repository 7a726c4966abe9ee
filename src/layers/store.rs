//! The store on disk:
//!
//! ```text
//! ROOT/lock                   flock: one daemon per store
//! ROOT/state.json             the image set and the tags: the commit point
//! ROOT/images/<hex>.json      image config bytes; <hex> = sha256 of them
//! ROOT/layers/<hex>/root/     a layer's extracted tree; <hex> = its diff_id
//! ROOT/layers/<hex>/index     its metadata index (see `index`)
//! ROOT/chains/<hex>.index     an image's layers merged (see `chain`); <hex> = chain ID
//! ROOT/tmp/                   work in progress; emptied at every start
//! ```
//!
//! Crash safety: layers and configs are built under `tmp/`, flushed, and
//! renamed into place; an image or tag exists only once `state.json` (written
//! to a temporary file, fsynced, renamed) names it. A crash at any point leaves
//! the old `state.json` or the new one; whatever it does not reference (a layer
//! or config written before the crash) is removed at the next start.

use super::chain;
use super::digest::Digest;
use super::image::{History, ImageConfig};
use super::index::LayerIndex;
use super::reference::Reference;
use super::untar::{self, ArchiveError, ExtractOptions};
use super::{Error, Result};
use crate::sys::{self, BeneathDir, LockFile, Name};
use crate::time;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

pub struct Store {
    root: PathBuf,
    privileged: bool,
    state: Mutex<State>,
    tmp_counter: AtomicU64,
    _lock: LockFile,
}

/// What `state.json` holds, plus caches derived from the files it names.
#[derive(Clone, Default)]
struct State {
    images: BTreeMap<Digest, ImageRecord>,
    tags: BTreeMap<Reference, Digest>,
    layers: BTreeMap<Digest, LayerRecord>,
}

#[derive(Clone)]
struct ImageRecord {
    config: ImageConfig,
    parent: Option<Digest>,
}

/// A stored layer.
#[derive(Clone, Debug)]
pub struct LayerRecord {
    pub diff_id: Digest,
    /// Bytes of file content in the layer.
    pub size: u64,
    pub entries: usize,
}

#[derive(Serialize, Deserialize, Default)]
struct StateFile {
    images: BTreeMap<String, ImageState>,
    tags: BTreeMap<String, Digest>,
}

#[derive(Serialize, Deserialize, Default)]
struct ImageState {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    parent: Option<Digest>,
}

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

/// One image, as listings show it.
#[derive(Clone, Debug)]
pub struct ImageSummary {
    pub id: Digest,
    pub parent: Option<Digest>,
    pub tags: Vec<Reference>,
    pub config: ImageConfig,
    pub created: i64,
    pub size: u64,
}

/// One step of an image removal, in Docker's words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Removal {
    Untagged(Reference),
    Deleted(Digest),
}

#[derive(Clone, Debug)]
pub struct StoreInfo {
    pub images: usize,
    pub layers: usize,
    pub root: PathBuf,
}

fn io_ctx(what: impl Into<String>) -> impl FnOnce(io::Error) -> Error {
    Error::io(what)
}

/// Writes `bytes` to `path` so that a crash leaves the old file or the new
/// one (see [`sys::write_atomic`]), readable by the daemon's user only.
fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    sys::write_atomic(path, bytes, 0o600)
}

impl Store {
    /// Opens (creating if needed) the store at `root`, takes its lock,
    /// empties `tmp/` and removes whatever `state.json` does not reference.
    pub fn open(root: &Path) -> Result<Store> {
        // Private to the daemon's user, whatever an older version or the
        // umask made: layers keep files of any owner and mode, and records
        // keep what containers were given (environment, secrets).
        for sub in ["", "images", "layers", "chains", "tmp"] {
            let dir = root.join(sub);
            fs::create_dir_all(&dir).map_err(io_ctx(format!("creating {}", dir.display())))?;
            sys::make_private(&dir).map_err(io_ctx(format!("making {} private", dir.display())))?;
        }
        let lock = LockFile::try_lock(&root.join("lock")).map_err(|e| {
            if e.raw_os_error() == Some(rustix::io::Errno::WOULDBLOCK.raw_os_error()) {
                Error::Locked(root.to_path_buf())
            } else {
                Error::Io {
                    context: "locking the store".into(),
                    source: e,
                }
            }
        })?;
        let store = Store {
            root: root.to_path_buf(),
            privileged: sys::is_root(),
            state: Mutex::new(State::default()),
            tmp_counter: AtomicU64::new(0),
            _lock: lock,
        };
        store.clear_dir("tmp")?;
        let state = store.load_state()?;
        store.collect_garbage(&state)?;
        *store.state() = state;
        Ok(store)
    }

    /// The state, even after a panic elsewhere: it is only ever replaced
    /// whole, after `state.json` was written, so it is never half-updated.
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn clear_dir(&self, sub: &str) -> Result<()> {
        let dir = BeneathDir::open(&self.root.join(sub)).map_err(io_ctx(format!("opening {sub}")))?;
        dir.clear().map_err(io_ctx(format!("clearing {sub}")))
    }

    fn load_state(&self) -> Result<State> {
        let path = self.root.join("state.json");
        let file: StateFile = match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| Error::Io {
                context: format!("reading {}", path.display()),
                source: io::Error::new(io::ErrorKind::InvalidData, e),
            })?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => StateFile::default(),
            Err(e) => return Err(io_ctx("reading state.json")(e)),
        };
        let mut state = State::default();
        for (hex, st) in file.images {
            let Some(id) = Digest::from_hex(&hex) else {
                tracing::error!("state.json names an invalid image id {hex:?}; ignoring it");
                continue;
            };
            let bytes = fs::read(self.config_path(&id)).map_err(io_ctx(format!("reading the config of {id}")))?;
            if Digest::of(&bytes) != id {
                return Err(Error::Io {
                    context: format!("image {id}"),
                    source: io::Error::new(io::ErrorKind::InvalidData, "config bytes do not match the image id"),
                });
            }
            let config = ImageConfig::parse(&bytes)?;
            for diff_id in &config.rootfs.diff_ids {
                if !state.layers.contains_key(diff_id) {
                    let rec = self.read_layer_record(diff_id)?;
                    state.layers.insert(*diff_id, rec);
                }
            }
            state.images.insert(
                id,
                ImageRecord {
                    config,
                    parent: st.parent,
                },
            );
        }
        for (name, id) in file.tags {
            if !state.images.contains_key(&id) {
                tracing::error!("tag {name} points at a missing image {id}; dropping it");
                continue;
            }
            let reference = Reference::parse(&name)?;
            state.tags.insert(reference, id);
        }
        Ok(state)
    }

    fn read_layer_record(&self, diff_id: &Digest) -> Result<LayerRecord> {
        let path = self.layer_dir(diff_id).join("index");
        let index = LayerIndex::open(&path).map_err(io_ctx(format!("reading the index of layer {diff_id}")))?;
        Ok(LayerRecord {
            diff_id: *diff_id,
            size: index.content_size(),
            entries: index.len(),
        })
    }

    /// Removes configs and layers that no image in `state` references.
    fn collect_garbage(&self, state: &State) -> Result<()> {
        let images: BTreeSet<String> = state.images.keys().map(|d| format!("{}.json", d.hex())).collect();
        let layers: BTreeSet<String> = state.layers.keys().map(|d| d.hex()).collect();
        let chains: BTreeSet<String> = state
            .images
            .values()
            .filter_map(|r| chain::chain_id(&r.config.rootfs.diff_ids))
            .map(|c| format!("{}.index", c.hex()))
            .collect();
        for (sub, keep) in [("images", &images), ("layers", &layers), ("chains", &chains)] {
            let dir = BeneathDir::open(&self.root.join(sub)).map_err(io_ctx(format!("opening {sub}")))?;
            for name in dir.entry_names().map_err(io_ctx(format!("listing {sub}")))? {
                if !keep.contains(String::from_utf8_lossy(&name).as_ref()) {
                    tracing::info!("removing unreferenced {sub}/{}", String::from_utf8_lossy(&name));
                    let name = Name::new(&name).map_err(|e| io_ctx(sub)(io::Error::other(e)))?;
                    dir.remove_all(name).map_err(io_ctx(format!("cleaning {sub}")))?;
                }
            }
        }
        Ok(())
    }

    fn save_state(&self, state: &State) -> Result<()> {
        let file = StateFile {
            images: state
                .images
                .iter()
                .map(|(id, rec)| (id.hex(), ImageState { parent: rec.parent }))
                .collect(),
            tags: state.tags.iter().map(|(r, id)| (r.to_string(), *id)).collect(),
        };
        let bytes = serde_json::to_vec_pretty(&file).expect("state serialises");
        write_atomic(&self.root.join("state.json"), &bytes).map_err(io_ctx("writing state.json"))
    }

    fn config_path(&self, id: &Digest) -> PathBuf {
        self.root.join("images").join(format!("{}.json", id.hex()))
    }

    /// The directory of a stored layer: `root/` (the tree) and `index`.
    pub fn layer_dir(&self, diff_id: &Digest) -> PathBuf {
        self.root.join("layers").join(diff_id.hex())
    }

    /// The merged index of a layer stack, named by its chain ID.
    pub fn chain_index_path(&self, chain: &Digest) -> PathBuf {
        self.root.join("chains").join(format!("{}.index", chain.hex()))
    }

    /// The chain ID of an image's layers (None for an image with none).
    pub fn image_chain(&self, id: &Digest) -> Option<Digest> {
        let state = self.state();
        chain::chain_id(&state.images.get(id)?.config.rootfs.diff_ids)
    }

    /// Builds the chain index for `diff_ids` unless it exists. Written before
    /// the image that needs it is committed, so a committed image always has
    /// its chain index.
    fn ensure_chain_index(&self, diff_ids: &[Digest]) -> Result<()> {
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
        write_atomic(&path, &merged.encode()).map_err(io_ctx("writing the chain index"))
    }

    /// A fresh, empty directory under `tmp/`.
    fn temp_dir(&self, purpose: &str) -> Result<PathBuf> {
        let n = self.tmp_counter.fetch_add(1, Ordering::Relaxed);
        let path = self
            .root
            .join("tmp")
            .join(format!("{purpose}-{}-{n}", std::process::id()));
        fs::create_dir(&path).map_err(io_ctx("creating a temporary directory"))?;
        Ok(path)
    }

    /// Removes a directory by first renaming it into `tmp/` (so a crash
    /// mid-removal never leaves a half-deleted layer in place).
    fn discard(&self, path: &Path) -> Result<()> {
        let doomed = self.temp_dir("discard")?;
        let target = doomed.join("x");
        fs::rename(path, &target).map_err(io_ctx(format!("moving {} away", path.display())))?;
        let dir = BeneathDir::open(&doomed).map_err(io_ctx("opening tmp"))?;
        dir.clear().map_err(io_ctx("removing a directory"))?;
        fs::remove_dir(&doomed).map_err(io_ctx("removing a directory"))
    }

    /// Stores a layer from a tar stream (plain or gzip). The layer is
    /// extracted under `tmp/`, flushed with one `syncfs`, and renamed into
    /// `layers/<diff_id>`; an identical layer already stored is kept and the
    /// new copy dropped before it is flushed (its digest is known only once
    /// the stream ends). The returned layer is not yet referenced: the caller
    /// must reference it from an image before the next start, or it is
    /// collected.
    fn store_layer(&self, reader: impl Read) -> Result<(untar::Extracted, Digest)> {
        let work = self.temp_dir("layer")?;
        let result = (|| {
            let tree = work.join("root");
            fs::create_dir(&tree).map_err(io_ctx("creating the layer directory"))?;
            let dir = BeneathDir::open(&tree).map_err(io_ctx("opening the layer directory"))?;
            let reader = decompressed(reader)?;
            let extracted = untar::extract(
                reader,
                &dir,
                ExtractOptions {
                    privileged: self.privileged,
                },
            )?;
            if self.layer_dir(&extracted.diff_id).exists() {
                return Ok((extracted, false));
            }
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
        let layer = LayerRecord {
            diff_id,
            size: extracted.index.content_size(),
            entries: extracted.index.len(),
        };
        let image = match self.add_image(config, None, opts.tag.clone(), vec![layer]) {
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
                new_layers.push(LayerRecord {
                    diff_id: *diff_id,
                    size: extracted.index.content_size(),
                    entries: extracted.index.len(),
                });
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

    fn discard_if_unreferenced(&self, diff_id: &Digest) {
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
            write_atomic(&path, &bytes).map_err(io_ctx("writing the image config"))?;
        }
        let mut next = state.clone();
        for l in new_layers {
            next.layers.insert(l.diff_id, l);
        }
        next.images.insert(id, ImageRecord { config, parent });
        if let Some(tag) = tag {
            next.tags.insert(tag, id);
        }
        self.save_state(&next)?;
        *state = next;
        Ok(id)
    }

    /// Finds an image by reference, full or `sha256:` ID, or unique ID prefix.
    pub fn resolve(&self, name: &str) -> Result<Digest> {
        let state = self.state();
        resolve_in(&state, name)
    }

    pub fn image(&self, name: &str) -> Result<ImageSummary> {
        let state = self.state();
        let id = resolve_in(&state, name)?;
        Ok(summary(&state, id))
    }

    /// The exact config bytes the image ID is the digest of.
    pub fn config_bytes(&self, name: &str) -> Result<Vec<u8>> {
        let id = self.resolve(name)?;
        fs::read(self.config_path(&id)).map_err(io_ctx(format!("reading the config of {id}")))
    }

    /// All images, newest first.
    pub fn images(&self) -> Vec<ImageSummary> {
        let state = self.state();
        let mut all: Vec<ImageSummary> = state.images.keys().map(|id| summary(&state, *id)).collect();
        all.sort_by(|a, b| b.created.cmp(&a.created).then(a.id.cmp(&b.id)));
        all
    }

    pub fn layer(&self, diff_id: &Digest) -> Option<LayerRecord> {
        self.state().layers.get(diff_id).cloned()
    }

    /// Points `target` at the image `source` names.
    pub fn tag(&self, source: &str, target: Reference) -> Result<Digest> {
        let mut state = self.state();
        let id = resolve_in(&state, source)?;
        let mut next = state.clone();
        next.tags.insert(target, id);
        self.save_state(&next)?;
        *state = next;
        Ok(id)
    }

    /// Removes a tag, or an image, with Docker's rules: a tag is untagged and
    /// the image deleted only when nothing else names it; an ID naming an
    /// image with several tags needs `force`; an image with children cannot go.
    /// `held_by`: a container (short ID, running) standing on the image,
    /// which then cannot be deleted, only untagged (with `force`).
    pub fn remove_image(&self, name: &str, force: bool, held_by: Option<(&str, bool)>) -> Result<Vec<Removal>> {
        let mut state = self.state();
        let id = resolve_in(&state, name)?;
        let tags: Vec<Reference> = state
            .tags
            .iter()
            .filter(|(_, v)| **v == id)
            .map(|(k, _)| k.clone())
            .collect();
        let by_tag = Reference::parse(name).ok().filter(|r| state.tags.get(r) == Some(&id));
        let mut next = state.clone();
        let mut removals = Vec::new();
        match &by_tag {
            Some(r) => {
                next.tags.remove(r);
                removals.push(Removal::Untagged(r.clone()));
                if tags.len() > 1 {
                    self.save_state(&next)?;
                    *state = next;
                    return Ok(removals);
                }
            }
            None => {
                if tags.len() > 1 && !force {
                    return Err(Error::Conflict(format!(
                        "unable to delete {} (must be forced) - image is referenced in multiple repositories",
                        id.short()
                    )));
                }
                for r in tags {
                    next.tags.remove(&r);
                    removals.push(Removal::Untagged(r));
                }
            }
        }
        if let Some((container, running)) = held_by {
            return match (&by_tag, force) {
                (Some(_), true) => {
                    self.save_state(&next)?;
                    *state = next;
                    Ok(removals)
                }
                (Some(r), false) => Err(Error::Conflict(format!(
                    "unable to remove repository reference \"{r}\" (must force) - container {container} is using its referenced image {}",
                    id.short()
                ))),
                (None, _) => Err(Error::Conflict(format!(
                    "unable to delete {} (cannot be forced) - image is being used by {} container {container}",
                    id.short(),
                    if running { "running" } else { "stopped" }
                ))),
            };
        }
        if next.images.values().any(|rec| rec.parent == Some(id)) {
            if removals.is_empty() {
                return Err(Error::Conflict(format!(
                    "unable to delete {} (cannot be forced) - image has dependent child images",
                    id.short()
                )));
            }
            // Untagged only; the image stays as its children's parent.
            self.save_state(&next)?;
            *state = next;
            return Ok(removals);
        }
        let removed_chain = next
            .images
            .remove(&id)
            .and_then(|r| chain::chain_id(&r.config.rootfs.diff_ids));
        let chain_still_used = removed_chain.is_some_and(|c| {
            next.images
                .values()
                .any(|r| chain::chain_id(&r.config.rootfs.diff_ids) == Some(c))
        });
        let still_used: BTreeSet<Digest> = next
            .images
            .values()
            .flat_map(|r| r.config.rootfs.diff_ids.iter().copied())
            .collect();
        let orphans: Vec<Digest> = next
            .layers
            .keys()
            .filter(|d| !still_used.contains(d))
            .copied()
            .collect();
        for d in &orphans {
            next.layers.remove(d);
        }
        self.save_state(&next)?;
        *state = next;
        removals.push(Removal::Deleted(id));
        drop(state);
        // Past the commit point: failures here leave garbage for the next start.
        if let Err(e) = fs::remove_file(self.config_path(&id)) {
            tracing::warn!("removing the config of {id}: {e}");
        }
        if let Some(c) = removed_chain.filter(|_| !chain_still_used)
            && let Err(e) = fs::remove_file(self.chain_index_path(&c))
        {
            tracing::warn!("removing the chain index {c}: {e}");
        }
        for d in orphans {
            if let Err(e) = self.discard(&self.layer_dir(&d)) {
                tracing::warn!("removing layer {d}: {e}");
            }
        }
        Ok(removals)
    }

    pub fn info(&self) -> StoreInfo {
        let state = self.state();
        StoreInfo {
            images: state.images.len(),
            layers: state.layers.len(),
            root: self.root.clone(),
        }
    }

    /// The images whose config lists exactly `diff_ids` as a prefix chain, to
    /// name history entries after local images (Docker shows `<missing>` for
    /// steps not present locally).
    pub fn history_ids(&self, id: &Digest) -> Vec<Option<Digest>> {
        let state = self.state();
        let Some(rec) = state.images.get(id) else {
            return Vec::new();
        };
        let n = rec.config.history.len();
        let mut ids = vec![None; n];
        let mut cur = Some(*id);
        // Each image in the parent chain owns the newest history entries not
        // owned by its parent.
        while let Some(c) = cur {
            let Some(r) = state.images.get(&c) else { break };
            let len = r.config.history.len();
            if len == 0 || len > n {
                break;
            }
            if ids[len - 1].is_none() {
                ids[len - 1] = Some(c);
            }
            cur = r.parent;
        }
        ids
    }
}

fn summary(state: &State, id: Digest) -> ImageSummary {
    let rec = &state.images[&id];
    let size = rec
        .config
        .rootfs
        .diff_ids
        .iter()
        .filter_map(|d| state.layers.get(d))
        .fold(0u64, |sum, l| sum.saturating_add(l.size))
        .min(super::index::MAX_CONTENT_SIZE);
    ImageSummary {
        id,
        parent: rec.parent,
        tags: state
            .tags
            .iter()
            .filter(|(_, v)| **v == id)
            .map(|(k, _)| k.clone())
            .collect(),
        config: rec.config.clone(),
        created: rec.config.created.as_deref().and_then(time::parse_rfc3339).unwrap_or(0),
        size,
    }
}

fn resolve_in(state: &State, name: &str) -> Result<Digest> {
    let not_found = || Error::ImageNotFound(crate::quote::excerpt(name, 128));
    if let Ok(d) = name.parse::<Digest>() {
        return state.images.contains_key(&d).then_some(d).ok_or_else(not_found);
    }
    if let Some(d) = Digest::from_hex(name)
        && state.images.contains_key(&d)
    {
        return Ok(d);
    }
    match Reference::parse(name) {
        Ok(r) => {
            if let Some(id) = state.tags.get(&r) {
                return Ok(*id);
            }
        }
        // A name that is neither a valid reference nor an ID prefix is a client error.
        Err(e) if !super::digest::is_hex(name.strip_prefix("sha256:").unwrap_or(name)) => return Err(e.into()),
        Err(_) => {}
    }
    let prefix = name.strip_prefix("sha256:").unwrap_or(name);
    if super::digest::is_hex(prefix) {
        let mut matches = state.images.keys().filter(|d| d.hex().starts_with(prefix));
        if let Some(first) = matches.next() {
            if matches.next().is_some() {
                return Err(Error::Conflict(format!("image ID prefix {prefix:?} is ambiguous")));
            }
            return Ok(*first);
        }
    }
    Err(not_found())
}

/// Detects the stream's compression from its first bytes; gzip is decoded,
/// other compressions are refused with a clear error.
fn decompressed<'a>(mut reader: impl Read + 'a) -> Result<Box<dyn Read + 'a>> {
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

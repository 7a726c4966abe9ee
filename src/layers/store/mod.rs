//! The store on disk:
//!
//! ```text
//! ROOT/lock                   flock: one daemon per store
//! ROOT/state.json             the image set and the tags: the commit point
//! ROOT/images/<hex>.json      image config bytes; <hex> = sha256 of them
//! ROOT/layers/<hex>/root/     a layer's extracted tree; <hex> = its diff_id
//! ROOT/layers/<hex>/index     its metadata index (see `index`)
//! ROOT/layers/<hex>/tar-layout how to write its exact tar again (see `tarlayout`)
//! ROOT/chains/<hex>.index     an image's layers merged (see `chain`); <hex> = chain ID
//! ROOT/tmp/                   work in progress; emptied at every start
//! ```
//!
//! Crash safety: layers and configs are built under `tmp/`, flushed, and
//! renamed into place; an image or tag exists only once `state.json` (written
//! to a temporary file, fsynced, renamed) names it. A crash at any point leaves
//! the old `state.json` or the new one; whatever it does not reference (a layer
//! or config written before the crash) is removed at the next start.
//!
//! This module holds the [`Store`] itself (opening, the lock, paths, `tmp/`);
//! `state` the saved state and its views, `ingest` importing layers and
//! images, `external` layers and images whose identity comes from elsewhere
//! (registries, archives), `references` resolving, tagging and removal.

mod external;
#[cfg(test)]
mod external_tests;
mod ingest;
mod layout;
mod references;
mod state;
#[cfg(test)]
mod tests;

pub use external::{BlobExpectation, Compression, ExpectedLayer, ExternalImage};
pub(crate) use ingest::decompressed;
pub use ingest::{ImportOptions, ImportResult};
pub use references::{ImageUser, Refusal, Removal};
pub use state::{ImageSummary, LayerRecord};

use super::chain;
use super::digest::Digest;
use super::{Error, Result};
use crate::sys::{self, BeneathDir, LockFile};
use state::State;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// The store at one root, held by this process alone (its lock). The state
/// in memory is what `state.json` says; every change writes the file first.
pub struct Store {
    root: PathBuf,
    privileged: bool,
    state: Mutex<State>,
    tmp_counter: AtomicU64,
    _lock: LockFile,
}

/// Counts for `docker info`.
#[derive(Clone, Debug)]
pub struct StoreInfo {
    pub images: usize,
    pub layers: usize,
    pub root: PathBuf,
}

fn io_ctx(what: impl Into<String>) -> impl FnOnce(io::Error) -> Error {
    Error::io(what)
}

/// The mode of every file the store writes with [`sys::write_atomic`]
/// (state, configs, chain indexes): the daemon's user's alone.
const RECORD_MODE: u32 = 0o600;

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

    pub fn info(&self) -> StoreInfo {
        let state = self.state();
        StoreInfo {
            images: state.images.len(),
            layers: state.layers.len(),
            root: self.root.clone(),
        }
    }
}

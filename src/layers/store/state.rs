//! The saved state: which images exist (their configs, parents), the tags,
//! and the records of the layers they use; loading it at start, saving it at
//! every change, collecting what it does not reference, and the views of it
//! that listings and inspection show.

use super::references::resolve_in;
use super::{RECORD_MODE, Store, io_ctx};
use crate::layers::chain;
use crate::layers::digest::Digest;
use crate::layers::image::ImageConfig;
use crate::layers::index::LayerIndex;
use crate::layers::reference::Reference;
use crate::layers::{Error, Result};
use crate::sys::{self, BeneathDir, Name};
use crate::time;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io;

/// What `state.json` holds, plus caches derived from the files it names.
#[derive(Clone, Default)]
pub(super) struct State {
    pub(super) images: BTreeMap<Digest, ImageRecord>,
    pub(super) tags: BTreeMap<Reference, Digest>,
    pub(super) layers: BTreeMap<Digest, LayerRecord>,
    /// Compressed blob digest → the diff_id of the layer it decompresses to
    /// (Docker's distribution metadata), so a pull skips what is stored.
    pub(super) blobs: BTreeMap<Digest, Digest>,
}

#[derive(Clone)]
pub(super) struct ImageRecord {
    pub(super) config: ImageConfig,
    pub(super) parent: Option<Digest>,
    /// `repo@sha256:…` of the manifests this image was pulled by.
    pub(super) repo_digests: BTreeSet<String>,
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
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    blobs: BTreeMap<Digest, Digest>,
}

#[derive(Serialize, Deserialize, Default)]
struct ImageState {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    parent: Option<Digest>,
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    repo_digests: BTreeSet<String>,
}

/// One image, as listings show it.
#[derive(Clone, Debug)]
pub struct ImageSummary {
    pub id: Digest,
    pub parent: Option<Digest>,
    pub tags: Vec<Reference>,
    /// `repo@sha256:…` of the manifests it was pulled by.
    pub repo_digests: Vec<String>,
    pub config: ImageConfig,
    pub created: i64,
    pub size: u64,
}

impl Store {
    pub(super) fn load_state(&self) -> Result<State> {
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
                    repo_digests: st.repo_digests,
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
        state.blobs = file.blobs;
        state.blobs.retain(|_, diff_id| state.layers.contains_key(diff_id));
        Ok(state)
    }

    pub(super) fn read_layer_record(&self, diff_id: &Digest) -> Result<LayerRecord> {
        let path = self.layer_dir(diff_id).join("index");
        let index = LayerIndex::open(&path).map_err(io_ctx(format!("reading the index of layer {diff_id}")))?;
        Ok(LayerRecord {
            diff_id: *diff_id,
            size: index.content_size(),
            entries: index.len(),
        })
    }

    /// Removes configs and layers that no image in `state` references.
    pub(super) fn collect_garbage(&self, state: &State) -> Result<()> {
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

    /// Saves `next` and only then makes it the state: the commit point of
    /// every change (a failed save leaves the state as it was).
    pub(super) fn replace_state(&self, state: &mut State, next: State) -> Result<()> {
        self.save_state(&next)?;
        *state = next;
        Ok(())
    }

    fn save_state(&self, state: &State) -> Result<()> {
        let file = StateFile {
            images: state
                .images
                .iter()
                .map(|(id, rec)| {
                    let st = ImageState {
                        parent: rec.parent,
                        repo_digests: rec.repo_digests.clone(),
                    };
                    (id.hex(), st)
                })
                .collect(),
            tags: state.tags.iter().map(|(r, id)| (r.to_string(), *id)).collect(),
            // Only the blobs of layers still stored: the others would be
            // skipped by a pull and then missing.
            blobs: state
                .blobs
                .iter()
                .filter(|(_, diff_id)| state.layers.contains_key(*diff_id))
                .map(|(b, d)| (*b, *d))
                .collect(),
        };
        let bytes = serde_json::to_vec_pretty(&file).expect("state serialises");
        sys::write_atomic(&self.root.join("state.json"), &bytes, RECORD_MODE).map_err(io_ctx("writing state.json"))
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

impl State {
    /// The tags naming `image`, in order.
    pub(super) fn tags_of(&self, image: Digest) -> Vec<Reference> {
        let tags = self.tags.iter().filter(|(_, v)| **v == image);
        tags.map(|(k, _)| k.clone()).collect()
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
        .min(crate::layers::index::MAX_CONTENT_SIZE);
    ImageSummary {
        id,
        parent: rec.parent,
        tags: state.tags_of(id),
        repo_digests: rec.repo_digests.iter().cloned().collect(),
        config: rec.config.clone(),
        created: rec.config.created.as_deref().and_then(time::parse_rfc3339).unwrap_or(0),
        size,
    }
}

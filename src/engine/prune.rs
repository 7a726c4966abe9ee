//! `container prune`, `image prune` and `system df`: what is unused,
//! removed by the ordinary removals (so their rules and locks hold), and
//! what the store holds, in real sizes: the bytes of a layer's directory
//! in the store (its files, index and layout: what deleting it frees),
//! each layer counted once however many images share it; the bytes of a
//! writable layer and of a volume.

use super::error::Error;
use super::record::Record;
use super::volumes::VolumeView;
use super::{Container, Engine};
use crate::layers::{Digest, ImageSummary, Removal};
use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::Arc;

/// An image as `system df` counts it.
pub struct ImageUsage {
    /// Its `size` the store bytes of its layers.
    pub image: ImageSummary,
    /// Bytes of its layers that another image has too.
    pub shared: u64,
    /// Containers standing on it.
    pub containers: usize,
}

/// `GET /system/df`.
pub struct DiskUsage {
    /// Every stored layer's bytes, once each.
    pub layers_size: u64,
    pub images: Vec<ImageUsage>,
    /// Each container with the bytes of its writable layer.
    pub containers: Vec<(Record, u64)>,
    /// Each volume with the bytes it holds.
    pub volumes: Vec<(VolumeView, u64)>,
}

/// Bytes of the files under `p` (their lengths; directories count
/// nothing), never following a symlink.
pub(crate) fn tree_size(p: &Path) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(p) else {
        return 0;
    };
    if !meta.is_dir() {
        return meta.len();
    }
    std::fs::read_dir(p)
        .map(|d| d.flatten().map(|e| tree_size(&e.path())).sum())
        .unwrap_or(0)
}

impl Engine {
    /// Bytes a stored layer takes in the store.
    fn layer_bytes(&self, diff_id: &Digest) -> u64 {
        tree_size(&self.store.layer_dir(diff_id))
    }

    /// Bytes of a container's writable layer.
    pub fn writable_size(&self, c: &Container) -> u64 {
        tree_size(&c.dir.join("upper"))
    }

    /// Removes every container that is not running and that `keep` does
    /// not keep: their IDs and the bytes their writable layers held. One
    /// started meanwhile is kept (its removal refuses).
    pub async fn container_prune(&self, keep: impl Fn(&Record) -> bool) -> (Vec<String>, u64) {
        let (mut ids, mut space) = (Vec::new(), 0);
        for c in self.all() {
            let r = c.record();
            if r.state.is_running() || r.state.is_restarting() || keep(&r) {
                continue;
            }
            let size = self.writable_size(&c);
            match self.remove(&c, false).await {
                Ok(()) => {
                    ids.push(r.id);
                    space += size;
                }
                Err(e) => tracing::info!(container = %&r.id[..12], "not pruned: {e}"),
            }
        }
        (ids, space)
    }

    /// Removes the images no container stands on and no other image has
    /// as its parent: untagged ones only, or every one with `all`, and not
    /// those `keep` keeps; again until none is left (a child's removal
    /// can leave its parent unused). What was untagged and deleted, and
    /// the bytes of the layers that went with them.
    pub fn image_prune(&self, all: bool, keep: impl Fn(&ImageSummary) -> bool) -> Result<(Vec<Removal>, u64), Error> {
        let (mut removals, mut space) = (Vec::new(), 0u64);
        let mut tried: HashSet<Digest> = HashSet::new();
        loop {
            let images = self.store.images();
            let parents: HashSet<Digest> = images.iter().filter_map(|i| i.parent).collect();
            let next = images.into_iter().find(|i| {
                !tried.contains(&i.id)
                    && !parents.contains(&i.id)
                    && (all || i.tags.is_empty())
                    && self.image_holder(&i.id).is_none()
                    && !keep(i)
            });
            let Some(image) = next else { break };
            tried.insert(image.id);
            let layers: Vec<(Digest, u64)> = image
                .config
                .rootfs
                .diff_ids
                .iter()
                .filter(|d| self.store.layer(d).is_some())
                .map(|d| (*d, self.layer_bytes(d)))
                .collect();
            let names: Vec<String> = if image.tags.is_empty() {
                vec![image.id.to_string()]
            } else {
                image.tags.iter().map(ToString::to_string).collect()
            };
            for name in names {
                match self.remove_image(&name, false)? {
                    Ok(r) => removals.extend(r),
                    Err(refusal) => {
                        tracing::info!(image = %image.id, "not pruned: {refusal:?}");
                        break;
                    }
                }
            }
            let gone: u64 = layers
                .iter()
                .filter(|(d, _)| self.store.layer(d).is_none())
                .map(|(_, s)| *s)
                .sum();
            space += gone;
        }
        Ok((removals, space))
    }

    /// What the store holds, for `system df`.
    pub fn disk_usage(self: &Arc<Self>) -> DiskUsage {
        let images = self.store.images();
        // Each layer: its size and how many images hold it.
        let mut layers: BTreeMap<Digest, (u64, usize)> = BTreeMap::new();
        for i in &images {
            for d in &i.config.rootfs.diff_ids {
                layers.entry(*d).or_insert_with(|| (self.layer_bytes(d), 0)).1 += 1;
            }
        }
        let containers: Vec<Arc<Container>> = self.all();
        let images = images
            .into_iter()
            .map(|mut image| {
                let unique: HashSet<&Digest> = image.config.rootfs.diff_ids.iter().collect();
                image.size = unique.iter().filter_map(|d| layers.get(*d)).map(|(s, _)| *s).sum();
                let shared = unique
                    .iter()
                    .filter_map(|d| layers.get(*d))
                    .filter(|(_, n)| *n > 1)
                    .map(|(s, _)| *s)
                    .sum();
                let users = containers.iter().filter(|c| c.lock().record.image == image.id).count();
                ImageUsage {
                    image,
                    shared,
                    containers: users,
                }
            })
            .collect();
        DiskUsage {
            layers_size: layers.values().map(|(s, _)| *s).sum(),
            images,
            containers: containers.iter().map(|c| (c.record(), self.writable_size(c))).collect(),
            volumes: self
                .volume_list()
                .into_iter()
                .map(|v| {
                    let size = tree_size(&v.mountpoint);
                    (v, size)
                })
                .collect(),
        }
    }
}

//! The inode table. A node's number is its `st_ino` and its FUSE node id at
//! once: `(layer + 1) << 48 | st_ino` of the object in the layer where it
//! first appeared (kept across copy-up in an origin xattr), and 1 for the
//! root. Numbers are therefore stable across remounts of the same layers,
//! and `readdir`'s `d_ino` is computed by the same rule as `lookup`'s. A
//! lower layer of the store has no disk `st_ino` asked for: its index gives
//! one (see `indexed`), by which the same rule numbers its objects.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, OnceLock};

pub const ROOT: u64 = 1;
const LAYER_SHIFT: u32 = 48;

/// The inode number of an object: the layer it comes from and its
/// `st_ino` there (or its recorded origin).
pub fn ino_of(layer: usize, st_ino: u64, origin: Option<u64>) -> u64 {
    origin.unwrap_or(((layer as u64 + 1) << LAYER_SHIFT) | (st_ino & ((1 << LAYER_SHIFT) - 1)))
}

/// The layer and `st_ino` an object number stands for, when it is not the
/// root: the inverse of `ino_of` without an origin.
pub fn layer_and_st_ino(ino: u64) -> Option<(usize, u64)> {
    let layer = (ino >> LAYER_SHIFT).checked_sub(1)?;
    Some((layer as usize, ino & ((1 << LAYER_SHIFT) - 1)))
}

/// Where an upper file copied up without its data (metacopy) still has
/// it: a lower layer, the file's path there and its `st_ino` there (checked
/// when the data is opened, so a changed stack of layers is an error, not
/// another file's data).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LowerData {
    pub layer: usize,
    pub path: Vec<u8>,
    pub st_ino: u64,
}

impl LowerData {
    /// Whether `st_ino` (of the file opened for the data) is the one meant.
    pub fn is(&self, st_ino: u64) -> bool {
        st_ino & ((1 << LAYER_SHIFT) - 1) == self.st_ino & ((1 << LAYER_SHIFT) - 1)
    }
}

/// A directory's merged layers (see `Merge`), shared between the clones of
/// its node.
pub type MergeList = Arc<Merge>;

#[derive(Clone, Debug)]
pub struct Node {
    /// The names it is known by, (parent, name), the first used for paths;
    /// several for hard links, none once all are removed while the kernel
    /// still holds the node (an unlinked open file).
    pub links: Vec<(u64, Vec<u8>)>,
    /// The layer holding the visible object (0 is the upper, when there is one).
    pub layer: usize,
    pub is_dir: bool,
    /// The object's size when it was found: exact for an object in a lower
    /// layer (they never change), a hint in the upper one.
    pub size: u64,
    /// For a directory: the layers whose entries merge into it, topmost
    /// first, each with the directory's path in that layer (it differs from
    /// the merged path below a renamed directory).
    /// Shared: a node is cloned on every request that names it, and a
    /// directory of a deep stack merges many layers.
    pub merge: MergeList,
    pub lookups: u64,
    /// For an upper file copied up without its data: where the data is.
    pub lower_data: Option<std::sync::Arc<LowerData>>,
    /// For an object whose inode has a copy in the hard-link index.
    pub hardlink: Option<HardLink>,
}

/// An inode of a lower layer with several names, copied up into the
/// hard-link index (see `hardlinks`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HardLink {
    /// How many of its names are still only in its lower layer (not linked
    /// into the upper one yet): they count in its link count.
    pub aliases_below: u32,
    /// Shown from the index entry: found by a name not linked into the
    /// upper layer yet (the node's layer is that name's lower layer).
    pub in_index: bool,
}

impl HardLink {
    /// The link count to show for an inode whose disk link count is
    /// `disk` (which counts the index entry).
    pub fn nlink(&self, disk: u64) -> u64 {
        disk.saturating_sub(1) + u64::from(self.aliases_below)
    }
}

/// The layers of a merged directory, topmost first, with the index of the
/// names its lower layers hold (made at the first lookup that needs it).
#[derive(Clone, Default)]
pub struct Merge {
    pub layers: Vec<(usize, Vec<u8>)>,
    /// Kept as long as the lower part of `layers` is unchanged (only an
    /// upper layer is ever added in front).
    pub lower_index: OnceLock<Arc<NameIndex>>,
}

impl Merge {
    pub fn new(layers: Vec<(usize, Vec<u8>)>) -> Merge {
        Merge {
            layers,
            lower_index: OnceLock::new(),
        }
    }
}

impl std::fmt::Debug for Merge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.layers.iter().map(|(l, _)| l)).finish()
    }
}

impl std::ops::Deref for Merge {
    type Target = [(usize, Vec<u8>)];

    fn deref(&self) -> &Self::Target {
        &self.layers
    }
}

/// Which of the lower layers of a merged directory may hold a name, as an
/// entry or a whiteout, found with one hash and one binary search however
/// many layers there are. Names are kept as hashes: a collision only adds a
/// layer to probe, and a name no layer holds has no layer to probe.
/// Positions count from the first lower layer of the merge.
pub struct NameIndex {
    hasher: RandomState,
    /// (hash of a name, position), sorted.
    names: Vec<(u64, u32)>,
    /// Positions whose layer was not listed ahead: always probed.
    always: Vec<u32>,
}

impl Default for NameIndex {
    fn default() -> Self {
        NameIndex {
            hasher: RandomState::new(),
            names: Vec::new(),
            always: Vec::new(),
        }
    }
}

impl NameIndex {
    /// Records the names the layer at `pos` holds.
    pub fn add<'a>(&mut self, pos: u32, names: impl IntoIterator<Item = &'a [u8]>) {
        let hasher = &self.hasher;
        self.names.extend(names.into_iter().map(|n| (hasher.hash_one(n), pos)));
    }

    /// The layer at `pos` may hold any name.
    pub fn add_unlisted(&mut self, pos: u32) {
        self.always.push(pos);
    }

    /// Ready for `positions` (sorted).
    pub fn finish(mut self) -> NameIndex {
        self.names.sort_unstable();
        self.names.dedup();
        self.names.shrink_to_fit();
        self
    }

    /// The positions of the layers that may hold `name`, in order.
    pub fn positions(&self, name: &[u8]) -> Vec<u32> {
        let h = self.hasher.hash_one(name);
        let start = self.names.partition_point(|&(x, _)| x < h);
        let mut out: Vec<u32> = self.names[start..]
            .iter()
            .take_while(|&&(x, _)| x == h)
            .map(|&(_, p)| p)
            .collect();
        if !self.always.is_empty() {
            out.extend_from_slice(&self.always);
            out.sort_unstable();
            out.dedup();
        }
        out
    }
}

impl Node {
    pub fn parent(&self) -> Option<u64> {
        self.links.first().map(|l| l.0)
    }

    pub fn unlinked(&self) -> bool {
        self.links.is_empty()
    }
}

/// Nodes are boxed: the table of a walked image has tens of thousands,
/// and an open-addressed table keeps empty slots the size of its values.
#[derive(Default)]
pub struct Nodes {
    map: HashMap<u64, Box<Node>>,
}

impl Nodes {
    pub fn new(root: Node) -> Nodes {
        let mut map = HashMap::new();
        map.insert(ROOT, Box::new(root));
        Nodes { map }
    }

    pub fn get(&self, ino: u64) -> Option<&Node> {
        self.map.get(&ino).map(|n| &**n)
    }

    pub fn get_mut(&mut self, ino: u64) -> Option<&mut Node> {
        self.map.get_mut(&ino).map(|n| &mut **n)
    }

    /// Where a node of a lower layer is in that layer: its parent's path
    /// there, and its name. It is not stored: a lower object is only ever
    /// found through a parent that merges its layer (anything renamed or
    /// linked has been copied up first), and a directory's merge list
    /// keeps its lower paths when the directory is renamed, as lower
    /// layers never change.
    pub fn lower_path(&self, ino: u64) -> Option<Vec<u8>> {
        if ino == ROOT {
            return Some(Vec::new());
        }
        let node = self.map.get(&ino)?;
        let (parent, name) = node.links.first()?;
        let (_, dir) = self.map.get(parent)?.merge.iter().find(|(l, _)| *l == node.layer)?;
        let mut path = dir.clone();
        if !path.is_empty() {
            path.push(b'/');
        }
        path.extend_from_slice(name);
        Some(path)
    }

    /// The path of a node from the root (`a/b/c`; empty for the root), or
    /// None if it or an ancestor was forgotten or unlinked.
    pub fn path(&self, ino: u64) -> Option<Vec<u8>> {
        let mut parts: Vec<&[u8]> = Vec::new();
        let mut cur = ino;
        let mut guard = 0;
        while cur != ROOT {
            let (parent, name) = self.map.get(&cur)?.links.first()?;
            parts.push(name);
            cur = *parent;
            guard += 1;
            if guard > 4096 {
                return None;
            }
        }
        let mut out = Vec::new();
        for (i, p) in parts.iter().rev().enumerate() {
            if i > 0 {
                out.push(b'/');
            }
            out.extend_from_slice(p);
        }
        Some(out)
    }

    /// Records a lookup of `node` (which carries the one name it was found
    /// by): a new node, or a known one refreshed to where it was found, with
    /// the name added to its links. The name comes first: paths follow the
    /// first link, and this name is the one known to be where the node now
    /// says (another name of a hard-linked inode may still be in a lower
    /// layer while this one is in the upper).
    pub fn remember(&mut self, ino: u64, node: Node) {
        match self.map.get_mut(&ino) {
            Some(n) => {
                let old = std::mem::take(&mut n.links);
                let mut links = node.links.clone();
                links.extend(old.into_iter().filter(|l| !node.links.contains(l)));
                // The same layers: keep the merge, and the index made of it.
                let merge = if n.merge.layers == node.merge.layers {
                    n.merge.clone()
                } else {
                    node.merge.clone()
                };
                **n = Node {
                    links,
                    lookups: n.lookups + 1,
                    merge,
                    ..node
                };
            }
            None => {
                self.map.insert(ino, Box::new(Node { lookups: 1, ..node }));
            }
        }
    }

    /// A name of `ino` is gone.
    pub fn unlink(&mut self, ino: u64, parent: u64, name: &[u8]) {
        if let Some(n) = self.map.get_mut(&ino) {
            n.links.retain(|(p, nm)| !(*p == parent && nm == name));
        }
    }

    /// A name of `ino` moved.
    pub fn rename(&mut self, ino: u64, from: (u64, &[u8]), to: (u64, &[u8])) {
        if let Some(n) = self.map.get_mut(&ino) {
            for l in n.links.iter_mut() {
                if l.0 == from.0 && l.1 == from.1 {
                    *l = (to.0, to.1.to_vec());
                }
            }
        }
    }

    pub fn forget(&mut self, ino: u64, n: u64) {
        if ino == ROOT {
            return;
        }
        if let Some(node) = self.map.get_mut(&ino) {
            node.lookups = node.lookups.saturating_sub(n);
            if node.lookups == 0 {
                self.map.remove(&ino);
            }
        }
    }

    /// The nodes named in `parent`, with their names there. A scan: only
    /// for rare changes (a directory closed to some callers).
    pub fn children(&self, parent: u64) -> Vec<(u64, Vec<u8>)> {
        self.map
            .iter()
            .flat_map(|(ino, n)| {
                n.links
                    .iter()
                    .filter(|(p, _)| *p == parent)
                    .map(|(_, name)| (*ino, name.clone()))
            })
            .collect()
    }

    /// The node currently named `name` in `parent`, if the table has one.
    /// A scan: only for the rare invalidations from outside the mount.
    pub fn child(&self, parent: u64, name: &[u8]) -> Option<u64> {
        self.map
            .iter()
            .find(|(_, n)| n.links.iter().any(|(p, nm)| *p == parent && nm == name))
            .map(|(ino, _)| *ino)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_object_number_names_its_layer_and_inode() {
        let ino = ino_of(3, 0xdead_beef, None);
        assert_eq!(layer_and_st_ino(ino), Some((3, 0xdead_beef)));
        assert_eq!(layer_and_st_ino(ROOT), None, "the root stands for no layer");
        // st_ino beyond 48 bits is compared as the number keeps it.
        let wide = (1 << 50) | 42;
        let data = LowerData {
            layer: 1,
            path: b"a".to_vec(),
            st_ino: layer_and_st_ino(ino_of(1, wide, None)).unwrap().1,
        };
        assert!(data.is(wide) && data.is(42) && !data.is(43));
    }

    #[test]
    fn name_index_names_the_layers_holding_a_name_in_order() {
        let mut index = NameIndex::default();
        index.add(3, [b"a".as_slice(), b"b".as_slice()]);
        index.add(0, [b"b".as_slice()]);
        index.add(5, [b"b".as_slice(), b"b".as_slice()]);
        let index = index.finish();
        assert_eq!(index.positions(b"a"), vec![3]);
        assert_eq!(index.positions(b"b"), vec![0, 3, 5]);
        assert!(index.positions(b"c").is_empty());
        let mut index = NameIndex::default();
        index.add(2, [b"a".as_slice()]);
        index.add_unlisted(1);
        index.add_unlisted(4);
        let index = index.finish();
        assert_eq!(index.positions(b"a"), vec![1, 2, 4]);
        assert_eq!(index.positions(b"z"), vec![1, 4]);
    }
}

//! The inode table. A node's number is its `st_ino` and its FUSE node id at
//! once: `(layer + 1) << 48 | st_ino` of the object in the layer where it
//! first appeared (kept across copy-up in an origin xattr), and 1 for the
//! root. Numbers are therefore stable across remounts of the same layers,
//! and `readdir`'s `d_ino` is computed by the same rule as `lookup`'s.

use std::collections::HashMap;

pub const ROOT: u64 = 1;
const LAYER_SHIFT: u32 = 48;

/// The inode number of an object: the layer it comes from and its
/// `st_ino` there (or its recorded origin).
pub fn ino_of(layer: usize, st_ino: u64, origin: Option<u64>) -> u64 {
    origin.unwrap_or(((layer as u64 + 1) << LAYER_SHIFT) | (st_ino & ((1 << LAYER_SHIFT) - 1)))
}

#[derive(Clone, Debug)]
pub struct Node {
    /// The names it is known by, (parent, name), the first used for paths;
    /// several for hard links, none once all are removed while the kernel
    /// still holds the node (an unlinked open file).
    pub links: Vec<(u64, Vec<u8>)>,
    /// The layer holding the visible object (0 is the upper, when there is one).
    pub layer: usize,
    /// The object's path in `layer` when that is a lower layer. Lower
    /// layers never change, so this is fixed even when a rename moves the
    /// object (in the upper layer the path is always the merged path).
    pub lower_path: Vec<u8>,
    pub is_dir: bool,
    /// The object's size when it was found: exact for an object in a lower
    /// layer (they never change), a hint in the upper one.
    pub size: u64,
    /// For a directory: the layers whose entries merge into it, topmost
    /// first, each with the directory's path in that layer (it differs from
    /// the merged path below a renamed directory).
    /// Shared: a node is cloned on every request that names it, and a
    /// directory of a deep stack merges many layers.
    pub merge: std::sync::Arc<Vec<(usize, Vec<u8>)>>,
    pub lookups: u64,
}

impl Node {
    pub fn parent(&self) -> Option<u64> {
        self.links.first().map(|l| l.0)
    }

    pub fn unlinked(&self) -> bool {
        self.links.is_empty()
    }
}

#[derive(Default)]
pub struct Nodes {
    map: HashMap<u64, Node>,
}

impl Nodes {
    pub fn new(root: Node) -> Nodes {
        let mut map = HashMap::new();
        map.insert(ROOT, root);
        Nodes { map }
    }

    pub fn get(&self, ino: u64) -> Option<&Node> {
        self.map.get(&ino)
    }

    pub fn get_mut(&mut self, ino: u64) -> Option<&mut Node> {
        self.map.get_mut(&ino)
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
    /// the name added to its links.
    pub fn remember(&mut self, ino: u64, node: Node) {
        match self.map.get_mut(&ino) {
            Some(n) => {
                let mut links = std::mem::take(&mut n.links);
                for l in node.links.iter() {
                    if !links.contains(l) {
                        links.push(l.clone());
                    }
                }
                *n = Node {
                    links,
                    lookups: n.lookups + 1,
                    ..node
                };
            }
            None => {
                self.map.insert(ino, Node { lookups: 1, ..node });
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

    /// The node currently named `name` in `parent`, if the table has one.
    /// A scan: only for the rare invalidations from outside the mount.
    pub fn child(&self, parent: u64, name: &[u8]) -> Option<u64> {
        self.map
            .iter()
            .find(|(_, n)| n.links.iter().any(|(p, nm)| *p == parent && nm == name))
            .map(|(ino, _)| *ino)
    }
}

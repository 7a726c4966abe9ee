//! Hard links of lower layers stay hard links through copy-up, as kernel
//! overlayfs keeps them with `index=on`.
//!
//! All the names of a lower inode are one node (its number is the layer and
//! the inode's), so the kernel holds one inode for them, and an open does
//! not say which name was used. Copying up "the" name would give one name
//! new content and leave the others on the old one under the same inode
//! number, whose cached pages the kernel then serves for both. Instead the
//! first copy-up of a lower non-directory with more than one link goes to
//! `work/strata-index/<node number in hex>` (built in the scratch directory
//! and renamed there, so it is whole or absent), and every name known to
//! stand for the inode is linked to it: the names the node was looked up
//! by and, for a layer of the store, every name its index records (so that
//! `diff` and `commit`, which read only the upper layer, see each changed
//! name). A name not linked then (one of a plain layer, whose other names
//! nobody knows until they are looked up, or one below a renamed directory)
//! is found later: a lookup of a lower non-directory with `st_nlink > 1`
//! looks for its index entry (one `fstatat` on a held directory, none while
//! the index is empty) and shows that; the name is linked at its own copy-up.
//!
//! Link counts: the entry's own link is no name, while names still only
//! below are. Their number is kept in the origin record the inode carries
//! (`Origin::aliases_below`), which every lookup reads anyway. Removing or
//! replacing a lower name of such an inode copies the inode up first (as
//! the kernel does), so that the count stays true; entries are never
//! removed (a lower name may still need one).

use super::layer::{Layer, Origin, is_dir, join, split};
use super::nodes::{HardLink, Node, ROOT};
use super::union::{UnionFs, WriteGuard};
use super::{FsError, FsResult};
use crate::sys::{BeneathDir, Name};
use rustix::fs::Stat;
use std::io;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

const INDEX_DIR: &[u8] = b"strata-index";

/// A name of a node: its parent and its name there.
type Link = (u64, Vec<u8>);

/// The hard-link index of a mount, in its work directory (beside the
/// scratch directory, which is emptied at every mount; this is not).
pub struct LinkIndex {
    /// A layer of its own: entries are read as the upper layer's objects
    /// are (with their overrides), at the path `entry_name`.
    pub layer: Layer,
    /// No entry yet: lookups need not look.
    empty: AtomicBool,
}

/// The entry of node `ino`.
pub fn entry_name(ino: u64) -> Vec<u8> {
    format!("{ino:016x}").into_bytes()
}

impl LinkIndex {
    pub fn open(work: &Path, overrides: bool, layers: usize) -> io::Result<LinkIndex> {
        let dir = BeneathDir::open(work)?;
        match dir.mkdir(Name::new(INDEX_DIR).map_err(io::Error::other)?, 0o700) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
        let layer = Layer::open(work.join("strata-index"), false, layers)?.with_overrides(overrides);
        let empty = layer.root.entry_names()?.is_empty();
        Ok(LinkIndex {
            layer,
            empty: AtomicBool::new(empty),
        })
    }

    /// The entry of node `ino` as shown, with its record, if there is one.
    fn probe(&self, ino: u64) -> FsResult<Option<(Stat, Origin)>> {
        if self.empty.load(Ordering::Relaxed) {
            return Ok(None);
        }
        let name = entry_name(ino);
        match self.layer.stat(&name) {
            Ok(st) => {
                let origin = self.layer.origin_record(&name).unwrap_or(Origin {
                    ino,
                    aliases_below: Some(0),
                    data_path: None,
                });
                Ok(Some((st, origin)))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    fn entry_fd(&self, ino: u64) -> FsResult<std::os::fd::OwnedFd> {
        Ok(self.layer.root.open_path(&entry_name(ino))?)
    }
}

impl UnionFs {
    /// For a lower non-directory with other names (`st`, node `ino`) whose
    /// copy is in the index: the entry, as shown, and its record.
    pub(super) fn indexed_copy(&self, ino: u64, st: &Stat) -> FsResult<Option<(Stat, Origin)>> {
        match self.links() {
            Some(links) if !is_dir(st) && st.st_nlink > 1 => links.probe(ino),
            _ => Ok(None),
        }
    }

    /// Whether copying up the lower object `st` (as found) goes through the
    /// index: a non-directory with other names.
    pub(super) fn copies_to_index(&self, node: &Node, st: &Stat) -> bool {
        self.links().is_some() && !node.is_dir && (st.st_nlink > 1 || node.hardlink.is_some_and(|h| h.in_index))
    }

    /// Puts the copy of node `ino` (of lower `layer`, where it is `source`)
    /// built at `tmp` in the scratch directory into the index, and links to
    /// it every name that still shows the inode: `path` and the node's other
    /// names and, for a store layer, every name its index knows. `origin` is
    /// the record `tmp` carries, `nlink` the lower inode's link count.
    /// Returns how many names are left only below.
    pub(super) fn place_in_index(
        &self,
        w: &WriteGuard<'_>,
        tmp: Name<'_>,
        ino: u64,
        at: (usize, &[u8], &[u8]),
        nlink: u64,
        origin: &Origin,
    ) -> FsResult<u32> {
        let (layer, path, source) = at;
        let links = self.links().ok_or(FsError::ROFS)?;
        let work = self.work()?;
        let names = self.names_below(ino, layer, path, source)?;
        // A store layer's index names them all; a plain layer's other
        // names are counted as below until they are linked.
        let known = u64::try_from(names.len()).unwrap_or(u64::MAX);
        let mut below = if self.layer(layer).index().is_some() {
            0
        } else {
            u32::try_from(nlink.saturating_sub(known)).unwrap_or(u32::MAX)
        };
        let record = Origin {
            aliases_below: Some(below),
            ..origin.clone()
        };
        if !self.record_origin(work.open_path(tmp.as_bytes())?, &record) {
            tracing::debug!("hard-link index: the record of {ino:x} not kept");
        }
        let entry = entry_name(ino);
        let entry_ref = Name::new(&entry)?;
        match work.rename_noreplace(tmp, &links.layer.root, entry_ref) {
            Ok(()) => {}
            // Made by an earlier mount whose lookups this one has not
            // seen: the names join that one, which is the inode's.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => work.remove_all(tmp)?,
            Err(e) => return Err(e.into()),
        }
        links.empty.store(false, Ordering::Relaxed);
        let mut failed = 0u32;
        for name in &names {
            if let Err(e) = self.link_name(w, name, entry_ref) {
                if name.as_slice() == path {
                    return Err(e);
                }
                tracing::debug!("hard-link index: {} not linked: {e:?}", String::from_utf8_lossy(name));
                failed += 1;
            }
        }
        if failed > 0 {
            below = below.saturating_add(failed);
            self.record_origin(
                links.entry_fd(ino)?,
                &Origin {
                    aliases_below: Some(below),
                    ..origin.clone()
                },
            );
        }
        Ok(below)
    }

    /// Copy-up of a node shown from its index entry: each of its names not
    /// in the upper layer yet is linked to the entry.
    pub(super) fn link_from_index(&self, w: &WriteGuard<'_>, ino: u64) -> FsResult<()> {
        let links = self.links().ok_or(FsError::ROFS)?;
        let entry = entry_name(ino);
        let entry_ref = Name::new(&entry)?;
        let names = self.known_names(ino);
        let mut linked = 0u32;
        let mut kept = Vec::new();
        for (link, path) in names {
            match self.resolve(&path)? {
                Some((i, n, _)) if i == ino && !self.in_upper(n.layer) => {
                    self.link_name(w, &path, entry_ref)?;
                    linked += 1;
                    kept.push(link);
                }
                Some((i, _, _)) if i == ino => kept.push(link),
                _ => {}
            }
        }
        if kept.is_empty() {
            return Err(FsError::NOENT);
        }
        let fd = links.entry_fd(ino)?;
        let mut record = links.layer.origin_record(&entry).unwrap_or(Origin {
            ino,
            ..Origin::default()
        });
        let below = record.aliases_below.unwrap_or(0).saturating_sub(linked);
        record.aliases_below = Some(below);
        self.record_origin(fd, &record);
        if let Some(n) = self.nodes_write().get_mut(ino) {
            n.layer = 0;
            n.links = kept;
            n.hardlink = Some(HardLink {
                aliases_below: below,
                in_index: false,
            });
        }
        Ok(())
    }

    /// The names of node `ino` in the table, with their merged paths.
    fn known_names(&self, ino: u64) -> Vec<(Link, Vec<u8>)> {
        let nodes = self.nodes_read();
        let Some(node) = nodes.get(ino) else { return Vec::new() };
        node.links
            .iter()
            .filter_map(|(parent, name)| Some(((*parent, name.clone()), join(&nodes.path(*parent)?, name))))
            .collect()
    }

    /// The merged paths that show node `ino` from lower `layer`: `path`
    /// first, then its other known names and a store layer's other names
    /// for the inode (whiteouts, shadowing and renames checked: each is
    /// looked up).
    fn names_below(&self, ino: u64, layer: usize, path: &[u8], source: &[u8]) -> FsResult<Vec<Vec<u8>>> {
        let mut candidates = vec![path.to_vec()];
        candidates.extend(self.known_names(ino).into_iter().map(|(_, p)| p));
        // A store layer's paths are merged paths unless below a renamed
        // directory; those are found by their own lookups.
        candidates.extend(self.layer(layer).aliases(source));
        let mut out: Vec<Vec<u8>> = Vec::new();
        for p in candidates {
            if out.contains(&p) {
                continue;
            }
            // A path that does not resolve (an index is input too) is one
            // name fewer linked now; its lookup would find the entry.
            if let Ok(Some((i, n, _))) = self.resolve(&p)
                && i == ino
                && n.layer == layer
            {
                out.push(p);
            }
        }
        if out.first().map(Vec::as_slice) != Some(path) {
            out.insert(0, path.to_vec());
        }
        Ok(out)
    }

    /// Links the index entry `entry` as the merged path `path` in the upper
    /// layer, its parents copied up as needed.
    fn link_name(&self, w: &WriteGuard<'_>, path: &[u8], entry: Name<'_>) -> FsResult<()> {
        let links = self.links().ok_or(FsError::ROFS)?;
        let (dir, name) = split(path);
        let udir = self.upper_dir_at(w, dir)?;
        match udir.link_from(&links.layer.root, entry, Name::new(name)?) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e.into()),
        }
        let shown = links.layer.stat(entry.as_bytes())?;
        if matches!(
            super::layer::file_type(&shown),
            rustix::fs::FileType::CharacterDevice | rustix::fs::FileType::BlockDevice
        ) {
            self.note_placeholder(&udir)?;
        }
        Ok(())
    }

    /// What the merged path `path` shows (as `find` finds it), walking from
    /// the root without the node table: an alias's parents may be unknown
    /// to the kernel.
    pub(super) fn resolve(&self, path: &[u8]) -> FsResult<Option<(u64, Node, Stat)>> {
        let (mut dir, _) = self.node(ROOT)?;
        let mut dir_path = Vec::new();
        let comps: Vec<&[u8]> = path.split(|&c| c == b'/').filter(|c| !c.is_empty()).collect();
        let Some((leaf, parents)) = comps.split_last() else {
            return Ok(None);
        };
        for comp in parents {
            match self.find(&dir, &dir_path, comp)? {
                Some((_, n, _)) if n.is_dir => dir = n,
                _ => return Ok(None),
            }
            dir_path = join(&dir_path, comp);
        }
        self.find(&dir, &dir_path, leaf)
    }

    /// The upper directory at the merged path `path`, each missing part
    /// copied up on the way (by path: see `resolve`).
    pub(super) fn upper_dir_at(&self, w: &WriteGuard<'_>, path: &[u8]) -> FsResult<Arc<BeneathDir>> {
        self.copy_up(w, ROOT)?;
        let (mut dir, _) = self.node(ROOT)?;
        let mut dir_path: Vec<u8> = Vec::new();
        for comp in path.split(|&c| c == b'/').filter(|c| !c.is_empty()) {
            let (ino, mut node, _) = self.find(&dir, &dir_path, comp)?.ok_or(FsError::NOENT)?;
            if !node.is_dir {
                return Err(FsError::NOTDIR);
            }
            let child = join(&dir_path, comp);
            if !self.in_upper(node.layer) {
                let (_, below) = dir.merge.iter().find(|(l, _)| *l == node.layer).ok_or(FsError::NOENT)?;
                self.copy_up_found(w, ino, &node, &child, join(below, comp), true)?;
                // Found again, now merging the upper copy.
                node = self.find(&dir, &dir_path, comp)?.ok_or(FsError::NOENT)?.1;
            }
            dir = node;
            dir_path = child;
        }
        Ok(self.upper()?.held_dir(path)?)
    }
}

//! Directory listings: the merged entries of a directory and the
//! listings kept for zero-message opendir.

use super::UnionFs;
use super::attr::fuse_type;
use super::handles::Handle;
use crate::fs::layer::join;
use crate::fs::locks;
use crate::fs::nodes::{Node, ino_of};
use crate::fs::{FsError, FsResult};
use fuser::FileType as FuseType;
use fuser::INodeNo;
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;

pub(super) struct DirEntry {
    pub(super) name: Vec<u8>,
    pub(super) ino: u64,
    pub(super) kind: FuseType,
}

/// Listings kept in `dir_listings` at most.
pub(super) const KEPT_LISTINGS: usize = 256;

impl UnionFs {
    /// The merged entries of a directory, in a stable order: topmost layer
    /// first, each layer in its own order.
    pub(super) fn list(&self, node: &Node, path: &[u8]) -> FsResult<Vec<DirEntry>> {
        let mut seen: HashSet<Vec<u8>> = HashSet::new();
        let mut hidden: HashSet<Vec<u8>> = HashSet::new();
        let mut out = Vec::new();
        self.read_ahead_listings(&node.merge);
        for (l, lower_dir) in node.merge.iter() {
            let (l, dir_path) = (*l, if self.in_upper(*l) { path } else { lower_dir.as_slice() });
            let Some(listing) = self.layers[l].listing(dir_path)? else {
                continue;
            };
            for e in &listing.entries {
                if hidden.contains(&e.name) || !seen.insert(e.name.clone()) {
                    continue;
                }
                out.push(DirEntry {
                    name: e.name.clone(),
                    ino: ino_of(l, e.ino, self.origin(l, &join(path, &e.name))),
                    kind: fuse_type(e.kind),
                });
            }
            hidden.extend(listing.whiteouts.iter().cloned());
        }
        Ok(out)
    }

    /// The listing a `readdir` at `offset` reads: the handle's, or without
    /// one (zero-message opendir) a listing made at offset 0 and kept.
    pub(super) fn dir_entries(&self, ino: u64, fh: u64, offset: u64) -> FsResult<Arc<Vec<DirEntry>>> {
        if fh != 0 || !self.no_opendir.load(Ordering::Relaxed) {
            return match self.handles().get(&fh) {
                Some(Handle::Dir(e)) => Ok(e.clone()),
                _ => Err(FsError::BADF),
            };
        }
        if offset != 0
            && let Some(e) = locks::lock(&self.dir_listings).get(&ino)
        {
            return Ok(e.clone());
        }
        let (node, path) = self.node(ino)?;
        if !node.is_dir {
            return Err(FsError::NOTDIR);
        }
        let entries = Arc::new(self.list(&node, &path)?);
        let mut kept = locks::lock(&self.dir_listings);
        if kept.len() >= KEPT_LISTINGS {
            kept.clear();
        }
        kept.insert(ino, entries.clone());
        Ok(entries)
    }

    /// A `readdir` at `offset` that reads past the end of a kept listing
    /// (the kernel's last call, which finds nothing): the listing is
    /// dropped, as the kernel has it all now.
    pub(super) fn end_of_listing(&self, ino: u64, fh: u64, offset: u64, entries: &[DirEntry]) {
        if fh == 0 && offset >= 2 && offset - 2 >= entries.len() as u64 {
            locks::lock(&self.dir_listings).remove(&ino);
        }
    }

    /// `opendir`: a handle holding the directory's listing as of now.
    pub(super) fn open_dir(&self, ino: INodeNo) -> FsResult<u64> {
        let (node, path) = self.node(ino.0)?;
        if !node.is_dir {
            return Err(FsError::NOTDIR);
        }
        let entries = self.list(&node, &path)?;
        Ok(self.new_handle(Handle::Dir(Arc::new(entries))))
    }
}

//! Lookup and merge: finding a name across the layers (the name index,
//! reading ahead) and remembering what was found.

use super::merge::{self, Layers, Seen};
use super::{UnionFs, no_merge};
use crate::fs::layer::{Probe, WHITEOUT_PREFIX, is_dir, join, split};
use crate::fs::nodes::{HardLink, Merge, NameIndex, Node, ino_of};
use crate::fs::{FsError, FsResult};
use crate::sys::Name;
use fuser::FileAttr;
use rustix::fs::Stat;
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// `find` reads ahead when a directory goes on through this many more layers.
pub(super) const READ_AHEAD_MIN: usize = 8;
/// Threads (the caller's included) reading layers ahead: a cold read of a
/// small directory waits on the disk, and a virtual disk serves 4 at once
/// about twice as fast as one after another (8 do no better).
pub(super) const READ_AHEAD_THREADS: usize = 4;

/// Runs `job` on every item, over `READ_AHEAD_THREADS` scoped threads when
/// there are `READ_AHEAD_MIN` items or more (else not at all: the caller's
/// own pass does them, as quick). A thread that cannot be started leaves
/// its share to the others.
pub(super) fn in_parallel<T: Sync>(items: &[T], job: impl Fn(&T) + Sync) {
    if items.len() < READ_AHEAD_MIN {
        return;
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let work = || {
        while let Some(item) = items.get(next.fetch_add(1, Ordering::Relaxed)) {
            job(item);
        }
    };
    std::thread::scope(|s| {
        for _ in 1..READ_AHEAD_THREADS {
            if std::thread::Builder::new().spawn_scoped(s, work).is_err() {
                break;
            }
        }
        work();
    });
}

/// The mount's layers as the merge walk sees them, for `name` in `parent`.
struct MountLayers<'a> {
    fs: &'a UnionFs,
    parent: &'a Node,
    parent_path: &'a [u8],
    name: &'a [u8],
}

impl Layers for MountLayers<'_> {
    type Object = Stat;

    fn probe(&self, layer: usize, dir: &[u8], leaf: &[u8]) -> FsResult<Seen<Stat>> {
        Ok(match self.fs.layers[layer].probe(dir, leaf)? {
            Probe::Absent => Seen::Absent,
            Probe::Whiteout => Seen::Whiteout,
            Probe::Present(st) if is_dir(&st) => Seen::Dir(st),
            Probe::Present(st) => Seen::File(st),
        })
    }

    fn markers(&self, layer: usize, path: &[u8]) -> FsResult<(bool, Option<Vec<u8>>)> {
        let markers = self.fs.layers[layer].dir_markers(path, self.parent_path)?;
        // Redirects are honoured in the upper layer, where this filesystem
        // writes them.
        Ok((markers.opaque, markers.redirect.filter(|_| self.fs.in_upper(layer))))
    }

    fn lower_candidates(&self) -> FsResult<Vec<(usize, Vec<u8>)>> {
        let merge = &self.parent.merge;
        Ok(self
            .fs
            .lower_candidates(merge, self.name)?
            .into_iter()
            .map(|p| (merge[p].0, join(&merge[p].1, self.name)))
            .collect())
    }

    fn read_ahead(&self, rest: &[(usize, Vec<u8>)]) {
        self.fs.read_ahead_dirs(rest, self.parent_path);
    }

    fn below(&self, layer: usize) -> std::ops::Range<usize> {
        layer + 1..self.fs.layers.len()
    }
}

/// What `search` found of a name: the object shown (its layer, status and
/// path there) and the directories merged under it, itself first.
struct Found {
    layer: usize,
    st: Stat,
    path: Vec<u8>,
    merge: Vec<(usize, Vec<u8>)>,
}

impl UnionFs {
    /// Finds `name` in the directory `parent` (at `parent_path`), across the
    /// directory's merged layers, topmost first. Below a directory the upper
    /// layer redirects (a renamed directory), the lower layers are searched
    /// at the redirect's target instead.
    pub(in crate::fs) fn find(
        &self,
        parent: &Node,
        parent_path: &[u8],
        name: &[u8],
    ) -> FsResult<Option<(u64, Node, Stat)>> {
        self.find_with(parent, parent_path, name, false)
    }

    /// `find`, told whether the upper object was just made by this mount
    /// (`fresh`: it carries no origin, so none is read).
    pub(super) fn find_with(
        &self,
        parent: &Node,
        parent_path: &[u8],
        name: &[u8],
        fresh: bool,
    ) -> FsResult<Option<(u64, Node, Stat)>> {
        if name.starts_with(WHITEOUT_PREFIX) {
            return Ok(None);
        }
        let Some(found) = self.search(parent, parent_path, name)? else {
            return Ok(None);
        };
        Ok(Some(self.found_node(found, fresh)?))
    }

    /// The layers' objects for `name` in `parent`: the topmost one shown,
    /// and the directories that merge under it, topmost first (`find`).
    fn search(&self, parent: &Node, parent_path: &[u8], name: &[u8]) -> FsResult<Option<Found>> {
        let merged = join(parent_path, name);
        // The upper layer first; the lower layers once it is passed, only
        // those the parent's index says may hold the name.
        let upper: Vec<(usize, Vec<u8>)> = parent
            .merge
            .iter()
            .take_while(|(l, _)| self.in_upper(*l))
            .map(|(l, _)| (*l, merged.clone()))
            .collect();
        let layers = MountLayers {
            fs: self,
            parent,
            parent_path,
            name,
        };
        let walked = merge::walk(&layers, upper)?;
        Ok(walked.shown.map(|(layer, st, path)| Found {
            layer,
            st,
            path,
            merge: walked.merge,
        }))
    }

    /// The node and status shown for what `search` found, told whether the
    /// upper object was just made (`fresh`): its inode number, hard-link
    /// state and metacopy data from its origin record, or from the copy in
    /// the hard-link index of another of its names.
    fn found_node(&self, found: Found, fresh: bool) -> FsResult<(u64, Node, Stat)> {
        let Found {
            layer,
            st,
            path: layer_path,
            merge,
        } = found;
        let record = if fresh {
            None
        } else {
            self.origin_record(layer, &layer_path)
        };
        let ino = ino_of(layer, st.st_ino, record.as_ref().map(|o| o.ino));
        let mut hardlink = record.as_ref().and_then(|o| o.aliases_below).map(|n| HardLink {
            aliases_below: n,
            in_index: false,
        });
        let mut lower_data = record.and_then(|o| self.lower_data_of(o, &st));
        let mut st = st;
        if !self.in_upper(layer)
            && let Some((copy, record)) = self.indexed_copy(ino, &st)?
        {
            // Another name of this inode was copied up: this one shows
            // that copy too.
            hardlink = Some(HardLink {
                aliases_below: record.aliases_below.unwrap_or(0),
                in_index: true,
            });
            lower_data = self.lower_data_of(record, &copy);
            st = copy;
        }
        if let Some(d) = &lower_data {
            self.show_data_blocks(&mut st, d);
        }
        if let Some(h) = hardlink {
            st.st_nlink = h.nlink(st.st_nlink);
        }
        let node = Node {
            links: Vec::new(),
            layer,
            is_dir: is_dir(&st),
            size: st.st_size as u64,
            merge: if merge.is_empty() {
                no_merge()
            } else {
                Arc::new(Merge::new(merge))
            },
            lookups: 0,
            lower_data,
            hardlink,
        };
        Ok((ino, node, st))
    }

    pub(super) fn lookup_inner(&self, parent: u64, name: &[u8]) -> FsResult<FileAttr> {
        self.lookup_with(parent, name, false)
    }

    pub(super) fn lookup_with(&self, parent: u64, name: &[u8], fresh: bool) -> FsResult<FileAttr> {
        // A name no entry can have is not there (a negative entry), unless
        // it is too long: that is the caller's error.
        Name::new(name).map_err(|e| match FsError::from(e) {
            FsError::NAMETOOLONG => FsError::NAMETOOLONG,
            _ => FsError::NOENT,
        })?;
        let (pnode, ppath) = self.node(parent)?;
        if !pnode.is_dir {
            return Err(FsError::NOTDIR);
        }
        let (ino, mut node, st) = self.find_with(&pnode, &ppath, name, fresh)?.ok_or(FsError::NOENT)?;
        // Exactly one name (a push would reserve room for four).
        node.links = vec![(parent, name.to_vec())];
        self.nodes_write().remember(ino, node);
        Ok(self.attr(ino, &st))
    }

    /// Reads ahead, in parallel, what `find` goes on to read of the lower
    /// layers among `candidates` (paths of a name in each): the entry's
    /// `lstat` and, for a directory, its markers (kept by the layer). Cold,
    /// each waits on the disk, which serves several reads at once. Errors
    /// are left for `find` to meet.
    pub(super) fn read_ahead_dirs(&self, candidates: &[(usize, Vec<u8>)], parent_path: &[u8]) {
        in_parallel(candidates, |(l, path)| {
            let layer = &self.layers[*l];
            if !layer.lists_ahead() {
                return;
            }
            let (dir, leaf) = split(path);
            if let Ok(Probe::Present(st)) = layer.probe(dir, leaf)
                && is_dir(&st)
            {
                let _ = layer.dir_markers(path, parent_path);
            }
        });
    }

    /// Reads ahead, in parallel, the listings (kept by their layers) of the
    /// lower layers among `dirs` that are not read yet: cold, each waits
    /// on the disk. Errors are left for the caller's own pass to meet.
    pub(super) fn read_ahead_listings(&self, dirs: &[(usize, Vec<u8>)]) {
        let unread: Vec<&(usize, Vec<u8>)> = dirs
            .iter()
            .filter(|(l, dir)| self.layers[*l].lists_ahead() && !self.layers[*l].has_listing(dir))
            .collect();
        in_parallel(&unread, |(l, dir)| {
            let _ = self.layers[*l].listing(dir);
        });
    }

    /// The positions in `merge` of the lower layers that may hold `name`
    /// (an entry or a whiteout), in order: every other lower layer would
    /// answer `Probe::Absent`. Made from the merge's index of names, built
    /// from the layers' listings (read once and kept: lower layers never
    /// change) the first time it is needed, so that a lookup costs the
    /// same through 2 layers or 64.
    pub(super) fn lower_candidates(&self, merge: &Merge, name: &[u8]) -> FsResult<Vec<usize>> {
        let start = merge.iter().take_while(|(l, _)| self.in_upper(*l)).count();
        let lower = &merge[start..];
        if lower.len() <= 1 {
            return Ok((start..merge.len()).collect());
        }
        let index = match merge.lower_index.get() {
            Some(index) => index.clone(),
            None => {
                self.read_ahead_listings(lower);
                let mut index = NameIndex::default();
                for (pos, (l, dir)) in (0u32..).zip(lower.iter()) {
                    let layer = &self.layers[*l];
                    if !layer.lists_ahead() {
                        index.add_unlisted(pos);
                    } else if let Some(listing) = layer.listing(dir)? {
                        index.add(pos, listing.entries.iter().map(|e| e.name.as_slice()));
                        index.add(pos, listing.whiteouts.iter().map(Vec::as_slice));
                    }
                }
                let index = Arc::new(index.finish());
                // Another thread may have made it meanwhile: either serves.
                let _ = merge.lower_index.set(index.clone());
                index
            }
        };
        Ok(index
            .positions(name)
            .into_iter()
            .map(|p| start + p as usize)
            .filter(|&p| p < merge.len())
            .collect())
    }

    /// Whether any layer below the upper shows `name` in `parent`.
    pub(super) fn exists_below(&self, parent: &Node, name: &[u8]) -> FsResult<bool> {
        for p in self.lower_candidates(&parent.merge, name)? {
            let (l, dir) = &parent.merge[p];
            match self.layers[*l].probe(dir, name)? {
                Probe::Absent => continue,
                Probe::Whiteout => return Ok(false),
                Probe::Present(_) => return Ok(true),
            }
        }
        Ok(false)
    }
}

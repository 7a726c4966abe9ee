//! A lower store layer's attributes and listings from its index alone, so
//! that a lookup, a `getattr` or a `readdirplus` of its entries makes no
//! syscall (the disk is touched when data is: an open, a `readlink`, an
//! xattr other than `security.capability`).
//!
//! The index is authoritative (a rootless store could not set owners, modes
//! or devices on disk) and immutable, as is the layer's extracted tree while
//! it is a lower layer, so an answer made from it cannot go stale. What is
//! shown, field by field:
//!
//! - type, permission bits, uid, gid, device numbers, size: the record's
//!   (a symlink's size is its target's length, as `lstat` says; a
//!   directory's is the filesystem's block size, as ext4 and xfs show a
//!   small directory);
//! - mtime: the record's; atime and ctime: the mtime too (the disk's are
//!   the extraction's, which says nothing of the image, and an atime that
//!   reads moved would be the only thing a read of a lower file changes);
//! - `st_ino`: one plus the position of the inode's first name in the index
//!   (a hard link's record names its first name), so stable for as long
//!   as the layer is, and shared by every name of an inode;
//! - nlink: a non-directory's count of names in the index; a directory's
//!   2 plus its subdirectories, as the disk counts them;
//! - blocks: the size's, in whole blocks of the filesystem's block size (a
//!   sparse file's holes are not known here: it shows the blocks its size
//!   would take);
//! - `st_dev`, `st_blksize`: the layer root's (taken once, at mount).

use super::layer::{Layer, ListEntry, Listing, kind_of};
use crate::layers::index::{EntryKind, FLAG_HARDLINK, LayerIndex, Record};
use rustix::fs::Stat;
use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

/// What answers a lower store layer's attributes: its index, and what is
/// made from it once.
pub struct IndexedAttrs {
    /// The disk stat of the layer's root, taken at open: every answer
    /// starts from it, for what the index cannot say (`st_dev`,
    /// `st_blksize`), all else overwritten.
    template: Stat,
    /// Each directory's count of subdirectories, by path: made at the
    /// first stat of a directory, in one pass over the index.
    subdirs: OnceLock<HashMap<Vec<u8>, u32>>,
}

/// The inode number of the record at `pos`: never 0, which `d_ino` and
/// `st_ino` avoid.
fn number(pos: usize) -> u64 {
    pos as u64 + 1
}

impl IndexedAttrs {
    pub fn new(template: Stat) -> IndexedAttrs {
        IndexedAttrs {
            template,
            subdirs: OnceLock::new(),
        }
    }

    /// The inode number of `rec` (at `pos`): its first name's, for a hard
    /// link whose first name the index holds.
    pub fn ino<B: AsRef<[u8]>>(&self, index: &LayerIndex<B>, pos: usize, rec: Record<'_>) -> u64 {
        if rec.flags() & FLAG_HARDLINK != 0
            && let Some((first, _)) = index.find(rec.target())
        {
            return number(first);
        }
        number(pos)
    }

    /// The object `rec` (at `pos`, path `path`) as the mount shows it.
    /// `names` is the count of names of a hard-linked inode, by first
    /// name (see `Layer::aliases`).
    pub fn stat<B: AsRef<[u8]>>(
        &self,
        index: &LayerIndex<B>,
        path: &[u8],
        (pos, rec): (usize, Record<'_>),
        names: impl FnOnce(&[u8]) -> usize,
    ) -> Stat {
        let kind = rec.kind();
        let mut st = self.template;
        let block = u64::try_from(st.st_blksize).unwrap_or(4096).max(512);
        st.st_ino = self.ino(index, pos, rec) as _;
        st.st_mode = (kind_of(kind).as_raw_mode() | (rec.mode() & 0o7777)) as _;
        st.st_uid = rec.uid() as _;
        st.st_gid = rec.gid() as _;
        let (major, minor) = rec.rdev();
        st.st_rdev = match kind {
            EntryKind::CharDevice | EntryKind::BlockDevice => rustix::fs::makedev(major, minor) as _,
            _ => 0,
        };
        let size = match kind {
            EntryKind::Dir => block,
            EntryKind::Symlink => rec.target().len() as u64,
            _ => rec.size(),
        };
        st.st_size = size.min(i64::MAX as u64) as _;
        st.st_blocks = match kind {
            // A short symlink's target lives in its inode.
            EntryKind::Symlink if size < 60 => 0,
            _ => (size.div_ceil(block) * (block / 512)).min(i64::MAX as u64) as _,
        };
        st.st_nlink = match kind {
            EntryKind::Dir => 2 + u64::from(self.subdirs(index).get(path).copied().unwrap_or(0)),
            _ if rec.flags() & FLAG_HARDLINK != 0 => names(rec.target()).max(1) as u64,
            _ => names(path).max(1) as u64,
        } as _;
        let (sec, nsec) = rec.mtime();
        st.st_mtime = sec as _;
        st.st_mtime_nsec = nsec as _;
        st.st_atime = sec as _;
        st.st_atime_nsec = nsec as _;
        st.st_ctime = sec as _;
        st.st_ctime_nsec = nsec as _;
        st
    }

    fn subdirs<'a, B: AsRef<[u8]>>(&'a self, index: &LayerIndex<B>) -> &'a HashMap<Vec<u8>, u32> {
        self.subdirs.get_or_init(|| {
            let mut counts: HashMap<Vec<u8>, u32> = HashMap::new();
            for rec in index.iter().filter(|r| r.kind() == EntryKind::Dir) {
                let path = rec.path();
                if path.is_empty() {
                    continue; // the root is no one's subdirectory
                }
                let parent = path.iter().rposition(|&c| c == b'/').map_or(&path[..0], |i| &path[..i]);
                *counts.entry(parent.to_vec()).or_default() += 1;
            }
            counts
        })
    }

    /// The directory `dir` of the layer as its index lists it (None where
    /// the index has no directory there), in path order: the same entries
    /// the extracted tree holds, whose whiteouts are only in the index.
    pub fn listing<B: AsRef<[u8]>>(&self, index: &LayerIndex<B>, dir: &[u8]) -> Option<Listing> {
        if dir.is_empty() {
            // The root is listed however the index records it.
        } else if index.get(dir)?.kind() != EntryKind::Dir {
            return None;
        }
        let mut entries = Vec::new();
        let mut whiteouts = HashSet::new();
        for (name, pos, rec) in index.children_at(dir) {
            if rec.kind() == EntryKind::Whiteout {
                whiteouts.insert(name.to_vec());
                continue;
            }
            entries.push(ListEntry {
                name: name.to_vec(),
                kind: kind_of(rec.kind()),
                ino: self.ino(index, pos, rec),
            });
        }
        Some(Listing::new(entries, whiteouts))
    }
}

/// A store layer's answers from its index (`Layer`'s fields are its module's
/// and this one's).
impl Layer {
    /// How many names the inode whose first name is `first` has in this
    /// store layer's index (1 for a name without hard links).
    pub(super) fn names_of(&self, index: &LayerIndex<crate::sys::ImmutableMap>, first: &[u8]) -> usize {
        1 + self.alias_groups(index).get(first).map_or(0, Vec::len)
    }

    /// The hard-linked names of a store layer, by first name: made once, in
    /// one pass over the index.
    pub(super) fn alias_groups(&self, index: &LayerIndex<crate::sys::ImmutableMap>) -> &HashMap<Vec<u8>, Vec<Vec<u8>>> {
        self.alias_groups.get_or_init(|| {
            let mut groups: HashMap<Vec<u8>, Vec<Vec<u8>>> = HashMap::new();
            for r in index.iter() {
                if r.flags() & FLAG_HARDLINK != 0 && !matches!(r.kind(), EntryKind::Dir | EntryKind::Whiteout) {
                    groups.entry(r.target().to_vec()).or_default().push(r.path().to_vec());
                }
            }
            groups
        })
    }

    /// For a lower store layer: the object at `path` as its index shows it,
    /// without a syscall (None for a path the index has not, or a whiteout).
    pub(super) fn indexed_stat(&self, path: &[u8]) -> Option<Stat> {
        let (attrs, index) = (self.indexed.as_ref()?, self.index.as_ref()?);
        let found = index.find(path).filter(|(_, r)| r.kind() != EntryKind::Whiteout)?;
        Some(attrs.stat(index, path, found, |first| self.names_of(index, first)))
    }

    /// For a lower store layer: the inode number its index gives `path`
    /// (what `stat` shows as `st_ino`).
    pub fn indexed_ino(&self, path: &[u8]) -> Option<u64> {
        let (attrs, index) = (self.indexed.as_ref()?, self.index.as_ref()?);
        let (pos, rec) = index.find(path)?;
        Some(attrs.ino(index, pos, rec))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::index::{Entry, IndexBuilder};
    use rustix::fs::FileType;

    fn file(size: u64, mtime_sec: i64) -> Entry {
        Entry {
            kind: EntryKind::File,
            size,
            mode: 0o4755,
            ..Entry::dir(0, 7, 8, mtime_sec)
        }
    }

    #[test]
    fn stats_and_listings_come_from_the_records() {
        let mut b = IndexBuilder::new();
        b.insert(Vec::new(), Entry::dir(0o755, 0, 0, 1));
        b.insert(b"d".to_vec(), Entry::dir(0o700, 1, 2, 3));
        b.insert(b"d/e".to_vec(), Entry::dir(0o755, 0, 0, 3));
        b.insert(b"d/f".to_vec(), file(4097, 5));
        let mut link = file(4097, 5);
        link.flags = FLAG_HARDLINK;
        link.target = b"d/f".to_vec();
        b.insert(b"d/g".to_vec(), link);
        b.insert(b"d/gone".to_vec(), Entry::whiteout());
        let mut sym = file(0, 6);
        sym.kind = EntryKind::Symlink;
        sym.target = b"f".to_vec();
        b.insert(b"d/s".to_vec(), sym);
        let index = LayerIndex::from_bytes(b.encode()).unwrap();
        let template = rustix::fs::stat("/").unwrap();
        let attrs = IndexedAttrs::new(template);
        let block = template.st_blksize as u64;
        let stat = |path: &[u8]| {
            let found = index.find(path).unwrap();
            attrs.stat(&index, path, found, |first| if first == b"d/f" { 2 } else { 1 })
        };
        let f = stat(b"d/f");
        assert_eq!(FileType::from_raw_mode(f.st_mode as _), FileType::RegularFile);
        assert_eq!((f.st_mode & 0o7777, f.st_uid, f.st_gid), (0o4755, 7, 8));
        assert_eq!((f.st_size, f.st_nlink), (4097, 2));
        assert_eq!(f.st_blocks as u64, 4097u64.div_ceil(block) * (block / 512));
        assert_eq!((f.st_mtime, f.st_atime, f.st_ctime), (5, 5, 5));
        let g = stat(b"d/g");
        assert_eq!(
            (g.st_ino, g.st_nlink),
            (f.st_ino, 2),
            "a hard link is its first name's inode"
        );
        let d = stat(b"d");
        assert_eq!((d.st_nlink, d.st_mode & 0o7777, d.st_size as u64), (3, 0o700, block));
        assert_eq!(stat(b"").st_nlink, 3, "the root holds d");
        let s = stat(b"d/s");
        assert_eq!(
            (s.st_size, s.st_blocks),
            (1, 0),
            "a symlink's size is its target's length"
        );
        let numbers: Vec<u64> = [&b""[..], b"d", b"d/e", b"d/f", b"d/s"]
            .iter()
            .map(|p| stat(p).st_ino)
            .collect();
        let mut distinct = numbers.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), numbers.len(), "one number per inode");
        assert!(!numbers.contains(&0));
        let listing = attrs.listing(&index, b"d").unwrap();
        let names: Vec<&[u8]> = listing.entries.iter().map(|e| e.name.as_slice()).collect();
        assert_eq!(names, [&b"e"[..], b"f", b"g", b"s"]);
        assert!(listing.whiteouts.contains(&b"gone"[..]));
        assert_eq!(listing.find(b"g").unwrap().ino, f.st_ino, "d_ino is st_ino");
        assert_eq!(listing.find(b"e").unwrap().kind, FileType::Directory);
        assert!(attrs.listing(&index, b"d/f").is_none(), "a file lists nothing");
        assert!(attrs.listing(&index, b"nowhere").is_none());
        assert_eq!(attrs.listing(&index, b"").unwrap().entries.len(), 1);
    }
}

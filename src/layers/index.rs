//! The per-layer metadata index.
//!
//! Each stored layer has, beside its extracted tree, one immutable file that
//! lists every path of the layer with the metadata the union filesystem and
//! the change tracker need: type, mode, owner, device numbers, size, mtime,
//! symlink or hard-link target, `security.capability`, and the explicit
//! whiteout and opaque markers (whiteouts are never written to the extracted
//! tree as 0/0 devices, so a real 0/0 character device stays representable).
//!
//! The index is authoritative for ownership and mode: a rootless store cannot
//! `chown` or `mknod`, so its extracted files may differ from what the tar said.
//!
//! Format (little-endian), designed to be memory-mapped and binary-searched:
//! a 40-byte header (`MAGIC`, version u32, reserved u32, entry count u64,
//! string-table length u64, content bytes u64), then `count` fixed-size records
//! sorted by path bytes (the layer root is the empty path and comes first),
//! then the string table holding paths, targets and capability blobs.
//!
//! Record (72 bytes): path, target and capability as (offset u32, length u32)
//! into the string table; kind u8; flags u8; 2 reserved bytes; mode, uid,
//! gid, rdev major, rdev minor (u32 each); size u64; mtime seconds i64;
//! mtime nanoseconds u32; chain layer u32.
//!
//! The same format serves a whole image as a *chain index* (see `chain`):
//! the merged view of all its layers, each entry naming the layer it comes
//! from, so a lookup is one probe whatever the number of layers.

use std::collections::BTreeMap;
use std::fmt;

const MAGIC: &[u8; 8] = b"STRATAIX";
const VERSION: u32 = 1;
const HEADER_LEN: usize = 40;
const RECORD_LEN: usize = 72;

/// What an index entry is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum EntryKind {
    File = 0,
    Dir = 1,
    Symlink = 2,
    CharDevice = 3,
    BlockDevice = 4,
    Fifo = 5,
    /// The name is deleted in every layer below; nothing exists on disk for it.
    Whiteout = 6,
}

impl EntryKind {
    fn from_u8(v: u8) -> Option<Self> {
        Some(match v {
            0 => EntryKind::File,
            1 => EntryKind::Dir,
            2 => EntryKind::Symlink,
            3 => EntryKind::CharDevice,
            4 => EntryKind::BlockDevice,
            5 => EntryKind::Fifo,
            6 => EntryKind::Whiteout,
            _ => return None,
        })
    }
}

/// Flag: a directory that hides everything below it in lower layers.
pub const FLAG_OPAQUE: u8 = 1;
/// Flag: a hard link; `target` is the path of the first name of the inode.
pub const FLAG_HARDLINK: u8 = 2;

/// One path of a layer, owned form (what the builder holds).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub kind: EntryKind,
    pub flags: u8,
    /// Permission and set-id/sticky bits (`0o7777`), not the file type.
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub rdev_major: u32,
    pub rdev_minor: u32,
    pub size: u64,
    pub mtime_sec: i64,
    pub mtime_nsec: u32,
    /// Symlink target, or first name of a hard-linked inode.
    pub target: Vec<u8>,
    /// The `security.capability` xattr, empty when absent.
    pub capability: Vec<u8>,
    /// In a chain index, which layer of the chain holds this entry (0 is the
    /// bottom); always 0 in a layer's own index.
    pub layer: u32,
}

impl Entry {
    pub fn dir(mode: u32, uid: u32, gid: u32, mtime_sec: i64) -> Entry {
        Entry {
            kind: EntryKind::Dir,
            flags: 0,
            mode,
            uid,
            gid,
            rdev_major: 0,
            rdev_minor: 0,
            size: 0,
            mtime_sec,
            mtime_nsec: 0,
            target: Vec::new(),
            capability: Vec::new(),
            layer: 0,
        }
    }

    pub fn whiteout() -> Entry {
        Entry {
            kind: EntryKind::Whiteout,
            ..Entry::dir(0, 0, 0, 0)
        }
    }

    pub fn is_opaque(&self) -> bool {
        self.flags & FLAG_OPAQUE != 0
    }
}

/// Collects a layer's entries while it is extracted; later entries for the
/// same path replace earlier ones, as in a tar.
#[derive(Default, Debug)]
pub struct IndexBuilder {
    entries: BTreeMap<Vec<u8>, Entry>,
}

impl IndexBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn get(&self, path: &[u8]) -> Option<&Entry> {
        self.entries.get(path)
    }

    pub fn get_mut(&mut self, path: &[u8]) -> Option<&mut Entry> {
        self.entries.get_mut(path)
    }

    pub fn insert(&mut self, path: Vec<u8>, entry: Entry) {
        self.entries.insert(path, entry);
    }

    /// Removes `path` and, if it was a directory, every path below it.
    pub fn remove_tree(&mut self, path: &[u8]) {
        self.entries.remove(path);
        let mut prefix = path.to_vec();
        prefix.push(b'/');
        let below: Vec<Vec<u8>> = self
            .entries
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .map(|(k, _)| k.clone())
            .collect();
        for k in below {
            self.entries.remove(&k);
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (&Vec<u8>, &Entry)> {
        self.entries.iter()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Bytes of regular-file content (each hard-linked inode once).
    pub fn content_size(&self) -> u64 {
        self.entries
            .values()
            .filter(|e| e.kind == EntryKind::File && e.flags & FLAG_HARDLINK == 0)
            .map(|e| e.size)
            .sum()
    }

    /// Serialises the index in the on-disk format.
    pub fn encode(&self) -> Vec<u8> {
        let mut strings: Vec<u8> = Vec::new();
        let mut records: Vec<u8> = Vec::with_capacity(self.entries.len() * RECORD_LEN);
        let mut push_str = |s: &[u8]| -> (u32, u32) {
            let off = strings.len() as u32;
            strings.extend_from_slice(s);
            (off, s.len() as u32)
        };
        for (path, e) in &self.entries {
            let (po, pl) = push_str(path);
            let (to, tl) = push_str(&e.target);
            let (co, cl) = push_str(&e.capability);
            for v in [po, pl, to, tl, co, cl] {
                records.extend_from_slice(&v.to_le_bytes());
            }
            records.extend_from_slice(&[e.kind as u8, e.flags, 0, 0]);
            for v in [e.mode, e.uid, e.gid, e.rdev_major, e.rdev_minor] {
                records.extend_from_slice(&v.to_le_bytes());
            }
            records.extend_from_slice(&e.size.to_le_bytes());
            records.extend_from_slice(&e.mtime_sec.to_le_bytes());
            records.extend_from_slice(&e.mtime_nsec.to_le_bytes());
            records.extend_from_slice(&e.layer.to_le_bytes());
        }
        let mut out = Vec::with_capacity(HEADER_LEN + records.len() + strings.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&(self.entries.len() as u64).to_le_bytes());
        out.extend_from_slice(&(strings.len() as u64).to_le_bytes());
        out.extend_from_slice(&self.content_size().to_le_bytes());
        out.extend_from_slice(&records);
        out.extend_from_slice(&strings);
        out
    }
}

#[derive(Debug, thiserror::Error)]
#[error("corrupt layer index: {0}")]
pub struct CorruptIndex(&'static str);

/// A validated, read-only index over its encoded bytes. Validation happens
/// once at open, so lookups need no bounds errors.
pub struct LayerIndex<B: AsRef<[u8]> = Vec<u8>> {
    bytes: B,
    count: usize,
    content_size: u64,
}

impl<B: AsRef<[u8]>> fmt::Debug for LayerIndex<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LayerIndex({} entries)", self.count)
    }
}

fn u32_at(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(b[off..off + 4].try_into().expect("4 bytes"))
}
fn u64_at(b: &[u8], off: usize) -> u64 {
    u64::from_le_bytes(b[off..off + 8].try_into().expect("8 bytes"))
}

/// A borrowed view of one record.
#[derive(Clone, Copy)]
pub struct Record<'a> {
    rec: &'a [u8],
    strings: &'a [u8],
}

impl<'a> Record<'a> {
    fn str(&self, field: usize) -> &'a [u8] {
        let off = u32_at(self.rec, field * 8) as usize;
        let len = u32_at(self.rec, field * 8 + 4) as usize;
        &self.strings[off..off + len]
    }
    pub fn path(&self) -> &'a [u8] {
        self.str(0)
    }
    pub fn layer(&self) -> u32 {
        u32_at(self.rec, 68)
    }
    pub fn kind(&self) -> EntryKind {
        EntryKind::from_u8(self.rec[24]).unwrap_or(EntryKind::File)
    }
    pub fn to_entry(&self) -> Entry {
        let r = self.rec;
        Entry {
            kind: self.kind(),
            flags: r[25],
            mode: u32_at(r, 28),
            uid: u32_at(r, 32),
            gid: u32_at(r, 36),
            rdev_major: u32_at(r, 40),
            rdev_minor: u32_at(r, 44),
            size: u64_at(r, 48),
            mtime_sec: u64_at(r, 56) as i64,
            mtime_nsec: u32_at(r, 64),
            target: self.str(1).to_vec(),
            capability: self.str(2).to_vec(),
            layer: u32_at(r, 68),
        }
    }
}

impl<B: AsRef<[u8]>> LayerIndex<B> {
    pub fn from_bytes(bytes: B) -> Result<Self, CorruptIndex> {
        let b = bytes.as_ref();
        if b.len() < HEADER_LEN || &b[..8] != MAGIC {
            return Err(CorruptIndex("bad magic"));
        }
        if u32_at(b, 8) != VERSION {
            return Err(CorruptIndex("unknown version"));
        }
        let count = usize::try_from(u64_at(b, 16)).map_err(|_| CorruptIndex("count"))?;
        let strings_len = usize::try_from(u64_at(b, 24)).map_err(|_| CorruptIndex("strings"))?;
        let content_size = u64_at(b, 32);
        let records_len = count.checked_mul(RECORD_LEN).ok_or(CorruptIndex("count"))?;
        if HEADER_LEN + records_len + strings_len != b.len() {
            return Err(CorruptIndex("length mismatch"));
        }
        let index = LayerIndex {
            bytes,
            count,
            content_size,
        };
        let mut prev: Option<&[u8]> = None;
        let strings = index.strings();
        for i in 0..count {
            let rec = index.raw_record(i);
            for field in 0..3 {
                let off = u32_at(rec, field * 8) as usize;
                let len = u32_at(rec, field * 8 + 4) as usize;
                if off.checked_add(len).is_none_or(|end| end > strings.len()) {
                    return Err(CorruptIndex("string out of range"));
                }
            }
            if EntryKind::from_u8(rec[24]).is_none() {
                return Err(CorruptIndex("unknown entry kind"));
            }
            let path = index.record(i).path();
            if prev.is_some_and(|p| p >= path) {
                return Err(CorruptIndex("paths not sorted"));
            }
            prev = Some(path);
        }
        Ok(index)
    }

    fn strings(&self) -> &[u8] {
        &self.bytes.as_ref()[HEADER_LEN + self.count * RECORD_LEN..]
    }

    fn raw_record(&self, i: usize) -> &[u8] {
        let start = HEADER_LEN + i * RECORD_LEN;
        &self.bytes.as_ref()[start..start + RECORD_LEN]
    }

    fn record(&self, i: usize) -> Record<'_> {
        Record {
            rec: self.raw_record(i),
            strings: self.strings(),
        }
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Bytes of regular-file content in the layer.
    pub fn content_size(&self) -> u64 {
        self.content_size
    }

    /// One binary search: O(log n) whatever the layer's size.
    pub fn get(&self, path: &[u8]) -> Option<Record<'_>> {
        let (mut lo, mut hi) = (0, self.count);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let rec = self.record(mid);
            match rec.path().cmp(path) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Some(rec),
            }
        }
        None
    }

    pub fn iter(&self) -> impl Iterator<Item = Record<'_>> {
        (0..self.count).map(|i| self.record(i))
    }

    /// Every entry below the directory `dir` (children, grandchildren, …),
    /// in path order: one binary search, then a contiguous run.
    pub fn below(&self, dir: &[u8]) -> impl Iterator<Item = Record<'_>> {
        let mut prefix = dir.to_vec();
        if !prefix.is_empty() {
            prefix.push(b'/');
        }
        let (mut lo, mut hi) = (0, self.count);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.record(mid).path() < prefix.as_slice() {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        (lo..self.count)
            .map(|i| self.record(i))
            .take_while(move |r| r.path().starts_with(&prefix))
            .filter(|r| !r.path().is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(size: u64) -> Entry {
        Entry {
            kind: EntryKind::File,
            size,
            mode: 0o644,
            ..Entry::dir(0, 0, 0, 0)
        }
    }

    #[test]
    fn encode_then_lookup() {
        let mut b = IndexBuilder::new();
        b.insert(Vec::new(), Entry::dir(0o755, 0, 0, 1));
        b.insert(b"etc".to_vec(), Entry::dir(0o755, 0, 0, 2));
        b.insert(b"etc/passwd".to_vec(), file(10));
        b.insert(b"etc-old".to_vec(), file(5));
        let mut wh = Entry::whiteout();
        wh.target = b"ignored".to_vec();
        b.insert(b"gone".to_vec(), wh);
        let mut link = file(10);
        link.flags = FLAG_HARDLINK;
        link.target = b"etc/passwd".to_vec();
        b.insert(b"passwd-link".to_vec(), link);
        assert_eq!(b.content_size(), 15);
        let idx = LayerIndex::from_bytes(b.encode()).unwrap();
        assert_eq!(idx.len(), 6);
        assert_eq!(idx.content_size(), 15);
        assert_eq!(idx.get(b"etc/passwd").unwrap().to_entry(), file(10));
        assert_eq!(idx.get(b"gone").unwrap().kind(), EntryKind::Whiteout);
        assert_eq!(idx.get(b"").unwrap().kind(), EntryKind::Dir);
        assert!(idx.get(b"etc/shadow").is_none());
        let paths: Vec<&[u8]> = idx.iter().map(|r| r.path()).collect();
        assert_eq!(
            paths,
            vec![&b""[..], b"etc", b"etc-old", b"etc/passwd", b"gone", b"passwd-link"]
        );
    }

    #[test]
    fn remove_tree_takes_descendants_only() {
        let mut b = IndexBuilder::new();
        for p in ["a", "a/b", "a/b/c", "a-b", "ab"] {
            b.insert(p.as_bytes().to_vec(), file(1));
        }
        b.remove_tree(b"a");
        let left: Vec<&[u8]> = b.iter().map(|(k, _)| k.as_slice()).collect();
        assert_eq!(left, vec![&b"a-b"[..], b"ab"]);
    }

    #[test]
    fn corrupt_indexes_are_refused() {
        let mut b = IndexBuilder::new();
        b.insert(b"x".to_vec(), file(1));
        let good = b.encode();
        assert!(LayerIndex::from_bytes(good.clone()).is_ok());
        assert!(LayerIndex::from_bytes(good[..good.len() - 1].to_vec()).is_err());
        let mut bad = good.clone();
        bad[0] = b'X';
        assert!(LayerIndex::from_bytes(bad).is_err());
        let mut bad = good.clone();
        bad[HEADER_LEN] = 200; // path offset far out of range
        assert!(LayerIndex::from_bytes(bad).is_err());
        let mut bad = good;
        bad[HEADER_LEN + 24] = 99; // unknown kind
        assert!(LayerIndex::from_bytes(bad).is_err());
    }
}

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
/// The largest content size reported (Docker's API carries sizes as i64).
pub const MAX_CONTENT_SIZE: u64 = i64::MAX as u64;

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

    /// Bytes of regular-file content (each hard-linked inode once), at
    /// most `i64::MAX`: sparse files claim sizes that add up past any
    /// integer without costing the archive anything.
    pub fn content_size(&self) -> u64 {
        self.entries
            .values()
            .filter(|e| e.kind == EntryKind::File && e.flags & FLAG_HARDLINK == 0)
            .fold(0u64, |sum, e| sum.saturating_add(e.size))
            .min(MAX_CONTENT_SIZE)
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

/// A read-only index over its encoded bytes (a `Vec`, or a memory map of
/// the immutable index file). Opening checks the header and the lengths
/// only, so it costs the same for ten entries as for a million: the store
/// writes index files once (temporary name, flush, rename) and never again,
/// and `verify` checks every record where bytes come from elsewhere. Reading
/// a damaged record never panics: out-of-range strings read as empty and an
/// unknown kind as a file.
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

/// A borrowed view of one record (always `RECORD_LEN` bytes long).
#[derive(Clone, Copy)]
pub struct Record<'a> {
    rec: &'a [u8],
    strings: &'a [u8],
}

impl<'a> Record<'a> {
    fn str_range(&self, field: usize) -> Option<std::ops::Range<usize>> {
        let off = u32_at(self.rec, field * 8) as usize;
        let len = u32_at(self.rec, field * 8 + 4) as usize;
        let end = off.checked_add(len).filter(|&end| end <= self.strings.len())?;
        Some(off..end)
    }
    fn str(&self, field: usize) -> &'a [u8] {
        self.str_range(field).map_or(&[], |r| &self.strings[r])
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
    // The fields one by one, without `to_entry`'s copies of the strings:
    // what a stat answered from the index reads.
    pub fn flags(&self) -> u8 {
        self.rec[25]
    }
    pub fn mode(&self) -> u32 {
        u32_at(self.rec, 28)
    }
    pub fn uid(&self) -> u32 {
        u32_at(self.rec, 32)
    }
    pub fn gid(&self) -> u32 {
        u32_at(self.rec, 36)
    }
    /// The device numbers (major, minor).
    pub fn rdev(&self) -> (u32, u32) {
        (u32_at(self.rec, 40), u32_at(self.rec, 44))
    }
    pub fn size(&self) -> u64 {
        u64_at(self.rec, 48)
    }
    /// The modification time (seconds, nanoseconds).
    pub fn mtime(&self) -> (i64, u32) {
        (u64_at(self.rec, 56) as i64, u32_at(self.rec, 64))
    }
    /// The symlink target, or a hard link's first name.
    pub fn target(&self) -> &'a [u8] {
        self.str(1)
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

impl LayerIndex<crate::sys::ImmutableMap> {
    /// Maps the index file at `path` (which must be immutable: see
    /// `sys::ImmutableMap`). O(1): no record is read until it is looked up.
    pub fn open(path: &std::path::Path) -> std::io::Result<Self> {
        let map = crate::sys::ImmutableMap::open(path)?;
        LayerIndex::from_bytes(map)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, format!("{}: {e}", path.display())))
    }
}

impl<B: AsRef<[u8]>> LayerIndex<B> {
    /// Checks the header and that the lengths add up; O(1).
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
        let total = records_len
            .checked_add(strings_len)
            .and_then(|n| n.checked_add(HEADER_LEN));
        if total != Some(b.len()) {
            return Err(CorruptIndex("length mismatch"));
        }
        Ok(LayerIndex {
            bytes,
            count,
            content_size,
        })
    }

    /// Checks every record: strings in range, known kinds, paths strictly
    /// sorted (what binary search needs to find everything). O(n).
    pub fn verify(&self) -> Result<(), CorruptIndex> {
        let mut prev: Option<&[u8]> = None;
        for rec in self.iter() {
            if (0..3).any(|field| rec.str_range(field).is_none()) {
                return Err(CorruptIndex("string out of range"));
            }
            if EntryKind::from_u8(rec.rec[24]).is_none() {
                return Err(CorruptIndex("unknown entry kind"));
            }
            let path = rec.path();
            if prev.is_some_and(|p| p >= path) {
                return Err(CorruptIndex("paths not sorted"));
            }
            prev = Some(path);
        }
        Ok(())
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
        self.find(path).map(|(_, rec)| rec)
    }

    /// `get`, with the record's position: `0..len()`, fixed for as long as
    /// the index (which is immutable) is, so a stable number for the path.
    pub fn find(&self, path: &[u8]) -> Option<(usize, Record<'_>)> {
        let (mut lo, mut hi) = (0, self.count);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let rec = self.record(mid);
            match rec.path().cmp(path) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Some((mid, rec)),
            }
        }
        None
    }

    pub fn iter(&self) -> impl Iterator<Item = Record<'_>> {
        (0..self.count).map(|i| self.record(i))
    }

    /// The position of the first record whose path is not less than `key`.
    fn lower_bound(&self, key: &[u8]) -> usize {
        let (mut lo, mut hi) = (0, self.count);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.record(mid).path() < key {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    /// Every entry below the directory `dir` (children, grandchildren, …),
    /// in path order: one binary search, then a contiguous run (the paths
    /// with a given prefix are contiguous in byte order).
    pub fn below(&self, dir: &[u8]) -> impl Iterator<Item = Record<'_>> {
        let prefix = dir_prefix(dir);
        let lo = self.lower_bound(&prefix);
        (lo..self.count)
            .map(|i| self.record(i))
            .take_while(move |r| r.path().starts_with(&prefix))
            .filter(|r| !r.path().is_empty())
    }

    /// The entries directly in the directory `dir`, in path order, each with
    /// its name. A child directory's subtree is skipped with one binary
    /// search, so this costs O(children × log n) however deep the tree.
    pub fn children<'a>(&'a self, dir: &[u8]) -> impl Iterator<Item = (&'a [u8], Record<'a>)> + 'a {
        self.children_at(dir).map(|(name, _, rec)| (name, rec))
    }

    /// `children`, each with its record's position (see `find`).
    pub fn children_at<'a>(&'a self, dir: &[u8]) -> impl Iterator<Item = (&'a [u8], usize, Record<'a>)> + 'a {
        let prefix = dir_prefix(dir);
        let mut at = self.lower_bound(&prefix);
        std::iter::from_fn(move || {
            loop {
                if at >= self.count {
                    return None;
                }
                let rec = self.record(at);
                let rest = rec.path().strip_prefix(prefix.as_slice())?;
                if rest.is_empty() {
                    at += 1; // the root itself, listed under ""
                    continue;
                }
                match rest.iter().position(|&c| c == b'/') {
                    None => {
                        at += 1;
                        return Some((rest, at - 1, rec));
                    }
                    // A grandchild whose parent is not itself listed (a
                    // malformed index): skip its subtree all the same.
                    Some(cut) => {
                        let mut past = prefix.clone();
                        past.extend_from_slice(&rest[..cut]);
                        past.push(b'/' + 1);
                        at = self.lower_bound(&past).max(at + 1);
                    }
                }
            }
        })
    }
}

/// `dir` as the prefix its descendants' paths start with.
fn dir_prefix(dir: &[u8]) -> Vec<u8> {
    let mut prefix = dir.to_vec();
    if !prefix.is_empty() {
        prefix.push(b'/');
    }
    prefix
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
        let (pos, rec) = idx.find(b"etc/passwd").unwrap();
        assert_eq!(idx.iter().nth(pos).unwrap().path(), b"etc/passwd", "find's position");
        assert_eq!(
            (rec.size(), rec.mode(), rec.flags(), rec.mtime()),
            (10, 0o644, 0, (0, 0))
        );
        let link = idx.get(b"passwd-link").unwrap();
        assert_eq!((link.flags(), link.target()), (FLAG_HARDLINK, &b"etc/passwd"[..]));
        let paths: Vec<&[u8]> = idx.iter().map(|r| r.path()).collect();
        assert_eq!(
            paths,
            vec![&b""[..], b"etc", b"etc-old", b"etc/passwd", b"gone", b"passwd-link"]
        );
    }

    #[test]
    fn opens_a_mapped_file_without_reading_records() {
        let mut b = IndexBuilder::new();
        for i in 0..1000 {
            b.insert(format!("d/f{i:04}").into_bytes(), file(i));
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index");
        std::fs::write(&path, b.encode()).unwrap();
        let idx = LayerIndex::open(&path).unwrap();
        assert_eq!(idx.len(), 1000);
        assert_eq!(idx.get(b"d/f0999").unwrap().to_entry().size, 999);
        assert!(idx.get(b"d/f1000").is_none());
        assert_eq!(idx.below(b"d").count(), 1000);
        idx.verify().unwrap();
        drop(idx); // never rewrite a mapped file
        std::fs::write(&path, b"STRATAIX").unwrap();
        assert!(LayerIndex::open(&path).is_err(), "a short file is refused at open");
    }

    #[test]
    fn children_skip_subtrees() {
        let mut b = IndexBuilder::new();
        b.insert(Vec::new(), Entry::dir(0o755, 0, 0, 0));
        for p in ["a", "a-b", "a/b", "a/b/c", "a/b/c/d", "a/d", "ab", "b/x", "b/x/y", "c"] {
            b.insert(p.as_bytes().to_vec(), file(1));
        }
        let idx = LayerIndex::from_bytes(b.encode()).unwrap();
        let names = |dir: &[u8]| -> Vec<String> {
            idx.children(dir)
                .map(|(n, r)| {
                    assert!(r.path().ends_with(n));
                    String::from_utf8(n.to_vec()).unwrap()
                })
                .collect()
        };
        // "b" is not listed (a malformed index): its subtree is still skipped.
        assert_eq!(names(b""), ["a", "a-b", "ab", "c"]);
        assert_eq!(names(b"a"), ["b", "d"]);
        for (_, pos, rec) in idx.children_at(b"a") {
            assert_eq!(idx.find(rec.path()).map(|(p, _)| p), Some(pos));
        }
        assert_eq!(names(b"a/b"), ["c"]);
        assert_eq!(names(b"b"), ["x"]);
        assert!(names(b"c").is_empty());
        assert!(names(b"zz").is_empty());
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
        // Record damage is found by `verify`, and reading it never panics.
        let mut bad = good.clone();
        bad[HEADER_LEN] = 200; // path offset far out of range
        let idx = LayerIndex::from_bytes(bad).unwrap();
        assert!(idx.verify().is_err());
        assert_eq!(idx.iter().next().unwrap().path(), b"");
        assert!(idx.get(b"x").is_none());
        let mut bad = good.clone();
        bad[HEADER_LEN + 24] = 99; // unknown kind
        let idx = LayerIndex::from_bytes(bad).unwrap();
        assert!(idx.verify().is_err());
        assert_eq!(idx.get(b"x").unwrap().kind(), EntryKind::File);
        assert!(LayerIndex::from_bytes(good).unwrap().verify().is_ok());
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        fn kind() -> impl Strategy<Value = EntryKind> {
            (0u8..7).prop_map(|k| EntryKind::from_u8(k).expect("0..7 are kinds"))
        }

        fn entry() -> impl Strategy<Value = Entry> {
            let bytes = || proptest::collection::vec(any::<u8>(), 0..24);
            (
                kind(),
                any::<u8>(),
                any::<[u32; 5]>(),
                any::<u64>(),
                any::<i64>(),
                any::<u32>(),
                bytes(),
                bytes(),
                any::<u32>(),
            )
                .prop_map(
                    |(
                        kind,
                        flags,
                        [mode, uid, gid, rdev_major, rdev_minor],
                        size,
                        mtime_sec,
                        mtime_nsec,
                        target,
                        capability,
                        layer,
                    )| Entry {
                        kind,
                        flags,
                        mode,
                        uid,
                        gid,
                        rdev_major,
                        rdev_minor,
                        size,
                        mtime_sec,
                        mtime_nsec,
                        target,
                        capability,
                        layer,
                    },
                )
        }

        fn builder() -> impl Strategy<Value = IndexBuilder> {
            let path = proptest::collection::vec(prop_oneof![Just(b'/'), Just(b'a'), Just(b'b'), any::<u8>()], 0..12);
            proptest::collection::btree_map(path, entry(), 0..40).prop_map(|entries| IndexBuilder { entries })
        }

        /// Every read an index offers, on whatever it holds.
        fn read_everything<B: AsRef<[u8]>>(idx: &LayerIndex<B>, probe: &[u8]) {
            let _ = idx.verify();
            for rec in idx.iter() {
                let e = rec.to_entry();
                let _ = idx.get(rec.path());
                let _ = idx.children(rec.path()).count();
                let _ = idx.below(rec.path()).count();
                let _ = (e.kind, rec.layer());
            }
            let _ = idx.get(probe);
            let _ = idx.children(probe).count();
            let _ = idx.below(probe).count();
            let _ = (idx.len(), idx.content_size());
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            #[test]
            fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600), probe in proptest::collection::vec(any::<u8>(), 0..8)) {
                if let Ok(idx) = LayerIndex::from_bytes(bytes) {
                    read_everything(&idx, &probe);
                }
            }

            #[test]
            fn mutated_indexes_never_panic(
                b in builder(),
                edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..12),
                probe in proptest::collection::vec(any::<u8>(), 0..8),
            ) {
                let mut bytes = b.encode();
                for (at, v) in edits {
                    let i = at.index(bytes.len());
                    bytes[i] = v;
                }
                if let Ok(idx) = LayerIndex::from_bytes(bytes) {
                    read_everything(&idx, &probe);
                }
            }

            #[test]
            fn encode_then_decode_round_trips(b in builder()) {
                let idx = LayerIndex::from_bytes(b.encode()).expect("a fresh encoding opens");
                prop_assert!(idx.verify().is_ok());
                prop_assert_eq!(idx.len(), b.len());
                prop_assert_eq!(idx.content_size(), b.content_size());
                let decoded: Vec<(Vec<u8>, Entry)> = idx.iter().map(|r| (r.path().to_vec(), r.to_entry())).collect();
                let built: Vec<(Vec<u8>, Entry)> = b.iter().map(|(p, e)| (p.clone(), e.clone())).collect();
                prop_assert_eq!(decoded, built);
                for (path, e) in b.iter() {
                    prop_assert_eq!(&idx.get(path).expect("found").to_entry(), e);
                }
            }
        }
    }
}

//! One layer of the union: a directory reached only beneath its root, and
//! the on-disk markers of every format the peers write.

use super::FsResult;
use super::indexed::IndexedAttrs;
use super::locks;
use super::override_stat;
use crate::layers::index::{EntryKind, FLAG_HARDLINK, LayerIndex};
use crate::sys::{self, BeneathDir, Name};
use rustix::fs::{FileType, OFlags, Stat, XattrFlags};
use std::collections::{HashMap, HashSet};
use std::io;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

pub const WHITEOUT_PREFIX: &[u8] = b".wh.";
pub const OPAQUE_MARKER: &[u8] = b".wh..wh..opq";
const OPAQUE_MARKER_STR: &str = ".wh..wh..opq";

/// What a directory of a layer says about the layers below it.
#[derive(Clone, Default)]
pub struct DirMarkers {
    /// Nothing below shows through.
    pub opaque: bool,
    /// A renamed directory: its content below is at this path.
    pub redirect: Option<Vec<u8>>,
}
const REDIRECT_XATTRS: [&str; 2] = ["trusted.overlay.redirect", "user.overlay.redirect"];
const OPAQUE_XATTRS: [&str; 3] = [
    "trusted.overlay.opaque",
    "user.overlay.opaque",
    "user.fuseoverlayfs.opaque",
];
/// Where a copied-up object keeps the inode number it had below, so its
/// `st_ino` survives copy-up and remount.
pub const ORIGIN_XATTR_PRIVILEGED: &str = "trusted.strata.origin";
pub const ORIGIN_XATTR: &str = "user.strata.origin";

/// What the origin xattr of a copied-up object says: the inode number it
/// had below, for an inode with a copy in the hard-link index how many of
/// its names are still only below (see `hardlinks`), and for a file copied
/// up without its data (metacopy) the path of that data in its lower layer.
/// One xattr for all, so a lookup reads one value; the data's layer and
/// `st_ino` are those of `ino`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Origin {
    pub ino: u64,
    pub aliases_below: Option<u32>,
    pub data_path: Option<Vec<u8>>,
}

/// Begins the hard-link part of a record: no path begins with a NUL, so
/// records without it (and those of earlier versions) read as before.
const ALIASES_TAG: [u8; 2] = [0, b'H'];

impl Origin {
    /// Eight bytes of `ino` (little-endian), then `ALIASES_TAG` and the count
    /// (u32, little-endian) if any, then the data path if any.
    pub fn encode(&self) -> Vec<u8> {
        let mut v = self.ino.to_le_bytes().to_vec();
        if let Some(n) = self.aliases_below {
            v.extend_from_slice(&ALIASES_TAG);
            v.extend_from_slice(&n.to_le_bytes());
        }
        if let Some(p) = &self.data_path {
            v.extend_from_slice(p);
        }
        v
    }

    pub fn decode(v: &[u8]) -> Option<Origin> {
        let (ino, mut rest) = v.split_first_chunk::<8>()?;
        let mut aliases_below = None;
        if let Some(tagged) = rest.strip_prefix(ALIASES_TAG.as_slice()) {
            let (n, after) = tagged.split_first_chunk::<4>()?;
            aliases_below = Some(u32::from_le_bytes(*n));
            rest = after;
        }
        Some(Origin {
            ino: u64::from_le_bytes(*ino),
            aliases_below,
            data_path: (!rest.is_empty()).then(|| rest.to_vec()),
        })
    }
}

/// Marks a 0/0 character device a user made on purpose, which is then a
/// device and not a whiteout (kernel overlayfs and fuse-overlayfs cannot
/// tell the two apart).
pub const REAL_DEVICE_XATTR: &str = "trusted.strata.device";

/// Attributes no user sees or sets: overlay bookkeeping of any union fs.
pub fn is_internal_xattr(name: &[u8]) -> bool {
    const PREFIXES: [&[u8]; 5] = [
        b"trusted.overlay.",
        b"user.overlay.",
        b"user.fuseoverlayfs.",
        b"trusted.strata.",
        b"user.strata.",
    ];
    PREFIXES.iter().any(|p| name.starts_with(p)) || override_stat::is_internal(name)
}

pub struct Layer {
    pub root: BeneathDir,
    /// For a layer of Strata's store: its index, which holds the whiteouts
    /// and opaque markers (never on disk there) and the true owner, mode and
    /// device numbers (a rootless store could not set them on disk).
    pub(super) index: Option<LayerIndex<crate::sys::ImmutableMap>>,
    /// For a lower layer of the store (immutable while mounted, as its
    /// index is): what answers its attributes and listings from the index,
    /// with no syscall (see `indexed`).
    pub(super) indexed: Option<IndexedAttrs>,
    /// For a lower layer of plain directories: each directory's entries,
    /// read once (lower layers never change), so that a lookup that misses
    /// this layer costs no syscall, however many layers there are.
    listings: Option<Mutex<Listings>>,
    /// For the same lower layers: each directory's markers, read once.
    markers: Option<Mutex<HashMap<Vec<u8>, DirMarkers>>>,
    /// Directories held open by path, so that the stat or an xattr of an
    /// entry is one syscall on its parent rather than a walk from the root.
    /// At most `dir_budget` entries (then it starts afresh). In the upper
    /// layer a path may come to name another directory: `forget_dirs` must
    /// be called whenever a directory there is renamed or removed.
    dirs: Mutex<HeldDirs>,
    dir_budget: usize,
    /// Objects may keep their true mode, type and owner in an override
    /// xattr, and a capability under another name (`override_stat`): the
    /// upper layer, and the hard-link index, of a `privileges_in_xattrs` mount.
    overrides: bool,
    /// For a layer of the store: its hard-linked names, by first name
    /// (made at the first copy-up of one).
    pub(super) alias_groups: std::sync::OnceLock<HashMap<Vec<u8>, Vec<Vec<u8>>>>,
}

#[derive(Default)]
struct HeldDirs {
    /// Bumped by every `forget_dirs`: a directory opened before it is not
    /// kept (it may be the one that moved).
    generation: u64,
    by_path: HashMap<Vec<u8>, Arc<BeneathDir>>,
}

/// Descriptors all layers of a mount may hold open in `Layer::dirs`
/// together (the soft limit here is 20,000, and may be 1,024).
const DIR_FDS_PER_MOUNT: usize = 512;

/// Directory path → its listing, or None where the layer has no directory.
type Listings = HashMap<Vec<u8>, Option<Arc<Listing>>>;

/// One directory of a layer: its visible entries in directory order, and
/// the names it whites out for the layers below.
pub struct Listing {
    pub entries: Vec<ListEntry>,
    /// Indices into `entries`, sorted by name (names are not stored twice).
    by_name: Vec<u32>,
    pub whiteouts: HashSet<Vec<u8>>,
}

impl Listing {
    pub fn new(entries: Vec<ListEntry>, whiteouts: HashSet<Vec<u8>>) -> Listing {
        let mut by_name: Vec<u32> = (0..entries.len() as u32).collect();
        by_name.sort_unstable_by(|&a, &b| entries[a as usize].name.cmp(&entries[b as usize].name));
        Listing {
            entries,
            by_name,
            whiteouts,
        }
    }

    /// The entry named `name`: one binary search.
    pub fn find(&self, name: &[u8]) -> Option<&ListEntry> {
        let i = self
            .by_name
            .binary_search_by(|&i| self.entries[i as usize].name.as_slice().cmp(name))
            .ok()?;
        Some(&self.entries[self.by_name[i] as usize])
    }
}

pub struct ListEntry {
    pub name: Vec<u8>,
    pub kind: FileType,
    /// `d_ino`, the entry's inode number in this layer.
    pub ino: u64,
}

/// What a layer holds at a path.
pub enum Probe {
    Absent,
    Whiteout,
    Present(Stat),
}

/// The file type an index entry stands for.
pub fn kind_of(kind: EntryKind) -> FileType {
    match kind {
        EntryKind::Dir => FileType::Directory,
        EntryKind::Symlink => FileType::Symlink,
        EntryKind::CharDevice => FileType::CharacterDevice,
        EntryKind::BlockDevice => FileType::BlockDevice,
        EntryKind::Fifo => FileType::Fifo,
        EntryKind::File | EntryKind::Whiteout => FileType::RegularFile,
    }
}

pub fn file_type(st: &Stat) -> FileType {
    FileType::from_raw_mode(st.st_mode)
}

pub fn is_dir(st: &Stat) -> bool {
    file_type(st) == FileType::Directory
}

/// A 0/0 character device: the kernel's (and fuse-overlayfs's) whiteout.
pub fn is_whiteout_device(st: &Stat) -> bool {
    file_type(st) == FileType::CharacterDevice && st.st_rdev == 0
}

pub fn join(dir: &[u8], name: &[u8]) -> Vec<u8> {
    let mut p = Vec::with_capacity(dir.len() + 1 + name.len());
    p.extend_from_slice(dir);
    if !dir.is_empty() {
        p.push(b'/');
    }
    p.extend_from_slice(name);
    p
}

pub fn split(path: &[u8]) -> (&[u8], &[u8]) {
    match path.iter().rposition(|&c| c == b'/') {
        Some(i) => (&path[..i], &path[i + 1..]),
        None => (&[], path),
    }
}

fn absent(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(c) if c == rustix::io::Errno::NOENT.raw_os_error()
            || c == rustix::io::Errno::NOTDIR.raw_os_error()
            || c == rustix::io::Errno::LOOP.raw_os_error()
    )
}

impl Layer {
    /// Opens a plain directory layer, or a layer of Strata's store (a
    /// directory holding `root/` and `index`). `lower` layers never change
    /// while mounted, so what is read of them may be kept.
    pub fn open(path: PathBuf, lower: bool, layers: usize) -> io::Result<Layer> {
        let dir_budget = (DIR_FDS_PER_MOUNT / layers.max(1)).max(8);
        let index_path = path.join("index");
        if index_path.is_file() && path.join("root").is_dir() {
            let index = LayerIndex::open(&index_path)?;
            let root = BeneathDir::open(&path.join("root"))?;
            let indexed = if lower {
                Some(IndexedAttrs::new(root.stat_self()?))
            } else {
                None
            };
            return Ok(Layer {
                root,
                index: Some(index),
                indexed,
                listings: None,
                markers: None,
                dirs: Mutex::default(),
                dir_budget,
                overrides: false,
                alias_groups: Default::default(),
            });
        }
        Ok(Layer {
            root: BeneathDir::open(&path)?,
            index: None,
            indexed: None,
            listings: lower.then(|| Mutex::new(HashMap::new())),
            markers: lower.then(|| Mutex::new(HashMap::new())),
            dirs: Mutex::default(),
            dir_budget,
            overrides: false,
            alias_groups: Default::default(),
        })
    }

    /// Objects of this layer may carry overrides (see `overrides`).
    pub fn with_overrides(mut self, on: bool) -> Layer {
        self.overrides = on;
        self
    }

    /// For a layer of the store: its index.
    pub fn index(&self) -> Option<&LayerIndex<crate::sys::ImmutableMap>> {
        self.index.as_ref()
    }

    /// Every path of this store layer naming the same inode as `path` (itself
    /// included), from the index's hard-link records; empty for a plain layer.
    pub fn aliases(&self, path: &[u8]) -> Vec<Vec<u8>> {
        let Some(index) = &self.index else { return Vec::new() };
        let Some(entry) = index.get(path) else {
            return Vec::new();
        };
        let first = if entry.flags() & FLAG_HARDLINK != 0 {
            entry.target().to_vec()
        } else {
            path.to_vec()
        };
        let mut out = vec![first.clone()];
        out.extend(self.alias_groups(index).get(&first).into_iter().flatten().cloned());
        out
    }

    /// Whether `probe` answers from `listing` alone: a plain lower layer,
    /// whose listings are read once and kept.
    pub fn lists_ahead(&self) -> bool {
        self.listings.is_some()
    }

    /// Whether the listing of `dir` is kept (read already).
    pub fn has_listing(&self, dir: &[u8]) -> bool {
        self.listings.as_ref().is_some_and(|c| locks::lock(c).contains_key(dir))
    }

    /// The entries of the directory `dir` (None where this layer has no
    /// directory there): kept for lower layers, read afresh otherwise.
    pub fn listing(&self, dir: &[u8]) -> FsResult<Option<Arc<Listing>>> {
        if let (Some(attrs), Some(index)) = (&self.indexed, &self.index) {
            // No syscall: the index lists the extracted tree.
            return Ok(attrs.listing(index, dir).map(Arc::new));
        }
        if let Some(cache) = &self.listings
            && let Some(l) = locks::lock(cache).get(dir)
        {
            return Ok(l.clone());
        }
        let listing = self.read_listing(dir)?;
        if let Some(cache) = &self.listings {
            locks::lock(cache).insert(dir.to_vec(), listing.clone());
        }
        Ok(listing)
    }

    fn read_listing(&self, dir: &[u8]) -> FsResult<Option<Arc<Listing>>> {
        let d = match self.root.open_dir(dir) {
            Ok(d) => d,
            Err(e) if absent(&e) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let mut entries = Vec::new();
        let mut whiteouts = HashSet::new();
        // Only a directory noted to hold device placeholders has entries
        // whose type its listing does not tell.
        let placeholders = if self.overrides && override_stat::holds_devices(d.as_fd()) {
            Some(d.try_clone()?)
        } else {
            None
        };
        let mut rd = d.into_entries()?;
        while let Some(entry) = rd.read() {
            let entry = entry?;
            let name = entry.file_name().to_bytes();
            if name == b"." || name == b".." {
                continue;
            }
            if let Some(hidden) = name.strip_prefix(WHITEOUT_PREFIX) {
                if name != OPAQUE_MARKER && !hidden.starts_with(WHITEOUT_PREFIX) {
                    whiteouts.insert(hidden.to_vec());
                }
                continue;
            }
            let mut kind = entry.file_type();
            if kind == FileType::CharacterDevice || kind == FileType::Unknown {
                // An entry's own name: one component, nothing to resolve.
                let st = rustix::fs::statat(rd.fd()?, entry.file_name(), rustix::fs::AtFlags::SYMLINK_NOFOLLOW)?;
                if self.is_whiteout(&join(dir, name), &st) {
                    whiteouts.insert(name.to_vec());
                    continue;
                }
                kind = file_type(&st);
            }
            if let Some(index) = &self.index {
                // The disk of a store layer holds placeholders: the index
                // says what each entry is.
                if let Some(r) = index.get(&join(dir, name)) {
                    kind = kind_of(r.kind());
                }
            } else if let Some(held) = placeholders.as_ref().filter(|_| kind == FileType::RegularFile) {
                let name = Name::new(name)?;
                let mut st = held.stat(name)?;
                override_stat::present_at(held, name, &mut st)?;
                kind = file_type(&st);
            }
            entries.push(ListEntry {
                name: name.to_vec(),
                kind,
                ino: entry.ino(),
            });
        }
        whiteouts.extend(self.indexed_whiteouts(dir));
        Ok(Some(Arc::new(Listing::new(entries, whiteouts))))
    }

    /// The directory at `dir`, from `dirs` or opened (beneath the root).
    pub fn held_dir(&self, dir: &[u8]) -> io::Result<Arc<BeneathDir>> {
        let generation = {
            let held = locks::lock(&self.dirs);
            if let Some(d) = held.by_path.get(dir) {
                return Ok(d.clone());
            }
            held.generation
        };
        let d = Arc::new(self.root.open_dir(dir)?);
        let mut held = locks::lock(&self.dirs);
        if held.generation == generation {
            if held.by_path.len() >= self.dir_budget {
                held.by_path.clear();
            }
            held.by_path.insert(dir.to_vec(), d.clone());
        }
        Ok(d)
    }

    /// Drops the held directories (a directory of this layer was renamed
    /// or removed, so a path may now name another one).
    pub fn forget_dirs(&self) {
        let mut held = locks::lock(&self.dirs);
        held.generation += 1;
        held.by_path.clear();
    }

    /// `lstat` of `path`: one `statat` on its held parent directory.
    pub fn stat_entry(&self, path: &[u8]) -> io::Result<Stat> {
        if path.is_empty() {
            return self.root.stat_self();
        }
        let (dir, name) = split(path);
        let name = Name::new(name).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        if dir.is_empty() {
            return self.root.stat(name);
        }
        self.held_dir(dir)?.stat(name)
    }

    /// What the object at `path` is, as the mount shows it: in a lower
    /// store layer, what its index says (no syscall: see `indexed`);
    /// otherwise its disk stat with, in a store layer, the index's type,
    /// mode, owner and device numbers, and where overrides are kept, the
    /// override's.
    pub fn stat(&self, path: &[u8]) -> io::Result<Stat> {
        if let Some(st) = self.indexed_stat(path) {
            return Ok(st);
        }
        let st = self.stat_entry(path)?;
        self.shown(path, st)
    }

    /// `st`, the disk stat of `path`, as the mount shows it (see `stat`).
    pub fn shown(&self, path: &[u8], mut st: Stat) -> io::Result<Stat> {
        if self.overrides && override_stat::has_marker(&st) {
            self.present_override(path, &mut st)?;
            return Ok(st);
        }
        if let Some(e) = self.index.as_ref().and_then(|i| i.get(path)) {
            let e = e.to_entry();
            st.st_mode = kind_of(e.kind).as_raw_mode() | e.mode;
            st.st_uid = e.uid;
            st.st_gid = e.gid;
            st.st_rdev = rustix::fs::makedev(e.rdev_major, e.rdev_minor);
        }
        Ok(st)
    }

    fn present_override(&self, path: &[u8], st: &mut Stat) -> io::Result<()> {
        if path.is_empty() {
            return override_stat::present_fd(self.root.as_fd(), st);
        }
        let (dir, name) = split(path);
        let name = Name::new(name).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        if dir.is_empty() {
            return override_stat::present_at(&self.root, name, st);
        }
        override_stat::present_at(&*self.held_dir(dir)?, name, st)
    }

    /// The names a store layer whites out in `dir` (a plain layer's are read
    /// from its directory listing).
    pub fn indexed_whiteouts(&self, dir: &[u8]) -> Vec<Vec<u8>> {
        let Some(index) = &self.index else { return Vec::new() };
        index
            .children(dir)
            .filter(|(_, r)| r.kind() == EntryKind::Whiteout)
            .map(|(name, _)| name.to_vec())
            .collect()
    }

    /// What this layer has at `dir/name`: the object, a whiteout (a 0/0
    /// device or a `.wh.name` file), or nothing.
    pub fn probe(&self, dir: &[u8], name: &[u8]) -> FsResult<Probe> {
        let path = join(dir, name);
        if let Some(index) = &self.index {
            // The index answers without touching the disk.
            return Ok(match index.get(&path).map(|r| r.kind()) {
                None => Probe::Absent,
                Some(EntryKind::Whiteout) => Probe::Whiteout,
                Some(_) => Probe::Present(self.stat(&path)?),
            });
        }
        if self.listings.is_some() {
            // A lower layer: its listing of `dir` answers, and only a hit
            // costs a syscall.
            let Some(listing) = self.listing(dir)? else {
                return Ok(Probe::Absent);
            };
            if listing.whiteouts.contains(name) {
                return Ok(Probe::Whiteout);
            }
            return Ok(match listing.find(name) {
                Some(_) => Probe::Present(self.stat(&path)?),
                None => Probe::Absent,
            });
        }
        match self.stat_entry(&path) {
            Ok(st) if self.is_whiteout(&path, &st) => Ok(Probe::Whiteout),
            Ok(st) => Ok(Probe::Present(self.shown(&path, st)?)),
            // `.wh.` + a 252-255 byte name cannot exist.
            Err(e) if absent(&e) && name.len() + WHITEOUT_PREFIX.len() > 255 => Ok(Probe::Absent),
            Err(e) if absent(&e) => {
                let mut wh = WHITEOUT_PREFIX.to_vec();
                wh.extend_from_slice(name);
                match self.stat_entry(&join(dir, &wh)) {
                    Ok(_) => Ok(Probe::Whiteout),
                    Err(e) if absent(&e) => Ok(Probe::Absent),
                    Err(e) => Err(e.into()),
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    /// A 0/0 character device not marked as a real device.
    pub fn is_whiteout(&self, path: &[u8], st: &Stat) -> bool {
        is_whiteout_device(st) && !self.is_real_device(path)
    }

    fn is_real_device(&self, path: &[u8]) -> bool {
        self.root
            .open_path(path)
            .ok()
            .and_then(|fd| sys::xattr::get(&fd, REAL_DEVICE_XATTR).ok().flatten())
            .is_some()
    }

    /// Marks the 0/0 device at `path` as a real device.
    pub fn mark_real_device(&self, path: &[u8]) -> FsResult<()> {
        let fd = self.root.open_path(path)?;
        sys::xattr::set(&fd, REAL_DEVICE_XATTR, b"y", XattrFlags::empty())?;
        Ok(())
    }

    /// An opaque directory hides everything below it in lower layers.
    pub fn is_opaque(&self, dir: &[u8]) -> FsResult<bool> {
        Ok(self.dir_markers(dir, b"")?.opaque)
    }

    /// Whether the directory at `dir` is opaque, and where a redirect sends
    /// lookups below it, in as few syscalls as the layer allows (lookups of
    /// directories pay for this): one open, one listxattr, one stat.
    pub fn dir_markers(&self, dir: &[u8], parent: &[u8]) -> FsResult<DirMarkers> {
        if let Some(cache) = &self.markers {
            if let Some(m) = locks::lock(cache).get(dir) {
                return Ok(m.clone());
            }
            let m = self.read_dir_markers(dir, parent)?;
            locks::lock(cache).insert(dir.to_vec(), m.clone());
            return Ok(m);
        }
        self.read_dir_markers(dir, parent)
    }

    fn read_dir_markers(&self, dir: &[u8], parent: &[u8]) -> FsResult<DirMarkers> {
        if let Some(index) = &self.index {
            return Ok(DirMarkers {
                opaque: index.get(dir).is_some_and(|r| r.to_entry().is_opaque()),
                redirect: None,
            });
        }
        let fd = match self.root.open_path(dir) {
            Ok(fd) => fd,
            Err(e) if absent(&e) => return Ok(DirMarkers::default()),
            Err(e) => return Err(e.into()),
        };
        let names = sys::xattr::list(&fd)?;
        let has = |n: &str| names.iter().any(|x| x == n.as_bytes());
        let mut markers = DirMarkers::default();
        for name in OPAQUE_XATTRS.iter().filter(|n| has(n)) {
            if sys::xattr::get(&fd, name)?.is_some_and(|v| v == b"y") {
                markers.opaque = true;
            }
        }
        if !markers.opaque {
            markers.opaque = match rustix::fs::statat(&fd, OPAQUE_MARKER_STR, rustix::fs::AtFlags::SYMLINK_NOFOLLOW) {
                Ok(_) => true,
                Err(rustix::io::Errno::NOENT) => false,
                Err(e) => return Err(e.into()),
            };
        }
        if let Some(name) = REDIRECT_XATTRS.iter().find(|n| has(n)) {
            let value: Vec<u8> = sys::xattr::get(&fd, name)?
                .unwrap_or_default()
                .into_iter()
                .take_while(|&c| c != 0)
                .collect();
            markers.redirect = match value.strip_prefix(b"/") {
                Some(abs) => Some(abs.to_vec()),
                None if !value.is_empty() => Some(join(parent, &value)),
                None => None,
            };
        }
        Ok(markers)
    }

    pub fn dir(&self, path: &[u8]) -> FsResult<BeneathDir> {
        Ok(self.root.open_dir(path)?)
    }

    /// The extended attribute `attr` of the object at `path`: one syscall
    /// on its held parent directory.
    pub fn xattr(&self, path: &[u8], attr: &str) -> io::Result<Option<Vec<u8>>> {
        if attr == override_stat::CAPABILITY_XATTR
            && let Some(index) = &self.index
        {
            // Never on the disk of a store layer: its index keeps it.
            let cap = index.get(path).map(|r| r.to_entry().capability).unwrap_or_default();
            return Ok((!cap.is_empty()).then_some(cap));
        }
        let attr = if self.overrides {
            override_stat::kept_name(attr)
        } else {
            attr
        };
        if path.is_empty() {
            return sys::xattr::get(self.root.as_fd(), attr);
        }
        let (dir, name) = split(path);
        let name = Name::new(name).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        sys::xattr::get_at(self.held_dir(dir)?.as_fd(), name, attr)
    }

    /// The names of the extended attributes of the object at `path`, as the
    /// mount shows them (internal ones are the caller's to drop).
    pub fn xattr_names(&self, path: &[u8]) -> io::Result<Vec<Vec<u8>>> {
        let mut names = sys::xattr::list(self.root.open_path(path)?)?;
        if self.overrides {
            for n in names.iter_mut() {
                *n = override_stat::shown_name(n).to_vec();
            }
        }
        if let Some(index) = &self.index {
            let cap = override_stat::CAPABILITY_XATTR.as_bytes();
            names.retain(|n| n != cap);
            if index.get(path).is_some_and(|r| !r.to_entry().capability.is_empty()) {
                names.push(cap.to_vec());
            }
        }
        Ok(names)
    }

    /// The origin inode number a copied-up object carries, if any.
    pub fn origin(&self, path: &[u8]) -> Option<u64> {
        self.origin_record(path).map(|o| o.ino)
    }

    /// The whole origin record a copied-up object carries, if any.
    pub fn origin_record(&self, path: &[u8]) -> Option<Origin> {
        let (dir, name) = split(path);
        let name = Name::new(name).ok()?;
        let dir = self.held_dir(dir).ok()?;
        for attr in [ORIGIN_XATTR_PRIVILEGED, ORIGIN_XATTR] {
            if let Ok(Some(v)) = sys::xattr::get_at(dir.as_fd(), name, attr) {
                return Origin::decode(&v);
            }
        }
        None
    }

    /// Writes a whiteout for `name` in `dir` the way fuse-overlayfs does:
    /// a 0/0 character device, or a `.wh.name` file where mknod is refused.
    pub fn write_whiteout(&self, dir: &BeneathDir, name: Name<'_>) -> FsResult<()> {
        match dir.mknod(name, FileType::CharacterDevice, 0o000, 0) {
            Ok(()) => Ok(()),
            Err(e) if e.raw_os_error() == Some(rustix::io::Errno::PERM.raw_os_error()) => {
                let mut wh = WHITEOUT_PREFIX.to_vec();
                wh.extend_from_slice(name.as_bytes());
                let wh = Name::new(&wh)?;
                dir.create_file(wh, 0o000)?;
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Removes any whiteout for `name` in `dir`; true if there was one.
    pub fn clear_whiteout(&self, dir: &BeneathDir, name: Name<'_>) -> FsResult<bool> {
        let mut had = false;
        if let Ok(st) = dir.stat(name)
            && is_whiteout_device(&st)
        {
            dir.unlink(name)?;
            had = true;
        }
        let mut wh = WHITEOUT_PREFIX.to_vec();
        wh.extend_from_slice(name.as_bytes());
        if let Ok(wh) = Name::new(&wh) {
            match dir.unlink(wh) {
                Ok(()) => had = true,
                Err(e) if absent(&e) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(had)
    }

    /// Marks a directory opaque as fuse-overlayfs does: the trusted xattr
    /// (or its user namespace fallback) and a `.wh..wh..opq` file.
    pub fn set_opaque(&self, dir: &BeneathDir) -> FsResult<()> {
        let fd = dir.as_fd();
        if let Err(e) = sys::xattr::set(fd, "trusted.overlay.opaque", b"y", XattrFlags::empty())
            && e.raw_os_error() == Some(rustix::io::Errno::PERM.raw_os_error())
        {
            let _ = sys::xattr::set(fd, "user.fuseoverlayfs.opaque", b"y", XattrFlags::empty());
        }
        let marker = Name::new(OPAQUE_MARKER)?;
        match dir.create_file(marker, 0o700) {
            Ok(_) => Ok(()),
            Err(e) if e.raw_os_error() == Some(rustix::io::Errno::EXIST.raw_os_error()) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Records where a renamed directory's lower content is, as overlayfs
    /// does (so a kernel overlay mount with redirect_dir reads it too).
    pub fn set_redirect(&self, dir: &BeneathDir, target: &[u8]) -> FsResult<()> {
        let mut value = b"/".to_vec();
        value.extend_from_slice(target);
        match sys::xattr::set(dir.as_fd(), REDIRECT_XATTRS[0], &value, XattrFlags::empty()) {
            Ok(()) => Ok(()),
            Err(e) if e.raw_os_error() == Some(rustix::io::Errno::PERM.raw_os_error()) => Ok(sys::xattr::set(
                dir.as_fd(),
                REDIRECT_XATTRS[1],
                &value,
                XattrFlags::empty(),
            )?),
            Err(e) => Err(e.into()),
        }
    }

    /// Opens a regular file of this layer.
    pub fn open_file(&self, path: &[u8], flags: OFlags) -> FsResult<std::fs::File> {
        Ok(self.root.open_file(path, flags)?)
    }
}

#[cfg(test)]
mod tests {
    use super::Origin;

    #[test]
    fn origin_records_round_trip_with_and_without_a_data_path() {
        for o in [
            Origin {
                ino: 7 << 48 | 9,
                ..Origin::default()
            },
            Origin {
                ino: u64::MAX,
                data_path: Some(b"usr/lib/big file".to_vec()),
                ..Origin::default()
            },
            Origin {
                ino: 3,
                aliases_below: Some(0),
                data_path: None,
            },
            Origin {
                ino: 3,
                aliases_below: Some(u32::MAX),
                data_path: Some(b"a".to_vec()),
            },
        ] {
            assert_eq!(Origin::decode(&o.encode()), Some(o));
        }
        // The eight-byte records of earlier versions read as plain origins.
        assert_eq!(
            Origin::decode(&5u64.to_le_bytes()),
            Some(Origin {
                ino: 5,
                ..Origin::default()
            })
        );
        assert_eq!(Origin::decode(b"short"), None);
        assert_eq!(Origin::decode(b"12345678\0H12"), None, "a cut count");
    }
}

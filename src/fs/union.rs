//! The union filesystem and its FUSE handlers.
//!
//! Layers are numbered topmost first: with an upper layer it is layer 0 and
//! the lower layers follow in `lowerdir=` order. Reads go to the layer
//! holding the visible object; every change happens in the upper layer,
//! after copying the object (and its parent directories) up atomically:
//! built in the work directory, then renamed into place. Changes are
//! serialised by one lock; lookups and reads take only the node table's
//! read lock.

use super::config::MountConfig;
use super::hardlinks::{LinkIndex, entry_name};
use super::layer::{
    Layer, ORIGIN_XATTR, ORIGIN_XATTR_PRIVILEGED, Origin, Probe, WHITEOUT_PREFIX, file_type, is_dir, is_internal_xattr,
    join, split,
};
use super::nodes::{HardLink, LowerData, Merge, MergeList, NameIndex, Node, Nodes, ROOT, ino_of, layer_and_st_ino};
use super::override_stat::{self, Override};
use super::{FsError, FsResult};
use crate::sys::{self, BeneathDir, Name};
use fuser::{
    FileAttr, FileHandle, FileType as FuseType, Filesystem, FopenFlags, Generation, INodeNo, KernelConfig, OpenFlags,
    RenameFlags, ReplyAttr, ReplyCreate, ReplyData, ReplyDirectory, ReplyDirectoryPlus, ReplyEmpty, ReplyEntry,
    ReplyLseek, ReplyOpen, ReplyStatfs, ReplyWrite, ReplyXattr, Request, TimeOrNow, WriteFlags,
};
use rustix::fs::{FileType, Mode, OFlags, Stat, Timespec, Timestamps, XattrFlags};
use std::collections::{HashMap, HashSet};
use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub(super) const UPPER: usize = 0;

/// How ids on disk are shown and how requested ids are stored, as
/// fuse-overlayfs's `uidmapping=`/`gidmapping=`/`squash_to_*` do. Ranges are
/// (shown, on disk, count); ids outside every range show as the overflow id.
#[derive(Default)]
struct IdMapping {
    uid: Vec<(u32, u32, u32)>,
    gid: Vec<(u32, u32, u32)>,
    squash_uid: Option<u32>,
    squash_gid: Option<u32>,
}

const OVERFLOW_ID: u32 = 65534;

fn map_id(ranges: &[(u32, u32, u32)], id: u32, to_disk: bool) -> u32 {
    if ranges.is_empty() {
        return id;
    }
    ranges
        .iter()
        .find_map(|&(shown, disk, n)| {
            let (from, to) = if to_disk { (shown, disk) } else { (disk, shown) };
            (id >= from && id - from < n).then(|| to + (id - from))
        })
        .unwrap_or(OVERFLOW_ID)
}

impl IdMapping {
    fn shown(&self, uid: u32, gid: u32) -> (u32, u32) {
        (
            self.squash_uid.unwrap_or_else(|| map_id(&self.uid, uid, false)),
            self.squash_gid.unwrap_or_else(|| map_id(&self.gid, gid, false)),
        )
    }

    fn on_disk_uid(&self, uid: u32) -> u32 {
        map_id(&self.uid, uid, true)
    }

    fn on_disk_gid(&self, gid: u32) -> u32 {
        map_id(&self.gid, gid, true)
    }
}

/// Who is asking, for the few checks the kernel leaves to the filesystem.
#[derive(Clone, Copy)]
struct Caller {
    uid: u32,
    gid: u32,
    pid: u32,
}

impl Caller {
    fn of(req: &Request) -> Caller {
        Caller {
            uid: req.uid(),
            gid: req.gid(),
            pid: req.pid(),
        }
    }

    /// Whether the caller is in `gid`, supplementary groups included (read
    /// from /proc only when the primary group does not decide it).
    fn in_group(&self, gid: u32) -> bool {
        if self.gid == gid {
            return true;
        }
        let Ok(status) = std::fs::read_to_string(format!("/proc/{}/status", self.pid)) else {
            return false;
        };
        status
            .lines()
            .find_map(|l| l.strip_prefix("Groups:"))
            .is_some_and(|g| g.split_whitespace().any(|x| x.parse() == Ok(gid)))
    }

    fn may_write(&self, st: &Stat) -> bool {
        let bits = if self.uid == 0 {
            return true;
        } else if st.st_uid == self.uid {
            0o200
        } else if self.in_group(st.st_gid) {
            0o020
        } else {
            0o002
        };
        st.st_mode & bits != 0
    }
}

/// The changes one `setattr` asks for.
#[derive(Clone, Copy)]
struct SetAttr {
    caller: Caller,
    mode: Option<u32>,
    uid: Option<u32>,
    gid: Option<u32>,
    size: Option<u64>,
    atime: Option<TimeOrNow>,
    mtime: Option<TimeOrNow>,
    fh: Option<FileHandle>,
}

struct DirEntry {
    name: Vec<u8>,
    ino: u64,
    kind: FuseType,
}

enum Handle {
    /// An open file, the node it was opened on, and whether the file is in
    /// the upper layer (and so may be changed through the handle).
    File(u64, Arc<File>, bool),
    /// A read-only open of a small file of a lower layer, served through
    /// the kernel's page cache: the file is opened at the first read the
    /// cache misses (a warm open costs no syscall here). Lower layers never
    /// change, so the node's layer and path are fixed.
    Lazy(u64, Arc<LazyFile>),
    Dir(Arc<Vec<DirEntry>>),
}

struct LazyFile {
    layer: usize,
    path: Vec<u8>,
    file: std::sync::OnceLock<Arc<File>>,
}

/// Read-only opens of lower files up to this size are served from the
/// kernel's page cache (`Handle::Lazy`); larger ones, and every open of the
/// upper layer, go through FUSE passthrough when the kernel allows it.
const CACHED_OPEN_MAX: u64 = 1 << 20;

pub struct UnionFs {
    pub(super) layers: Vec<Layer>,
    has_upper: bool,
    read_only: bool,
    work: Option<BeneathDir>,
    nodes: Arc<RwLock<Nodes>>,
    write_lock: Mutex<()>,
    handles: Mutex<HashMap<u64, Handle>>,
    next_fh: AtomicU64,
    tmp_counter: AtomicU64,
    ttl: Duration,
    pub(super) no_fsync: bool,
    pub(super) privileged: bool,
    acl: bool,
    ids: IdMapping,
    static_nlink: bool,
    /// `metacopy=on`: see `copy_up_metadata`.
    pub(super) metacopy: bool,
    /// `privileges_in_xattrs`: see `override_stat`.
    pub(super) overrides: bool,
    /// The hard-link index, with an upper layer (see `hardlinks`).
    links: Option<LinkIndex>,
    /// Whether whiteouts are links to one shared device (`write_whiteout`).
    share_whiteouts: std::sync::atomic::AtomicBool,
    /// Wanted by the mount, then confirmed (or not) by the kernel at init.
    passthrough: std::sync::atomic::AtomicBool,
    /// One kernel backing per (inode, layer), shared by all passthrough
    /// opens of it: a copy-up makes a new backing for the upper copy.
    backings: Mutex<HashMap<(u64, usize), std::sync::Weak<fuser::BackingId>>>,
    /// Passthrough handles: the open file beside its backing.
    backing_handles: Mutex<HashMap<u64, Arc<fuser::BackingId>>>,
    /// Inodes with page-cache (non-passthrough) opens, and their handles:
    /// the kernel refuses passthrough and cached opens of one inode at once.
    cached_opens: Mutex<HashMap<u64, HashSet<u64>>>,
    /// The kernel opens directories without asking (zero-message opendir):
    /// listings are then made at offset 0 of a `readdir` and kept here, by
    /// inode, for the calls that continue them. Bounded: cleared when full.
    no_opendir: std::sync::atomic::AtomicBool,
    dir_listings: Mutex<HashMap<u64, Arc<Vec<DirEntry>>>>,
    /// See `exit_when_unmounted`.
    exit_on_destroy: bool,
}

/// The attributes of a negative entry: only its node id (0) matters.
const NEGATIVE_ENTRY: FileAttr = FileAttr {
    ino: INodeNo(0),
    size: 0,
    blocks: 0,
    atime: UNIX_EPOCH,
    mtime: UNIX_EPOCH,
    ctime: UNIX_EPOCH,
    crtime: UNIX_EPOCH,
    kind: FuseType::RegularFile,
    perm: 0,
    nlink: 0,
    uid: 0,
    gid: 0,
    rdev: 0,
    blksize: 0,
    flags: 0,
};

/// The merge list of every node that is not a directory: one shared
/// allocation instead of one per file.
fn no_merge() -> MergeList {
    static EMPTY: std::sync::LazyLock<MergeList> = std::sync::LazyLock::new(|| Arc::new(Merge::default()));
    EMPTY.clone()
}

/// Listings kept in `dir_listings` at most.
const KEPT_LISTINGS: usize = 256;

fn name_of(name: &OsStr) -> FsResult<Name<'_>> {
    Name::new(name.as_bytes()).map_err(|e| match e {
        sys::NameError::TooLong => FsError::NAMETOOLONG,
        _ => FsError::INVAL,
    })
}

fn fuse_type(t: FileType) -> FuseType {
    match t {
        FileType::Directory => FuseType::Directory,
        FileType::Symlink => FuseType::Symlink,
        FileType::Fifo => FuseType::NamedPipe,
        FileType::Socket => FuseType::Socket,
        FileType::CharacterDevice => FuseType::CharDevice,
        FileType::BlockDevice => FuseType::BlockDevice,
        _ => FuseType::RegularFile,
    }
}

fn time(sec: i64, nsec: i64) -> SystemTime {
    if sec >= 0 {
        UNIX_EPOCH + Duration::new(sec as u64, nsec as u32)
    } else {
        UNIX_EPOCH - Duration::from_secs(sec.unsigned_abs()) + Duration::from_nanos(nsec as u64)
    }
}

/// The access and modification times of `st`, to set them on a copy.
pub(super) fn times_of(st: &Stat) -> Timestamps {
    let t = |sec: i64, nsec| Timespec {
        tv_sec: sec,
        tv_nsec: nsec as _,
    };
    Timestamps {
        last_access: t(st.st_atime, st.st_atime_nsec),
        last_modification: t(st.st_mtime, st.st_mtime_nsec),
    }
}

fn to_timespec(t: Option<TimeOrNow>) -> Timespec {
    match t {
        None => Timespec {
            tv_sec: 0,
            tv_nsec: rustix::fs::UTIME_OMIT,
        },
        Some(TimeOrNow::Now) => Timespec {
            tv_sec: 0,
            tv_nsec: rustix::fs::UTIME_NOW,
        },
        Some(TimeOrNow::SpecificTime(t)) => match t.duration_since(UNIX_EPOCH) {
            Ok(d) => Timespec {
                tv_sec: d.as_secs() as i64,
                tv_nsec: d.subsec_nanos().into(),
            },
            Err(e) => {
                let d = e.duration();
                let mut sec = -(d.as_secs() as i64);
                let mut nsec = -(d.subsec_nanos() as i64);
                if nsec < 0 {
                    sec -= 1;
                    nsec += 1_000_000_000;
                }
                Timespec {
                    tv_sec: sec,
                    tv_nsec: nsec,
                }
            }
        },
    }
}

impl UnionFs {
    pub fn new(cfg: &MountConfig) -> io::Result<UnionFs> {
        let mountpoint = std::fs::canonicalize(&cfg.mountpoint)?;
        let mut paths = Vec::new();
        if let Some(u) = &cfg.upper {
            paths.push(u.clone());
        }
        paths.extend(cfg.lowers.iter().cloned());
        let count = paths.len();
        let mut layers = Vec::new();
        for p in paths {
            let canon =
                std::fs::canonicalize(&p).map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", p.display())))?;
            if mountpoint.starts_with(&canon) || canon.starts_with(&mountpoint) {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "the mountpoint {} and the layer {} contain one another",
                        mountpoint.display(),
                        canon.display()
                    ),
                ));
            }
            let lower = !(cfg.upper.is_some() && layers.is_empty());
            let overrides = !lower && cfg.privileges_in_xattrs;
            layers.push(Layer::open(canon, lower, count)?.with_overrides(overrides));
        }
        let work = match &cfg.work {
            Some(w) => {
                // Our scratch space inside the work directory, emptied now:
                // anything in it is a copy-up a crash interrupted.
                let dir = BeneathDir::open(w)?;
                match dir.mkdir(Name::new(b"strata").expect("valid"), 0o700) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                    Err(e) => return Err(e),
                }
                let scratch = dir.open_dir(b"strata")?;
                scratch.clear()?;
                Some(scratch)
            }
            None => None,
        };
        let links = match &cfg.work {
            Some(w) if cfg.upper.is_some() => Some(LinkIndex::open(w, cfg.privileges_in_xattrs, count)?),
            _ => None,
        };
        let has_upper = cfg.upper.is_some();
        let mut merge = Vec::new();
        for (i, l) in layers.iter().enumerate() {
            merge.push((i, Vec::new()));
            if l.is_opaque(b"").map_err(|e| io::Error::from_raw_os_error(e.0))? {
                break;
            }
        }
        let root = Node {
            links: Vec::new(),
            layer: 0,
            is_dir: true,
            size: 0,
            merge: Arc::new(Merge::new(merge)),
            lookups: 1,
            lower_data: None,
            hardlink: None,
        };
        Ok(UnionFs {
            layers,
            has_upper,
            read_only: cfg.read_only || !has_upper,
            work,
            nodes: Arc::new(RwLock::new(Nodes::new(root))),
            write_lock: Mutex::new(()),
            handles: Mutex::new(HashMap::new()),
            next_fh: AtomicU64::new(1),
            tmp_counter: AtomicU64::new(0),
            ttl: cfg.timeout,
            no_fsync: cfg.no_fsync,
            privileged: sys::is_root(),
            acl: cfg.acl,
            ids: IdMapping {
                uid: cfg.uid_map.clone(),
                gid: cfg.gid_map.clone(),
                squash_uid: cfg.squash_uid,
                squash_gid: cfg.squash_gid,
            },
            static_nlink: cfg.static_nlink,
            metacopy: cfg.metacopy,
            overrides: cfg.privileges_in_xattrs && has_upper,
            links,
            share_whiteouts: std::sync::atomic::AtomicBool::new(true),
            passthrough: std::sync::atomic::AtomicBool::new(cfg.passthrough),
            backings: Mutex::new(HashMap::new()),
            backing_handles: Mutex::new(HashMap::new()),
            cached_opens: Mutex::new(HashMap::new()),
            no_opendir: std::sync::atomic::AtomicBool::new(false),
            dir_listings: Mutex::new(HashMap::new()),
            exit_on_destroy: false,
        })
    }

    /// Ends the process as soon as the session ends (for `stratafs`, a
    /// process per mount). fuser 0.18 then unmounts the mountpoint *by path*
    /// when its device reports an error (which it reads as "still mounted"),
    /// and so unmounts whatever was mounted there since: a quick remount's
    /// new mount. Exiting first leaves nothing to unmount (the kernel has
    /// already ended the mount, or the session would not have ended).
    pub fn exit_when_unmounted(&mut self) {
        self.exit_on_destroy = true;
    }

    /// A handle for telling the kernel about changes made beside the mount.
    pub fn invalidator(&self) -> Invalidator {
        Invalidator {
            nodes: self.nodes.clone(),
            notifier: Arc::new(Mutex::new(None)),
        }
    }

    pub(super) fn nodes_read(&self) -> std::sync::RwLockReadGuard<'_, Nodes> {
        self.nodes.read().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn nodes_write(&self) -> std::sync::RwLockWriteGuard<'_, Nodes> {
        self.nodes.write().unwrap_or_else(|p| p.into_inner())
    }

    fn lock_writes(&self) -> FsResult<MutexGuard<'_, ()>> {
        if self.read_only {
            return Err(FsError::ROFS);
        }
        Ok(self.write_lock.lock().unwrap_or_else(|p| p.into_inner()))
    }

    fn handles(&self) -> MutexGuard<'_, HashMap<u64, Handle>> {
        self.handles.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A node and its current path.
    pub(super) fn node(&self, ino: u64) -> FsResult<(Node, Vec<u8>)> {
        let nodes = self.nodes_read();
        let node = nodes.get(ino).ok_or(FsError::NOENT)?.clone();
        let path = nodes.path(ino).ok_or(FsError::NOENT)?;
        Ok((node, path))
    }

    fn attr(&self, ino: u64, st: &Stat) -> FileAttr {
        FileAttr {
            ino: INodeNo(ino),
            size: st.st_size as u64,
            blocks: st.st_blocks as u64,
            atime: time(st.st_atime, st.st_atime_nsec as i64),
            mtime: time(st.st_mtime, st.st_mtime_nsec as i64),
            ctime: time(st.st_ctime, st.st_ctime_nsec as i64),
            crtime: UNIX_EPOCH,
            kind: fuse_type(file_type(st)),
            perm: (st.st_mode & 0o7777) as u16,
            nlink: if self.static_nlink && file_type(st) == FileType::Directory {
                1
            } else {
                st.st_nlink as u32
            },
            uid: self.ids.shown(st.st_uid, st.st_gid).0,
            gid: self.ids.shown(st.st_uid, st.st_gid).1,
            rdev: st.st_rdev as u32,
            blksize: st.st_blksize as u32,
            flags: 0,
        }
    }

    fn origin(&self, layer: usize, path: &[u8]) -> Option<u64> {
        if self.in_upper(layer) {
            self.layers[UPPER].origin(path)
        } else {
            None
        }
    }

    fn origin_record(&self, layer: usize, path: &[u8]) -> Option<Origin> {
        if self.in_upper(layer) {
            self.layers[UPPER].origin_record(path)
        } else {
            None
        }
    }

    /// Where the data of an upper regular file copied up without it is.
    fn lower_data_of(&self, origin: Origin, st: &Stat) -> Option<Arc<LowerData>> {
        let path = origin.data_path?;
        if file_type(st) != FileType::RegularFile {
            return None;
        }
        // A record naming no lower layer is kept as one: opening its data
        // is then an error rather than a read of the (empty) upper file.
        let (layer, st_ino) = layer_and_st_ino(origin.ino).unwrap_or((usize::MAX, 0));
        Some(Arc::new(LowerData { layer, path, st_ino }))
    }

    /// Opens the lower data of a metacopy file, checking that it is the
    /// file it was copied from (the stack of layers may have changed since).
    pub(super) fn open_lower_data(&self, data: &LowerData) -> FsResult<File> {
        if data.layer >= self.layers.len() || self.in_upper(data.layer) {
            tracing::warn!("a metacopy file names layer {}, which this mount has not", data.layer);
            return Err(FsError::IO);
        }
        let file = self.layers[data.layer].open_file(&data.path, OFlags::RDONLY)?;
        if !data.is(rustix::fs::fstat(&file)?.st_ino) {
            tracing::warn!(
                "the data of a metacopy file is no longer at {} in layer {}",
                String::from_utf8_lossy(&data.path),
                data.layer
            );
            return Err(FsError::IO);
        }
        Ok(file)
    }

    /// A metacopy file's blocks are its lower data's (as `du` expects).
    fn show_data_blocks(&self, st: &mut Stat, data: &LowerData) {
        if let Some(layer) = self.layers.get(data.layer).filter(|_| !self.in_upper(data.layer))
            && let Ok(lower) = layer.stat(&data.path)
            && data.is(lower.st_ino)
        {
            st.st_blocks = lower.st_blocks;
        }
    }

    /// Writes the origin record on a copy being made; false when neither
    /// xattr namespace takes it (then there is no origin and no metacopy).
    pub(super) fn record_origin(&self, fd: impl AsFd, origin: &Origin) -> bool {
        // The trusted namespace where we may (root, not in a user
        // namespace), the user namespace otherwise.
        let value = origin.encode();
        [ORIGIN_XATTR_PRIVILEGED, ORIGIN_XATTR]
            .iter()
            .skip(usize::from(!self.privileged))
            .any(|name| sys::xattr::set(&fd, name, &value, XattrFlags::empty()).is_ok())
    }

    pub(super) fn in_upper(&self, layer: usize) -> bool {
        self.has_upper && layer == UPPER
    }

    pub(super) fn links(&self) -> Option<&LinkIndex> {
        self.links.as_ref()
    }

    pub(super) fn layer(&self, l: usize) -> &Layer {
        &self.layers[l]
    }

    /// A node, the layer holding its object, and the object's path there:
    /// `node_at`'s, or the hard-link index entry of a node shown from it.
    fn object(&self, ino: u64) -> FsResult<(Node, &Layer, Vec<u8>)> {
        let nodes = self.nodes_read();
        let node = nodes.get(ino).ok_or(FsError::NOENT)?.clone();
        if node.hardlink.is_some_and(|h| h.in_index)
            && let Some(links) = &self.links
        {
            return Ok((node, &links.layer, entry_name(ino)));
        }
        let path = if self.in_upper(node.layer) {
            nodes.path(ino)
        } else {
            nodes.lower_path(ino)
        };
        let layer = &self.layers[node.layer];
        Ok((node, layer, path.ok_or(FsError::NOENT)?))
    }

    /// A node and where its object is in its own layer (the merged path
    /// in the upper layer).
    fn node_at(&self, ino: u64) -> FsResult<(Node, Vec<u8>)> {
        let nodes = self.nodes_read();
        let node = nodes.get(ino).ok_or(FsError::NOENT)?.clone();
        let path = if self.in_upper(node.layer) {
            nodes.path(ino)
        } else {
            nodes.lower_path(ino)
        };
        Ok((node, path.ok_or(FsError::NOENT)?))
    }

    /// Finds `name` in the directory `parent` (at `parent_path`), across the
    /// directory's merged layers, topmost first. Below a directory the upper
    /// layer redirects (a renamed directory), the lower layers are searched
    /// at the redirect's target instead.
    pub(super) fn find(&self, parent: &Node, parent_path: &[u8], name: &[u8]) -> FsResult<Option<(u64, Node, Stat)>> {
        self.find_with(parent, parent_path, name, false)
    }

    /// `find`, told whether the upper object was just made by this mount
    /// (`fresh`: it carries no origin, so none is read).
    fn find_with(
        &self,
        parent: &Node,
        parent_path: &[u8],
        name: &[u8],
        fresh: bool,
    ) -> FsResult<Option<(u64, Node, Stat)>> {
        if name.starts_with(WHITEOUT_PREFIX) {
            return Ok(None);
        }
        let merged = join(parent_path, name);
        // The upper layer first; the lower layers once it is passed, only
        // those the parent's index says may hold the name.
        let mut candidates: Vec<(usize, Vec<u8>)> = parent
            .merge
            .iter()
            .take_while(|(l, _)| self.in_upper(*l))
            .map(|(l, _)| (*l, merged.clone()))
            .collect();
        let mut lower_pending = true;
        let mut read_ahead = false;
        let mut found: Option<(usize, Stat, Vec<u8>)> = None;
        let mut merge = Vec::new();
        let mut i = 0;
        loop {
            if i == candidates.len() {
                if !lower_pending {
                    break;
                }
                lower_pending = false;
                for p in self.lower_candidates(&parent.merge, name)? {
                    let (l, dir) = &parent.merge[p];
                    candidates.push((*l, join(dir, name)));
                }
                continue;
            }
            let (l, path) = candidates[i].clone();
            i += 1;
            let (dir, leaf) = split(&path);
            match self.layers[l].probe(dir, leaf)? {
                Probe::Absent => continue,
                Probe::Whiteout => break,
                Probe::Present(st) => {
                    let is_directory = is_dir(&st);
                    if found.is_none() {
                        found = Some((l, st, path.clone()));
                    }
                    // Only directories merge with what is below them.
                    if !is_directory {
                        break;
                    }
                    merge.push((l, path.clone()));
                    if !read_ahead && candidates.len() - i >= READ_AHEAD_MIN {
                        // A directory that goes on through many layers:
                        // what this loop reads of them, read ahead at once.
                        read_ahead = true;
                        self.read_ahead_dirs(&candidates[i..], parent_path);
                    }
                    let markers = self.layers[l].dir_markers(&path, parent_path)?;
                    if markers.opaque {
                        break;
                    }
                    // Redirects are honoured in the upper layer, where this
                    // filesystem writes them.
                    if let Some(target) = markers.redirect.filter(|_| self.in_upper(l)) {
                        candidates = (l + 1..self.layers.len()).map(|x| (x, target.clone())).collect();
                        i = 0;
                        lower_pending = false;
                    }
                }
            }
        }
        let Some((layer, st, layer_path)) = found else {
            return Ok(None);
        };
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
        Ok(Some((ino, node, st)))
    }

    fn lookup_inner(&self, parent: u64, name: &[u8]) -> FsResult<FileAttr> {
        self.lookup_with(parent, name, false)
    }

    fn lookup_with(&self, parent: u64, name: &[u8], fresh: bool) -> FsResult<FileAttr> {
        Name::new(name).map_err(|e| match e {
            sys::NameError::TooLong => FsError::NAMETOOLONG,
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

    pub(super) fn stat_node(&self, ino: u64) -> FsResult<Stat> {
        let (node, layer, path) = self.object(ino)?;
        let mut st = layer.stat(&path)?;
        self.show_node(&node, &mut st);
        Ok(st)
    }

    /// What the disk stat of a node's object leaves to the node: a metacopy
    /// file's blocks, a hard-linked inode's count of names.
    pub(super) fn show_node(&self, node: &Node, st: &mut Stat) {
        if let Some(d) = &node.lower_data {
            self.show_data_blocks(st, d);
        }
        if let Some(h) = node.hardlink {
            st.st_nlink = h.nlink(st.st_nlink);
        }
    }

    fn getattr_inner(&self, ino: u64, fh: Option<FileHandle>) -> FsResult<FileAttr> {
        // fstat comes without a handle; an unlinked node can only be
        // reached through one of its open files.
        let unlinked = ino != ROOT && self.nodes_read().get(ino).is_none_or(|n| n.unlinked());
        // Only then: a handle's file need not be the object shown (a
        // metacopy file's handles hold its lower data), nor is its metadata
        // all of what is shown (an index's, an override's, a hard-linked
        // inode's count of names).
        let fh = fh.filter(|_| unlinked);
        let open = fh.and_then(|fh| self.file(fh).ok()).or_else(|| {
            if !unlinked {
                return None;
            }
            let lazy = self.handles().values().find_map(|h| match h {
                Handle::File(i, f, _) if *i == ino => Some(Ok(f.clone())),
                Handle::Lazy(i, lazy) if *i == ino => Some(Err(lazy.clone())),
                _ => None,
            })?;
            lazy.or_else(|lazy| self.open_lazy(&lazy)).ok()
        });
        if let Some(f) = open {
            let mut st = rustix::fs::fstat(f.as_fd())?;
            if self.overrides {
                override_stat::present_fd(&*f, &mut st)?;
            }
            let mut attr = self.attr(ino, &st);
            if ino != ROOT && self.nodes_read().get(ino).is_none_or(|n| n.unlinked()) {
                // Every name is gone (a lower file is only whited out, so
                // its own link count says nothing).
                attr.nlink = 0;
            }
            return Ok(attr);
        }
        let st = self.stat_node(ino)?;
        Ok(self.attr(ino, &st))
    }

    pub(super) fn upper(&self) -> FsResult<&Layer> {
        if !self.has_upper || self.read_only {
            return Err(FsError::ROFS);
        }
        Ok(&self.layers[UPPER])
    }

    pub(super) fn work(&self) -> FsResult<&BeneathDir> {
        self.work.as_ref().ok_or(FsError::ROFS)
    }

    pub(super) fn temp_name(&self) -> Vec<u8> {
        format!("#{}", self.tmp_counter.fetch_add(1, Ordering::Relaxed)).into_bytes()
    }

    /// The upper-layer directory for a directory node, copied up if needed.
    fn upper_dir(&self, ino: u64) -> FsResult<(Arc<BeneathDir>, Vec<u8>)> {
        self.copy_up(ino)?;
        let (node, path) = self.node(ino)?;
        if !node.is_dir {
            return Err(FsError::NOTDIR);
        }
        Ok((self.upper()?.held_dir(&path)?, path))
    }

    /// Writes a whiteout for `name` in the upper directory `dir`: a link to
    /// one 0/0 device kept in the work directory, as kernel overlayfs
    /// shares its whiteouts (a link costs a directory entry where a mknod
    /// costs an inode too); a whiteout of its own where linking fails.
    /// Callers hold the write lock.
    fn write_whiteout(&self, dir: &BeneathDir, name: Name<'_>) -> FsResult<()> {
        const SHARED: &[u8] = b"whiteout";
        let shared = Name::new(SHARED).map_err(|_| FsError::INVAL)?;
        if let Some(work) = self
            .work
            .as_ref()
            .filter(|_| self.share_whiteouts.load(Ordering::Relaxed))
        {
            for _ in 0..2 {
                let errno = match dir.link_from(work, shared, name) {
                    Ok(()) => return Ok(()),
                    Err(e) => e.raw_os_error(),
                };
                let made = if errno == Some(rustix::io::Errno::NOENT.raw_os_error())
                    || errno == Some(rustix::io::Errno::MLINK.raw_os_error())
                {
                    // None yet, or this one has all the links it may:
                    // a new one replaces it (older links keep the old).
                    let tmp_bytes = self.temp_name();
                    let tmp = Name::new(&tmp_bytes).map_err(|_| FsError::INVAL)?;
                    work.mknod(tmp, FileType::CharacterDevice, 0, 0)
                        .and_then(|()| work.rename(tmp, work, shared, rustix::fs::RenameFlags::empty()))
                        .is_ok()
                } else {
                    false
                };
                if !made {
                    // Not here (another filesystem, no mknod): never again.
                    self.share_whiteouts.store(false, Ordering::Relaxed);
                    break;
                }
            }
        }
        self.upper()?.write_whiteout(dir, name)
    }

    /// Reads ahead, in parallel, what `find` goes on to read of the lower
    /// layers among `candidates` (paths of a name in each): the entry's
    /// `lstat` and, for a directory, its markers (kept by the layer). Cold,
    /// each waits on the disk, which serves several reads at once. Errors
    /// are left for `find` to meet.
    fn read_ahead_dirs(&self, candidates: &[(usize, Vec<u8>)], parent_path: &[u8]) {
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
    fn read_ahead_listings(&self, dirs: &[(usize, Vec<u8>)]) {
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
    fn lower_candidates(&self, merge: &Merge, name: &[u8]) -> FsResult<Vec<usize>> {
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
    fn exists_below(&self, parent: &Node, name: &[u8]) -> FsResult<bool> {
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

    /// Makes way for a new entry `name` in the upper directory: no object
    /// may be visible there; any whiteout is removed. Returns whether the
    /// name hid something below (a new directory must then be opaque).
    fn prepare_new(&self, parent: u64, name: &[u8]) -> FsResult<(Arc<BeneathDir>, bool)> {
        let (pnode, ppath) = self.node(parent)?;
        if !pnode.is_dir {
            return Err(FsError::NOTDIR);
        }
        if name.starts_with(WHITEOUT_PREFIX) {
            // Such a name in the upper layer would read as a whiteout.
            return Err(FsError::PERM);
        }
        if self.in_upper(pnode.layer) {
            // The common case (untar, a build): the parent is already in the
            // upper layer, where one probe tells what the name holds, and the
            // lower layers matter only if the upper one holds nothing.
            let (_, upper_path) = self.node_at(parent)?;
            let n = Name::new(name).map_err(|_| FsError::NAMETOOLONG)?;
            let hides_below = match self.layers[UPPER].probe(&upper_path, name)? {
                Probe::Present(_) => return Err(FsError::EXIST),
                Probe::Whiteout => true,
                Probe::Absent if self.exists_below(&pnode, name)? => return Err(FsError::EXIST),
                Probe::Absent => false,
            };
            let (dir, _) = self.upper_dir(parent)?;
            if hides_below {
                self.upper()?.clear_whiteout(&dir, n)?;
            }
            return Ok((dir, hides_below));
        }
        if self.find(&pnode, &ppath, name)?.is_some() {
            return Err(FsError::EXIST);
        }
        let (dir, _) = self.upper_dir(parent)?;
        let n = Name::new(name).map_err(|_| FsError::NAMETOOLONG)?;
        let had_whiteout = self.upper()?.clear_whiteout(&dir, n)?;
        let (pnode, _) = self.node(parent)?;
        Ok((dir, had_whiteout || self.exists_below(&pnode, name)?))
    }

    /// Owner for a new object: the caller, with the group of a set-gid parent.
    fn new_owner(&self, req: &Request, parent_dir: &BeneathDir) -> FsResult<(u32, u32, bool)> {
        let mut pst = parent_dir.stat_self()?;
        if self.overrides {
            // A set-gid bit is only in the override.
            override_stat::present_fd(parent_dir.as_fd(), &mut pst)?;
        }
        let setgid = pst.st_mode & 0o2000 != 0;
        let gid = if setgid {
            pst.st_gid
        } else {
            self.ids.on_disk_gid(req.gid())
        };
        Ok((self.ids.on_disk_uid(req.uid()), gid, setgid))
    }

    /// The entry of an object this mount has just made in the upper layer.
    fn finish_new(&self, parent: u64, name: &[u8]) -> FsResult<FileAttr> {
        self.lookup_with(parent, name, true)
    }

    /// `finish_new` for a file just created whose status is at hand: what a
    /// lookup would find (a fresh upper file merges with nothing and has no
    /// origin) without looking again.
    fn finish_new_file(&self, parent: u64, name: &[u8], st: &Stat) -> FileAttr {
        let ino = ino_of(UPPER, st.st_ino, None);
        let node = Node {
            links: vec![(parent, name.to_vec())],
            layer: UPPER,
            is_dir: false,
            size: st.st_size as u64,
            merge: no_merge(),
            lookups: 0,
            lower_data: None,
            hardlink: None,
        };
        self.nodes_write().remember(ino, node);
        self.attr(ino, st)
    }

    fn remove(&self, parent: u64, name: &[u8], dir: bool) -> FsResult<()> {
        let _w = self.lock_writes()?;
        let n = Name::new(name).map_err(|_| FsError::NAMETOOLONG)?;
        let (pnode, ppath) = self.node(parent)?;
        let (ino, mut node, mut st) = self.find(&pnode, &ppath, name)?.ok_or(FsError::NOENT)?;
        if dir && !is_dir(&st) {
            return Err(FsError::NOTDIR);
        }
        if !self.in_upper(node.layer) && self.copies_to_index(&node, &st) {
            // A name of a hard-linked lower inode: the inode comes up first,
            // so that its other names count one name fewer (see `hardlinks`).
            self.copy_up_metadata(ino)?;
            (_, node, st) = self.find(&pnode, &ppath, name)?.ok_or(FsError::NOENT)?;
        }
        if !dir && is_dir(&st) {
            return Err(FsError::ISDIR);
        }
        let path = join(&ppath, name);
        if dir && !self.list(&node, &path)?.is_empty() {
            return Err(FsError::NOTEMPTY);
        }
        let (udir, _) = self.upper_dir(parent)?;
        // Found below: no need to look again.
        let below = !self.in_upper(node.layer) || {
            let (pnode, _) = self.node(parent)?;
            self.exists_below(&pnode, name)?
        };
        if node.layer == UPPER && self.has_upper {
            if dir {
                // Only whiteouts and markers can be left in it.
                udir.child_dir(n)?.clear()?;
                udir.rmdir(n)?;
                self.layers[UPPER].forget_dirs();
            } else {
                udir.unlink(n)?;
            }
        }
        if below {
            self.write_whiteout(&udir, n)?;
        }
        self.nodes_write().unlink(ino, parent, name);
        Ok(())
    }

    /// The merged entries of a directory, in a stable order: topmost layer
    /// first, each layer in its own order.
    fn list(&self, node: &Node, path: &[u8]) -> FsResult<Vec<DirEntry>> {
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
    fn dir_entries(&self, ino: u64, fh: u64, offset: u64) -> FsResult<Arc<Vec<DirEntry>>> {
        if fh != 0 || !self.no_opendir.load(Ordering::Relaxed) {
            return match self.handles().get(&fh) {
                Some(Handle::Dir(e)) => Ok(e.clone()),
                _ => Err(FsError::BADF),
            };
        }
        if offset != 0
            && let Some(e) = self.dir_listings.lock().unwrap_or_else(|p| p.into_inner()).get(&ino)
        {
            return Ok(e.clone());
        }
        let (node, path) = self.node(ino)?;
        if !node.is_dir {
            return Err(FsError::NOTDIR);
        }
        let entries = Arc::new(self.list(&node, &path)?);
        let mut kept = self.dir_listings.lock().unwrap_or_else(|p| p.into_inner());
        if kept.len() >= KEPT_LISTINGS {
            kept.clear();
        }
        kept.insert(ino, entries.clone());
        Ok(entries)
    }

    /// A `readdir` at `offset` that reads past the end of a kept listing
    /// (the kernel's last call, which finds nothing): the listing is
    /// dropped, as the kernel has it all now.
    fn end_of_listing(&self, ino: u64, fh: u64, offset: u64, entries: &[DirEntry]) {
        if fh == 0 && offset >= 2 && offset - 2 >= entries.len() as u64 {
            self.dir_listings.lock().unwrap_or_else(|p| p.into_inner()).remove(&ino);
        }
    }

    fn new_handle(&self, h: Handle) -> u64 {
        let fh = self.next_fh.fetch_add(1, Ordering::Relaxed);
        self.handles().insert(fh, h);
        fh
    }

    fn file(&self, fh: FileHandle) -> FsResult<Arc<File>> {
        let lazy = match self.handles().get(&fh.0) {
            Some(Handle::File(_, f, _)) => return Ok(f.clone()),
            Some(Handle::Lazy(_, lazy)) => lazy.clone(),
            _ => return Err(FsError::BADF),
        };
        self.open_lazy(&lazy)
    }

    fn open_lazy(&self, lazy: &LazyFile) -> FsResult<Arc<File>> {
        if let Some(f) = lazy.file.get() {
            return Ok(f.clone());
        }
        let file = self.layers[lazy.layer].open_file(&lazy.path, OFlags::RDONLY)?;
        // Two first reads may race: one file wins, the other is dropped.
        Ok(lazy.file.get_or_init(|| Arc::new(file)).clone())
    }

    /// Counts a page-cache open of `ino` by the handle `fh`, unless `ino`
    /// has a passthrough backing alive (then the open must be passthrough
    /// too) and `force` is not given.
    fn start_cached_open(&self, ino: u64, fh: u64, force: bool) -> bool {
        let backings = self.backings.lock().unwrap_or_else(|p| p.into_inner());
        if !force && backings.iter().any(|((i, _), w)| *i == ino && w.strong_count() > 0) {
            return false;
        }
        self.cached_opens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(ino)
            .or_default()
            .insert(fh);
        true
    }

    fn end_cached_open(&self, ino: u64, fh: u64) {
        let mut map = self.cached_opens.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(set) = map.get_mut(&ino) {
            set.remove(&fh);
            if set.is_empty() {
                map.remove(&ino);
            }
        }
    }

    fn has_cached_opens(&self, ino: u64) -> bool {
        self.cached_opens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(&ino)
    }

    /// A page-cache open (`Handle::Lazy`) when `flags` only read a small
    /// regular file of a lower layer; None when the open needs more.
    fn open_cached(&self, ino: u64, flags: i32) -> Option<u64> {
        let oflags = OFlags::from_bits_retain(flags as u32);
        let only_reads = !oflags
            .intersects(OFlags::WRONLY | OFlags::RDWR | OFlags::TRUNC | OFlags::APPEND | OFlags::DIRECT | OFlags::SYNC);
        if !only_reads {
            return None;
        }
        let lazy = {
            let nodes = self.nodes_read();
            let node = nodes.get(ino)?;
            // A node shown from the hard-link index is an upper file.
            let indexed = node.hardlink.is_some_and(|h| h.in_index);
            if node.is_dir || self.in_upper(node.layer) || indexed || node.size > CACHED_OPEN_MAX {
                return None;
            }
            LazyFile {
                layer: node.layer,
                path: nodes.lower_path(ino)?,
                file: std::sync::OnceLock::new(),
            }
        };
        let fh = self.next_fh.fetch_add(1, Ordering::Relaxed);
        if !self.start_cached_open(ino, fh, false) {
            return None;
        }
        self.handles().insert(fh, Handle::Lazy(ino, Arc::new(lazy)));
        Some(fh)
    }

    fn open_inner(&self, ino: u64, flags: i32) -> FsResult<(u64, Arc<File>, usize)> {
        let oflags = OFlags::from_bits_retain(flags as u32);
        let writes = oflags.intersects(OFlags::WRONLY | OFlags::RDWR | OFlags::TRUNC | OFlags::APPEND);
        let truncates = oflags.contains(OFlags::TRUNC);
        let _w = if writes {
            let w = self.lock_writes()?;
            // Data about to be truncated away need not be copied.
            if truncates {
                self.copy_up_metadata(ino)?;
            } else {
                self.copy_up(ino)?;
            }
            Some(w)
        } else {
            None
        };
        let (node, layer, path) = self.object(ino)?;
        // Held on only while a truncating open must still drop the record
        // naming the data below.
        let _w = _w.filter(|_| node.lower_data.is_some());
        let keep = OFlags::ACCMODE | OFlags::APPEND | OFlags::TRUNC | OFlags::NONBLOCK | OFlags::DSYNC | OFlags::SYNC;
        if let Some(data) = node.lower_data.as_ref().filter(|_| !writes) {
            let file = Arc::new(self.open_lower_data(data)?);
            let fh = self.new_handle(Handle::File(ino, file.clone(), false));
            return Ok((fh, file, data.layer));
        }
        let file = Arc::new(layer.open_file(&path, oflags & keep)?);
        if node.lower_data.is_some() {
            // Only a truncating open gets here with the data still below.
            self.forget_lower_data(ino, &file)?;
        }
        let in_upper = node.layer == UPPER && self.has_upper;
        let fh = self.new_handle(Handle::File(ino, file.clone(), in_upper));
        // An index entry is the upper copy's inode: one backing for both.
        let backing_layer = if node.hardlink.is_some_and(|h| h.in_index) {
            UPPER
        } else {
            node.layer
        };
        Ok((fh, file, backing_layer))
    }

    /// The shared kernel backing for a passthrough open of `ino` in `layer`,
    /// made from `file` (by `make`) when none is alive. None when the kernel
    /// offered no passthrough, or refused it (unprivileged): then data is
    /// served by `read` and `write`, and passthrough is not tried again.
    fn backing(
        &self,
        ino: u64,
        layer: usize,
        file: &File,
        make: impl FnOnce(&File) -> io::Result<fuser::BackingId>,
    ) -> Option<Arc<fuser::BackingId>> {
        if !self.passthrough.load(Ordering::Relaxed) {
            return None;
        }
        let mut map = self.backings.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(b) = map.get(&(ino, layer)).and_then(std::sync::Weak::upgrade) {
            return Some(b);
        }
        // Checked under the backings lock, which page-cache opens take too.
        if self.has_cached_opens(ino) {
            return None;
        }
        match make(file) {
            Ok(id) => {
                let id = Arc::new(id);
                map.insert((ino, layer), Arc::downgrade(&id));
                Some(id)
            }
            Err(e) => {
                tracing::info!("FUSE passthrough refused ({e}); serving data ourselves");
                self.passthrough.store(false, Ordering::Relaxed);
                None
            }
        }
    }

    fn keep_backing(&self, fh: u64, backing: Arc<fuser::BackingId>) {
        self.backing_handles
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(fh, backing);
    }

    /// A `setattr` of a node with no name left: the change goes through an
    /// open file of it. Callers hold the write lock.
    fn setattr_unlinked(&self, ino: u64, a: &SetAttr) -> FsResult<FileAttr> {
        let SetAttr {
            mode,
            uid,
            gid,
            size,
            atime,
            mtime,
            fh,
            ..
        } = *a;
        let file = self
            .handles()
            .iter()
            .filter(|(fh_id, _)| fh.is_none_or(|f| f.0 == **fh_id))
            .find_map(|(_, h)| match h {
                Handle::File(i, f, true) if *i == ino => Some(f.clone()),
                _ => None,
            })
            .ok_or(FsError::NOENT)?;
        if let Some(size) = size {
            rustix::fs::ftruncate(file.as_fd(), size)?;
        }
        let ids_changed = uid.is_some() || gid.is_some();
        if ids_changed {
            rustix::fs::fchown(
                file.as_fd(),
                uid.map(|u| rustix::fs::Uid::from_raw(self.ids.on_disk_uid(u))),
                gid.map(|g| rustix::fs::Gid::from_raw(self.ids.on_disk_gid(g))),
            )?;
        }
        if self.overrides && (ids_changed || mode.is_some()) {
            self.owner_mode_fd(&*file, ids_changed, mode)?;
        } else if let Some(mode) = mode {
            rustix::fs::fchmod(file.as_fd(), Mode::from_raw_mode(mode & 0o7777))?;
        }
        if atime.is_some() || mtime.is_some() {
            rustix::fs::futimens(
                file.as_fd(),
                &Timestamps {
                    last_access: to_timespec(atime),
                    last_modification: to_timespec(mtime),
                },
            )?;
        }
        let mut st = rustix::fs::fstat(file.as_fd())?;
        if self.overrides {
            override_stat::present_fd(&*file, &mut st)?;
        }
        let mut attr = self.attr(ino, &st);
        attr.nlink = 0;
        Ok(attr)
    }

    fn setattr_inner(&self, ino: u64, a: SetAttr) -> FsResult<FileAttr> {
        let _w = self.lock_writes()?;
        if ino != ROOT && self.nodes_read().get(ino).is_none_or(|n| n.unlinked()) {
            return self.setattr_unlinked(ino, &a);
        }
        let SetAttr {
            caller,
            mode,
            uid,
            gid,
            size,
            atime,
            mtime,
            fh,
        } = a;
        match size {
            // Truncating to a length that keeps data needs the data.
            Some(n) if n > 0 => self.copy_up(ino)?,
            _ => self.copy_up_metadata(ino)?,
        }
        let (node, path) = self.node(ino)?;
        let upper = self.upper()?;
        let (ppath, name) = split(&path);
        // The parent held open: each change below is one syscall on it, by
        // name, never following a symlink.
        let dir = if path.is_empty() {
            None
        } else {
            Some(upper.held_dir(ppath)?)
        };
        let entry = Name::new(name).map_err(|_| FsError::INVAL);
        if let Some(size) = size {
            let f = match fh.map(|f| self.file(f)) {
                Some(Ok(f)) if node.lower_data.is_none() => f,
                _ => Arc::new(upper.open_file(&path, OFlags::WRONLY)?),
            };
            rustix::fs::ftruncate(f.as_fd(), size)?;
            if node.lower_data.is_some() {
                self.forget_lower_data(ino, &f)?;
            }
        }
        if uid.is_some() || gid.is_some() {
            let uid = uid.map(|u| rustix::fs::Uid::from_raw(self.ids.on_disk_uid(u)));
            let gid = gid.map(|g| rustix::fs::Gid::from_raw(self.ids.on_disk_gid(g)));
            match &dir {
                Some(d) => rustix::fs::chownat(
                    d.as_fd(),
                    OsStr::from_bytes(entry?.as_bytes()),
                    uid,
                    gid,
                    rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
                )?,
                None => rustix::fs::chownat(upper.root.as_fd(), "", uid, gid, rustix::fs::AtFlags::EMPTY_PATH)?,
            }
        }
        let ids_changed = uid.is_some() || gid.is_some();
        if let Some(mut mode) = mode {
            // A non-root caller outside the file's group cannot keep its
            // set-gid bit (the kernel leaves this to us).
            if caller.uid != 0 && mode & 0o2000 != 0 && !node.is_dir {
                let st = upper.stat(&path)?;
                if !caller.in_group(st.st_gid) {
                    mode &= !0o2000;
                }
            }
            if let Some(d) = dir.as_ref().filter(|_| self.overrides && !node.is_dir) {
                self.chmod_entry(d, entry?, mode, ids_changed)?;
            } else if self.overrides {
                self.owner_mode_fd(upper.held_dir(&path)?.as_fd(), ids_changed, Some(mode))?;
            } else if node.is_dir || path.is_empty() {
                rustix::fs::fchmod(upper.held_dir(&path)?.as_fd(), Mode::from_raw_mode(mode & 0o7777))?;
            } else if let Some(d) = &dir {
                d.chmod(entry?, mode & 0o7777)?;
            }
        }
        if atime.is_some() || mtime.is_some() {
            let times = Timestamps {
                last_access: to_timespec(atime),
                last_modification: to_timespec(mtime),
            };
            match &dir {
                Some(d) => d.set_times(entry?, &times)?,
                None => rustix::fs::utimensat(upper.root.as_fd(), "", &times, rustix::fs::AtFlags::EMPTY_PATH)?,
            }
        }
        if self.overrides && ids_changed && mode.is_none() {
            return Ok(self.attr(ino, &self.stat_after_chown(ino)?));
        }
        Ok(self.attr(ino, &self.stat_node(ino)?))
    }

    fn rename_inner(
        &self,
        caller: Caller,
        parent: u64,
        name: &[u8],
        newparent: u64,
        newname: &[u8],
        flags: RenameFlags,
    ) -> FsResult<()> {
        let _w = self.lock_writes()?;
        let src_name = Name::new(name).map_err(|_| FsError::NAMETOOLONG)?;
        let dst_name = Name::new(newname).map_err(|_| FsError::NAMETOOLONG)?;
        if newname.starts_with(WHITEOUT_PREFIX) {
            return Err(FsError::PERM);
        }
        let (pnode, ppath) = self.node(parent)?;
        let (src_ino, src, src_st) = self.find(&pnode, &ppath, name)?.ok_or(FsError::NOENT)?;
        let (npnode, nppath) = self.node(newparent)?;
        if !npnode.is_dir {
            return Err(FsError::NOTDIR);
        }
        let dst = self.find(&npnode, &nppath, newname)?;
        if flags.contains(RenameFlags::RENAME_NOREPLACE) && dst.is_some() {
            return Err(FsError::EXIST);
        }
        if flags.contains(RenameFlags::RENAME_WHITEOUT)
            || flags.contains(RenameFlags::RENAME_EXCHANGE) && flags.contains(RenameFlags::RENAME_NOREPLACE)
        {
            return Err(FsError::INVAL);
        }
        if flags.contains(RenameFlags::RENAME_EXCHANGE) {
            let (dst_ino, dnode, dst_st) = dst.ok_or(FsError::NOENT)?;
            if dst_ino == src_ino {
                return Ok(());
            }
            if parent != newparent
                && (src.is_dir && !caller.may_write(&src_st) || dnode.is_dir && !caller.may_write(&dst_st))
            {
                return Err(FsError(rustix::io::Errno::ACCESS.raw_os_error()));
            }
            // Both names stay taken, so no whiteouts; directories with
            // content below get redirects, as for a plain rename.
            for (ino, node, merged) in [
                (src_ino, &src, join(&ppath, name)),
                (dst_ino, &dnode, join(&nppath, newname)),
            ] {
                let target = node
                    .is_dir
                    .then(|| {
                        node.merge
                            .iter()
                            .find(|(l, _)| !self.in_upper(*l))
                            .map(|(_, p)| p.clone())
                    })
                    .flatten();
                self.copy_up_metadata(ino)?;
                if let Some(target) = target {
                    self.upper()?.set_redirect(&self.upper()?.dir(&merged)?, &target)?;
                }
            }
            let (src_dir, _) = self.upper_dir(parent)?;
            let (dst_dir, _) = self.upper_dir(newparent)?;
            src_dir.rename(src_name, &dst_dir, dst_name, rustix::fs::RenameFlags::EXCHANGE)?;
            for (st, dir) in [(&src_st, &dst_dir), (&dst_st, &src_dir)] {
                if matches!(file_type(st), FileType::CharacterDevice | FileType::BlockDevice) {
                    self.note_placeholder(dir)?;
                }
            }
            self.layers[UPPER].forget_dirs();
            let mut nodes = self.nodes_write();
            nodes.rename(src_ino, (parent, name), (newparent, newname));
            nodes.rename(dst_ino, (newparent, newname), (parent, name));
            return Ok(());
        }
        if let Some((dst_ino, dnode, dst_st)) = &dst {
            if *dst_ino == src_ino {
                return Ok(());
            }
            match (is_dir(&src_st), is_dir(dst_st)) {
                (true, false) => return Err(FsError::NOTDIR),
                (false, true) => return Err(FsError::ISDIR),
                (true, true) if !self.list(dnode, &join(&nppath, newname))?.is_empty() => {
                    return Err(FsError::NOTEMPTY);
                }
                _ => {}
            }
        }
        // Moving a directory to another parent rewrites its `..`: that needs
        // write access to the directory itself.
        if src.is_dir && parent != newparent && !caller.may_write(&src_st) {
            return Err(FsError(rustix::io::Errno::ACCESS.raw_os_error()));
        }
        // A directory with content below moves as an upper directory that
        // redirects lookups in the lower layers to where that content is
        // (overlayfs's redirect_dir), instead of failing with EXDEV.
        let redirect_to = if src.is_dir {
            src.merge
                .iter()
                .find(|(l, _)| !self.in_upper(*l))
                .map(|(_, p)| p.clone())
        } else {
            None
        };
        if let Some((dst_ino, dnode, dst_st)) = &dst
            && !self.in_upper(dnode.layer)
            && self.copies_to_index(dnode, dst_st)
        {
            // A name of a hard-linked lower inode goes: the inode comes up
            // first, so that its other names count one name fewer.
            self.copy_up_metadata(*dst_ino)?;
        }
        self.copy_up_metadata(src_ino)?;
        if let Some(target) = &redirect_to {
            self.upper()?
                .set_redirect(&self.upper()?.dir(&join(&ppath, name))?, target)?;
        }
        let (src_dir, _) = self.upper_dir(parent)?;
        let (dst_dir, _) = self.upper_dir(newparent)?;
        let upper = self.upper()?;
        upper.clear_whiteout(&dst_dir, dst_name)?;
        let mut dst_below = false;
        if let Some((_, dnode, _)) = &dst {
            if dnode.layer == UPPER && dnode.is_dir {
                // Merged-empty: only whiteouts can be in it.
                dst_dir.child_dir(dst_name)?.clear()?;
            }
            let (npnode, _) = self.node(newparent)?;
            dst_below = self.exists_below(&npnode, newname)?;
        }
        src_dir.rename(src_name, &dst_dir, dst_name, rustix::fs::RenameFlags::empty())?;
        if matches!(file_type(&src_st), FileType::CharacterDevice | FileType::BlockDevice) {
            self.note_placeholder(&dst_dir)?;
        }
        if src.is_dir || dst.as_ref().is_some_and(|(_, _, st)| is_dir(st)) {
            self.layers[UPPER].forget_dirs();
        }
        if src.is_dir && dst_below && redirect_to.is_none() {
            upper.set_opaque(&dst_dir.child_dir(dst_name)?)?;
        }
        let (pnode, _) = self.node(parent)?;
        if !self.in_upper(src.layer) || self.exists_below(&pnode, name)? {
            self.write_whiteout(&src_dir, src_name)?;
        }
        let mut nodes = self.nodes_write();
        if let Some((dst_ino, _, _)) = dst {
            nodes.unlink(dst_ino, newparent, newname);
        }
        nodes.rename(src_ino, (parent, name), (newparent, newname));
        Ok(())
    }

    fn xattr_fd(&self, ino: u64, for_write: bool) -> FsResult<std::os::fd::OwnedFd> {
        if for_write {
            self.copy_up_metadata(ino)?;
        }
        let (_, layer, path) = self.object(ino)?;
        Ok(layer.root.open_path(&path)?)
    }
}

/// Tells the kernel that something changed in the mounted tree without going
/// through the mount (the daemon writing into a container's upper layer),
/// so the long cache times stay right: the entry, its node and its parent's
/// listing are dropped from the kernel's caches, and the next lookup
/// refreshes this filesystem's own view.
#[derive(Clone)]
pub struct Invalidator {
    nodes: Arc<RwLock<Nodes>>,
    notifier: Arc<Mutex<Option<fuser::Notifier>>>,
}

impl Invalidator {
    /// Connects to the mount's session (`Session::notifier`).
    pub fn attach(&self, notifier: fuser::Notifier) {
        *self.notifier.lock().unwrap_or_else(|p| p.into_inner()) = Some(notifier);
    }

    /// `path` (relative to the mount's root, `a/b`) changed.
    pub fn changed(&self, path: &[u8]) -> io::Result<()> {
        let (parent, child, name) = {
            let nodes = self.nodes.read().unwrap_or_else(|p| p.into_inner());
            let mut parent = ROOT;
            let comps: Vec<&[u8]> = path.split(|&c| c == b'/').filter(|c| !c.is_empty()).collect();
            let Some((last, dirs)) = comps.split_last() else {
                return Ok(());
            };
            for comp in dirs {
                match nodes.child(parent, comp) {
                    Some(ino) => parent = ino,
                    // The kernel knows nothing below an unknown directory.
                    None => return Ok(()),
                }
            }
            (parent, nodes.child(parent, last), last.to_vec())
        };
        let notifier = self.notifier.lock().unwrap_or_else(|p| p.into_inner());
        let Some(n) = notifier.as_ref() else { return Ok(()) };
        // ENOENT: the kernel had nothing cached; that is fine.
        let ok = |r: io::Result<()>| match r {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        };
        ok(n.inval_entry(INodeNo(parent), OsStr::from_bytes(&name)))?;
        ok(n.inval_inode(INodeNo(parent), 0, 0))?;
        if let Some(ino) = child {
            ok(n.inval_inode(INodeNo(ino), 0, 0))?;
        }
        Ok(())
    }
}

/// `find` reads ahead when a directory goes on through this many more layers.
const READ_AHEAD_MIN: usize = 8;
/// Threads (the caller's included) reading layers ahead: a cold read of a
/// small directory waits on the disk, and a virtual disk serves 4 at once
/// about twice as fast as one after another (8 do no better).
const READ_AHEAD_THREADS: usize = 4;

/// Runs `job` on every item, over `READ_AHEAD_THREADS` scoped threads when
/// there are `READ_AHEAD_MIN` items or more (else not at all: the caller's
/// own pass does them, as quick). A thread that cannot be started leaves
/// its share to the others.
fn in_parallel<T: Sync>(items: &[T], job: impl Fn(&T) + Sync) {
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

macro_rules! reply_err {
    ($reply:expr, $res:expr, $ok:expr) => {
        match $res {
            Ok(v) => $ok(v),
            Err(e) => $reply.error(fuser::Errno::from_i32(e.0)),
        }
    };
}

impl Filesystem for UnionFs {
    fn init(&mut self, _req: &Request, config: &mut KernelConfig) -> io::Result<()> {
        if self.acl && config.add_capabilities(fuser::InitFlags::FUSE_POSIX_ACL).is_err() {
            tracing::info!("the kernel offers no POSIX ACLs over FUSE");
        }
        // Symlinks and directories change only through this mount (the
        // lower layers never do), so the kernel may cache both; each change
        // we make invalidates its copy.
        let _ = config.add_capabilities(fuser::InitFlags::FUSE_CACHE_SYMLINKS);
        let _ = config.add_capabilities(fuser::InitFlags::FUSE_PARALLEL_DIROPS);
        // A listing brings its entries' attributes along (one request for a
        // directory instead of one lookup per entry); the kernel asks for
        // them when it sees lookups following a listing.
        let _ =
            config.add_capabilities(fuser::InitFlags::FUSE_DO_READDIRPLUS | fuser::InitFlags::FUSE_READDIRPLUS_AUTO);
        // Opening a directory needs nothing from us (listings are made when
        // read), so the kernel may skip OPENDIR and RELEASEDIR altogether;
        // it then caches listings as if asked to (KEEP_CACHE | CACHE_DIR).
        if config
            .add_capabilities(fuser::InitFlags::FUSE_NO_OPENDIR_SUPPORT)
            .is_ok()
        {
            *self.no_opendir.get_mut() = true;
        }
        if *self.passthrough.get_mut() {
            let offered = config.add_capabilities(fuser::InitFlags::FUSE_PASSTHROUGH).is_ok()
                && config.set_max_stack_depth(2).is_ok();
            if !offered {
                tracing::info!("the kernel offers no FUSE passthrough; serving data ourselves");
                *self.passthrough.get_mut() = false;
            }
        }
        Ok(())
    }

    fn destroy(&mut self) {
        if self.exit_on_destroy {
            std::process::exit(0);
        }
    }

    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        match self.lookup_inner(parent.0, name.as_bytes()) {
            Ok(a) => reply.entry(&self.ttl, &a, Generation(0)),
            // A miss is cached by the kernel like a hit (node id 0: a
            // negative entry) for as long: names appear only through this
            // mount, which drops the negative entry then, or are announced
            // by the `Invalidator`.
            Err(e) if e == FsError::NOENT => reply.entry(&self.ttl, &NEGATIVE_ENTRY, Generation(0)),
            Err(e) => reply.error(fuser::Errno::from_i32(e.0)),
        }
    }

    fn forget(&self, _req: &Request, ino: INodeNo, nlookup: u64) {
        self.nodes_write().forget(ino.0, nlookup);
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, fh: Option<FileHandle>, reply: ReplyAttr) {
        let res = self.getattr_inner(ino.0, fh);
        reply_err!(reply, res, |a: FileAttr| reply.attr(&self.ttl, &a));
    }

    fn setattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
        size: Option<u64>,
        atime: Option<TimeOrNow>,
        mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        let res = self.setattr_inner(
            ino.0,
            SetAttr {
                caller: Caller::of(_req),
                mode,
                uid,
                gid,
                size,
                atime,
                mtime,
                fh,
            },
        );
        reply_err!(reply, res, |a: FileAttr| reply.attr(&self.ttl, &a));
    }

    fn readlink(&self, _req: &Request, ino: INodeNo, reply: ReplyData) {
        let res = (|| -> FsResult<Vec<u8>> {
            let (_, layer, path) = self.object(ino.0)?;
            let (ppath, name) = split(&path);
            let dir = layer.dir(ppath)?;
            Ok(dir.read_link(Name::new(name).map_err(|_| FsError::INVAL)?)?)
        })();
        reply_err!(reply, res, |t: Vec<u8>| reply.data(&t));
    }

    fn mknod(&self, req: &Request, parent: INodeNo, name: &OsStr, mode: u32, umask: u32, rdev: u32, reply: ReplyEntry) {
        let res = (|| -> FsResult<FileAttr> {
            let n = name_of(name)?;
            let _w = self.lock_writes()?;
            let (dir, _) = self.prepare_new(parent.0, name.as_bytes())?;
            let kind = FileType::from_raw_mode(mode);
            let perm = mode & 0o7777 & !umask;
            let (uid, gid, _) = self.new_owner(req, &dir)?;
            let rdev = u64::from(rdev);
            let want = Override {
                uid,
                gid,
                mode: perm,
                kind,
                rdev: (rustix::fs::major(rdev), rustix::fs::minor(rdev)),
            };
            // Set-id bits come with the mode, last (and never on disk when
            // the privileges stay off it): made without them.
            let made = perm & !0o6000;
            if kind == FileType::RegularFile || self.overrides && want.disk_kind() != kind {
                dir.create_file(n, made)?;
                if kind != FileType::RegularFile {
                    // A device's placeholder.
                    override_stat::note_devices(&dir)?;
                }
            } else {
                dir.mknod(n, kind, made, rdev)?;
                if kind == FileType::CharacterDevice && rdev == 0 {
                    let (_, ppath) = self.node(parent.0)?;
                    if let Err(e) = self.upper()?.mark_real_device(&join(&ppath, name.as_bytes())) {
                        // Unmarked, it would read as a whiteout.
                        let _ = dir.unlink(n);
                        return Err(e);
                    }
                }
            }
            dir.chown(n, uid, gid)?;
            if self.overrides {
                self.set_mode_fd(dir.open_path(n.as_bytes())?, &want)?;
            } else {
                dir.chmod(n, perm)?;
            }
            self.finish_new(parent.0, name.as_bytes())
        })();
        reply_err!(reply, res, |a: FileAttr| reply.entry(&self.ttl, &a, Generation(0)));
    }

    fn mkdir(&self, req: &Request, parent: INodeNo, name: &OsStr, mode: u32, umask: u32, reply: ReplyEntry) {
        let res = (|| -> FsResult<FileAttr> {
            let n = name_of(name)?;
            let _w = self.lock_writes()?;
            let (dir, hides_below) = self.prepare_new(parent.0, name.as_bytes())?;
            let work = self.work()?;
            let tmp_bytes = self.temp_name();
            let tmp = Name::new(&tmp_bytes).map_err(|_| FsError::INVAL)?;
            let (uid, gid, setgid) = self.new_owner(req, &dir)?;
            let perm = (mode & 0o7777 & !umask) | if setgid { 0o2000 } else { 0 };
            let built = (|| -> FsResult<()> {
                work.mkdir(tmp, 0o700)?;
                let d = work.child_dir(tmp)?;
                if hides_below {
                    self.upper()?.set_opaque(&d)?;
                }
                work.chown(tmp, uid, gid)?;
                let want = Override {
                    uid,
                    gid,
                    mode: perm,
                    kind: FileType::Directory,
                    rdev: (0, 0),
                };
                self.set_mode_fd(d.as_fd(), &want)?;
                work.rename(tmp, &dir, n, rustix::fs::RenameFlags::NOREPLACE)?;
                Ok(())
            })();
            if let Err(e) = built {
                let _ = work.remove_all(tmp);
                return Err(e);
            }
            self.finish_new(parent.0, name.as_bytes())
        })();
        reply_err!(reply, res, |a: FileAttr| reply.entry(&self.ttl, &a, Generation(0)));
    }

    fn unlink(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let res = self.remove(parent.0, name.as_bytes(), false);
        reply_err!(reply, res, |_| reply.ok());
    }

    fn rmdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let res = self.remove(parent.0, name.as_bytes(), true);
        reply_err!(reply, res, |_| reply.ok());
    }

    fn symlink(&self, req: &Request, parent: INodeNo, link_name: &OsStr, target: &Path, reply: ReplyEntry) {
        let res = (|| -> FsResult<FileAttr> {
            let n = name_of(link_name)?;
            let _w = self.lock_writes()?;
            let (dir, _) = self.prepare_new(parent.0, link_name.as_bytes())?;
            dir.symlink(target.as_os_str().as_bytes(), n)?;
            let (uid, gid, _) = self.new_owner(req, &dir)?;
            dir.chown(n, uid, gid)?;
            self.finish_new(parent.0, link_name.as_bytes())
        })();
        reply_err!(reply, res, |a: FileAttr| reply.entry(&self.ttl, &a, Generation(0)));
    }

    fn rename(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        let res = self.rename_inner(
            Caller::of(_req),
            parent.0,
            name.as_bytes(),
            newparent.0,
            newname.as_bytes(),
            flags,
        );
        reply_err!(reply, res, |_| reply.ok());
    }

    fn link(&self, _req: &Request, ino: INodeNo, newparent: INodeNo, newname: &OsStr, reply: ReplyEntry) {
        let res = (|| -> FsResult<FileAttr> {
            let n = name_of(newname)?;
            let _w = self.lock_writes()?;
            self.copy_up_metadata(ino.0)?;
            let (dir, _) = self.prepare_new(newparent.0, newname.as_bytes())?;
            let (_, path) = self.node(ino.0)?;
            let (sp, sn) = split(&path);
            let sdir = self.upper()?.dir(sp)?;
            dir.link_from(&sdir, Name::new(sn).map_err(|_| FsError::INVAL)?, n)?;
            let attr = self.lookup_inner(newparent.0, newname.as_bytes())?;
            if matches!(attr.kind, FuseType::CharDevice | FuseType::BlockDevice) {
                self.note_placeholder(&dir)?;
            }
            Ok(attr)
        })();
        reply_err!(reply, res, |a: FileAttr| reply.entry(&self.ttl, &a, Generation(0)));
    }

    fn open(&self, _req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        if let Some(fh) = self.open_cached(ino.0, flags.0) {
            return reply.opened(FileHandle(fh), FopenFlags::FOPEN_KEEP_CACHE);
        }
        match self.open_inner(ino.0, flags.0) {
            Ok((fh, file, layer)) => match self.backing(ino.0, layer, &file, |f| reply.open_backing(f)) {
                Some(b) => {
                    reply.opened_passthrough(FileHandle(fh), FopenFlags::empty(), &b);
                    self.keep_backing(fh, b);
                }
                // File data, too, changes only through this mount.
                None => {
                    self.start_cached_open(ino.0, fh, true);
                    reply.opened(FileHandle(fh), FopenFlags::FOPEN_KEEP_CACHE)
                }
            },
            Err(e) => reply.error(fuser::Errno::from_i32(e.0)),
        }
    }

    fn read(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<fuser::LockOwner>,
        reply: ReplyData,
    ) {
        let res = (|| -> FsResult<Vec<u8>> {
            let f = self.file(fh)?;
            let mut buf = vec![0u8; size as usize];
            let mut done = 0;
            while done < buf.len() {
                let n = f.read_at(&mut buf[done..], offset + done as u64)?;
                if n == 0 {
                    break;
                }
                done += n;
            }
            buf.truncate(done);
            Ok(buf)
        })();
        reply_err!(reply, res, |d: Vec<u8>| reply.data(&d));
    }

    fn write(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        data: &[u8],
        _write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<fuser::LockOwner>,
        reply: ReplyWrite,
    ) {
        let res = (|| -> FsResult<u32> {
            let f = self.file(fh)?;
            f.write_all_at(data, offset)?;
            Ok(data.len() as u32)
        })();
        reply_err!(reply, res, |n: u32| reply.written(n));
    }

    fn flush(&self, _req: &Request, _ino: INodeNo, _fh: FileHandle, _lo: fuser::LockOwner, reply: ReplyEmpty) {
        // Nothing to do on close (writes are not buffered here, and locks
        // are the kernel's): ENOSYS tells the kernel to stop sending FLUSH,
        // saving a round trip on every close.
        reply.error(fuser::Errno::ENOSYS);
    }

    fn release(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<fuser::LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        let removed = self.handles().remove(&fh.0);
        if let Some(Handle::Lazy(ino, _) | Handle::File(ino, _, _)) = removed {
            self.end_cached_open(ino, fh.0);
        }
        let had_backing = self
            .backing_handles
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&fh.0);
        if had_backing.is_some() {
            drop(had_backing);
            self.backings
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .retain(|_, w| w.strong_count() > 0);
        }
        reply.ok();
    }

    fn fsync(&self, _req: &Request, _ino: INodeNo, fh: FileHandle, datasync: bool, reply: ReplyEmpty) {
        let res = (|| -> FsResult<()> {
            if self.no_fsync {
                return Ok(());
            }
            let f = self.file(fh)?;
            if datasync {
                rustix::fs::fdatasync(f.as_fd())?;
            } else {
                rustix::fs::fsync(f.as_fd())?;
            }
            Ok(())
        })();
        reply_err!(reply, res, |_| reply.ok());
    }

    fn opendir(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        if self.no_opendir.load(Ordering::Relaxed) {
            return reply.error(fuser::Errno::ENOSYS);
        }
        let res = (|| -> FsResult<u64> {
            let (node, path) = self.node(ino.0)?;
            if !node.is_dir {
                return Err(FsError::NOTDIR);
            }
            let entries = self.list(&node, &path)?;
            Ok(self.new_handle(Handle::Dir(Arc::new(entries))))
        })();
        reply_err!(reply, res, |fh: u64| reply.opened(
            FileHandle(fh),
            FopenFlags::FOPEN_CACHE_DIR | FopenFlags::FOPEN_KEEP_CACHE
        ));
    }

    fn readdir(&self, _req: &Request, ino: INodeNo, fh: FileHandle, offset: u64, mut reply: ReplyDirectory) {
        let entries = match self.dir_entries(ino.0, fh.0, offset) {
            Ok(e) => e,
            Err(e) => return reply.error(fuser::Errno::from_i32(e.0)),
        };
        let parent = self.nodes_read().get(ino.0).and_then(|n| n.parent()).unwrap_or(ROOT);
        let mut i = offset;
        loop {
            let full = match i {
                0 => reply.add(ino, 1, FuseType::Directory, "."),
                1 => reply.add(INodeNo(parent), 2, FuseType::Directory, ".."),
                _ => match entries.get((i - 2) as usize) {
                    Some(e) => reply.add(INodeNo(e.ino), i + 1, e.kind, OsStr::from_bytes(&e.name)),
                    None => break,
                },
            };
            if full {
                break;
            }
            i += 1;
        }
        self.end_of_listing(ino.0, fh.0, offset, &entries);
        reply.ok();
    }

    fn readdirplus(&self, _req: &Request, ino: INodeNo, fh: FileHandle, offset: u64, mut reply: ReplyDirectoryPlus) {
        let entries = match self.dir_entries(ino.0, fh.0, offset) {
            Ok(e) => e,
            Err(e) => return reply.error(fuser::Errno::from_i32(e.0)),
        };
        let res = (|| -> FsResult<()> {
            let (dir, dir_path) = self.node(ino.0)?;
            let parent = dir.parent().unwrap_or(ROOT);
            let dir_attr = self.attr(ino.0, &self.stat_node(ino.0)?);
            // Every entry but `.` and `..` counts as a lookup in the kernel,
            // so each one sent is remembered, and only those sent.
            let mut found: Vec<(u64, Node)> = Vec::new();
            let mut i = offset;
            loop {
                let full = match i {
                    0 => reply.add(ino, 1, ".", &self.ttl, &dir_attr, Generation(0)),
                    1 => {
                        let attr = FileAttr {
                            ino: INodeNo(parent),
                            ..dir_attr
                        };
                        reply.add(INodeNo(parent), 2, "..", &self.ttl, &attr, Generation(0))
                    }
                    _ => {
                        let Some(e) = entries.get((i - 2) as usize) else { break };
                        // An entry gone since the listing was made is skipped.
                        let Some((child, mut node, st)) = self.find(&dir, &dir_path, &e.name)? else {
                            i += 1;
                            continue;
                        };
                        let attr = self.attr(child, &st);
                        let full = reply.add(
                            INodeNo(child),
                            i + 1,
                            OsStr::from_bytes(&e.name),
                            &self.ttl,
                            &attr,
                            Generation(0),
                        );
                        if !full {
                            node.links = vec![(ino.0, e.name.clone())];
                            found.push((child, node));
                        }
                        full
                    }
                };
                if full {
                    break;
                }
                i += 1;
            }
            let mut nodes = self.nodes_write();
            for (child, node) in found {
                nodes.remember(child, node);
            }
            Ok(())
        })();
        self.end_of_listing(ino.0, fh.0, offset, &entries);
        match res {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(fuser::Errno::from_i32(e.0)),
        }
    }

    fn releasedir(&self, _req: &Request, _ino: INodeNo, fh: FileHandle, _flags: OpenFlags, reply: ReplyEmpty) {
        self.handles().remove(&fh.0);
        reply.ok();
    }

    fn fsyncdir(&self, _req: &Request, _ino: INodeNo, _fh: FileHandle, _datasync: bool, reply: ReplyEmpty) {
        reply.ok();
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        match rustix::fs::fstatvfs(self.layers[0].root.as_fd()) {
            Ok(s) => reply.statfs(
                s.f_blocks,
                s.f_bfree,
                s.f_bavail,
                s.f_files,
                s.f_ffree,
                s.f_bsize as u32,
                255,
                s.f_frsize as u32,
            ),
            Err(e) => reply.error(fuser::Errno::from_i32(e.raw_os_error())),
        }
    }

    fn setxattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        name: &OsStr,
        value: &[u8],
        flags: i32,
        _position: u32,
        reply: ReplyEmpty,
    ) {
        let res = (|| -> FsResult<()> {
            if is_internal_xattr(name.as_bytes()) {
                return Err(FsError::PERM);
            }
            let _w = self.lock_writes()?;
            let fd = self.xattr_fd(ino.0, true)?;
            let name = self.stored_xattr(name.to_str().ok_or(FsError::INVAL)?);
            sys::xattr::set(&fd, name, value, XattrFlags::from_bits_retain(flags as u32))?;
            Ok(())
        })();
        reply_err!(reply, res, |_| reply.ok());
    }

    fn getxattr(&self, _req: &Request, ino: INodeNo, name: &OsStr, size: u32, reply: ReplyXattr) {
        let res = (|| -> FsResult<Vec<u8>> {
            if is_internal_xattr(name.as_bytes()) {
                return Err(FsError::NODATA);
            }
            let attr = name.to_str().ok_or(FsError::INVAL)?;
            let (_, layer, path) = self.object(ino.0)?;
            layer.xattr(&path, attr)?.ok_or(FsError::NODATA)
        })();
        match res {
            Ok(v) if size == 0 => reply.size(v.len() as u32),
            Ok(v) if v.len() > size as usize => reply.error(fuser::Errno::ERANGE),
            Ok(v) => reply.data(&v),
            Err(e) => reply.error(fuser::Errno::from_i32(e.0)),
        }
    }

    fn listxattr(&self, _req: &Request, ino: INodeNo, size: u32, reply: ReplyXattr) {
        let res = (|| -> FsResult<Vec<u8>> {
            let (_, layer, path) = self.object(ino.0)?;
            let mut out = Vec::new();
            for n in layer.xattr_names(&path)? {
                if !is_internal_xattr(&n) {
                    out.extend_from_slice(&n);
                    out.push(0);
                }
            }
            Ok(out)
        })();
        match res {
            Ok(v) if size == 0 => reply.size(v.len() as u32),
            Ok(v) if v.len() > size as usize => reply.error(fuser::Errno::ERANGE),
            Ok(v) => reply.data(&v),
            Err(e) => reply.error(fuser::Errno::from_i32(e.0)),
        }
    }

    fn removexattr(&self, _req: &Request, ino: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let res = (|| -> FsResult<()> {
            if is_internal_xattr(name.as_bytes()) {
                return Err(FsError::NODATA);
            }
            let _w = self.lock_writes()?;
            let fd = self.xattr_fd(ino.0, true)?;
            sys::xattr::remove(&fd, self.stored_xattr(name.to_str().ok_or(FsError::INVAL)?))?;
            Ok(())
        })();
        reply_err!(reply, res, |_| reply.ok());
    }

    fn access(&self, _req: &Request, _ino: INodeNo, _mask: fuser::AccessFlags, reply: ReplyEmpty) {
        // The kernel checks permissions (default_permissions).
        reply.ok();
    }

    fn create(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        flags: i32,
        reply: ReplyCreate,
    ) {
        let res = (|| -> FsResult<(FileAttr, u64, Arc<File>)> {
            let n = name_of(name)?;
            let _w = self.lock_writes()?;
            let (dir, _) = self.prepare_new(parent.0, name.as_bytes())?;
            let wanted = mode & 0o7777 & !umask;
            // Set-id bits the disk must not hold are the override's.
            let perm = if self.overrides { wanted & !0o6000 } else { wanted };
            let keep = OFlags::ACCMODE | OFlags::APPEND | OFlags::NONBLOCK | OFlags::DSYNC | OFlags::SYNC;
            let oflags = OFlags::from_bits_retain(flags as u32) & keep;
            // Always readable by us: the kernel may read through a write-only
            // handle for its page cache.
            let file = dir.create_with(n, oflags, perm)?;
            let (uid, gid, _) = self.new_owner(req, &dir)?;
            // Owner and mode are usually right as made (the caller is the
            // daemon's user, the umask agrees): each fix is a syscall.
            let mut st = rustix::fs::fstat(&file)?;
            if (st.st_uid, st.st_gid) != (uid, gid) {
                rustix::fs::fchown(
                    &file,
                    Some(rustix::fs::Uid::from_raw(uid)),
                    Some(rustix::fs::Gid::from_raw(gid)),
                )?;
                // A chown clears set-id bits, so the mode is set after it.
                rustix::fs::fchmod(&file, Mode::from_raw_mode(perm))?;
                st = rustix::fs::fstat(&file)?;
            } else if st.st_mode & 0o7777 != perm {
                rustix::fs::fchmod(&file, Mode::from_raw_mode(perm))?;
                st = rustix::fs::fstat(&file)?;
            }
            if wanted != perm {
                let want = Override {
                    uid,
                    gid,
                    mode: wanted,
                    kind: FileType::RegularFile,
                    rdev: (0, 0),
                };
                self.set_mode_fd(&file, &want)?;
                st = rustix::fs::fstat(&file)?;
                want.apply(&mut st);
            }
            let attr = self.finish_new_file(parent.0, name.as_bytes(), &st);
            let ino = attr.ino.0;
            let file = Arc::new(file);
            Ok((attr, self.new_handle(Handle::File(ino, file.clone(), true)), file))
        })();
        match res {
            Ok((a, fh, file)) => match self.backing(a.ino.0, UPPER, &file, |f| reply.open_backing(f)) {
                Some(b) => {
                    reply.created_passthrough(&self.ttl, &a, Generation(0), FileHandle(fh), FopenFlags::empty(), &b);
                    self.keep_backing(fh, b);
                }
                None => reply.created(&self.ttl, &a, Generation(0), FileHandle(fh), FopenFlags::empty()),
            },
            Err(e) => reply.error(fuser::Errno::from_i32(e.0)),
        }
    }

    fn fallocate(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        length: u64,
        mode: i32,
        reply: ReplyEmpty,
    ) {
        let res = (|| -> FsResult<()> {
            let f = self.file(fh)?;
            rustix::fs::fallocate(
                f.as_fd(),
                rustix::fs::FallocateFlags::from_bits_retain(mode as u32),
                offset,
                length,
            )?;
            Ok(())
        })();
        reply_err!(reply, res, |_| reply.ok());
    }

    fn lseek(&self, _req: &Request, _ino: INodeNo, fh: FileHandle, offset: i64, whence: i32, reply: ReplyLseek) {
        let res = (|| -> FsResult<i64> {
            let f = self.file(fh)?;
            let pos = match whence {
                3 => rustix::fs::SeekFrom::Data(u64::try_from(offset).map_err(|_| FsError::INVAL)?),
                4 => rustix::fs::SeekFrom::Hole(u64::try_from(offset).map_err(|_| FsError::INVAL)?),
                0 => rustix::fs::SeekFrom::Start(offset as u64),
                2 => rustix::fs::SeekFrom::End(offset),
                _ => return Err(FsError::INVAL),
            };
            Ok(rustix::fs::seek(f.as_fd(), pos)? as i64)
        })();
        reply_err!(reply, res, |o: i64| reply.offset(o));
    }

    fn copy_file_range(
        &self,
        _req: &Request,
        _ino_in: INodeNo,
        fh_in: FileHandle,
        offset_in: u64,
        _ino_out: INodeNo,
        fh_out: FileHandle,
        offset_out: u64,
        len: u64,
        _flags: fuser::CopyFileRangeFlags,
        reply: ReplyWrite,
    ) {
        let res = (|| -> FsResult<u32> {
            let (a, b) = (self.file(fh_in)?, self.file(fh_out)?);
            let (mut oi, mut oo) = (offset_in, offset_out);
            let n = rustix::fs::copy_file_range(a.as_fd(), Some(&mut oi), b.as_fd(), Some(&mut oo), len as usize)?;
            Ok(n as u32)
        })();
        reply_err!(reply, res, |n: u32| reply.written(n));
    }
}

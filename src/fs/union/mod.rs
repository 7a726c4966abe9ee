//! The union filesystem: `UnionFs`, its state, and the helpers every
//! operation shares. Each operation lives in its own file beside this one;
//! `dispatch` translates FUSE calls into them.
//!
//! Layers are numbered topmost first: with an upper layer it is layer 0 and
//! the lower layers follow in `lowerdir=` order. Reads go to the layer
//! holding the visible object; every change happens in the upper layer,
//! after copying the object (and its parent directories) up atomically:
//! built in the work directory, then renamed into place. Changes are
//! serialised by one lock; lookups and reads take only the node table's
//! read lock.

mod attr; // stat to FileAttr, times, getattr
mod backings; // passthrough backings shared per inode, page-cache opens
mod create; // making way for new entries, their owner, whiteouts
mod dispatch; // impl Filesystem: FUSE calls to the operations
mod enforce; // permissions=server: each operation's permission checks
mod handles; // open files, lazy page-cache opens, passthrough backings
mod ids; // id mapping and caller checks
mod invalidator; // changes made beside the mount
mod killpriv; // FUSE_HANDLE_KILLPRIV_V2: set-id bits and capabilities cleared here
mod listing; // merged directory listings
mod lookup; // finding a name across the layers
mod merge; // the merge rule: what a name shows, what merges under it
mod origin; // origin records and metacopy data
mod permissions; // the permission rules checked by the server
mod remove; // unlink, rmdir
mod rename; // rename and exchange
pub mod requests; // counts of the requests served, by opcode
mod setattr; // size, owner, mode, times
mod xattrs; // extended attributes

use crate::fs::config::MountConfig;
use crate::fs::hardlinks::{LinkIndex, entry_name};
use crate::fs::layer::Layer;
use crate::fs::locks;
use crate::fs::nodes::{Merge, MergeList, Node, Nodes};
use crate::fs::{FsError, FsResult};
use crate::sys::{self, BeneathDir, Name};
pub(super) use attr::times_of;
use backings::Backings;
use handles::Handle;
use ids::IdMapping;
pub use invalidator::Invalidator;
use listing::DirEntry;
use std::collections::HashMap;
use std::ffi::OsStr;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Duration;

/// Proof that the caller holds the write lock (`lock_writes`): the
/// functions that change the upper layer take one, so that none can be
/// called without it.
pub(super) struct WriteGuard<'a> {
    _lock: MutexGuard<'a, ()>,
}

/// The index of the upper layer in `layers`, where the mount has one:
/// `in_upper` says whether a layer is it.
pub(super) const UPPER: usize = 0;

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
    /// `permissions=server`: checked here (see `enforce`), not by the
    /// kernel.
    server_permissions: bool,
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
    /// `FUSE_HANDLE_KILLPRIV_V2` was negotiated: set-id bits and
    /// capabilities are ours to clear (see `killpriv`).
    killpriv: bool,
    /// The mount's connection, once it is made (`Filesystem::connected`):
    /// how a change the kernel cannot see coming (a write's cleared set-id
    /// bits) reaches its attribute cache, and how passthrough backings are
    /// opened.
    channel: std::sync::OnceLock<crate::fs::fuse::Channel>,
    /// Passthrough backings and page-cache opens (see `backings`).
    backings: Backings<crate::fs::fuse::BackingId>,
    /// The kernel opens directories without asking (zero-message opendir):
    /// listings are then made at offset 0 of a `readdir` and kept here, by
    /// inode, for the calls that continue them. Bounded: cleared when full.
    no_opendir: std::sync::atomic::AtomicBool,
    dir_listings: Mutex<HashMap<u64, Arc<Vec<DirEntry>>>>,
    /// See `exit_when_unmounted`.
    exit_on_destroy: bool,
    /// What was served, by opcode (see `requests`).
    requests: Arc<requests::RequestCounts>,
    /// `request_counts=FILE`: where the counts go at unmount.
    request_counts_file: Option<std::path::PathBuf>,
}

/// The merge list of every node that is not a directory: one shared
/// allocation instead of one per file.
fn no_merge() -> MergeList {
    static EMPTY: std::sync::LazyLock<MergeList> = std::sync::LazyLock::new(|| Arc::new(Merge::default()));
    EMPTY.clone()
}

fn name_of(name: &OsStr) -> FsResult<Name<'_>> {
    Ok(Name::new(name.as_bytes())?)
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
            server_permissions: cfg.server_permissions,
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
            killpriv: false,
            channel: std::sync::OnceLock::new(),
            backings: Backings::new(),
            no_opendir: std::sync::atomic::AtomicBool::new(false),
            dir_listings: Mutex::new(HashMap::new()),
            exit_on_destroy: false,
            requests: Arc::default(),
            request_counts_file: cfg.request_counts.clone(),
        })
    }

    /// Ends the process as soon as the session ends (for `stratafs`, a
    /// process per mount). fuser 0.18's mount, dropped after the session,
    /// unmounts the mountpoint *by path* when its device reports an error
    /// (which it reads as "still mounted"), and so unmounts whatever was
    /// mounted there since: a quick remount's new mount. Exiting first
    /// leaves nothing to unmount (the kernel has already ended the mount,
    /// or the session would not have ended).
    pub fn exit_when_unmounted(&mut self) {
        self.exit_on_destroy = true;
    }

    /// The counts of the requests served so far, shared: a reader (a
    /// signal handler's thread, a test) sees them grow.
    pub fn request_counts(&self) -> Arc<requests::RequestCounts> {
        self.requests.clone()
    }

    /// Writes the counts to the `request_counts=` file, if one was named;
    /// a failure is logged, never raised (it runs at unmount).
    pub(super) fn write_request_counts(&self) {
        if let Some(path) = &self.request_counts_file
            && let Err(e) = self.requests.write_report(path)
        {
            tracing::warn!("writing the request counts to {}: {e}", path.display());
        }
    }

    pub(super) fn nodes_read(&self) -> std::sync::RwLockReadGuard<'_, Nodes> {
        locks::read(&self.nodes)
    }

    pub(super) fn nodes_write(&self) -> std::sync::RwLockWriteGuard<'_, Nodes> {
        locks::write(&self.nodes)
    }

    /// Takes the lock that serialises every change (ROFS on a read-only
    /// mount): the guard is what the functions that change the upper layer
    /// ask for.
    fn lock_writes(&self) -> FsResult<WriteGuard<'_>> {
        if self.read_only {
            return Err(FsError::ROFS);
        }
        Ok(WriteGuard {
            _lock: locks::lock(&self.write_lock),
        })
    }

    fn handles(&self) -> MutexGuard<'_, HashMap<u64, Handle>> {
        locks::lock(&self.handles)
    }

    /// A node and its current path.
    pub(super) fn node(&self, ino: u64) -> FsResult<(Node, Vec<u8>)> {
        let nodes = self.nodes_read();
        let node = nodes.get(ino).ok_or(FsError::NOENT)?.clone();
        let path = nodes.path(ino).ok_or(FsError::NOENT)?;
        Ok((node, path))
    }

    /// Whether `layer` is the upper layer: the one way to ask, as layer
    /// `UPPER` (0) is the topmost lower layer of a mount without one.
    pub(super) fn in_upper(&self, layer: usize) -> bool {
        self.has_upper && layer == UPPER
    }

    /// The topmost layer: the upper layer, or the first lower layer of a
    /// mount without one.
    fn top_layer(&self) -> &Layer {
        &self.layers[0]
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
    fn upper_dir(&self, w: &WriteGuard<'_>, ino: u64) -> FsResult<(Arc<BeneathDir>, Vec<u8>)> {
        self.copy_up(w, ino)?;
        let (node, path) = self.node(ino)?;
        if !node.is_dir {
            return Err(FsError::NOTDIR);
        }
        Ok((self.upper()?.held_dir(&path)?, path))
    }
}

//! Making way for new entries in the upper layer, their owner, their
//! entry once made, and whiteouts.

use super::WriteGuard;
use super::{UPPER, UnionFs, no_merge};
use crate::fs::layer::{Probe, WHITEOUT_PREFIX};
use crate::fs::nodes::{Node, ino_of};
use crate::fs::override_stat;
use crate::fs::{FsError, FsResult};
use crate::sys::{BeneathDir, Name};
use fuser::{FileAttr, Request};
use rustix::fs::{FileType, Stat};
use std::sync::Arc;
use std::sync::atomic::Ordering;

impl UnionFs {
    /// Writes a whiteout for `name` in the upper directory `dir`: a link to
    /// one 0/0 device kept in the work directory, as kernel overlayfs
    /// shares its whiteouts (a link costs a directory entry where a mknod
    /// costs an inode too); a whiteout of its own where linking fails.
    pub(super) fn write_whiteout(&self, _w: &WriteGuard<'_>, dir: &BeneathDir, name: Name<'_>) -> FsResult<()> {
        const SHARED: &[u8] = b"whiteout";
        let shared = Name::new(SHARED)?;
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
                    let tmp = Name::new(&tmp_bytes)?;
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

    /// Makes way for a new entry `name` in the upper directory: no object
    /// may be visible there; any whiteout is removed. Returns whether the
    /// name hid something below (a new directory must then be opaque).
    pub(super) fn prepare_new(
        &self,
        w: &WriteGuard<'_>,
        parent: u64,
        name: &[u8],
    ) -> FsResult<(Arc<BeneathDir>, bool)> {
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
            let n = Name::new(name)?;
            let hides_below = match self.layers[UPPER].probe(&upper_path, name)? {
                Probe::Present(_) => return Err(FsError::EXIST),
                Probe::Whiteout => true,
                Probe::Absent if self.exists_below(&pnode, name)? => return Err(FsError::EXIST),
                Probe::Absent => false,
            };
            let (dir, _) = self.upper_dir(w, parent)?;
            if hides_below {
                self.upper()?.clear_whiteout(&dir, n)?;
            }
            return Ok((dir, hides_below));
        }
        if self.find(&pnode, &ppath, name)?.is_some() {
            return Err(FsError::EXIST);
        }
        let (dir, _) = self.upper_dir(w, parent)?;
        let n = Name::new(name)?;
        let had_whiteout = self.upper()?.clear_whiteout(&dir, n)?;
        let (pnode, _) = self.node(parent)?;
        Ok((dir, had_whiteout || self.exists_below(&pnode, name)?))
    }

    /// Owner for a new object: the caller, with the group of a set-gid parent.
    pub(super) fn new_owner(&self, req: &Request, parent_dir: &BeneathDir) -> FsResult<(u32, u32, bool)> {
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
    pub(super) fn finish_new(&self, parent: u64, name: &[u8]) -> FsResult<FileAttr> {
        self.lookup_with(parent, name, true)
    }

    /// `finish_new` for a file just created whose status is at hand: what a
    /// lookup would find (a fresh upper file merges with nothing and has no
    /// origin) without looking again.
    pub(super) fn finish_new_file(&self, parent: u64, name: &[u8], st: &Stat) -> FileAttr {
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
}

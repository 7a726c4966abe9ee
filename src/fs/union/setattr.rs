//! `setattr`: size, owner, mode and times, on a node or on an open file of
//! an unlinked one.

use super::UnionFs;
use super::WriteGuard;
use super::attr::to_timespec;
use super::handles::Handle;
use super::ids::Caller;
use super::killpriv::Kill;
use crate::fs::layer::split;
use crate::fs::nodes::ROOT;
use crate::fs::override_stat;
use crate::fs::{FsError, FsResult};
use crate::sys::Name;
use fuser::{FileAttr, FileHandle, TimeOrNow};
use rustix::fs::{Mode, OFlags, Timestamps};
use std::ffi::OsStr;
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;
use std::sync::Arc;

/// The changes one `setattr` asks for.
#[derive(Clone, Copy)]
pub(super) struct SetAttr {
    pub(super) caller: Caller,
    pub(super) mode: Option<u32>,
    pub(super) uid: Option<u32>,
    pub(super) gid: Option<u32>,
    pub(super) size: Option<u64>,
    pub(super) atime: Option<TimeOrNow>,
    pub(super) mtime: Option<TimeOrNow>,
    pub(super) fh: Option<FileHandle>,
}

impl SetAttr {
    /// The times to set, if any (an unset one is left as it is).
    fn times(&self) -> Option<Timestamps> {
        (self.atime.is_some() || self.mtime.is_some()).then(|| Timestamps {
            last_access: to_timespec(self.atime),
            last_modification: to_timespec(self.mtime),
        })
    }
}

impl UnionFs {
    /// The owner to store for a `setattr` (None: unchanged), as the id
    /// mapping puts it on disk.
    fn on_disk_owner(&self, a: &SetAttr) -> (Option<rustix::fs::Uid>, Option<rustix::fs::Gid>) {
        (
            a.uid.map(|u| rustix::fs::Uid::from_raw(self.ids.on_disk_uid(u))),
            a.gid.map(|g| rustix::fs::Gid::from_raw(self.ids.on_disk_gid(g))),
        )
    }

    /// A `setattr` of a node with no name left: the change goes through an
    /// open file of it.
    pub(super) fn setattr_unlinked(&self, _w: &WriteGuard<'_>, ino: u64, a: &SetAttr) -> FsResult<FileAttr> {
        let file = self
            .handles()
            .iter()
            .filter(|(fh_id, _)| a.fh.is_none_or(|f| f.0 == **fh_id))
            .find_map(|(_, h)| match h {
                Handle::File {
                    ino: i,
                    file,
                    in_upper: true,
                } if *i == ino => Some(file.clone()),
                _ => None,
            })
            .ok_or(FsError::NOENT)?;
        if let Some(size) = a.size {
            rustix::fs::ftruncate(file.as_fd(), size)?;
            if self.killpriv {
                self.kill_privs(file.as_fd(), Kill::Truncate(a.caller))?;
            }
        }
        let ids_changed = a.uid.is_some() || a.gid.is_some();
        if ids_changed {
            let (uid, gid) = self.on_disk_owner(a);
            rustix::fs::fchown(file.as_fd(), uid, gid)?;
        }
        if self.overrides && (ids_changed || a.mode.is_some()) {
            self.owner_mode_fd(&*file, ids_changed, a.mode)?;
        } else if let Some(mode) = a.mode {
            rustix::fs::fchmod(file.as_fd(), Mode::from_raw_mode(mode & 0o7777))?;
        }
        if let Some(times) = a.times() {
            rustix::fs::futimens(file.as_fd(), &times)?;
        }
        let mut st = rustix::fs::fstat(file.as_fd())?;
        if self.overrides {
            override_stat::present_fd(&*file, &mut st)?;
        }
        let mut attr = self.attr(ino, &st);
        attr.nlink = 0;
        Ok(attr)
    }

    pub(super) fn setattr_inner(&self, ino: u64, a: SetAttr) -> FsResult<FileAttr> {
        let w = &self.lock_writes()?;
        if ino != ROOT && self.nodes_read().get(ino).is_none_or(|n| n.unlinked()) {
            return self.setattr_unlinked(w, ino, &a);
        }
        let SetAttr {
            caller,
            mode,
            uid,
            gid,
            size,
            fh,
            ..
        } = a;
        match size {
            // Truncating to a length that keeps data needs the data.
            Some(n) if n > 0 => self.copy_up(w, ino)?,
            _ => self.copy_up_metadata(w, ino)?,
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
        let entry = Name::new(name).map_err(FsError::from);
        if let Some(size) = size {
            let f = match fh.map(|f| self.file(f)) {
                Some(Ok(f)) if node.lower_data.is_none() => f,
                _ => Arc::new(upper.open_file(&path, OFlags::WRONLY)?),
            };
            rustix::fs::ftruncate(f.as_fd(), size)?;
            if node.lower_data.is_some() {
                self.forget_lower_data(ino, &f)?;
            }
            if self.killpriv {
                self.kill_privs(f.as_fd(), Kill::Truncate(caller))?;
            }
        }
        if uid.is_some() || gid.is_some() {
            let (uid, gid) = self.on_disk_owner(&a);
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
        let nothing = !ids_changed && mode.is_none() && size.is_none() && a.times().is_none();
        // Under v2 the kernel leaves the set-id bits of a chown to us (it
        // no longer sends the mode with it). The disk's chown cleared them
        // itself, and the capability, unless they live in an override.
        let kill = match () {
            _ if !self.killpriv || node.is_dir || path.is_empty() => None,
            _ if ids_changed && mode.is_none() && self.overrides => Some(Kill::Chown),
            _ if nothing => Some(Kill::Empty(caller)),
            _ => None,
        };
        if let Some(kill) = kill {
            self.kill_privs(upper.root.open_path(&path)?, kill)?;
        }
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
        if let Some(times) = a.times() {
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
}

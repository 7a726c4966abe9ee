//! Making way for new entries in the upper layer, their owner, their
//! entry once made, and whiteouts.

use super::WriteGuard;
use super::handles::Handle;
use super::name_of;
use super::{UPPER, UnionFs, no_merge};
use crate::fs::fuse::Header as Request;
use crate::fs::layer::{Probe, WHITEOUT_PREFIX};
use crate::fs::layer::{join, split};
use crate::fs::nodes::{Node, ino_of};
use crate::fs::override_stat;
use crate::fs::override_stat::Override;
use crate::fs::{FsError, FsResult};
use crate::sys::{BeneathDir, Name};
use fuser::FileAttr;
use fuser::FileType as FuseType;
use fuser::INodeNo;
use rustix::fs::{FileType, Stat};
use rustix::fs::{Mode, OFlags};
use std::ffi::OsStr;
use std::fs::File;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// A new entry about to be made (`begin_new`).
struct NewEntry<'a> {
    name: Name<'a>,
    /// The upper directory it goes in.
    dir: Arc<BeneathDir>,
    /// It hides something below (a new directory must be opaque).
    hides_below: bool,
    /// Held until the entry is made.
    w: WriteGuard<'a>,
}

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

    /// The start of every new entry `name` in `parent`: the name checked,
    /// the write lock taken, and way made in the upper directory
    /// (`prepare_new`).
    fn begin_new<'a>(&'a self, parent: INodeNo, name: &'a OsStr) -> FsResult<NewEntry<'a>> {
        let n = name_of(name)?;
        let w = self.lock_writes()?;
        let (dir, hides_below) = self.prepare_new(&w, parent.0, name.as_bytes())?;
        Ok(NewEntry {
            name: n,
            dir,
            hides_below,
            w,
        })
    }

    /// `mknod`: a device, fifo, socket or empty file `name` in `parent`
    /// (a device's placeholder where its privileges stay off the disk).
    pub(super) fn make_node(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        rdev: u32,
    ) -> FsResult<FileAttr> {
        let NewEntry {
            name: n, dir, w: _w, ..
        } = self.begin_new(parent, name)?;
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
    }

    /// `mkdir`: the directory is built in the work directory (opaque when
    /// it hides something below), then renamed into place.
    pub(super) fn make_dir(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
    ) -> FsResult<FileAttr> {
        let NewEntry {
            name: n,
            dir,
            hides_below,
            w: _w,
        } = self.begin_new(parent, name)?;
        let work = self.work()?;
        let tmp_bytes = self.temp_name();
        let tmp = Name::new(&tmp_bytes)?;
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
    }

    /// `symlink`: `link_name` in `parent`, pointing at `target`.
    pub(super) fn make_symlink(
        &self,
        req: &Request,
        parent: INodeNo,
        link_name: &OsStr,
        target: &Path,
    ) -> FsResult<FileAttr> {
        let NewEntry {
            name: n, dir, w: _w, ..
        } = self.begin_new(parent, link_name)?;
        dir.symlink(target.as_os_str().as_bytes(), n)?;
        let (uid, gid, _) = self.new_owner(req, &dir)?;
        dir.chown(n, uid, gid)?;
        self.finish_new(parent.0, link_name.as_bytes())
    }

    /// `link`: a new name `newname` in `newparent` for `ino`, copied up first.
    pub(super) fn make_link(&self, ino: INodeNo, newparent: INodeNo, newname: &OsStr) -> FsResult<FileAttr> {
        let n = name_of(newname)?;
        let w = &self.lock_writes()?;
        self.copy_up_metadata(w, ino.0)?;
        let (dir, _) = self.prepare_new(w, newparent.0, newname.as_bytes())?;
        let (_, path) = self.node(ino.0)?;
        let (sp, sn) = split(&path);
        let sdir = self.upper()?.dir(sp)?;
        dir.link_from(&sdir, Name::new(sn)?, n)?;
        let attr = self.lookup_inner(newparent.0, newname.as_bytes())?;
        if matches!(attr.kind, FuseType::CharDevice | FuseType::BlockDevice) {
            self.note_placeholder(&dir)?;
        }
        Ok(attr)
    }

    /// `create`: the new file `name` in `parent`, open: its entry, its
    /// handle and the file (for a passthrough backing).
    pub(super) fn create_file(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        flags: i32,
    ) -> FsResult<(FileAttr, u64, Arc<File>)> {
        let NewEntry {
            name: n, dir, w: _w, ..
        } = self.begin_new(parent, name)?;
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
        let fh = self.new_handle(Handle::File {
            ino,
            file: file.clone(),
            in_upper: true,
        });
        Ok((attr, fh, file))
    }
}

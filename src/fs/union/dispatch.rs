//! The `fuser::Filesystem` implementation: FUSE calls to the union.

use super::handles::Handle;
use super::ids::Caller;
use super::setattr::SetAttr;
use super::{UPPER, UnionFs, name_of};
use crate::fs::layer::{is_internal_xattr, join, split};
use crate::fs::nodes::{Node, ROOT};
use crate::fs::override_stat::{self, Override};
use crate::fs::{FsError, FsResult};
use crate::sys::{self, Name};
use fuser::{
    FileAttr, FileHandle, FileType as FuseType, Filesystem, FopenFlags, Generation, INodeNo, KernelConfig, OpenFlags,
    RenameFlags, ReplyAttr, ReplyCreate, ReplyData, ReplyDirectory, ReplyDirectoryPlus, ReplyEmpty, ReplyEntry,
    ReplyLseek, ReplyOpen, ReplyStatfs, ReplyWrite, ReplyXattr, Request, TimeOrNow, WriteFlags,
};
use rustix::fs::{FileType, Mode, OFlags, XattrFlags};
use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{SystemTime, UNIX_EPOCH};

/// The attributes of a negative entry: only its node id (0) matters.
pub(super) const NEGATIVE_ENTRY: FileAttr = FileAttr {
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
            Ok(dir.read_link(Name::new(name)?)?)
        })();
        reply_err!(reply, res, |t: Vec<u8>| reply.data(&t));
    }

    fn mknod(&self, req: &Request, parent: INodeNo, name: &OsStr, mode: u32, umask: u32, rdev: u32, reply: ReplyEntry) {
        let res = (|| -> FsResult<FileAttr> {
            let n = name_of(name)?;
            let w = &self.lock_writes()?;
            let (dir, _) = self.prepare_new(w, parent.0, name.as_bytes())?;
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
            let w = &self.lock_writes()?;
            let (dir, hides_below) = self.prepare_new(w, parent.0, name.as_bytes())?;
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
            let w = &self.lock_writes()?;
            let (dir, _) = self.prepare_new(w, parent.0, link_name.as_bytes())?;
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
        })();
        reply_err!(reply, res, |a: FileAttr| reply.entry(&self.ttl, &a, Generation(0)));
    }

    fn open(&self, _req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        if let Some(fh) = self.open_cached(ino.0, flags.0) {
            return reply.opened(FileHandle(fh), FopenFlags::FOPEN_KEEP_CACHE);
        }
        match self.open_inner(ino.0, flags.0) {
            Ok((fh, file, layer)) => match self.passthrough_backing(ino.0, layer, fh, &file, |f| reply.open_backing(f))
            {
                Some(b) => reply.opened_passthrough(FileHandle(fh), FopenFlags::empty(), &b),
                // File data, too, changes only through this mount.
                None => {
                    self.backings.start_cached(ino.0, fh, true);
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
        self.release_file(fh.0);
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
        match rustix::fs::fstatvfs(self.top_layer().root.as_fd()) {
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
            let w = &self.lock_writes()?;
            let fd = self.xattr_fd(w, ino.0, true)?;
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
            let w = &self.lock_writes()?;
            let fd = self.xattr_fd(w, ino.0, true)?;
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
            let w = &self.lock_writes()?;
            let (dir, _) = self.prepare_new(w, parent.0, name.as_bytes())?;
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
        })();
        match res {
            Ok((a, fh, file)) => match self.passthrough_backing(a.ino.0, UPPER, fh, &file, |f| reply.open_backing(f)) {
                Some(b) => {
                    reply.created_passthrough(&self.ttl, &a, Generation(0), FileHandle(fh), FopenFlags::empty(), &b)
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
        let res = self.seek(fh, offset, whence);
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

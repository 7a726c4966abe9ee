//! The `fuser::Filesystem` implementation: FUSE calls to the union.

use super::ids::Caller;
use super::killpriv;
use super::requests::Op;
use super::setattr::SetAttr;
use super::{UPPER, UnionFs};
use crate::fs::nodes::{Node, ROOT};
use crate::fs::{FsError, FsResult};
use fuser::{
    FileAttr, FileHandle, FileType as FuseType, Filesystem, FopenFlags, Generation, INodeNo, KernelConfig, OpenFlags,
    RenameFlags, ReplyAttr, ReplyCreate, ReplyData, ReplyDirectory, ReplyDirectoryPlus, ReplyEmpty, ReplyEntry,
    ReplyLseek, ReplyOpen, ReplyStatfs, ReplyWrite, ReplyXattr, Request, TimeOrNow, WriteFlags,
};
use std::ffi::OsStr;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

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
        // Negotiating POSIX ACLs turns the kernel's default_permissions on
        // (see `permissions`): a mount checking here keeps them off, and
        // evaluates ACLs itself.
        if self.acl && !self.server_permissions && config.add_capabilities(fuser::InitFlags::FUSE_POSIX_ACL).is_err() {
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
        // Not when listing a directory is checked here (at OPENDIR).
        if !self.server_permissions
            && config
                .add_capabilities(fuser::InitFlags::FUSE_NO_OPENDIR_SUPPORT)
                .is_ok()
        {
            *self.no_opendir.get_mut() = true;
        }
        // The kernel stops asking for `security.capability` before every
        // write (and keeping set-id bits is ours): see `killpriv`.
        self.killpriv = config
            .add_capabilities(fuser::InitFlags::FUSE_HANDLE_KILLPRIV_V2)
            .is_ok();
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
        self.write_request_counts();
        if self.exit_on_destroy {
            std::process::exit(0);
        }
    }

    fn lookup(&self, req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        self.requests.count(Op::Lookup);
        let ttl = match self.lookup_ttl(Caller::of(req), parent.0) {
            Ok(ttl) => ttl,
            Err(e) => return reply.error(fuser::Errno::from_i32(e.0)),
        };
        match self.lookup_inner(parent.0, name.as_bytes()) {
            Ok(a) => reply.entry_with_ttls(&self.ttl, &ttl, &a, Generation(0)),
            // A miss is cached by the kernel like a hit (node id 0: a
            // negative entry) for as long: names appear only through this
            // mount, which drops the negative entry then, or are announced
            // by the `Invalidator`.
            Err(e) if e == FsError::NOENT => reply.entry_with_ttls(&self.ttl, &ttl, &NEGATIVE_ENTRY, Generation(0)),
            Err(e) => reply.error(fuser::Errno::from_i32(e.0)),
        }
    }

    fn forget(&self, _req: &Request, ino: INodeNo, nlookup: u64) {
        self.requests.count(Op::Forget);
        self.nodes_write().forget(ino.0, nlookup);
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, fh: Option<FileHandle>, reply: ReplyAttr) {
        self.requests.count(Op::Getattr);
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
        self.requests.count(Op::Setattr);
        let mut change = SetAttr {
            caller: Caller::of(_req),
            mode,
            uid,
            gid,
            size,
            atime,
            mtime,
            fh,
        };
        // Who may search a directory changes only with its owner or mode.
        let dir_ttl = match mode.is_some() || uid.is_some() || gid.is_some() {
            true => self.entry_ttl(ino.0).unwrap_or_default(),
            false => Duration::ZERO,
        };
        let res = self
            .permit_setattr(ino.0, &mut change)
            .and_then(|_| self.setattr_inner(ino.0, change));
        if res.as_ref().is_ok_and(|a| a.kind == FuseType::Directory) {
            self.after_dir_change(ino.0, dir_ttl);
        }
        reply_err!(reply, res, |a: FileAttr| reply.attr(&self.ttl, &a));
    }

    fn readlink(&self, _req: &Request, ino: INodeNo, reply: ReplyData) {
        self.requests.count(Op::Readlink);
        let res = self.read_link(ino);
        reply_err!(reply, res, |t: Vec<u8>| reply.data(&t));
    }

    fn mknod(&self, req: &Request, parent: INodeNo, name: &OsStr, mode: u32, umask: u32, rdev: u32, reply: ReplyEntry) {
        self.requests.count(Op::Mknod);
        let res = self
            .new_entry_ttl(req, parent)
            .and_then(|ttl| Ok((ttl, self.make_node(req, parent, name, mode, umask, rdev)?)));
        reply_err!(reply, res, |(ttl, a): (Duration, FileAttr)| reply.entry_with_ttls(
            &self.ttl,
            &ttl,
            &a,
            Generation(0)
        ));
    }

    fn mkdir(&self, req: &Request, parent: INodeNo, name: &OsStr, mode: u32, umask: u32, reply: ReplyEntry) {
        self.requests.count(Op::Mkdir);
        let res = self
            .new_entry_ttl(req, parent)
            .and_then(|ttl| Ok((ttl, self.make_dir(req, parent, name, mode, umask)?)));
        reply_err!(reply, res, |(ttl, a): (Duration, FileAttr)| reply.entry_with_ttls(
            &self.ttl,
            &ttl,
            &a,
            Generation(0)
        ));
    }

    fn unlink(&self, req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        self.requests.count(Op::Unlink);
        let res = self
            .permit_remove(Caller::of(req), parent.0, name.as_bytes())
            .and_then(|_| self.remove(parent.0, name.as_bytes(), false));
        reply_err!(reply, res, |_| reply.ok());
    }

    fn rmdir(&self, req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        self.requests.count(Op::Rmdir);
        let res = self
            .permit_remove(Caller::of(req), parent.0, name.as_bytes())
            .and_then(|_| self.remove(parent.0, name.as_bytes(), true));
        reply_err!(reply, res, |_| reply.ok());
    }

    fn symlink(&self, req: &Request, parent: INodeNo, link_name: &OsStr, target: &Path, reply: ReplyEntry) {
        self.requests.count(Op::Symlink);
        let res = self
            .new_entry_ttl(req, parent)
            .and_then(|ttl| Ok((ttl, self.make_symlink(req, parent, link_name, target)?)));
        reply_err!(reply, res, |(ttl, a): (Duration, FileAttr)| reply.entry_with_ttls(
            &self.ttl,
            &ttl,
            &a,
            Generation(0)
        ));
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
        self.requests.count(Op::Rename);
        let from = (parent.0, name.as_bytes());
        let to = (newparent.0, newname.as_bytes());
        let res = self
            .permit_rename(Caller::of(_req), from, to)
            .and_then(|_| self.rename_inner(Caller::of(_req), from, to, flags));
        if res.is_ok() {
            self.after_move(to.0, to.1);
        }
        reply_err!(reply, res, |_| reply.ok());
    }

    fn link(&self, req: &Request, ino: INodeNo, newparent: INodeNo, newname: &OsStr, reply: ReplyEntry) {
        self.requests.count(Op::Link);
        let res = self
            .new_entry_ttl(req, newparent)
            .and_then(|ttl| Ok((ttl, self.make_link(ino, newparent, newname)?)));
        reply_err!(reply, res, |(ttl, a): (Duration, FileAttr)| reply.entry_with_ttls(
            &self.ttl,
            &ttl,
            &a,
            Generation(0)
        ));
    }

    fn open(&self, req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        self.requests.count(Op::Open);
        if let Err(e) = self.permit_open(Caller::of(req), ino.0, flags.0) {
            return reply.error(fuser::Errno::from_i32(e.0));
        }
        if let Some(fh) = self.open_cached(ino.0, flags.0) {
            return reply.opened(FileHandle(fh), FopenFlags::FOPEN_KEEP_CACHE);
        }
        match self.open_inner(ino.0, flags.0) {
            // Its writes must reach us, to clear what they take away: not
            // passthrough, nor cached (either may share the inode with
            // passthrough opens; direct I/O opens never conflict).
            Ok((fh, file, _)) if self.write_must_reach_us(flags.0, &file) => {
                reply.opened(FileHandle(fh), FopenFlags::FOPEN_DIRECT_IO)
            }
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
        self.requests.count(Op::Read);
        let res = self.read_data(fh, offset, size);
        reply_err!(reply, res, |d: Vec<u8>| reply.data(&d));
    }

    fn write(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        data: &[u8],
        _write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<fuser::LockOwner>,
        reply: ReplyWrite,
    ) {
        self.requests.count(Op::Write);
        let res = self.write_data(ino.0, fh, offset, data, _write_flags);
        reply_err!(reply, res, |n: u32| reply.written(n));
    }

    fn flush(&self, _req: &Request, _ino: INodeNo, _fh: FileHandle, _lo: fuser::LockOwner, reply: ReplyEmpty) {
        self.requests.count(Op::Flush);
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
        self.requests.count(Op::Release);
        self.release_file(fh.0);
        reply.ok();
    }

    fn fsync(&self, _req: &Request, _ino: INodeNo, fh: FileHandle, datasync: bool, reply: ReplyEmpty) {
        self.requests.count(Op::Fsync);
        let res = self.sync_file(fh, datasync);
        reply_err!(reply, res, |_| reply.ok());
    }

    fn opendir(&self, req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        self.requests.count(Op::Opendir);
        if self.no_opendir.load(Ordering::Relaxed) {
            return reply.error(fuser::Errno::ENOSYS);
        }
        let res = self
            .permit_list(Caller::of(req), ino.0)
            .and_then(|_| self.open_dir(ino));
        reply_err!(reply, res, |fh: u64| reply.opened(
            FileHandle(fh),
            FopenFlags::FOPEN_CACHE_DIR | FopenFlags::FOPEN_KEEP_CACHE
        ));
    }

    fn readdir(&self, _req: &Request, ino: INodeNo, fh: FileHandle, offset: u64, mut reply: ReplyDirectory) {
        self.requests.count(Op::Readdir);
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
        self.requests.count(Op::Readdirplus);
        let entries = match self.dir_entries(ino.0, fh.0, offset) {
            Ok(e) => e,
            Err(e) => return reply.error(fuser::Errno::from_i32(e.0)),
        };
        let res = (|| -> FsResult<()> {
            let (dir, dir_path) = self.node(ino.0)?;
            let parent = dir.parent().unwrap_or(ROOT);
            let dir_attr = self.attr(ino.0, &self.stat_node(ino.0)?);
            let ttl = self.entry_ttl(ino.0)?;
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
                            &ttl,
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
        self.requests.count(Op::Releasedir);
        self.handles().remove(&fh.0);
        reply.ok();
    }

    fn fsyncdir(&self, _req: &Request, _ino: INodeNo, _fh: FileHandle, _datasync: bool, reply: ReplyEmpty) {
        self.requests.count(Op::Fsyncdir);
        reply.ok();
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        self.requests.count(Op::Statfs);
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
        req: &Request,
        ino: INodeNo,
        name: &OsStr,
        value: &[u8],
        flags: i32,
        _position: u32,
        reply: ReplyEmpty,
    ) {
        self.requests.count(Op::Setxattr);
        let acl_change = self.checks_permissions() && name.as_bytes() == b"system.posix_acl_access";
        let dir_ttl = match acl_change {
            true => self.entry_ttl(ino.0).unwrap_or_default(),
            false => Duration::ZERO,
        };
        let res = self
            .permit_xattr(Caller::of(req), ino.0, name.as_bytes(), true)
            .and_then(|_| self.set_xattr(ino, name, value, flags));
        if res.is_ok() && acl_change {
            // The upper filesystem changed the mode with the ACL.
            self.mode_changed(ino.0);
            self.after_dir_change(ino.0, dir_ttl);
        }
        reply_err!(reply, res, |_| reply.ok());
    }

    fn getxattr(&self, req: &Request, ino: INodeNo, name: &OsStr, size: u32, reply: ReplyXattr) {
        self.requests.count(Op::Getxattr);
        let res = self
            .permit_xattr(Caller::of(req), ino.0, name.as_bytes(), false)
            .and_then(|_| self.get_xattr(ino, name));
        match res {
            Ok(v) if size == 0 => reply.size(v.len() as u32),
            Ok(v) if v.len() > size as usize => reply.error(fuser::Errno::ERANGE),
            Ok(v) => reply.data(&v),
            Err(e) => reply.error(fuser::Errno::from_i32(e.0)),
        }
    }

    fn listxattr(&self, _req: &Request, ino: INodeNo, size: u32, reply: ReplyXattr) {
        self.requests.count(Op::Listxattr);
        let res = self.list_xattrs(ino);
        match res {
            Ok(v) if size == 0 => reply.size(v.len() as u32),
            Ok(v) if v.len() > size as usize => reply.error(fuser::Errno::ERANGE),
            Ok(v) => reply.data(&v),
            Err(e) => reply.error(fuser::Errno::from_i32(e.0)),
        }
    }

    fn removexattr(&self, req: &Request, ino: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        self.requests.count(Op::Removexattr);
        let res = self
            .permit_xattr(Caller::of(req), ino.0, name.as_bytes(), true)
            .and_then(|_| self.remove_xattr(ino, name));
        reply_err!(reply, res, |_| reply.ok());
    }

    fn access(&self, req: &Request, ino: INodeNo, mask: fuser::AccessFlags, reply: ReplyEmpty) {
        self.requests.count(Op::Access);
        // With default_permissions the kernel has checked (and sends none).
        let res = self.permit_access(Caller::of(req), ino.0, mask.bits() as u32);
        reply_err!(reply, res, |_| reply.ok());
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
        self.requests.count(Op::Create);
        let res = self
            .new_entry_ttl(req, parent)
            .and_then(|ttl| Ok((ttl, self.create_file(req, parent, name, mode, umask, flags)?)));
        match res {
            // As in `open`: writes to a set-id file must reach us.
            Ok((ttl, (a, fh, _))) if self.killpriv && killpriv::mode_is_privileged(mode & !umask) => {
                reply.created(&ttl, &a, Generation(0), FileHandle(fh), FopenFlags::FOPEN_DIRECT_IO)
            }
            Ok((ttl, (a, fh, file))) => match self
                .passthrough_backing(a.ino.0, UPPER, fh, &file, |f| reply.open_backing(f))
            {
                Some(b) => reply.created_passthrough(&ttl, &a, Generation(0), FileHandle(fh), FopenFlags::empty(), &b),
                None => reply.created(&ttl, &a, Generation(0), FileHandle(fh), FopenFlags::empty()),
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
        self.requests.count(Op::Fallocate);
        let res = self.allocate(fh, offset, length, mode);
        reply_err!(reply, res, |_| reply.ok());
    }

    fn lseek(&self, _req: &Request, _ino: INodeNo, fh: FileHandle, offset: i64, whence: i32, reply: ReplyLseek) {
        self.requests.count(Op::Lseek);
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
        self.requests.count(Op::CopyFileRange);
        let res = self.copy_range(fh_in, offset_in, fh_out, offset_out, len);
        reply_err!(reply, res, |n: u32| reply.written(n));
    }
}

//! The union served over our own FUSE loop (`crate::fs::fuse`): INIT's
//! asks, and a `match` over the decoded requests calling the handlers.

use super::ids::Caller;
use super::killpriv;
use super::requests::Op;
use super::setattr::SetAttr;
use super::{UPPER, UnionFs};
use crate::fs::fuse::abi::{self, init};
use crate::fs::fuse::reply::system_time;
use crate::fs::fuse::{Channel, Filesystem, Header, Init, Operation, Reply, Request};
use crate::fs::nodes::{Node, ROOT};
use crate::fs::{FsError, FsResult};
use fuser::{FileAttr, FileHandle, FileType as FuseType, INodeNo, RenameFlags, TimeOrNow, WriteFlags};
use std::ffi::OsStr;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::{Duration, UNIX_EPOCH};

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

fn os(name: &[u8]) -> &OsStr {
    OsStr::from_bytes(name)
}

/// `res` as the reply: `ok` with its value, or its errno.
fn answer<T>(reply: &mut Reply, res: FsResult<T>, ok: impl FnOnce(&mut Reply, T)) {
    match res {
        Ok(v) => ok(reply, v),
        Err(e) => reply.error(e.0),
    }
}

impl Filesystem for UnionFs {
    fn init(&mut self, kernel: &mut Init) -> io::Result<()> {
        // Negotiating POSIX ACLs turns the kernel's default_permissions on
        // (see `permissions`): a mount checking here keeps them off, and
        // evaluates ACLs itself.
        if self.acl && !self.server_permissions && !kernel.add(init::POSIX_ACL) {
            tracing::info!("the kernel offers no POSIX ACLs over FUSE");
        }
        // Symlinks and directories change only through this mount (the
        // lower layers never do), so the kernel may cache both; each change
        // we make invalidates its copy.
        kernel.add(init::CACHE_SYMLINKS);
        kernel.add(init::PARALLEL_DIROPS);
        // A listing brings its entries' attributes along (one request for a
        // directory instead of one lookup per entry); the kernel asks for
        // them when it sees lookups following a listing.
        kernel.add(init::DO_READDIRPLUS | init::READDIRPLUS_AUTO);
        // Opening a directory needs nothing from us (listings are made when
        // read), so the kernel may skip OPENDIR and RELEASEDIR altogether;
        // it then caches listings as if asked to (KEEP_CACHE | CACHE_DIR).
        // Not when listing a directory is checked here (at OPENDIR).
        if !self.server_permissions && kernel.add(init::NO_OPENDIR_SUPPORT) {
            *self.no_opendir.get_mut() = true;
        }
        // The kernel stops asking for `security.capability` before every
        // write (and keeping set-id bits is ours): see `killpriv`.
        self.killpriv = kernel.add(init::HANDLE_KILLPRIV_V2);
        if *self.passthrough.get_mut() {
            let offered = kernel.offers(init::PASSTHROUGH) && kernel.set_max_stack_depth(2);
            if offered {
                kernel.add(init::PASSTHROUGH);
            } else {
                tracing::info!("the kernel offers no FUSE passthrough; serving data ourselves");
                *self.passthrough.get_mut() = false;
            }
        }
        self.requests.count(Op::Init);
        Ok(())
    }

    fn over_ring(&self) {
        self.requests.count_over_ring();
    }

    fn connected(&self, channel: &Channel) {
        let _ = self.channel.set(channel.clone());
    }

    fn destroy(&self) {
        self.write_request_counts();
        if self.exit_on_destroy {
            std::process::exit(0);
        }
    }

    fn serve(&self, req: &Request<'_>, reply: &mut Reply) {
        let h = &req.header;
        let ino = h.nodeid;
        match &req.op {
            Operation::Lookup { name } => self.do_lookup(h, name, reply),
            Operation::Forget { nlookup } => {
                self.requests.count(Op::Forget);
                self.nodes_write().forget(ino, *nlookup);
                reply.none();
            }
            Operation::BatchForget { nodes } => {
                // One message, one count, one lock for all its nodes.
                self.requests.count(Op::BatchForget);
                let mut all = self.nodes_write();
                for n in nodes {
                    all.forget(n.nodeid, n.nlookup);
                }
                reply.none();
            }
            Operation::Getattr { fh } => {
                self.requests.count(Op::Getattr);
                let res = self.getattr_inner(ino, fh.map(FileHandle));
                answer(reply, res, |r, a| r.attr(self.ttl, &a));
            }
            Operation::Setattr(arg) => self.do_setattr(h, arg, reply),
            Operation::Readlink => {
                self.requests.count(Op::Readlink);
                answer(reply, self.read_link(INodeNo(ino)), |r, t| r.data(&t));
            }
            Operation::Symlink { name, target } => {
                self.requests.count(Op::Symlink);
                let res = self.new_entry_ttl(h, INodeNo(ino)).and_then(|ttl| {
                    let target = Path::new(os(target));
                    Ok((ttl, self.make_symlink(h, INodeNo(ino), os(name), target)?))
                });
                self.reply_entry(reply, res);
            }
            Operation::Mknod { arg, name } => {
                self.requests.count(Op::Mknod);
                let res = self.new_entry_ttl(h, INodeNo(ino)).and_then(|ttl| {
                    Ok((
                        ttl,
                        self.make_node(h, INodeNo(ino), os(name), arg.mode, arg.umask, arg.rdev)?,
                    ))
                });
                self.reply_entry(reply, res);
            }
            Operation::Mkdir { arg, name } => {
                self.requests.count(Op::Mkdir);
                let res = self
                    .new_entry_ttl(h, INodeNo(ino))
                    .and_then(|ttl| Ok((ttl, self.make_dir(h, INodeNo(ino), os(name), arg.mode, arg.umask)?)));
                self.reply_entry(reply, res);
            }
            Operation::Unlink { name } => self.do_remove(h, name, false, reply),
            Operation::Rmdir { name } => self.do_remove(h, name, true, reply),
            Operation::Rename {
                name,
                newdir,
                newname,
                flags,
            } => self.do_rename(h, (ino, name), (*newdir, newname), *flags, reply),
            Operation::Link { oldnodeid, newname } => {
                self.requests.count(Op::Link);
                let res = self
                    .new_entry_ttl(h, INodeNo(ino))
                    .and_then(|ttl| Ok((ttl, self.make_link(INodeNo(*oldnodeid), INodeNo(ino), os(newname))?)));
                self.reply_entry(reply, res);
            }
            Operation::Statfs => self.do_statfs(reply),
            Operation::Setxattr { arg, name, value } => self.do_setxattr(h, name, value, arg.flags as i32, reply),
            Operation::Getxattr { size, name } => {
                self.requests.count(Op::Getxattr);
                let res = self
                    .permit_xattr(Caller::of(h), ino, name, false)
                    .and_then(|_| self.get_xattr(INodeNo(ino), os(name)));
                reply_xattr(reply, res, *size);
            }
            Operation::Listxattr { size } => {
                self.requests.count(Op::Listxattr);
                reply_xattr(reply, self.list_xattrs(INodeNo(ino)), *size);
            }
            Operation::Removexattr { name } => {
                self.requests.count(Op::Removexattr);
                let res = self
                    .permit_xattr(Caller::of(h), ino, name, true)
                    .and_then(|_| self.remove_xattr(INodeNo(ino), os(name)));
                answer(reply, res, |r, _| r.ok());
            }
            Operation::Access { mask } => {
                self.requests.count(Op::Access);
                // With default_permissions the kernel has checked (and sends none).
                let res = self.permit_access(Caller::of(h), ino, *mask);
                answer(reply, res, |r, _| r.ok());
            }
            Operation::Create { arg, name } => self.do_create(h, arg, name, reply),
            _ => self.serve_handles(req, reply),
        }
    }
}

impl UnionFs {
    /// The requests on open files and directories, and those the session
    /// has no handler for.
    fn serve_handles(&self, req: &Request<'_>, reply: &mut Reply) {
        let h = &req.header;
        let ino = h.nodeid;
        match &req.op {
            Operation::Open { flags } => self.do_open(h, *flags as i32, reply),
            Operation::Read(arg) => {
                self.requests.count(Op::Read);
                let res = self.read_data(FileHandle(arg.fh), arg.offset, arg.size);
                answer(reply, res, |r, d| r.data(&d));
            }
            Operation::Write { arg, data } => {
                self.requests.count(Op::Write);
                let flags = WriteFlags::from_bits_retain(arg.write_flags);
                let res = self.write_data(ino, FileHandle(arg.fh), arg.offset, data, flags);
                answer(reply, res, |r, n| r.written(n));
            }
            Operation::Release(arg) => {
                self.requests.count(Op::Release);
                self.release_file(arg.fh);
                reply.ok();
            }
            Operation::Fsync(arg) => {
                self.requests.count(Op::Fsync);
                let res = self.sync_file(FileHandle(arg.fh), arg.fsync_flags & 1 != 0);
                answer(reply, res, |r, _| r.ok());
            }
            Operation::Flush(_) => {
                self.requests.count(Op::Flush);
                // Nothing to do on close (writes are not buffered here, and
                // locks are the kernel's): ENOSYS tells the kernel to stop
                // sending FLUSH, saving a round trip on every close.
                reply.error(libc::ENOSYS);
            }
            Operation::Opendir { .. } => self.do_opendir(h, reply),
            Operation::Readdir(arg) => self.do_readdir(ino, arg, reply),
            Operation::Readdirplus(arg) => self.do_readdirplus(ino, arg, reply),
            Operation::Releasedir(arg) => {
                self.requests.count(Op::Releasedir);
                self.handles().remove(&arg.fh);
                reply.ok();
            }
            Operation::Fsyncdir(_) => {
                self.requests.count(Op::Fsyncdir);
                reply.ok();
            }
            Operation::Fallocate(arg) => {
                self.requests.count(Op::Fallocate);
                let res = self.allocate(FileHandle(arg.fh), arg.offset, arg.length, arg.mode as i32);
                answer(reply, res, |r, _| r.ok());
            }
            Operation::Lseek(arg) => {
                self.requests.count(Op::Lseek);
                let res = self.seek(FileHandle(arg.fh), arg.offset as i64, arg.whence as i32);
                answer(reply, res, |r, o| r.offset(o));
            }
            Operation::CopyFileRange(arg) => {
                self.requests.count(Op::CopyFileRange);
                let res = self.copy_range(
                    FileHandle(arg.fh_in),
                    arg.off_in,
                    FileHandle(arg.fh_out),
                    arg.off_out,
                    arg.len,
                );
                answer(reply, res, |r, n| r.written(n));
            }
            Operation::Interrupt { .. } => {
                // Not acted on (as fuser): ENOSYS, and the kernel sends no more.
                self.requests.count(Op::Interrupt);
                reply.error(libc::ENOSYS);
            }
            Operation::Destroy => {
                self.requests.count(Op::Destroy);
                reply.ok();
            }
            // INIT was answered at the mount.
            Operation::Init { .. } => reply.error(libc::EIO),
            Operation::Unknown => reply.error(libc::ENOSYS),
            _ => reply.error(libc::ENOSYS),
        }
    }
}

/// A GETXATTR or LISTXATTR reply: the size when asked for it (`size` 0),
/// ERANGE when the value is longer than `size`, else the value.
fn reply_xattr(reply: &mut Reply, res: FsResult<Vec<u8>>, size: u32) {
    match res {
        Ok(v) if size == 0 => reply.xattr_size(v.len() as u32),
        Ok(v) if v.len() > size as usize => reply.error(libc::ERANGE),
        Ok(v) => reply.data(&v),
        Err(e) => reply.error(e.0),
    }
}

impl UnionFs {
    /// An entry made (MKNOD, MKDIR, SYMLINK, LINK), valid for `ttl`.
    fn reply_entry(&self, reply: &mut Reply, res: FsResult<(Duration, FileAttr)>) {
        answer(reply, res, |r, (ttl, a)| r.entry(self.ttl, ttl, &a));
    }

    fn do_lookup(&self, h: &Header, name: &[u8], reply: &mut Reply) {
        self.requests.count(Op::Lookup);
        let ttl = match self.lookup_ttl(Caller::of(h), h.nodeid) {
            Ok(ttl) => ttl,
            Err(e) => return reply.error(e.0),
        };
        match self.lookup_inner(h.nodeid, name) {
            Ok(a) => reply.entry(self.ttl, ttl, &a),
            // A miss is cached by the kernel like a hit (node id 0: a
            // negative entry) for as long: names appear only through this
            // mount, which drops the negative entry then, or are announced
            // by the `Invalidator`.
            Err(e) if e == FsError::NOENT => reply.entry(self.ttl, ttl, &NEGATIVE_ENTRY),
            Err(e) => reply.error(e.0),
        }
    }

    fn do_setattr(&self, h: &Header, arg: &abi::SetattrIn, reply: &mut Reply) {
        self.requests.count(Op::Setattr);
        let valid = |bit: u32| arg.valid & bit != 0;
        let time = |set: u32, now: u32, secs: u64, nsecs: u32| {
            valid(set).then(|| match valid(now) {
                true => TimeOrNow::Now,
                false => TimeOrNow::SpecificTime(system_time(secs as i64, nsecs)),
            })
        };
        let mode = valid(abi::FATTR_MODE).then_some(arg.mode);
        let uid = valid(abi::FATTR_UID).then_some(arg.uid);
        let gid = valid(abi::FATTR_GID).then_some(arg.gid);
        let mut change = SetAttr {
            caller: Caller::of(h),
            mode,
            uid,
            gid,
            size: valid(abi::FATTR_SIZE).then_some(arg.size),
            atime: time(abi::FATTR_ATIME, abi::FATTR_ATIME_NOW, arg.atime, arg.atimensec),
            mtime: time(abi::FATTR_MTIME, abi::FATTR_MTIME_NOW, arg.mtime, arg.mtimensec),
            fh: valid(abi::FATTR_FH).then_some(FileHandle(arg.fh)),
        };
        let ino = h.nodeid;
        // Who may search a directory changes only with its owner or mode.
        let dir_ttl = match mode.is_some() || uid.is_some() || gid.is_some() {
            true => self.entry_ttl(ino).unwrap_or_default(),
            false => Duration::ZERO,
        };
        let res = self
            .permit_setattr(ino, &mut change)
            .and_then(|_| self.setattr_inner(ino, change));
        if res.as_ref().is_ok_and(|a| a.kind == FuseType::Directory) {
            self.after_dir_change(ino, dir_ttl);
        }
        answer(reply, res, |r, a| r.attr(self.ttl, &a));
    }

    fn do_remove(&self, h: &Header, name: &[u8], dir: bool, reply: &mut Reply) {
        self.requests.count(if dir { Op::Rmdir } else { Op::Unlink });
        let res = self
            .permit_remove(Caller::of(h), h.nodeid, name)
            .and_then(|_| self.remove(h.nodeid, name, dir));
        answer(reply, res, |r, _| r.ok());
    }

    fn do_rename(&self, h: &Header, from: (u64, &[u8]), to: (u64, &[u8]), flags: u32, reply: &mut Reply) {
        self.requests.count(Op::Rename);
        let flags = RenameFlags::from_bits_retain(flags);
        let res = self
            .permit_rename(Caller::of(h), from, to)
            .and_then(|_| self.rename_inner(Caller::of(h), from, to, flags));
        if res.is_ok() {
            self.after_move(to.0, to.1);
        }
        answer(reply, res, |r, _| r.ok());
    }

    /// A passthrough backing of `file` on the mount's connection.
    fn open_backing(&self, file: &std::fs::File) -> io::Result<crate::fs::fuse::BackingId> {
        match self.channel.get() {
            Some(c) => c.open_backing(file),
            None => Err(io::Error::from(io::ErrorKind::NotConnected)),
        }
    }

    fn do_open(&self, h: &Header, flags: i32, reply: &mut Reply) {
        self.requests.count(Op::Open);
        let ino = h.nodeid;
        if let Err(e) = self.permit_open(Caller::of(h), ino, flags) {
            return reply.error(e.0);
        }
        if let Some(fh) = self.open_cached(ino, flags) {
            return reply.opened(fh, abi::FOPEN_KEEP_CACHE, None);
        }
        match self.open_inner(ino, flags) {
            // Its writes must reach us, to clear what they take away: not
            // passthrough, nor cached (either may share the inode with
            // passthrough opens; direct I/O opens never conflict).
            Ok((fh, file, _)) if self.write_must_reach_us(flags, &file) => reply.opened(fh, abi::FOPEN_DIRECT_IO, None),
            Ok((fh, file, layer)) => match self.passthrough_backing(ino, layer, fh, &file, |f| self.open_backing(f)) {
                Some(b) => reply.opened(fh, 0, Some(b.id())),
                // File data, too, changes only through this mount.
                None => {
                    self.backings.start_cached(ino, fh, true);
                    reply.opened(fh, abi::FOPEN_KEEP_CACHE, None)
                }
            },
            Err(e) => reply.error(e.0),
        }
    }

    fn do_create(&self, h: &Header, arg: &abi::CreateIn, name: &[u8], reply: &mut Reply) {
        self.requests.count(Op::Create);
        let parent = INodeNo(h.nodeid);
        let (mode, umask) = (arg.mode, arg.umask);
        let res = self.new_entry_ttl(h, parent).and_then(|ttl| {
            Ok((
                ttl,
                self.create_file(h, parent, os(name), mode, umask, arg.flags as i32)?,
            ))
        });
        match res {
            // As in `open`: writes to a set-id file must reach us.
            Ok((ttl, (a, fh, _))) if self.killpriv && killpriv::mode_is_privileged(mode & !umask) => {
                reply.created(ttl, &a, fh, abi::FOPEN_DIRECT_IO, None)
            }
            Ok((ttl, (a, fh, file))) => {
                match self.passthrough_backing(a.ino.0, UPPER, fh, &file, |f| self.open_backing(f)) {
                    Some(b) => reply.created(ttl, &a, fh, 0, Some(b.id())),
                    None => reply.created(ttl, &a, fh, 0, None),
                }
            }
            Err(e) => reply.error(e.0),
        }
    }

    fn do_statfs(&self, reply: &mut Reply) {
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
            Err(e) => reply.error(e.raw_os_error()),
        }
    }

    fn do_setxattr(&self, h: &Header, name: &[u8], value: &[u8], flags: i32, reply: &mut Reply) {
        self.requests.count(Op::Setxattr);
        let ino = h.nodeid;
        let acl_change = self.checks_permissions() && name == b"system.posix_acl_access";
        let dir_ttl = match acl_change {
            true => self.entry_ttl(ino).unwrap_or_default(),
            false => Duration::ZERO,
        };
        let res = self
            .permit_xattr(Caller::of(h), ino, name, true)
            .and_then(|_| self.set_xattr(INodeNo(ino), os(name), value, flags));
        if res.is_ok() && acl_change {
            // The upper filesystem changed the mode with the ACL.
            self.mode_changed(ino);
            self.after_dir_change(ino, dir_ttl);
        }
        answer(reply, res, |r, _| r.ok());
    }

    fn do_opendir(&self, h: &Header, reply: &mut Reply) {
        self.requests.count(Op::Opendir);
        if self.no_opendir.load(Ordering::Relaxed) {
            return reply.error(libc::ENOSYS);
        }
        let res = self
            .permit_list(Caller::of(h), h.nodeid)
            .and_then(|_| self.open_dir(INodeNo(h.nodeid)));
        answer(reply, res, |r, fh| {
            r.opened(fh, abi::FOPEN_CACHE_DIR | abi::FOPEN_KEEP_CACHE, None)
        });
    }

    fn do_readdir(&self, ino: u64, arg: &abi::ReadIn, reply: &mut Reply) {
        self.requests.count(Op::Readdir);
        let (fh, offset, max) = (arg.fh, arg.offset, arg.size as usize);
        let entries = match self.dir_entries(ino, fh, offset) {
            Ok(e) => e,
            Err(e) => return reply.error(e.0),
        };
        let parent = self.nodes_read().get(ino).and_then(|n| n.parent()).unwrap_or(ROOT);
        let mut i = offset;
        loop {
            let full = match i {
                0 => reply.add_dirent(max, ino, 1, FuseType::Directory, b"."),
                1 => reply.add_dirent(max, parent, 2, FuseType::Directory, b".."),
                _ => match entries.get((i - 2) as usize) {
                    Some(e) => reply.add_dirent(max, e.ino, i + 1, e.kind, &e.name),
                    None => break,
                },
            };
            if full {
                break;
            }
            i += 1;
        }
        self.end_of_listing(ino, fh, offset, &entries);
    }

    fn do_readdirplus(&self, ino: u64, arg: &abi::ReadIn, reply: &mut Reply) {
        self.requests.count(Op::Readdirplus);
        let (fh, offset) = (arg.fh, arg.offset);
        let entries = match self.dir_entries(ino, fh, offset) {
            Ok(e) => e,
            Err(e) => return reply.error(e.0),
        };
        let res = self.fill_readdirplus(ino, offset, arg.size as usize, &entries, reply);
        self.end_of_listing(ino, fh, offset, &entries);
        if let Err(e) = res {
            reply.error(e.0);
        }
    }

    /// The entries of a READDIRPLUS from `offset`, as many as `max` bytes
    /// hold.
    fn fill_readdirplus(
        &self,
        ino: u64,
        offset: u64,
        max: usize,
        entries: &[super::DirEntry],
        reply: &mut Reply,
    ) -> FsResult<()> {
        let (dir, dir_path) = self.node(ino)?;
        let parent = dir.parent().unwrap_or(ROOT);
        let dir_attr = self.attr(ino, &self.stat_node(ino)?);
        let ttl = self.entry_ttl(ino)?;
        // Every entry but `.` and `..` counts as a lookup in the kernel,
        // so each one sent is remembered, and only those sent.
        let mut found: Vec<(u64, Node)> = Vec::new();
        let mut i = offset;
        loop {
            let full = match i {
                0 => reply.add_direntplus(max, 1, b".", self.ttl, &dir_attr),
                1 => {
                    let attr = FileAttr {
                        ino: INodeNo(parent),
                        ..dir_attr
                    };
                    reply.add_direntplus(max, 2, b"..", self.ttl, &attr)
                }
                _ => {
                    let Some(e) = entries.get((i - 2) as usize) else { break };
                    // An entry gone since the listing was made is skipped.
                    let Some((child, mut node, st)) = self.find(&dir, &dir_path, &e.name)? else {
                        i += 1;
                        continue;
                    };
                    let attr = self.attr(child, &st);
                    let full = reply.add_direntplus(max, i + 1, &e.name, ttl, &attr);
                    if !full {
                        node.links = vec![(ino, e.name.clone())];
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
    }
}

//! `permissions=server`: where each operation checks the rules of
//! `permissions`, on the attributes the mount shows. Every check is a no-op
//! when the kernel checks (`default_permissions`, the default).
//!
//! A check runs before the operation takes the write lock; a concurrent
//! chmod may land in between, as it may between the kernel's check and the
//! request it then sends.

use super::UnionFs;
use super::ids::{Asking, Caller};
use super::permissions::{self, Acl, MAY_EXEC, MAY_READ, MAY_WRITE, Object};
use super::setattr::SetAttr;
use crate::fs::{FsError, FsResult};
use fuser::{INodeNo, TimeOrNow};
use std::time::Duration;

const ACL_ACCESS: &str = "system.posix_acl_access";

impl UnionFs {
    /// Whether this mount checks permissions itself.
    pub(super) fn checks_permissions(&self) -> bool {
        self.server_permissions
    }

    /// A node as the rules see it, with its access ACL when ACLs are on and
    /// the caller is not the owner (only then can it matter).
    fn object_for(&self, c: &Asking, ino: u64) -> FsResult<(Object, Option<Acl>)> {
        let obj = Object::of(&self.getattr_inner(ino, None)?);
        let acl = if self.acl && permissions::Credentials::uid(c) != obj.uid && obj.mode & 0o070 != 0 {
            self.access_acl(ino)?
        } else {
            None
        };
        Ok((obj, acl))
    }

    fn access_acl(&self, ino: u64) -> FsResult<Option<Acl>> {
        match self.get_xattr(INodeNo(ino), std::ffi::OsStr::new(ACL_ACCESS)) {
            Ok(v) => match Acl::parse(&v) {
                Ok(acl) => Ok(Some(acl)),
                Err(e) => {
                    tracing::warn!("node {ino}: {e}");
                    Err(FsError::IO)
                }
            },
            Err(e) if e == FsError::NODATA || e == FsError::NOTSUP => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// EACCES unless `c` may `want` (`MAY_*`) on `ino`; the object.
    fn require(&self, c: &Asking, ino: u64, want: u32) -> FsResult<Object> {
        let (obj, acl) = self.object_for(c, ino)?;
        if permissions::may(c, &obj, acl.as_ref(), want) {
            Ok(obj)
        } else {
            Err(FsError::ACCES)
        }
    }

    /// How long the kernel may keep an entry of `dir`: as long as usual if
    /// anyone may search it; not at all otherwise, as the kernel checks no
    /// search permission on a walk through cached entries (each walk must
    /// come here as a LOOKUP, checked).
    fn entry_ttl_in(&self, dir: &Object, ino: u64) -> FsResult<Duration> {
        let restricted = !dir.searchable_by_all() || self.acl && self.access_acl(ino)?.is_some_and(|a| a.is_extended());
        Ok(if restricted { Duration::ZERO } else { self.ttl })
    }

    /// The entry TTL for names in `parent` (the usual one when the kernel
    /// checks).
    pub(super) fn entry_ttl(&self, parent: u64) -> FsResult<Duration> {
        if !self.server_permissions {
            return Ok(self.ttl);
        }
        let obj = Object::of(&self.getattr_inner(parent, None)?);
        self.entry_ttl_in(&obj, parent)
    }

    /// `want` on `parent` for a name in it; the TTL of that name's entry.
    fn entry_in(&self, caller: Caller, parent: u64, want: u32) -> FsResult<Duration> {
        if !self.server_permissions {
            return Ok(self.ttl);
        }
        let dir = self.require(&Asking::new(caller), parent, want)?;
        self.entry_ttl_in(&dir, parent)
    }

    /// A lookup in `parent` needs search permission on it; the TTL of the
    /// entry found (or not).
    pub(super) fn lookup_ttl(&self, caller: Caller, parent: u64) -> FsResult<Duration> {
        self.entry_in(caller, parent, MAY_EXEC)
    }

    /// A new entry in `parent` (create, mknod, mkdir, symlink, link) needs
    /// write and search permission on it; the TTL of the new entry.
    pub(super) fn new_entry_ttl(&self, req: &crate::fs::fuse::Header, parent: INodeNo) -> FsResult<Duration> {
        self.entry_in(Caller::of(req), parent.0, MAY_WRITE | MAY_EXEC)
    }

    /// Taking `name` out of `parent` (unlink, rmdir, either end of a
    /// rename): write and search on it, and the sticky bit's rule.
    fn permit_taking(&self, c: &Asking, parent: u64, name: &[u8]) -> FsResult<()> {
        let dir = self.require(c, parent, MAY_WRITE | MAY_EXEC)?;
        if dir.mode & 0o1000 == 0 {
            return Ok(());
        }
        let (pnode, ppath) = self.node(parent)?;
        let Some((ino, _, st)) = self.find(&pnode, &ppath, name)? else {
            return Ok(());
        };
        if permissions::may_remove_from(c, &dir, &Object::of(&self.attr(ino, &st))) {
            Ok(())
        } else {
            Err(FsError::PERM)
        }
    }

    pub(super) fn permit_remove(&self, caller: Caller, parent: u64, name: &[u8]) -> FsResult<()> {
        if self.server_permissions {
            self.permit_taking(&Asking::new(caller), parent, name)?;
        }
        Ok(())
    }

    /// A rename: both ends as removals (the destination only if it holds
    /// something), and a directory moving to another parent must be
    /// writable itself (its `..` changes).
    pub(super) fn permit_rename(&self, caller: Caller, from: (u64, &[u8]), to: (u64, &[u8])) -> FsResult<()> {
        if !self.server_permissions {
            return Ok(());
        }
        let c = &Asking::new(caller);
        self.permit_taking(c, from.0, from.1)?;
        self.permit_taking(c, to.0, to.1)?;
        if from.0 != to.0 {
            let (pnode, ppath) = self.node(from.0)?;
            if let Some((ino, node, _)) = self.find(&pnode, &ppath, from.1)?
                && node.is_dir
            {
                self.require(c, ino, MAY_WRITE)?;
            }
        }
        Ok(())
    }

    /// An open by its access mode (`O_TRUNC` writes; an exec executes).
    pub(super) fn permit_open(&self, caller: Caller, ino: u64, flags: i32) -> FsResult<()> {
        if self.server_permissions {
            self.require(&Asking::new(caller), ino, permissions::open_wants(flags))?;
        }
        Ok(())
    }

    /// Opening a directory to list it.
    pub(super) fn permit_list(&self, caller: Caller, ino: u64) -> FsResult<()> {
        if self.server_permissions {
            self.require(&Asking::new(caller), ino, MAY_READ)?;
        }
        Ok(())
    }

    /// `access()` (and `chdir`): `mask` is R_OK 4, W_OK 2, X_OK 1, or
    /// F_OK 0 (existence only).
    pub(super) fn permit_access(&self, caller: Caller, ino: u64, mask: u32) -> FsResult<()> {
        let want = mask & (MAY_READ | MAY_WRITE | MAY_EXEC);
        if self.server_permissions && want != 0 {
            self.require(&Asking::new(caller), ino, want)?;
        }
        Ok(())
    }

    /// The rules of a `setattr`: EPERM or EACCES for what the caller may
    /// not change, and the set-gid bit taken out of a chmod it may not keep.
    pub(super) fn permit_setattr(&self, ino: u64, a: &mut SetAttr) -> FsResult<()> {
        if !self.server_permissions {
            return Ok(());
        }
        let c = &Asking::new(a.caller);
        let (obj, acl) = self.object_for(c, ino)?;
        // A truncate by name needs write permission; one through a file
        // handle was allowed when the file was opened for writing.
        if a.size.is_some() && a.fh.is_none() && !permissions::may(c, &obj, acl.as_ref(), MAY_WRITE) {
            return Err(FsError::ACCES);
        }
        if (a.uid.is_some() || a.gid.is_some()) && !permissions::may_chown(c, &obj, a.uid, a.gid) {
            return Err(FsError::PERM);
        }
        if let Some(mode) = a.mode {
            a.mode = Some(permissions::chmod(c, &obj, a.gid, mode).ok_or(FsError::PERM)?);
        }
        if a.atime.is_some() || a.mtime.is_some() {
            let now = |t: Option<TimeOrNow>| matches!(t, Some(TimeOrNow::Now));
            let touch = now(a.atime) && now(a.mtime);
            if !permissions::may_set_times(c, &obj, acl.as_ref(), touch) {
                return Err(if touch { FsError::ACCES } else { FsError::PERM });
            }
        }
        Ok(())
    }

    /// Extended attributes: `user.` ones need read (get) or write (set,
    /// remove) permission, ACLs ownership to change; the rest are the
    /// kernel's to check (`trusted.`, `security.capability`).
    pub(super) fn permit_xattr(&self, caller: Caller, ino: u64, name: &[u8], write: bool) -> FsResult<()> {
        if !self.server_permissions {
            return Ok(());
        }
        let c = &Asking::new(caller);
        if name.starts_with(b"user.") {
            self.require(c, ino, if write { MAY_WRITE } else { MAY_READ })?;
        } else if write && name.starts_with(b"system.posix_acl_") {
            let (obj, _) = self.object_for(c, ino)?;
            if !permissions::owns(c, &obj) {
                return Err(FsError::PERM);
            }
        }
        Ok(())
    }

    /// After a directory's mode, owner or ACL changed: if not everyone may
    /// search it any more, the kernel forgets the entries it holds of it
    /// (they were cached while anyone could), so that walks come here.
    pub(super) fn after_dir_change(&self, ino: u64, before: Duration) {
        if !self.server_permissions || before.is_zero() || self.entry_ttl(ino).is_ok_and(|t| !t.is_zero()) {
            return;
        }
        let names = self
            .nodes_read()
            .children(ino)
            .into_iter()
            .map(|(_, name)| name)
            .collect();
        self.forget_entries(ino, names);
    }

    /// After a rename into `dir`: the kernel keeps the moved entry with the
    /// TTL it had, which it must not if not everyone may search `dir`.
    pub(super) fn after_move(&self, dir: u64, name: &[u8]) {
        if self.server_permissions && self.entry_ttl(dir).is_ok_and(|t| t.is_zero()) {
            self.forget_entries(dir, vec![name.to_vec()]);
        }
    }

    /// Has the kernel drop its entries `names` of `dir`, from another
    /// thread: the kernel holds the directory's lock while it waits for the
    /// reply to the request that asks this, and dropping an entry takes it.
    fn forget_entries(&self, dir: u64, names: Vec<Vec<u8>>) {
        let Some(notifier) = self.channel.get().map(|c| c.notifier()) else {
            return;
        };
        if names.is_empty() {
            return;
        }
        std::thread::spawn(move || {
            for name in names {
                let _ = notifier.inval_entry(dir, &name);
            }
        });
    }
}

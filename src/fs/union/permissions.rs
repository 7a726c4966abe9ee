//! Permission checks made by the server (`permissions=server`) instead of
//! the kernel's `default_permissions`: pure rules over who asks
//! ([`Credentials`]), the object's shown owner, group and mode
//! ([`Object`]) and its access ACL ([`Acl`]). They are the kernel's
//! (`generic_permission`, `posix_acl_permission`, `check_sticky`,
//! `setattr_prepare`, `chown_ok`, `chgrp_ok`), so that a mount checked here
//! refuses exactly what one checked by the kernel refuses.
//!
//! Why: with `default_permissions` the kernel refreshes a directory's
//! attributes (one GETATTR) before every create, unlink and rename in it,
//! since each change made them stale; here the check costs a `stat` of the
//! parent in this process instead of a round trip.
//!
//! What the kernel still checks without `default_permissions` (fs/fuse
//! `fuse_permission`, Linux 6.18): exec of a regular file needs some x bit;
//! `access()` and `chdir()` become ACCESS requests; the VFS itself keeps
//! the sticky-bit check of `may_delete` and `protected_hardlinks`. It does
//! *not* check search permission on a path walk: a cached entry is reached
//! without a LOOKUP, so entries under a directory that not everyone may
//! search are not cached (see `entry_ttl`).
//!
//! Negotiating `FUSE_POSIX_ACL` turns `default_permissions` on again in
//! the kernel (`process_init_reply`, still so in 6.18; measured: the mount
//! shows `default_permissions` though none was asked for). A mount checked
//! here therefore does not negotiate it; ACL xattrs pass through to the
//! upper layer's filesystem (which keeps the mode in step with them and
//! applies default ACLs on create), and the access ACL is read here, only
//! when the mode alone cannot decide.
//!
//! Groups and capabilities come from /proc/PID/status of the caller,
//! read only when the decision needs them and never kept across requests:
//! the caller is blocked in its syscall while it is served, so its pid
//! cannot have been reused meanwhile.

pub(super) const MAY_EXEC: u32 = 1;
pub(super) const MAY_WRITE: u32 = 2;
pub(super) const MAY_READ: u32 = 4;

const S_ISGID: u32 = 0o2000;
const S_ISVTX: u32 = 0o1000;

/// The capabilities these rules consult (their numbers in `CapEff`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Cap {
    Chown = 0,
    DacOverride = 1,
    DacReadSearch = 2,
    Fowner = 3,
    Fsetid = 4,
}

/// Who asks. `in_group` and `has` may be costly (a read of /proc): the
/// rules call them only when uid, gid and mode do not decide.
pub(super) trait Credentials {
    fn uid(&self) -> u32;
    /// The primary group or one of the supplementary groups.
    fn in_group(&self, gid: u32) -> bool;
    fn has(&self, cap: Cap) -> bool;
}

/// What the checks need of an object: as shown through the mount.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Object {
    pub(super) uid: u32,
    pub(super) gid: u32,
    /// Permission bits, set-id and sticky bits (`0o7777`).
    pub(super) mode: u32,
    pub(super) is_dir: bool,
}

impl Object {
    pub(super) fn of(attr: &fuser::FileAttr) -> Object {
        Object {
            uid: attr.uid,
            gid: attr.gid,
            mode: u32::from(attr.perm) & 0o7777,
            is_dir: attr.kind == fuser::FileType::Directory,
        }
    }

    /// Whether anyone may search it (x for owner, group and other): then
    /// no caller is refused a walk through it, whatever its groups.
    pub(super) fn searchable_by_all(&self) -> bool {
        self.mode & 0o111 == 0o111
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(super) enum AclError {
    #[error("a POSIX ACL xattr of {0} bytes is not a header and whole entries")]
    Length(usize),
    #[error("POSIX ACL xattr version {0}, not 2")]
    Version(u32),
}

const ACL_USER_OBJ: u16 = 0x01;
const ACL_USER: u16 = 0x02;
const ACL_GROUP_OBJ: u16 = 0x04;
const ACL_GROUP: u16 = 0x08;
const ACL_MASK: u16 = 0x10;
const ACL_OTHER: u16 = 0x20;

/// An access ACL as `system.posix_acl_access` holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Acl {
    /// (tag, permission bits, id) in stored order.
    entries: Vec<(u16, u32, u32)>,
}

impl Acl {
    /// Parses the xattr: a little-endian u32 version (2), then entries of
    /// u16 tag, u16 permissions, u32 id.
    pub(super) fn parse(bytes: &[u8]) -> Result<Acl, AclError> {
        if bytes.len() < 4 || !(bytes.len() - 4).is_multiple_of(8) {
            return Err(AclError::Length(bytes.len()));
        }
        let version = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        if version != 2 {
            return Err(AclError::Version(version));
        }
        let entries = bytes[4..]
            .chunks_exact(8)
            .map(|e| {
                (
                    u16::from_le_bytes([e[0], e[1]]),
                    u32::from(u16::from_le_bytes([e[2], e[3]])) & 7,
                    u32::from_le_bytes([e[4], e[5], e[6], e[7]]),
                )
            })
            .collect();
        Ok(Acl { entries })
    }

    /// Whether it says more than a mode can (named users or groups).
    pub(super) fn is_extended(&self) -> bool {
        self.entries
            .iter()
            .any(|e| matches!(e.0, ACL_USER | ACL_GROUP | ACL_MASK))
    }

    fn mask(&self) -> Option<u32> {
        self.entries.iter().find(|e| e.0 == ACL_MASK).map(|e| e.1)
    }

    /// The kernel's `posix_acl_permission` for a caller who is not the
    /// owner: a named user entry, else any matching group entry granting
    /// `want` (a match refusing it denies, other is not consulted), else
    /// other. Named users and groups are limited by the mask.
    fn grants(&self, c: &dyn Credentials, obj: &Object, want: u32) -> bool {
        let masked = |perm: u32| perm & self.mask().unwrap_or(7) & want == want;
        let mut group_matched = false;
        for &(tag, perm, id) in &self.entries {
            match tag {
                ACL_USER_OBJ if c.uid() == obj.uid => return perm & want == want,
                ACL_USER if id == c.uid() => return masked(perm),
                ACL_GROUP_OBJ | ACL_GROUP => {
                    let gid = if tag == ACL_GROUP_OBJ { obj.gid } else { id };
                    if c.in_group(gid) {
                        if masked(perm) {
                            return true;
                        }
                        group_matched = true;
                    }
                }
                _ => {}
            }
        }
        if group_matched {
            return false;
        }
        self.entries
            .iter()
            .find(|e| e.0 == ACL_OTHER)
            .is_some_and(|e| e.1 & want == want)
    }
}

/// The class bits (owner, ACL, group or other) grant `want` (`MAY_*`).
fn class_grants(c: &dyn Credentials, obj: &Object, acl: Option<&Acl>, want: u32) -> bool {
    if c.uid() == obj.uid {
        return (obj.mode >> 6) & want == want;
    }
    if let Some(acl) = acl.filter(|a| a.is_extended() && obj.mode & 0o070 != 0) {
        return acl.grants(c, obj, want);
    }
    let group = (obj.mode >> 3) & 7;
    let other = obj.mode & 7;
    // Group and other agree on what is asked: no need to know the groups.
    if (group ^ other) & want == 0 {
        return other & want == want;
    }
    let bits = if c.in_group(obj.gid) { group } else { other };
    bits & want == want
}

/// `generic_permission`: may `c` read, write or execute/search (`want`,
/// `MAY_*` bits) `obj`? Capabilities are asked only when the class bits
/// refuse.
pub(super) fn may(c: &dyn Credentials, obj: &Object, acl: Option<&Acl>, want: u32) -> bool {
    if class_grants(c, obj, acl, want) {
        return true;
    }
    if obj.is_dir {
        // Read and search of a directory: CAP_DAC_READ_SEARCH; anything
        // else (write) CAP_DAC_OVERRIDE.
        if want & MAY_WRITE == 0 && c.has(Cap::DacReadSearch) {
            return true;
        }
        return c.has(Cap::DacOverride);
    }
    if want == MAY_READ && c.has(Cap::DacReadSearch) {
        return true;
    }
    // Not even CAP_DAC_OVERRIDE executes a file no one may execute.
    (want & MAY_EXEC == 0 || obj.mode & 0o111 != 0) && c.has(Cap::DacOverride)
}

/// `check_sticky`: in a sticky directory only the entry's owner, the
/// directory's owner or a holder of CAP_FOWNER may remove or rename it.
pub(super) fn may_remove_from(c: &dyn Credentials, dir: &Object, victim: &Object) -> bool {
    dir.mode & S_ISVTX == 0 || c.uid() == victim.uid || c.uid() == dir.uid || c.has(Cap::Fowner)
}

/// `inode_owner_or_capable`.
pub(super) fn owns(c: &dyn Credentials, obj: &Object) -> bool {
    c.uid() == obj.uid || c.has(Cap::Fowner)
}

/// A chmod to `mode`: refused (EPERM) unless the caller owns the object
/// or holds CAP_FOWNER; the mode to store otherwise, without set-gid for
/// a caller neither in the (new) group nor holding CAP_FSETID.
pub(super) fn chmod(c: &dyn Credentials, obj: &Object, new_gid: Option<u32>, mode: u32) -> Option<u32> {
    if !owns(c, obj) {
        return None;
    }
    let gid = new_gid.unwrap_or(obj.gid);
    if mode & S_ISGID != 0 && !c.in_group(gid) && !c.has(Cap::Fsetid) {
        return Some(mode & !S_ISGID);
    }
    Some(mode)
}

/// `chown_ok` and `chgrp_ok`: CAP_CHOWN changes anything; an owner may
/// "change" the owner to itself and the group to one of its own groups.
pub(super) fn may_chown(c: &dyn Credentials, obj: &Object, uid: Option<u32>, gid: Option<u32>) -> bool {
    let owner = c.uid() == obj.uid;
    let uid_ok = uid.is_none_or(|u| owner && u == obj.uid);
    let gid_ok = gid.is_none_or(|g| owner && (g == obj.gid || c.in_group(g)));
    (uid_ok && gid_ok) || c.has(Cap::Chown)
}

/// Setting times: to now (`touch`, as `utimes(NULL)`) needs ownership or
/// write permission; any explicit time needs ownership (or CAP_FOWNER).
pub(super) fn may_set_times(c: &dyn Credentials, obj: &Object, acl: Option<&Acl>, touch: bool) -> bool {
    owns(c, obj) || touch && may(c, obj, acl, MAY_WRITE)
}

/// What an open with `flags` asks (`MAY_*`): its access mode, write for
/// `O_TRUNC`, exec for an exec (`__FMODE_EXEC`).
pub(super) fn open_wants(flags: i32) -> u32 {
    const FMODE_EXEC: i32 = 0o40;
    let mut want = match flags & libc_accmode::O_ACCMODE {
        libc_accmode::O_RDONLY => MAY_READ,
        libc_accmode::O_WRONLY => MAY_WRITE,
        _ => MAY_READ | MAY_WRITE,
    };
    if flags & libc_accmode::O_TRUNC != 0 {
        want |= MAY_WRITE;
    }
    if flags & FMODE_EXEC != 0 {
        want |= MAY_EXEC;
    }
    want
}

/// The open flags these rules read, as Linux numbers them.
mod libc_accmode {
    pub(super) const O_ACCMODE: i32 = 0o3;
    pub(super) const O_RDONLY: i32 = 0o0;
    pub(super) const O_WRONLY: i32 = 0o1;
    pub(super) const O_TRUNC: i32 = 0o1000;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    /// A caller whose groups and capabilities are given, counting how
    /// often the costly questions are asked.
    struct Who {
        uid: u32,
        gid: u32,
        groups: Vec<u32>,
        caps: Vec<Cap>,
        asked: Cell<u32>,
    }

    fn who(uid: u32, gid: u32) -> Who {
        Who {
            uid,
            gid,
            groups: Vec::new(),
            caps: Vec::new(),
            asked: Cell::new(0),
        }
    }

    impl Credentials for Who {
        fn uid(&self) -> u32 {
            self.uid
        }
        fn in_group(&self, gid: u32) -> bool {
            self.asked.set(self.asked.get() + 1);
            gid == self.gid || self.groups.contains(&gid)
        }
        fn has(&self, cap: Cap) -> bool {
            self.asked.set(self.asked.get() + 1);
            self.caps.contains(&cap)
        }
    }

    fn file(uid: u32, gid: u32, mode: u32) -> Object {
        Object {
            uid,
            gid,
            mode,
            is_dir: false,
        }
    }

    fn dir(uid: u32, gid: u32, mode: u32) -> Object {
        Object {
            is_dir: true,
            ..file(uid, gid, mode)
        }
    }

    #[test]
    fn owner_group_and_other_classes_decide_in_that_order() {
        let f = file(1000, 100, 0o604);
        // The owner gets the owner bits even when other grants more.
        assert!(!may(&who(1000, 100), &file(1000, 100, 0o074), None, MAY_READ));
        assert!(may(&who(1000, 1), &f, None, MAY_READ | MAY_WRITE));
        // The group class, by primary or supplementary group.
        let g = file(1000, 100, 0o640);
        assert!(may(&who(2000, 100), &g, None, MAY_READ));
        let mut sup = who(2000, 5);
        sup.groups = vec![100];
        assert!(may(&sup, &g, None, MAY_READ));
        assert!(!may(&sup, &g, None, MAY_WRITE));
        assert!(!may(&who(2000, 5), &g, None, MAY_READ));
        // A group member gets the group bits even when other grants more.
        assert!(!may(&who(2000, 100), &file(1000, 100, 0o604), None, MAY_READ));
        assert!(may(&who(2000, 5), &file(1000, 100, 0o604), None, MAY_READ));
    }

    #[test]
    fn groups_and_capabilities_are_asked_only_when_needed() {
        let c = who(2000, 5);
        // Group and other agree: the mode decides alone.
        assert!(may(&c, &file(1000, 100, 0o644), None, MAY_READ));
        assert!(may(&c, &dir(0, 0, 0o755), None, MAY_EXEC));
        assert_eq!(c.asked.get(), 0);
        assert!(may(&who(1000, 1), &file(1000, 100, 0o600), None, MAY_WRITE));
    }

    #[test]
    fn root_needs_its_capabilities() {
        let mut root = who(0, 0);
        let secret = file(1000, 100, 0o000);
        // Root without capabilities (a container's, dropped) is anyone.
        assert!(!may(&root, &secret, None, MAY_READ));
        assert!(!may(&root, &dir(1000, 100, 0o700), None, MAY_EXEC));
        root.caps = vec![Cap::DacReadSearch];
        assert!(may(&root, &secret, None, MAY_READ));
        assert!(!may(&root, &secret, None, MAY_WRITE));
        assert!(may(&root, &dir(1000, 100, 0o000), None, MAY_READ | MAY_EXEC));
        assert!(!may(&root, &dir(1000, 100, 0o000), None, MAY_WRITE | MAY_EXEC));
        root.caps = vec![Cap::DacOverride];
        assert!(may(&root, &secret, None, MAY_READ | MAY_WRITE));
        assert!(may(&root, &dir(1000, 100, 0o000), None, MAY_WRITE | MAY_EXEC));
        // Exec needs some x bit even for CAP_DAC_OVERRIDE.
        assert!(!may(&root, &secret, None, MAY_EXEC));
        assert!(may(&root, &file(1000, 100, 0o010), None, MAY_EXEC));
    }

    fn acl(entries: &[(u16, u16, u32)]) -> Acl {
        let mut b = 2u32.to_le_bytes().to_vec();
        for &(tag, perm, id) in entries {
            b.extend(tag.to_le_bytes());
            b.extend(perm.to_le_bytes());
            b.extend(id.to_le_bytes());
        }
        Acl::parse(&b).unwrap()
    }

    #[test]
    fn acl_user_and_group_entries_under_the_mask() {
        let a = acl(&[
            (ACL_USER_OBJ, 6, 0),
            (ACL_USER, 6, 2000),
            (ACL_GROUP_OBJ, 0, 0),
            (ACL_GROUP, 4, 300),
            (ACL_MASK, 4, 0),
            (ACL_OTHER, 0, 0),
        ]);
        // The mode's group bits are the mask (r--).
        let f = file(1000, 100, 0o640);
        assert!(may(&who(2000, 5), &f, Some(&a), MAY_READ));
        assert!(
            !may(&who(2000, 5), &f, Some(&a), MAY_WRITE),
            "the mask limits rw- to r--"
        );
        assert!(may(&who(3000, 300), &f, Some(&a), MAY_READ));
        // The owning group matches and refuses: other is not consulted.
        assert!(!may(&who(3000, 100), &f, Some(&a), MAY_READ));
        assert!(!may(&who(3000, 7), &f, Some(&a), MAY_READ));
        // The owner: the owner entry, not the mask.
        assert!(may(&who(1000, 1), &f, Some(&a), MAY_WRITE));
        let other = acl(&[
            (ACL_USER_OBJ, 6, 0),
            (ACL_GROUP_OBJ, 0, 0),
            (ACL_USER, 0, 2000),
            (ACL_MASK, 7, 0),
            (ACL_OTHER, 4, 0),
        ]);
        assert!(
            !may(&who(2000, 5), &file(1000, 100, 0o674), Some(&other), MAY_READ),
            "a named user entry denies"
        );
        assert!(
            may(&who(2001, 5), &file(1000, 100, 0o674), Some(&other), MAY_READ),
            "other grants"
        );
        assert_eq!(Acl::parse(&[2, 0, 0, 0, 1]), Err(AclError::Length(5)));
        assert_eq!(Acl::parse(&1u32.to_le_bytes()), Err(AclError::Version(1)));
    }

    #[test]
    fn the_sticky_bit_keeps_others_entries() {
        let tmp = dir(0, 0, 0o1777);
        let theirs = file(1000, 100, 0o644);
        assert!(!may_remove_from(&who(2000, 5), &tmp, &theirs));
        assert!(may_remove_from(&who(1000, 5), &tmp, &theirs));
        assert!(
            may_remove_from(&who(0, 5), &dir(0, 0, 0o1777), &theirs),
            "the directory's owner"
        );
        assert!(may_remove_from(&who(2000, 5), &dir(0, 0, 0o777), &theirs));
        let mut fowner = who(2000, 5);
        fowner.caps = vec![Cap::Fowner];
        assert!(may_remove_from(&fowner, &tmp, &theirs));
    }

    #[test]
    fn setattr_rules() {
        let f = file(1000, 100, 0o644);
        assert_eq!(chmod(&who(2000, 100), &f, None, 0o600), None);
        assert_eq!(chmod(&who(1000, 100), &f, None, 0o2755), Some(0o2755));
        assert_eq!(chmod(&who(1000, 5), &f, None, 0o2755), Some(0o755), "not in the group");
        let mut fsetid = who(1000, 5);
        fsetid.caps = vec![Cap::Fsetid];
        assert_eq!(chmod(&fsetid, &f, None, 0o2755), Some(0o2755));
        let mut owner = who(1000, 5);
        owner.groups = vec![200];
        assert!(may_chown(&owner, &f, None, Some(200)));
        assert!(may_chown(&owner, &f, Some(1000), Some(100)));
        assert!(!may_chown(&owner, &f, None, Some(300)));
        assert!(!may_chown(&owner, &f, Some(2000), None));
        let mut chowner = who(0, 0);
        assert!(!may_chown(&chowner, &f, Some(0), None), "root without CAP_CHOWN");
        chowner.caps = vec![Cap::Chown];
        assert!(may_chown(&chowner, &f, Some(0), Some(0)));
        let writable = file(1000, 100, 0o666);
        assert!(may_set_times(&who(2000, 5), &writable, None, true));
        assert!(!may_set_times(&who(2000, 5), &writable, None, false));
        assert!(!may_set_times(&who(2000, 5), &f, None, true));
        assert!(may_set_times(&who(1000, 5), &file(1000, 100, 0), None, false));
    }

    #[test]
    fn opens_ask_by_access_mode() {
        assert_eq!(open_wants(0), MAY_READ);
        assert_eq!(open_wants(1), MAY_WRITE);
        assert_eq!(open_wants(2), MAY_READ | MAY_WRITE);
        assert_eq!(open_wants(0o1000), MAY_READ | MAY_WRITE);
        assert_eq!(open_wants(0o40), MAY_READ | MAY_EXEC);
        assert!(dir(0, 0, 0o755).searchable_by_all() && !dir(0, 0, 0o750).searchable_by_all());
        // An exec needs x of the caller's class, not merely some x bit.
        let exec = open_wants(0o100040);
        assert!(!may(&who(999, 995), &file(0, 0, 0o744), None, exec));
        assert!(may(&who(999, 995), &file(0, 0, 0o745), None, exec));
    }
}

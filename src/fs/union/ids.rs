//! Id mapping (`uidmapping=`, `squash_to_*`) and the caller checks the
//! kernel leaves to the filesystem.

use crate::fs::fuse::Header as Request;
use rustix::fs::Stat;

/// How ids on disk are shown and how requested ids are stored, as
/// fuse-overlayfs's `uidmapping=`/`gidmapping=`/`squash_to_*` do. Ranges are
/// (shown, on disk, count); ids outside every range show as the overflow id.
#[derive(Default)]
pub(super) struct IdMapping {
    pub(super) uid: Vec<(u32, u32, u32)>,
    pub(super) gid: Vec<(u32, u32, u32)>,
    pub(super) squash_uid: Option<u32>,
    pub(super) squash_gid: Option<u32>,
}

pub(super) const OVERFLOW_ID: u32 = 65534;

pub(super) fn map_id(ranges: &[(u32, u32, u32)], id: u32, to_disk: bool) -> u32 {
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
    pub(super) fn shown(&self, uid: u32, gid: u32) -> (u32, u32) {
        (
            self.squash_uid.unwrap_or_else(|| map_id(&self.uid, uid, false)),
            self.squash_gid.unwrap_or_else(|| map_id(&self.gid, gid, false)),
        )
    }

    pub(super) fn on_disk_uid(&self, uid: u32) -> u32 {
        map_id(&self.uid, uid, true)
    }

    pub(super) fn on_disk_gid(&self, gid: u32) -> u32 {
        map_id(&self.gid, gid, true)
    }
}

/// Whether this process is in the initial user namespace (its uid map is
/// the identity over every id), where a caller's capabilities are the
/// ones the kernel's `capable()` checks.
fn in_initial_user_ns() -> bool {
    static INITIAL: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *INITIAL.get_or_init(|| {
        std::fs::read_to_string("/proc/self/uid_map").is_ok_and(|m| {
            let fields: Vec<&str> = m.split_whitespace().collect();
            fields == ["0", "0", "4294967295"]
        })
    })
}

/// Who is asking, for the few checks the kernel leaves to the filesystem.
#[derive(Clone, Copy)]
pub(super) struct Caller {
    pub(super) uid: u32,
    pub(super) gid: u32,
    pub(super) pid: u32,
}

impl Caller {
    pub(super) fn of(req: &Request) -> Caller {
        Caller {
            uid: req.uid(),
            gid: req.gid(),
            pid: req.pid(),
        }
    }

    /// Whether the caller is in `gid`, supplementary groups included (read
    /// from /proc only when the primary group does not decide it).
    pub(super) fn in_group(&self, gid: u32) -> bool {
        self.gid == gid || crate::sys::process_credentials(self.pid).is_ok_and(|c| c.groups.contains(&gid))
    }

    /// Whether the caller holds `CAP_FSETID` as the kernel's
    /// `capable(CAP_FSETID)` asks it: effective, and in the initial user
    /// namespace. The caller is blocked in its syscall meanwhile, so its
    /// pid names it. Anything unknown (no pid in our pid namespace, a
    /// /proc that cannot be read) counts as not holding it: set-id bits are
    /// then cleared, the safe side.
    pub(super) fn has_fsetid(&self) -> bool {
        const CAP_FSETID: u32 = 4;
        if self.pid == 0 || !in_initial_user_ns() {
            return false;
        }
        crate::sys::process_credentials(self.pid)
            .is_ok_and(|c| c.same_user_namespace && c.cap_effective & (1 << CAP_FSETID) != 0)
    }

    pub(super) fn may_write(&self, st: &Stat) -> bool {
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

/// A caller as the permission rules see it: its groups and capabilities
/// read from /proc at most once, and only if a rule asks (see
/// `permissions`). Made per request, never kept: a pid names the caller
/// only while it waits for the reply.
pub(super) struct Asking {
    caller: Caller,
    status: std::cell::OnceCell<Option<crate::sys::ProcessCredentials>>,
}

impl Asking {
    pub(super) fn new(caller: Caller) -> Asking {
        Asking {
            caller,
            status: std::cell::OnceCell::new(),
        }
    }

    /// None when the caller cannot be seen (outside our pid namespace, or
    /// gone): it then has no supplementary groups and no capabilities.
    fn status(&self) -> Option<&crate::sys::ProcessCredentials> {
        self.status
            .get_or_init(|| {
                (self.caller.pid != 0)
                    .then(|| crate::sys::process_credentials(self.caller.pid).ok())
                    .flatten()
            })
            .as_ref()
    }
}

impl super::permissions::Credentials for Asking {
    fn uid(&self) -> u32 {
        self.caller.uid
    }

    fn in_group(&self, gid: u32) -> bool {
        gid == self.caller.gid || self.status().is_some_and(|s| s.groups.contains(&gid))
    }

    fn has(&self, cap: super::permissions::Cap) -> bool {
        self.status()
            .is_some_and(|s| s.same_user_namespace && s.cap_effective & (1 << cap as u32) != 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_caller_we_cannot_see_holds_no_cap_fsetid() {
        let gone = |pid| Caller { uid: 0, gid: 0, pid };
        // Outside our pid namespace (0), or exited: the safe answer.
        assert!(!gone(0).has_fsetid());
        assert!(!gone(u32::MAX).has_fsetid());
        // This process as the caller: what its own status says.
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let eff = status.lines().find_map(|l| l.strip_prefix("CapEff:")).unwrap();
        let holds = u64::from_str_radix(eff.trim(), 16).unwrap() & (1 << 4) != 0;
        assert_eq!(gone(std::process::id()).has_fsetid(), holds && in_initial_user_ns());
    }
}

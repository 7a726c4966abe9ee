//! `FUSE_HANDLE_KILLPRIV_V2`: the kernel leaves clearing set-uid, set-gid
//! and file capabilities on write, truncate and chown to the server (and
//! stops asking for `security.capability` before every write to decide it
//! itself). The rules are the kernel's, as `fuse.h` states them for v2:
//!
//! - a write or truncate by a caller without `CAP_FSETID` clears set-uid,
//!   and set-gid when group-exec is set (set-gid without group-exec marks
//!   mandatory locking, not a privilege, and stays);
//! - a chown clears set-uid and set-gid (with group-exec) whoever asks;
//! - each of them clears `security.capability`.
//!
//! Passthrough writes never reach the server, so an open for writing of a
//! file that holds any of these is not passthrough (`privileged_write`):
//! such files are rare. Writes through an open made before the file gained
//! them reach the kernel's `file_remove_privs`, which under v2 sends an
//! empty SETATTR from the writer: that is handled as a write (`Kill::Empty`).

use super::UnionFs;
use super::ids::Caller;
use crate::fs::FsResult;
use crate::fs::override_stat::{self, Override};
use crate::sys;
use rustix::fs::FileType;
use std::os::fd::AsFd;

const S_ISUID: u32 = 0o4000;
const S_ISGID: u32 = 0o2000;
const S_IXGRP: u32 = 0o0010;

/// What asks for privileges to go.
#[derive(Clone, Copy)]
pub(super) enum Kill {
    /// A write whose writer lacks `CAP_FSETID` (the kernel's
    /// `FUSE_WRITE_KILL_SUIDGID`): set-id bits and capabilities.
    Write,
    /// A write by a writer holding `CAP_FSETID`: capabilities only.
    PrivilegedWrite,
    /// A truncate: stratafs does not read the kernel's
    /// `FATTR_KILL_SUIDGID`, so whether the caller holds `CAP_FSETID` is
    /// read from /proc (`Caller::has_fsetid`), unknown counting as not.
    Truncate(Caller),
    /// A chown: set-id bits and capabilities, whoever asks.
    Chown,
    /// A SETATTR changing nothing: the kernel's `file_remove_privs` (or a
    /// `chown(-1, -1)`), as `Truncate`.
    Empty(Caller),
}

/// The mode a write, truncate or chown leaves of `mode` (set-id bits
/// taken away by the kernel's rules; `None`: unchanged).
pub(super) fn killed_mode(mode: u32) -> Option<u32> {
    let mut m = mode & !S_ISUID;
    if m & S_IXGRP != 0 {
        m &= !S_ISGID;
    }
    (m != mode).then_some(m)
}

/// Whether a regular file of mode `mode` may hold privileges a write must
/// clear (set-uid, or set-gid with group-exec).
pub(super) fn mode_is_privileged(mode: u32) -> bool {
    killed_mode(mode & 0o7777).is_some()
}

impl UnionFs {
    /// A write of `ino` cleared its set-id bits: the kernel, which keeps
    /// the mode cached across writes (a write invalidates only times and
    /// size), must ask again. Only attributes are dropped (offset -1: no
    /// pages), which takes no lock the writer holds.
    pub(super) fn mode_changed(&self, ino: u64) {
        if let Some(c) = self.channel.get()
            && let Err(e) = c.notifier().inval_inode(ino, -1, 0)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!("telling the kernel about a cleared set-id bit: {e}");
        }
    }

    /// Clears what `kill` takes away from the upper object held by `fd`
    /// (an open file or an `O_PATH` descriptor); whether its mode changed.
    /// Nothing for anything but a regular file, as the kernel.
    pub(super) fn kill_privs(&self, fd: impl AsFd, kill: Kill) -> FsResult<bool> {
        let disk = rustix::fs::fstat(&fd)?;
        if FileType::from_raw_mode(disk.st_mode) != FileType::RegularFile {
            return Ok(false);
        }
        let mut shown = disk;
        if self.overrides {
            override_stat::present_fd(&fd, &mut shown)?;
        }
        let mut changed = false;
        if let Some(mode) = killed_mode(shown.st_mode & 0o7777) {
            let set_ids = match kill {
                Kill::Write | Kill::Chown => true,
                Kill::PrivilegedWrite => false,
                Kill::Truncate(c) | Kill::Empty(c) => !c.has_fsetid(),
            };
            if set_ids {
                let want = Override {
                    mode,
                    ..Override::of(&shown)
                };
                self.set_mode_fd(&fd, &want)?;
                changed = true;
            }
        }
        // Read before it is removed: removing `security.capability` takes
        // CAP_SETFCAP even when there is none (a rootless server has not).
        let cap = self.stored_xattr(override_stat::CAPABILITY_XATTR);
        if sys::xattr::get(&fd, cap)?.is_some() {
            sys::xattr::remove(&fd, cap)?;
        }
        Ok(changed)
    }

    /// Whether an open for writing of the upper file held by `fd` must not
    /// be passthrough: with v2 negotiated, the file holds a set-id bit the
    /// server must clear on a write, or a capability.
    pub(super) fn privileged_write(&self, fd: impl AsFd) -> FsResult<bool> {
        if !self.killpriv {
            return Ok(false);
        }
        let mut st = rustix::fs::fstat(&fd)?;
        if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
            return Ok(false);
        }
        if self.overrides {
            override_stat::present_fd(&fd, &mut st)?;
        }
        if mode_is_privileged(st.st_mode) {
            return Ok(true);
        }
        let cap = self.stored_xattr(override_stat::CAPABILITY_XATTR);
        Ok(sys::xattr::get(&fd, cap)?.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_clear_set_uid_and_set_gid_only_with_group_exec() {
        assert_eq!(killed_mode(0o4755), Some(0o755));
        assert_eq!(killed_mode(0o6755), Some(0o755));
        assert_eq!(killed_mode(0o2755), Some(0o755));
        // Set-gid without group-exec (mandatory locking) stays.
        assert_eq!(killed_mode(0o2644), None);
        assert_eq!(killed_mode(0o6644), Some(0o2644));
        assert_eq!(killed_mode(0o1777), None);
        assert_eq!(killed_mode(0o644), None);
        assert!(mode_is_privileged(0o100_4755));
        assert!(!mode_is_privileged(0o100_2644));
    }
}

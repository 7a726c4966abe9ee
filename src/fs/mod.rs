//! The union filesystem: read-only lower layers under one writable upper
//! layer with copy-up, served over FUSE (`fuser`). Used standalone by
//! `stratafs` (a drop-in for fuse-overlayfs) and, later, by `stratad` for
//! container roots.
//!
//! Every backing object is reached through a [`crate::sys::BeneathDir`] of
//! its layer, so nothing a layer or a container puts in the tree (symlinks,
//! `..`) can lead the filesystem, which runs with more privilege than its
//! users, anywhere else. Handlers never panic: every failure is an errno.

pub mod changes;
mod config;
mod copy_up;
pub mod export;
pub mod fuse;
mod hardlinks;
mod indexed;
mod layer;
mod locks;
mod nodes;
mod override_stat;
mod union;

pub use config::{MountConfig, OptionsError, USAGE, parse_mount_args};
pub use union::requests::{Op, RequestCounts};
pub use union::{Invalidator, UnionFs};

use std::io;

/// An errno for a FUSE reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FsError(pub i32);

impl FsError {
    pub const NOENT: FsError = FsError(rustix::io::Errno::NOENT.raw_os_error());
    pub const EXIST: FsError = FsError(rustix::io::Errno::EXIST.raw_os_error());
    pub const NOTDIR: FsError = FsError(rustix::io::Errno::NOTDIR.raw_os_error());
    pub const ISDIR: FsError = FsError(rustix::io::Errno::ISDIR.raw_os_error());
    pub const NOTEMPTY: FsError = FsError(rustix::io::Errno::NOTEMPTY.raw_os_error());
    pub const ROFS: FsError = FsError(rustix::io::Errno::ROFS.raw_os_error());
    pub const INVAL: FsError = FsError(rustix::io::Errno::INVAL.raw_os_error());
    pub const XDEV: FsError = FsError(rustix::io::Errno::XDEV.raw_os_error());
    pub const NAMETOOLONG: FsError = FsError(rustix::io::Errno::NAMETOOLONG.raw_os_error());
    pub const IO: FsError = FsError(rustix::io::Errno::IO.raw_os_error());
    pub const BADF: FsError = FsError(rustix::io::Errno::BADF.raw_os_error());
    pub const NODATA: FsError = FsError(rustix::io::Errno::NODATA.raw_os_error());
    pub const RANGE: FsError = FsError(rustix::io::Errno::RANGE.raw_os_error());
    pub const PERM: FsError = FsError(rustix::io::Errno::PERM.raw_os_error());
    pub const ACCES: FsError = FsError(rustix::io::Errno::ACCESS.raw_os_error());
    pub const NOTSUP: FsError = FsError(rustix::io::Errno::NOTSUP.raw_os_error());
}

impl From<io::Error> for FsError {
    fn from(e: io::Error) -> Self {
        match e.raw_os_error() {
            Some(n) => FsError(n),
            None => {
                tracing::warn!("internal error: {e}");
                FsError::IO
            }
        }
    }
}

/// The one errno for a name that cannot be a directory entry: as Linux,
/// ENAMETOOLONG for one over 255 bytes, EINVAL for the rest (empty, `.`,
/// `..`, a `/` or a NUL: the kernel sends none of them).
impl From<crate::sys::NameError> for FsError {
    fn from(e: crate::sys::NameError) -> Self {
        match e {
            crate::sys::NameError::TooLong => FsError::NAMETOOLONG,
            _ => FsError::INVAL,
        }
    }
}

impl From<rustix::io::Errno> for FsError {
    fn from(e: rustix::io::Errno) -> Self {
        FsError(e.raw_os_error())
    }
}

pub type FsResult<T> = Result<T, FsError>;

/// The FUSE session settings for a mount: shared by `stratafs` and by
/// whatever else mounts a [`UnionFs`].
pub fn session_config(cfg: &MountConfig) -> fuser::Config {
    let mut options = vec![
        fuser::MountOption::FSName(cfg.fsname.clone().unwrap_or_else(|| "stratafs".into())),
        fuser::MountOption::Subtype("stratafs".into()),
    ];
    // The kernel checks permissions unless `permissions=server` asks this
    // filesystem to (see `union::permissions`: it saves the GETATTR of the
    // directory before each change in it). The default stays the kernel's
    // until the server's checks have been run beside it for a while.
    if !cfg.server_permissions {
        options.push(fuser::MountOption::DefaultPermissions);
    }
    if cfg.read_only {
        options.push(fuser::MountOption::RO);
    }
    if cfg.noatime {
        options.push(fuser::MountOption::NoAtime);
    }
    if crate::sys::is_root() {
        options.push(fuser::MountOption::Dev);
        options.push(fuser::MountOption::Suid);
    }
    let mut config = fuser::Config::default();
    config.mount_options = options;
    // As root, the mount serves every user (as kernel overlayfs does), with
    // permissions checked by the kernel or by us (above).
    config.acl = if cfg.allow_other || crate::sys::is_root() {
        fuser::SessionACL::All
    } else if cfg.allow_root {
        fuser::SessionACL::RootAndOwner
    } else {
        fuser::SessionACL::Owner
    };
    config.n_threads = Some(
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
            .max(2),
    );
    config.clone_fd = true;
    config
}

/// Mounts a union served by threads of this process (as `stratad` does for
/// container roots). Dropping the session unmounts it.
pub fn mount_background(cfg: &MountConfig) -> io::Result<fuse::BackgroundSession> {
    mount_union(UnionFs::new(cfg)?, cfg)?.spawn()
}

/// Mounts `fs` (made from `cfg`) at `cfg`'s mount point, to be served by
/// [`fuse::Session::run`] or [`fuse::Session::spawn`].
pub fn mount_union(fs: UnionFs, cfg: &MountConfig) -> io::Result<fuse::Session<UnionFs>> {
    fuse::Session::mount(fs, &cfg.mountpoint, &session_config(cfg), cfg.transport)
}

/// Unmounts the FUSE mount at `dir` now, refusing as `umount` does when
/// it is busy (EBUSY): root calls `umount2`; any other user has
/// `fusermount3 -u` do it (the kernel lets only root unmount). Its
/// session's threads then end; join them with `fuse::BackgroundSession::join`.
pub fn unmount(dir: &std::path::Path) -> io::Result<()> {
    if crate::sys::is_root() {
        return Ok(rustix::mount::unmount(dir, rustix::mount::UnmountFlags::empty())?);
    }
    fusermount_unmount(dir, false)
}

/// Detaches the FUSE mount at `dir` (it goes once nothing uses it), as
/// root or through `fusermount3 -u -z`. Not mounted: an error.
pub fn unmount_lazy(dir: &std::path::Path) -> io::Result<()> {
    if crate::sys::is_root() {
        return crate::sys::unmount_lazy(dir);
    }
    fusermount_unmount(dir, true)
}

fn fusermount_unmount(dir: &std::path::Path, lazy: bool) -> io::Result<()> {
    let mut last = io::Error::new(io::ErrorKind::NotFound, "no fusermount3 or fusermount found");
    for program in ["fusermount3", "fusermount"] {
        let mut cmd = std::process::Command::new(program);
        cmd.arg("-u").arg("-q");
        if lazy {
            cmd.arg("-z");
        }
        match cmd.arg("--").arg(dir).stdin(std::process::Stdio::null()).output() {
            Ok(out) if out.status.success() => return Ok(()),
            Ok(out) => {
                let said = String::from_utf8_lossy(&out.stderr);
                let said = said.trim();
                let kind = if said.contains("busy") {
                    io::ErrorKind::ResourceBusy
                } else {
                    io::ErrorKind::Other
                };
                return Err(io::Error::new(kind, format!("{program}: {said}")));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => last = e,
            Err(e) => return Err(e),
        }
    }
    Err(last)
}

#[cfg(test)]
mod tests {
    use super::FsError;
    use crate::sys::Name;

    fn errno_of(name: &[u8]) -> Option<FsError> {
        Name::new(name).err().map(FsError::from)
    }

    #[test]
    fn a_bad_name_is_nametoolong_only_when_too_long() {
        assert_eq!(errno_of(&[b'a'; 256]), Some(FsError::NAMETOOLONG));
        assert_eq!(errno_of(&[b'a'; 255]), None);
        for bad in [&b""[..], b".", b"..", b"a/b", b"a\0b"] {
            assert_eq!(errno_of(bad), Some(FsError::INVAL), "{bad:?}");
        }
    }
}

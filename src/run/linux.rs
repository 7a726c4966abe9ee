//! The real [`Syscalls`]: container paths are resolved beneath the new root
//! with `openat2(RESOLVE_IN_ROOT)` and mounted on through `/proc/self/fd/N`,
//! so no symlink in the image can point a mount at the host.

use super::plan::{Kind, Source, Syscalls};
use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags, StatVfsMountFlags};
use rustix::io::Errno;
use rustix::mount::{MountFlags, MountPropagationFlags, UnmountFlags};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

pub struct LinuxSyscalls {
    root: Option<OwnedFd>,
}

impl LinuxSyscalls {
    pub fn new() -> LinuxSyscalls {
        LinuxSyscalls { root: None }
    }

    fn root(&self) -> io::Result<&OwnedFd> {
        self.root
            .as_ref()
            .ok_or_else(|| io::Error::other("the root filesystem is not bound yet"))
    }

    /// An `O_PATH` handle on a container path, resolved beneath the root.
    fn resolve(&self, path: &str) -> io::Result<OwnedFd> {
        let rel = path.trim_start_matches('/');
        let rel = if rel.is_empty() { "." } else { rel };
        Ok(rustix::fs::openat2(
            self.root()?,
            rel,
            OFlags::PATH | OFlags::CLOEXEC,
            Mode::empty(),
            ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
        )?)
    }

    /// The parent's handle and the last component of a container path.
    fn parent<'a>(&self, path: &'a str) -> io::Result<(OwnedFd, &'a str)> {
        let path = path.trim_end_matches('/');
        let (dir, name) = path.rsplit_once('/').unwrap_or(("", path));
        if name.is_empty() || name == "." || name == ".." {
            return Err(Errno::INVAL.into());
        }
        Ok((self.resolve(dir)?, name))
    }
}

impl Default for LinuxSyscalls {
    fn default() -> Self {
        Self::new()
    }
}

fn fd_path(fd: &OwnedFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

impl Syscalls for LinuxSyscalls {
    fn make_mounts_private(&mut self) -> io::Result<()> {
        Ok(rustix::mount::mount_change(
            "/",
            MountPropagationFlags::PRIVATE | MountPropagationFlags::REC,
        )?)
    }

    fn bind_rootfs(&mut self, rootfs: &Path) -> io::Result<()> {
        rustix::mount::mount_bind_recursive(rootfs, rootfs)?;
        // Opened after the bind: the handle is on the new mount.
        self.root = Some(rustix::fs::open(
            rootfs,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?);
        Ok(())
    }

    fn kind(&mut self, path: &str) -> io::Result<Option<Kind>> {
        match self.resolve(path) {
            Ok(fd) => {
                let st = rustix::fs::fstat(&fd)?;
                Ok(Some(if FileType::from_raw_mode(st.st_mode) == FileType::Directory {
                    Kind::Dir
                } else {
                    Kind::Other
                }))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn mkdir(&mut self, path: &str, mode: u32) -> io::Result<()> {
        // An O_PATH handle serves as the directory of the *at calls.
        let (dir, name) = self.parent(path)?;
        rustix::fs::mkdirat(&dir, name, Mode::from_raw_mode(mode))?;
        // Set the mode exactly (umask, sticky bit).
        rustix::fs::chmodat(&dir, name, Mode::from_raw_mode(mode), AtFlags::empty())?;
        Ok(())
    }

    fn create_file(&mut self, path: &str) -> io::Result<()> {
        let rel = path.trim_start_matches('/');
        rustix::fs::openat2(
            self.root()?,
            rel,
            OFlags::CREATE | OFlags::WRONLY | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o644),
            ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
        )?;
        Ok(())
    }

    fn mount(
        &mut self,
        source: &Source,
        target: &str,
        fstype: Option<&str>,
        flags: MountFlags,
        data: &str,
    ) -> io::Result<()> {
        let target_fd = self.resolve(target)?;
        let target_path = fd_path(&target_fd);
        match source {
            Source::Fresh(name) => {
                let fstype = fstype.unwrap_or(name);
                let data = std::ffi::CString::new(data).map_err(|_| Errno::INVAL)?;
                rustix::mount::mount(*name, &target_path, fstype, flags, data.as_c_str())?;
            }
            Source::Host(path) => {
                bind(path, &target_path, flags)?;
            }
            Source::Root(path) => {
                let source_fd = self.resolve(path)?;
                bind(&fd_path(&source_fd), &target_path, flags)?;
            }
        }
        Ok(())
    }

    fn remount_read_only(&mut self, target: &str) -> io::Result<()> {
        let fd = self.resolve(target)?;
        let vfs = rustix::fs::fstatvfs(&fd)?;
        // A bind remount must repeat the flags the kernel locks in a user
        // namespace (nosuid, nodev, noexec, atime), or it is refused.
        let mut flags = MountFlags::BIND | MountFlags::RDONLY;
        for (have, want) in [
            (StatVfsMountFlags::NOSUID, MountFlags::NOSUID),
            (StatVfsMountFlags::NODEV, MountFlags::NODEV),
            (StatVfsMountFlags::NOEXEC, MountFlags::NOEXEC),
            (StatVfsMountFlags::NOATIME, MountFlags::NOATIME),
            (StatVfsMountFlags::NODIRATIME, MountFlags::NODIRATIME),
            (StatVfsMountFlags::RELATIME, MountFlags::RELATIME),
        ] {
            if vfs.f_flag.contains(have) {
                flags |= want;
            }
        }
        Ok(rustix::mount::mount_remount(fd_path(&fd), flags, "")?)
    }

    fn symlink(&mut self, link: &str, target: &str) -> io::Result<()> {
        let (dir, name) = self.parent(link)?;
        match rustix::fs::symlinkat(target, &dir, name) {
            Err(Errno::EXIST) => Ok(()),
            other => Ok(other?),
        }
    }

    fn loopback_up(&mut self) -> io::Result<()> {
        crate::sys::loopback_up()
    }

    fn pivot_root(&mut self) -> io::Result<()> {
        rustix::process::fchdir(self.root()?)?;
        rustix::process::pivot_root(".", ".")?;
        rustix::mount::unmount(".", UnmountFlags::DETACH)?;
        rustix::process::chdir("/")?;
        self.root = None;
        Ok(())
    }

    fn sethostname(&mut self, name: &str) -> io::Result<()> {
        if name.is_empty() {
            return Ok(());
        }
        Ok(rustix::system::sethostname(name.as_bytes())?)
    }

    fn setdomainname(&mut self, name: &str) -> io::Result<()> {
        Ok(rustix::system::setdomainname(name.as_bytes())?)
    }
}

fn bind(source: &Path, target: &Path, flags: MountFlags) -> io::Result<()> {
    if flags.contains(MountFlags::REC) {
        rustix::mount::mount_bind_recursive(source, target)?;
    } else {
        rustix::mount::mount_bind(source, target)?;
    }
    // Other flags (read-only…) need a remount of the new mount, which the
    // caller does through a fresh resolution: `target` names what lies
    // under it.
    Ok(())
}

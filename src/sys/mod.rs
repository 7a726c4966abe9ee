//! Every conversation with the kernel that needs care lives here.
//!
//! Paths inside a layer are attacker-controlled (they come from tar archives
//! and, later, from containers). [`BeneathDir`] is the only way the rest of the
//! crate opens such a path: it resolves with `openat2(RESOLVE_BENEATH |
//! RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)`, so no `..`, absolute path or
//! symlink anywhere in the path can lead out of the directory, and a handle of
//! that type can only be made that way. Operations on a single entry take a
//! [`Name`], which cannot contain a `/`, and never follow a final symlink.
//!
//! This is the only module allowed `unsafe`. Most of it needs none, because
//! `rustix` wraps each syscall safely; `process` holds the few wrappers the
//! container runner needs (spawning with kept descriptors, `unshare`,
//! inherited descriptors, the loopback `ioctl`), each with why it is sound;
//! `fdpass` passes descriptors over unix sockets (`SCM_RIGHTS`); `fuse_dev`
//! the `/dev/fuse` ioctls (cloning a reader's descriptor, passthrough
//! backings); `uring` the rings of FUSE over io_uring and their buffers; `xattr` calls
//! `getxattrat`, which `rustix` does not wrap yet; `seccomp` installs a
//! compiled seccomp program and `bpf` loads and attaches a cgroup device
//! program (the containers' confinement).

mod beneath;
#[allow(unsafe_code)]
pub mod bpf;
mod credentials;
mod fdpass;
#[allow(unsafe_code)]
mod fuse_dev;
mod lock;
#[allow(unsafe_code)]
mod malloc;
#[allow(unsafe_code)]
mod map;
#[allow(unsafe_code)]
mod process;
#[allow(unsafe_code)]
pub mod seccomp;
#[allow(unsafe_code)]
pub mod signals;
#[allow(unsafe_code)]
pub mod uring;
#[allow(unsafe_code)]
pub mod xattr;

pub use beneath::{BeneathDir, Name, NameError};
pub use credentials::{ProcessCredentials, process_credentials};
pub use fdpass::{recv_with_fds, send_with_fds};
pub use fuse_dev::{clone_fuse_dev, close_backing, open_backing};
pub use lock::LockFile;
pub use malloc::keep_large_blocks_mapped;
pub use map::ImmutableMap;
pub use process::{
    cloexec_from, loopback_up, signal_from_raw, spawn_keeping_fds, take_inherited_fd, unshare_namespaces,
};

use std::io;
use std::os::fd::AsFd;

/// True when the process runs with effective uid 0.
pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// The effective uid and gid of this process.
pub fn ids() -> (u32, u32) {
    (rustix::process::geteuid().as_raw(), rustix::process::getegid().as_raw())
}

/// Flushes every dirty page of the filesystem holding `fd` in one call.
/// Cheaper than an fsync per extracted file, and it orders all of a layer's
/// data before the rename that makes the layer visible.
pub fn syncfs(fd: impl AsFd) -> io::Result<()> {
    Ok(rustix::fs::syncfs(fd)?)
}

/// `fsync` of a directory, so a rename inside it is durable.
pub fn fsync_dir(path: &std::path::Path) -> io::Result<()> {
    let dir = std::fs::File::open(path)?;
    dir.sync_all()
}

/// Writes `bytes` to `path` so that a crash leaves the old file or the new
/// one: a temporary beside it (`.NAME.tmp`), fsync, rename, fsync of the
/// directory. The file is made with `mode` (the umask may only remove bits):
/// the store's records are its user's alone (`0o600`).
pub fn write_atomic(path: &std::path::Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let dir = path.parent().unwrap_or(std::path::Path::new("."));
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let tmp = dir.join(format!(".{name}.tmp"));
    {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&tmp)?;
        // An older temporary may have been made with a wider mode.
        f.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(mode))?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    fsync_dir(dir)
}

/// Makes `path` reachable by its owner only: `0o700` for a directory,
/// `0o600` for anything else (never following a symlink). The store and
/// what it keeps are the daemon's user's alone, as Docker keeps its root.
pub fn make_private(path: &std::path::Path) -> io::Result<()> {
    let st = rustix::fs::lstat(path)?;
    let mode = match rustix::fs::FileType::from_raw_mode(st.st_mode) {
        rustix::fs::FileType::Directory => 0o700,
        rustix::fs::FileType::Symlink => return Ok(()),
        _ => 0o600,
    };
    if st.st_mode & 0o7777 != mode {
        rustix::fs::chmod(path, rustix::fs::Mode::from_raw_mode(mode))?;
    }
    Ok(())
}

/// Points standard output at `file` (`dup2`), so a detached server's later
/// writes cannot hit a closed pipe.
pub fn redirect_stdout(file: &std::fs::File) -> io::Result<()> {
    Ok(rustix::stdio::dup2_stdout(file)?)
}

/// The kernel release string (`uname -r`).
pub fn kernel_release() -> String {
    rustix::system::uname().release().to_string_lossy().into_owned()
}

/// The host name (`uname -n`).
pub fn hostname() -> String {
    rustix::system::uname().nodename().to_string_lossy().into_owned()
}

/// Detaches the mount at `path` (`umount2(MNT_DETACH)`): it goes from the
/// tree now and away once nothing uses it. Not mounted: `EINVAL`.
pub fn unmount_lazy(path: &std::path::Path) -> io::Result<()> {
    Ok(rustix::mount::unmount(path, rustix::mount::UnmountFlags::DETACH)?)
}

/// Binds the tree at `source` at `target` too (`mount --bind`, not
/// recursive).
pub fn bind_mount(source: &std::path::Path, target: &std::path::Path) -> io::Result<()> {
    Ok(rustix::mount::mount_bind(source, target)?)
}

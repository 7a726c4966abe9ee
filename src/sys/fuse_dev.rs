//! The `/dev/fuse` ioctls stratafs's own request loop needs
//! (`include/uapi/linux/fuse.h`): cloning the device for another reader
//! (`FUSE_DEV_IOC_CLONE`) and opening and closing passthrough backings
//! (`FUSE_DEV_IOC_BACKING_OPEN` / `_CLOSE`). Each is an `ioctl` with a
//! small argument of a fixed layout, wrapped here so the rest of the crate
//! stays free of `unsafe`.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

/// `_IOR(229, 0, uint32_t)`.
const FUSE_DEV_IOC_CLONE: rustix::ioctl::Opcode = 0x8004_e500;
/// `_IOW(229, 1, struct fuse_backing_map)` (16 bytes).
const FUSE_DEV_IOC_BACKING_OPEN: rustix::ioctl::Opcode = 0x4010_e501;
/// `_IOW(229, 2, uint32_t)`.
const FUSE_DEV_IOC_BACKING_CLOSE: rustix::ioctl::Opcode = 0x4004_e502;

/// `struct fuse_backing_map`.
#[repr(C)]
struct BackingMap {
    fd: i32,
    flags: u32,
    padding: u64,
}

/// A new `/dev/fuse` descriptor attached to the connection of `dev`: the
/// kernel hands each request to one of the connection's descriptors, so
/// each reader thread reads its own (fuser's `clone_fd`).
pub fn clone_fuse_dev(dev: BorrowedFd<'_>) -> io::Result<OwnedFd> {
    let new: OwnedFd = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/fuse")?
        .into();
    let mut source = dev.as_raw_fd() as u32;
    // SAFETY: FUSE_DEV_IOC_CLONE reads one u32 (the descriptor to clone)
    // through the pointer, which points at a live u32 for the call.
    unsafe {
        rustix::ioctl::ioctl(
            &new,
            rustix::ioctl::Updater::<FUSE_DEV_IOC_CLONE, u32>::new(&mut source),
        )?;
    }
    Ok(new)
}

/// Registers `file` as a passthrough backing with the connection of `dev`
/// (needs CAP_SYS_ADMIN in the initial user namespace): the backing id an
/// OPEN or CREATE reply names it by.
pub fn open_backing(dev: BorrowedFd<'_>, file: impl AsFd) -> io::Result<u32> {
    let map = BackingMap {
        fd: file.as_fd().as_raw_fd(),
        flags: 0,
        padding: 0,
    };
    // SAFETY: BACKING_OPEN reads a `struct fuse_backing_map` (16 bytes,
    // this layout) through the pointer, which points at `map`, live for the
    // call; the descriptor in it is open (borrowed from `file`). It returns
    // the id, or -1 with errno set.
    let id = unsafe {
        libc::ioctl(
            dev.as_raw_fd(),
            FUSE_DEV_IOC_BACKING_OPEN as _,
            &map as *const BackingMap,
        )
    };
    match u32::try_from(id) {
        Ok(id) => Ok(id),
        Err(_) => Err(io::Error::last_os_error()),
    }
}

/// Drops the passthrough backing `id` of the connection of `dev`.
pub fn close_backing(dev: BorrowedFd<'_>, id: u32) -> io::Result<()> {
    // SAFETY: BACKING_CLOSE reads one u32 (the id) through the pointer,
    // live for the call.
    unsafe {
        rustix::ioctl::ioctl(dev, rustix::ioctl::Setter::<FUSE_DEV_IOC_BACKING_CLOSE, u32>::new(id))?;
    }
    Ok(())
}

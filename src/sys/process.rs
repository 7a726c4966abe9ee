//! The few process and namespace primitives of the container runner that
//! need `unsafe`: each is a small safe wrapper with its soundness argument.

use rustix::thread::UnshareFlags;
use std::collections::HashSet;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};
use std::sync::Mutex;

/// Spawns `cmd` so that the child keeps `fds` open across `execve` (they
/// stay close-on-exec in this process, so no other child inherits them).
/// Takes the command by value: the hook that refers to the descriptors must
/// not outlive this call.
pub fn spawn_keeping_fds(mut cmd: Command, fds: &[BorrowedFd<'_>]) -> io::Result<Child> {
    let raw: Vec<RawFd> = fds.iter().map(|fd| fd.as_raw_fd()).collect();
    // SAFETY: the hook runs in the child between fork and exec, where only
    // async-signal-safe work is allowed: it reads the vector (allocated
    // before the fork) and makes one direct `fcntl` syscall per descriptor
    // (rustix issues it without libc, locks or allocation; an error becomes
    // an `io::Error` from a raw errno, which does not allocate either). The
    // descriptors are open in the child: the caller's borrows keep them open
    // in the parent for the whole of this call, and the fork copies them.
    unsafe {
        cmd.pre_exec(move || {
            for &fd in &raw {
                let fd = BorrowedFd::borrow_raw(fd);
                rustix::io::fcntl_setfd(fd, rustix::io::FdFlags::empty())?;
            }
            Ok(())
        });
    }
    cmd.spawn()
}

/// `unshare(2)` limited to namespace flags.
pub fn unshare_namespaces(flags: UnshareFlags) -> io::Result<()> {
    let allowed = UnshareFlags::NEWNS
        | UnshareFlags::NEWUTS
        | UnshareFlags::NEWIPC
        | UnshareFlags::NEWPID
        | UnshareFlags::NEWNET
        | UnshareFlags::NEWUSER
        | UnshareFlags::NEWCGROUP;
    if !allowed.contains(flags) {
        return Err(io::Error::from(rustix::io::Errno::INVAL));
    }
    // SAFETY: rustix marks unshare unsafe because CLONE_FILES would make the
    // process's descriptor table change under Rust's ownership model (and
    // CLONE_FS/SYSVSEM similar shared state). Only namespace flags get here;
    // they touch neither memory nor descriptors.
    unsafe { Ok(rustix::thread::unshare_unsafe(flags)?) }
}

static TAKEN: Mutex<Option<HashSet<RawFd>>> = Mutex::new(None);

/// Takes ownership of a descriptor this process inherited from its parent,
/// whose number the parent passed (in the environment) to a helper entry
/// point. Each number can be taken once; standard streams are refused, as
/// are numbers that are not open.
pub fn take_inherited_fd(raw: RawFd) -> io::Result<OwnedFd> {
    let ebadf = || io::Error::from(rustix::io::Errno::BADF);
    if raw < 3 {
        return Err(ebadf());
    }
    let mut taken = TAKEN.lock().map_err(|_| ebadf())?;
    let set = taken.get_or_insert_with(HashSet::new);
    if set.contains(&raw) {
        return Err(ebadf());
    }
    // SAFETY: `fcntl(F_GETFD)` on a number that is not open only fails with
    // EBADF; the borrow does not outlive the call.
    rustix::io::fcntl_getfd(unsafe { BorrowedFd::borrow_raw(raw) })?;
    set.insert(raw);
    // SAFETY: the descriptor is open (checked above) and was inherited
    // across exec for this purpose: nothing else in this process knows its
    // number (the helper entry points call this first, before opening
    // anything), and the set above makes sure it gets one owner only.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

/// Brings the loopback interface of the current network namespace up
/// (`SIOCGIFFLAGS`, then `SIOCSIFFLAGS` with `IFF_UP`).
pub fn loopback_up() -> io::Result<()> {
    const SIOCGIFFLAGS: rustix::ioctl::Opcode = 0x8913;
    const SIOCSIFFLAGS: rustix::ioctl::Opcode = 0x8914;
    const IFF_UP: i16 = 0x1;
    // `struct ifreq`: a 16-byte name, then a 24-byte union whose first two
    // bytes are `ifr_flags`.
    let socket = std::net::UdpSocket::bind("0.0.0.0:0")?;
    let mut ifreq = [0u8; 40];
    ifreq[..2].copy_from_slice(b"lo");
    // SAFETY: both requests read and write a `struct ifreq`, 40 bytes on
    // every 64-bit Linux (and less on 32-bit); the buffer is that large and
    // lives across the call.
    unsafe {
        rustix::ioctl::ioctl(
            &socket,
            rustix::ioctl::Updater::<SIOCGIFFLAGS, [u8; 40]>::new(&mut ifreq),
        )?;
    }
    let flags = i16::from_ne_bytes([ifreq[16], ifreq[17]]) | IFF_UP;
    ifreq[16..18].copy_from_slice(&flags.to_ne_bytes());
    // SAFETY: as above.
    unsafe {
        rustix::ioctl::ioctl(
            &socket,
            rustix::ioctl::Updater::<SIOCSIFFLAGS, [u8; 40]>::new(&mut ifreq),
        )?;
    }
    Ok(())
}

/// The signal with number `sig`, including real-time signals; `None` when
/// `sig` is not a signal number (1..=64).
pub fn signal_from_raw(sig: i32) -> Option<rustix::process::Signal> {
    if let Some(s) = rustix::process::Signal::from_named_raw(sig) {
        return Some(s);
    }
    if (1..=64).contains(&sig) {
        // SAFETY: rustix only asks that the number be a valid signal number
        // for the platform, which 1..=64 is on Linux (the real-time signals
        // the named ones leave out lie in 32..=64).
        return Some(unsafe { rustix::process::Signal::from_raw_unchecked(sig) });
    }
    None
}

/// Marks every open descriptor from `min` up close-on-exec, so that an exec
/// passes on nothing this process inherited without the flag (a parent's
/// stray descriptors must not reach a container).
pub fn cloexec_from(min: RawFd) -> io::Result<()> {
    let fds: Vec<RawFd> = std::fs::read_dir("/proc/self/fd")?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    for fd in fds.into_iter().filter(|&fd| fd >= min) {
        // SAFETY: the borrow lasts for two fcntl calls and closes nothing;
        // a number that is no longer open (the directory listing's own
        // descriptor) only makes them fail with EBADF, which is ignored.
        let fd = unsafe { BorrowedFd::borrow_raw(fd) };
        if let Ok(flags) = rustix::io::fcntl_getfd(fd) {
            let _ = rustix::io::fcntl_setfd(fd, flags | rustix::io::FdFlags::CLOEXEC);
        }
    }
    Ok(())
}

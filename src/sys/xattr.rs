//! Extended attributes of an object held by an `O_PATH` descriptor (which
//! `fgetxattr` refuses): reached through `/proc/self/fd/N`, which names
//! exactly that object, symlinks included, with no path to resolve.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::sync::atomic::{AtomicBool, Ordering};

/// The path names the descriptor only while it is open: callers keep `fd`
/// alive across the syscall (each function below holds it to its end).
fn proc_path(fd: &impl AsFd) -> String {
    format!("/proc/self/fd/{}", fd.as_fd().as_raw_fd())
}

fn is_absent(e: &rustix::io::Errno) -> bool {
    *e == rustix::io::Errno::NODATA || *e == rustix::io::Errno::NOTSUP
}

/// The value of `name`, or None when the object has no such attribute (or
/// its filesystem no xattrs).
pub fn get(fd: impl AsFd, name: &str) -> io::Result<Option<Vec<u8>>> {
    let path = proc_path(&fd);
    let mut buf = Vec::with_capacity(256);
    loop {
        match rustix::fs::getxattr(path.as_str(), name, rustix::buffer::spare_capacity(&mut buf)) {
            Ok(_) => return Ok(Some(buf)),
            Err(rustix::io::Errno::RANGE) => {
                let size = rustix::fs::getxattr_query(path.as_str(), name)?;
                buf = Vec::with_capacity(size.max(buf.capacity() * 2));
            }
            Err(e) if is_absent(&e) => return Ok(None),
            Err(e) => return Err(e.into()),
        }
    }
}

/// The attribute names, each without its NUL.
pub fn list(fd: impl AsFd) -> io::Result<Vec<Vec<u8>>> {
    let path = proc_path(&fd);
    let mut buf = Vec::with_capacity(1024);
    loop {
        match rustix::fs::listxattr(path.as_str(), rustix::buffer::spare_capacity(&mut buf)) {
            Ok(_) => break,
            Err(rustix::io::Errno::RANGE) => {
                let size = rustix::fs::listxattr_query(path.as_str())?;
                buf = Vec::with_capacity(size.max(buf.capacity() * 2));
            }
            Err(rustix::io::Errno::NOTSUP) => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(buf
        .split(|&c| c == 0)
        .filter(|n| !n.is_empty())
        .map(<[u8]>::to_vec)
        .collect())
}

pub fn set(fd: impl AsFd, name: &str, value: &[u8], flags: rustix::fs::XattrFlags) -> io::Result<()> {
    let path = proc_path(&fd);
    Ok(rustix::fs::setxattr(path.as_str(), name, value, flags)?)
}

pub fn remove(fd: impl AsFd, name: &str) -> io::Result<()> {
    let path = proc_path(&fd);
    Ok(rustix::fs::removexattr(path.as_str(), name)?)
}

/// The value of `attr` on the entry `name` of the directory `dir`, without
/// opening the entry and without following a final symlink. A `Name` has no
/// `/` and is not `.` or `..`, so exactly one component is resolved and
/// nothing outside `dir` can be reached.
///
/// `getxattrat` (Linux 6.13) does it in one step. Older kernels go through
/// `/proc/self/fd/N/NAME`, which costs a procfs lookup on top: this is on
/// the path of every lookup of a copied-up object (its origin record) and of
/// the `security.capability` query the kernel makes before each write.
pub fn get_at(dir: impl AsFd, name: crate::sys::Name<'_>, attr: &str) -> io::Result<Option<Vec<u8>>> {
    use std::os::unix::ffi::OsStrExt;
    let name = std::ffi::OsStr::from_bytes(name.as_bytes());
    if !NO_GETXATTRAT.load(Ordering::Relaxed) {
        match get_at_syscall(dir.as_fd(), name, attr) {
            Err(rustix::io::Errno::NOSYS) => NO_GETXATTRAT.store(true, Ordering::Relaxed),
            // Seccomp filters written before the syscall existed may refuse
            // it with EPERM rather than ENOSYS: ask the old way, which gives
            // the real answer (an xattr read has no EPERM of its own here).
            Err(rustix::io::Errno::PERM) => {}
            Err(e) if is_absent(&e) => return Ok(None),
            res => return Ok(Some(res?)),
        }
    }
    get_at_proc(dir, name, attr)
}

/// `get_at` through `/proc/self/fd/N/NAME`, for kernels before 6.13.
fn get_at_proc(dir: impl AsFd, name: &std::ffi::OsStr, attr: &str) -> io::Result<Option<Vec<u8>>> {
    use std::os::unix::ffi::OsStrExt;
    let mut path = proc_path(&dir).into_bytes();
    path.push(b'/');
    path.extend_from_slice(name.as_bytes());
    let path = std::ffi::OsStr::from_bytes(&path);
    let mut buf = Vec::with_capacity(64);
    loop {
        match rustix::fs::lgetxattr(path, attr, rustix::buffer::spare_capacity(&mut buf)) {
            Ok(_) => return Ok(Some(buf)),
            Err(rustix::io::Errno::RANGE) => {
                let size = rustix::fs::lgetxattr_query(path, attr)?;
                buf = Vec::with_capacity(size.max(buf.capacity() * 2));
            }
            Err(e) if is_absent(&e) => return Ok(None),
            Err(e) => return Err(e.into()),
        }
    }
}

/// Set once `getxattrat` is found missing: the fallback is then taken
/// without asking again.
static NO_GETXATTRAT: AtomicBool = AtomicBool::new(false);

/// `getxattrat(2)`: a new syscall, so the same number on every architecture.
const SYS_GETXATTRAT: libc::c_long = 464;

/// The kernel's `struct xattr_args`.
#[repr(C)]
struct XattrArgs {
    value: u64,
    size: u32,
    flags: u32,
}

fn get_at_syscall(dir: BorrowedFd<'_>, name: &std::ffi::OsStr, attr: &str) -> rustix::io::Result<Vec<u8>> {
    use rustix::path::Arg;
    name.into_with_c_str(|name| {
        attr.into_with_c_str(|attr| {
            let mut buf: Vec<u8> = Vec::with_capacity(64);
            loop {
                let mut args = XattrArgs {
                    value: buf.as_mut_ptr() as u64,
                    size: u32::try_from(buf.capacity()).unwrap_or(u32::MAX),
                    flags: 0,
                };
                // SAFETY: `name` and `attr` are NUL-terminated and live
                // across the call; `args` is the kernel's struct, passed with
                // its size, and points at `buf`'s spare capacity of
                // `args.size` bytes, the most the kernel writes there.
                let ret = unsafe {
                    libc::syscall(
                        SYS_GETXATTRAT,
                        dir.as_raw_fd(),
                        name.as_ptr(),
                        libc::AT_SYMLINK_NOFOLLOW,
                        attr.as_ptr(),
                        &mut args as *mut XattrArgs,
                        std::mem::size_of::<XattrArgs>(),
                    )
                };
                if ret >= 0 {
                    let len = usize::try_from(ret).unwrap_or(0).min(buf.capacity());
                    // SAFETY: the kernel initialised the first `len` bytes
                    // (its return value), within the capacity.
                    unsafe { buf.set_len(len) };
                    return Ok(buf);
                }
                let errno =
                    rustix::io::Errno::from_raw_os_error(io::Error::last_os_error().raw_os_error().unwrap_or(0));
                if errno != rustix::io::Errno::RANGE || buf.capacity() >= 1 << 16 {
                    return Err(errno);
                }
                // Values are at most 64 KiB; grow until it fits.
                buf = Vec::with_capacity(buf.capacity() * 4);
            }
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The syscall and the `/proc` fallback agree: a value (one longer than
    /// the first buffer, so it is grown), an absent attribute, and a
    /// symlink, whose target's attributes are not reached.
    #[test]
    fn getxattrat_and_its_fallback_agree() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, "x").unwrap();
        std::os::unix::fs::symlink("f", dir.path().join("l")).unwrap();
        let value: Vec<u8> = (0..200u8).collect();
        if let Err(e) = rustix::fs::setxattr(&file, "user.strata.test", &value, rustix::fs::XattrFlags::empty()) {
            eprintln!("SKIP: {} has no user xattrs ({e})", dir.path().display());
            return;
        }
        let held = rustix::fs::open(
            dir.path(),
            rustix::fs::OFlags::PATH | rustix::fs::OFlags::DIRECTORY,
            rustix::fs::Mode::empty(),
        )
        .unwrap();
        let name = |n: &'static str| std::ffi::OsStr::new(n);
        for (entry, attr, want) in [
            ("f", "user.strata.test", Some(value.clone())),
            ("f", "user.strata.absent", None),
            ("l", "user.strata.test", None),
        ] {
            let by_proc = get_at_proc(&held, name(entry), attr).unwrap();
            assert_eq!(by_proc, want, "{entry} {attr} through /proc");
            match get_at_syscall(held.as_fd(), name(entry), attr) {
                Err(rustix::io::Errno::NOSYS) => eprintln!("SKIP: no getxattrat before Linux 6.13"),
                Ok(v) => assert_eq!(Some(v), want, "{entry} {attr} through getxattrat"),
                Err(e) if is_absent(&e) => assert_eq!(want, None, "{entry} {attr} through getxattrat"),
                Err(e) => panic!("getxattrat: {e}"),
            }
            let via_name = crate::sys::Name::new(entry.as_bytes()).unwrap();
            assert_eq!(get_at(&held, via_name, attr).unwrap(), want);
        }
    }
}

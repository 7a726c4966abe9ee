//! Extended attributes of an object held by an `O_PATH` descriptor (which
//! `fgetxattr` refuses): reached through `/proc/self/fd/N`, which names
//! exactly that object, symlinks included, with no path to resolve.

use std::io;
use std::os::fd::{AsFd, AsRawFd};

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
/// opening the entry: `/proc/self/fd/N/NAME` resolves exactly one component
/// (a `Name` has no `/` and is not `.` or `..`) and `lgetxattr` does not
/// follow a final symlink, so nothing outside `dir` can be reached.
pub fn get_at(dir: impl AsFd, name: crate::sys::Name<'_>, attr: &str) -> io::Result<Option<Vec<u8>>> {
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

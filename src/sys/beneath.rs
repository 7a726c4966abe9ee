use rustix::fs::{AtFlags, Dev, FileType, Mode, OFlags, ResolveFlags, Stat, Timestamps};
use rustix::io::Errno;
use std::ffi::OsStr;
use std::fmt;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Longest name of one directory entry (NAME_MAX).
pub const NAME_MAX: usize = 255;

/// One path component: non-empty, at most 255 bytes, no `/` or NUL, not `.`
/// or `..`. Operations that take a `Name` act on an entry of a directory
/// handle and so cannot be steered elsewhere.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Name<'a>(&'a [u8]);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NameError {
    #[error("empty path component")]
    Empty,
    #[error("path component is `.` or `..`")]
    Dot,
    #[error("path component contains `/` or NUL")]
    Separator,
    #[error("path component longer than {NAME_MAX} bytes")]
    TooLong,
}

impl<'a> Name<'a> {
    pub fn new(bytes: &'a [u8]) -> Result<Self, NameError> {
        match bytes {
            [] => Err(NameError::Empty),
            b"." | b".." => Err(NameError::Dot),
            _ if bytes.len() > NAME_MAX => Err(NameError::TooLong),
            _ if bytes.iter().any(|&c| c == b'/' || c == 0) => Err(NameError::Separator),
            _ => Ok(Name(bytes)),
        }
    }

    pub fn as_bytes(&self) -> &'a [u8] {
        self.0
    }

    fn os(&self) -> &'a OsStr {
        OsStr::from_bytes(self.0)
    }
}

impl fmt::Debug for Name<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self.0))
    }
}

/// A directory handle that can only reach what lies beneath it.
#[derive(Debug)]
pub struct BeneathDir {
    fd: OwnedFd,
}

const BENEATH: ResolveFlags = ResolveFlags::BENEATH
    .union(ResolveFlags::NO_SYMLINKS)
    .union(ResolveFlags::NO_MAGICLINKS);

fn dir_flags() -> OFlags {
    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::NOFOLLOW
}

impl BeneathDir {
    /// Opens a trusted directory (the store's own paths) as the root of a
    /// beneath-only handle.
    pub fn open(path: &Path) -> io::Result<BeneathDir> {
        let fd = rustix::fs::open(path, dir_flags(), Mode::empty())?;
        Ok(BeneathDir { fd })
    }

    /// Opens the directory at `rel` (components separated by `/`, relative)
    /// beneath this one. An empty `rel` reopens this directory. Any symlink,
    /// `..` or absolute path fails with `ELOOP`/`EXDEV`.
    pub fn open_dir(&self, rel: &[u8]) -> io::Result<BeneathDir> {
        let rel: &[u8] = if rel.is_empty() { b"." } else { rel };
        let fd = rustix::fs::openat2(&self.fd, OsStr::from_bytes(rel), dir_flags(), Mode::empty(), BENEATH)?;
        Ok(BeneathDir { fd })
    }

    /// Opens the entry at `rel` beneath this directory for reading without
    /// following symlinks anywhere (a symlink itself is opened `O_PATH`).
    pub fn open_path(&self, rel: &[u8]) -> io::Result<OwnedFd> {
        let rel: &[u8] = if rel.is_empty() { b"." } else { rel };
        Ok(rustix::fs::openat2(
            &self.fd,
            OsStr::from_bytes(rel),
            OFlags::PATH | OFlags::CLOEXEC | OFlags::NOFOLLOW,
            Mode::empty(),
            BENEATH,
        )?)
    }

    /// Another handle on the same directory (`dup`): still beneath-only.
    pub fn try_clone(&self) -> io::Result<BeneathDir> {
        Ok(BeneathDir {
            fd: self.fd.try_clone()?,
        })
    }

    /// Opens the file at `rel` beneath this directory, never following a
    /// symlink (a final symlink fails with `ELOOP`). `O_CREAT` is not allowed
    /// here: creation goes through [`BeneathDir::create_file`] on a parent.
    pub fn open_file(&self, rel: &[u8], flags: OFlags) -> io::Result<File> {
        let flags = (flags - OFlags::CREATE - OFlags::EXCL) | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd = rustix::fs::openat2(&self.fd, OsStr::from_bytes(rel), flags, Mode::empty(), BENEATH)?;
        Ok(File::from(fd))
    }

    /// `lstat` of the entry at `rel` beneath this directory (the directory
    /// itself for an empty `rel`).
    pub fn stat_path(&self, rel: &[u8]) -> io::Result<Stat> {
        if rel.is_empty() {
            return self.stat_self();
        }
        Ok(rustix::fs::fstat(self.open_path(rel)?)?)
    }

    /// Opens an entry of this directory with the given flags (no creation,
    /// no following a final symlink).
    pub fn open_child(&self, name: Name<'_>, flags: OFlags) -> io::Result<File> {
        let flags = (flags - OFlags::CREATE - OFlags::EXCL) | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        Ok(File::from(rustix::fs::openat(
            &self.fd,
            name.os(),
            flags,
            Mode::empty(),
        )?))
    }

    /// Creates a file with the caller's flags (`O_CREAT | O_EXCL` added).
    pub fn create_with(&self, name: Name<'_>, flags: OFlags, mode: u32) -> io::Result<File> {
        let flags = flags | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        Ok(File::from(rustix::fs::openat(
            &self.fd,
            name.os(),
            flags,
            Mode::from_raw_mode(mode),
        )?))
    }

    /// `readlink` of an entry.
    pub fn read_link(&self, name: Name<'_>) -> io::Result<Vec<u8>> {
        Ok(rustix::fs::readlinkat(&self.fd, name.os(), Vec::new())?.into_bytes())
    }

    /// Removes an empty directory entry.
    pub fn rmdir(&self, name: Name<'_>) -> io::Result<()> {
        Ok(rustix::fs::unlinkat(&self.fd, name.os(), AtFlags::REMOVEDIR)?)
    }

    /// `renameat2` with flags (`NOREPLACE`, `EXCHANGE`, or none).
    pub fn rename(
        &self,
        name: Name<'_>,
        dst_dir: &BeneathDir,
        dst: Name<'_>,
        flags: rustix::fs::RenameFlags,
    ) -> io::Result<()> {
        Ok(rustix::fs::renameat_with(
            &self.fd,
            name.os(),
            &dst_dir.fd,
            dst.os(),
            flags,
        )?)
    }

    pub fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Reads this directory's entries from the start, on this handle
    /// itself (`Dir::read_from` would reopen it first: three syscalls more).
    pub fn into_entries(self) -> io::Result<rustix::fs::Dir> {
        Ok(rustix::fs::Dir::new(self.fd)?)
    }

    /// Creates a new regular file; fails with `EEXIST` if the name is taken.
    pub fn create_file(&self, name: Name<'_>, mode: u32) -> io::Result<File> {
        let fd = rustix::fs::openat(
            &self.fd,
            name.os(),
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(mode),
        )?;
        Ok(File::from(fd))
    }

    pub fn mkdir(&self, name: Name<'_>, mode: u32) -> io::Result<()> {
        Ok(rustix::fs::mkdirat(&self.fd, name.os(), Mode::from_raw_mode(mode))?)
    }

    pub fn child_dir(&self, name: Name<'_>) -> io::Result<BeneathDir> {
        self.open_dir(name.as_bytes())
    }

    /// Creates a symlink. The target is stored as data and never resolved here.
    pub fn symlink(&self, target: &[u8], name: Name<'_>) -> io::Result<()> {
        Ok(rustix::fs::symlinkat(OsStr::from_bytes(target), &self.fd, name.os())?)
    }

    /// Creates a special file: `kind` is a fifo, socket, char or block device.
    pub fn mknod(&self, name: Name<'_>, kind: FileType, mode: u32, dev: Dev) -> io::Result<()> {
        Ok(rustix::fs::mknodat(
            &self.fd,
            name.os(),
            kind,
            Mode::from_raw_mode(mode),
            dev,
        )?)
    }

    /// Hard-links `src_dir/src_name` (never following a symlink) as `name` here.
    pub fn link_from(&self, src_dir: &BeneathDir, src_name: Name<'_>, name: Name<'_>) -> io::Result<()> {
        Ok(rustix::fs::linkat(
            &src_dir.fd,
            src_name.os(),
            &self.fd,
            name.os(),
            AtFlags::empty(),
        )?)
    }

    /// `lstat` of an entry.
    pub fn stat(&self, name: Name<'_>) -> io::Result<Stat> {
        Ok(rustix::fs::statat(&self.fd, name.os(), AtFlags::SYMLINK_NOFOLLOW)?)
    }

    pub fn stat_self(&self) -> io::Result<Stat> {
        Ok(rustix::fs::fstat(&self.fd)?)
    }

    /// Changes the owner of an entry without following a symlink.
    pub fn chown(&self, name: Name<'_>, uid: u32, gid: u32) -> io::Result<()> {
        Ok(rustix::fs::chownat(
            &self.fd,
            name.os(),
            Some(rustix::fs::Uid::from_raw(uid)),
            Some(rustix::fs::Gid::from_raw(gid)),
            AtFlags::SYMLINK_NOFOLLOW,
        )?)
    }

    /// Sets access and modification times of an entry without following a symlink.
    pub fn set_times(&self, name: Name<'_>, times: &Timestamps) -> io::Result<()> {
        Ok(rustix::fs::utimensat(
            &self.fd,
            name.os(),
            times,
            AtFlags::SYMLINK_NOFOLLOW,
        )?)
    }

    /// `chmod` of an entry that is not a symlink: `fchmodat` would follow a
    /// final symlink, so one is refused with `ELOOP`.
    pub fn chmod(&self, name: Name<'_>, mode: u32) -> io::Result<()> {
        if FileType::from_raw_mode(self.stat(name)?.st_mode) == FileType::Symlink {
            return Err(Errno::LOOP.into());
        }
        Ok(rustix::fs::chmodat(
            &self.fd,
            name.os(),
            Mode::from_raw_mode(mode),
            AtFlags::empty(),
        )?)
    }

    /// Removes a non-directory entry.
    pub fn unlink(&self, name: Name<'_>) -> io::Result<()> {
        Ok(rustix::fs::unlinkat(&self.fd, name.os(), AtFlags::empty())?)
    }

    /// Removes an entry of any type, a directory with everything below it.
    pub fn remove_all(&self, name: Name<'_>) -> io::Result<()> {
        match rustix::fs::unlinkat(&self.fd, name.os(), AtFlags::empty()) {
            Ok(()) => return Ok(()),
            Err(Errno::ISDIR) | Err(Errno::PERM) => {}
            Err(e) => return Err(e.into()),
        }
        let child = self.child_dir(name)?;
        child.clear()?;
        Ok(rustix::fs::unlinkat(&self.fd, name.os(), AtFlags::REMOVEDIR)?)
    }

    /// Removes everything inside this directory.
    pub fn clear(&self) -> io::Result<()> {
        // Make the directory writable and searchable for us (a tar may have
        // left it 0555 or 0000).
        let st = self.stat_self()?;
        if st.st_mode & 0o700 != 0o700 {
            rustix::fs::fchmod(&self.fd, Mode::from_raw_mode((st.st_mode | 0o700) & 0o7777))?;
        }
        for name in self.entry_names()? {
            self.remove_all(Name::new(&name).map_err(io::Error::other)?)?;
        }
        Ok(())
    }

    /// The names in this directory, without `.` and `..`.
    pub fn entry_names(&self) -> io::Result<Vec<Vec<u8>>> {
        let mut names = Vec::new();
        let mut dir = rustix::fs::Dir::read_from(&self.fd)?;
        while let Some(entry) = dir.read() {
            let entry = entry?;
            let name = entry.file_name().to_bytes();
            if name != b"." && name != b".." {
                names.push(name.to_vec());
            }
        }
        Ok(names)
    }

    /// Renames an entry of this directory into `dst_dir`, replacing nothing:
    /// fails with `EEXIST` if the destination exists.
    pub fn rename_noreplace(&self, name: Name<'_>, dst_dir: &BeneathDir, dst: Name<'_>) -> io::Result<()> {
        Ok(rustix::fs::renameat_with(
            &self.fd,
            name.os(),
            &dst_dir.fd,
            dst.os(),
            rustix::fs::RenameFlags::NOREPLACE,
        )?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_reject_separators_dots_and_long() {
        assert!(Name::new(b"ok").is_ok());
        assert_eq!(Name::new(b""), Err(NameError::Empty));
        assert_eq!(Name::new(b".."), Err(NameError::Dot));
        assert_eq!(Name::new(b"a/b"), Err(NameError::Separator));
        assert_eq!(Name::new(&[b'x'; 256]), Err(NameError::TooLong));
        assert!(Name::new(&[b'x'; 255]).is_ok());
    }

    #[test]
    fn open_dir_refuses_symlinks_dotdot_and_absolute() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir(tmp.path().join("inside")).unwrap();
        std::fs::create_dir(tmp.path().join("inside/d")).unwrap();
        std::os::unix::fs::symlink("/etc", tmp.path().join("inside/out")).unwrap();
        std::os::unix::fs::symlink("d", tmp.path().join("inside/in")).unwrap();
        let root = BeneathDir::open(&tmp.path().join("inside")).unwrap();
        assert!(root.open_dir(b"d").is_ok());
        assert!(root.open_dir(b"").is_ok());
        assert!(root.open_dir(b"out").is_err());
        assert!(root.open_dir(b"in").is_err(), "even an in-tree symlink is refused");
        assert!(root.open_dir(b"../inside").is_err());
        assert!(root.open_dir(b"/etc").is_err());
    }

    #[test]
    fn remove_all_clears_unwritable_trees() {
        let tmp = tempfile::tempdir().unwrap();
        let top = tmp.path().join("t");
        std::fs::create_dir_all(top.join("a/b")).unwrap();
        std::fs::write(top.join("a/b/f"), b"x").unwrap();
        std::os::unix::fs::symlink("/", top.join("a/link")).unwrap();
        let root = BeneathDir::open(tmp.path()).unwrap();
        root.remove_all(Name::new(b"t").unwrap()).unwrap();
        assert!(!top.exists());
    }
}

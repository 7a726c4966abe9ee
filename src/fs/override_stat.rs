//! Privileges kept off the disk of a writable layer (`privileges_in_xattrs`).
//!
//! A set-uid or set-gid bit, a device node or a file capability on disk in
//! a container's writable layer is a privilege any local user who can reach
//! the store could take. With the option on, none is ever written there:
//! the truth about such an object lives in an xattr, as containers-storage's
//! `force_mask` keeps it (`user.containers.override_stat`,
//! `UID:GID:MODE:TYPE`), and the mount presents it. On disk the object has
//! its permission bits without set-id bits, a device is an empty regular
//! placeholder, and a capability is kept as `user.containers.security.capability`
//! (the name fuse-overlayfs gives it).
//!
//! Cost: reading an xattr on every lookup of an upper object would be a
//! syscall per lookup. Instead every object that carries an override also
//! carries a marker in its disk mode, the sticky bit, which no other object
//! needs on a file (Linux ignores it there) and few directories have: only
//! marked objects pay the read, and a marked object without an override
//! (a sticky directory such as `/tmp`) is shown as it is on disk.

use super::union::UnionFs;
use super::{FsError, FsResult};
use crate::sys::{self, BeneathDir, Name};
use rustix::fs::{FileType, Mode, Stat, XattrFlags};
use std::io;
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;

/// Where a regular file or a directory keeps its true owner, mode and type.
pub const OVERRIDE_XATTR: &str = "user.containers.override_stat";
/// The same for a fifo or a socket, which take no `user.` xattrs (a set-id
/// bit on one is harmless, but never kept on disk either where root can
/// avoid it).
pub const OVERRIDE_XATTR_SPECIAL: &str = "trusted.strata.override_stat";
/// The capability shown as `security.capability` of an upper object.
pub const KEPT_CAPABILITY_XATTR: &str = "user.containers.security.capability";
pub const CAPABILITY_XATTR: &str = "security.capability";

/// On disk, every overridden object has this bit (see the module comment).
const MARKER: u32 = 0o1000;
const SET_ID: u32 = 0o6000;

/// Whether `st` (as on disk) may carry an override: only these pay a read.
pub fn has_marker(st: &Stat) -> bool {
    st.st_mode & MARKER != 0 && FileType::from_raw_mode(st.st_mode) != FileType::Symlink
}

/// What an object really is, where its disk cannot say it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Override {
    pub uid: u32,
    pub gid: u32,
    /// Permission, set-id and sticky bits (`0o7777`).
    pub mode: u32,
    pub kind: FileType,
    /// Device numbers of a block or character device.
    pub rdev: (u32, u32),
}

impl Override {
    /// The truth `st` stands for (a stat as it should be shown).
    pub fn of(st: &Stat) -> Override {
        Override {
            uid: st.st_uid,
            gid: st.st_gid,
            mode: st.st_mode & 0o7777,
            kind: FileType::from_raw_mode(st.st_mode),
            rdev: (rustix::fs::major(st.st_rdev), rustix::fs::minor(st.st_rdev)),
        }
    }

    /// `UID:GID:MODE:TYPE`, the mode in (at least) 4 octal digits.
    pub fn encode(&self) -> Vec<u8> {
        let kind = match self.kind {
            FileType::Directory => "dir".to_string(),
            FileType::Symlink => "symlink".to_string(),
            FileType::Fifo => "pipe".to_string(),
            FileType::Socket => "socket".to_string(),
            FileType::BlockDevice => format!("block-{}-{}", self.rdev.0, self.rdev.1),
            FileType::CharacterDevice => format!("char-{}-{}", self.rdev.0, self.rdev.1),
            _ => "file".to_string(),
        };
        format!("{}:{}:{:04o}:{kind}", self.uid, self.gid, self.mode & 0o7777).into_bytes()
    }

    /// Reads what `encode` (or containers-storage, which may leave the type
    /// out: then `disk_kind` stands) writes; None for anything else.
    pub fn decode(v: &[u8], disk_kind: FileType) -> Option<Override> {
        let text = std::str::from_utf8(v).ok()?;
        let mut parts = text.trim_end_matches('\0').splitn(4, ':');
        let uid = parts.next()?.parse().ok()?;
        let gid = parts.next()?.parse().ok()?;
        let mode = u32::from_str_radix(parts.next()?, 8).ok().filter(|m| *m <= 0o7777)?;
        let (kind, rdev) = match parts.next() {
            None => (disk_kind, (0, 0)),
            Some("file") => (FileType::RegularFile, (0, 0)),
            Some("dir") => (FileType::Directory, (0, 0)),
            Some("symlink") => (FileType::Symlink, (0, 0)),
            Some("pipe") => (FileType::Fifo, (0, 0)),
            Some("socket") => (FileType::Socket, (0, 0)),
            Some(dev) => {
                let (kind, numbers) = if let Some(n) = dev.strip_prefix("block-") {
                    (FileType::BlockDevice, n)
                } else {
                    (FileType::CharacterDevice, dev.strip_prefix("char-")?)
                };
                let (major, minor) = numbers.split_once('-')?;
                (kind, (major.parse().ok()?, minor.parse().ok()?))
            }
        };
        Some(Override {
            uid,
            gid,
            mode,
            kind,
            rdev,
        })
    }

    /// `st` as this override shows it; the rest (size, times, inode) stays.
    pub fn apply(&self, st: &mut Stat) {
        st.st_mode = self.kind.as_raw_mode() | self.mode;
        st.st_uid = self.uid;
        st.st_gid = self.gid;
        st.st_rdev = match self.kind {
            FileType::BlockDevice | FileType::CharacterDevice => rustix::fs::makedev(self.rdev.0, self.rdev.1),
            _ => 0,
        };
    }

    /// Whether the disk cannot hold this object as it is: a set-id bit, or
    /// a device a driver would serve (0/0 is the whiteout device, which none
    /// does, and stays a real node).
    pub fn needed(&self) -> bool {
        self.mode & SET_ID != 0 || self.is_device() && self.rdev != (0, 0)
    }

    fn is_device(&self) -> bool {
        matches!(self.kind, FileType::BlockDevice | FileType::CharacterDevice)
    }

    /// The mode the object has on disk: no set-id bit, the marker, and for
    /// a device's placeholder only the owner's bits (nothing reads it).
    pub fn disk_mode(&self) -> u32 {
        if self.is_device() {
            MARKER | (self.mode & 0o600)
        } else {
            MARKER | (self.mode & 0o1777)
        }
    }

    /// What is made on disk for this object: a device becomes a placeholder.
    pub fn disk_kind(&self) -> FileType {
        if self.needed() && self.is_device() {
            FileType::RegularFile
        } else {
            self.kind
        }
    }
}

/// The xattr an object of this disk type keeps its override in (none for a
/// symlink: it has no mode of its own and is never a device).
fn xattr_for(disk_kind: FileType) -> Option<&'static str> {
    match disk_kind {
        FileType::RegularFile | FileType::Directory => Some(OVERRIDE_XATTR),
        FileType::Fifo | FileType::Socket | FileType::CharacterDevice | FileType::BlockDevice => {
            Some(OVERRIDE_XATTR_SPECIAL)
        }
        _ => None,
    }
}

fn decoded(v: Option<Vec<u8>>, st: &Stat) -> Option<Override> {
    let v = v?;
    let o = Override::decode(&v, FileType::from_raw_mode(st.st_mode));
    if o.is_none() {
        tracing::debug!(
            "an override_stat xattr that does not parse: {:?}",
            String::from_utf8_lossy(&v)
        );
    }
    o
}

/// Shows `st`, the disk stat of the entry `name` of `dir`, as its override
/// says: one xattr read, and only for a marked object.
pub fn present_at(dir: &BeneathDir, name: Name<'_>, st: &mut Stat) -> io::Result<()> {
    if !has_marker(st) {
        return Ok(());
    }
    let Some(attr) = xattr_for(FileType::from_raw_mode(st.st_mode)) else {
        return Ok(());
    };
    if let Some(o) = decoded(sys::xattr::get_at(dir.as_fd(), name, attr)?, st) {
        o.apply(st);
    }
    Ok(())
}

/// `present_at` for an object held by `fd` (an open file, a directory, or
/// an `O_PATH` descriptor).
pub fn present_fd(fd: impl AsFd, st: &mut Stat) -> io::Result<()> {
    if !has_marker(st) {
        return Ok(());
    }
    let Some(attr) = xattr_for(FileType::from_raw_mode(st.st_mode)) else {
        return Ok(());
    };
    if let Some(o) = decoded(sys::xattr::get(&fd, attr)?, st) {
        o.apply(st);
    }
    Ok(())
}

/// Makes the object held by `fd` (its disk stat `disk`) show as `want`:
/// an override and a marked, set-id-free disk mode where the disk cannot
/// hold it, else the plain mode and no override. Never, even halfway, a
/// set-id bit on disk: the override is written before the disk mode takes
/// the bits away, and the plain mode set before the override goes.
/// Ownership on disk is the caller's (chown clears set-id bits there).
pub fn set(fd: impl AsFd, disk: &Stat, want: &Override) -> io::Result<()> {
    let disk_kind = FileType::from_raw_mode(disk.st_mode);
    if disk_kind == FileType::Symlink {
        return Ok(());
    }
    let attr = xattr_for(disk_kind);
    let needed = want.needed() || want.kind != disk_kind;
    match attr.filter(|_| needed) {
        Some(attr) => match sys::xattr::set(&fd, attr, &want.encode(), XattrFlags::empty()) {
            Ok(()) => chmod(&fd, want.disk_mode()),
            // A fifo or socket where the trusted namespace is not ours (a
            // rootless mount): its set-id bits stay on disk, where they
            // give nothing (it cannot be executed, and is the user's own).
            Err(e)
                if attr == OVERRIDE_XATTR_SPECIAL
                    && e.raw_os_error() == Some(rustix::io::Errno::PERM.raw_os_error()) =>
            {
                chmod(&fd, want.mode)
            }
            Err(e) => Err(e),
        },
        None if needed => chmod(&fd, want.mode),
        None => {
            chmod(&fd, want.mode)?;
            if has_marker(disk)
                && let Some(attr) = attr
            {
                match sys::xattr::remove(&fd, attr) {
                    Ok(()) => {}
                    Err(e) if matches!(e.raw_os_error(), Some(c) if c == rustix::io::Errno::NODATA.raw_os_error()) => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(())
        }
    }
}

/// `fchmod`, which an `O_PATH` descriptor refuses: then through `/proc`,
/// which names exactly the object held.
fn chmod(fd: &impl AsFd, mode: u32) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    match rustix::fs::fchmod(fd, Mode::from_raw_mode(mode)) {
        Err(rustix::io::Errno::BADF) => {}
        res => return Ok(res?),
    }
    let path = format!("/proc/self/fd/{}", fd.as_fd().as_raw_fd());
    Ok(rustix::fs::chmod(path.as_str(), Mode::from_raw_mode(mode))?)
}

/// The name `security.capability` is kept under on disk.
pub fn kept_name(name: &str) -> &str {
    if name == CAPABILITY_XATTR {
        KEPT_CAPABILITY_XATTR
    } else {
        name
    }
}

/// The name a listed disk xattr shows as.
pub fn shown_name(name: &[u8]) -> &[u8] {
    if name == KEPT_CAPABILITY_XATTR.as_bytes() {
        CAPABILITY_XATTR.as_bytes()
    } else {
        name
    }
}

/// Xattrs of the option's own, which no user may read or set: a planted
/// override would make any file set-uid root in the container.
pub fn is_internal(name: &[u8]) -> bool {
    name == OVERRIDE_XATTR.as_bytes() || name == KEPT_CAPABILITY_XATTR.as_bytes()
}

/// Where a directory notes that it holds device placeholders, so that its
/// listing can give them their type (`d_type`) without a stat per entry.
pub const HOLDS_DEVICES_XATTR: &str = "user.strata.devices";

/// Notes on the directory `dir` that it holds a device placeholder.
pub fn note_devices(dir: &BeneathDir) -> io::Result<()> {
    sys::xattr::set(dir.as_fd(), HOLDS_DEVICES_XATTR, b"y", XattrFlags::empty())
}

/// Whether the directory `dir` (opened for reading) holds device placeholders.
pub fn holds_devices(dir: impl AsFd) -> bool {
    let mut buf = [0u8; 4];
    rustix::fs::fgetxattr(dir, HOLDS_DEVICES_XATTR, &mut buf[..]).is_ok()
}

impl UnionFs {
    /// Gives the upper object held by `fd` the mode (and the type and owner)
    /// `want`: in an override where the disk must not hold it.
    pub(super) fn set_mode_fd(&self, fd: impl AsFd, want: &Override) -> FsResult<()> {
        if !self.overrides {
            return Ok(chmod(&fd, want.mode)?);
        }
        let disk = rustix::fs::fstat(&fd)?;
        Ok(set(&fd, &disk, want)?)
    }

    /// After a chown of the upper object held by `fd` (`ids_changed`),
    /// and/or for a chmod of it to `mode`, where privileges stay off the
    /// disk: its override follows (the owner as the chown left the disk, the
    /// set-id bits and type as asked or as they were).
    pub(super) fn owner_mode_fd(&self, fd: impl AsFd, ids_changed: bool, mode: Option<u32>) -> FsResult<()> {
        let disk = rustix::fs::fstat(&fd)?;
        if FileType::from_raw_mode(disk.st_mode) == FileType::Symlink {
            // chmod never follows it, nor changes it (as `BeneathDir::chmod`).
            return match mode {
                Some(_) => Err(FsError(rustix::io::Errno::LOOP.raw_os_error())),
                None => Ok(()),
            };
        }
        if mode.is_none() && !has_marker(&disk) {
            return Ok(());
        }
        let mut shown = disk;
        present_fd(&fd, &mut shown)?;
        let mut want = Override::of(&shown);
        if ids_changed {
            (want.uid, want.gid) = (disk.st_uid, disk.st_gid);
        }
        if let Some(m) = mode {
            want.mode = m & 0o7777;
        }
        Ok(set(&fd, &disk, &want)?)
    }

    /// chmod of the entry `name` of the upper directory `dir` (after a
    /// chown if `ids_changed`) where privileges stay off the disk: as
    /// cheap as a plain one (a stat, a chmod) unless the entry has or needs
    /// an override.
    pub(super) fn chmod_entry(&self, dir: &BeneathDir, name: Name<'_>, mode: u32, ids_changed: bool) -> FsResult<()> {
        let disk = dir.stat(name)?;
        if FileType::from_raw_mode(disk.st_mode) != FileType::Symlink && !has_marker(&disk) && mode & SET_ID == 0 {
            return Ok(rustix::fs::chmodat(
                dir.as_fd(),
                std::ffi::OsStr::from_bytes(name.as_bytes()),
                Mode::from_raw_mode(mode & 0o7777),
                rustix::fs::AtFlags::empty(),
            )?);
        }
        self.owner_mode_fd(dir.open_path(name.as_bytes())?, ids_changed, Some(mode))
    }

    /// The status of upper node `ino` after a chown, where privileges stay
    /// off the disk: its override, if it has one, takes the new owner. One
    /// stat, as for any `setattr` reply, unless it has one.
    pub(super) fn stat_after_chown(&self, ino: u64) -> FsResult<Stat> {
        let (node, path) = self.node(ino)?;
        let upper = self.upper()?;
        let disk = upper.stat_entry(&path)?;
        if has_marker(&disk) {
            self.owner_mode_fd(upper.root.open_path(&path)?, true, None)?;
            return self.stat_node(ino);
        }
        let mut st = upper.shown(&path, disk)?;
        self.show_node(&node, &mut st);
        Ok(st)
    }

    /// Notes on the upper directory `dir` that it may now hold a device's
    /// placeholder (a device was linked or renamed into it).
    pub(super) fn note_placeholder(&self, dir: &BeneathDir) -> FsResult<()> {
        if self.overrides {
            note_devices(dir)?;
        }
        Ok(())
    }

    /// The name an xattr a user sets or removes has on disk.
    pub(super) fn stored_xattr<'a>(&self, name: &'a str) -> &'a str {
        if self.overrides { kept_name(name) } else { name }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stat_of(mode: u32) -> Stat {
        // A real stat to edit: the tests set every field they read.
        let mut st = rustix::fs::fstat(std::fs::File::open("/").unwrap()).unwrap();
        st.st_mode = mode;
        st.st_uid = 0;
        st.st_gid = 0;
        st.st_rdev = 0;
        st
    }

    #[test]
    fn overrides_round_trip_in_the_containers_storage_format() {
        let cases = [
            (b"0:0:4755:file".as_slice(), FileType::RegularFile, 0o4755, (0, 0)),
            (b"12:34:2775:dir", FileType::Directory, 0o2775, (0, 0)),
            (b"0:0:0666:char-1-3", FileType::CharacterDevice, 0o666, (1, 3)),
            (b"0:0:0660:block-7-0", FileType::BlockDevice, 0o660, (7, 0)),
            (b"5:6:0644:pipe", FileType::Fifo, 0o644, (0, 0)),
            (b"5:6:0755:socket", FileType::Socket, 0o755, (0, 0)),
        ];
        for (text, kind, mode, rdev) in cases {
            let o = Override::decode(text, FileType::RegularFile).unwrap();
            assert_eq!((o.kind, o.mode, o.rdev), (kind, mode, rdev), "{text:?}");
            assert_eq!(o.encode(), text, "written back the same");
        }
        // containers-storage writes "0%o" (so 5 digits with set-id bits)
        // and older versions no type: the disk's type then stands.
        let o = Override::decode(b"0:0:04755", FileType::Directory).unwrap();
        assert_eq!((o.kind, o.mode), (FileType::Directory, 0o4755));
        for bad in [
            &b""[..],
            b"0:0",
            b"x:0:0755:file",
            b"0:0:9999:file",
            b"0:0:0755:char-1",
            b"0:0:17777:file",
        ] {
            assert_eq!(Override::decode(bad, FileType::RegularFile), None, "{bad:?}");
        }
    }

    #[test]
    fn only_privileges_need_an_override_and_the_disk_never_holds_them() {
        let file = |mode| Override {
            uid: 0,
            gid: 0,
            mode,
            kind: FileType::RegularFile,
            rdev: (0, 0),
        };
        assert!(!file(0o755).needed() && !file(0o1755).needed());
        assert!(file(0o4755).needed() && file(0o2711).needed());
        assert_eq!(file(0o6755).disk_mode(), 0o1755);
        let dev = |kind, rdev| Override {
            kind,
            rdev,
            ..file(0o666)
        };
        assert!(dev(FileType::CharacterDevice, (1, 3)).needed());
        assert!(dev(FileType::BlockDevice, (7, 0)).needed());
        assert!(
            !dev(FileType::CharacterDevice, (0, 0)).needed(),
            "0/0 is served by no driver"
        );
        assert_eq!(dev(FileType::BlockDevice, (7, 0)).disk_kind(), FileType::RegularFile);
        assert_eq!(dev(FileType::BlockDevice, (7, 0)).disk_mode(), 0o1600);
        let mut st = stat_of(FileType::RegularFile.as_raw_mode() | 0o1600);
        assert!(has_marker(&st));
        dev(FileType::CharacterDevice, (1, 3)).apply(&mut st);
        assert_eq!(FileType::from_raw_mode(st.st_mode), FileType::CharacterDevice);
        assert_eq!(st.st_mode & 0o7777, 0o666);
        assert_eq!((rustix::fs::major(st.st_rdev), rustix::fs::minor(st.st_rdev)), (1, 3));
        assert!(!has_marker(&stat_of(FileType::Symlink.as_raw_mode() | 0o1777)));
    }
}

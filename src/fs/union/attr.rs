//! Attributes shown to the kernel: stat to `FileAttr`, times, file types.

use super::UnionFs;
use super::handles::Handle;
use crate::fs::FsResult;
use crate::fs::layer::file_type;
use crate::fs::layer::split;
use crate::fs::nodes::{Node, ROOT};
use crate::fs::override_stat;
use crate::sys::Name;
use fuser::{FileAttr, FileHandle, FileType as FuseType, INodeNo, TimeOrNow};
use rustix::fs::{FileType, Stat, Timespec, Timestamps};
use std::os::fd::AsFd;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub(super) fn fuse_type(t: FileType) -> FuseType {
    match t {
        FileType::Directory => FuseType::Directory,
        FileType::Symlink => FuseType::Symlink,
        FileType::Fifo => FuseType::NamedPipe,
        FileType::Socket => FuseType::Socket,
        FileType::CharacterDevice => FuseType::CharDevice,
        FileType::BlockDevice => FuseType::BlockDevice,
        _ => FuseType::RegularFile,
    }
}

pub(super) fn time(sec: i64, nsec: i64) -> SystemTime {
    if sec >= 0 {
        UNIX_EPOCH + Duration::new(sec as u64, nsec as u32)
    } else {
        UNIX_EPOCH - Duration::from_secs(sec.unsigned_abs()) + Duration::from_nanos(nsec as u64)
    }
}

/// The access and modification times of `st`, to set them on a copy.
pub(in crate::fs) fn times_of(st: &Stat) -> Timestamps {
    let t = |sec: i64, nsec| Timespec {
        tv_sec: sec,
        tv_nsec: nsec as _,
    };
    Timestamps {
        last_access: t(st.st_atime, st.st_atime_nsec),
        last_modification: t(st.st_mtime, st.st_mtime_nsec),
    }
}

pub(super) fn to_timespec(t: Option<TimeOrNow>) -> Timespec {
    match t {
        None => Timespec {
            tv_sec: 0,
            tv_nsec: rustix::fs::UTIME_OMIT,
        },
        Some(TimeOrNow::Now) => Timespec {
            tv_sec: 0,
            tv_nsec: rustix::fs::UTIME_NOW,
        },
        Some(TimeOrNow::SpecificTime(t)) => match t.duration_since(UNIX_EPOCH) {
            Ok(d) => Timespec {
                tv_sec: d.as_secs() as i64,
                tv_nsec: d.subsec_nanos().into(),
            },
            Err(e) => {
                let d = e.duration();
                let mut sec = -(d.as_secs() as i64);
                let mut nsec = -(d.subsec_nanos() as i64);
                if nsec < 0 {
                    sec -= 1;
                    nsec += 1_000_000_000;
                }
                Timespec {
                    tv_sec: sec,
                    tv_nsec: nsec,
                }
            }
        },
    }
}

impl UnionFs {
    pub(super) fn attr(&self, ino: u64, st: &Stat) -> FileAttr {
        FileAttr {
            ino: INodeNo(ino),
            size: st.st_size as u64,
            blocks: st.st_blocks as u64,
            atime: time(st.st_atime, st.st_atime_nsec as i64),
            mtime: time(st.st_mtime, st.st_mtime_nsec as i64),
            ctime: time(st.st_ctime, st.st_ctime_nsec as i64),
            crtime: UNIX_EPOCH,
            kind: fuse_type(file_type(st)),
            perm: (st.st_mode & 0o7777) as u16,
            nlink: if self.static_nlink && file_type(st) == FileType::Directory {
                1
            } else {
                st.st_nlink as u32
            },
            uid: self.ids.shown(st.st_uid, st.st_gid).0,
            gid: self.ids.shown(st.st_uid, st.st_gid).1,
            rdev: st.st_rdev as u32,
            blksize: st.st_blksize as u32,
            flags: 0,
        }
    }

    pub(in crate::fs) fn stat_node(&self, ino: u64) -> FsResult<Stat> {
        let (node, layer, path) = self.object(ino)?;
        let mut st = layer.stat(&path)?;
        self.show_node(&node, &mut st);
        Ok(st)
    }

    /// What the disk stat of a node's object leaves to the node: a metacopy
    /// file's blocks, a hard-linked inode's count of names.
    pub(in crate::fs) fn show_node(&self, node: &Node, st: &mut Stat) {
        if let Some(d) = &node.lower_data {
            self.show_data_blocks(st, d);
        }
        if let Some(h) = node.hardlink {
            st.st_nlink = h.nlink(st.st_nlink);
        }
    }

    pub(super) fn getattr_inner(&self, ino: u64, fh: Option<FileHandle>) -> FsResult<FileAttr> {
        // fstat comes without a handle; an unlinked node can only be
        // reached through one of its open files.
        let unlinked = ino != ROOT && self.nodes_read().get(ino).is_none_or(|n| n.unlinked());
        // Only then: a handle's file need not be the object shown (a
        // metacopy file's handles hold its lower data), nor is its metadata
        // all of what is shown (an index's, an override's, a hard-linked
        // inode's count of names).
        let fh = fh.filter(|_| unlinked);
        let open = fh.and_then(|fh| self.file(fh).ok()).or_else(|| {
            if !unlinked {
                return None;
            }
            let lazy = self.handles().values().find_map(|h| match h {
                Handle::File { ino: i, file, .. } if *i == ino => Some(Ok(file.clone())),
                Handle::Lazy { ino: i, lazy } if *i == ino => Some(Err(lazy.clone())),
                _ => None,
            })?;
            lazy.or_else(|lazy| self.open_lazy(&lazy)).ok()
        });
        if let Some(f) = open {
            let mut st = rustix::fs::fstat(f.as_fd())?;
            if self.overrides {
                override_stat::present_fd(&*f, &mut st)?;
            }
            let mut attr = self.attr(ino, &st);
            if ino != ROOT && self.nodes_read().get(ino).is_none_or(|n| n.unlinked()) {
                // Every name is gone (a lower file is only whited out, so
                // its own link count says nothing).
                attr.nlink = 0;
            }
            return Ok(attr);
        }
        let st = self.stat_node(ino)?;
        Ok(self.attr(ino, &st))
    }

    /// The target of the symlink `ino`.
    pub(super) fn read_link(&self, ino: INodeNo) -> FsResult<Vec<u8>> {
        let (_, layer, path) = self.object(ino.0)?;
        let (ppath, name) = split(&path);
        let dir = layer.dir(ppath)?;
        Ok(dir.read_link(Name::new(name)?)?)
    }
}

//! Open file handles: lazy page-cache opens of small lower files, opens
//! of the upper layer, and passthrough backings.

use super::killpriv::Kill;
use super::listing::DirEntry;
use super::{UPPER, UnionFs};
use crate::fs::{FsError, FsResult};
use fuser::{FileHandle, WriteFlags};
use rustix::fs::{OFlags, SeekFrom};
use std::fs::File;
use std::io;
use std::os::fd::AsFd;
use std::os::unix::fs::FileExt;
use std::sync::Arc;
use std::sync::atomic::Ordering;

pub(super) enum Handle {
    /// An open file of a node.
    File {
        ino: u64,
        file: Arc<File>,
        /// The file is in the upper layer, and so may be changed through
        /// the handle (a metacopy file's lower data may not).
        in_upper: bool,
    },
    /// A read-only open of a small file of a lower layer, served through
    /// the kernel's page cache: the file is opened at the first read the
    /// cache misses (a warm open costs no syscall here). Lower layers never
    /// change, so the node's layer and path are fixed.
    Lazy {
        ino: u64,
        lazy: Arc<LazyFile>,
    },
    Dir(Arc<Vec<DirEntry>>),
}

pub(super) struct LazyFile {
    pub(super) layer: usize,
    pub(super) path: Vec<u8>,
    pub(super) file: std::sync::OnceLock<Arc<File>>,
}

/// Read-only opens of lower files up to this size are served from the
/// kernel's page cache (`Handle::Lazy`); larger ones, and every open of the
/// upper layer, go through FUSE passthrough when the kernel allows it.
pub(super) const CACHED_OPEN_MAX: u64 = 1 << 20;

impl UnionFs {
    pub(super) fn new_handle(&self, h: Handle) -> u64 {
        let fh = self.next_fh.fetch_add(1, Ordering::Relaxed);
        self.handles().insert(fh, h);
        fh
    }

    pub(super) fn file(&self, fh: FileHandle) -> FsResult<Arc<File>> {
        let lazy = match self.handles().get(&fh.0) {
            Some(Handle::File { file, .. }) => return Ok(file.clone()),
            Some(Handle::Lazy { lazy, .. }) => lazy.clone(),
            _ => return Err(FsError::BADF),
        };
        self.open_lazy(&lazy)
    }

    pub(super) fn open_lazy(&self, lazy: &LazyFile) -> FsResult<Arc<File>> {
        if let Some(f) = lazy.file.get() {
            return Ok(f.clone());
        }
        let file = self.layers[lazy.layer].open_file(&lazy.path, OFlags::RDONLY)?;
        // Two first reads may race: one file wins, the other is dropped.
        Ok(lazy.file.get_or_init(|| Arc::new(file)).clone())
    }

    /// A page-cache open (`Handle::Lazy`) when `flags` only read a small
    /// regular file of a lower layer; None when the open needs more.
    pub(super) fn open_cached(&self, ino: u64, flags: i32) -> Option<u64> {
        let oflags = OFlags::from_bits_retain(flags as u32);
        let only_reads = !oflags
            .intersects(OFlags::WRONLY | OFlags::RDWR | OFlags::TRUNC | OFlags::APPEND | OFlags::DIRECT | OFlags::SYNC);
        if !only_reads {
            return None;
        }
        let lazy = {
            let nodes = self.nodes_read();
            let node = nodes.get(ino)?;
            // A node shown from the hard-link index is an upper file.
            let indexed = node.hardlink.is_some_and(|h| h.in_index);
            if node.is_dir || self.in_upper(node.layer) || indexed || node.size > CACHED_OPEN_MAX {
                return None;
            }
            LazyFile {
                layer: node.layer,
                path: nodes.lower_path(ino)?,
                file: std::sync::OnceLock::new(),
            }
        };
        let fh = self.next_fh.fetch_add(1, Ordering::Relaxed);
        if !self.backings.start_cached(ino, fh, false) {
            return None;
        }
        self.handles().insert(
            fh,
            Handle::Lazy {
                ino,
                lazy: Arc::new(lazy),
            },
        );
        Some(fh)
    }

    pub(super) fn open_inner(&self, ino: u64, flags: i32) -> FsResult<(u64, Arc<File>, usize)> {
        let oflags = OFlags::from_bits_retain(flags as u32);
        let writes = oflags.intersects(OFlags::WRONLY | OFlags::RDWR | OFlags::TRUNC | OFlags::APPEND);
        let truncates = oflags.contains(OFlags::TRUNC);
        let _w = if writes {
            let w = self.lock_writes()?;
            // Data about to be truncated away need not be copied.
            if truncates {
                self.copy_up_metadata(&w, ino)?;
            } else {
                self.copy_up(&w, ino)?;
            }
            Some(w)
        } else {
            None
        };
        let (node, layer, path) = self.object(ino)?;
        // Held on only while a truncating open must still drop the record
        // naming the data below.
        let _w = _w.filter(|_| node.lower_data.is_some());
        let keep = OFlags::ACCMODE | OFlags::APPEND | OFlags::TRUNC | OFlags::NONBLOCK | OFlags::DSYNC | OFlags::SYNC;
        if let Some(data) = node.lower_data.as_ref().filter(|_| !writes) {
            let file = Arc::new(self.open_lower_data(data)?);
            let fh = self.new_handle(Handle::File {
                ino,
                file: file.clone(),
                in_upper: false,
            });
            return Ok((fh, file, data.layer));
        }
        let file = Arc::new(layer.open_file(&path, oflags & keep)?);
        if node.lower_data.is_some() {
            // Only a truncating open gets here with the data still below.
            self.forget_lower_data(ino, &file)?;
        }
        let in_upper = self.in_upper(node.layer);
        let fh = self.new_handle(Handle::File {
            ino,
            file: file.clone(),
            in_upper,
        });
        // An index entry is the upper copy's inode: one backing for both.
        let backing_layer = if node.hardlink.is_some_and(|h| h.in_index) {
            UPPER
        } else {
            node.layer
        };
        Ok((fh, file, backing_layer))
    }

    /// Whether an open with `flags` of `file` must send its writes to us
    /// (`killpriv`): it writes, and the file holds privileges to clear.
    pub(super) fn write_must_reach_us(&self, flags: i32, file: &File) -> bool {
        let oflags = OFlags::from_bits_retain(flags as u32);
        let writes = oflags.intersects(OFlags::WRONLY | OFlags::RDWR | OFlags::TRUNC | OFlags::APPEND);
        // Unknown counts as privileged: the open merely loses passthrough.
        writes && self.privileged_write(file).unwrap_or(true)
    }

    /// The shared kernel backing the passthrough open `fh` of `ino` in
    /// `layer` holds, made from `file` (by `make`) when none is alive. None
    /// when the inode has page-cache opens, or the kernel offered no
    /// passthrough, or refused it (unprivileged): then data is served by
    /// `read` and `write`, and passthrough is not tried again.
    pub(super) fn passthrough_backing(
        &self,
        ino: u64,
        layer: usize,
        fh: u64,
        file: &File,
        make: impl FnOnce(&File) -> io::Result<crate::fs::fuse::BackingId>,
    ) -> Option<Arc<crate::fs::fuse::BackingId>> {
        if !self.passthrough.load(Ordering::Relaxed) {
            return None;
        }
        match self.backings.share(ino, layer, fh, || make(file)) {
            Ok(backing) => backing,
            Err(e) => {
                tracing::info!("FUSE passthrough refused ({e}); serving data ourselves");
                self.passthrough.store(false, Ordering::Relaxed);
                None
            }
        }
    }

    /// The file handle `fh` is released: with it its page-cache open or
    /// its hold on a passthrough backing.
    pub(super) fn release_file(&self, fh: u64) {
        let ino = match self.handles().remove(&fh) {
            Some(Handle::Lazy { ino, .. } | Handle::File { ino, .. }) => Some(ino),
            _ => None,
        };
        self.backings.release(ino, fh);
    }

    /// `lseek` on an open file: the new offset.
    pub(super) fn seek(&self, fh: FileHandle, offset: i64, whence: i32) -> FsResult<i64> {
        let f = self.file(fh)?;
        Ok(rustix::fs::seek(f.as_fd(), seek_from(offset, whence)?)? as i64)
    }

    /// `read` (without passthrough): up to `size` bytes at `offset`.
    pub(super) fn read_data(&self, fh: FileHandle, offset: u64, size: u32) -> FsResult<Vec<u8>> {
        let f = self.file(fh)?;
        let mut buf = vec![0u8; size as usize];
        let mut done = 0;
        while done < buf.len() {
            let n = f.read_at(&mut buf[done..], offset + done as u64)?;
            if n == 0 {
                break;
            }
            done += n;
        }
        buf.truncate(done);
        Ok(buf)
    }

    /// `write` (without passthrough): all of `data` at `offset`, after
    /// clearing what the write takes away (`killpriv`), as the kernel does
    /// before a write.
    pub(super) fn write_data(
        &self,
        ino: u64,
        fh: FileHandle,
        offset: u64,
        data: &[u8],
        flags: WriteFlags,
    ) -> FsResult<u32> {
        let f = self.file(fh)?;
        if self.killpriv {
            let kill = if flags.contains(WriteFlags::FUSE_WRITE_KILL_SUIDGID) {
                Kill::Write
            } else {
                Kill::PrivilegedWrite
            };
            if self.kill_privs(f.as_fd(), kill)? {
                self.mode_changed(ino);
            }
        }
        f.write_all_at(data, offset)?;
        Ok(data.len() as u32)
    }

    /// `fsync`, unless the mount was told not to (`fsync=0`).
    pub(super) fn sync_file(&self, fh: FileHandle, datasync: bool) -> FsResult<()> {
        if self.no_fsync {
            return Ok(());
        }
        let f = self.file(fh)?;
        if datasync {
            rustix::fs::fdatasync(f.as_fd())?;
        } else {
            rustix::fs::fsync(f.as_fd())?;
        }
        Ok(())
    }

    /// `fallocate` on an open file.
    pub(super) fn allocate(&self, fh: FileHandle, offset: u64, length: u64, mode: i32) -> FsResult<()> {
        let f = self.file(fh)?;
        rustix::fs::fallocate(
            f.as_fd(),
            rustix::fs::FallocateFlags::from_bits_retain(mode as u32),
            offset,
            length,
        )?;
        Ok(())
    }

    /// `copy_file_range` between two open files: the bytes copied.
    pub(super) fn copy_range(
        &self,
        fh_in: FileHandle,
        offset_in: u64,
        fh_out: FileHandle,
        offset_out: u64,
        len: u64,
    ) -> FsResult<u32> {
        let (a, b) = (self.file(fh_in)?, self.file(fh_out)?);
        let (mut oi, mut oo) = (offset_in, offset_out);
        let n = rustix::fs::copy_file_range(a.as_fd(), Some(&mut oi), b.as_fd(), Some(&mut oo), len as usize)?;
        Ok(n as u32)
    }
}

/// The position an `lseek(offset, whence)` asks for. The kernel answers
/// `SEEK_CUR` itself (it keeps the file position): refused here as any
/// whence this filesystem does not know.
fn seek_from(offset: i64, whence: i32) -> FsResult<SeekFrom> {
    let forward = || u64::try_from(offset).map_err(|_| FsError::INVAL);
    Ok(match whence {
        libc::SEEK_DATA => SeekFrom::Data(forward()?),
        libc::SEEK_HOLE => SeekFrom::Hole(forward()?),
        libc::SEEK_SET => SeekFrom::Start(offset as u64),
        libc::SEEK_END => SeekFrom::End(offset),
        _ => return Err(FsError::INVAL),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seek_from_names_each_whence() {
        assert_eq!(seek_from(5, libc::SEEK_SET), Ok(SeekFrom::Start(5)));
        assert_eq!(seek_from(-3, libc::SEEK_END), Ok(SeekFrom::End(-3)));
        assert_eq!(seek_from(7, libc::SEEK_DATA), Ok(SeekFrom::Data(7)));
        assert_eq!(seek_from(9, libc::SEEK_HOLE), Ok(SeekFrom::Hole(9)));
        assert_eq!(seek_from(1, libc::SEEK_CUR), Err(FsError::INVAL));
        assert_eq!(seek_from(-1, libc::SEEK_DATA), Err(FsError::INVAL));
        assert_eq!(seek_from(0, 42), Err(FsError::INVAL));
    }
}

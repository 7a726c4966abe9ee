//! Copy-up: an object of a lower layer (and its missing parents) brought
//! into the upper layer atomically, built in the work directory and renamed
//! into place; and a metacopy file's data brought up after its metadata.

use super::layer::{self, Layer, Origin, file_type, is_internal_xattr, is_whiteout_device, split};
use super::nodes::{HardLink, LowerData, Node, ROOT};
use super::override_stat::{self, Override};
use super::union::{UPPER, UnionFs, WriteGuard, times_of};
use super::{FsError, FsResult};
use crate::sys::{self, Name};
use rustix::fs::{FileType, OFlags, Stat, XattrFlags};
use std::fs::File;
use std::os::fd::AsFd;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

/// What `build_copy` made.
struct Built {
    /// The record the copy carries.
    origin: Origin,
    /// A device's placeholder (its directory must say it holds one).
    placeholder: bool,
}

impl UnionFs {
    /// Copies a node (and its missing parents) into the upper layer, with
    /// its data.
    pub(super) fn copy_up(&self, w: &WriteGuard<'_>, ino: u64) -> FsResult<()> {
        self.copy_up_with(w, ino, true)
    }

    /// Copies a node up for a change of its metadata only. With
    /// `metacopy=on` a regular file's data then stays in its lower layer
    /// (the upper file is a hole of the right size whose origin record
    /// names the data) until it is first opened for writing or truncated:
    /// a chmod of a large file costs no copy.
    pub(super) fn copy_up_metadata(&self, w: &WriteGuard<'_>, ino: u64) -> FsResult<()> {
        self.copy_up_with(w, ino, !self.metacopy)
    }

    fn copy_up_with(&self, w: &WriteGuard<'_>, ino: u64, with_data: bool) -> FsResult<()> {
        let (mut node, mut path) = self.node(ino)?;
        if !self.in_upper(node.layer) && node.hardlink.is_some_and(|h| h.in_index) {
            // Its inode is copied up already: its names are linked to that.
            self.link_from_index(w, ino)?;
            (node, path) = self.node(ino)?;
        }
        if self.in_upper(node.layer) {
            return match &node.lower_data {
                Some(data) if with_data => self.copy_up_data(ino, &path, data),
                _ => Ok(()),
            };
        }
        if ino != ROOT {
            self.copy_up(w, node.parent().ok_or(FsError::NOENT)?)?;
        }
        // From where it is in its lower layer to where it shows.
        let source = self.nodes_read().lower_path(ino).ok_or(FsError::NOENT)?;
        self.copy_up_found(w, ino, &node, &path, source, with_data)
    }

    /// Copies up node `ino` (its parent already up), found at the merged
    /// `path` and at `source` in its lower layer: built in the work
    /// directory, then renamed into place, or into the hard-link index with
    /// every name of the inode linked to it (see `hardlinks`). The node, if
    /// the table has it, is then the upper object.
    pub(super) fn copy_up_found(
        &self,
        w: &WriteGuard<'_>,
        ino: u64,
        node: &Node,
        path: &[u8],
        source: Vec<u8>,
        with_data: bool,
    ) -> FsResult<()> {
        let upper = self.upper()?;
        let st = self.layers[node.layer].stat(&source)?;
        let (parent_path, name) = split(path);
        let name = Name::new(name)?;
        let work = self.work()?;
        let tmp_bytes = self.temp_name();
        let tmp = Name::new(&tmp_bytes)?;
        let result = (|| -> FsResult<(Built, Option<u32>)> {
            let built = self.build_copy(ino, node.layer, &source, &st, tmp, with_data)?;
            let pdir = upper.dir(parent_path)?;
            if built.placeholder {
                override_stat::note_devices(&pdir)?;
            }
            if self.copies_to_index(node, &st) {
                let at = (node.layer, path, source.as_slice());
                let below = self.place_in_index(w, tmp, ino, at, st.st_nlink, &built.origin)?;
                return Ok((built, Some(below)));
            }
            work.rename(tmp, &pdir, name, rustix::fs::RenameFlags::empty())?;
            Ok((built, None))
        })();
        let (built, below) = match result {
            Ok(done) => done,
            Err(e) => {
                let _ = work.remove_all(tmp);
                return Err(e);
            }
        };
        let mut nodes = self.nodes_write();
        if let Some(n) = nodes.get_mut(ino) {
            n.layer = UPPER;
            n.lower_data = built.origin.data_path.map(|path| {
                Arc::new(LowerData {
                    layer: node.layer,
                    path,
                    st_ino: st.st_ino,
                })
            });
            n.hardlink = below.map(|aliases_below| HardLink {
                aliases_below,
                in_index: false,
            });
            if n.is_dir && n.merge.first().map(|m| m.0) != Some(UPPER) {
                // The lower part, and so its index, stays as it was.
                Arc::make_mut(&mut n.merge).layers.insert(0, (UPPER, Vec::new()));
            }
        }
        Ok(())
    }

    /// Makes the copy of the object at `source` in `layer` (shown as `st`)
    /// as `tmp` in the work directory: its content (the data only `with_data`,
    /// else a hole of its size whose record names the data), xattrs, origin
    /// record, owner, mode and times. Where privileges stay off the disk,
    /// a device is a placeholder and set-id bits live in the override.
    fn build_copy(
        &self,
        ino: u64,
        layer: usize,
        source: &[u8],
        st: &Stat,
        tmp: Name<'_>,
        with_data: bool,
    ) -> FsResult<Built> {
        let lower = &self.layers[layer];
        let work = self.work()?;
        let (source_dir, source_name) = split(source);
        let kind = file_type(st);
        let size = st.st_size as u64;
        let want = Override::of(st);
        let placeholder = self.overrides && want.disk_kind() != kind;
        let mut copy = None;
        let mut data_left_below = false;
        match kind {
            FileType::Directory => work.mkdir(tmp, 0o700)?,
            FileType::RegularFile => {
                let dst = work.create_file(tmp, 0o600)?;
                if with_data || size == 0 {
                    copy_data(&lower.open_file(source, OFlags::RDONLY)?, &dst, size)?;
                } else {
                    rustix::fs::ftruncate(&dst, size)?;
                    data_left_below = true;
                    copy = Some(dst);
                }
            }
            FileType::Symlink => {
                let target = lower.dir(source_dir)?.read_link(Name::new(source_name)?)?;
                work.symlink(&target, tmp)?;
            }
            _ if placeholder => drop(work.create_file(tmp, 0o600)?),
            other => {
                work.mknod(tmp, other, st.st_mode & 0o7777 & !0o6000, st.st_rdev)?;
                if is_whiteout_device(st) {
                    // Visible, so a real device: keep it one.
                    sys::xattr::set(
                        work.open_path(tmp.as_bytes())?,
                        layer::REAL_DEVICE_XATTR,
                        b"y",
                        XattrFlags::empty(),
                    )?;
                }
            }
        }
        let dst_fd = work.open_path(tmp.as_bytes())?;
        let mut origin = Origin {
            ino,
            ..Origin::default()
        };
        if kind != FileType::Symlink {
            self.copy_xattrs(lower, source, &dst_fd);
            origin.data_path = data_left_below.then(|| source.to_vec());
            if !self.record_origin(&dst_fd, &origin) {
                tracing::debug!("copy-up of {}: origin not recorded", String::from_utf8_lossy(source));
                // Nothing would say where the data is: copy it now.
                if let Some(dst) = copy.take() {
                    copy_data(&lower.open_file(source, OFlags::RDONLY)?, &dst, size)?;
                    origin.data_path = None;
                }
            }
        }
        if self.privileged {
            match work.chown(tmp, st.st_uid, st.st_gid) {
                Ok(()) => {}
                // Root of a user namespace: ids outside it cannot be set.
                Err(e) if matches!(e.raw_os_error(), Some(c) if c == rustix::io::Errno::INVAL.raw_os_error() || c == rustix::io::Errno::PERM.raw_os_error()) =>
                {
                    tracing::debug!("copy-up: owner not kept: {e}");
                }
                Err(e) => return Err(e.into()),
            }
        }
        if kind != FileType::Symlink {
            self.set_mode_fd(&dst_fd, &want)?;
        }
        work.set_times(tmp, &times_of(st))?;
        Ok(Built { origin, placeholder })
    }

    /// Copies the xattrs of the object at `source` in `lower` (as the mount
    /// shows them: a store layer's capability comes from its index) to
    /// `dst`, but internal ones, each as best it can.
    fn copy_xattrs(&self, lower: &Layer, source: &[u8], dst: &impl AsFd) {
        let names = match lower.xattr_names(source) {
            Ok(names) => names,
            Err(e) => {
                tracing::debug!("copy-up of {}: no xattrs listed: {e}", String::from_utf8_lossy(source));
                return;
            }
        };
        for xname in names {
            if is_internal_xattr(&xname) {
                continue;
            }
            let Ok(xname) = std::str::from_utf8(&xname) else {
                continue;
            };
            let stored = if self.overrides {
                override_stat::kept_name(xname)
            } else {
                xname
            };
            if let Ok(Some(v)) = lower.xattr(source, xname)
                && let Err(e) = sys::xattr::set(dst, stored, &v, XattrFlags::empty())
            {
                tracing::debug!(
                    "copy-up of {}: xattr {xname} not kept: {e}",
                    String::from_utf8_lossy(source)
                );
            }
        }
    }

    /// Brings a metacopy file's data up from its lower layer, into the
    /// upper file itself (so its other links see it too), keeping its
    /// times; the data is on disk before the record stops naming the lower
    /// copy, so a crash in between leaves a file that still reads right.
    fn copy_up_data(&self, ino: u64, path: &[u8], data: &LowerData) -> FsResult<()> {
        let upper = self.upper()?;
        let src = self.open_lower_data(data)?;
        let before = upper.stat(path)?;
        let dst = match upper.open_file(path, OFlags::WRONLY) {
            Ok(f) => f,
            // A file its owner may not write (0444): the daemon without
            // privileges lends itself write permission for the copy.
            Err(e) if e == FsError(rustix::io::Errno::ACCESS.raw_os_error()) => {
                let (dir, name) = split(path);
                let (dir, name) = (upper.held_dir(dir)?, Name::new(name)?);
                // The mode on disk, not as shown (which may hold set-id bits).
                let disk = dir.stat(name)?.st_mode & 0o7777;
                dir.chmod(name, disk | 0o200)?;
                let opened = upper.open_file(path, OFlags::WRONLY);
                dir.chmod(name, disk)?;
                opened?
            }
            Err(e) => return Err(e),
        };
        copy_data(&src, &dst, before.st_size as u64)?;
        if !self.no_fsync {
            rustix::fs::fdatasync(&dst)?;
        }
        rustix::fs::futimens(&dst, &times_of(&before))?;
        self.forget_lower_data(ino, &dst)
    }

    /// A metacopy file's upper copy now holds all its data (copied, or
    /// truncated to nothing): its record stops naming the lower data.
    pub(super) fn forget_lower_data(&self, ino: u64, upper_file: &File) -> FsResult<()> {
        let aliases_below = self
            .nodes_read()
            .get(ino)
            .and_then(|n| n.hardlink)
            .map(|h| h.aliases_below);
        let record = Origin {
            ino,
            aliases_below,
            data_path: None,
        };
        if !self.record_origin(upper_file, &record) {
            return Err(FsError::IO);
        }
        if let Some(n) = self.nodes_write().get_mut(ino) {
            n.lower_data = None;
        }
        Ok(())
    }
}

/// Copies file data keeping holes: a reflink when the filesystem can,
/// else `copy_file_range` over each data segment, else read and write.
fn copy_data(src: &File, dst: &File, size: u64) -> FsResult<()> {
    if size > 0 && rustix::fs::ioctl_ficlone(dst, src).is_ok() {
        return Ok(());
    }
    // Sized first, so that the data segments are written inside the file:
    // writes past EOF make XFS preallocate speculatively past them, and the
    // holes of a sparse file would end up as allocated, unwritten extents.
    rustix::fs::ftruncate(dst, size)?;
    let mut off = 0u64;
    while off < size {
        let data = match rustix::fs::seek(src, rustix::fs::SeekFrom::Data(off)) {
            Ok(d) => d,
            Err(rustix::io::Errno::NXIO) => break,
            Err(_) => off,
        };
        let hole = rustix::fs::seek(src, rustix::fs::SeekFrom::Hole(data))
            .unwrap_or(size)
            .min(size);
        let mut pos_in = data;
        let mut pos_out = data;
        while pos_in < hole {
            let want = (hole - pos_in).min(1 << 30) as usize;
            match rustix::fs::copy_file_range(src, Some(&mut pos_in), dst, Some(&mut pos_out), want) {
                Ok(0) => break,
                Ok(_) => {}
                Err(_) => {
                    // Plain copy of what is left of this segment.
                    let mut buf = vec![0u8; 128 * 1024];
                    while pos_in < hole {
                        let want = ((hole - pos_in) as usize).min(buf.len());
                        let n = src.read_at(&mut buf[..want], pos_in)?;
                        if n == 0 {
                            break;
                        }
                        dst.write_all_at(&buf[..n], pos_out)?;
                        pos_in += n as u64;
                        pos_out += n as u64;
                    }
                }
            }
        }
        off = hole;
    }
    Ok(())
}

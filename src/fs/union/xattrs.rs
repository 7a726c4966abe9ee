//! Extended attributes: the object they are read from and written to.

use super::UnionFs;
use super::WriteGuard;
use crate::fs::FsError;
use crate::fs::FsResult;
use crate::fs::layer::is_internal_xattr;
use crate::sys;
use fuser::INodeNo;
use rustix::fs::XattrFlags;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

impl UnionFs {
    pub(super) fn xattr_fd(&self, w: &WriteGuard<'_>, ino: u64, for_write: bool) -> FsResult<std::os::fd::OwnedFd> {
        if for_write {
            self.copy_up_metadata(w, ino)?;
        }
        let (_, layer, path) = self.object(ino)?;
        Ok(layer.root.open_path(&path)?)
    }

    /// `setxattr` on the upper copy; this filesystem's own are refused.
    pub(super) fn set_xattr(&self, ino: INodeNo, name: &OsStr, value: &[u8], flags: i32) -> FsResult<()> {
        if is_internal_xattr(name.as_bytes()) {
            return Err(FsError::PERM);
        }
        let w = &self.lock_writes()?;
        let fd = self.xattr_fd(w, ino.0, true)?;
        let name = self.stored_xattr(name.to_str().ok_or(FsError::INVAL)?);
        sys::xattr::set(&fd, name, value, XattrFlags::from_bits_retain(flags as u32))?;
        Ok(())
    }

    /// `getxattr`: the value; this filesystem's own are not there.
    pub(super) fn get_xattr(&self, ino: INodeNo, name: &OsStr) -> FsResult<Vec<u8>> {
        if is_internal_xattr(name.as_bytes()) {
            return Err(FsError::NODATA);
        }
        let attr = name.to_str().ok_or(FsError::INVAL)?;
        let (_, layer, path) = self.object(ino.0)?;
        layer.xattr(&path, attr)?.ok_or(FsError::NODATA)
    }

    /// `listxattr`: the names, each ending in a NUL, but this filesystem's own.
    pub(super) fn list_xattrs(&self, ino: INodeNo) -> FsResult<Vec<u8>> {
        let (_, layer, path) = self.object(ino.0)?;
        let mut out = Vec::new();
        for n in layer.xattr_names(&path)? {
            if !is_internal_xattr(&n) {
                out.extend_from_slice(&n);
                out.push(0);
            }
        }
        Ok(out)
    }

    /// `removexattr` on the upper copy; this filesystem's own are not there.
    pub(super) fn remove_xattr(&self, ino: INodeNo, name: &OsStr) -> FsResult<()> {
        if is_internal_xattr(name.as_bytes()) {
            return Err(FsError::NODATA);
        }
        let w = &self.lock_writes()?;
        let fd = self.xattr_fd(w, ino.0, true)?;
        sys::xattr::remove(&fd, self.stored_xattr(name.to_str().ok_or(FsError::INVAL)?))?;
        Ok(())
    }
}

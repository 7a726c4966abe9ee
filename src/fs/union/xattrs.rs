//! Extended attributes: the object they are read from and written to.

use super::UnionFs;
use super::WriteGuard;
use crate::fs::FsResult;

impl UnionFs {
    pub(super) fn xattr_fd(&self, w: &WriteGuard<'_>, ino: u64, for_write: bool) -> FsResult<std::os::fd::OwnedFd> {
        if for_write {
            self.copy_up_metadata(w, ino)?;
        }
        let (_, layer, path) = self.object(ino)?;
        Ok(layer.root.open_path(&path)?)
    }
}

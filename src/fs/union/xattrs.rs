//! Extended attributes: the object they are read from and written to.

use super::UnionFs;
use crate::fs::FsResult;

impl UnionFs {
    pub(super) fn xattr_fd(&self, ino: u64, for_write: bool) -> FsResult<std::os::fd::OwnedFd> {
        if for_write {
            self.copy_up_metadata(ino)?;
        }
        let (_, layer, path) = self.object(ino)?;
        Ok(layer.root.open_path(&path)?)
    }
}

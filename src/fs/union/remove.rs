//! `unlink` and `rmdir`: removing the upper object and whiting out what
//! is below.

use super::{UPPER, UnionFs};
use crate::fs::layer::{is_dir, join};
use crate::fs::{FsError, FsResult};
use crate::sys::Name;

impl UnionFs {
    pub(super) fn remove(&self, parent: u64, name: &[u8], dir: bool) -> FsResult<()> {
        let w = &self.lock_writes()?;
        let n = Name::new(name)?;
        let (pnode, ppath) = self.node(parent)?;
        let (ino, mut node, mut st) = self.find(&pnode, &ppath, name)?.ok_or(FsError::NOENT)?;
        if dir && !is_dir(&st) {
            return Err(FsError::NOTDIR);
        }
        if !self.in_upper(node.layer) && self.copies_to_index(&node, &st) {
            // A name of a hard-linked lower inode: the inode comes up first,
            // so that its other names count one name fewer (see `hardlinks`).
            self.copy_up_metadata(w, ino)?;
            (_, node, st) = self.find(&pnode, &ppath, name)?.ok_or(FsError::NOENT)?;
        }
        if !dir && is_dir(&st) {
            return Err(FsError::ISDIR);
        }
        let path = join(&ppath, name);
        if dir && !self.list(&node, &path)?.is_empty() {
            return Err(FsError::NOTEMPTY);
        }
        let (udir, _) = self.upper_dir(w, parent)?;
        // Found below: no need to look again.
        let below = !self.in_upper(node.layer) || {
            let (pnode, _) = self.node(parent)?;
            self.exists_below(&pnode, name)?
        };
        if self.in_upper(node.layer) {
            if dir {
                // Only whiteouts and markers can be left in it.
                udir.child_dir(n)?.clear()?;
                udir.rmdir(n)?;
                self.layers[UPPER].forget_dirs();
            } else {
                udir.unlink(n)?;
            }
        }
        if below {
            self.write_whiteout(w, &udir, n)?;
        }
        self.nodes_write().unlink(ino, parent, name);
        Ok(())
    }
}

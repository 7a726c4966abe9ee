//! `rename`, plain and `RENAME_EXCHANGE`, with redirects for directories
//! whose content stays below.

use super::ids::Caller;
use super::{UPPER, UnionFs};
use crate::fs::layer::{WHITEOUT_PREFIX, file_type, is_dir, join};
use crate::fs::{FsError, FsResult};
use crate::sys::Name;
use fuser::RenameFlags;
use rustix::fs::FileType;

impl UnionFs {
    pub(super) fn rename_inner(
        &self,
        caller: Caller,
        parent: u64,
        name: &[u8],
        newparent: u64,
        newname: &[u8],
        flags: RenameFlags,
    ) -> FsResult<()> {
        let _w = self.lock_writes()?;
        let src_name = Name::new(name)?;
        let dst_name = Name::new(newname)?;
        if newname.starts_with(WHITEOUT_PREFIX) {
            return Err(FsError::PERM);
        }
        let (pnode, ppath) = self.node(parent)?;
        let (src_ino, src, src_st) = self.find(&pnode, &ppath, name)?.ok_or(FsError::NOENT)?;
        let (npnode, nppath) = self.node(newparent)?;
        if !npnode.is_dir {
            return Err(FsError::NOTDIR);
        }
        let dst = self.find(&npnode, &nppath, newname)?;
        if flags.contains(RenameFlags::RENAME_NOREPLACE) && dst.is_some() {
            return Err(FsError::EXIST);
        }
        if flags.contains(RenameFlags::RENAME_WHITEOUT)
            || flags.contains(RenameFlags::RENAME_EXCHANGE) && flags.contains(RenameFlags::RENAME_NOREPLACE)
        {
            return Err(FsError::INVAL);
        }
        if flags.contains(RenameFlags::RENAME_EXCHANGE) {
            let (dst_ino, dnode, dst_st) = dst.ok_or(FsError::NOENT)?;
            if dst_ino == src_ino {
                return Ok(());
            }
            if parent != newparent
                && (src.is_dir && !caller.may_write(&src_st) || dnode.is_dir && !caller.may_write(&dst_st))
            {
                return Err(FsError(rustix::io::Errno::ACCESS.raw_os_error()));
            }
            // Both names stay taken, so no whiteouts; directories with
            // content below get redirects, as for a plain rename.
            for (ino, node, merged) in [
                (src_ino, &src, join(&ppath, name)),
                (dst_ino, &dnode, join(&nppath, newname)),
            ] {
                let target = node
                    .is_dir
                    .then(|| {
                        node.merge
                            .iter()
                            .find(|(l, _)| !self.in_upper(*l))
                            .map(|(_, p)| p.clone())
                    })
                    .flatten();
                self.copy_up_metadata(ino)?;
                if let Some(target) = target {
                    self.upper()?.set_redirect(&self.upper()?.dir(&merged)?, &target)?;
                }
            }
            let (src_dir, _) = self.upper_dir(parent)?;
            let (dst_dir, _) = self.upper_dir(newparent)?;
            src_dir.rename(src_name, &dst_dir, dst_name, rustix::fs::RenameFlags::EXCHANGE)?;
            for (st, dir) in [(&src_st, &dst_dir), (&dst_st, &src_dir)] {
                if matches!(file_type(st), FileType::CharacterDevice | FileType::BlockDevice) {
                    self.note_placeholder(dir)?;
                }
            }
            self.layers[UPPER].forget_dirs();
            let mut nodes = self.nodes_write();
            nodes.rename(src_ino, (parent, name), (newparent, newname));
            nodes.rename(dst_ino, (newparent, newname), (parent, name));
            return Ok(());
        }
        if let Some((dst_ino, dnode, dst_st)) = &dst {
            if *dst_ino == src_ino {
                return Ok(());
            }
            match (is_dir(&src_st), is_dir(dst_st)) {
                (true, false) => return Err(FsError::NOTDIR),
                (false, true) => return Err(FsError::ISDIR),
                (true, true) if !self.list(dnode, &join(&nppath, newname))?.is_empty() => {
                    return Err(FsError::NOTEMPTY);
                }
                _ => {}
            }
        }
        // Moving a directory to another parent rewrites its `..`: that needs
        // write access to the directory itself.
        if src.is_dir && parent != newparent && !caller.may_write(&src_st) {
            return Err(FsError(rustix::io::Errno::ACCESS.raw_os_error()));
        }
        // A directory with content below moves as an upper directory that
        // redirects lookups in the lower layers to where that content is
        // (overlayfs's redirect_dir), instead of failing with EXDEV.
        let redirect_to = if src.is_dir {
            src.merge
                .iter()
                .find(|(l, _)| !self.in_upper(*l))
                .map(|(_, p)| p.clone())
        } else {
            None
        };
        if let Some((dst_ino, dnode, dst_st)) = &dst
            && !self.in_upper(dnode.layer)
            && self.copies_to_index(dnode, dst_st)
        {
            // A name of a hard-linked lower inode goes: the inode comes up
            // first, so that its other names count one name fewer.
            self.copy_up_metadata(*dst_ino)?;
        }
        self.copy_up_metadata(src_ino)?;
        if let Some(target) = &redirect_to {
            self.upper()?
                .set_redirect(&self.upper()?.dir(&join(&ppath, name))?, target)?;
        }
        let (src_dir, _) = self.upper_dir(parent)?;
        let (dst_dir, _) = self.upper_dir(newparent)?;
        let upper = self.upper()?;
        upper.clear_whiteout(&dst_dir, dst_name)?;
        let mut dst_below = false;
        if let Some((_, dnode, _)) = &dst {
            if dnode.layer == UPPER && dnode.is_dir {
                // Merged-empty: only whiteouts can be in it.
                dst_dir.child_dir(dst_name)?.clear()?;
            }
            let (npnode, _) = self.node(newparent)?;
            dst_below = self.exists_below(&npnode, newname)?;
        }
        src_dir.rename(src_name, &dst_dir, dst_name, rustix::fs::RenameFlags::empty())?;
        if matches!(file_type(&src_st), FileType::CharacterDevice | FileType::BlockDevice) {
            self.note_placeholder(&dst_dir)?;
        }
        if src.is_dir || dst.as_ref().is_some_and(|(_, _, st)| is_dir(st)) {
            self.layers[UPPER].forget_dirs();
        }
        if src.is_dir && dst_below && redirect_to.is_none() {
            upper.set_opaque(&dst_dir.child_dir(dst_name)?)?;
        }
        let (pnode, _) = self.node(parent)?;
        if !self.in_upper(src.layer) || self.exists_below(&pnode, name)? {
            self.write_whiteout(&src_dir, src_name)?;
        }
        let mut nodes = self.nodes_write();
        if let Some((dst_ino, _, _)) = dst {
            nodes.unlink(dst_ino, newparent, newname);
        }
        nodes.rename(src_ino, (parent, name), (newparent, newname));
        Ok(())
    }
}

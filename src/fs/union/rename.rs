//! `rename`, plain and `RENAME_EXCHANGE`, with redirects for directories
//! whose content stays below.

use super::WriteGuard;
use super::ids::Caller;
use super::{UPPER, UnionFs};
use crate::fs::layer::{WHITEOUT_PREFIX, file_type, is_dir, join};
use crate::fs::nodes::Node;
use crate::fs::{FsError, FsResult};
use crate::sys::Name;
use fuser::RenameFlags;
use rustix::fs::{FileType, Stat};

/// The two ends of a rename, checked and found: the source object, and
/// what the destination name holds.
struct Ends<'a> {
    caller: Caller,
    parent: u64,
    name: &'a [u8],
    src_name: Name<'a>,
    ppath: Vec<u8>,
    newparent: u64,
    newname: &'a [u8],
    dst_name: Name<'a>,
    nppath: Vec<u8>,
    src_ino: u64,
    src: Node,
    src_st: Stat,
    dst: Option<(u64, Node, Stat)>,
}

impl UnionFs {
    pub(super) fn rename_inner(
        &self,
        caller: Caller,
        (parent, name): (u64, &[u8]),
        (newparent, newname): (u64, &[u8]),
        flags: RenameFlags,
    ) -> FsResult<()> {
        let w = &self.lock_writes()?;
        let ends = self.rename_ends(caller, (parent, name), (newparent, newname), flags)?;
        if flags.contains(RenameFlags::RENAME_EXCHANGE) {
            self.exchange(w, ends)
        } else {
            self.rename_over(w, ends)
        }
    }

    /// Checks the names and flags of a rename and finds both ends.
    fn rename_ends<'a>(
        &self,
        caller: Caller,
        (parent, name): (u64, &'a [u8]),
        (newparent, newname): (u64, &'a [u8]),
        flags: RenameFlags,
    ) -> FsResult<Ends<'a>> {
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
        Ok(Ends {
            caller,
            parent,
            name,
            src_name,
            ppath,
            newparent,
            newname,
            dst_name,
            nppath,
            src_ino,
            src,
            src_st,
            dst,
        })
    }

    /// Where a directory node's content below the upper layer is: its
    /// first lower directory (None for anything else, or no content below).
    fn content_below(&self, node: &Node) -> Option<Vec<u8>> {
        node.is_dir
            .then(|| {
                node.merge
                    .iter()
                    .find(|(l, _)| !self.in_upper(*l))
                    .map(|(_, p)| p.clone())
            })
            .flatten()
    }

    /// `RENAME_EXCHANGE`: both names stay, each now naming the other's
    /// object.
    fn exchange(&self, w: &WriteGuard<'_>, e: Ends<'_>) -> FsResult<()> {
        let (dst_ino, dnode, dst_st) = e.dst.ok_or(FsError::NOENT)?;
        if dst_ino == e.src_ino {
            return Ok(());
        }
        if e.parent != e.newparent
            && (e.src.is_dir && !e.caller.may_write(&e.src_st) || dnode.is_dir && !e.caller.may_write(&dst_st))
        {
            return Err(FsError(rustix::io::Errno::ACCESS.raw_os_error()));
        }
        // Both names stay taken, so no whiteouts; directories with
        // content below get redirects, as for a plain rename.
        for (ino, node, merged) in [
            (e.src_ino, &e.src, join(&e.ppath, e.name)),
            (dst_ino, &dnode, join(&e.nppath, e.newname)),
        ] {
            let target = self.content_below(node);
            self.copy_up_metadata(w, ino)?;
            if let Some(target) = target {
                self.upper()?.set_redirect(&self.upper()?.dir(&merged)?, &target)?;
            }
        }
        let (src_dir, _) = self.upper_dir(w, e.parent)?;
        let (dst_dir, _) = self.upper_dir(w, e.newparent)?;
        src_dir.rename(e.src_name, &dst_dir, e.dst_name, rustix::fs::RenameFlags::EXCHANGE)?;
        for (st, dir) in [(&e.src_st, &dst_dir), (&dst_st, &src_dir)] {
            if matches!(file_type(st), FileType::CharacterDevice | FileType::BlockDevice) {
                self.note_placeholder(dir)?;
            }
        }
        self.layers[UPPER].forget_dirs();
        let mut nodes = self.nodes_write();
        nodes.rename(e.src_ino, (e.parent, e.name), (e.newparent, e.newname));
        nodes.rename(dst_ino, (e.newparent, e.newname), (e.parent, e.name));
        Ok(())
    }

    /// A plain rename: the source takes the destination's name, replacing
    /// what it held; a whiteout hides what is left below the old name.
    fn rename_over(&self, w: &WriteGuard<'_>, e: Ends<'_>) -> FsResult<()> {
        if let Some((dst_ino, dnode, dst_st)) = &e.dst {
            if *dst_ino == e.src_ino {
                return Ok(());
            }
            match (is_dir(&e.src_st), is_dir(dst_st)) {
                (true, false) => return Err(FsError::NOTDIR),
                (false, true) => return Err(FsError::ISDIR),
                (true, true) if !self.list(dnode, &join(&e.nppath, e.newname))?.is_empty() => {
                    return Err(FsError::NOTEMPTY);
                }
                _ => {}
            }
        }
        // Moving a directory to another parent rewrites its `..`: that needs
        // write access to the directory itself.
        if e.src.is_dir && e.parent != e.newparent && !e.caller.may_write(&e.src_st) {
            return Err(FsError(rustix::io::Errno::ACCESS.raw_os_error()));
        }
        // A directory with content below moves as an upper directory that
        // redirects lookups in the lower layers to where that content is
        // (overlayfs's redirect_dir), instead of failing with EXDEV.
        let redirect_to = self.content_below(&e.src);
        if let Some((dst_ino, dnode, dst_st)) = &e.dst
            && !self.in_upper(dnode.layer)
            && self.copies_to_index(dnode, dst_st)
        {
            // A name of a hard-linked lower inode goes: the inode comes up
            // first, so that its other names count one name fewer.
            self.copy_up_metadata(w, *dst_ino)?;
        }
        self.copy_up_metadata(w, e.src_ino)?;
        if let Some(target) = &redirect_to {
            self.upper()?
                .set_redirect(&self.upper()?.dir(&join(&e.ppath, e.name))?, target)?;
        }
        let (src_dir, _) = self.upper_dir(w, e.parent)?;
        let (dst_dir, _) = self.upper_dir(w, e.newparent)?;
        let upper = self.upper()?;
        upper.clear_whiteout(&dst_dir, e.dst_name)?;
        let mut dst_below = false;
        if let Some((_, dnode, _)) = &e.dst {
            if self.in_upper(dnode.layer) && dnode.is_dir {
                // Merged-empty: only whiteouts can be in it.
                dst_dir.child_dir(e.dst_name)?.clear()?;
            }
            let (npnode, _) = self.node(e.newparent)?;
            dst_below = self.exists_below(&npnode, e.newname)?;
        }
        src_dir.rename(e.src_name, &dst_dir, e.dst_name, rustix::fs::RenameFlags::empty())?;
        if matches!(file_type(&e.src_st), FileType::CharacterDevice | FileType::BlockDevice) {
            self.note_placeholder(&dst_dir)?;
        }
        if e.src.is_dir || e.dst.as_ref().is_some_and(|(_, _, st)| is_dir(st)) {
            self.layers[UPPER].forget_dirs();
        }
        if e.src.is_dir && dst_below && redirect_to.is_none() {
            upper.set_opaque(&dst_dir.child_dir(e.dst_name)?)?;
        }
        let (pnode, _) = self.node(e.parent)?;
        if !self.in_upper(e.src.layer) || self.exists_below(&pnode, e.name)? {
            self.write_whiteout(w, &src_dir, e.src_name)?;
        }
        let mut nodes = self.nodes_write();
        if let Some((dst_ino, _, _)) = e.dst {
            nodes.unlink(dst_ino, e.newparent, e.newname);
        }
        nodes.rename(e.src_ino, (e.parent, e.name), (e.newparent, e.newname));
        Ok(())
    }
}

//! The parts of extraction that only extracting into an existing tree
//! (`docker cp` into a container) needs: what is already there.

use super::{ExtractError, Extractor, Meta, bad, io_to_archive};
use crate::layers::index::{Entry, EntryKind};
use crate::layers::tarread::{Header, Tap, quote};
use crate::sys::{BeneathDir, Name};
use rustix::fs::FileType;
use std::io;

impl Extractor<'_> {
    /// Before the entry at `path` (`name` in `dir`) is written: what the
    /// tree already has there is kept (a directory under a directory), or
    /// removed, or, with `no_overwrite_dir_non_dir`, the reason to stop.
    pub(super) fn replace_in_tree(
        &mut self,
        _tap: &mut impl Tap,
        raw_path: &[u8],
        path: &[u8],
        (dir, name): (&BeneathDir, Name<'_>),
        is_dir: bool,
    ) -> Result<(), ExtractError> {
        let tree = self.tree.unwrap_or_default();
        let st = match dir.stat(name) {
            Ok(st) => st,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io_to_archive(raw_path, e)),
        };
        let there_dir = FileType::from_raw_mode(st.st_mode) == FileType::Directory;
        if tree.no_overwrite_dir_non_dir && there_dir != is_dir {
            let reason = if there_dir {
                format!("cannot overwrite directory {} with non-directory", quote(path))
            } else {
                format!("cannot overwrite non-directory {} with directory", quote(path))
            };
            return Err(bad(raw_path, reason).into());
        }
        self.untouched.remove(path);
        if self.index.get(path).is_some() {
            // Written by this archive (or entered by it): the layer rules apply.
            return Ok(());
        }
        if there_dir && is_dir {
            // Merged: the entry only brings its metadata.
            self.index.insert(path.to_vec(), Entry::dir(0o755, 0, 0, 0));
            return Ok(());
        }
        dir.remove_all(name).map_err(|e| io_to_archive(raw_path, e))?;
        Ok(())
    }

    /// Whether `prefix` is a directory the tree already has (entries then
    /// go into it, its own metadata untouched). A symlink there is refused,
    /// as one of the archive's is: nothing is written through one.
    pub(super) fn existing_dir(&mut self, raw_path: &[u8], prefix: &[u8]) -> Result<bool, ExtractError> {
        match self.root.open_dir(prefix) {
            Ok(_) => {
                self.index.insert(prefix.to_vec(), Entry::dir(0o755, 0, 0, 0));
                self.untouched.insert(prefix.to_vec());
                Ok(true)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(io_to_archive(raw_path, e)),
        }
    }

    /// A device node made for real: into a container's root, the union
    /// filesystem keeps it off its disk (a placeholder and an xattr), and
    /// the container's device rules decide whether it can be opened.
    pub(super) fn device_node(
        &self,
        h: &Header,
        dir: &BeneathDir,
        name: Name<'_>,
        meta: &Meta,
        e: &mut Entry,
    ) -> Result<(), ExtractError> {
        let raw_path = h.name.as_slice();
        super::record_device(h, e)?;
        let file_type = if e.kind == EntryKind::CharDevice {
            FileType::CharacterDevice
        } else {
            FileType::BlockDevice
        };
        let dev = rustix::fs::makedev(e.rdev_major, e.rdev_minor);
        dir.mknod(name, file_type, meta.mode & 0o7777, dev).map_err(|err| {
            if err.raw_os_error() == Some(rustix::io::Errno::PERM.raw_os_error()) {
                bad(raw_path, "a device node cannot be made here (the daemon is not root)").into()
            } else {
                io_to_archive(raw_path, err)
            }
        })?;
        self.set_owner_and_times(dir, name, meta, raw_path)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{ExtractOptions, IntoTree, extract_into};
    use crate::sys::BeneathDir;
    use std::os::unix::fs::PermissionsExt;

    fn tar(entries: &[(&str, Option<&str>)]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, data) in entries {
            let mut h = tar::Header::new_ustar();
            h.set_path(name).unwrap();
            match data {
                Some(d) => {
                    h.set_size(d.len() as u64);
                    h.set_mode(0o640);
                    h.set_cksum();
                    b.append(&h, d.as_bytes()).unwrap();
                }
                None => {
                    h.set_entry_type(tar::EntryType::Directory);
                    h.set_mode(0o750);
                    h.set_size(0);
                    h.set_cksum();
                    b.append(&h, std::io::empty()).unwrap();
                }
            }
        }
        b.into_inner().unwrap()
    }

    const OPTS: ExtractOptions = ExtractOptions { privileged: false };

    #[test]
    fn an_archive_merges_into_what_is_there() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        std::fs::create_dir_all(p.join("etc/keep")).unwrap();
        std::fs::write(p.join("etc/keep/old"), "old").unwrap();
        std::fs::write(p.join("etc/file"), "was").unwrap();
        std::fs::set_permissions(p.join("etc"), std::fs::Permissions::from_mode(0o711)).unwrap();
        let root = BeneathDir::open(p).unwrap();
        let t = tar(&[("etc/keep/new", Some("new")), ("etc/file", Some("now")), ("d/", None)]);
        extract_into(t.as_slice(), &root, OPTS, IntoTree::default()).unwrap();
        assert_eq!(std::fs::read_to_string(p.join("etc/keep/old")).unwrap(), "old");
        assert_eq!(std::fs::read_to_string(p.join("etc/keep/new")).unwrap(), "new");
        assert_eq!(std::fs::read_to_string(p.join("etc/file")).unwrap(), "now", "replaced");
        let mode = |q: &str| std::fs::metadata(p.join(q)).unwrap().permissions().mode() & 0o7777;
        assert_eq!(
            mode("etc"),
            0o711,
            "a directory the archive did not name keeps its mode"
        );
        assert_eq!(mode("d"), 0o750);
        assert_eq!(mode("etc/file") & 0o077, 0o040);
    }

    #[test]
    fn no_overwrite_dir_non_dir_and_existing_symlinks_stop_it() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let p = dir.path();
        std::fs::create_dir_all(p.join("d")).unwrap();
        std::fs::write(p.join("f"), "f").unwrap();
        std::os::unix::fs::symlink(outside.path(), p.join("out")).unwrap();
        let root = BeneathDir::open(p).unwrap();
        let strict = IntoTree {
            no_overwrite_dir_non_dir: true,
            owner: None,
        };
        let err = |t: Vec<u8>, how| extract_into(t.as_slice(), &root, OPTS, how).unwrap_err().to_string();
        assert!(err(tar(&[("d", Some("x"))]), strict).contains("cannot overwrite directory"));
        assert!(err(tar(&[("f/", None)]), strict).contains("cannot overwrite non-directory"));
        assert!(err(tar(&[("out/pwned", Some("x"))]), IntoTree::default()).contains("refusing to follow a symlink"));
        assert!(err(tar(&[(".wh.f", Some(""))]), IntoTree::default()).contains("whiteout"));
        assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
        assert!(p.join("f").is_file() && p.join("d").is_dir());
    }
}

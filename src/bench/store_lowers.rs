//! `--store-lowers`: the fixture's lower layers as layers of Strata's store
//! (a directory with the extracted tree in `root/` and its `index`), for
//! stratafs to mount instead of the plain ones (the peers keep those, which
//! hold the same tree): what a container's image is, whose attributes
//! stratafs answers from the index without a syscall.
//!
//! Made once beside the plain layers, from them: whiteouts (0/0 devices or
//! `.wh.` files) and opaque markers go to the index only, as the store keeps
//! them; files are copied, with their mode, owner and mtime. (The fixture
//! has no hard links; each name would be a file of its own here.)

use super::Error;
use crate::layers::index::{Entry, EntryKind, FLAG_OPAQUE, IndexBuilder};
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

/// The store-format copy of each of `plain` (in their order), made under
/// `dir` as `S0`, `S1`, … where not made before (the index, written last,
/// says a copy is whole).
pub fn prepare(plain: &[PathBuf], dir: &Path, log: &dyn Fn(&str)) -> Result<Vec<PathBuf>, Error> {
    let mut out = Vec::new();
    for (i, layer) in plain.iter().enumerate() {
        let store = dir.join(format!("S{i}"));
        if !store.join("index").is_file() {
            log(&format!("store lowers: {} as a store layer", layer.display()));
            convert(layer, &store).map_err(|e| Error::io(format!("making {}", store.display()), e))?;
        }
        out.push(store);
    }
    Ok(out)
}

/// What names a whiteout and an opaque directory in a plain layer.
const WHITEOUT_PREFIX: &[u8] = b".wh.";
const OPAQUE_MARKER: &[u8] = b".wh..wh..opq";

fn convert(plain: &Path, store: &Path) -> std::io::Result<()> {
    if store.exists() {
        fs::remove_dir_all(store)?; // an interrupted copy
    }
    let root = store.join("root");
    fs::create_dir_all(&root)?;
    let mut index = IndexBuilder::new();
    let top = fs::symlink_metadata(plain)?;
    index.insert(Vec::new(), dir_entry(plain, &top)?);
    copy_dir(plain, &root, b"", &mut index)?;
    set_mtime(&root, &top)?;
    crate::sys::write_atomic(&store.join("index"), &index.encode(), 0o644)
}

fn entry_of(meta: &fs::Metadata, kind: EntryKind) -> Entry {
    Entry {
        kind,
        flags: 0,
        mode: meta.mode() & 0o7777,
        uid: meta.uid(),
        gid: meta.gid(),
        rdev_major: rustix::fs::major(meta.rdev()),
        rdev_minor: rustix::fs::minor(meta.rdev()),
        size: 0,
        mtime_sec: meta.mtime(),
        mtime_nsec: meta.mtime_nsec() as u32,
        target: Vec::new(),
        capability: Vec::new(),
        layer: 0,
    }
}

/// A directory's record, opaque if an overlay xattr says so.
fn dir_entry(path: &Path, meta: &fs::Metadata) -> std::io::Result<Entry> {
    let mut e = entry_of(meta, EntryKind::Dir);
    let dir = fs::File::open(path)?;
    for name in ["trusted.overlay.opaque", "user.overlay.opaque"] {
        if crate::sys::xattr::get(&dir, name)?.is_some_and(|v| v == b"y") {
            e.flags |= FLAG_OPAQUE;
        }
    }
    Ok(e)
}

fn join(dir: &[u8], name: &[u8]) -> Vec<u8> {
    if dir.is_empty() {
        return name.to_vec();
    }
    [dir, b"/", name].concat()
}

fn set_mtime(path: &Path, meta: &fs::Metadata) -> std::io::Result<()> {
    let t = rustix::fs::Timespec {
        tv_sec: meta.mtime(),
        tv_nsec: meta.mtime_nsec() as _,
    };
    let times = rustix::fs::Timestamps {
        last_access: t,
        last_modification: t,
    };
    rustix::fs::utimensat(rustix::fs::CWD, path, &times, rustix::fs::AtFlags::SYMLINK_NOFOLLOW)?;
    Ok(())
}

/// Copies the plain directory `src` to `dst`, recording each entry under
/// `rel` in `index`.
fn copy_dir(src: &Path, dst: &Path, rel: &[u8], index: &mut IndexBuilder) -> std::io::Result<()> {
    let mut entries: Vec<fs::DirEntry> = fs::read_dir(src)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name();
        let (from, to) = (e.path(), dst.join(&name));
        let name = name.as_bytes();
        let path = join(rel, name);
        let meta = fs::symlink_metadata(&from)?;
        let kind = meta.file_type();
        if name == OPAQUE_MARKER {
            if let Some(d) = index.get_mut(rel) {
                d.flags |= FLAG_OPAQUE;
            }
        } else if let Some(hidden) = name.strip_prefix(WHITEOUT_PREFIX) {
            index.insert(join(rel, hidden), Entry::whiteout());
        } else if kind.is_char_device() && meta.rdev() == 0 {
            index.insert(path, Entry::whiteout());
        } else if kind.is_dir() {
            fs::create_dir(&to)?;
            index.insert(path.clone(), dir_entry(&from, &meta)?);
            copy_dir(&from, &to, &path, index)?;
            fs::set_permissions(&to, meta.permissions())?;
            set_mtime(&to, &meta)?;
        } else if kind.is_symlink() {
            let target = fs::read_link(&from)?;
            std::os::unix::fs::symlink(&target, &to)?;
            let target = target.as_os_str().as_bytes().to_vec();
            index.insert(
                path,
                Entry {
                    size: target.len() as u64,
                    target,
                    ..entry_of(&meta, EntryKind::Symlink)
                },
            );
            set_mtime(&to, &meta)?;
        } else if kind.is_file() {
            fs::copy(&from, &to)?;
            index.insert(
                path,
                Entry {
                    size: meta.len(),
                    ..entry_of(&meta, EntryKind::File)
                },
            );
            set_mtime(&to, &meta)?;
        }
        // Anything else (the fixture makes none) is left out.
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::index::LayerIndex;

    #[test]
    fn a_plain_layer_becomes_a_store_layer_with_its_markers_in_the_index() {
        let tmp = tempfile::tempdir().unwrap();
        let plain = tmp.path().join("plain");
        fs::create_dir_all(plain.join("etc/opaque")).unwrap();
        fs::write(plain.join("etc/passwd"), "root\n").unwrap();
        fs::write(plain.join("etc/.wh.gone"), "").unwrap();
        fs::write(plain.join("etc/opaque/.wh..wh..opq"), "").unwrap();
        std::os::unix::fs::symlink("passwd", plain.join("etc/link")).unwrap();
        let made = prepare(std::slice::from_ref(&plain), &tmp.path().join("s"), &|_| {}).unwrap();
        let store = &made[0];
        let index = LayerIndex::open(&store.join("index")).unwrap();
        let kinds: Vec<(String, EntryKind)> = index
            .iter()
            .map(|r| (String::from_utf8_lossy(r.path()).into_owned(), r.kind()))
            .collect();
        let want = [
            ("", EntryKind::Dir),
            ("etc", EntryKind::Dir),
            ("etc/gone", EntryKind::Whiteout),
            ("etc/link", EntryKind::Symlink),
            ("etc/opaque", EntryKind::Dir),
            ("etc/passwd", EntryKind::File),
        ];
        let want: Vec<(String, EntryKind)> = want.iter().map(|(p, k)| (p.to_string(), *k)).collect();
        assert_eq!(kinds, want);
        assert!(index.get(b"etc/opaque").unwrap().to_entry().is_opaque());
        assert!(!index.get(b"etc").unwrap().to_entry().is_opaque());
        assert_eq!(index.get(b"etc/passwd").unwrap().size(), 5);
        assert_eq!(index.get(b"etc/link").unwrap().target(), b"passwd");
        assert_eq!(fs::read_to_string(store.join("root/etc/passwd")).unwrap(), "root\n");
        assert!(!store.join("root/etc/.wh.gone").exists(), "markers stay off the disk");
        assert!(!store.join("root/etc/opaque/.wh..wh..opq").exists());
        let mtime = |p: &Path| fs::symlink_metadata(p).unwrap().mtime();
        assert_eq!(mtime(&store.join("root/etc")), mtime(&plain.join("etc")));
    }
}

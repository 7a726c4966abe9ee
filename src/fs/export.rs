//! A writable layer's changes as an OCI layer tar (what `commit` stores):
//! every added or changed path with its content as the container sees it
//! (read through the mounted union, so a renamed directory brings its
//! content along), `.wh.NAME` for a deleted path, `.wh..wh..opq` for a
//! directory made opaque. PAX records carry long names and
//! `security.capability`; ids are numeric, times whole seconds, the order is
//! the change list's (parents first), so the same changes give the same
//! bytes, and the same diff_id. A name of an inode already written is a
//! hard link to the first name written, as Docker writes them.

use super::changes::{Change, ChangeKind};
use super::layer::{file_type, split};
use crate::sys::{self, BeneathDir, Name};
use rustix::fs::{FileType, OFlags, Stat};
use std::io::{self, Write};

/// What was written: the tar's length. (Its digest, the diff_id, is taken
/// once, by whoever stores the bytes: hashing here as well cost a quarter of
/// a commit's CPU.)
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Written {
    pub bytes: u64,
}

struct Counting<W> {
    inner: W,
    bytes: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// How ids read through the mount become ids in the layer: a rootless
/// daemon sees the container's root as itself.
#[derive(Clone, Copy, Debug, Default)]
pub struct IdShift {
    /// (seen, written) for the uid and the gid.
    pub uid: Option<(u32, u32)>,
    pub gid: Option<(u32, u32)>,
}

impl IdShift {
    fn uid(&self, id: u32) -> u32 {
        match self.uid {
            Some((seen, to)) if seen == id => to,
            _ => id,
        }
    }
    fn gid(&self, id: u32) -> u32 {
        match self.gid {
            Some((seen, to)) if seen == id => to,
            _ => id,
        }
    }
}

/// Writes the layer for `changes` (from [`super::changes::changes`]),
/// reading content from `merged` (the container's root, mounted) and asking
/// `opaque` whether a directory of the writable layer is opaque.
pub fn write_layer<W: Write>(
    changes: &[Change],
    merged: &BeneathDir,
    opaque: impl Fn(&[u8]) -> bool,
    ids: IdShift,
    out: W,
) -> io::Result<(Written, W)> {
    write_named(changes, merged, opaque, ids, out, &|rel| rel.to_vec())
}

/// [`write_layer`], each entry named `name(path)` rather than by its path
/// under `merged` (`cp` names a mount's content after its mount point).
pub fn write_named<W: Write>(
    changes: &[Change],
    merged: &BeneathDir,
    opaque: impl Fn(&[u8]) -> bool,
    ids: IdShift,
    out: W,
    name: &dyn Fn(&[u8]) -> Vec<u8>,
) -> io::Result<(Written, W)> {
    let mut tar = tar::Builder::new(Counting { inner: out, bytes: 0 });
    tar.mode(tar::HeaderMode::Complete);
    let mut opaque_dirs: Vec<Vec<u8>> = Vec::new();
    // Inodes with several names: the first name written of each.
    let mut linked: std::collections::HashMap<u64, Vec<u8>> = std::collections::HashMap::new();
    for change in changes {
        let rel = change.path.strip_prefix(b"/").unwrap_or(&change.path);
        if rel.is_empty() {
            continue;
        }
        match change.kind {
            ChangeKind::Deleted => {
                // An opaque parent already hides everything below it.
                if opaque_dirs.iter().any(|d| is_below(rel, d)) {
                    continue;
                }
                let named = name(rel);
                let (parent, leaf) = split(&named);
                let mut wh = parent.to_vec();
                if !wh.is_empty() {
                    wh.push(b'/');
                }
                wh.extend_from_slice(b".wh.");
                wh.extend_from_slice(leaf);
                append_marker(&mut tar, &wh)?;
            }
            ChangeKind::Added | ChangeKind::Modified => {
                let st = merged.stat_path(rel)?;
                let named = name(rel);
                if file_type(&st) != FileType::Directory && st.st_nlink > 1 {
                    if let Some(first) = linked.get(&st.st_ino) {
                        append_hard_link(&mut tar, &named, first, &st, ids)?;
                        continue;
                    }
                    linked.insert(st.st_ino, named.clone());
                }
                append_entry(&mut tar, merged, (rel, &named), &st, ids)?;
                if file_type(&st) == FileType::Directory && change.kind == ChangeKind::Modified && opaque(rel) {
                    let mut marker = named;
                    marker.extend_from_slice(b"/.wh..wh..opq");
                    append_marker(&mut tar, &marker)?;
                    opaque_dirs.push(rel.to_vec());
                }
            }
        }
    }
    let counting = tar.into_inner()?;
    Ok((Written { bytes: counting.bytes }, counting.inner))
}

/// Whether the directory `rel` of the writable layer `upper` is opaque
/// (hides what the layers below have there), in any format this reads.
pub fn opaque_in(upper: &BeneathDir) -> impl Fn(&[u8]) -> bool + '_ {
    move |rel| {
        upper
            .open_dir(rel)
            .ok()
            .is_some_and(|d| super::changes::is_opaque(&d).unwrap_or(false))
    }
}

fn is_below(path: &[u8], dir: &[u8]) -> bool {
    path.len() > dir.len() && path.starts_with(dir) && path[dir.len()] == b'/'
}

fn text(b: &[u8]) -> io::Result<&str> {
    std::str::from_utf8(b).map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "a path that is not UTF-8"))
}

/// Sets the name, with a PAX `path` record when ustar cannot hold it.
fn set_name(header: &mut tar::Header, pax: &mut Vec<(&'static str, Vec<u8>)>, name: &[u8]) -> io::Result<()> {
    if name.is_ascii() && header.set_path(text(name)?).is_ok() {
        return Ok(());
    }
    pax.push(("path", name.to_vec()));
    let short: Vec<u8> = name.iter().copied().filter(u8::is_ascii).take(99).collect();
    let field = &mut header.as_old_mut().name;
    field.fill(0);
    field[..short.len()].copy_from_slice(&short);
    Ok(())
}

fn append_marker<W: Write>(tar: &mut tar::Builder<W>, path: &[u8]) -> io::Result<()> {
    let mut h = tar::Header::new_ustar();
    let mut pax = Vec::new();
    set_name(&mut h, &mut pax, path)?;
    h.set_entry_type(tar::EntryType::Regular);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h.set_size(0);
    if !pax.is_empty() {
        tar.append_pax_extensions(pax.iter().map(|(k, v)| (*k, v.as_slice())))?;
    }
    h.set_cksum();
    tar.append(&h, io::empty())
}

/// `rel` as a hard link (TypeLink) to `first`, an earlier name of its inode.
fn append_hard_link<W: Write>(
    tar: &mut tar::Builder<W>,
    rel: &[u8],
    first: &[u8],
    st: &Stat,
    ids: IdShift,
) -> io::Result<()> {
    let mut h = tar::Header::new_ustar();
    let mut pax: Vec<(&'static str, Vec<u8>)> = Vec::new();
    set_name(&mut h, &mut pax, rel)?;
    h.set_entry_type(tar::EntryType::Link);
    if !first.is_ascii() || h.set_link_name(text(first)?).is_err() {
        pax.push(("linkpath", first.to_vec()));
    }
    h.set_mode(st.st_mode & 0o7777);
    h.set_uid(ids.uid(st.st_uid).into());
    h.set_gid(ids.gid(st.st_gid).into());
    h.set_mtime(st.st_mtime.max(0) as u64);
    h.set_size(0);
    if !pax.is_empty() {
        tar.append_pax_extensions(pax.iter().map(|(k, v)| (*k, v.as_slice())))?;
    }
    h.set_cksum();
    tar.append(&h, io::empty())
}

/// `rel` (its path under `merged`) as the entry `named`.
fn append_entry<W: Write>(
    tar: &mut tar::Builder<W>,
    merged: &BeneathDir,
    (rel, named): (&[u8], &[u8]),
    st: &Stat,
    ids: IdShift,
) -> io::Result<()> {
    let kind = file_type(st);
    let mut h = tar::Header::new_ustar();
    let mut pax: Vec<(&'static str, Vec<u8>)> = Vec::new();
    let mut name = named.to_vec();
    if kind == FileType::Directory {
        name.push(b'/');
    }
    set_name(&mut h, &mut pax, &name)?;
    h.set_mode(st.st_mode & 0o7777);
    h.set_uid(ids.uid(st.st_uid).into());
    h.set_gid(ids.gid(st.st_gid).into());
    h.set_mtime(st.st_mtime.max(0) as u64);
    h.set_size(0);
    let mut data: Option<std::fs::File> = None;
    match kind {
        FileType::Directory => h.set_entry_type(tar::EntryType::Directory),
        FileType::Symlink => {
            h.set_entry_type(tar::EntryType::Symlink);
            let (parent, leaf) = split(rel);
            let dir = merged.open_dir(parent)?;
            let target = dir.read_link(Name::new(leaf).map_err(io::Error::other)?)?;
            if !target.is_ascii() || h.set_link_name(text(&target)?).is_err() {
                pax.push(("linkpath", target));
            }
        }
        FileType::CharacterDevice | FileType::BlockDevice => {
            h.set_entry_type(if kind == FileType::CharacterDevice {
                tar::EntryType::Char
            } else {
                tar::EntryType::Block
            });
            h.set_device_major(rustix::fs::major(st.st_rdev))?;
            h.set_device_minor(rustix::fs::minor(st.st_rdev))?;
        }
        FileType::Fifo => h.set_entry_type(tar::EntryType::Fifo),
        FileType::Socket => return Ok(()), // tar has no sockets; Docker skips them too
        _ => {
            h.set_entry_type(tar::EntryType::Regular);
            h.set_size(st.st_size as u64);
            data = Some(merged.open_file(rel, OFlags::RDONLY | OFlags::NOFOLLOW)?);
        }
    }
    if kind != FileType::Symlink {
        let fd = merged.open_path(rel)?;
        if let Some(cap) = sys::xattr::get(&fd, "security.capability")? {
            pax.push(("SCHILY.xattr.security.capability", cap));
        }
    }
    if !pax.is_empty() {
        tar.append_pax_extensions(pax.iter().map(|(k, v)| (*k, v.as_slice())))?;
    }
    h.set_cksum();
    match data {
        // Exactly the size the header promises, even if the file changed.
        Some(f) => {
            use io::Read;
            let size = st.st_size as u64;
            let mut r = f.take(size).chain(io::repeat(0).take(size));
            tar.append(&h, (&mut r).take(size))
        }
        None => tar.append(&h, io::empty()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(path: &str, kind: ChangeKind) -> Change {
        Change {
            path: path.as_bytes().to_vec(),
            kind,
        }
    }

    #[test]
    fn a_layer_tar_has_entries_whiteouts_and_a_stable_digest() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::write(root.join("etc/passwd"), "root:x:0:0\n").unwrap();
        std::fs::create_dir_all(root.join("opq")).unwrap();
        std::fs::write(root.join("opq/kept"), "k").unwrap();
        std::os::unix::fs::symlink("passwd", root.join("etc/link")).unwrap();
        let long = "d".repeat(120);
        std::fs::write(root.join(&long), "long").unwrap();
        std::fs::hard_link(root.join("etc/passwd"), root.join("etc/passwd-again")).unwrap();
        let merged = BeneathDir::open(root).unwrap();
        let list = vec![
            change("/etc", ChangeKind::Modified),
            change("/etc/group", ChangeKind::Deleted),
            change("/etc/link", ChangeKind::Added),
            change("/etc/passwd", ChangeKind::Modified),
            change("/etc/passwd-again", ChangeKind::Modified),
            change("/opq", ChangeKind::Modified),
            change("/opq/gone", ChangeKind::Deleted),
            change("/opq/kept", ChangeKind::Added),
            change(&format!("/{long}"), ChangeKind::Added),
        ];
        let write = || write_layer(&list, &merged, |d| d == b"opq", IdShift::default(), Vec::new()).unwrap();
        let (w1, bytes) = write();
        let (_, again) = write();
        assert!(bytes == again, "same changes, same bytes");
        assert_eq!(w1.bytes as usize, bytes.len());
        let mut archive = tar::Archive::new(bytes.as_slice());
        let mut links = Vec::new();
        let names: Vec<String> = archive
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                if e.header().entry_type() == tar::EntryType::Link {
                    let to = e.link_name().unwrap().unwrap().to_string_lossy().into_owned();
                    links.push((e.path().unwrap().to_string_lossy().into_owned(), to));
                    assert_eq!(e.header().size().unwrap(), 0, "a link has no data");
                }
                e.path().unwrap().to_string_lossy().into_owned()
            })
            .collect();
        assert_eq!(
            names,
            vec![
                "etc/".to_string(),
                "etc/.wh.group".into(),
                "etc/link".into(),
                "etc/passwd".into(),
                "etc/passwd-again".into(),
                "opq/".into(),
                "opq/.wh..wh..opq".into(),
                "opq/kept".into(),
                long.clone(),
            ]
        );
        assert_eq!(
            links,
            vec![("etc/passwd-again".to_string(), "etc/passwd".to_string())],
            "the second name of an inode is a hard link to the first"
        );
    }
}

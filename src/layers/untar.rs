//! Extracting a layer tar into a fresh directory, safely.
//!
//! Every path is cleaned and refused if it is absolute or climbs with `..`;
//! every parent directory is opened through [`BeneathDir`], so a symlink in
//! the archive can never redirect a later entry (writing through any symlink is
//! refused, inside the layer or out of it); hard links may only point at
//! non-directories already extracted from the same archive. Whiteouts
//! (`.wh.<name>`) and opaque markers (`.wh..wh..opq`) are recorded in the
//! layer index and never materialised on disk.

use super::digest::{Digest, HashingReader};
use super::index::{Entry, EntryKind, FLAG_HARDLINK, FLAG_OPAQUE, IndexBuilder};
use crate::sys::{BeneathDir, Name};
use rustix::fs::{FileType, Mode, Timespec, Timestamps, XattrFlags};
use std::io::{self, Read, Write};

/// Why an archive was refused. Always the client's fault, never the store's.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("empty archive: the request body held no data")]
    Empty,
    #[error("not a tar archive ({0})")]
    NotTar(String),
    #[error(
        "the archive is compressed with {0}, which is not supported: decompress it first (plain and gzip tars are)"
    )]
    Compressed(&'static str),
    #[error("truncated tar archive: the stream ended before the end-of-archive marker")]
    Truncated,
    #[error("{path:?}: {reason}")]
    BadEntry { path: String, reason: String },
}

fn bad(path: &[u8], reason: impl Into<String>) -> ArchiveError {
    ArchiveError::BadEntry {
        path: String::from_utf8_lossy(path).into_owned(),
        reason: reason.into(),
    }
}

/// Extraction failed: either the archive is bad, or the store's disk is.
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    #[error("writing the layer: {0}")]
    Io(#[from] io::Error),
}

impl From<rustix::io::Errno> for ExtractError {
    fn from(e: rustix::io::Errno) -> Self {
        ExtractError::Io(e.into())
    }
}

/// What an extraction produced.
#[derive(Debug)]
pub struct Extracted {
    pub diff_id: Digest,
    pub tar_bytes: u64,
    pub index: IndexBuilder,
}

/// Options that depend on the daemon's privileges.
#[derive(Clone, Copy, Debug)]
pub struct ExtractOptions {
    /// Root can `chown`, `mknod` devices and set `trusted.*` xattrs. Without
    /// it, files keep the daemon's owner and get owner read/write (so the
    /// filesystem can serve them) while the index keeps the archive's truth.
    pub privileged: bool,
}

/// Cleans a tar path into `a/b/c` form: `./` prefixes, empty and `.`
/// components and a trailing `/` are dropped. Absolute paths and `..` are
/// refused, as are components longer than NAME_MAX.
pub fn clean_path(raw: &[u8]) -> Result<Vec<u8>, ArchiveError> {
    if raw.first() == Some(&b'/') {
        return Err(bad(raw, "absolute path in archive"));
    }
    let mut out = Vec::with_capacity(raw.len());
    for comp in raw.split(|&c| c == b'/') {
        match comp {
            b"" | b"." => continue,
            b".." => return Err(bad(raw, "path climbs out with `..`")),
            _ => {
                Name::new(comp).map_err(|e| bad(raw, e.to_string()))?;
                if !out.is_empty() {
                    out.push(b'/');
                }
                out.extend_from_slice(comp);
            }
        }
    }
    if out.len() > 4095 {
        return Err(bad(raw, "path longer than PATH_MAX"));
    }
    Ok(out)
}

fn split_parent(path: &[u8]) -> (&[u8], &[u8]) {
    match path.iter().rposition(|&c| c == b'/') {
        Some(i) => (&path[..i], &path[i + 1..]),
        None => (&[], path),
    }
}

const OPAQUE_MARKER: &[u8] = b".wh..wh..opq";
const WHITEOUT_PREFIX: &[u8] = b".wh.";
/// Xattrs that describe overlay state to some union filesystem; honouring
/// them from an archive would let a layer forge whiteouts.
const INTERNAL_XATTR_PREFIXES: [&str; 4] = [
    "trusted.overlay.",
    "user.overlay.",
    "user.fuseoverlayfs.",
    "user.containers.",
];
pub const CAPABILITY_XATTR: &str = "security.capability";

struct Extractor<'a> {
    root: &'a BeneathDir,
    opts: ExtractOptions,
    index: IndexBuilder,
    /// The parent directory of the previous entry: tars are mostly ordered by
    /// directory, so this saves an openat2 per entry.
    last_parent: Option<(Vec<u8>, BeneathDir)>,
    buf: Vec<u8>,
}

/// Per-entry facts taken from the header and its PAX records.
struct Meta {
    mode: u32,
    uid: u32,
    gid: u32,
    mtime_sec: i64,
    mtime_nsec: u32,
    xattrs: Vec<(String, Vec<u8>)>,
}

/// Extracts `reader` (an uncompressed tar stream) into the empty directory
/// `root`, returning its diff_id (the digest of every byte of the stream) and
/// its index.
pub fn extract(reader: impl Read, root: &BeneathDir, opts: ExtractOptions) -> Result<Extracted, ExtractError> {
    let mut hashing = HashingReader::new(reader);
    let mut ex = Extractor {
        root,
        opts,
        index: IndexBuilder::new(),
        last_parent: None,
        buf: vec![0u8; 256 * 1024],
    };
    ex.index.insert(Vec::new(), Entry::dir(0o755, 0, 0, 0));
    let mut parse_error = None;
    {
        let mut archive = tar::Archive::new(&mut hashing);
        let entries = archive.entries().map_err(|e| ArchiveError::NotTar(e.to_string()))?;
        for (n, entry) in entries.enumerate() {
            match entry {
                Ok(entry) => ex.entry(entry)?,
                Err(e) => {
                    parse_error = Some(if n == 0 {
                        e.to_string()
                    } else {
                        format!("entry {}: {e}", n + 1)
                    });
                    break;
                }
            }
        }
    }
    // A stream that ended while the tar reader still wanted data is
    // truncated, whatever the reader made of the partial block.
    if hashing.hit_eof() {
        return Err(if hashing.bytes_read() == 0 {
            ArchiveError::Empty
        } else {
            ArchiveError::Truncated
        }
        .into());
    }
    if let Some(e) = parse_error {
        return Err(ArchiveError::NotTar(e).into());
    }
    ex.finish_dirs()?;
    let (diff_id, tar_bytes) = hashing.finish()?;
    Ok(Extracted {
        diff_id,
        tar_bytes,
        index: ex.index,
    })
}

fn io_to_archive(path: &[u8], e: io::Error) -> ExtractError {
    // Errors that only a hostile or inconsistent archive can cause are the
    // client's; the rest (ENOSPC, EIO) are the store's.
    match e.raw_os_error() {
        Some(c) if c == libc_errno::ELOOP || c == libc_errno::EXDEV || c == libc_errno::ENOTDIR => {
            bad(path, format!("refusing to follow a symlink or leave the layer ({e})")).into()
        }
        _ => ExtractError::Io(e),
    }
}

mod libc_errno {
    use rustix::io::Errno;
    pub const ELOOP: i32 = Errno::LOOP.raw_os_error();
    pub const EXDEV: i32 = Errno::XDEV.raw_os_error();
    pub const ENOTDIR: i32 = Errno::NOTDIR.raw_os_error();
}

impl Extractor<'_> {
    fn entry<R: Read>(&mut self, mut entry: tar::Entry<'_, R>) -> Result<(), ExtractError> {
        let raw_path = entry.path_bytes().into_owned();
        let etype = entry.header().entry_type();
        if etype.is_pax_global_extensions() {
            return Ok(());
        }
        let path = clean_path(&raw_path)?;
        let meta = self.meta(&mut entry, &raw_path)?;
        let (parent, name) = split_parent(&path);

        if name.starts_with(WHITEOUT_PREFIX) {
            return self.whiteout(&raw_path, parent, name);
        }
        if path.is_empty() {
            // The archive's `./`: metadata for the layer root.
            if !etype.is_dir() {
                return Err(bad(&raw_path, "the archive root must be a directory").into());
            }
            let root = Entry::dir(meta.mode, meta.uid, meta.gid, meta.mtime_sec);
            self.index.insert(Vec::new(), root);
            return Ok(());
        }
        let dir = self.parent_dir(&raw_path, parent)?;
        let name_ref = Name::new(name).map_err(|e| bad(&raw_path, e.to_string()))?;

        // A later entry for an existing path replaces it, except that a
        // directory over a directory only updates its metadata.
        if let Some(existing) = self.index.get(&path) {
            let keep_dir = existing.kind == EntryKind::Dir && etype.is_dir();
            if !keep_dir {
                if existing.kind != EntryKind::Whiteout {
                    dir.remove_all(name_ref).map_err(|e| io_to_archive(&raw_path, e))?;
                }
                self.index.remove_tree(&path);
            }
        }

        let mut e = Entry {
            kind: EntryKind::File,
            flags: 0,
            mode: meta.mode,
            uid: meta.uid,
            gid: meta.gid,
            rdev_major: 0,
            rdev_minor: 0,
            size: 0,
            mtime_sec: meta.mtime_sec,
            mtime_nsec: meta.mtime_nsec,
            target: Vec::new(),
            capability: meta
                .xattrs
                .iter()
                .find(|(k, _)| k == CAPABILITY_XATTR)
                .map(|(_, v)| v.clone())
                .unwrap_or_default(),
            layer: 0,
        };
        use tar::EntryType as T;
        match etype {
            T::Regular | T::Continuous | T::GNUSparse => {
                e.size = entry.size();
                self.write_file(&mut entry, &raw_path, &dir, name_ref, &meta)?;
            }
            T::Directory => {
                e.kind = EntryKind::Dir;
                if let Some(old) = self.index.get(&path) {
                    e.flags = old.flags & FLAG_OPAQUE;
                } else {
                    match dir.mkdir(name_ref, 0o700) {
                        Ok(()) => {}
                        Err(err) => return Err(io_to_archive(&raw_path, err)),
                    }
                }
            }
            T::Symlink => {
                e.kind = EntryKind::Symlink;
                e.target = entry
                    .link_name_bytes()
                    .ok_or_else(|| bad(&raw_path, "symlink without a target"))?
                    .into_owned();
                if e.target.is_empty() {
                    return Err(bad(&raw_path, "symlink with an empty target").into());
                }
                e.size = e.target.len() as u64;
                dir.symlink(&e.target, name_ref)
                    .map_err(|err| io_to_archive(&raw_path, err))?;
                self.set_owner_and_times(&dir, name_ref, &meta, &raw_path)?;
            }
            T::Link => {
                let target_raw = entry
                    .link_name_bytes()
                    .ok_or_else(|| bad(&raw_path, "hard link without a target"))?
                    .into_owned();
                e = self.hard_link(&raw_path, &target_raw, &dir, name_ref)?;
            }
            T::Char | T::Block | T::Fifo => {
                let (kind, ftype) = match etype {
                    T::Char => (EntryKind::CharDevice, FileType::CharacterDevice),
                    T::Block => (EntryKind::BlockDevice, FileType::BlockDevice),
                    _ => (EntryKind::Fifo, FileType::Fifo),
                };
                e.kind = kind;
                let header = entry.header();
                e.rdev_major = header.device_major().ok().flatten().unwrap_or(0);
                e.rdev_minor = header.device_minor().ok().flatten().unwrap_or(0);
                let dev = rustix::fs::makedev(e.rdev_major, e.rdev_minor);
                match dir.mknod(name_ref, ftype, 0o600, dev) {
                    Ok(()) => {}
                    // Unprivileged: an empty placeholder on disk, the truth in the index.
                    Err(err) if err.raw_os_error() == Some(rustix::io::Errno::PERM.raw_os_error()) => {
                        dir.create_file(name_ref, 0o600)
                            .map_err(|err| io_to_archive(&raw_path, err))?;
                    }
                    Err(err) => return Err(io_to_archive(&raw_path, err)),
                }
                self.set_owner_and_times(&dir, name_ref, &meta, &raw_path)?;
                self.chmod_entry(&dir, name_ref, meta.mode)?;
            }
            other => {
                return Err(bad(
                    &raw_path,
                    format!("unsupported tar entry type {:?}", other.as_byte() as char),
                )
                .into());
            }
        }
        self.index.insert(path, e);
        Ok(())
    }

    fn meta<R: Read>(&self, entry: &mut tar::Entry<'_, R>, raw_path: &[u8]) -> Result<Meta, ArchiveError> {
        let header = entry.header();
        let old = header.as_old();
        // A blank numeric field (all NUL or spaces) reads as 0, as Go's
        // archive/tar (and so Docker) reads it.
        let num = |field: &[u8], r: io::Result<u64>, what: &str| -> Result<u64, ArchiveError> {
            if field.iter().all(|&c| c == 0 || c == b' ') {
                return Ok(0);
            }
            r.map_err(|e| bad(raw_path, format!("bad {what} field: {e}")))
        };
        let mode = num(&old.mode, header.mode().map(u64::from), "mode")? as u32 & 0o7777;
        let uid = u32::try_from(num(&old.uid, header.uid(), "uid")?).map_err(|_| bad(raw_path, "uid out of range"))?;
        let gid = u32::try_from(num(&old.gid, header.gid(), "gid")?).map_err(|_| bad(raw_path, "gid out of range"))?;
        let mut mtime_sec = i64::try_from(num(&old.mtime, header.mtime(), "mtime")?).unwrap_or(i64::MAX);
        let mut mtime_nsec = 0;
        let mut xattrs = Vec::new();
        if let Some(pax) = entry
            .pax_extensions()
            .map_err(|e| bad(raw_path, format!("bad PAX header: {e}")))?
        {
            for ext in pax {
                let ext = ext.map_err(|e| bad(raw_path, format!("bad PAX record: {e}")))?;
                let Ok(key) = ext.key() else { continue };
                if key == "mtime" {
                    if let Some((s, ns)) = parse_pax_time(ext.value_bytes()) {
                        mtime_sec = s;
                        mtime_nsec = ns;
                    }
                } else if let Some(name) = key.strip_prefix("SCHILY.xattr.")
                    && !INTERNAL_XATTR_PREFIXES.iter().any(|p| name.starts_with(p))
                {
                    xattrs.push((name.to_string(), ext.value_bytes().to_vec()));
                }
            }
        }
        Ok(Meta {
            mode,
            uid,
            gid,
            mtime_sec,
            mtime_nsec,
            xattrs,
        })
    }

    /// Records a whiteout or an opaque marker; nothing goes on disk but the
    /// parent directory.
    fn whiteout(&mut self, raw_path: &[u8], parent: &[u8], name: &[u8]) -> Result<(), ExtractError> {
        self.parent_dir(raw_path, parent)?;
        if name == OPAQUE_MARKER {
            if let Some(dir) = self.index.get_mut(parent) {
                dir.flags |= FLAG_OPAQUE;
            }
            return Ok(());
        }
        if name.starts_with(b".wh..wh.") {
            // AUFS bookkeeping (`.wh..wh.plnk`, `.wh..wh.aufs`): not content.
            return Ok(());
        }
        let hidden = &name[WHITEOUT_PREFIX.len()..];
        Name::new(hidden).map_err(|e| bad(raw_path, format!("whiteout of an invalid name: {e}")))?;
        let mut path = parent.to_vec();
        if !path.is_empty() {
            path.push(b'/');
        }
        path.extend_from_slice(hidden);
        if let Some(existing) = self.index.get(&path) {
            if existing.kind != EntryKind::Whiteout {
                let dir = self.parent_dir(raw_path, parent)?;
                dir.remove_all(Name::new(hidden).expect("checked"))
                    .map_err(|e| io_to_archive(raw_path, e))?;
            }
            self.index.remove_tree(&path);
        }
        self.index.insert(path, Entry::whiteout());
        Ok(())
    }

    /// Opens (creating as needed) the directory `parent`, after checking in
    /// the index that every component is a directory of this archive.
    fn parent_dir(&mut self, raw_path: &[u8], parent: &[u8]) -> Result<BeneathDir, ExtractError> {
        if let Some((p, fd)) = &self.last_parent
            && p == parent
        {
            return Ok(fd.open_dir(b"")?);
        }
        let mut prefix: Vec<u8> = Vec::new();
        for comp in parent.split(|&c| c == b'/').filter(|c| !c.is_empty()) {
            let dir_path = prefix.clone();
            if !prefix.is_empty() {
                prefix.push(b'/');
            }
            prefix.extend_from_slice(comp);
            match self.index.get(&prefix).map(|e| e.kind) {
                Some(EntryKind::Dir) => continue,
                Some(EntryKind::Symlink) => {
                    return Err(bad(
                        raw_path,
                        format!(
                            "refusing to write through symlink {:?}",
                            String::from_utf8_lossy(&prefix)
                        ),
                    )
                    .into());
                }
                Some(EntryKind::Whiteout) | None => {
                    // Implied parent: created as Docker does, 0755 root-owned.
                    let d = self.root.open_dir(&dir_path).map_err(|e| io_to_archive(raw_path, e))?;
                    d.mkdir(Name::new(comp).expect("cleaned"), 0o700)
                        .map_err(|e| io_to_archive(raw_path, e))?;
                    self.index.insert(prefix.clone(), Entry::dir(0o755, 0, 0, 0));
                }
                Some(_) => {
                    return Err(bad(
                        raw_path,
                        format!("parent {:?} is not a directory", String::from_utf8_lossy(&prefix)),
                    )
                    .into());
                }
            }
        }
        let dir = self.root.open_dir(parent).map_err(|e| io_to_archive(raw_path, e))?;
        self.last_parent = Some((parent.to_vec(), dir.try_clone()?));
        Ok(dir)
    }

    fn write_file<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        raw_path: &[u8],
        dir: &BeneathDir,
        name: Name<'_>,
        meta: &Meta,
    ) -> Result<(), ExtractError> {
        let mut file = dir.create_file(name, 0o600).map_err(|e| io_to_archive(raw_path, e))?;
        let want = entry.size();
        let mut written = 0u64;
        loop {
            let n = entry
                .read(&mut self.buf)
                .map_err(|e| bad(raw_path, format!("reading data: {e}")))?;
            if n == 0 {
                break;
            }
            file.write_all(&self.buf[..n])?;
            written += n as u64;
        }
        if written != want {
            return Err(ArchiveError::Truncated.into());
        }
        if self.opts.privileged {
            rustix::fs::fchown(
                &file,
                Some(rustix::fs::Uid::from_raw(meta.uid)),
                Some(rustix::fs::Gid::from_raw(meta.gid)),
            )?;
        }
        // After chown, which clears set-id bits.
        rustix::fs::fchmod(&file, Mode::from_raw_mode(self.disk_mode(meta.mode, 0o600)))?;
        self.set_xattrs(&file, &meta.xattrs, raw_path);
        rustix::fs::futimens(&file, &times(meta.mtime_sec, meta.mtime_nsec))?;
        Ok(())
    }

    fn hard_link(
        &mut self,
        raw_path: &[u8],
        target_raw: &[u8],
        dir: &BeneathDir,
        name: Name<'_>,
    ) -> Result<Entry, ExtractError> {
        let target = clean_path(target_raw).map_err(|_| {
            bad(
                raw_path,
                format!(
                    "hard link to {:?} leaves the layer",
                    String::from_utf8_lossy(target_raw)
                ),
            )
        })?;
        let mut linked = match self.index.get(&target) {
            Some(e) if !matches!(e.kind, EntryKind::Dir | EntryKind::Whiteout) => e.clone(),
            Some(_) => return Err(bad(raw_path, "hard link to a directory or a deleted path").into()),
            None => {
                return Err(bad(
                    raw_path,
                    format!(
                        "hard link to {:?}, which is not earlier in this archive",
                        String::from_utf8_lossy(target_raw)
                    ),
                )
                .into());
            }
        };
        let (tparent, tname) = split_parent(&target);
        let tdir = self.root.open_dir(tparent).map_err(|e| io_to_archive(raw_path, e))?;
        dir.link_from(&tdir, Name::new(tname).expect("cleaned"), name)
            .map_err(|e| io_to_archive(raw_path, e))?;
        if linked.flags & FLAG_HARDLINK == 0 {
            linked.target = target;
        }
        linked.flags |= FLAG_HARDLINK;
        Ok(linked)
    }

    fn set_owner_and_times(
        &self,
        dir: &BeneathDir,
        name: Name<'_>,
        meta: &Meta,
        raw_path: &[u8],
    ) -> Result<(), ExtractError> {
        if self.opts.privileged {
            dir.chown(name, meta.uid, meta.gid)
                .map_err(|e| io_to_archive(raw_path, e))?;
        }
        dir.set_times(name, &times(meta.mtime_sec, meta.mtime_nsec))
            .map_err(|e| io_to_archive(raw_path, e))?;
        Ok(())
    }

    fn chmod_entry(&self, dir: &BeneathDir, name: Name<'_>, mode: u32) -> Result<(), ExtractError> {
        Ok(dir.chmod(name, self.disk_mode(mode, 0o600))?)
    }

    fn disk_mode(&self, mode: u32, owner_needs: u32) -> u32 {
        if self.opts.privileged { mode } else { mode | owner_needs }
    }

    fn set_xattrs(&self, fd: &impl std::os::fd::AsFd, xattrs: &[(String, Vec<u8>)], raw_path: &[u8]) {
        for (k, v) in xattrs.iter().filter(|(k, _)| k != CAPABILITY_XATTR) {
            if let Err(e) = rustix::fs::fsetxattr(fd, k.as_str(), v, XattrFlags::empty()) {
                // The index keeps security.capability whatever the store's
                // filesystem supports; other xattrs are best effort, as in Docker.
                tracing::debug!(path = %String::from_utf8_lossy(raw_path), xattr = %k, "xattr not kept: {e}");
            }
        }
    }

    /// Applies directory owner, mode and times last, deepest first, so that a
    /// read-only directory did not block its children and their creation did
    /// not disturb its mtime.
    fn finish_dirs(&mut self) -> Result<(), ExtractError> {
        let dirs: Vec<(Vec<u8>, Entry)> = self
            .index
            .iter()
            .filter(|(_, e)| e.kind == EntryKind::Dir)
            .map(|(p, e)| (p.clone(), e.clone()))
            .collect();
        self.last_parent = None;
        for (path, e) in dirs.into_iter().rev() {
            let d = self.root.open_dir(&path)?;
            if self.opts.privileged {
                rustix::fs::fchown(
                    d.as_fd(),
                    Some(rustix::fs::Uid::from_raw(e.uid)),
                    Some(rustix::fs::Gid::from_raw(e.gid)),
                )?;
            }
            rustix::fs::fchmod(d.as_fd(), Mode::from_raw_mode(self.disk_mode(e.mode, 0o700)))?;
            rustix::fs::futimens(d.as_fd(), &times(e.mtime_sec, e.mtime_nsec))?;
        }
        Ok(())
    }
}

fn times(sec: i64, nsec: u32) -> Timestamps {
    let t = Timespec {
        tv_sec: sec,
        tv_nsec: nsec.into(),
    };
    Timestamps {
        last_access: t,
        last_modification: t,
    }
}

/// Parses a PAX time (`1700000000.123456789`, possibly negative).
fn parse_pax_time(v: &[u8]) -> Option<(i64, u32)> {
    let s = std::str::from_utf8(v).ok()?;
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    let sec: i64 = int.parse().ok()?;
    let mut digits: String = frac.chars().take(9).collect();
    if !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    while digits.len() < 9 {
        digits.push('0');
    }
    let nsec: u32 = digits.parse().ok()?;
    if sec < 0 && nsec > 0 {
        // -1.5 means 1.5 s before the epoch.
        return Some((sec - 1, 1_000_000_000 - nsec));
    }
    Some((sec, nsec))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_path_normalises_and_refuses() {
        assert_eq!(clean_path(b"./a//b/./c/").unwrap(), b"a/b/c");
        assert_eq!(clean_path(b"./").unwrap(), b"");
        assert!(clean_path(b"/etc/passwd").is_err());
        assert!(clean_path(b"a/../../etc").is_err());
        assert!(clean_path(b"..").is_err());
        let long = vec![b'x'; 256];
        assert!(clean_path(&long).is_err());
    }

    #[test]
    fn pax_times_parse() {
        assert_eq!(parse_pax_time(b"1700000000.5"), Some((1700000000, 500_000_000)));
        assert_eq!(parse_pax_time(b"12"), Some((12, 0)));
        assert_eq!(parse_pax_time(b"-1.5"), Some((-2, 500_000_000)));
        assert_eq!(parse_pax_time(b"x"), None);
    }
}

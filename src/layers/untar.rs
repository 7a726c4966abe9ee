//! Extracting a layer tar into a fresh directory, safely.
//!
//! Every path is cleaned and refused if it is absolute or climbs with `..`;
//! every parent directory is opened through [`BeneathDir`], so a symlink in
//! the archive can never redirect a later entry (writing through any symlink is
//! refused, inside the layer or out of it); hard links may only point at
//! non-directories already extracted from the same archive. Whiteouts
//! (`.wh.<name>`) and opaque markers (`.wh..wh..opq`) are recorded in the
//! layer index and never materialised on disk.
//!
//! [`extract_recording`] also hands a [`Recorder`] what it needs to write the
//! tar again byte for byte (see `tarlayout`): the reader's raw bytes, where
//! each file's data went, and what is about to be removed.

use super::digest::{Digest, HashingReader};
use super::index::{Entry, EntryKind, FLAG_HARDLINK, FLAG_OPAQUE, IndexBuilder};
use super::tarread::{Header, Reader, Segment, Tap, TarError, quote, typeflag};
use crate::sys::{BeneathDir, Name};
use rustix::fs::{FileType, Mode, Timespec, Timestamps, XattrFlags};
use std::io::{self, Read, Write};
use std::os::unix::fs::FileExt;

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
    #[error("malformed tar archive at {0}")]
    Malformed(String),
    #[error("the archive could not be read: {0}")]
    Unreadable(String),
    /// `path` is already quoted (and cut short: see [`quote`]).
    #[error("{path}: {reason}")]
    BadEntry { path: String, reason: String },
}

fn bad(path: &[u8], reason: impl Into<String>) -> ArchiveError {
    ArchiveError::BadEntry {
        path: quote(path),
        reason: reason.into(),
    }
}

impl From<TarError> for ArchiveError {
    fn from(e: TarError) -> Self {
        match e {
            TarError::NotTar(why) => ArchiveError::NotTar(why.to_string()),
            TarError::Truncated => ArchiveError::Truncated,
            TarError::Read(e) => ArchiveError::Unreadable(e.to_string()),
            TarError::Malformed { .. } => ArchiveError::Malformed(e.to_string()),
            TarError::Sparse { name, reason } => bad(&name, reason),
        }
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

impl From<TarError> for ExtractError {
    fn from(e: TarError) -> Self {
        ExtractError::Archive(e.into())
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

/// Extracting into a tree that already has content (`docker cp` into a
/// container's mounted root) rather than into a fresh layer: what is
/// there is merged with, as Docker's `Unpack` does (a directory over a
/// directory takes the archive's metadata, anything else replaces what was
/// there). The same rules hold: no path leaves the root, no symlink is
/// followed (one already in the tree, as a parent of an entry, is refused
/// like one of the archive's), hard links only to earlier entries.
/// Whiteouts are refused: they mean nothing outside a layer.
#[derive(Clone, Copy, Debug, Default)]
pub struct IntoTree {
    /// Docker's `noOverwriteDirNonDir`: replacing a directory with a
    /// non-directory, or the reverse, is an error.
    pub no_overwrite_dir_non_dir: bool,
    /// The owner every entry gets (Docker's `copyUIDGID`), instead of the
    /// archive's.
    pub owner: Option<(u32, u32)>,
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
    /// Set when extracting into an existing tree.
    tree: Option<IntoTree>,
    /// Directories of the existing tree that entries went into and the
    /// archive did not name: their metadata is left as it was.
    untouched: std::collections::HashSet<Vec<u8>>,
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

impl Meta {
    /// A regular file's index entry with this metadata.
    fn entry(&self) -> Entry {
        Entry {
            kind: EntryKind::File,
            flags: 0,
            mode: self.mode,
            uid: self.uid,
            gid: self.gid,
            rdev_major: 0,
            rdev_minor: 0,
            size: 0,
            mtime_sec: self.mtime_sec,
            mtime_nsec: self.mtime_nsec,
            target: Vec::new(),
            capability: self
                .xattrs
                .iter()
                .find(|(k, _)| k == CAPABILITY_XATTR)
                .map(|(_, v)| v.clone())
                .unwrap_or_default(),
            layer: 0,
        }
    }
}

/// What an extraction tells about the archive's layout, besides the raw
/// bytes its tar reader taps. Infallible, as [`Tap`] is.
pub trait Recorder: Tap {
    /// The entry data that follows in the stream is the content of the file
    /// just created at `path` (cleaned, relative to the layer's root), of
    /// `size` bytes; for a sparse file, the data of `sparse`'s segments.
    fn data(&mut self, path: &[u8], size: u64, sparse: Option<&[Segment]>);
    /// `path` and everything below it is about to be removed from `root`
    /// (a later entry replaces it or a whiteout deletes it).
    fn removing(&mut self, root: &BeneathDir, path: &[u8]);
}

/// Recording nothing.
impl Recorder for () {
    fn data(&mut self, _: &[u8], _: u64, _: Option<&[Segment]>) {}
    fn removing(&mut self, _: &BeneathDir, _: &[u8]) {}
}

impl<T: Recorder + ?Sized> Recorder for &mut T {
    fn data(&mut self, path: &[u8], size: u64, sparse: Option<&[Segment]>) {
        (**self).data(path, size, sparse);
    }
    fn removing(&mut self, root: &BeneathDir, path: &[u8]) {
        (**self).removing(root, path);
    }
}

/// Set-uid and set-gid: never on disk in the store (see `disk_mode`).
const SET_ID_BITS: u32 = 0o6000;

/// Extracts `reader` (an uncompressed tar stream) into the empty directory
/// `root`, returning its diff_id (the digest of every byte of the stream) and
/// its index.
pub fn extract(reader: impl Read, root: &BeneathDir, opts: ExtractOptions) -> Result<Extracted, ExtractError> {
    extract_recording(reader, root, opts, &mut ())
}

/// [`extract`], telling `recorder` the archive's layout as it goes. The
/// stream is read to its end (the bytes after the end-of-archive block go
/// through the recorder as raw bytes too).
pub fn extract_recording(
    reader: impl Read,
    root: &BeneathDir,
    opts: ExtractOptions,
    recorder: &mut impl Recorder,
) -> Result<Extracted, ExtractError> {
    run(reader, root, opts, None, recorder)
}

/// Extracts `reader` (an uncompressed tar stream) into `root`, a directory
/// that already has content (see [`IntoTree`]). The stream is read as it
/// comes: memory does not grow with the archive's data.
pub fn extract_into(
    reader: impl Read,
    root: &BeneathDir,
    opts: ExtractOptions,
    tree: IntoTree,
) -> Result<Extracted, ExtractError> {
    run(reader, root, opts, Some(tree), &mut ())
}

fn run(
    reader: impl Read,
    root: &BeneathDir,
    opts: ExtractOptions,
    tree: Option<IntoTree>,
    recorder: &mut impl Recorder,
) -> Result<Extracted, ExtractError> {
    let mut hashing = HashingReader::new(reader);
    let mut ex = Extractor {
        root,
        opts,
        index: IndexBuilder::new(),
        last_parent: None,
        buf: vec![0u8; 256 * 1024],
        tree,
        untouched: Default::default(),
    };
    ex.index.insert(Vec::new(), Entry::dir(0o755, 0, 0, 0));
    if tree.is_some() {
        // The extraction point keeps its own metadata.
        ex.untouched.insert(Vec::new());
    }
    let result = {
        // Buffered so that a header block is not a read of its own; every
        // byte the buffer takes has been hashed, and `finish` hashes the rest.
        let mut tar = Reader::with_tap(io::BufReader::with_capacity(64 * 1024, &mut hashing), recorder);
        ex.entries(&mut tar).and_then(|()| Ok(tar.drain_trailing().map(drop)?))
    };
    match result {
        Err(ExtractError::Archive(ArchiveError::Truncated)) if hashing.bytes_read() == 0 => {
            return Err(ArchiveError::Empty.into());
        }
        other => other?,
    }
    ex.finish_dirs()?;
    let (diff_id, tar_bytes) = hashing.finish().map_err(|e| ArchiveError::Unreadable(e.to_string()))?;
    Ok(Extracted {
        diff_id,
        tar_bytes,
        index: ex.index,
    })
}

/// A device entry's kind and numbers, recorded in its index entry; a
/// number that does not fit the kernel's 32 bits is refused.
fn record_device(h: &Header, e: &mut Entry) -> Result<(), ExtractError> {
    let raw_path = h.name.as_slice();
    let number = |v: Option<i64>, what: &str| {
        v.and_then(|v| u32::try_from(v).ok())
            .ok_or_else(|| bad(raw_path, format!("bad device {what} number")))
    };
    e.kind = if h.typeflag == typeflag::CHAR {
        EntryKind::CharDevice
    } else {
        EntryKind::BlockDevice
    };
    e.rdev_major = number(h.devmajor, "major")?;
    e.rdev_minor = number(h.devminor, "minor")?;
    Ok(())
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

/// A file the archive sizes beyond what the store's filesystem can hold
/// (EFBIG) is the archive's fault; other write errors are the store's.
fn data_error(path: &[u8], size: u64, e: io::Error) -> ExtractError {
    if e.raw_os_error() == Some(libc_errno::EFBIG) {
        return bad(
            path,
            format!("a file of {size} bytes is larger than the store's filesystem can hold"),
        )
        .into();
    }
    ExtractError::Io(e)
}

mod libc_errno {
    use rustix::io::Errno;
    pub const ELOOP: i32 = Errno::LOOP.raw_os_error();
    pub const EXDEV: i32 = Errno::XDEV.raw_os_error();
    pub const ENOTDIR: i32 = Errno::NOTDIR.raw_os_error();
    pub const EFBIG: i32 = Errno::FBIG.raw_os_error();
}

/// The header's metadata, checked for range.
fn meta(h: &Header) -> Result<Meta, ArchiveError> {
    let id = |v: i64, what: &str| u32::try_from(v).map_err(|_| bad(&h.name, format!("{what} out of range")));
    Ok(Meta {
        mode: (h.mode & 0o7777) as u32,
        uid: id(h.uid, "uid")?,
        gid: id(h.gid, "gid")?,
        mtime_sec: h.mtime,
        mtime_nsec: h.mtime_nsec,
        xattrs: h
            .xattrs
            .iter()
            .filter(|(k, _)| !INTERNAL_XATTR_PREFIXES.iter().any(|p| k.starts_with(p)))
            .cloned()
            .collect(),
    })
}

impl Extractor<'_> {
    fn entries<R: Read, T: Recorder>(&mut self, tar: &mut Reader<R, T>) -> Result<(), ExtractError> {
        while let Some(header) = tar.next_entry()? {
            self.entry(tar, &header)?;
        }
        Ok(())
    }

    fn entry<R: Read, T: Recorder>(&mut self, tar: &mut Reader<R, T>, h: &Header) -> Result<(), ExtractError> {
        let raw_path = h.name.as_slice();
        let path = clean_path(raw_path)?;
        let mut meta = meta(h)?;
        let (parent, name) = split_parent(&path);

        if name.starts_with(WHITEOUT_PREFIX) {
            if self.tree.is_some() {
                return Err(bad(raw_path, "a whiteout cannot be copied into a container").into());
            }
            return self.whiteout(tar.tap(), raw_path, parent, name);
        }
        if let Some((uid, gid)) = self.tree.and_then(|t| t.owner) {
            (meta.uid, meta.gid) = (uid, gid);
        }
        let is_dir = h.typeflag == typeflag::DIR;
        if path.is_empty() && self.tree.is_some() {
            return Ok(());
        }
        if path.is_empty() {
            // The archive's `./`: metadata for the layer root.
            if !is_dir {
                return Err(bad(raw_path, "the archive root must be a directory").into());
            }
            let root = Entry::dir(meta.mode, meta.uid, meta.gid, meta.mtime_sec);
            self.index.insert(Vec::new(), root);
            return Ok(());
        }
        let dir = self.parent_dir(raw_path, parent)?;
        let name_ref = Name::new(name).map_err(|e| bad(raw_path, e.to_string()))?;
        if self.tree.is_some() {
            self.replace_in_tree(tar.tap(), raw_path, &path, (&dir, name_ref), is_dir)?;
        }

        // A later entry for an existing path replaces it, except that a
        // directory over a directory only updates its metadata.
        if let Some(existing) = self.index.get(&path) {
            let keep_dir = existing.kind == EntryKind::Dir && is_dir;
            if !keep_dir {
                if existing.kind != EntryKind::Whiteout {
                    tar.tap().removing(self.root, &path);
                    dir.remove_all(name_ref).map_err(|e| io_to_archive(raw_path, e))?;
                }
                self.index.remove_tree(&path);
            }
        }

        let mut e = meta.entry();
        match h.typeflag {
            typeflag::REG | typeflag::CONT | typeflag::GNU_SPARSE => {
                e.size = h.size;
                self.write_file(tar, h, (&dir, name_ref, &path), &meta)?;
            }
            typeflag::DIR => {
                e.kind = EntryKind::Dir;
                if let Some(old) = self.index.get(&path) {
                    e.flags = old.flags & FLAG_OPAQUE;
                } else {
                    dir.mkdir(name_ref, 0o700).map_err(|err| io_to_archive(raw_path, err))?;
                }
            }
            typeflag::SYMLINK => {
                e.kind = EntryKind::Symlink;
                if h.linkname.is_empty() {
                    return Err(bad(raw_path, "symlink with an empty target").into());
                }
                e.target = h.linkname.clone();
                e.size = e.target.len() as u64;
                dir.symlink(&e.target, name_ref)
                    .map_err(|err| io_to_archive(raw_path, err))?;
                self.set_owner_and_times(&dir, name_ref, &meta, raw_path)?;
            }
            typeflag::LINK => {
                e = self.hard_link(raw_path, &h.linkname, &dir, name_ref)?;
            }
            typeflag::CHAR | typeflag::BLOCK if self.tree.is_some() => {
                self.device_node(h, &dir, name_ref, &meta, &mut e)?
            }
            typeflag::CHAR | typeflag::BLOCK => self.device(h, &dir, name_ref, &meta, &mut e)?,
            typeflag::FIFO => {
                e.kind = EntryKind::Fifo;
                match dir.mknod(name_ref, FileType::Fifo, 0o600, 0) {
                    Ok(()) => {}
                    Err(err) if err.raw_os_error() == Some(rustix::io::Errno::PERM.raw_os_error()) => {
                        dir.create_file(name_ref, 0o600)
                            .map_err(|err| io_to_archive(raw_path, err))?;
                    }
                    Err(err) => return Err(io_to_archive(raw_path, err)),
                }
                self.set_owner_and_times(&dir, name_ref, &meta, raw_path)?;
                self.chmod_entry(&dir, name_ref, meta.mode)?;
            }
            other => {
                return Err(bad(raw_path, format!("unsupported tar entry type {:?}", other as char)).into());
            }
        }
        self.index.insert(path, e);
        Ok(())
    }

    /// A character or block device: recorded in the index (which the union
    /// filesystem presents), and on disk only an empty placeholder, 0600 and
    /// the daemon's: a real device node in the store would let any host
    /// user who can reach the layer open the host's device.
    fn device(
        &self,
        h: &Header,
        dir: &BeneathDir,
        name: Name<'_>,
        meta: &Meta,
        e: &mut Entry,
    ) -> Result<(), ExtractError> {
        let raw_path = h.name.as_slice();
        record_device(h, e)?;
        let file = dir
            .create_file(name, 0o600)
            .map_err(|err| io_to_archive(raw_path, err))?;
        rustix::fs::fchmod(&file, Mode::from_raw_mode(0o600))?;
        rustix::fs::futimens(&file, &times(meta.mtime_sec, meta.mtime_nsec))?;
        Ok(())
    }

    /// Records a whiteout or an opaque marker; nothing goes on disk but the
    /// parent directory.
    fn whiteout(
        &mut self,
        recorder: &mut impl Recorder,
        raw_path: &[u8],
        parent: &[u8],
        name: &[u8],
    ) -> Result<(), ExtractError> {
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
                recorder.removing(self.root, &path);
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
                        format!("refusing to write through symlink {}", quote(&prefix)),
                    )
                    .into());
                }
                None if self.tree.is_some() && self.existing_dir(raw_path, &prefix)? => {}
                Some(EntryKind::Whiteout) | None => {
                    // Implied parent: created as Docker does, 0755 root-owned.
                    let d = self.root.open_dir(&dir_path).map_err(|e| io_to_archive(raw_path, e))?;
                    d.mkdir(Name::new(comp).expect("cleaned"), 0o700)
                        .map_err(|e| io_to_archive(raw_path, e))?;
                    self.index.insert(prefix.clone(), Entry::dir(0o755, 0, 0, 0));
                }
                Some(_) => {
                    return Err(bad(raw_path, format!("parent {} is not a directory", quote(&prefix))).into());
                }
            }
        }
        let dir = self.root.open_dir(parent).map_err(|e| io_to_archive(raw_path, e))?;
        self.last_parent = Some((parent.to_vec(), dir.try_clone()?));
        Ok(dir)
    }

    /// Creates the file `name` in `dir` (at `path` in the layer) and writes
    /// the entry's data, all of it, into it.
    fn write_file<R: Read, T: Recorder>(
        &mut self,
        tar: &mut Reader<R, T>,
        h: &Header,
        (dir, name, path): (&BeneathDir, Name<'_>, &[u8]),
        meta: &Meta,
    ) -> Result<(), ExtractError> {
        let raw_path = h.name.as_slice();
        let file = dir.create_file(name, 0o600).map_err(|e| io_to_archive(raw_path, e))?;
        tar.tap().data(path, h.size, h.sparse.as_deref());
        match &h.sparse {
            None => self.copy_data(tar, &file, raw_path, h.size)?,
            Some(segments) => self.write_sparse(tar, &file, segments, raw_path, h.size)?,
        }
        if self.opts.privileged {
            rustix::fs::fchown(
                &file,
                Some(rustix::fs::Uid::from_raw(meta.uid)),
                Some(rustix::fs::Gid::from_raw(meta.gid)),
            )?;
        }
        rustix::fs::fchmod(&file, Mode::from_raw_mode(self.disk_mode(meta.mode, 0o600)))?;
        self.set_xattrs(&file, &meta.xattrs, raw_path);
        rustix::fs::futimens(&file, &times(meta.mtime_sec, meta.mtime_nsec))?;
        Ok(())
    }

    fn copy_data<R: Read, T: Tap>(
        &mut self,
        tar: &mut Reader<R, T>,
        mut file: &std::fs::File,
        raw_path: &[u8],
        size: u64,
    ) -> Result<(), ExtractError> {
        loop {
            let n = tar.read(&mut self.buf)?;
            if n == 0 {
                return Ok(());
            }
            file.write_all(&self.buf[..n])
                .map_err(|e| data_error(raw_path, size, e))?;
        }
    }

    /// Writes each data segment at its offset and gives the file its real
    /// size: holes are never written, so a file costs the disk its data,
    /// whatever size it claims. (The reader checked that the segments are
    /// in order, within the size, and hold exactly the entry's data.)
    fn write_sparse<R: Read, T: Tap>(
        &mut self,
        tar: &mut Reader<R, T>,
        file: &std::fs::File,
        segments: &[Segment],
        raw_path: &[u8],
        size: u64,
    ) -> Result<(), ExtractError> {
        file.set_len(size).map_err(|e| data_error(raw_path, size, e))?;
        for seg in segments {
            let end = seg.offset + seg.len;
            let mut at = seg.offset;
            while at < end {
                let want = usize::try_from(end - at).unwrap_or(usize::MAX).min(self.buf.len());
                let n = tar.read(&mut self.buf[..want])?;
                if n == 0 {
                    return Err(ArchiveError::Truncated.into());
                }
                file.write_all_at(&self.buf[..n], at)
                    .map_err(|e| data_error(raw_path, size, e))?;
                at += n as u64;
            }
        }
        Ok(())
    }

    fn hard_link(
        &mut self,
        raw_path: &[u8],
        target_raw: &[u8],
        dir: &BeneathDir,
        name: Name<'_>,
    ) -> Result<Entry, ExtractError> {
        let target = clean_path(target_raw)
            .map_err(|_| bad(raw_path, format!("hard link to {} leaves the layer", quote(target_raw))))?;
        let mut linked = match self.index.get(&target) {
            Some(e) if !matches!(e.kind, EntryKind::Dir | EntryKind::Whiteout) => e.clone(),
            Some(_) => return Err(bad(raw_path, "hard link to a directory or a deleted path").into()),
            None => {
                return Err(bad(
                    raw_path,
                    format!(
                        "hard link to {}, which is not earlier in this archive",
                        quote(target_raw)
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

    /// The mode an object gets on disk: never set-uid or set-gid, since an
    /// unprivileged host user who can reach the layer could run it (the
    /// index keeps the real mode, and the union filesystem shows that);
    /// and, where the daemon cannot chown, what its owner needs for the
    /// filesystem to serve it.
    fn disk_mode(&self, mode: u32, owner_needs: u32) -> u32 {
        // Into a container's root, the union filesystem keeps them off its
        // disk itself (`privileges_in_xattrs`).
        let mode = if self.tree.is_some() { mode } else { mode & !SET_ID_BITS };
        if self.opts.privileged { mode } else { mode | owner_needs }
    }

    fn set_xattrs(&self, fd: &impl std::os::fd::AsFd, xattrs: &[(String, Vec<u8>)], raw_path: &[u8]) {
        // Into a tree, the capability goes on the file (the union filesystem
        // keeps it safely); in a layer, only the index keeps it.
        let keep_cap = self.tree.is_some();
        for (k, v) in xattrs.iter().filter(|(k, _)| keep_cap || k != CAPABILITY_XATTR) {
            if let Err(e) = rustix::fs::fsetxattr(fd, k.as_str(), v, XattrFlags::empty()) {
                // The index keeps security.capability whatever the store's
                // filesystem supports; other xattrs are best effort, as in Docker.
                tracing::debug!(path = %quote(raw_path), xattr = %k, "xattr not kept: {e}");
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
            if self.untouched.contains(&path) {
                continue;
            }
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

#[cfg(test)]
mod roundtrip;
#[cfg(test)]
mod tests;
mod tree;

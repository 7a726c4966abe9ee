//! Encoding replies: a [`Reply`] is the buffer one answer is built in, the
//! out header first (its length filled in when sent), then the payload of
//! whichever reply the handler gives. fuser's data types (`FileAttr`,
//! `FileType`) stay the union's; the encoding is ours.

use super::abi::{self, ATTR_LEN, DIRENT_LEN, ENTRY_OUT_LEN, OUT_HEADER_LEN};
use fuser::{FileAttr, FileType};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The answer to one request, built in place.
pub struct Reply {
    buf: Vec<u8>,
    /// FORGET and BATCH_FORGET are never answered.
    silent: bool,
}

impl Default for Reply {
    fn default() -> Self {
        Reply::new()
    }
}

impl Reply {
    pub fn new() -> Reply {
        Reply {
            buf: Vec::with_capacity(4096),
            silent: false,
        }
    }

    /// Starts the answer to request `unique` (an empty success until a
    /// reply is given).
    pub fn start(&mut self, unique: u64) {
        self.buf.clear();
        self.buf.resize(OUT_HEADER_LEN, 0);
        self.buf[8..16].copy_from_slice(&unique.to_le_bytes());
        self.silent = false;
    }

    /// No answer at all (FORGET).
    pub fn none(&mut self) {
        self.silent = true;
    }

    /// Whether the request gets no answer (`none`).
    pub fn is_silent(&self) -> bool {
        self.silent
    }

    /// The bytes to write, header length filled in; None for no answer.
    pub fn finish(&mut self) -> Option<&[u8]> {
        if self.silent {
            return None;
        }
        let len = self.buf.len() as u32;
        self.buf[0..4].copy_from_slice(&len.to_le_bytes());
        Some(&self.buf)
    }

    /// The error `errno` (positive), no payload.
    pub fn error(&mut self, errno: i32) {
        self.buf.truncate(OUT_HEADER_LEN);
        self.buf[4..8].copy_from_slice(&(-errno).to_le_bytes());
    }

    /// Success without a payload.
    pub fn ok(&mut self) {
        self.buf.truncate(OUT_HEADER_LEN);
    }

    /// The payload so far (after the header).
    pub fn payload_len(&self) -> usize {
        self.buf.len() - OUT_HEADER_LEN
    }

    fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    /// Raw data (READ, READLINK, GETXATTR and LISTXATTR values).
    pub fn data(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// struct fuse_attr.
    fn attr_struct(&mut self, a: &FileAttr) {
        let start = self.buf.len();
        let (at, atn) = time(a.atime);
        let (mt, mtn) = time(a.mtime);
        let (ct, ctn) = time(a.ctime);
        self.u64(a.ino.0);
        self.u64(a.size);
        self.u64(a.blocks);
        self.u64(at as u64);
        self.u64(mt as u64);
        self.u64(ct as u64);
        self.u32(atn);
        self.u32(mtn);
        self.u32(ctn);
        self.u32(mode(a.kind, a.perm));
        self.u32(a.nlink);
        self.u32(a.uid);
        self.u32(a.gid);
        self.u32(a.rdev);
        self.u32(a.blksize);
        self.u32(a.flags);
        debug_assert_eq!(self.buf.len() - start, ATTR_LEN);
    }

    /// struct fuse_entry_out (without its header).
    fn entry_struct(&mut self, attr_ttl: Duration, entry_ttl: Duration, a: &FileAttr) {
        self.u64(a.ino.0);
        self.u64(0); // generation
        self.u64(entry_ttl.as_secs());
        self.u64(attr_ttl.as_secs());
        self.u32(entry_ttl.subsec_nanos());
        self.u32(attr_ttl.subsec_nanos());
        self.attr_struct(a);
    }

    /// LOOKUP, MKNOD, MKDIR, SYMLINK, LINK: the entry and its attributes,
    /// each valid for its time (node id 0: a negative entry).
    pub fn entry(&mut self, attr_ttl: Duration, entry_ttl: Duration, a: &FileAttr) {
        self.entry_struct(attr_ttl, entry_ttl, a);
    }

    /// GETATTR, SETATTR: struct fuse_attr_out.
    pub fn attr(&mut self, ttl: Duration, a: &FileAttr) {
        self.u64(ttl.as_secs());
        self.u32(ttl.subsec_nanos());
        self.u32(0);
        self.attr_struct(a);
    }

    /// OPEN, OPENDIR: struct fuse_open_out; with a passthrough backing id,
    /// FOPEN_PASSTHROUGH is added.
    pub fn opened(&mut self, fh: u64, flags: u32, backing: Option<u32>) {
        self.u64(fh);
        match backing {
            Some(id) => {
                self.u32(flags | abi::FOPEN_PASSTHROUGH);
                self.u32(id);
            }
            None => {
                self.u32(flags);
                self.u32(0);
            }
        }
    }

    /// CREATE: the entry (one time for both) and the open.
    pub fn created(&mut self, ttl: Duration, a: &FileAttr, fh: u64, flags: u32, backing: Option<u32>) {
        self.entry_struct(ttl, ttl, a);
        self.opened(fh, flags, backing);
    }

    /// WRITE, COPY_FILE_RANGE: struct fuse_write_out.
    pub fn written(&mut self, size: u32) {
        self.u32(size);
        self.u32(0);
    }

    /// STATFS: struct fuse_statfs_out.
    #[allow(clippy::too_many_arguments)]
    pub fn statfs(
        &mut self,
        blocks: u64,
        bfree: u64,
        bavail: u64,
        files: u64,
        ffree: u64,
        bsize: u32,
        namelen: u32,
        frsize: u32,
    ) {
        for v in [blocks, bfree, bavail, files, ffree] {
            self.u64(v);
        }
        for v in [bsize, namelen, frsize, 0] {
            self.u32(v);
        }
        self.buf.extend_from_slice(&[0u8; 24]);
    }

    /// GETXATTR, LISTXATTR asked for the size: struct fuse_getxattr_out.
    pub fn xattr_size(&mut self, size: u32) {
        self.u32(size);
        self.u32(0);
    }

    /// LSEEK: struct fuse_lseek_out.
    pub fn offset(&mut self, offset: i64) {
        self.u64(offset as u64);
    }

    /// GETLK: struct fuse_lk_out (the lock that would conflict, or type
    /// F_UNLCK). Not sent today: without FUSE_POSIX_LOCKS, which stratafs
    /// does not ask for, the kernel keeps locks itself and sends no GETLK.
    pub fn lock(&mut self, start: u64, end: u64, typ: u32, pid: u32) {
        self.u64(start);
        self.u64(end);
        self.u32(typ);
        self.u32(pid);
    }

    /// Appends one entry of a READDIR reply of at most `max` bytes: whether
    /// it did not fit (the listing is full; nothing added).
    pub fn add_dirent(&mut self, max: usize, ino: u64, offset: u64, kind: FileType, name: &[u8]) -> bool {
        let size = (DIRENT_LEN + name.len()).next_multiple_of(8);
        if self.payload_len() + size > max {
            return true;
        }
        self.dirent(ino, offset, mode(kind, 0) >> 12, name);
        false
    }

    /// Appends one entry of a READDIRPLUS reply of at most `max` bytes
    /// (struct fuse_direntplus, `ttl` for both times): whether it did not fit.
    pub fn add_direntplus(&mut self, max: usize, offset: u64, name: &[u8], ttl: Duration, a: &FileAttr) -> bool {
        let size = (ENTRY_OUT_LEN + DIRENT_LEN + name.len()).next_multiple_of(8);
        if self.payload_len() + size > max {
            return true;
        }
        self.entry_struct(ttl, ttl, a);
        self.dirent(a.ino.0, offset, mode(a.kind, 0) >> 12, name);
        false
    }

    fn dirent(&mut self, ino: u64, offset: u64, typ: u32, name: &[u8]) {
        self.u64(ino);
        self.u64(offset);
        self.u32(name.len() as u32);
        self.u32(typ);
        self.buf.extend_from_slice(name);
        let padded = self.buf.len().next_multiple_of(8);
        self.buf.resize(padded, 0);
    }
}

/// The mode of a `kind` with permission bits `perm`.
pub fn mode(kind: FileType, perm: u16) -> u32 {
    let t = match kind {
        FileType::NamedPipe => libc::S_IFIFO,
        FileType::CharDevice => libc::S_IFCHR,
        FileType::BlockDevice => libc::S_IFBLK,
        FileType::Directory => libc::S_IFDIR,
        FileType::RegularFile => libc::S_IFREG,
        FileType::Symlink => libc::S_IFLNK,
        FileType::Socket => libc::S_IFSOCK,
    };
    t | u32::from(perm)
}

/// Seconds and nanoseconds since the epoch, before it negative (as fuser
/// encodes them), saturated at the ends.
pub fn time(t: SystemTime) -> (i64, u32) {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => match i64::try_from(d.as_secs()) {
            Ok(s) => (s, d.subsec_nanos()),
            Err(_) => (i64::MAX, 999_999_999),
        },
        Err(e) => {
            let d = e.duration();
            match (i64::try_from(d.as_secs()), d.subsec_nanos()) {
                (Ok(s), 0) => (-s, 0),
                (Ok(s), n) if s < i64::MAX => (-s - 1, 1_000_000_000 - n),
                _ => (i64::MIN, 0),
            }
        }
    }
}

/// The time a request names (seconds, nanoseconds; negative before the
/// epoch).
pub fn system_time(secs: i64, nsecs: u32) -> SystemTime {
    let nsecs = nsecs.min(999_999_999);
    if secs >= 0 {
        UNIX_EPOCH + Duration::new(secs as u64, nsecs)
    } else {
        UNIX_EPOCH - Duration::new(secs.unsigned_abs(), 0) + Duration::new(0, nsecs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr() -> FileAttr {
        FileAttr {
            ino: fuser::INodeNo(5),
            size: 3,
            blocks: 1,
            atime: UNIX_EPOCH + Duration::new(10, 20),
            mtime: UNIX_EPOCH,
            ctime: UNIX_EPOCH - Duration::new(1, 500),
            crtime: UNIX_EPOCH,
            kind: FileType::RegularFile,
            perm: 0o644,
            nlink: 1,
            uid: 2,
            gid: 3,
            rdev: 0,
            blksize: 4096,
            flags: 0,
        }
    }

    #[test]
    fn an_entry_is_the_kernels_layout() {
        let mut r = Reply::new();
        r.start(9);
        r.entry(Duration::from_secs(1), Duration::new(2, 3), &attr());
        let b = r.finish().unwrap().to_vec();
        assert_eq!(b.len(), OUT_HEADER_LEN + ENTRY_OUT_LEN);
        assert_eq!(u32::from_le_bytes(b[0..4].try_into().unwrap()) as usize, b.len());
        assert_eq!(u64::from_le_bytes(b[8..16].try_into().unwrap()), 9);
        let e = &b[OUT_HEADER_LEN..];
        assert_eq!(u64::from_le_bytes(e[16..24].try_into().unwrap()), 2); // entry_valid
        assert_eq!(u64::from_le_bytes(e[24..32].try_into().unwrap()), 1); // attr_valid
        assert_eq!(u32::from_le_bytes(e[32..36].try_into().unwrap()), 3);
        let a = &e[40..];
        assert_eq!(u64::from_le_bytes(a[24..32].try_into().unwrap()), 10); // atime
        assert_eq!(i64::from_le_bytes(a[40..48].try_into().unwrap()), -2); // ctime
        assert_eq!(u32::from_le_bytes(a[56..60].try_into().unwrap()), 999_999_500);
        assert_eq!(u32::from_le_bytes(a[60..64].try_into().unwrap()), libc::S_IFREG | 0o644);
    }

    #[test]
    fn an_error_drops_the_payload() {
        let mut r = Reply::new();
        r.start(1);
        r.written(4);
        r.error(libc::ENOENT);
        let b = r.finish().unwrap();
        assert_eq!(b.len(), OUT_HEADER_LEN);
        assert_eq!(i32::from_le_bytes(b[4..8].try_into().unwrap()), -libc::ENOENT);
    }

    #[test]
    fn small_replies_are_their_structs_sizes() {
        let mut r = Reply::new();
        for (fill, len) in [
            (
                &(|r: &mut Reply| r.attr(Duration::ZERO, &attr())) as &dyn Fn(&mut Reply),
                104,
            ),
            (&|r: &mut Reply| r.opened(1, 0, Some(3)), 16),
            (
                &|r: &mut Reply| r.created(Duration::ZERO, &attr(), 1, 0, None),
                ENTRY_OUT_LEN + 16,
            ),
            (&|r: &mut Reply| r.statfs(1, 2, 3, 4, 5, 6, 7, 8), 80),
            (&|r: &mut Reply| r.written(1), 8),
            (&|r: &mut Reply| r.xattr_size(1), 8),
            (&|r: &mut Reply| r.offset(-1), 8),
            (&|r: &mut Reply| r.lock(0, 1, 2, 3), 24),
        ] {
            r.start(1);
            fill(&mut r);
            assert_eq!(r.payload_len(), len);
        }
        r.start(1);
        r.opened(1, abi::FOPEN_KEEP_CACHE, Some(3));
        let b = r.finish().unwrap();
        let flags = u32::from_le_bytes(b[24..28].try_into().unwrap());
        assert_eq!(flags, abi::FOPEN_KEEP_CACHE | abi::FOPEN_PASSTHROUGH);
        assert_eq!(u32::from_le_bytes(b[28..32].try_into().unwrap()), 3);
    }

    #[test]
    fn a_forget_is_not_answered() {
        let mut r = Reply::new();
        r.start(1);
        r.none();
        assert!(r.finish().is_none());
        r.start(2);
        assert_eq!(r.finish().map(|b| b.len()), Some(OUT_HEADER_LEN));
    }

    #[test]
    fn a_listing_stops_when_full() {
        let mut r = Reply::new();
        r.start(1);
        assert!(!r.add_dirent(64, 1, 1, FileType::Directory, b"."));
        assert!(!r.add_dirent(64, 1, 2, FileType::Directory, b".."));
        assert_eq!(r.payload_len(), 64);
        assert!(r.add_dirent(64, 3, 3, FileType::RegularFile, b"x"));
        assert_eq!(r.payload_len(), 64);
        let mut r = Reply::new();
        r.start(1);
        assert!(!r.add_direntplus(200, 1, b"name", Duration::ZERO, &attr()));
        assert_eq!(r.payload_len(), 160);
        assert!(r.add_direntplus(200, 2, b"name", Duration::ZERO, &attr()));
    }

    #[test]
    fn times_before_the_epoch_round_trip() {
        for t in [
            UNIX_EPOCH - Duration::new(3, 7),
            UNIX_EPOCH + Duration::new(3, 7),
            UNIX_EPOCH,
        ] {
            let (s, n) = time(t);
            assert_eq!(system_time(s, n), t);
        }
    }
}

//! The kernel's FUSE wire format (`include/uapi/linux/fuse.h`) for the
//! opcodes stratafs serves: the request structs, `#[repr(C)]` as the kernel
//! lays them out, each decoded from the request buffer field by field in
//! little endian by a [`Bytes`] reader (safe copies, no casts), and the
//! constants of the replies.

/// The opcodes (`enum fuse_opcode`).
pub mod op {
    pub const LOOKUP: u32 = 1;
    pub const FORGET: u32 = 2;
    pub const GETATTR: u32 = 3;
    pub const SETATTR: u32 = 4;
    pub const READLINK: u32 = 5;
    pub const SYMLINK: u32 = 6;
    pub const MKNOD: u32 = 8;
    pub const MKDIR: u32 = 9;
    pub const UNLINK: u32 = 10;
    pub const RMDIR: u32 = 11;
    pub const RENAME: u32 = 12;
    pub const LINK: u32 = 13;
    pub const OPEN: u32 = 14;
    pub const READ: u32 = 15;
    pub const WRITE: u32 = 16;
    pub const STATFS: u32 = 17;
    pub const RELEASE: u32 = 18;
    pub const FSYNC: u32 = 20;
    pub const SETXATTR: u32 = 21;
    pub const GETXATTR: u32 = 22;
    pub const LISTXATTR: u32 = 23;
    pub const REMOVEXATTR: u32 = 24;
    pub const FLUSH: u32 = 25;
    pub const INIT: u32 = 26;
    pub const OPENDIR: u32 = 27;
    pub const READDIR: u32 = 28;
    pub const RELEASEDIR: u32 = 29;
    pub const FSYNCDIR: u32 = 30;
    pub const ACCESS: u32 = 34;
    pub const CREATE: u32 = 35;
    pub const INTERRUPT: u32 = 36;
    pub const DESTROY: u32 = 38;
    pub const BATCH_FORGET: u32 = 42;
    pub const FALLOCATE: u32 = 43;
    pub const READDIRPLUS: u32 = 44;
    pub const RENAME2: u32 = 45;
    pub const LSEEK: u32 = 46;
    pub const COPY_FILE_RANGE: u32 = 47;
}

/// FUSE_INIT flags (`flags | flags2 << 32`).
pub mod init {
    pub const ASYNC_READ: u64 = 1 << 0;
    pub const BIG_WRITES: u64 = 1 << 5;
    pub const DO_READDIRPLUS: u64 = 1 << 13;
    pub const READDIRPLUS_AUTO: u64 = 1 << 14;
    pub const PARALLEL_DIROPS: u64 = 1 << 18;
    pub const POSIX_ACL: u64 = 1 << 20;
    pub const MAX_PAGES: u64 = 1 << 22;
    pub const CACHE_SYMLINKS: u64 = 1 << 23;
    pub const NO_OPENDIR_SUPPORT: u64 = 1 << 24;
    pub const HANDLE_KILLPRIV_V2: u64 = 1 << 28;
    /// flags2 is read (and sent) only with this.
    pub const INIT_EXT: u64 = 1 << 30;
    pub const PASSTHROUGH: u64 = 1 << 37;
    pub const OVER_IO_URING: u64 = 1 << 41;
}

/// `fuse_setattr_in.valid` bits.
pub const FATTR_MODE: u32 = 1 << 0;
pub const FATTR_UID: u32 = 1 << 1;
pub const FATTR_GID: u32 = 1 << 2;
pub const FATTR_SIZE: u32 = 1 << 3;
pub const FATTR_ATIME: u32 = 1 << 4;
pub const FATTR_MTIME: u32 = 1 << 5;
pub const FATTR_FH: u32 = 1 << 6;
pub const FATTR_ATIME_NOW: u32 = 1 << 7;
pub const FATTR_MTIME_NOW: u32 = 1 << 8;
pub const FATTR_CTIME: u32 = 1 << 10;
/// `fuse_getattr_in.getattr_flags`: `fh` is set.
pub const FUSE_GETATTR_FH: u32 = 1 << 0;

/// `fuse_open_out.open_flags`.
pub const FOPEN_DIRECT_IO: u32 = 1 << 0;
pub const FOPEN_KEEP_CACHE: u32 = 1 << 1;
pub const FOPEN_CACHE_DIR: u32 = 1 << 3;
pub const FOPEN_PASSTHROUGH: u32 = 1 << 7;

/// Notification codes (`enum fuse_notify_code`), sent as the error of a
/// message with `unique` 0.
pub const FUSE_NOTIFY_INVAL_INODE: i32 = 2;
pub const FUSE_NOTIFY_INVAL_ENTRY: i32 = 3;

/// sizeof(struct fuse_in_header).
pub const IN_HEADER_LEN: usize = 40;
/// sizeof(struct fuse_out_header).
pub const OUT_HEADER_LEN: usize = 16;
/// sizeof(struct fuse_attr).
pub const ATTR_LEN: usize = 88;
/// sizeof(struct fuse_entry_out).
pub const ENTRY_OUT_LEN: usize = 40 + ATTR_LEN;
/// sizeof(struct fuse_dirent) without its name.
pub const DIRENT_LEN: usize = 24;

/// A cursor over a request's bytes: each read takes the next field, or
/// fails (`None`) when the buffer is too short, never panicking.
#[derive(Clone, Copy)]
pub struct Bytes<'a> {
    rest: &'a [u8],
}

impl<'a> Bytes<'a> {
    pub fn new(b: &'a [u8]) -> Bytes<'a> {
        Bytes { rest: b }
    }

    pub fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.rest.len() < n {
            return None;
        }
        let (head, rest) = self.rest.split_at(n);
        self.rest = rest;
        Some(head)
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Some(a)
    }

    pub fn u16(&mut self) -> Option<u16> {
        self.array().map(u16::from_le_bytes)
    }

    pub fn u32(&mut self) -> Option<u32> {
        self.array().map(u32::from_le_bytes)
    }

    pub fn u64(&mut self) -> Option<u64> {
        self.array().map(u64::from_le_bytes)
    }

    /// A NUL-terminated string (the NUL consumed, not returned).
    pub fn name(&mut self) -> Option<&'a [u8]> {
        let end = self.rest.iter().position(|&c| c == 0)?;
        let name = self.take(end)?;
        self.take(1)?;
        Some(name)
    }

    /// What is left.
    pub fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.rest)
    }
}

/// Decoding a struct from the head of a [`Bytes`].
pub trait Decode: Sized {
    fn decode(b: &mut Bytes<'_>) -> Option<Self>;
}

macro_rules! wire_struct {
    ($(#[$m:meta])* $name:ident { $($field:ident: $ty:ident),* $(,)? }) => {
        $(#[$m])*
        #[repr(C)]
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
        pub struct $name { $(pub $field: $ty,)* }

        impl Decode for $name {
            fn decode(b: &mut Bytes<'_>) -> Option<Self> {
                Some($name { $($field: b.$ty()?,)* })
            }
        }
    };
}

wire_struct!(
    /// struct fuse_in_header.
    InHeader { len: u32, opcode: u32, unique: u64, nodeid: u64, uid: u32, gid: u32, pid: u32, total_extlen: u16, padding: u16 }
);
wire_struct!(
    /// struct fuse_init_in (the part every 7.x kernel sends; flags2 follows
    /// with FUSE_INIT_EXT).
    InitIn { major: u32, minor: u32, max_readahead: u32, flags: u32 }
);
wire_struct!(
    /// struct fuse_forget_in.
    ForgetIn { nlookup: u64 }
);
wire_struct!(
    /// struct fuse_forget_one (an element of a BATCH_FORGET).
    ForgetOne { nodeid: u64, nlookup: u64 }
);
wire_struct!(
    /// struct fuse_batch_forget_in.
    BatchForgetIn { count: u32, dummy: u32 }
);
wire_struct!(
    /// struct fuse_getattr_in.
    GetattrIn { getattr_flags: u32, dummy: u32, fh: u64 }
);
wire_struct!(
    /// struct fuse_setattr_in.
    SetattrIn {
        valid: u32, padding: u32, fh: u64, size: u64, lock_owner: u64, atime: u64, mtime: u64, ctime: u64,
        atimensec: u32, mtimensec: u32, ctimensec: u32, mode: u32, unused4: u32, uid: u32, gid: u32, unused5: u32,
    }
);
wire_struct!(
    /// struct fuse_mknod_in.
    MknodIn { mode: u32, rdev: u32, umask: u32, padding: u32 }
);
wire_struct!(
    /// struct fuse_mkdir_in.
    MkdirIn { mode: u32, umask: u32 }
);
wire_struct!(
    /// struct fuse_rename_in.
    RenameIn { newdir: u64 }
);
wire_struct!(
    /// struct fuse_rename2_in.
    Rename2In { newdir: u64, flags: u32, padding: u32 }
);
wire_struct!(
    /// struct fuse_link_in.
    LinkIn { oldnodeid: u64 }
);
wire_struct!(
    /// struct fuse_open_in (OPEN and OPENDIR).
    OpenIn { flags: u32, open_flags: u32 }
);
wire_struct!(
    /// struct fuse_create_in.
    CreateIn { flags: u32, mode: u32, umask: u32, open_flags: u32 }
);
wire_struct!(
    /// struct fuse_read_in (READ, READDIR, READDIRPLUS).
    ReadIn { fh: u64, offset: u64, size: u32, read_flags: u32, lock_owner: u64, flags: u32, padding: u32 }
);
wire_struct!(
    /// struct fuse_write_in.
    WriteIn { fh: u64, offset: u64, size: u32, write_flags: u32, lock_owner: u64, flags: u32, padding: u32 }
);
wire_struct!(
    /// struct fuse_release_in (RELEASE and RELEASEDIR).
    ReleaseIn { fh: u64, flags: u32, release_flags: u32, lock_owner: u64 }
);
wire_struct!(
    /// struct fuse_flush_in.
    FlushIn { fh: u64, unused: u32, padding: u32, lock_owner: u64 }
);
wire_struct!(
    /// struct fuse_fsync_in (FSYNC and FSYNCDIR).
    FsyncIn { fh: u64, fsync_flags: u32, padding: u32 }
);
wire_struct!(
    /// The 8-byte struct fuse_setxattr_in of a connection without
    /// FUSE_SETXATTR_EXT (which stratafs does not ask for).
    SetxattrIn { size: u32, flags: u32 }
);
wire_struct!(
    /// struct fuse_getxattr_in (GETXATTR and LISTXATTR).
    GetxattrIn { size: u32, padding: u32 }
);
wire_struct!(
    /// struct fuse_access_in.
    AccessIn { mask: u32, padding: u32 }
);
wire_struct!(
    /// struct fuse_interrupt_in.
    InterruptIn { unique: u64 }
);
wire_struct!(
    /// struct fuse_fallocate_in.
    FallocateIn { fh: u64, offset: u64, length: u64, mode: u32, padding: u32 }
);
wire_struct!(
    /// struct fuse_lseek_in.
    LseekIn { fh: u64, offset: u64, whence: u32, padding: u32 }
);
wire_struct!(
    /// struct fuse_copy_file_range_in.
    CopyFileRangeIn { fh_in: u64, off_in: u64, nodeid_out: u64, fh_out: u64, off_out: u64, len: u64, flags: u64 }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_buffer_decodes_to_nothing() {
        let b = [1u8, 0, 0, 0, 2, 0, 0];
        assert_eq!(MkdirIn::decode(&mut Bytes::new(&b)), None);
        let b = [1u8, 0, 0, 0, 2, 0, 0, 0, 9];
        let mut bytes = Bytes::new(&b);
        assert_eq!(MkdirIn::decode(&mut bytes), Some(MkdirIn { mode: 1, umask: 2 }));
        assert_eq!(bytes.rest(), &[9]);
    }

    #[test]
    fn a_name_needs_its_nul() {
        assert_eq!(Bytes::new(b"abc").name(), None);
        let mut b = Bytes::new(b"abc\0def\0");
        assert_eq!(b.name(), Some(&b"abc"[..]));
        assert_eq!(b.name(), Some(&b"def"[..]));
        assert_eq!(b.name(), None);
    }

    #[test]
    fn structs_are_the_kernels_sizes() {
        assert_eq!(std::mem::size_of::<InHeader>(), IN_HEADER_LEN);
        assert_eq!(std::mem::size_of::<SetattrIn>(), 88);
        assert_eq!(std::mem::size_of::<ReadIn>(), 40);
        assert_eq!(std::mem::size_of::<WriteIn>(), 40);
        assert_eq!(std::mem::size_of::<CopyFileRangeIn>(), 56);
        assert_eq!(std::mem::size_of::<ReleaseIn>(), 24);
        assert_eq!(std::mem::size_of::<FallocateIn>(), 32);
        assert_eq!(std::mem::size_of::<LseekIn>(), 24);
    }
}

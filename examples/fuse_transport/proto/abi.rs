//! The FUSE wire format this prototype speaks, from the kernel's
//! `include/uapi/linux/fuse.h` (protocol 7.42, the first with
//! FUSE_OVER_IO_URING): the few structs it reads and writes, encoded and
//! decoded field by field in little endian (x86_64 and arm64 alike), so that
//! no `unsafe` casts are needed outside `ring.rs`.

pub const FUSE_KERNEL_VERSION: u32 = 7;
/// 7.42 brought FUSE_OVER_IO_URING and the ring's buffer layout.
pub const FUSE_KERNEL_MINOR_VERSION: u32 = 42;

// Opcodes (enum fuse_opcode).
pub const LOOKUP: u32 = 1;
pub const FORGET: u32 = 2;
pub const GETATTR: u32 = 3;
pub const OPEN: u32 = 14;
pub const READ: u32 = 15;
pub const STATFS: u32 = 17;
pub const RELEASE: u32 = 18;
pub const INIT: u32 = 26;
pub const INTERRUPT: u32 = 36;
pub const BATCH_FORGET: u32 = 42;
/// The highest opcode the counters keep a slot for (FUSE_STATX is 52).
pub const MAX_OPCODE: usize = 64;

// FUSE_INIT flags.
/// flags2 (the high 32 bits of the 64-bit flags) is read only with this.
pub const FUSE_INIT_EXT: u64 = 1 << 30;
pub const FUSE_OVER_IO_URING: u64 = 1 << 41;
/// open_flags of an OPEN reply: every read is a READ request.
pub const FOPEN_DIRECT_IO: u32 = 1 << 0;

/// sizeof(struct fuse_in_header).
pub const IN_HEADER_LEN: usize = 40;
/// sizeof(struct fuse_out_header).
pub const OUT_HEADER_LEN: usize = 16;

/// The request buffer the kernel needs for /dev/fuse reads: at least
/// FUSE_MIN_READ_BUFFER (8 KiB), and room for a WRITE of max_write.
pub const MAX_WRITE: u32 = 128 * 1024;
pub const CLASSIC_BUF_LEN: usize = MAX_WRITE as usize + 4096;

// The io_uring transport (fuse.h, "fuse-io-uring").
pub const URING_IN_OUT_HEADER_SZ: usize = 128;
pub const URING_OP_IN_OUT_SZ: usize = 128;
/// Offset of struct fuse_uring_ent_in_out in the header buffer.
pub const URING_ENT_IN_OUT: usize = URING_IN_OUT_HEADER_SZ + URING_OP_IN_OUT_SZ;
/// The kernel's payload buffer must hold max(FUSE_MIN_READ_BUFFER,
/// max_write, max_pages * PAGE_SIZE); without FUSE_MAX_PAGES in the INIT
/// reply max_pages is the default 32, so 128 KiB with 4 KiB pages.
pub const URING_PAYLOAD_LEN: usize = 128 * 1024;

pub fn u32_at(b: &[u8], at: usize) -> u32 {
    b.get(at..at + 4)
        .map_or(0, |s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

pub fn u64_at(b: &[u8], at: usize) -> u64 {
    b.get(at..at + 8).map_or(0, |s| {
        let mut a = [0u8; 8];
        a.copy_from_slice(s);
        u64::from_le_bytes(a)
    })
}

/// struct fuse_in_header. A short buffer decodes as zeros (opcode 0 is no
/// opcode: refused with ENOSYS), never a panic.
#[derive(Debug, Clone, Copy, Default)]
pub struct InHeader {
    pub opcode: u32,
    pub unique: u64,
    pub nodeid: u64,
}

impl InHeader {
    pub fn parse(b: &[u8]) -> InHeader {
        InHeader {
            opcode: u32_at(b, 4),
            unique: u64_at(b, 8),
            nodeid: u64_at(b, 16),
        }
    }
}

/// struct fuse_out_header for `unique`, `error` (0 or a negative errno)
/// and `payload` bytes after it.
pub fn out_header(unique: u64, error: i32, payload: usize) -> [u8; OUT_HEADER_LEN] {
    let mut h = [0u8; OUT_HEADER_LEN];
    let len = (OUT_HEADER_LEN + payload) as u32;
    h[0..4].copy_from_slice(&len.to_le_bytes());
    h[4..8].copy_from_slice(&error.to_le_bytes());
    h[8..16].copy_from_slice(&unique.to_le_bytes());
    h
}

/// The fixed argument struct at the head of each request's body
/// (fuse_getattr_in, fuse_open_in, ...): over io_uring the kernel puts it in
/// the header's op_in and the rest in the payload; over /dev/fuse both follow
/// the in_header, split here at this length.
pub fn op_in_len(opcode: u32) -> usize {
    match opcode {
        GETATTR => 16,
        OPEN => 8,
        READ => 40,
        RELEASE => 24,
        FORGET => 8,
        BATCH_FORGET => 8,
        INIT => 64,
        INTERRUPT => 8,
        _ => 0,
    }
}

/// The part of fuse_init_in the server reads.
#[derive(Debug, Clone, Copy)]
pub struct InitIn {
    pub major: u32,
    pub minor: u32,
    pub max_readahead: u32,
    /// flags | flags2 << 32 (flags2 only with FUSE_INIT_EXT).
    pub flags: u64,
}

impl InitIn {
    pub fn parse(b: &[u8]) -> InitIn {
        let low = u64::from(u32_at(b, 12));
        let high = if low & FUSE_INIT_EXT != 0 {
            u64::from(u32_at(b, 16))
        } else {
            0
        };
        InitIn {
            major: u32_at(b, 0),
            minor: u32_at(b, 4),
            max_readahead: u32_at(b, 8),
            flags: low | high << 32,
        }
    }
}

/// struct fuse_init_out (64 bytes) with `flags` (both halves).
pub fn init_out(init: &InitIn, flags: u64) -> Vec<u8> {
    let mut b = vec![0u8; 64];
    b[0..4].copy_from_slice(&FUSE_KERNEL_VERSION.to_le_bytes());
    let minor = init.minor.min(FUSE_KERNEL_MINOR_VERSION);
    b[4..8].copy_from_slice(&minor.to_le_bytes());
    b[8..12].copy_from_slice(&init.max_readahead.to_le_bytes());
    b[12..16].copy_from_slice(&(flags as u32).to_le_bytes());
    b[16..18].copy_from_slice(&16u16.to_le_bytes()); // max_background
    b[18..20].copy_from_slice(&12u16.to_le_bytes()); // congestion_threshold
    b[20..24].copy_from_slice(&MAX_WRITE.to_le_bytes());
    b[24..28].copy_from_slice(&1u32.to_le_bytes()); // time_gran (ns)
    b[36..40].copy_from_slice(&((flags >> 32) as u32).to_le_bytes());
    b
}

/// struct fuse_attr of an inode.
#[derive(Debug, Clone, Copy)]
pub struct Attr {
    pub ino: u64,
    pub size: u64,
    pub mode: u32,
    pub nlink: u32,
}

impl Attr {
    fn put(&self, b: &mut Vec<u8>) {
        b.extend_from_slice(&self.ino.to_le_bytes());
        b.extend_from_slice(&self.size.to_le_bytes());
        b.extend_from_slice(&self.size.div_ceil(512).to_le_bytes()); // blocks
        b.extend_from_slice(&[0u8; 24]); // atime, mtime, ctime
        b.extend_from_slice(&[0u8; 12]); // their nanoseconds
        b.extend_from_slice(&self.mode.to_le_bytes());
        b.extend_from_slice(&self.nlink.to_le_bytes());
        b.extend_from_slice(&[0u8; 12]); // uid, gid, rdev
        b.extend_from_slice(&4096u32.to_le_bytes()); // blksize
        b.extend_from_slice(&0u32.to_le_bytes()); // flags
    }
}

/// struct fuse_attr_out: attributes valid for `attr_valid` seconds.
pub fn attr_out(attr: &Attr, attr_valid: u64, b: &mut Vec<u8>) {
    b.extend_from_slice(&attr_valid.to_le_bytes());
    b.extend_from_slice(&[0u8; 8]); // attr_valid_nsec, dummy
    attr.put(b);
}

/// struct fuse_entry_out: the name is valid `entry_valid` seconds, its
/// attributes `attr_valid`.
pub fn entry_out(attr: &Attr, entry_valid: u64, attr_valid: u64, b: &mut Vec<u8>) {
    b.extend_from_slice(&attr.ino.to_le_bytes());
    b.extend_from_slice(&0u64.to_le_bytes()); // generation
    b.extend_from_slice(&entry_valid.to_le_bytes());
    b.extend_from_slice(&attr_valid.to_le_bytes());
    b.extend_from_slice(&[0u8; 8]); // their nanoseconds
    attr.put(b);
}

/// struct fuse_open_out.
pub fn open_out(fh: u64, open_flags: u32, b: &mut Vec<u8>) {
    b.extend_from_slice(&fh.to_le_bytes());
    b.extend_from_slice(&open_flags.to_le_bytes());
    b.extend_from_slice(&0u32.to_le_bytes()); // backing_id
}

/// struct fuse_statfs_out (struct fuse_kstatfs).
pub fn statfs_out(b: &mut Vec<u8>) {
    for v in [1u64, 0, 0, 2, 0] {
        b.extend_from_slice(&v.to_le_bytes()); // blocks bfree bavail files ffree
    }
    for v in [4096u32, 255, 4096, 0] {
        b.extend_from_slice(&v.to_le_bytes()); // bsize namelen frsize padding
    }
    b.extend_from_slice(&[0u8; 24]); // spare
}

/// fuse_read_in's offset and size.
pub fn read_in(arg: &[u8]) -> (u64, u32) {
    (u64_at(arg, 8), u32_at(arg, 16))
}

/// fuse_uring_ent_in_out's commit_id and payload_sz, from a header buffer.
pub fn ent_in_out(header: &[u8]) -> (u64, u32) {
    (
        u64_at(header, URING_ENT_IN_OUT + 8),
        u32_at(header, URING_ENT_IN_OUT + 16),
    )
}

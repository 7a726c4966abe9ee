//! FUSE over io_uring (kernel 6.14+, the fuse module's `enable_uring`):
//! FUSE_OVER_IO_URING in the INIT reply, then a queue per possible CPU,
//! each a ring of [`QUEUE_DEPTH`] entries served by a thread pinned to its
//! CPU (the kernel hands a request to the queue of the CPU its caller runs
//! on). The rings and their buffers are `sys::uring`'s; here a request is
//! read out of an entry and its reply written back.
//!
//! In an entry the kernel splits a request: the in header in the header
//! buffer's `in_out`, the fixed argument struct of the opcode in `op_in`,
//! and the rest (names, data) in the payload. It is put back together as
//! /dev/fuse would have sent it, so that one decoder ([`Request`]) serves
//! both. A reply goes back whole in the payload, its out header in
//! `in_out`. FORGETs, INTERRUPTs and notifications never travel over the
//! ring: the /dev/fuse readers stay.

use super::abi::op;
use super::reply::Reply;
use super::session::{Access, Filesystem, handle};
use std::io;

/// Ring entries per queue: a synchronous caller has one request in
/// flight, so a few cover the callers of one CPU (the prototype's figure).
pub const QUEUE_DEPTH: usize = 4;
/// Offsets in struct fuse_uring_req_header.
const OP_IN: usize = 128;
const ENT_IN_OUT: usize = 256;
const IN_HEADER_LEN: usize = super::abi::IN_HEADER_LEN;

/// The size of the fixed struct that leads `opcode`'s body (the kernel's
/// first in-argument, which goes to `op_in`): the decoders' own structs;
/// 0 for an opcode whose body starts with a name (the kernel sends it a
/// zero-sized first argument).
fn op_in_len(opcode: u32) -> usize {
    use super::abi::{
        AccessIn, BatchForgetIn, CopyFileRangeIn, CreateIn, FallocateIn, FlushIn, ForgetIn, FsyncIn, GetattrIn,
        GetxattrIn, InterruptIn, LinkIn, LseekIn, MkdirIn, MknodIn, OpenIn, ReadIn, ReleaseIn, Rename2In, RenameIn,
        SetattrIn, SetxattrIn, WriteIn,
    };
    use std::mem::size_of;
    match opcode {
        op::FORGET => size_of::<ForgetIn>(),
        op::BATCH_FORGET => size_of::<BatchForgetIn>(),
        op::MKDIR => size_of::<MkdirIn>(),
        op::RENAME => size_of::<RenameIn>(),
        op::RENAME2 => size_of::<Rename2In>(),
        op::LINK => size_of::<LinkIn>(),
        op::OPEN | op::OPENDIR => size_of::<OpenIn>(),
        op::GETXATTR | op::LISTXATTR => size_of::<GetxattrIn>(),
        // Without FUSE_SETXATTR_EXT, which stratafs does not ask for.
        op::SETXATTR => size_of::<SetxattrIn>(),
        op::ACCESS => size_of::<AccessIn>(),
        op::INTERRUPT => size_of::<InterruptIn>(),
        op::GETATTR => size_of::<GetattrIn>(),
        op::MKNOD => size_of::<MknodIn>(),
        op::CREATE => size_of::<CreateIn>(),
        op::FSYNC | op::FSYNCDIR => size_of::<FsyncIn>(),
        op::RELEASE | op::RELEASEDIR => size_of::<ReleaseIn>(),
        op::FLUSH => size_of::<FlushIn>(),
        op::LSEEK => size_of::<LseekIn>(),
        op::FALLOCATE => size_of::<FallocateIn>(),
        op::READ | op::READDIR | op::READDIRPLUS => size_of::<ReadIn>(),
        op::WRITE => size_of::<WriteIn>(),
        op::COPY_FILE_RANGE => size_of::<CopyFileRangeIn>(),
        op::SETATTR => size_of::<SetattrIn>(),
        // struct fuse_init_in whole (InitIn decodes its head).
        op::INIT => 64,
        _ => 0,
    }
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(a)
}

/// One queue's state beside its ring: the request put back together and
/// the reply being built.
pub(super) struct Entry {
    request: Vec<u8>,
    reply: Reply,
}

impl Entry {
    pub(super) fn new(payload_len: usize) -> Entry {
        Entry {
            request: Vec::with_capacity(IN_HEADER_LEN + OP_IN + payload_len),
            reply: Reply::new(),
        }
    }

    /// Serves the request in an entry's `header` and `payload` buffers
    /// and writes its reply into them; the commit id to send it back with.
    pub(super) fn answer<F: Filesystem>(
        &mut self,
        fs: &F,
        access: Access,
        header: &mut [u8],
        payload: &mut [u8],
    ) -> u64 {
        let commit_id = {
            let mut a = [0u8; 8];
            a.copy_from_slice(&header[ENT_IN_OUT + 8..ENT_IN_OUT + 16]);
            u64::from_le_bytes(a)
        };
        let payload_sz = (u32_at(header, ENT_IN_OUT + 16) as usize).min(payload.len());
        let opcode = u32_at(header, 4);
        self.request.clear();
        self.request.extend_from_slice(&header[..IN_HEADER_LEN]);
        self.request
            .extend_from_slice(&header[OP_IN..OP_IN + op_in_len(opcode).min(OP_IN)]);
        self.request.extend_from_slice(&payload[..payload_sz]);
        let len = self.request.len() as u32;
        self.request[0..4].copy_from_slice(&len.to_le_bytes());
        let answered = handle(fs, access, &self.request, &mut self.reply, true).is_some();
        if !answered || self.reply.is_silent() {
            // Nothing without an answer comes over the ring, but a commit
            // needs one.
            let mut unique = [0u8; 8];
            unique.copy_from_slice(&header[8..16]);
            self.reply.start(u64::from_le_bytes(unique));
            self.reply.error(libc::ENOSYS);
        }
        if self.reply.payload_len() > payload.len() {
            self.reply.error(libc::EIO);
        }
        let Some(bytes) = self.reply.finish() else {
            return commit_id;
        };
        let (out_header, body) = bytes.split_at(super::abi::OUT_HEADER_LEN);
        header[..out_header.len()].copy_from_slice(out_header);
        payload[..body.len()].copy_from_slice(body);
        header[ENT_IN_OUT + 16..ENT_IN_OUT + 20].copy_from_slice(&(body.len() as u32).to_le_bytes());
        commit_id
    }
}

/// The number of possible CPUs (/sys/devices/system/cpu/possible, "0-N"):
/// the kernel makes one queue per possible CPU, qids 0..N.
pub fn possible_cpus() -> io::Result<usize> {
    let s = std::fs::read_to_string("/sys/devices/system/cpu/possible")?;
    let last = s
        .trim()
        .rsplit([',', '-'])
        .next()
        .and_then(|n| n.parse::<usize>().ok())
        .ok_or_else(|| io::Error::other(format!("cannot parse possible CPUs {s:?}")))?;
    Ok(last + 1)
}

/// Pins the calling thread to `cpu`; best effort (a CPU may be offline).
pub fn pin_to(cpu: usize) {
    let mut set = rustix::thread::CpuSet::new();
    set.set(cpu);
    let _ = rustix::thread::sched_setaffinity(None, &set);
}

/// The payload buffer of a ring entry: the kernel wants room for
/// max(8 KiB, max_write, max_pages pages), and max_pages is at most 256.
pub fn payload_len() -> usize {
    256 * rustix::param::page_size()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_structs_are_the_decoders_sizes() {
        use super::super::abi;
        use std::mem::size_of;
        assert_eq!(op_in_len(op::SETATTR), size_of::<abi::SetattrIn>());
        assert_eq!(op_in_len(op::READ), size_of::<abi::ReadIn>());
        assert_eq!(op_in_len(op::WRITE), size_of::<abi::WriteIn>());
        assert_eq!(op_in_len(op::CREATE), size_of::<abi::CreateIn>());
        assert_eq!(op_in_len(op::MKNOD), size_of::<abi::MknodIn>());
        assert_eq!(op_in_len(op::RENAME2), size_of::<abi::Rename2In>());
        assert_eq!(op_in_len(op::COPY_FILE_RANGE), size_of::<abi::CopyFileRangeIn>());
        assert_eq!(op_in_len(op::LSEEK), size_of::<abi::LseekIn>());
        assert_eq!(op_in_len(op::FALLOCATE), size_of::<abi::FallocateIn>());
        assert_eq!(op_in_len(op::FLUSH), size_of::<abi::FlushIn>());
        assert_eq!(op_in_len(op::GETATTR), size_of::<abi::GetattrIn>());
        assert_eq!(op_in_len(op::LOOKUP), 0);
    }
}

//! One FUSE-over-io_uring queue of the prototype, over the library's ring
//! (`strata::sys::uring::RingQueue`, where the prototype's `unsafe` went
//! when stratafs adopted FUSE over io_uring): each request the kernel puts
//! into an entry is handed to `fs::handle` and its reply written back.

use super::abi;
use super::fs::{self, Counters, Reply, Via};
use std::io;
use std::os::fd::OwnedFd;

/// One FUSE queue: its ring and entries on the session's /dev/fuse.
pub struct Queue {
    ring: strata::sys::uring::RingQueue,
}

impl Queue {
    /// A queue `qid` of `depth` entries on (a duplicate of) the session's
    /// /dev/fuse `dev`. The ring is made by the thread that serves it.
    pub fn new(dev: OwnedFd, qid: u16, depth: usize) -> Queue {
        Queue {
            ring: strata::sys::uring::RingQueue::new(dev, qid, depth, abi::URING_PAYLOAD_LEN),
        }
    }

    /// Registers every entry; `ready` is told whether the kernel took them.
    /// Then serves requests until the kernel ends every entry.
    pub fn serve(self, counters: &Counters, ready: impl FnOnce(io::Result<()>)) -> io::Result<()> {
        let mut out = Vec::with_capacity(abi::URING_PAYLOAD_LEN);
        self.ring
            .serve(ready, |header, payload| answer(header, payload, counters, &mut out))
    }
}

/// Serves the request in an entry's buffers and writes the reply into
/// them; the commit id to send it back with.
fn answer(header: &mut [u8], payload: &mut [u8], counters: &Counters, out: &mut Vec<u8>) -> u64 {
    let h = abi::InHeader::parse(&header[..abi::IN_HEADER_LEN]);
    let (commit_id, payload_sz) = abi::ent_in_out(header);
    let op_in = &header[abi::URING_IN_OUT_HEADER_SZ..abi::URING_ENT_IN_OUT];
    let arg = &op_in[..abi::op_in_len(h.opcode).min(op_in.len())];
    let data = &payload[..(payload_sz as usize).min(payload.len())];
    out.clear();
    let error = match fs::handle(counters, Via::Uring, &h, arg, data, out) {
        Reply::Ok if out.len() <= payload.len() => 0,
        Reply::Ok => -libc::EIO,
        Reply::Error(e) => e,
        // Nothing without a reply comes over the ring (FORGETs and
        // INTERRUPTs stay on /dev/fuse), but a commit needs an answer.
        Reply::None => -libc::ENOSYS,
    };
    let len = if error == 0 { out.len() } else { 0 };
    payload[..len].copy_from_slice(&out[..len]);
    header[..abi::OUT_HEADER_LEN].copy_from_slice(&abi::out_header(h.unique, error, len));
    let sz = abi::URING_ENT_IN_OUT + 16;
    header[sz..sz + 4].copy_from_slice(&(len as u32).to_le_bytes());
    commit_id
}

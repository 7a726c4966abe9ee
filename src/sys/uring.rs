//! FUSE over io_uring: one queue, its ring and the ring entries' buffers
//! that the kernel reads and writes (from the prototype,
//! examples/fuse_transport/proto/ring.rs). What a request means and how it
//! is answered is `fs::fuse::uring`'s; this holds only the `unsafe`.
//!
//! Each queue is one io_uring (SQE128: the FUSE command struct needs the
//! 80-byte command area) on the thread that serves it, with `depth` ring
//! entries. An entry is a header buffer (struct fuse_uring_req_header) and a
//! payload buffer, registered once with FUSE_IO_URING_CMD_REGISTER (the
//! SQE's addr points to their two iovecs); a completion (result 0) means the
//! kernel wrote a request into them; the reply goes back in the same buffers
//! with FUSE_IO_URING_CMD_COMMIT_AND_FETCH, which also hands the entry back
//! for the next request. A negative result ends the entry (-ENOTCONN at
//! unmount).
//!
//! The invariants the `unsafe` blocks rely on:
//! - the buffers and iovecs are heap allocations owned by the `RingQueue`,
//!   never moved or resized, freed only in `Drop`, after the ring is closed
//!   and only if no entry's command is outstanding (else leaked);
//! - the kernel touches an entry's buffers only between the submission of
//!   its command and that command's completion, and only from this thread's
//!   own system calls (the copies run in the ring's task context), so the
//!   buffers are read and written here only while `in_kernel[i]` is false,
//!   which the completion sets and a submission clears.

use io_uring::{IoUring, cqueue, opcode, squeue, types};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};

/// sizeof(struct fuse_uring_req_header): in_out (128), op_in (128),
/// ring_ent_in_out (32).
pub const URING_HEADER_LEN: usize = 288;
const FUSE_IO_URING_CMD_REGISTER: u32 = 1;
const FUSE_IO_URING_CMD_COMMIT_AND_FETCH: u32 = 2;

/// struct fuse_uring_cmd_req in the SQE's 80-byte command area.
fn uring_cmd_req(commit_id: u64, qid: u16) -> [u8; 80] {
    let mut c = [0u8; 80];
    c[8..16].copy_from_slice(&commit_id.to_le_bytes());
    c[16..18].copy_from_slice(&qid.to_le_bytes());
    c
}

/// One entry's buffers: raw heap allocations (see the module's invariants).
struct EntBufs {
    header: *mut u8,
    payload: *mut u8,
    payload_len: usize,
    /// The two iovecs REGISTER points the kernel at.
    iov: *mut [libc::iovec; 2],
}

fn alloc(len: usize) -> *mut u8 {
    Box::into_raw(vec![0u8; len].into_boxed_slice()).cast::<u8>()
}

impl EntBufs {
    fn new(payload_len: usize) -> EntBufs {
        let header = alloc(URING_HEADER_LEN);
        let payload = alloc(payload_len);
        let iov = Box::into_raw(Box::new([
            libc::iovec {
                iov_base: header.cast(),
                iov_len: URING_HEADER_LEN,
            },
            libc::iovec {
                iov_base: payload.cast(),
                iov_len: payload_len,
            },
        ]));
        EntBufs {
            header,
            payload,
            payload_len,
            iov,
        }
    }

    /// Frees the buffers.
    ///
    /// # Safety
    /// Once only, after the kernel can no longer touch them (ring closed).
    unsafe fn free(&mut self) {
        // SAFETY: each pointer came from Box::into_raw of exactly this
        // type and length in `new`, and is freed once (the caller's promise).
        unsafe {
            drop(Box::from_raw(std::ptr::slice_from_raw_parts_mut(
                self.header,
                URING_HEADER_LEN,
            )));
            drop(Box::from_raw(std::ptr::slice_from_raw_parts_mut(
                self.payload,
                self.payload_len,
            )));
            drop(Box::from_raw(self.iov));
        }
    }
}

/// One FUSE queue: its ring, entries and the session's /dev/fuse fd.
pub struct RingQueue {
    /// Declared first: dropped (closed) before the buffers are freed.
    ring: Option<IoUring<squeue::Entry128, cqueue::Entry>>,
    ents: Vec<EntBufs>,
    in_kernel: Vec<bool>,
    dev: OwnedFd,
    qid: u16,
}

// SAFETY: the raw pointers are to heap buffers this queue owns alone; moving
// it to the thread that serves it moves that ownership along.
unsafe impl Send for RingQueue {}

impl RingQueue {
    /// A queue `qid` of `depth` entries (each a header and a payload buffer
    /// of `payload_len` bytes) on the session's /dev/fuse `dev`. The ring is
    /// made by the thread that serves it (`serve`), as SINGLE_ISSUER and
    /// DEFER_TASKRUN require.
    pub fn new(dev: OwnedFd, qid: u16, depth: usize, payload_len: usize) -> RingQueue {
        RingQueue {
            ring: None,
            ents: (0..depth).map(|_| EntBufs::new(payload_len)).collect(),
            in_kernel: vec![false; depth],
            dev,
            qid,
        }
    }

    fn make_ring(depth: u32) -> io::Result<IoUring<squeue::Entry128, cqueue::Entry>> {
        // One issuer and task work run only when this thread enters the
        // kernel to wait: the kernel's requests are copied into the buffers
        // in that same call (what libfuse asks for too); plain as a fallback.
        IoUring::<squeue::Entry128, cqueue::Entry>::builder()
            .setup_single_issuer()
            .setup_defer_taskrun()
            .build(depth)
            .or_else(|_| IoUring::<squeue::Entry128, cqueue::Entry>::builder().build(depth))
    }

    fn push(&mut self, i: usize, sqe: squeue::Entry128) -> io::Result<()> {
        let ring = self.ring.as_mut().ok_or(io::ErrorKind::NotConnected)?;
        // SAFETY: the buffers the entry points to (iovecs, header, payload)
        // live until after the ring is closed (module invariants); the
        // submission queue holds `depth` entries and each entry has at most
        // one command in flight, so it never overflows.
        unsafe { ring.submission().push(&sqe) }.map_err(|_| io::Error::other("submission queue full"))?;
        self.in_kernel[i] = true;
        Ok(())
    }

    fn register(&mut self, i: usize) -> io::Result<()> {
        let sqe = opcode::UringCmd80::new(types::Fd(self.dev.as_raw_fd()), FUSE_IO_URING_CMD_REGISTER)
            .cmd(uring_cmd_req(0, self.qid))
            .addr(Some(self.ents[i].iov as u64))
            .build()
            .user_data(i as u64);
        self.push(i, with_len(sqe, 2))
    }

    fn commit(&mut self, i: usize, commit_id: u64) -> io::Result<()> {
        let sqe = opcode::UringCmd80::new(types::Fd(self.dev.as_raw_fd()), FUSE_IO_URING_CMD_COMMIT_AND_FETCH)
            .cmd(uring_cmd_req(commit_id, self.qid))
            .build()
            .user_data(i as u64);
        self.push(i, sqe)
    }

    /// Entry `i`'s header and payload buffers, while the kernel has it not.
    fn bufs(&mut self, i: usize) -> Option<(&mut [u8], &mut [u8])> {
        if self.in_kernel[i] {
            return None;
        }
        let e = &self.ents[i];
        // SAFETY: live allocations of these lengths (module invariants),
        // not in the kernel's hands (checked above), and borrowed through
        // &mut self, so not aliased here either.
        Some(unsafe {
            (
                std::slice::from_raw_parts_mut(e.header, URING_HEADER_LEN),
                std::slice::from_raw_parts_mut(e.payload, e.payload_len),
            )
        })
    }

    /// Registers every entry; `ready` is told whether the kernel took them
    /// (a refusal completes at once, success completes only with a request).
    /// Then serves requests until the kernel ends every entry.
    /// Each request is handed to `handle` with the entry's header and
    /// payload buffers, to write the reply into; it returns the commit id.
    pub fn serve(
        mut self,
        ready: impl FnOnce(io::Result<()>),
        mut handle: impl FnMut(&mut [u8], &mut [u8]) -> u64,
    ) -> io::Result<()> {
        let depth = self.ents.len();
        match Self::make_ring(depth as u32) {
            Ok(ring) => self.ring = Some(ring),
            Err(e) => {
                ready(Err(io::Error::new(e.kind(), format!("io_uring_setup: {e}"))));
                return Err(e);
            }
        }
        let registered = (0..depth).try_for_each(|i| self.register(i)).and_then(|()| {
            let ring = self.ring.as_mut().ok_or(io::ErrorKind::NotConnected)?;
            ring.submit()?;
            match ring.completion().next() {
                Some(c) => Err(io::Error::from_raw_os_error(-c.result())),
                None => Ok(()),
            }
        });
        let failed = registered
            .as_ref()
            .err()
            .map(|e| io::Error::new(e.kind(), e.to_string()));
        ready(registered.map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("FUSE_IO_URING_CMD_REGISTER on queue {}: {e}", self.qid),
            )
        }));
        if let Some(e) = failed {
            return Err(e);
        }
        self.run(&mut handle)
    }

    fn run(&mut self, handle: &mut impl FnMut(&mut [u8], &mut [u8]) -> u64) -> io::Result<()> {
        let mut live = self.ents.len();
        let mut done: Vec<(usize, i32)> = Vec::with_capacity(live);
        let mut first_error = None;
        while live > 0 {
            let ring = self.ring.as_mut().ok_or(io::ErrorKind::NotConnected)?;
            match ring.submit_and_wait(1) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            done.clear();
            done.extend(ring.completion().map(|c| (c.user_data() as usize, c.result())));
            for &(i, res) in &done {
                if i >= self.in_kernel.len() {
                    continue;
                }
                self.in_kernel[i] = false;
                if res < 0 {
                    // The entry is over: ENOTCONN/ECONNABORTED at unmount,
                    // anything else is a fault worth reporting.
                    live -= 1;
                    let gone = [libc::ENOTCONN, libc::ECONNABORTED, libc::ECANCELED, libc::ENODEV];
                    if !gone.contains(&-res) && first_error.is_none() {
                        first_error = Some(io::Error::from_raw_os_error(-res));
                    }
                    continue;
                }
                let commit_id = match self.bufs(i) {
                    Some((header, payload)) => handle(header, payload),
                    None => 0,
                };
                if self.commit(i, commit_id).is_err() {
                    live -= 1;
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

impl Drop for RingQueue {
    fn drop(&mut self) {
        drop(self.ring.take());
        // An entry whose command has not completed may still be handed a
        // request (and written into) until the kernel's asynchronous ring
        // teardown cancels it: its buffers are then leaked, not freed. That
        // happens only when a queue fails part way (a registration
        // refused); a queue served to the end (`run`) saw every entry's
        // last completion.
        if self.in_kernel.iter().any(|&k| k) {
            return;
        }
        for e in &mut self.ents {
            // SAFETY: no command of an entry is outstanding (checked above),
            // the ring is closed, and each entry is freed once.
            unsafe { e.free() };
        }
    }
}

/// `sqe` with its `len` field set: REGISTER needs len = 2 (the iovecs),
/// which io-uring 0.7's UringCmd80 does not set.
fn with_len(sqe: squeue::Entry128, len: u32) -> squeue::Entry128 {
    // SAFETY: Entry128 is #[repr(C)] over struct io_uring_sqe (64 bytes)
    // and its 64-byte command tail: 128 plain bytes with no invalid values;
    // `len` is the u32 at offset 24 of struct io_uring_sqe.
    let mut raw: [u8; 128] = unsafe { std::mem::transmute(sqe) };
    raw[24..28].copy_from_slice(&len.to_ne_bytes());
    // SAFETY: as above, back to the same type.
    unsafe { std::mem::transmute::<[u8; 128], squeue::Entry128>(raw) }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_command_names_its_commit_and_queue_where_the_kernel_reads_them() {
        // struct fuse_uring_cmd_req: flags (u64), commit_id (u64), qid (u16).
        let cmd = super::uring_cmd_req(0x0102, 3);
        assert_eq!((cmd[8], cmd[9], cmd[16]), (2, 1, 3));
        assert!(cmd[..8].iter().all(|&b| b == 0));
    }
}

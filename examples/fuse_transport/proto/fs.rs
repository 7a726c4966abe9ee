//! The filesystem both transports serve, the same code for each: a root
//! directory holding one file, `file`, answered from memory. Attributes are
//! valid for 0 s (every stat of the file is a GETATTR), names for an hour
//! (a stat walks no LOOKUP after the first), and opens are direct I/O
//! (every read is a READ). What it does not serve is refused with ENOSYS.
//!
//! It counts every request by opcode and by the transport that carried it,
//! so that a benchmark can prove each stat was one request, and that the
//! io_uring transport served them (not /dev/fuse behind its back).

use super::abi::{self, Attr, InHeader};
use std::sync::atomic::{AtomicU64, Ordering};

pub const ROOT_INO: u64 = 1;
pub const FILE_INO: u64 = 2;
pub const FILE_NAME: &[u8] = b"file";
pub const FILE_LEN: u64 = 4096;

/// The byte at `offset` of `file`: a pattern a client can check.
pub fn file_byte(offset: u64) -> u8 {
    (offset % 251) as u8
}

/// Which transport carried a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Dev = 0,
    Uring = 1,
}

/// Requests served, by transport and opcode.
pub struct Counters {
    by: [[AtomicU64; abi::MAX_OPCODE]; 2],
}

impl Default for Counters {
    fn default() -> Self {
        Counters {
            by: std::array::from_fn(|_| std::array::from_fn(|_| AtomicU64::new(0))),
        }
    }
}

impl Counters {
    fn count(&self, via: Via, opcode: u32) {
        let slot = (opcode as usize).min(abi::MAX_OPCODE - 1);
        self.by[via as usize][slot].fetch_add(1, Ordering::Relaxed);
    }

    /// The requests of `opcode` that came by `via` so far.
    pub fn get(&self, via: Via, opcode: u32) -> u64 {
        let slot = (opcode as usize).min(abi::MAX_OPCODE - 1);
        self.by[via as usize][slot].load(Ordering::Relaxed)
    }

    /// All requests that came by `via` so far.
    pub fn total(&self, via: Via) -> u64 {
        self.by[via as usize].iter().map(|c| c.load(Ordering::Relaxed)).sum()
    }
}

/// What to send back for a request.
pub enum Reply {
    /// No reply at all (FORGET, BATCH_FORGET, INTERRUPT).
    None,
    /// 0 and the reply's payload (in the caller's buffer), or a negative errno.
    Error(i32),
    Ok,
}

fn file_attr() -> Attr {
    Attr {
        ino: FILE_INO,
        size: FILE_LEN,
        mode: libc::S_IFREG | 0o644,
        nlink: 1,
    }
}

fn root_attr() -> Attr {
    Attr {
        ino: ROOT_INO,
        size: 0,
        mode: libc::S_IFDIR | 0o755,
        nlink: 2,
    }
}

/// Serves one request: `arg` is its fixed argument struct (op_in), `data`
/// the rest (a LOOKUP's name). The reply's payload goes into `out`, which
/// comes in empty. Never panics: a malformed request is refused with EINVAL.
pub fn handle(counters: &Counters, via: Via, h: &InHeader, arg: &[u8], data: &[u8], out: &mut Vec<u8>) -> Reply {
    counters.count(via, h.opcode);
    match h.opcode {
        abi::FORGET | abi::BATCH_FORGET | abi::INTERRUPT => Reply::None,
        abi::LOOKUP => {
            // The name is NUL-terminated.
            let name = data.split(|b| *b == 0).next().unwrap_or(&[]);
            if h.nodeid == ROOT_INO && name == FILE_NAME {
                abi::entry_out(&file_attr(), 3600, 0, out);
                Reply::Ok
            } else {
                Reply::Error(-libc::ENOENT)
            }
        }
        abi::GETATTR => match h.nodeid {
            ROOT_INO => {
                abi::attr_out(&root_attr(), 0, out);
                Reply::Ok
            }
            FILE_INO => {
                abi::attr_out(&file_attr(), 0, out);
                Reply::Ok
            }
            _ => Reply::Error(-libc::ENOENT),
        },
        abi::OPEN if h.nodeid == FILE_INO => {
            abi::open_out(0, abi::FOPEN_DIRECT_IO, out);
            Reply::Ok
        }
        abi::OPEN => Reply::Error(-libc::EISDIR),
        abi::READ => {
            if arg.len() < abi::op_in_len(abi::READ) {
                return Reply::Error(-libc::EINVAL);
            }
            let (offset, size) = abi::read_in(arg);
            let end = offset.saturating_add(u64::from(size)).min(FILE_LEN);
            out.extend((offset.min(end)..end).map(file_byte));
            Reply::Ok
        }
        abi::RELEASE => Reply::Ok,
        abi::STATFS => {
            abi::statfs_out(out);
            Reply::Ok
        }
        _ => Reply::Error(-libc::ENOSYS),
    }
}

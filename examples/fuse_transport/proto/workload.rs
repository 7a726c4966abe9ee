//! The client side: `ops` stat() calls of the file (each one GETATTR, the
//! attributes being valid 0 s), or `ops` small pread()s through a direct-I/O
//! open (each one READ), split over `clients` threads that start together.
//! The server's own counters, read before and after, give the requests each
//! phase made.

use super::abi;
use super::fs::{self, Via};
use super::session::Session;
use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileExt;
use std::sync::Barrier;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    Stat,
    Read,
}

impl Workload {
    pub fn name(self) -> &'static str {
        match self {
            Workload::Stat => "stat",
            Workload::Read => "read",
        }
    }

    /// The one request each operation is.
    pub fn opcode(self) -> u32 {
        match self {
            Workload::Stat => abi::GETATTR,
            Workload::Read => abi::READ,
        }
    }
}

/// Bytes per read: small, so the transport's cost dominates.
pub const READ_LEN: usize = 64;

/// What one phase did and took.
#[derive(Debug, Clone, Copy)]
pub struct Measured {
    pub elapsed: Duration,
    /// CPU time of the whole process (clients and server: the other
    /// sessions' threads sleep meanwhile), user and system.
    pub cpu: Duration,
    /// Operations the clients made.
    pub ops: u64,
    /// Requests of the workload's opcode the server saw, by transport.
    pub via_uring: u64,
    pub via_dev: u64,
    /// Every request the server saw in the timed part, all opcodes.
    pub all: u64,
}

impl Measured {
    /// The workload's requests, over either transport.
    pub fn requests(&self) -> u64 {
        self.via_uring + self.via_dev
    }

    /// Wall time per request served, in µs.
    pub fn us_per_request(&self) -> f64 {
        self.elapsed.as_secs_f64() * 1e6 / self.requests().max(1) as f64
    }

    /// CPU time per request served (client and server), in µs: less
    /// sensitive than wall time to the machine's other load.
    pub fn cpu_us_per_request(&self) -> f64 {
        self.cpu.as_secs_f64() * 1e6 / self.requests().max(1) as f64
    }
}

/// Runs `ops` operations of `workload` on the session's file from `clients`
/// threads (the last takes the remainder).
pub fn run(session: &Session, workload: Workload, clients: usize, ops: u64) -> io::Result<Measured> {
    let clients = clients.max(1);
    let path = session
        .mountpoint()
        .join(std::str::from_utf8(fs::FILE_NAME).unwrap_or("file"));
    let cpath = CString::new(path.as_os_str().as_bytes()).map_err(io::Error::other)?;
    // Opened before the timed part (an OPEN each, not counted).
    let files = match workload {
        Workload::Read => (0..clients)
            .map(|_| std::fs::File::open(&path))
            .collect::<io::Result<Vec<_>>>()?,
        Workload::Stat => Vec::new(),
    };
    // One stat first: the LOOKUP of the name, cached an hour after it.
    rustix::fs::stat(cpath.as_c_str())?;
    let c = session.counters();
    let op = workload.opcode();
    let before = (
        c.get(Via::Uring, op),
        c.get(Via::Dev, op),
        c.total(Via::Uring) + c.total(Via::Dev),
    );
    let barrier = Barrier::new(clients + 1);
    let share = ops / clients as u64;
    let (elapsed, results) = std::thread::scope(|s| {
        let handles: Vec<_> = (0..clients)
            .map(|k| {
                let n = if k + 1 == clients {
                    ops - share * (clients as u64 - 1)
                } else {
                    share
                };
                let (barrier, cpath, file) = (&barrier, &cpath, files.get(k));
                s.spawn(move || {
                    barrier.wait();
                    match file {
                        Some(f) => read_loop(f, n),
                        None => stat_loop(cpath, n),
                    }
                })
            })
            .collect();
        barrier.wait();
        let (start, cpu_start) = (Instant::now(), process_cpu());
        let results: Vec<io::Result<()>> = handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err(io::Error::other("client panicked"))))
            .collect();
        ((start.elapsed(), process_cpu().saturating_sub(cpu_start)), results)
    });
    let (elapsed, cpu) = elapsed;
    results.into_iter().collect::<io::Result<Vec<()>>>()?;
    let after = (
        c.get(Via::Uring, op),
        c.get(Via::Dev, op),
        c.total(Via::Uring) + c.total(Via::Dev),
    );
    drop(files);
    Ok(Measured {
        elapsed,
        cpu,
        ops,
        via_uring: after.0 - before.0,
        via_dev: after.1 - before.1,
        all: after.2 - before.2,
    })
}

/// The process's CPU time so far, all threads.
fn process_cpu() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

fn stat_loop(path: &CString, n: u64) -> io::Result<()> {
    for _ in 0..n {
        let st = rustix::fs::stat(path.as_c_str())?;
        if st.st_size as u64 != fs::FILE_LEN {
            return Err(io::Error::other(format!("stat size {}", st.st_size)));
        }
    }
    Ok(())
}

fn read_loop(file: &std::fs::File, n: u64) -> io::Result<()> {
    let mut buf = [0u8; READ_LEN];
    let blocks = fs::FILE_LEN / READ_LEN as u64;
    for i in 0..n {
        let offset = (i % blocks) * READ_LEN as u64;
        let got = file.read_at(&mut buf, offset)?;
        if got != READ_LEN || buf[READ_LEN - 1] != fs::file_byte(offset + READ_LEN as u64 - 1) {
            return Err(io::Error::other(format!("read at {offset}: {got} bytes, wrong data")));
        }
    }
    Ok(())
}

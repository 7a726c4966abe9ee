//! A mounted session of the prototype: /dev/fuse opened, the mount made
//! with mount(2) (fd=, rootmode=, user_id=, group_id=), FUSE_INIT answered
//! over /dev/fuse, then the requests served by one of the two transports.
//!
//! - `Classic`: threads each looping read(/dev/fuse) → handle → write(reply).
//! - `Uring`: FUSE_OVER_IO_URING asked for in the INIT reply, then one queue
//!   per possible CPU (the kernel sends a request to the queue of the CPU
//!   its caller runs on, and uses the ring only once every queue has
//!   entries), each queue a thread pinned to its CPU (as libfuse does) with
//!   its own ring. One /dev/fuse reader stays as well: FORGETs and
//!   INTERRUPTs never travel over the ring; what it serves is counted
//!   apart, so a ring that serves nothing shows.

use super::abi::{self, InHeader, InitIn};
use super::fs::{self, Counters, Reply, Via};
use super::ring::Queue;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc;
use std::thread::JoinHandle;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Classic,
    /// Classic with reader k pinned to CPU k (mod the CPUs): a control, to
    /// tell the ring's gain from its pinned queue threads' locality.
    ClassicPinned,
    Uring,
}

impl Transport {
    pub fn name(self) -> &'static str {
        match self {
            Transport::Classic => "classic",
            Transport::ClassicPinned => "classic-pinned",
            Transport::Uring => "uring",
        }
    }
}

/// Ring entries per queue: a synchronous client has one request in flight,
/// so a few cover two clients on one CPU with room to spare.
const QUEUE_DEPTH: usize = 4;

pub struct Session {
    mountpoint: PathBuf,
    /// /sys/fs/fuse/connections/N/abort of this mount, if found.
    abort: Option<PathBuf>,
    counters: Arc<Counters>,
    threads: Vec<JoinHandle<io::Result<()>>>,
    /// Kept open until every thread using its raw fd has ended.
    dev: Arc<File>,
}

/// The possible CPUs and pinning to one: the library's (stratafs's rings
/// use them the same way).
pub use strata::fs::fuse::{pin_to, possible_cpus};

impl Session {
    /// Mounts at `mountpoint` and serves it by `transport` (`threads`
    /// readers for Classic; one queue per possible CPU for Uring).
    pub fn mount(mountpoint: &Path, transport: Transport, threads: usize) -> io::Result<Session> {
        let dev = Arc::new(std::fs::OpenOptions::new().read(true).write(true).open("/dev/fuse")?);
        let data = std::ffi::CString::new(format!(
            "fd={},rootmode=40000,user_id={},group_id={}",
            dev.as_raw_fd(),
            rustix::process::geteuid().as_raw(),
            rustix::process::getegid().as_raw()
        ))
        .map_err(io::Error::other)?;
        rustix::mount::mount(
            "strata-proto",
            mountpoint,
            "fuse.strata-proto",
            rustix::mount::MountFlags::NOSUID | rustix::mount::MountFlags::NODEV,
            data.as_c_str(),
        )?;
        let mut session = Session {
            mountpoint: mountpoint.to_path_buf(),
            abort: abort_file(mountpoint),
            counters: Arc::new(Counters::default()),
            threads: Vec::new(),
            dev,
        };
        if let Err(e) = session.start(transport, threads) {
            let _ = session.unmount();
            return Err(e);
        }
        Ok(session)
    }

    fn start(&mut self, transport: Transport, threads: usize) -> io::Result<()> {
        init(&self.dev, transport)?;
        let readers = match transport {
            Transport::Classic | Transport::ClassicPinned => threads.max(1),
            Transport::Uring => 1,
        };
        let cpus = possible_cpus()?;
        for k in 0..readers {
            let (dev, counters) = (self.dev.clone(), self.counters.clone());
            let pin = transport == Transport::ClassicPinned;
            self.threads.push(std::thread::spawn(move || {
                if pin {
                    pin_to(k % cpus);
                }
                classic_loop(&dev, &counters)
            }));
        }
        if transport == Transport::Uring {
            let (tx, rx) = mpsc::channel();
            let queues = cpus;
            for qid in 0..queues {
                let queue = Queue::new(self.dev.try_clone()?.into(), qid as u16, QUEUE_DEPTH);
                let (counters, tx) = (self.counters.clone(), tx.clone());
                self.threads.push(std::thread::spawn(move || {
                    pin_to(qid);
                    queue.serve(&counters, |r| drop(tx.send(r)))
                }));
            }
            // Every queue says whether the kernel took its entries (a
            // thread that ended without saying is an error too).
            for _ in 0..queues {
                rx.recv()
                    .map_err(|_| io::Error::other("a queue thread ended early"))??;
            }
        }
        Ok(())
    }

    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    pub fn mountpoint(&self) -> &Path {
        &self.mountpoint
    }

    /// The file that aborts the connection when "1" is written to it: a
    /// watchdog's way out when clients are stuck in the kernel (a ring that
    /// never became ready blocks every request).
    pub fn abort_file(&self) -> Option<&Path> {
        self.abort.as_deref()
    }

    /// Unmounts (the kernel ends the connection: readers get ENODEV, ring
    /// entries ENOTCONN), waits for every thread, and returns the first
    /// error one of them had.
    pub fn unmount(mut self) -> io::Result<()> {
        let res = rustix::mount::unmount(&self.mountpoint, rustix::mount::UnmountFlags::empty())
            .or_else(|_| rustix::mount::unmount(&self.mountpoint, rustix::mount::UnmountFlags::DETACH));
        let mut first: io::Result<()> = res.map_err(io::Error::from);
        for t in self.threads.drain(..) {
            let r = t
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("a server thread panicked")));
            if first.is_ok() {
                first = r;
            }
        }
        drop(self.dev);
        first
    }
}

/// The abort file of the FUSE connection mounted at `mountpoint`, found by
/// its device number in /proc/self/mountinfo (a stat of the mount point
/// would itself be a request to the server).
fn abort_file(mountpoint: &Path) -> Option<PathBuf> {
    let at = mountpoint.canonicalize().ok()?;
    let table = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    let line = table
        .lines()
        .filter(|l| l.contains(" - fuse.strata-proto "))
        .rfind(|l| l.split(' ').nth(4) == at.to_str())?;
    let minor = line.split(' ').nth(2)?.split(':').nth(1)?;
    Some(PathBuf::from(format!("/sys/fs/fuse/connections/{minor}/abort")))
}

/// Reads FUSE_INIT and answers it, asking for FUSE_OVER_IO_URING for
/// `Uring` (refused if the kernel does not offer it: enable_uring is off).
fn init(dev: &File, transport: Transport) -> io::Result<()> {
    let mut buf = vec![0u8; abi::CLASSIC_BUF_LEN];
    let n = (&*dev).read(&mut buf)?;
    let h = InHeader::parse(&buf[..n]);
    if h.opcode != abi::INIT {
        return Err(io::Error::other(format!(
            "first request is opcode {}, not INIT",
            h.opcode
        )));
    }
    let init = InitIn::parse(buf.get(abi::IN_HEADER_LEN..n).unwrap_or(&[]));
    if init.major != abi::FUSE_KERNEL_VERSION {
        return Err(io::Error::other(format!(
            "FUSE protocol {}.{}, not 7",
            init.major, init.minor
        )));
    }
    let mut flags = abi::FUSE_INIT_EXT;
    if transport == Transport::Uring {
        if init.flags & abi::FUSE_OVER_IO_URING == 0 {
            let reply = abi::out_header(h.unique, -libc::EPROTO, 0);
            let _ = (&*dev).write(&reply);
            return Err(io::Error::other(
                "the kernel did not offer FUSE_OVER_IO_URING in FUSE_INIT \
                 (is /sys/module/fuse/parameters/enable_uring Y? kernel 6.14+)",
            ));
        }
        flags |= abi::FUSE_OVER_IO_URING;
    }
    let body = abi::init_out(&init, flags & (init.flags | abi::FUSE_INIT_EXT));
    let mut reply = abi::out_header(h.unique, 0, body.len()).to_vec();
    reply.extend_from_slice(&body);
    (&*dev).write_all(&reply)
}

/// The classic transport: one request per read(2), one reply per write(2).
fn classic_loop(dev: &File, counters: &Counters) -> io::Result<()> {
    let mut buf = vec![0u8; abi::CLASSIC_BUF_LEN];
    let mut payload = Vec::with_capacity(abi::CLASSIC_BUF_LEN);
    let mut out = Vec::with_capacity(abi::CLASSIC_BUF_LEN);
    loop {
        let n = match (&*dev).read(&mut buf) {
            Ok(n) => n,
            // ENOENT: the request was interrupted before we read it.
            Err(e) if matches!(e.raw_os_error(), Some(libc::EINTR | libc::ENOENT | libc::EAGAIN)) => {
                continue;
            }
            // The connection is over (unmounted or aborted).
            Err(e) if e.raw_os_error() == Some(libc::ENODEV) => return Ok(()),
            Err(e) => return Err(e),
        };
        let req = &buf[..n];
        let h = InHeader::parse(req);
        let body = req.get(abi::IN_HEADER_LEN..).unwrap_or(&[]);
        let (arg, data) = body.split_at(abi::op_in_len(h.opcode).min(body.len()));
        payload.clear();
        let error = match fs::handle(counters, Via::Dev, &h, arg, data, &mut payload) {
            Reply::None => continue,
            Reply::Ok => 0,
            Reply::Error(e) => {
                payload.clear();
                e
            }
        };
        out.clear();
        out.extend_from_slice(&abi::out_header(h.unique, error, payload.len()));
        out.extend_from_slice(&payload);
        match (&*dev).write(&out) {
            Ok(_) => {}
            // ENOENT: the caller was interrupted and no longer waits.
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
            Err(e) if e.raw_os_error() == Some(libc::ENODEV) => return Ok(()),
            Err(e) => return Err(e),
        }
    }
}

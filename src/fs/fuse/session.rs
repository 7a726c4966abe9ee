//! A mounted session served by our own request loop.
//!
//! fuser still makes the mount (`fuser::Session::new`: mount(2) as root,
//! fusermount3 otherwise) and takes it away (its drop, or
//! [`BackgroundSession`]'s), and `Session::new` answers FUSE_INIT itself
//! before it returns, so INIT is negotiated through a [`Handshake`]
//! filesystem handed to it: the kernel's offer goes to
//! [`Filesystem::init`], whose asks ([`Init`]) are passed on to fuser's
//! `KernelConfig`. What fuser adds by default is thus sent unchanged:
//! ASYNC_READ | BIG_WRITES (| MAX_PAGES when offered), FUSE_INIT_EXT with
//! flags2, max_write 16 MiB, max_pages from it, time_gran 1 ns,
//! max_background 16 (congestion 12), max_stack_depth with PASSTHROUGH.
//!
//! From then on the requests are ours: the mount's /dev/fuse descriptor
//! (a duplicate of fuser's), one reader thread per `n_threads`, each on a
//! clone of it (FUSE_DEV_IOC_CLONE) with `clone_fd`, reading a request,
//! decoding it ([`Request`]), handing it to [`Filesystem::serve`] and
//! writing the [`Reply`]. The kernel ending the connection (unmount,
//! abort) makes every read fail with ENODEV: the readers end cleanly.

use super::abi::init as init_flags;
use super::notify::Notifier;
use super::reply::Reply;
use super::request::{Header, Malformed, Operation, Request};
use crate::fs::locks;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// The largest WRITE the kernel sends (fuser's max_write, kept).
pub const MAX_WRITE: usize = 16 * 1024 * 1024;
/// A reader's request buffer: a WRITE of max_write and its headers.
const BUFFER_LEN: usize = MAX_WRITE + 4096;

/// The mount's connection to the kernel: the /dev/fuse descriptor replies
/// outside a reader (notifications) and passthrough ioctls go through.
#[derive(Clone)]
pub struct Channel(Arc<OwnedFd>);

impl Channel {
    pub(super) fn fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }

    pub(super) fn send(&self, msg: &[u8]) -> io::Result<()> {
        send_on(self.fd(), msg)
    }

    /// Notifications to the kernel on this connection.
    pub fn notifier(&self) -> Notifier {
        Notifier::new(self.clone())
    }

    /// A passthrough backing of `file` on this connection.
    pub fn open_backing(&self, file: &std::fs::File) -> io::Result<super::BackingId> {
        super::BackingId::open(self, file)
    }
}

/// One message to the kernel, whole (a /dev/fuse write is atomic).
fn send_on(fd: BorrowedFd<'_>, msg: &[u8]) -> io::Result<()> {
    loop {
        match rustix::io::write(fd, msg) {
            Ok(_) => return Ok(()),
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// How requests travel from the kernel (`transport=`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Transport {
    /// FUSE over io_uring when the kernel offers it at INIT (the fuse
    /// module's `enable_uring` is on), else /dev/fuse.
    #[default]
    Auto,
    /// read(2) and write(2) on /dev/fuse.
    Classic,
    /// FUSE over io_uring, or no mount.
    Uring,
}

impl std::str::FromStr for Transport {
    type Err = ();

    fn from_str(s: &str) -> Result<Transport, ()> {
        match s {
            "auto" => Ok(Transport::Auto),
            "classic" => Ok(Transport::Classic),
            "uring" => Ok(Transport::Uring),
            _ => Err(()),
        }
    }
}

/// The kernel's FUSE_INIT offer, and what the filesystem asks of it.
pub struct Init {
    offered: u64,
    requested: u64,
    max_stack_depth: u32,
    minor: u32,
}

impl Init {
    /// Whether the kernel offers every flag of `flags`.
    pub fn offers(&self, flags: u64) -> bool {
        self.offered & flags == flags
    }

    /// Asks for `flags`: false (and nothing asked) unless all are offered.
    pub fn add(&mut self, flags: u64) -> bool {
        let offered = self.offers(flags);
        if offered {
            self.requested |= flags;
        }
        offered
    }

    /// The passthrough stacking depth (the kernel allows at most 2).
    pub fn set_max_stack_depth(&mut self, depth: u32) -> bool {
        let ok = depth <= 2;
        if ok {
            self.max_stack_depth = depth;
        }
        ok
    }

    /// The kernel's protocol minor version (7.minor).
    pub fn minor(&self) -> u32 {
        self.minor
    }

    pub fn requested(&self) -> u64 {
        self.requested
    }
}

/// What a session serves.
pub trait Filesystem: Send + Sync + 'static {
    /// FUSE_INIT: what to ask of the kernel's offer. An error refuses the
    /// mount.
    fn init(&mut self, init: &mut Init) -> io::Result<()>;
    /// The mount is made: its connection, for notifications and backings.
    fn connected(&self, channel: &Channel);
    /// One request: the answer goes into `reply` (started for it).
    fn serve(&self, req: &Request<'_>, reply: &mut Reply);
    /// The session ended (every reader done).
    fn destroy(&self);
    /// One request came over an io_uring queue (counted apart).
    fn over_ring(&self) {}
}

/// fuser's `Filesystem` for `fuser::Session::new`, which answers FUSE_INIT:
/// it lends the kernel's offer to our filesystem and passes its asks on.
struct Handshake<F> {
    fs: Arc<Mutex<Option<F>>>,
    transport: Transport,
    /// Set when FUSE_OVER_IO_URING was asked for.
    ring: Arc<std::sync::atomic::AtomicBool>,
}

impl<F: Filesystem> fuser::Filesystem for Handshake<F> {
    fn init(&mut self, _req: &fuser::Request, config: &mut fuser::KernelConfig) -> io::Result<()> {
        let mut slot = locks::lock(&self.fs);
        let fs = slot
            .as_mut()
            .ok_or_else(|| io::Error::other("no filesystem to negotiate for"))?;
        let mut init = Init {
            offered: config.capabilities().bits(),
            requested: 0,
            max_stack_depth: 0,
            minor: config.kernel_abi().1,
        };
        fs.init(&mut init)?;
        let ring = match self.transport {
            Transport::Classic => false,
            Transport::Auto => init.offers(init_flags::OVER_IO_URING),
            Transport::Uring if init.offers(init_flags::OVER_IO_URING) => true,
            Transport::Uring => {
                return Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    "transport=uring: the kernel does not offer FUSE over io_uring \
                     (kernel 6.14+, /sys/module/fuse/parameters/enable_uring must be Y)",
                ));
            }
        };
        if ring {
            init.add(init_flags::OVER_IO_URING);
            // A ring entry's payload must hold max_write and max_pages
            // pages: max_write comes down from fuser's 16 MiB to the
            // 256 pages the kernel allows (1 MiB with 4 KiB pages).
            let _ = config.set_max_write(super::uring::payload_len() as u32);
            self.ring.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        config
            .add_capabilities(fuser::InitFlags::from_bits_retain(init.requested))
            .map_err(|f| io::Error::other(format!("capabilities not offered: {f:?}")))?;
        if init.max_stack_depth > 0 {
            let _ = config.set_max_stack_depth(init.max_stack_depth);
        }
        Ok(())
    }
}

/// Who may use the mount, checked per request as fuser did (`allow_root`:
/// the kernel knows only `allow_other`).
#[derive(Clone, Copy)]
pub(super) struct Access {
    acl: fuser::SessionACL,
    owner: u32,
}

impl Access {
    /// Whether `req` is refused (EACCES): a stranger's request other than
    /// those the kernel may send without a caller's ids.
    fn refuses(&self, h: &Header, op: &Operation<'_>) -> bool {
        let stranger = match self.acl {
            fuser::SessionACL::All => false,
            fuser::SessionACL::RootAndOwner => h.uid != self.owner && h.uid != 0,
            fuser::SessionACL::Owner => h.uid != self.owner,
        };
        stranger
            && !matches!(
                op,
                Operation::Init { .. }
                    | Operation::Destroy
                    | Operation::Read(_)
                    | Operation::Readdir(_)
                    | Operation::Readdirplus(_)
                    | Operation::BatchForget { .. }
                    | Operation::Forget { .. }
                    | Operation::Write { .. }
                    | Operation::Fsync(_)
                    | Operation::Fsyncdir(_)
                    | Operation::Release(_)
                    | Operation::Releasedir(_)
            )
    }
}

/// Takes a mount away (fuser's session, held only for that).
trait Unmount: Send {
    fn unmount(&mut self) -> io::Result<()>;
}

impl<F: Filesystem> Unmount for fuser::Session<Handshake<F>> {
    fn unmount(&mut self) -> io::Result<()> {
        fuser::Session::unmount(self)
    }
}

/// A mount and the loop that serves it (not yet running).
pub struct Session<F: Filesystem> {
    fs: Arc<F>,
    channel: Channel,
    readers: Readers,
    /// fuser's session: the mount, unmounted when dropped.
    mount: Box<dyn Unmount>,
    /// The io_uring queues' threads (none over /dev/fuse alone).
    queues: Vec<JoinHandle<io::Result<()>>>,
}

/// How the requests are read.
#[derive(Clone, Copy)]
struct Readers {
    count: usize,
    clone_fd: bool,
    access: Access,
}

impl<F: Filesystem> Session<F> {
    /// Mounts `fs` at `mountpoint` with `config` (its mount options, who
    /// may use it, its reader threads); FUSE_INIT is answered on return.
    pub fn mount(fs: F, mountpoint: &Path, config: &fuser::Config, transport: Transport) -> io::Result<Session<F>> {
        let slot = Arc::new(Mutex::new(Some(fs)));
        let ring = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let handshake = Handshake {
            fs: slot.clone(),
            transport,
            ring: ring.clone(),
        };
        let mount = fuser::Session::new(handshake, mountpoint, config)?;
        let fd = mount.as_fd().try_clone_to_owned()?;
        let fs = locks::lock(&slot)
            .take()
            .ok_or_else(|| io::Error::other("the filesystem was not handed back"))?;
        let channel = Channel(Arc::new(fd));
        fs.connected(&channel);
        let mut session = Session {
            fs: Arc::new(fs),
            channel,
            readers: Readers {
                count: config.n_threads.unwrap_or(1).max(1),
                clone_fd: config.clone_fd,
                access: Access {
                    acl: config.acl,
                    owner: rustix::process::geteuid().as_raw(),
                },
            },
            mount: Box::new(mount),
            queues: Vec::new(),
        };
        if ring.load(std::sync::atomic::Ordering::Relaxed)
            && let Err(e) = session.start_queues()
        {
            // The kernel uses the ring only once every queue has its
            // entries: until then (here, for good) requests come over
            // /dev/fuse. `auto` carries on so; `uring` does not mount (the
            // session dropped: unmounted).
            if transport == Transport::Uring {
                return Err(e);
            }
            tracing::warn!("FUSE over io_uring offered but not usable ({e}); serving over /dev/fuse");
            session.queues.clear();
        }
        Ok(session)
    }

    /// Whether requests come over io_uring queues.
    pub fn over_uring(&self) -> bool {
        !self.queues.is_empty()
    }

    /// A queue per possible CPU, each on a thread pinned to its CPU, its
    /// entries registered before this returns (a refusal is an error).
    fn start_queues(&mut self) -> io::Result<()> {
        let cpus = super::uring::possible_cpus()?;
        let (tx, rx) = std::sync::mpsc::channel();
        let payload_len = super::uring::payload_len();
        for qid in 0..cpus {
            let dev = self.channel.fd().try_clone_to_owned()?;
            let queue = crate::sys::uring::RingQueue::new(dev, qid as u16, super::uring::QUEUE_DEPTH, payload_len);
            let (fs, tx, access) = (self.fs.clone(), tx.clone(), self.readers.access);
            let thread = std::thread::Builder::new()
                .name(format!("stratafs-q{qid}"))
                .spawn(move || {
                    super::uring::pin_to(qid);
                    let mut entry = super::uring::Entry::new(payload_len);
                    queue.serve(|r| drop(tx.send(r)), |h, p| entry.answer(&*fs, access, h, p))
                })?;
            self.queues.push(thread);
        }
        // Every queue says whether the kernel took its entries (a thread
        // that ended without saying is an error too).
        for _ in 0..cpus {
            rx.recv()
                .map_err(|_| io::Error::other("an io_uring queue thread ended early"))??;
        }
        Ok(())
    }

    pub fn notifier(&self) -> Notifier {
        self.channel.notifier()
    }

    /// Serves the mount until the kernel ends it, then ends the
    /// filesystem (`destroy`) and the mount (if still there).
    pub fn run(self) -> io::Result<()> {
        let res = serve(&self.fs, &self.channel, self.readers, self.queues);
        self.fs.destroy();
        drop(self.mount);
        res
    }

    /// Serves the mount from threads of this process; the returned
    /// session unmounts and waits for them when dropped.
    pub fn spawn(self) -> io::Result<BackgroundSession> {
        let Session {
            fs,
            channel,
            readers,
            mount,
            queues,
        } = self;
        let ch = channel.clone();
        let thread = std::thread::Builder::new()
            .name("stratafs-session".into())
            .spawn(move || {
                let res = serve(&fs, &ch, readers, queues);
                fs.destroy();
                res
            })?;
        Ok(BackgroundSession {
            thread: Some(thread),
            channel,
            mount: Some(mount),
        })
    }
}

/// Runs the readers until each has seen the connection end (and waits for
/// the io_uring `queues`, which end with it).
fn serve<F: Filesystem>(
    fs: &Arc<F>,
    channel: &Channel,
    readers: Readers,
    queues: Vec<JoinHandle<io::Result<()>>>,
) -> io::Result<()> {
    let mut threads = queues;
    let mut res = Ok(());
    for i in 0..readers.count {
        let fd = match (i, readers.clone_fd) {
            (0, _) | (_, false) => channel.fd().try_clone_to_owned(),
            _ => crate::sys::clone_fuse_dev(channel.fd()),
        };
        let fd = match fd {
            Ok(fd) => fd,
            Err(e) => {
                res = Err(e);
                break;
            }
        };
        let fs = fs.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("stratafs-{i}"))
            .spawn(move || read_loop(&*fs, fd.as_fd(), readers.access));
        match spawned {
            Ok(t) => threads.push(t),
            Err(e) => {
                res = Err(e);
                break;
            }
        }
    }
    for t in threads {
        let r = t
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("a reader thread panicked")));
        if res.is_ok() {
            res = r;
        }
    }
    res
}

/// One reader: a request per read(2), its answer per write(2), until the
/// connection ends (ENODEV) or DESTROY.
fn read_loop<F: Filesystem>(fs: &F, fd: BorrowedFd<'_>, access: Access) -> io::Result<()> {
    let mut buf = vec![0u8; BUFFER_LEN];
    let mut reply = Reply::new();
    loop {
        let n = match rustix::io::read(fd, &mut buf[..]) {
            Ok(n) => n,
            // ENOENT: the request was interrupted before we read it.
            Err(rustix::io::Errno::NOENT | rustix::io::Errno::INTR | rustix::io::Errno::AGAIN) => continue,
            Err(rustix::io::Errno::NODEV) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        let Some(last) = handle(fs, access, &buf[..n], &mut reply, false) else {
            continue;
        };
        if let Some(bytes) = reply.finish() {
            match send_on(fd, bytes) {
                // ENOENT: the caller was interrupted and waits no more.
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
                Err(e) if e.raw_os_error() == Some(libc::ENODEV) => return Ok(()),
                Err(e) => tracing::warn!("sending a FUSE reply: {e}"),
                Ok(()) => {}
            }
        }
        if last {
            return Ok(());
        }
    }
}

/// Decodes the request in `buf` (read from /dev/fuse, or from a ring
/// entry: `ring`) and serves it into `reply`: whether it was the last
/// (DESTROY); None when there is no one to answer (a request shorter than
/// its header).
pub(super) fn handle<F: Filesystem>(fs: &F, access: Access, buf: &[u8], reply: &mut Reply, ring: bool) -> Option<bool> {
    match Request::parse(buf) {
        Ok(req) => {
            reply.start(req.header.unique);
            // Counted as the opcodes are: those not served are not.
            if ring && !matches!(req.op, Operation::Unknown) {
                fs.over_ring();
            }
            if access.refuses(&req.header, &req.op) {
                reply.error(libc::EACCES);
            } else {
                fs.serve(&req, reply);
            }
            Some(matches!(req.op, Operation::Destroy))
        }
        Err(Malformed(Some(h))) => {
            tracing::warn!(
                "a malformed FUSE request (opcode {}, {} bytes): EIO",
                h.opcode,
                buf.len()
            );
            reply.start(h.unique);
            reply.error(libc::EIO);
            Some(false)
        }
        Err(Malformed(None)) => {
            tracing::warn!("a FUSE request shorter than its header ({} bytes): dropped", buf.len());
            None
        }
    }
}

/// A mount served by threads of this process (fuser's `BackgroundSession`,
/// ours): dropping it unmounts and waits for the threads.
pub struct BackgroundSession {
    thread: Option<JoinHandle<io::Result<()>>>,
    channel: Channel,
    mount: Option<Box<dyn Unmount>>,
}

impl BackgroundSession {
    pub fn notifier(&self) -> Notifier {
        self.channel.notifier()
    }

    /// Waits for the session to end (someone unmounted it), and returns
    /// how it ended.
    pub fn join(mut self) -> io::Result<()> {
        self.wait()
    }

    /// Unmounts, then waits for the session to end.
    pub fn umount_and_join(mut self) -> io::Result<()> {
        if let Some(mut m) = self.mount.take() {
            m.unmount()?;
        }
        self.wait()
    }

    fn wait(&mut self) -> io::Result<()> {
        match self.thread.take() {
            Some(t) => t
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("the session thread panicked"))),
            None => Ok(()),
        }
    }
}

impl Drop for BackgroundSession {
    fn drop(&mut self) {
        if let Some(mut m) = self.mount.take()
            && let Err(e) = m.unmount()
        {
            // Still mounted (busy): its threads serve on, detached.
            tracing::warn!("unmounting a FUSE session: {e}");
            return;
        }
        if let Err(e) = self.wait() {
            tracing::warn!("a FUSE session ended: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strangers_get_only_what_the_kernel_sends_without_a_caller() {
        let h = |uid| Header {
            uid,
            ..Header::default()
        };
        let lookup = Operation::Lookup { name: b"x" };
        let forget = Operation::Forget { nlookup: 1 };
        let access = |acl| Access { acl, owner: 1000 };
        let all = access(fuser::SessionACL::All);
        assert!(!all.refuses(&h(5), &lookup));
        let owner = access(fuser::SessionACL::Owner);
        assert!(owner.refuses(&h(5), &lookup));
        assert!(owner.refuses(&h(0), &lookup));
        assert!(!owner.refuses(&h(1000), &lookup));
        assert!(!owner.refuses(&h(5), &forget));
        let root_too = access(fuser::SessionACL::RootAndOwner);
        assert!(!root_too.refuses(&h(0), &lookup));
        assert!(root_too.refuses(&h(5), &lookup));
    }

    #[test]
    fn only_offered_capabilities_are_asked_for() {
        let mut init = Init {
            offered: super::super::abi::init::POSIX_ACL | super::super::abi::init::PASSTHROUGH,
            requested: 0,
            max_stack_depth: 0,
            minor: 41,
        };
        assert!(init.add(super::super::abi::init::POSIX_ACL));
        assert!(!init.add(super::super::abi::init::POSIX_ACL | super::super::abi::init::CACHE_SYMLINKS));
        assert!(!init.set_max_stack_depth(3));
        assert!(init.set_max_stack_depth(2));
        assert_eq!(init.requested(), super::super::abi::init::POSIX_ACL);
    }
}

//! Spare shims: a container's start without the two slowest steps on its
//! path, the shim's own start (an `execve` of stratad: loading, the
//! runtime, the spec's JSON; about 2 ms here) and the move of its init
//! into the container's cgroups (a `cgroup.procs` write: on cgroup v1 an
//! RCU grace period, 7-23 ms measured here).
//!
//! The daemon starts a spare ahead of need ([`Spare::spawn`]): a shim
//! whose forked child, the *pre-init*, moves itself into a set of spare
//! cgroups and waits. At a start the daemon renames those cgroups to the
//! container's (a rename leaves their members where they are: see
//! `cgroup::Manager::adopt`), writes the container's limits and device
//! rules on them, and sends the spec ([`Spare::start`]). The pre-init
//! makes the container's namespaces and forks the init, which is born in
//! the container's cgroups, then exits. The shim, a child subreaper,
//! inherits the orphaned init and goes on as for any start (`relay` in
//! `helper.rs`). The shim itself never enters the container's cgroups:
//! it counts against none of their limits and freezes with none of them.
//!
//! The pre-init runs only this program's code until it forks, and the
//! init waits, as on every start, for the shim's word that it is
//! confined (here at once: it was born so) before anything of the image
//! runs. A pre-init that finds its socket to stratad closed (the daemon
//! gone) exits, and so does its shim; the daemon's sweep at its next
//! start removes the spare cgroups.

use super::cgroup::Joiner;
use super::helper::{self, InitSpec};
use super::lookup::Failure;
use super::{ContainerSpec, Error, NetworkMode, Running, ShimSpec, Stdio};
use crate::sys::signals::Forked;
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::Duration;

/// The largest start message a pre-init takes: the spec's JSON (a custom
/// seccomp profile's program is the bulk of it).
const MAX_SPEC: usize = 64 << 20;

/// A shim started ahead of its container. Dropping an unused one ends it
/// (its socket closes: the pre-init and then the shim exit).
#[derive(Debug)]
pub struct Spare {
    shim: Option<Child>,
    sock: UnixStream,
    ready: bool,
}

impl Spare {
    /// Starts a spare shim whose pre-init joins `cgroups` (none: it waits
    /// where the daemon is). Returns at once; see [`Spare::wait_ready`].
    pub fn spawn(helper: &Path, cgroups: &[PathBuf]) -> Result<Spare, Error> {
        use std::process::Stdio as Std;
        let spec = ShimSpec::Spare {
            cgroups: cgroups.to_vec(),
        };
        let (shim, sock) = super::spawn_shim(helper, &spec, (Std::null(), Std::null(), Std::null()))?;
        Ok(Spare {
            shim: Some(shim),
            sock,
            ready: false,
        })
    }

    /// Waits at most `limit` for the pre-init to be in its cgroups.
    pub fn wait_ready(&mut self, limit: Duration) -> Result<(), Error> {
        if self.ready {
            return Ok(());
        }
        use rustix::event::{PollFd, PollFlags, poll};
        let timeout = rustix::time::Timespec {
            tv_sec: limit.as_secs() as i64,
            tv_nsec: limit.subsec_nanos() as i64,
        };
        let mut fds = [PollFd::new(&self.sock, PollFlags::IN)];
        match poll(&mut fds, Some(&timeout)) {
            Ok(0) => return Err(Error::Protocol("the spare shim was not ready in time".into())),
            Ok(_) => {}
            Err(e) => return Err(Error::io("waiting for the spare shim")(e.into())),
        }
        // Nothing else comes before our start message: one read has it all.
        let mut buf = [0u8; 64];
        let n = (&self.sock)
            .read(&mut buf)
            .map_err(Error::io("reading from the spare shim"))?;
        let line = String::from_utf8_lossy(&buf[..n]);
        match super::parse_message(&line)?.as_str() {
            "ready" => {
                self.ready = true;
                Ok(())
            }
            other => Err(Error::Protocol(format!(
                "unexpected message from the spare shim {other:?}"
            ))),
        }
    }

    /// Starts the container on this spare, as [`super::start`] does on a
    /// new shim. Its cgroups must be the container's by now (renamed), with
    /// the container's limits and rules written; `spec.confinement.cgroups`
    /// names them (for later execs) and is not joined again.
    pub fn start(mut self, spec: &ContainerSpec, stdio: Stdio) -> Result<Running, Error> {
        if spec.process.args.is_empty() {
            return Err(Error::Start {
                message: "no command specified".into(),
                code: None,
            });
        }
        self.wait_ready(Duration::from_secs(5))?;
        let tty = spec.process.tty;
        let streams = streams(stdio, tty)?;
        let rootless = !crate::sys::is_root();
        let json = serde_json::to_vec(&ShimSpec::Start {
            spec: spec.clone(),
            rootless,
        })?;
        let header = format!("start {}\n", json.len());
        let fds: Vec<_> = streams.iter().map(|f| f.as_fd()).collect();
        crate::sys::send_with_fds(&self.sock, header.as_bytes(), &fds)
            .and_then(|()| (&self.sock).write_all(&json))
            .map_err(Error::io("writing to the spare shim"))?;
        drop(streams);
        let bridge = match &spec.network {
            NetworkMode::Bridge(b) => Some((b, rootless)),
            _ => None,
        };
        let shim = self
            .shim
            .take()
            .ok_or_else(|| Error::Protocol("the spare shim was used".into()))?;
        let sock = self
            .sock
            .try_clone()
            .map_err(Error::io("duplicating the spare's socket"))?;
        super::attend(shim, sock, bridge, tty)
    }
}

impl Drop for Spare {
    fn drop(&mut self) {
        if let Some(mut shim) = self.shim.take() {
            let _ = rustix::net::shutdown(&self.sock, rustix::net::Shutdown::Both);
            let _ = shim.kill();
            let _ = shim.wait();
        }
    }
}

/// The container's standard streams as descriptors to send: a terminal's
/// process gets `/dev/null` until its init makes the terminal.
fn streams(stdio: Stdio, tty: bool) -> Result<Vec<OwnedFd>, Error> {
    match (stdio, tty) {
        (Stdio::Fds { stdin, stdout, stderr }, false) => Ok(vec![stdin, stdout, stderr]),
        (Stdio::Terminal, true) => (0..3)
            .map(|_| {
                std::fs::File::open("/dev/null")
                    .map(OwnedFd::from)
                    .map_err(Error::io("opening /dev/null"))
            })
            .collect(),
        (Stdio::Fds { .. }, true) => Err(Error::Usage("a TTY process takes Stdio::Terminal")),
        (Stdio::Terminal, false) => Err(Error::Usage("Stdio::Terminal is for a TTY process")),
    }
}

// ------------------------------------------------------- the shim's side

/// A spare shim's life (`sock`: to stratad): the pre-init forked into
/// `cgroups`, its readiness and the init's pid relayed, then as any shim.
pub(super) fn shim(sock: &UnixStream, cgroups: &[PathBuf]) -> Result<i32, Failure> {
    let fail =
        |what: &'static str| move |e: std::io::Error| Failure::new(1, format!("{what}: {}", super::errno_text(&e)));
    // The init, orphaned when the pre-init exits, becomes our child.
    rustix::process::set_child_subreaper(Some(rustix::process::getpid()))
        .map_err(|e| fail("becoming a subreaper")(e.into()))?;
    let joiner = Joiner::open(cgroups).map_err(fail("opening the spare cgroups"))?;
    let (reader, writer) = UnixStream::pair().map_err(fail("creating the sync socket"))?;
    let (report, report_end) = UnixStream::pair().map_err(fail("creating the report socket"))?;
    let pre = match crate::sys::signals::fork_single_threaded().map_err(fail("starting the pre-init"))? {
        Forked::Child => {
            drop((reader, report));
            pre_init(sock, &joiner, writer, report_end)
        }
        Forked::Parent(pid) => pid as u32,
    };
    drop((writer, report_end, joiner));
    let mut lines = Lines::new(&report);
    let outcome = lines.next().and_then(|line| {
        if line != "ready" {
            return Err(report_failure(&line));
        }
        helper::send(sock, "ready").map_err(fail("writing to stratad"))?;
        let line = lines.next()?;
        line.strip_prefix("pid ")
            .and_then(|p| p.parse::<u32>().ok())
            .ok_or_else(|| report_failure(&line))
    });
    // The pre-init exits once it has said either.
    let _ = helper::wait_for(pre);
    let pid = outcome?;
    helper::relay(sock, &Joiner::open(&[]).map_err(fail("confining"))?, pid, &reader)
}

/// A pre-init's "err CODE MESSAGE" (or anything else) as a failure.
fn report_failure(line: &str) -> Failure {
    match line.strip_prefix("err ").and_then(|r| r.split_once(' ')) {
        Some((code, message)) => Failure::new(code.parse().unwrap_or(1), message),
        None if line.is_empty() => Failure::new(1, "the container's pre-init ended"),
        None => Failure::new(1, format!("the container's pre-init said {line:?}")),
    }
}

/// The lines of a pre-init's report.
struct Lines<'a> {
    sock: &'a UnixStream,
    buf: Vec<u8>,
}

impl<'a> Lines<'a> {
    fn new(sock: &'a UnixStream) -> Lines<'a> {
        Lines { sock, buf: Vec::new() }
    }

    /// The next line; "" at the end.
    fn next(&mut self) -> Result<String, Failure> {
        loop {
            if let Some(end) = self.buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=end).collect();
                return Ok(String::from_utf8_lossy(&line[..end]).into_owned());
            }
            let mut chunk = [0u8; 512];
            match (&*self.sock).read(&mut chunk) {
                Ok(0) => return Ok(String::new()),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => return Ok(String::new()),
            }
        }
    }
}

/// The pre-init: joins the spare cgroups, says so, waits for the start
/// message on stratad's socket, makes the namespaces and forks the init
/// (which takes `sync`), reports its pid and exits.
fn pre_init(sock: &UnixStream, joiner: &Joiner, sync: UnixStream, report: UnixStream) -> ! {
    let outcome = (|| -> Result<u32, Failure> {
        let me = rustix::process::getpid().as_raw_nonzero().get() as u32;
        joiner
            .join(me)
            .map_err(|e| Failure::new(1, format!("confining the container: {e}")))?;
        helper::send(&report, "ready").map_err(|_| Failure::new(1, "the spare shim is gone"))?;
        let (spec, rootless) = read_start(sock)?;
        helper::start_namespaces(&spec, rootless)?;
        match crate::sys::signals::fork_single_threaded()
            .map_err(|e| Failure::new(1, format!("starting the container's init: {e}")))?
        {
            Forked::Child => helper::run_init(InitSpec::Start { spec, rootless }, sync),
            Forked::Parent(pid) => Ok(pid as u32),
        }
    })();
    let line = match outcome {
        Ok(pid) => format!("pid {pid}"),
        Err(f) => format!("err {} {}", f.code, f.message),
    };
    let _ = helper::send(&report, &line);
    std::process::exit(0)
}

/// Reads stratad's start message ("start LEN\n", the container's three
/// standard streams with it, then LEN bytes of a [`ShimSpec::Start`]),
/// makes the streams ours, and returns the spec.
fn read_start(sock: &UnixStream) -> Result<(ContainerSpec, bool), Failure> {
    let gone = || Failure::new(1, "stratad closed the spare's socket");
    let mut fds = Vec::new();
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 64 << 10];
    let (start, len) = loop {
        if let Some(end) = buf.iter().position(|&b| b == b'\n') {
            let header = String::from_utf8_lossy(&buf[..end]).into_owned();
            let len = header
                .strip_prefix("start ")
                .and_then(|n| n.parse::<usize>().ok())
                .filter(|&n| n <= MAX_SPEC)
                .ok_or_else(|| Failure::new(1, format!("a bad start message {header:?}")))?;
            break (end + 1, len);
        }
        if buf.len() > 64 {
            return Err(Failure::new(1, "a bad start message"));
        }
        let n = crate::sys::recv_with_fds(sock, &mut chunk[..64], &mut fds).map_err(|_| gone())?;
        if n == 0 {
            return Err(gone());
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    // Exactly the message: stratad sends nothing more until our "pid".
    while buf.len() < start + len {
        let want = (start + len - buf.len()).min(chunk.len());
        let n = crate::sys::recv_with_fds(sock, &mut chunk[..want], &mut fds).map_err(|_| gone())?;
        if n == 0 {
            return Err(gone());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let [stdin, stdout, stderr]: [OwnedFd; 3] = fds
        .try_into()
        .map_err(|v: Vec<OwnedFd>| Failure::new(1, format!("{} streams came with the start", v.len())))?;
    let dup = |e: rustix::io::Errno| Failure::new(1, format!("taking the container's streams: {e}"));
    rustix::stdio::dup2_stdin(&stdin).map_err(dup)?;
    rustix::stdio::dup2_stdout(&stdout).map_err(dup)?;
    rustix::stdio::dup2_stderr(&stderr).map_err(dup)?;
    match serde_json::from_slice(&buf[start..]) {
        Ok(ShimSpec::Start { spec, rootless }) => Ok((spec, rootless)),
        Ok(_) => Err(Failure::new(1, "the spare's start message is not a start")),
        Err(e) => Err(Failure::new(1, format!("decoding the spec: {e}"))),
    }
}

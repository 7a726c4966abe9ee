//! The container runner: starts a process in new namespaces on a prepared
//! root filesystem, runs more processes inside a running container, and
//! lists a container's processes.
//!
//! How a container starts: [`start`] runs the helper binary (stratad) as a
//! hidden `__strata-shim` subcommand with the spec as JSON in its
//! environment and one end of a socket pair. The shim, single-threaded,
//! unshares the namespaces (a user namespace first when not root) and
//! forks the init (without an exec: the shim has one thread), which is
//! PID 1 of the new PID namespace: it builds the mounts (see [`plan`]), pivots into the root,
//! sets the hostname, switches to the user, drops capabilities and execs
//! the command. The init reports a failure before exec over a close-on-exec
//! socket; EOF means the exec happened. The shim relays the init's host pid
//! and that outcome over the socket, then keeps reading it: EOF there means
//! stratad is gone, and the shim kills the container. The shim exits with
//! the container's exit code (Docker's: the code, or 128+N after signal N).
//!
//! A TTY process ([`Stdio::Terminal`]) gets a pseudo-terminal made inside
//! the container, as runc does: the init, once in the container's mounts,
//! opens `/dev/ptmx` (the container's own devpts instance), makes the slave
//! its stdin, stdout, stderr and controlling terminal (so `ttyname` gives
//! `/dev/pts/N` inside), and sends the master over its sync socket with
//! `SCM_RIGHTS`; the shim passes it on with its "ok", and
//! [`Running::take_pty_master`] hands it to the caller.
//!
//! [`exec`] is the same with `__strata-shim` joining the namespaces of a
//! running container instead of making new ones.
//!
//! Every process of a container, its init and each exec'd one, is
//! confined alike ([`Confinement`]): the shim moves it into the
//! container's cgroups while it sets up (on cgroup v1 a move costs an RCU
//! grace period, so it runs beside the mounts rather than before them),
//! and it waits for that before anything of the image can run (the device
//! rules, [`cgroup`]); it installs the container's seccomp program ([`seccomp`])
//! as its very last step before `execve`, after its capabilities and
//! `no_new_privs` — or, without `no_new_privs` (Docker's default), before
//! its capabilities are dropped, since only a holder of `CAP_SYS_ADMIN`
//! may install a filter then. [`Privileges`] carries the rest of what
//! Docker's `HostConfig` asks: the capability set, limits, groups, devices.

pub mod bridge;
pub mod caps;
pub mod cgroup;
pub mod delegation;
pub mod devices;
pub mod ebpf;
mod helper;
pub mod holder;
mod linux;
mod lookup;
pub mod network;
pub mod plan;
mod ps;
mod reaper;
pub mod resources;
pub mod rlimits;
pub mod seccomp;
pub mod spare;
pub mod stats;
pub mod user;

pub use lookup::errno_text;
pub use ps::{Paused, ProcessInfo, pause, processes};

use serde::{Deserialize, Serialize};
use std::io::{self, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus};
use std::sync::Mutex;
use std::time::Duration;

/// The hidden subcommand of the helper that becomes the shim.
const SHIM_ARG: &str = "__strata-shim";
/// The environment variable carrying a helper's JSON spec.
const ENV_SPEC: &str = "_STRATA_RUN_SPEC";
/// The environment variable carrying a helper's inherited descriptor.
const ENV_FD: &str = "_STRATA_RUN_FD";

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub enum NetworkMode {
    /// The host's network namespace.
    Host,
    /// A new network namespace with only `lo`, up.
    None,
    /// A new network namespace configured by pasta ([`network`]): `eth0`
    /// with outbound access, and the published ports.
    Bridge(network::Bridge),
    /// The network namespace of another container, whose init's host pid
    /// this is (rootless, its user namespace too: only a process of that
    /// user namespace may join its network namespace).
    Container(u32),
}

/// The process to run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ProcessSpec {
    /// argv; `args[0]` without a `/` is searched in `PATH` (of `env`, inside
    /// the container).
    pub args: Vec<String>,
    /// `KEY=VALUE`; `PATH` and `HOME` are added when absent.
    pub env: Vec<String>,
    /// Absolute path inside the container, created if missing; "" is "/".
    pub cwd: String,
    /// "" (root), "uid", "uid:gid", "name", "name:group"…, resolved from the
    /// container's `/etc/passwd` and `/etc/group`.
    pub user: String,
    /// The process gets a pseudo-terminal made inside the container (start
    /// it with [`Stdio::Terminal`]): the controlling terminal, and its
    /// stdin, stdout and stderr.
    pub tty: bool,
    /// The terminal's initial size, (rows, columns); only with `tty`.
    #[serde(default)]
    pub console_size: Option<(u16, u16)>,
}

/// What confines every process of a container besides its namespaces and
/// capabilities. There is no default: a caller states what it wants.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Confinement {
    /// Installed as the last step before `execve`; `None` is unconfined
    /// (`--security-opt seccomp=unconfined`).
    pub seccomp: Option<seccomp::Program>,
    /// cgroup directories the shim moves the process into before it runs
    /// anything of the image ([`cgroup::Joiner`]); for a rootless daemon
    /// only its delegated resource cgroups, if any (see [`cgroup`],
    /// [`delegation`]).
    pub cgroups: Vec<PathBuf>,
    /// Capabilities, `no_new_privs`, limits, groups and devices.
    #[serde(default)]
    pub privileges: Privileges,
}

impl Confinement {
    /// No seccomp filter and no cgroup; Docker's default privileges.
    pub fn none() -> Confinement {
        Confinement {
            seccomp: None,
            cgroups: Vec::new(),
            privileges: Privileges::default(),
        }
    }
}

/// A host device node made usable in the container (`--device`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct DeviceMount {
    /// The host's node, bound over `container` (created empty first).
    pub host: PathBuf,
    /// Absolute path inside the container.
    pub container: String,
}

/// What a container's processes may do, as Docker's `HostConfig` asked;
/// the default is Docker's default container.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Privileges {
    /// The capability set (bounding, and effective/permitted for root),
    /// as bits; `None` is Docker's default set ([`caps::DOCKER_CAPS`]).
    pub caps: Option<u64>,
    /// `prctl(PR_SET_NO_NEW_PRIVS)` before `execve`
    /// (`--security-opt no-new-privileges`); off by default, as Docker.
    pub no_new_privs: bool,
    /// `--ulimit`, set before `execve`.
    pub rlimits: Vec<rlimits::Rlimit>,
    /// `--group-add`: group names (from the container's `/etc/group`) or
    /// numbers, added to the supplementary groups.
    pub group_add: Vec<String>,
    /// `--oom-score-adj`, written to `/proc/self/oom_score_adj`.
    pub oom_score_adj: Option<i32>,
    /// `--privileged`: the host's devices in `/dev`, `/sys` and
    /// `/proc/sys` writable, no masked paths (the caps and seccomp are
    /// given by the fields above and [`Confinement::seccomp`]).
    pub privileged: bool,
    /// `--device`: nodes bound into the container's `/dev` (the init's
    /// plan only; the cgroup allows them).
    pub devices: Vec<DeviceMount>,
}

impl Privileges {
    /// The capability set in force.
    pub fn capabilities(&self) -> rustix::thread::CapabilitySet {
        self.caps
            .map_or(caps::DOCKER_CAPS, rustix::thread::CapabilitySet::from_bits_retain)
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ContainerSpec {
    pub id: String,
    /// Host path of the mounted root filesystem.
    pub rootfs: PathBuf,
    pub hostname: String,
    /// The UTS domain name; empty leaves the new namespace's `(none)`.
    #[serde(default)]
    pub domainname: String,
    pub network: NetworkMode,
    /// (container path, host file): bound over the container path, which is
    /// created (empty) if missing.
    pub etc_files: Vec<(String, PathBuf)>,
    /// The user's mounts (`-v`, `--mount`, `--tmpfs`), in order, made
    /// after the etc files (see [`plan::UserMount`]).
    #[serde(default)]
    pub mounts: Vec<plan::UserMount>,
    /// `--read-only`: the root's bind remounted read-only once every other
    /// mount is made.
    #[serde(default)]
    pub readonly_root: bool,
    pub process: ProcessSpec,
    /// Applies to the init; pass the same to [`exec`] for its processes.
    pub confinement: Confinement,
    /// `--init`: PID 1 is the built-in init ([`reaper`]), which forks the
    /// command, forwards signals to it and reaps every zombie.
    #[serde(default)]
    pub init: bool,
}

/// The process's standard streams.
pub enum Stdio {
    /// These descriptors become its stdin, stdout and stderr (the process
    /// spec's `tty` must be false).
    Fds {
        stdin: OwnedFd,
        stdout: OwnedFd,
        stderr: OwnedFd,
    },
    /// A pseudo-terminal the process makes inside the container (the spec's
    /// `tty` must be true); its master comes from
    /// [`Running::take_pty_master`].
    Terminal,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The process could not be started; the message is Docker's (`exec:
    /// "x": executable file not found in $PATH`, `unable to find user …`).
    #[error("{message}")]
    Start { message: String, code: Option<i32> },
    #[error("starting the container helper {}: {source}", helper.display())]
    Helper { helper: PathBuf, source: io::Error },
    #[error("container helper: {0}")]
    Protocol(String),
    #[error("{what}: {source}")]
    Io { what: String, source: io::Error },
    #[error("invalid signal {0}")]
    InvalidSignal(i32),
    #[error("no such process: {0}")]
    NoSuchProcess(u32),
    #[error("encoding the container spec: {0}")]
    Json(#[from] serde_json::Error),
    /// The arguments do not fit together (a TTY process without
    /// [`Stdio::Terminal`], or the other way round).
    #[error("{0}")]
    Usage(&'static str),
    /// The container's network could not be set up.
    #[error("{0}")]
    Network(#[from] network::Error),
}

impl Error {
    /// Docker's exit code for a failed start: 127 when the command was not
    /// found, 126 when it cannot be executed; `None` otherwise.
    pub fn exit_code(&self) -> Option<i32> {
        match self {
            Error::Start { code: Some(c), .. } if *c == 126 || *c == 127 => Some(*c),
            _ => None,
        }
    }

    fn io(what: impl Into<String>) -> impl FnOnce(io::Error) -> Error {
        let what = what.into();
        move |source| Error::Io { what, source }
    }
}

/// What the shim is asked to do. (One is made per process start and
/// sent as JSON: the variants' sizes do not matter.)
#[derive(Debug, Serialize, Deserialize)]
#[allow(clippy::large_enum_variant)]
enum ShimSpec {
    Start {
        spec: ContainerSpec,
        rootless: bool,
    },
    Exec {
        target_pid: u32,
        process: ProcessSpec,
        confinement: Confinement,
    },
    /// A shim started ahead of its container ([`spare`]): its child waits
    /// in `cgroups` for a [`ShimSpec::Start`] over the socket.
    Spare {
        cgroups: Vec<PathBuf>,
    },
}

/// Docker's exit code for a finished process.
fn docker_code(status: ExitStatus) -> i32 {
    match (status.code(), status.signal()) {
        (Some(code), _) => code,
        (None, Some(sig)) => 128 + sig,
        (None, None) => 255,
    }
}

/// Sends a signal to a process through a pidfd, so a recycled pid is never
/// hit. Cheap to keep next to a [`Running`] that is being waited for.
#[derive(Debug)]
pub struct Signaller {
    pidfd: Option<OwnedFd>,
}

impl Signaller {
    /// Sends `sig`; a process that is already gone is not an error.
    pub fn signal(&self, sig: i32) -> Result<(), Error> {
        let signal = crate::sys::signal_from_raw(sig).ok_or(Error::InvalidSignal(sig))?;
        let Some(pidfd) = &self.pidfd else { return Ok(()) };
        match rustix::process::pidfd_send_signal(pidfd, signal) {
            Ok(()) | Err(rustix::io::Errno::SRCH) => Ok(()),
            Err(e) => Err(Error::Io {
                what: format!("sending signal {sig}"),
                source: e.into(),
            }),
        }
    }
}

/// A started container (or exec'd process). Share it (`Arc`) to signal it
/// from one thread while another waits. Dropping it kills the process (the
/// shim sees its socket close).
#[derive(Debug)]
pub struct Running {
    pid: u32,
    shim: Mutex<Child>,
    signaller: Signaller,
    /// The master of a TTY process's terminal, until taken.
    pty_master: Mutex<Option<OwnedFd>>,
    /// The container's pasta (a `bridge` network), ended with the process.
    pasta: Mutex<Option<network::Pasta>>,
    /// Held until the process is waited for: its closing kills the process.
    _lifeline: UnixStream,
}

impl Running {
    /// Host pid of the process (the container's PID 1, or the exec'd one).
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The master of the terminal a TTY process made inside the container
    /// (close-on-exec), once: later calls, and a process without a
    /// terminal, give `None`. The caller reads the process's output from it,
    /// writes its input to it, and resizes it ([`resize_pty`]); the kernel
    /// keeps the output until it is read.
    pub fn take_pty_master(&self) -> Option<OwnedFd> {
        self.pty_master.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    /// Sends `sig` to the process; already gone is `Ok`.
    pub fn signal(&self, sig: i32) -> Result<(), Error> {
        self.signaller.signal(sig)
    }

    /// A second handle that can signal the process while another thread is
    /// blocked in [`Running::wait`].
    pub fn signaller(&self) -> Result<Signaller, Error> {
        let pidfd = match &self.signaller.pidfd {
            Some(fd) => Some(fd.try_clone().map_err(Error::io("duplicating a pidfd"))?),
            None => None,
        };
        Ok(Signaller { pidfd })
    }

    /// Makes `pasta` the process's (a [`network::SpareNetwork`]'s, whose
    /// namespace it joined), ended with it.
    pub fn keep_pasta(&self, pasta: network::Pasta) {
        *self.pasta.lock().unwrap_or_else(|p| p.into_inner()) = Some(pasta);
    }

    /// Blocks until the process ends; Docker's exit code (128+N for signal
    /// N). Takes `&self` so that an `Arc<Running>` can be waited for in one
    /// thread and signalled from others; waiting again gives the same code.
    pub fn wait(&self) -> Result<i32, Error> {
        let mut shim = self
            .shim
            .lock()
            .map_err(|_| Error::Protocol("a waiter panicked".into()))?;
        let status = shim.wait().map_err(Error::io("waiting for the container"))?;
        // The network goes with its last process.
        drop(self.pasta.lock().unwrap_or_else(|p| p.into_inner()).take());
        Ok(docker_code(status))
    }
}

/// Starts a container: returns once its command has been exec'd, or with
/// the reason it could not be. Blocking. `helper` is the stratad binary
/// (whose `main` calls [`dispatch_helper`] first). A TTY process (spec
/// `tty`) takes [`Stdio::Terminal`], any other [`Stdio::Fds`].
pub fn start(helper: &Path, spec: &ContainerSpec, stdio: Stdio) -> Result<Running, Error> {
    if spec.process.args.is_empty() {
        return Err(Error::Start {
            message: "no command specified".into(),
            code: None,
        });
    }
    let rootless = !crate::sys::is_root();
    let shim = ShimSpec::Start {
        spec: spec.clone(),
        rootless,
    };
    launch(helper, &shim, spec.process.tty, stdio)
}

/// Runs another process in the running container whose PID 1 has host pid
/// `target_pid`, joining all its namespaces, confined as `confinement`
/// says (the container's own). Blocking, like [`start`].
pub fn exec(
    helper: &Path,
    target_pid: u32,
    process: &ProcessSpec,
    confinement: &Confinement,
    stdio: Stdio,
) -> Result<Running, Error> {
    if process.args.is_empty() {
        return Err(Error::Start {
            message: "no command specified".into(),
            code: None,
        });
    }
    let shim = ShimSpec::Exec {
        target_pid,
        process: process.clone(),
        confinement: confinement.clone(),
    };
    launch(helper, &shim, process.tty, stdio)
}

fn launch(helper: &Path, spec: &ShimSpec, tty: bool, stdio: Stdio) -> Result<Running, Error> {
    use std::process::Stdio as Std;
    let (stdin, stdout, stderr) = match (stdio, tty) {
        (Stdio::Fds { stdin, stdout, stderr }, false) => (Std::from(stdin), Std::from(stdout), Std::from(stderr)),
        // The init replaces them with the terminal's slave.
        (Stdio::Terminal, true) => (Std::null(), Std::null(), Std::null()),
        (Stdio::Fds { .. }, true) => return Err(Error::Usage("a TTY process takes Stdio::Terminal")),
        (Stdio::Terminal, false) => return Err(Error::Usage("Stdio::Terminal is for a TTY process")),
    };
    let (shim, ours) = spawn_shim(helper, spec, (stdin, stdout, stderr))?;
    let bridge = match spec {
        ShimSpec::Start {
            spec: ContainerSpec {
                network: NetworkMode::Bridge(b),
                ..
            },
            rootless,
        } => Some((b, *rootless)),
        _ => None,
    };
    attend(shim, ours, bridge, tty)
}

/// Starts the shim for `spec` with these standard streams; the shim and
/// our end of its socket.
fn spawn_shim(
    helper: &Path,
    spec: &ShimSpec,
    (stdin, stdout, stderr): (std::process::Stdio, std::process::Stdio, std::process::Stdio),
) -> Result<(Child, UnixStream), Error> {
    let json = serde_json::to_string(spec)?;
    let (ours, theirs) = UnixStream::pair().map_err(Error::io("creating the helper's socket"))?;
    // Above the standard streams, which the child's stdio set-up overwrites.
    let theirs: OwnedFd = rustix::io::fcntl_dupfd_cloexec(&theirs, 3)
        .map_err(|e| Error::io("duplicating the helper's socket")(e.into()))?;
    let mut cmd = Command::new(helper);
    cmd.arg(SHIM_ARG)
        .env_clear()
        .env(ENV_SPEC, json)
        .env(ENV_FD, theirs.as_raw_fd().to_string())
        .stdin(stdin)
        .stdout(stdout)
        .stderr(stderr);
    let shim = crate::sys::spawn_keeping_fds(cmd, &[theirs.as_fd()]).map_err(|source| Error::Helper {
        helper: helper.to_path_buf(),
        source,
    })?;
    Ok((shim, ours))
}

/// The daemon's side of a start once its shim runs: the handshake (the
/// network of a `bridge` container set up between the init's "pid" and
/// our acknowledgement), and the running process; the shim killed on a
/// failure.
fn attend(
    mut shim: Child,
    ours: UnixStream,
    bridge: Option<(&network::Bridge, bool)>,
    tty: bool,
) -> Result<Running, Error> {
    // The network is configured before the init may run anything.
    let before_ack = |pid: u32| -> Result<Option<network::Pasta>, Error> {
        match bridge {
            Some((b, rootless)) => {
                // A spare's namespace has its pasta already.
                let pasta = if b.internal || b.netns.is_some() {
                    None
                } else {
                    Some(network::Pasta::start(b, pid, rootless)?)
                };
                // A failure drops pasta; the init is killed, and the
                // pairs made go with its namespace.
                for link in &b.links {
                    let began = std::time::Instant::now();
                    bridge::attach(pid, link).map_err(network::Error::from)?;
                    tracing::debug!(
                        "linked {} of {pid} to {} in {:?}",
                        link.ifname,
                        link.netns.display(),
                        began.elapsed()
                    );
                }
                Ok(pasta)
            }
            None => Ok(None),
        }
    };
    let outcome = handshake(&ours, before_ack).and_then(|(pid, pidfd, master, pasta)| match (master, tty) {
        (master @ Some(_), true) | (master @ None, false) => Ok((pid, pidfd, master, pasta)),
        (Some(_), false) => Err(Error::Protocol("a terminal came for a process without one".into())),
        (None, true) => Err(Error::Protocol("the container's terminal did not come".into())),
    });
    match outcome {
        Ok((pid, pidfd, pty_master, pasta)) => Ok(Running {
            pid,
            shim: Mutex::new(shim),
            signaller: Signaller { pidfd },
            pty_master: Mutex::new(pty_master),
            pasta: Mutex::new(pasta),
            _lifeline: ours,
        }),
        Err(e) => {
            let _ = shim.kill();
            let status = shim.wait();
            match e {
                Error::Protocol(m) => Err(Error::Protocol(match status {
                    Ok(s) => format!("{m} (helper {s})"),
                    Err(_) => m,
                })),
                e => Err(e),
            }
        }
    }
}

/// The shim's messages, read with `recvmsg` so that a descriptor sent with
/// one (the terminal's master, with "ok") is kept.
struct Messages<'a> {
    sock: &'a UnixStream,
    buf: Vec<u8>,
    fds: Vec<OwnedFd>,
}

impl<'a> Messages<'a> {
    fn new(sock: &'a UnixStream) -> Messages<'a> {
        Messages {
            sock,
            buf: Vec::new(),
            fds: Vec::new(),
        }
    }

    /// The next message (see [`parse_message`]).
    fn next(&mut self) -> Result<String, Error> {
        loop {
            if let Some(end) = self.buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=end).collect();
                return parse_message(&String::from_utf8_lossy(&line));
            }
            let mut chunk = [0u8; 4096];
            let n = crate::sys::recv_with_fds(self.sock, &mut chunk, &mut self.fds)
                .map_err(Error::io("reading from the container helper"))?;
            if n == 0 {
                let rest = String::from_utf8_lossy(&std::mem::take(&mut self.buf)).into_owned();
                return parse_message(&rest);
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

/// One line from the shim: "pid N", "ok" or "err CODE MESSAGE"; an empty
/// one is the shim's end.
fn parse_message(line: &str) -> Result<String, Error> {
    if line.is_empty() {
        return Err(Error::Protocol("the helper exited before the container started".into()));
    }
    let line = line.trim_end_matches('\n').to_string();
    if let Some(rest) = line.strip_prefix("err ") {
        let (code, message) = rest.split_once(' ').unwrap_or((rest, ""));
        return Err(Error::Start {
            message: message.to_string(),
            code: code.parse().ok(),
        });
    }
    Ok(line)
}

/// What the handshake gives: the init's host pid, a pidfd on it, the
/// master of its terminal, and its pasta.
type Handshake = (u32, Option<OwnedFd>, Option<OwnedFd>, Option<network::Pasta>);

/// The handshake with the shim; `before_ack` runs between its "pid" and
/// our acknowledgement, while the init cannot run anything of the image.
fn handshake(
    sock: &UnixStream,
    before_ack: impl FnOnce(u32) -> Result<Option<network::Pasta>, Error>,
) -> Result<Handshake, Error> {
    let mut messages = Messages::new(sock);
    let line = messages.next()?;
    let pid: u32 = line
        .strip_prefix("pid ")
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| Error::Protocol(format!("unexpected message {line:?}")))?;
    // The shim does not reap the init before our acknowledgement, so the pid
    // still names it (at worst as a zombie).
    let pidfd = rustix::process::Pid::from_raw(pid as i32)
        .and_then(|p| rustix::process::pidfd_open(p, rustix::process::PidfdFlags::empty()).ok());
    // On an error the shim sees no acknowledgement (our end closes) and
    // kills the init; a started pasta is dropped, so ended, with it.
    let pasta = match before_ack(pid) {
        Ok(pasta) => pasta,
        Err(e) => {
            // An init that failed before its network could be set up (a
            // user not found): its own error is the one to report, and
            // the shim sends it after our acknowledgement. An exiting
            // init lets go of its namespaces before its pidfd says it
            // has exited, so a set-up that failed on the namespace's
            // absence waits (bounded) for that exit.
            let dying = |fd: &OwnedFd| exited(fd) || (namespaces_gone(pid) && network::wait_pidfd(fd, DYING_INIT));
            if pidfd.as_ref().is_none_or(dying) {
                let _ = (&*sock).write_all(b"a");
                if let Err(reported @ Error::Start { .. }) = messages.next() {
                    return Err(reported);
                }
            }
            return Err(e);
        }
    };
    (&*sock)
        .write_all(b"a")
        .map_err(Error::io("writing to the container helper"))?;
    let line = messages.next()?;
    if line != "ok" {
        return Err(Error::Protocol(format!("unexpected message {line:?}")));
    }
    // Only "ok" may carry a descriptor: the terminal's master.
    let mut fds = std::mem::take(&mut messages.fds);
    if fds.len() > 1 {
        return Err(Error::Protocol(format!("{} descriptors from the helper", fds.len())));
    }
    Ok((pid, pidfd, fds.pop(), pasta))
}

/// How long an init whose namespaces are gone is given to show its exit.
const DYING_INIT: Duration = Duration::from_secs(2);

/// Whether the process of a pidfd has ended (a zombie included).
fn exited(pidfd: &OwnedFd) -> bool {
    network::wait_pidfd(pidfd, Duration::ZERO)
}

/// Whether process `pid` has let go of its namespaces: it is exiting.
fn namespaces_gone(pid: u32) -> bool {
    std::fs::read_link(format!("/proc/{pid}/ns/net")).is_err()
}

/// A new pseudo-terminal pair on the host's devpts: (master, slave), both
/// close-on-exec and `O_NOCTTY`. Containers do not use it (their terminal
/// is made inside, see [`Stdio::Terminal`]).
pub fn open_pty() -> Result<(OwnedFd, OwnedFd), Error> {
    use rustix::pty::OpenptFlags;
    let flags = OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC;
    let err = |what: &'static str| {
        move |e: rustix::io::Errno| Error::Io {
            what: what.into(),
            source: e.into(),
        }
    };
    let master = rustix::pty::openpt(flags).map_err(err("opening /dev/ptmx"))?;
    rustix::pty::grantpt(&master).map_err(err("grantpt"))?;
    rustix::pty::unlockpt(&master).map_err(err("unlockpt"))?;
    let slave = rustix::pty::ioctl_tiocgptpeer(&master, flags).map_err(err("opening the pty slave"))?;
    Ok((master, slave))
}

/// Sets the window size of a pty (through its master).
pub fn resize_pty(master: BorrowedFd<'_>, rows: u16, cols: u16) -> Result<(), Error> {
    let size = rustix::termios::Winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    rustix::termios::tcsetwinsize(master, size).map_err(|e| Error::Io {
        what: "resizing the pty".into(),
        source: e.into(),
    })
}

/// If this process was started as one of the runner's helpers (argv\[1\] is
/// a hidden subcommand), runs it and exits; otherwise returns at once.
/// stratad's `main` calls it first: the helpers must be single-threaded.
pub fn dispatch_helper() {
    let Some(arg) = std::env::args_os().nth(1) else {
        return;
    };
    if arg == SHIM_ARG {
        helper::shim_main()
    }
    if arg == holder::HOLD_ARG {
        holder::hold_main()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes() {
        let e = Error::Start {
            message: "x".into(),
            code: Some(127),
        };
        assert_eq!(e.exit_code(), Some(127));
        let e = Error::Start {
            message: "x".into(),
            code: Some(1),
        };
        assert_eq!(e.exit_code(), None);
        assert_eq!(Error::Protocol("x".into()).exit_code(), None);
        assert_eq!(docker_code(ExitStatus::from_raw(3 << 8)), 3);
        assert_eq!(docker_code(ExitStatus::from_raw(9)), 137);
    }

    #[test]
    fn messages_parse() {
        let (a, b) = UnixStream::pair().unwrap();
        let (r, _w) = io::pipe().unwrap();
        (&a).write_all(b"pid 42\n").unwrap();
        crate::sys::send_with_fds(
            &a,
            b"ok\nerr 127 exec: \"x\": executable file not found in $PATH\n",
            &[r.as_fd()],
        )
        .unwrap();
        drop(a);
        let mut m = Messages::new(&b);
        assert_eq!(m.next().unwrap(), "pid 42");
        assert_eq!(m.next().unwrap(), "ok");
        assert_eq!(m.fds.len(), 1);
        match m.next().unwrap_err() {
            Error::Start { message, code } => {
                assert_eq!(code, Some(127));
                assert_eq!(message, "exec: \"x\": executable file not found in $PATH");
            }
            e => panic!("{e}"),
        }
        assert!(matches!(m.next(), Err(Error::Protocol(_))));
        assert!(matches!(parse_message("ok"), Ok(s) if s == "ok"));
    }

    #[test]
    fn pty_pair_and_resize() {
        let (master, slave) = open_pty().unwrap();
        resize_pty(master.as_fd(), 40, 100).unwrap();
        let size = rustix::termios::tcgetwinsize(&slave).unwrap();
        assert_eq!((size.ws_row, size.ws_col), (40, 100));
        assert!(rustix::termios::isatty(&slave));
    }

    /// The assumption the handshake's report of an init's own error rests
    /// on: a process that has exited (unreaped) has no namespaces, and
    /// its pidfd shows the exit; a live one has both.
    #[test]
    fn a_dead_unreaped_child_has_no_namespaces_and_its_pidfd_says_so() {
        let pidfd_of = |child: &Child| {
            let pid = rustix::process::Pid::from_raw(child.id() as i32).unwrap();
            rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty()).unwrap()
        };
        let mut live = Command::new("sleep").arg("10").spawn().unwrap();
        let fd = pidfd_of(&live);
        assert!(!namespaces_gone(live.id()));
        assert!(!network::wait_pidfd(&fd, Duration::from_millis(30)));
        live.kill().unwrap();
        live.wait().unwrap();

        let mut quick = Command::new("true").spawn().unwrap();
        let fd = pidfd_of(&quick);
        assert!(network::wait_pidfd(&fd, Duration::from_secs(10)));
        assert!(namespaces_gone(quick.id()), "a zombie's namespaces are gone");
        assert!(exited(&fd));
        quick.wait().unwrap();
    }
}

//! The helper processes: the shim (makes or joins the namespaces, forks
//! the init, relays its outcome, waits) and the init, the shim's forked
//! child (mounts, pivot, user, capabilities, exec). The shim runs
//! single-threaded, started by [`super::dispatch_helper`] before anything
//! else in `main`; so its fork may go on running Rust code.

use super::linux::LinuxSyscalls;
use super::lookup::{Failure, errno_text, exec_error_code, look_path};
use super::{ENV_FD, ENV_SPEC, ProcessSpec, ShimSpec, docker_code, plan, user};
use crate::run::{Confinement, ContainerSpec, NetworkMode, Privileges, cgroup, rlimits};
use crate::sys::signals::Forked;
use rustix::fs::{Mode, OFlags};
use rustix::process::{Pid, Signal};
use rustix::thread::{CapabilitySet, CapabilitySets, LinkNameSpaceType, UnshareFlags};
use serde::Deserialize;
use std::io::{Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

/// What the init is asked to do. (One per start, moved into the forked
/// init: the variants' sizes do not matter.)
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub(super) enum InitSpec {
    Start {
        spec: ContainerSpec,
        rootless: bool,
    },
    /// Join these namespaces (kind, inherited descriptor), then run.
    Exec {
        process: ProcessSpec,
        namespaces: Vec<(String, OwnedFd)>,
        confinement: Confinement,
    },
}

fn fail(what: &str) -> impl FnOnce(std::io::Error) -> Failure + '_ {
    move |e| Failure::new(1, format!("{what}: {}", errno_text(&e)))
}

fn fail_errno(what: &str) -> impl FnOnce(rustix::io::Errno) -> Failure + '_ {
    move |e| Failure::new(1, format!("{what}: {}", errno_text(&e.into())))
}

fn env_fd() -> Result<OwnedFd, Failure> {
    let raw: i32 = std::env::var(ENV_FD).ok().and_then(|v| v.parse().ok()).ok_or_else(|| {
        Failure::new(
            1,
            format!("{ENV_FD} is not set: this entry point is internal to stratad"),
        )
    })?;
    crate::sys::take_inherited_fd(raw).map_err(fail("the inherited descriptor"))
}

fn env_spec<T: for<'de> Deserialize<'de>>() -> Result<T, Failure> {
    let json = std::env::var(ENV_SPEC).map_err(|_| Failure::new(1, format!("{ENV_SPEC} is not set")))?;
    serde_json::from_str(&json).map_err(|e| Failure::new(1, format!("decoding the spec: {e}")))
}

pub(super) fn send(sock: &UnixStream, line: &str) -> std::io::Result<()> {
    let line = line.replace('\n', " ");
    (&*sock).write_all(format!("{line}\n").as_bytes())
}

// ---------------------------------------------------------------- the shim

pub fn shim_main() -> ! {
    let inherited = env_fd();
    let _ = crate::sys::cloexec_from(3);
    let sock = match inherited {
        Ok(fd) => UnixStream::from(fd),
        Err(f) => {
            eprintln!("strata shim: {}", f.message);
            std::process::exit(1)
        }
    };
    let code = match shim(&sock) {
        Ok(code) => code,
        Err(f) => {
            let _ = send(&sock, &format!("err {} {}", f.code, f.message));
            f.code
        }
    };
    std::process::exit(code)
}

fn write_id_maps(uid: u32, gid: u32) -> Result<(), Failure> {
    std::fs::write("/proc/self/uid_map", format!("0 {uid} 1\n")).map_err(fail("writing uid_map"))?;
    std::fs::write("/proc/self/setgroups", "deny").map_err(fail("writing setgroups"))?;
    std::fs::write("/proc/self/gid_map", format!("0 {gid} 1\n")).map_err(fail("writing gid_map"))?;
    Ok(())
}

const NAMESPACES: &[(&str, LinkNameSpaceType)] = &[
    ("user", LinkNameSpaceType::User),
    ("mnt", LinkNameSpaceType::Mount),
    ("uts", LinkNameSpaceType::HostNameAndNISDomainName),
    ("ipc", LinkNameSpaceType::InterProcessCommunication),
    ("net", LinkNameSpaceType::Network),
    ("pid", LinkNameSpaceType::ProcessID),
];

fn ns_type(kind: &str) -> Option<LinkNameSpaceType> {
    NAMESPACES.iter().find(|(k, _)| *k == kind).map(|(_, t)| *t)
}

/// The namespaces of `pid` that differ from ours, opened.
fn open_namespaces(pid: u32) -> Result<Vec<(String, OwnedFd)>, Failure> {
    let mut out = Vec::new();
    for (kind, _) in NAMESPACES {
        let path = format!("/proc/{pid}/ns/{kind}");
        let fd = rustix::fs::open(&path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()).map_err(|e| {
            if e == rustix::io::Errno::NOENT || e == rustix::io::Errno::SRCH {
                Failure::new(1, format!("container process {pid} is not running"))
            } else {
                fail_errno(&path)(e)
            }
        })?;
        let theirs = rustix::fs::fstat(&fd).map_err(fail_errno(&path))?;
        let ours = std::fs::metadata(format!("/proc/self/ns/{kind}")).map_err(fail("reading our namespaces"))?;
        if (theirs.st_dev, theirs.st_ino) != (ours.dev(), ours.ino()) {
            out.push((kind.to_string(), fd));
        }
    }
    Ok(out)
}

fn setns(kind: &str, fd: BorrowedFd<'_>) -> Result<(), Failure> {
    let t = ns_type(kind).ok_or_else(|| Failure::new(1, format!("unknown namespace {kind}")))?;
    rustix::thread::move_into_link_name_space(fd, Some(t)).map_err(|e| {
        Failure::new(
            1,
            format!("joining the container's {kind} namespace: {}", errno_text(&e.into())),
        )
    })
}

/// A container's namespaces, made (or joined: another container's
/// network, the holder's user namespace of a rootless user network)
/// before its init is forked.
pub(super) fn start_namespaces(spec: &ContainerSpec, rootless: bool) -> Result<(), Failure> {
    let mut joined_user = false;
    if let NetworkMode::Container(pid) = spec.network {
        // The user namespace first: it grants the right to join
        // the network namespace it owns.
        let namespaces = open_namespaces(pid)?;
        for kind in ["user", "net"] {
            if let Some((_, fd)) = namespaces.iter().find(|(k, _)| k == kind) {
                setns(kind, fd.as_fd())?;
                joined_user |= kind == "user";
            }
        }
    }
    if let NetworkMode::Bridge(b) = &spec.network
        && let Some(userns) = &b.userns
    {
        let fd = rustix::fs::open(userns, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
            .map_err(fail_errno(&userns.display().to_string()))?;
        setns("user", fd.as_fd())?;
        joined_user = true;
    }
    // A spare's namespace, pasta already on it.
    let mut joined_net = false;
    if let NetworkMode::Bridge(b) = &spec.network
        && let Some(netns) = &b.netns
    {
        let fd = rustix::fs::open(netns, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
            .map_err(fail_errno(&netns.display().to_string()))?;
        setns("net", fd.as_fd())?;
        joined_net = true;
    }
    if rootless && !joined_user {
        let (uid, gid) = crate::sys::ids();
        crate::sys::unshare_namespaces(UnshareFlags::NEWUSER).map_err(fail("creating a user namespace"))?;
        write_id_maps(uid, gid)?;
    }
    let mut flags = UnshareFlags::NEWNS | UnshareFlags::NEWUTS | UnshareFlags::NEWIPC | UnshareFlags::NEWPID;
    if !joined_net && !matches!(spec.network, NetworkMode::Host | NetworkMode::Container(_)) {
        flags |= UnshareFlags::NEWNET;
    }
    crate::sys::unshare_namespaces(flags).map_err(fail("creating namespaces"))?;
    Ok(())
}

fn shim(sock: &UnixStream) -> Result<i32, Failure> {
    let spec: ShimSpec = env_spec()?;
    if let ShimSpec::Spare { cgroups } = spec {
        return super::spare::shim(sock, &cgroups);
    }
    let mut keep: Vec<(String, OwnedFd)> = Vec::new();
    let cgroups = match &spec {
        ShimSpec::Start { spec, .. } => &spec.confinement.cgroups,
        ShimSpec::Exec { confinement, .. } => &confinement.cgroups,
        ShimSpec::Spare { cgroups } => cgroups,
    };
    let cgroups = cgroup::Joiner::open(cgroups).map_err(fail("confining the container"))?;
    let init_spec = match spec {
        ShimSpec::Start { spec, rootless } => {
            start_namespaces(&spec, rootless)?;
            InitSpec::Start { spec, rootless }
        }
        ShimSpec::Spare { .. } => return Err(Failure::new(1, "a spare came as a start")),
        ShimSpec::Exec {
            target_pid,
            process,
            confinement,
        } => {
            for (kind, fd) in open_namespaces(target_pid)? {
                // The user namespace first (it grants the rights to join
                // the others); the pid namespace applies to our children.
                if kind == "user" || kind == "pid" {
                    setns(&kind, fd.as_fd())?;
                } else {
                    keep.push((kind, fd));
                }
            }
            if let Some(pos) = keep.iter().position(|(k, _)| k == "user") {
                keep.remove(pos);
            }
            let namespaces = std::mem::take(&mut keep);
            InitSpec::Exec {
                process,
                namespaces,
                confinement,
            }
        }
    };
    // A socket rather than a pipe: a TTY process's init sends its terminal's
    // master over it, and the shim sends it [`CONFINED`].
    let (reader, writer) = UnixStream::pair().map_err(fail("creating the sync socket"))?;
    // A fork without an exec: this process is single-threaded, so the
    // child may run the init's code straight away, which saves an exec and
    // a second start of this program on every container start.
    let pid = match crate::sys::signals::fork_single_threaded().map_err(fail("starting the container's init"))? {
        Forked::Child => {
            drop(reader);
            drop(cgroups);
            run_init(init_spec, writer)
        }
        Forked::Parent(pid) => pid as u32,
    };
    drop(writer);
    drop(init_spec);
    relay(sock, &cgroups, pid, &reader)
}

/// The shim's part once the init is forked (host pid `pid`, its end of
/// the sync socket `reader`): the init confined (`cgroups`, empty when
/// it was born in them), stratad told and acknowledging, the init's
/// outcome relayed, the container waited for; its exit code.
pub(super) fn relay(
    sock: &UnixStream,
    cgroups: &cgroup::Joiner,
    pid: u32,
    reader: &UnixStream,
) -> Result<i32, Failure> {
    let pidfd = Pid::from_raw(pid as i32)
        .and_then(|p| rustix::process::pidfd_open(p, rustix::process::PidfdFlags::empty()).ok());
    let kill = |pidfd: &Option<OwnedFd>| {
        if let Some(fd) = pidfd {
            let _ = rustix::process::pidfd_send_signal(fd, Signal::KILL);
        }
    };
    // Three things run side by side now: the init's set-up (mounts),
    // stratad's configuration of the network (between our "pid" and its
    // acknowledgement) and the init's move into its cgroups here (on
    // cgroup v1 an RCU grace period). The init waits for [`CONFINED`],
    // sent once all are done, before anything of the image can run.
    let sent = send(sock, &format!("pid {pid}")).is_ok();
    let joined = cgroups.join(pid);
    let acknowledged = sent && {
        let mut ack = [0u8; 1];
        matches!((&*sock).read(&mut ack), Ok(1))
    };
    if let Err(e) = joined {
        // stratad, acknowledged or gone, reads why next.
        kill(&pidfd);
        let _ = wait_for(pid);
        return Err(fail("confining the container")(e));
    }
    if !acknowledged {
        // stratad is gone, or could not set the container up: so goes the container.
        kill(&pidfd);
        let status = wait_for(pid).map_err(fail("waiting for the init"))?;
        return Ok(docker_code(status));
    }
    // An init that failed meanwhile has closed its end: its report,
    // read next, says why.
    let _ = (&*reader).write_all(&[CONFINED]);
    let (report, master) = read_report(reader);
    if let Some(failure) = init_failure(&report) {
        drop(master);
        let _ = wait_for(pid);
        return Err(failure);
    }
    match master {
        // Passed on, and closed here: only stratad holds it.
        Some(master) => {
            crate::sys::send_with_fds(sock, b"ok\n", &[master.as_fd()]).map_err(fail("writing to stratad"))?
        }
        None => send(sock, "ok").map_err(fail("writing to stratad"))?,
    }
    // No thread can be made after unsharing a PID namespace: one poll
    // watches both the container's end and stratad's (EOF: it is gone).
    if let Some(fd) = &pidfd {
        watch(sock, fd);
    }
    let status = wait_for(pid).map_err(fail("waiting for the container"))?;
    Ok(docker_code(status))
}

/// The init's report as a failure ("CODE\tMESSAGE"); `None` when it said
/// nothing (its exec happened).
fn init_failure(report: &str) -> Option<Failure> {
    if report.is_empty() {
        return None;
    }
    let (code, message) = report.split_once('\t').unwrap_or(("1", report));
    Some(Failure::new(code.parse().unwrap_or(1), message))
}

/// Waits for the child `pid` to end; its status.
pub(super) fn wait_for(pid: u32) -> std::io::Result<std::process::ExitStatus> {
    use std::os::unix::process::ExitStatusExt;
    let pid = Pid::from_raw(pid as i32).ok_or_else(|| std::io::Error::other("pid 0"))?;
    loop {
        match rustix::process::waitpid(Some(pid), rustix::process::WaitOptions::empty()) {
            Ok(Some((_, status))) => return Ok(std::process::ExitStatus::from_raw(status.as_raw())),
            Ok(None) | Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// What the init said before its exec (nothing: the exec happened; else
/// "CODE\tMESSAGE"), and the terminal's master it sent first (the byte
/// [`TERMINAL`] with the descriptor) when it made one.
fn read_report(sync: &UnixStream) -> (String, Option<OwnedFd>) {
    let mut data = Vec::new();
    let mut fds = Vec::new();
    let mut chunk = [0u8; 4096];
    while let Ok(n @ 1..) = crate::sys::recv_with_fds(sync, &mut chunk, &mut fds) {
        data.extend_from_slice(&chunk[..n]);
    }
    if !fds.is_empty() && data.first() == Some(&TERMINAL) {
        data.remove(0);
    }
    let master = if fds.len() == 1 { fds.pop() } else { None };
    (String::from_utf8_lossy(&data).into_owned(), master)
}

/// Returns when the process of `pidfd` has ended; kills it first if the
/// socket to stratad reaches EOF.
fn watch(sock: &UnixStream, pidfd: &OwnedFd) {
    use rustix::event::{PollFd, PollFlags};
    let mut killed = false;
    loop {
        let sock_events = if killed { PollFlags::empty() } else { PollFlags::IN };
        let mut fds = [PollFd::new(sock, sock_events), PollFd::new(pidfd, PollFlags::IN)];
        match rustix::event::poll(&mut fds, None) {
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => continue,
            Err(_) => return,
        }
        if !fds[1].revents().is_empty() {
            return;
        }
        if !killed && !fds[0].revents().is_empty() {
            let mut buf = [0u8; 64];
            if !matches!((&*sock).read(&mut buf), Ok(n) if n > 0) {
                let _ = rustix::process::pidfd_send_signal(pidfd, Signal::KILL);
                killed = true;
            }
        }
    }
}

// ---------------------------------------------------------------- the init

/// The init's life, in the shim's forked child: sets the container up
/// and execs its command (or, with `--init`, forks it and reaps). `sync` is
/// its end of the socket to the shim: a failure before the exec is written
/// there; EOF (the exec closed it) means the exec happened.
pub(super) fn run_init(spec: InitSpec, sync: UnixStream) -> ! {
    // Nothing of the shim's (its socket to stratad, the namespaces' and
    // cgroups' descriptors) reaches the container's command.
    let _ = crate::sys::cloexec_from(3);
    let failure = match init(spec, &sync) {
        Ok((ready, false)) => ready.exec(),
        // `--init`: this process stays PID 1; the child execs. The
        // parent closes its copy of the sync socket, so the child's
        // exec (or its report) alone ends the shim's read.
        Ok((ready, true)) => match super::reaper::fork(ready.tty) {
            Ok(None) => ready.exec(),
            Ok(Some(child)) => {
                drop(sync);
                super::reaper::reap_and_exit(child)
            }
            Err(e) => fail("starting the init's command")(e),
        },
        Err(f) => f,
    };
    let _ = write!(&sync, "{}\t{}", failure.code, failure.message);
    std::process::exit(failure.code)
}

/// The byte the shim sends its init once the init is in the container's
/// cgroups and stratad has acknowledged its pid (its network is
/// configured then, see [`super::network`]).
const CONFINED: u8 = b'c';

/// Returns once the shim has moved this process into the container's
/// cgroups (the device rules, the limits): before anything of the image
/// can run, and before this process forks (`--init`) or gives up its
/// privileges. The shim does the move, rather than this process, so that
/// the move's cost (on cgroup v1 an RCU grace period, milliseconds) runs
/// beside the mounts made here meanwhile instead of before them; the
/// setup until here is this program's alone (mounts, files of the image
/// read, never run).
fn wait_until_confined(sync: &UnixStream) -> Result<(), Failure> {
    let mut byte = [0u8; 1];
    loop {
        match (&*sync).read(&mut byte) {
            Ok(1) if byte[0] == CONFINED => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Ok(_) | Err(_) => return Err(Failure::new(1, "the shim ended before confining the container")),
        }
    }
}

/// The command, confined and ready for `execve`.
struct Ready {
    cmd: Command,
    program: std::path::PathBuf,
    tty: bool,
}

impl Ready {
    /// Execs the command: returns only on failure, with its reason.
    fn exec(mut self) -> Failure {
        // `exec` also restores the default SIGPIPE disposition, which
        // Rust's runtime changed.
        let err = self.cmd.exec();
        Failure::new(
            exec_error_code(&err),
            format!("exec {}: {}", self.program.display(), errno_text(&err)),
        )
    }
}

/// Sets the container up; the command ready to exec, and whether the
/// built-in init ([`super::reaper`]) runs it.
fn init(spec: InitSpec, sync: &UnixStream) -> Result<(Ready, bool), Failure> {
    rustix::process::umask(Mode::from_raw_mode(0o022));
    match spec {
        InitSpec::Start { spec, rootless } => {
            let steps = plan::plan(&spec, rootless);
            plan::execute(&mut LinuxSyscalls::new(), &steps).map_err(|m| Failure::new(1, m))?;
            Ok((finish(&spec.process, &spec.confinement, sync)?, spec.init))
        }
        InitSpec::Exec {
            process,
            namespaces,
            confinement,
        } => {
            for (kind, fd) in namespaces {
                setns(&kind, fd.as_fd())?;
            }
            Ok((finish(&process, &confinement, sync)?, false))
        }
    }
}

fn id_failure(what: &str, id: u32, e: rustix::io::Errno) -> Failure {
    let hint = if e == rustix::io::Errno::INVAL {
        " (not mapped in the container's user namespace)"
    } else {
        ""
    };
    Failure::new(1, format!("setting {what} {id}: {}{hint}", errno_text(&e.into())))
}

/// `mkdir -p` of the working directory; new directories belong to the user.
fn make_cwd(cwd: &str, uid: u32, gid: u32) -> Result<(), Failure> {
    let mut path = std::path::PathBuf::from("/");
    for part in Path::new(cwd).components().skip(1) {
        path.push(part);
        match std::fs::symlink_metadata(&path) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let what = format!("mkdir {}", path.display());
                match std::fs::create_dir(&path) {
                    Ok(()) => std::os::unix::fs::chown(&path, Some(uid), Some(gid)).map_err(fail(&what))?,
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                    Err(e) => return Err(fail(&what)(e)),
                }
            }
            Err(e) => return Err(fail(&format!("stat {}", path.display()))(e)),
        }
    }
    Ok(())
}

/// Removes from the bounding set every capability not in `keep`.
fn drop_bounding_set(keep: CapabilitySet) -> Result<(), Failure> {
    for bit in 0..64 {
        let cap = CapabilitySet::from_bits_retain(1 << bit);
        if keep.contains(cap) {
            continue;
        }
        match rustix::thread::remove_capability_from_bounding_set(cap) {
            Ok(()) => {}
            // Past the kernel's last capability.
            Err(rustix::io::Errno::INVAL) => break,
            Err(e) => return Err(fail_errno("dropping capabilities")(e)),
        }
    }
    Ok(())
}

/// The byte that carries the terminal's master from the init to the shim.
const TERMINAL: u8 = b'T';

/// A TTY process's terminal, made in the container's own devpts (this
/// process is in the container's mounts): `/dev/ptmx` is `pts/ptmx`, so the
/// slave is `/dev/pts/N` inside. The master, sized, goes to the shim over
/// `sync`; the slave, owned by the process's user (as runc does), becomes
/// stdin, stdout and stderr.
fn make_terminal(process: &ProcessSpec, uid: u32, sync: &UnixStream) -> Result<(), Failure> {
    use rustix::pty::OpenptFlags;
    let flags = OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC;
    let master = rustix::pty::openpt(flags).map_err(fail_errno("opening /dev/ptmx"))?;
    rustix::pty::unlockpt(&master).map_err(fail_errno("unlocking the pty"))?;
    // Opened through the master: the peer of this very master, named after
    // the devpts mount the master was opened on.
    let slave = rustix::pty::ioctl_tiocgptpeer(&master, flags).map_err(fail_errno("opening the pty slave"))?;
    if let Some((rows, cols)) = process.console_size {
        let size = rustix::termios::Winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        rustix::termios::tcsetwinsize(&master, size).map_err(fail_errno("sizing the pty"))?;
    }
    // Best effort: in a user namespace the user may not be mapped (and the
    // switch to it fails clearly later).
    let _ = rustix::fs::fchown(&slave, Some(rustix::process::Uid::from_raw(uid)), None);
    crate::sys::send_with_fds(sync, &[TERMINAL], &[master.as_fd()]).map_err(fail("sending the pty"))?;
    drop(master);
    rustix::stdio::dup2_stdin(&slave).map_err(fail_errno("dup2 of the pty"))?;
    rustix::stdio::dup2_stdout(&slave).map_err(fail_errno("dup2 of the pty"))?;
    rustix::stdio::dup2_stderr(&slave).map_err(fail_errno("dup2 of the pty"))?;
    Ok(())
}

/// The process's identity: the bounding set (the container's set), the
/// groups (the user's, then `--group-add`'s), the ids, and the
/// capabilities (the container's set for root, none for another user,
/// whose set-uid programs can gain no more than the bounding set, as in
/// Docker). Inheritable stays empty, as Docker's since CVE-2022-24769.
fn become_user(user: &user::ExecUser, extra_groups: &[u32], caps: CapabilitySet) -> Result<(), Failure> {
    drop_bounding_set(caps)?;
    // A user namespace with one mapped id refuses setgroups (`deny`).
    let setgroups_allowed = std::fs::read_to_string("/proc/self/setgroups").map_or(true, |s| s.trim() != "deny");
    if setgroups_allowed {
        // The primary group first, as containerd sets them for Docker.
        let mut groups = vec![rustix::process::Gid::from_raw(user.gid)];
        for &g in user.sgids.iter().chain(extra_groups) {
            let g = rustix::process::Gid::from_raw(g);
            if !groups.contains(&g) {
                groups.push(g);
            }
        }
        rustix::thread::set_thread_groups(&groups).map_err(fail_errno("setgroups"))?;
    }
    let gid = rustix::process::Gid::from_raw(user.gid);
    rustix::thread::set_thread_res_gid(gid, gid, gid).map_err(|e| id_failure("gid", user.gid, e))?;
    let uid = rustix::process::Uid::from_raw(user.uid);
    rustix::thread::set_thread_res_uid(uid, uid, uid).map_err(|e| id_failure("uid", user.uid, e))?;
    // Root keeps the container's set; any other user gets none (the uid
    // change cleared them already; this makes inheritable empty too).
    let caps = if user.uid == 0 { caps } else { CapabilitySet::empty() };
    rustix::thread::set_capabilities(
        None,
        CapabilitySets {
            effective: caps,
            permitted: caps,
            inheritable: CapabilitySet::empty(),
        },
    )
    .map_err(fail_errno("setting capabilities"))?;
    Ok(())
}

/// Before the identity changes (either may need root's capabilities):
/// `--oom-score-adj` and `--ulimit`.
fn apply_limits(privileges: &Privileges) -> Result<(), Failure> {
    if let Some(adj) = privileges.oom_score_adj {
        std::fs::write("/proc/self/oom_score_adj", adj.to_string()).map_err(fail("writing oom_score_adj"))?;
    }
    rlimits::apply(&privileges.rlimits).map_err(|m| Failure::new(1, m))
}

/// After the namespaces and mounts: the user, the environment, the working
/// directory, the terminal, the limits, the capabilities, `no_new_privs`
/// when asked, the seccomp filter; the exec is the caller's (the
/// reaper's child's with `--init`).
///
/// The filter goes in last when `no_new_privs` is set; without it the
/// kernel lets only a holder of `CAP_SYS_ADMIN` install one, so it goes in
/// before the capabilities are dropped (as runc does), and the few calls
/// left before `execve` (setgroups, setres[ug]id, capset, chdir, prctl,
/// and the reaper's fork, signal mask and wait) are ones Docker's profile
/// allows.
fn finish(process: &ProcessSpec, confinement: &Confinement, sync: &UnixStream) -> Result<Ready, Failure> {
    let Some(arg0) = process.args.first() else {
        return Err(Failure::new(1, "no command specified"));
    };
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let group = std::fs::read_to_string("/etc/group").unwrap_or_default();
    let user = user::resolve(&process.user, &passwd, &group).map_err(|m| Failure::new(1, m))?;
    let env = user::final_env(&process.env, &user.home);
    let cwd = if process.cwd.is_empty() {
        "/"
    } else {
        process.cwd.as_str()
    };
    if !cwd.starts_with('/') {
        return Err(Failure::new(
            1,
            format!("the working directory {cwd:?} is not absolute"),
        ));
    }
    make_cwd(cwd, user.uid, user.gid)?;

    if process.tty {
        make_terminal(process, user.uid, sync)?;
    }
    rustix::process::setsid().map_err(fail_errno("setsid"))?;
    if process.tty {
        rustix::process::ioctl_tiocsctty(std::io::stdin()).map_err(fail_errno("setting the controlling terminal"))?;
    }

    wait_until_confined(sync)?;
    let privileges = &confinement.privileges;
    let extra_groups = user::additional_groups(&privileges.group_add, &group).map_err(|m| Failure::new(1, m))?;
    apply_limits(privileges)?;
    if !privileges.no_new_privs
        && let Some(program) = &confinement.seccomp
    {
        program.install().map_err(fail("installing the seccomp filter"))?;
    }
    become_user(&user, &extra_groups, privileges.capabilities())?;

    if let Err(e) = rustix::process::chdir(cwd) {
        return Err(Failure::new(
            1,
            format!(
                "chdir to cwd ({cwd:?}) set in config.json failed: {}",
                errno_text(&e.into())
            ),
        ));
    }
    let path_env = user::env_value(&env, "PATH").unwrap_or("");
    let program = look_path(arg0, path_env)?;
    if privileges.no_new_privs {
        rustix::thread::set_no_new_privs(true).map_err(fail_errno("no_new_privs"))?;
    }
    // Set after the uid change, which clears it.
    let _ = rustix::process::set_parent_process_death_signal(Some(Signal::KILL));
    let mut cmd = Command::new(&program);
    cmd.arg0(arg0).args(&process.args[1..]).env_clear();
    // An entry without `=` unsets its variable (Docker's `-e VAR` with VAR
    // unset): the engine drops them, and none becomes `VAR=` here.
    for (k, v) in env.iter().filter_map(|var| var.split_once('=')) {
        cmd.env(k, v);
    }
    // Last: from here the filter judges every call, `execve` included
    // (the profile allows it, and what `exec` does before it: signal
    // dispositions and mask).
    if privileges.no_new_privs
        && let Some(program) = &confinement.seccomp
    {
        program.install().map_err(fail("installing the seccomp filter"))?;
    }
    Ok(Ready {
        cmd,
        program,
        tty: process.tty,
    })
}

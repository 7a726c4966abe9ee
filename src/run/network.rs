//! A container's own network, configured by pasta (Debian's `passt`).
//!
//! A `bridge` container's init is made in a new network namespace. Between
//! the shim's "pid" message and the daemon's acknowledgement (so before
//! anything of the image runs) [`Pasta::start`] runs pasta on that
//! namespace: it gives it `eth0` with the host's address and default
//! route, `lo` up, outbound TCP/UDP through the host's sockets, and the
//! published ports ([`PortMap`]) as listeners on the host. pasta's
//! launcher exits once the namespace is configured and pasta has
//! daemonised (its pid in `--pid FILE`): that exit is the readiness.
//!
//! As root, pasta drops its capabilities, so it cannot join a root
//! process's namespace by pid (the ptrace-mode check fails): the
//! namespace is bound onto a file named by the container's ID under
//! `/run/strata/netns` and pasta is given that file (and keeps root: as `nobody` it cannot enter
//! it). Rootless, the init's user namespace is the daemon user's own,
//! and pasta joins the init's user and network namespaces by pid.
//!
//! `-T none -U none` and `--no-map-gw`: nothing of the host's loopback is
//! reachable from inside (no port forwarded back, the gateway address is
//! not the host).
//!
//! A [`Pasta`] ends pasta (SIGTERM, then SIGKILL after a grace period,
//! waiting for it to be gone) and unbinds the namespace file when it is
//! stopped or dropped, so every failure path after its start cleans up.
//! After a SIGKILL of the daemon [`cleanup`] does the same from the files.

use serde::{Deserialize, Serialize};
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Where a root daemon binds containers' namespaces, one file per
/// container ID: outside the store, whose tree holds only the store's own
/// files (a walk of it never meets a foreign mount).
const NETNS_DIR: &str = "/run/strata/netns";
/// pasta's `--pid` file.
const PID_FILE: &str = "pasta.pid";
/// How long pasta gets to configure the namespace.
const START_LIMIT: Duration = Duration::from_secs(10);
/// How long pasta gets to end after SIGTERM before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(2);

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Protocol {
    Tcp,
    Udp,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        }
    }
}

/// One published port: the host's `host_ip:host_port` forwarded to the
/// container's `container_port`. The port is concrete (a random one was
/// chosen by the caller); `host_ip` is an address, or empty for all of both families.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct PortMap {
    pub host_ip: String,
    pub host_port: u16,
    pub container_port: u16,
    pub proto: Protocol,
}

/// The `bridge` network of a container.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Bridge {
    pub ports: Vec<PortMap>,
    /// The container's run directory, where the namespace file and
    /// pasta's pid file go.
    pub dir: PathBuf,
    /// The user-defined networks it joins ([`super::bridge`]), linked
    /// once pasta has configured the namespace.
    #[serde(default)]
    pub links: Vec<super::bridge::Link>,
    /// Only internal networks: no pasta (no outbound, no ports); `lo` is
    /// brought up with the first link.
    #[serde(default)]
    pub internal: bool,
    /// Rootless, with links: the user namespace to join instead of making
    /// one (the holder's, see [`super::holder`]).
    #[serde(default)]
    pub userns: Option<PathBuf>,
    /// pasta maps the gateway's address to the host's loopback (no
    /// `--no-map-gw`): only for a container that asked for
    /// `--add-host NAME:host-gateway`, as every other container must not
    /// reach the host's loopback listeners.
    #[serde(default)]
    pub map_gw: bool,
    /// The MAC address of pasta's interface in the namespace (checked by
    /// the engine); empty leaves pasta's default.
    #[serde(default)]
    pub mac: String,
    /// A namespace made ahead, pasta already running on it (a
    /// [`SpareNetwork`]'s): the init joins it instead of making one, and
    /// no pasta is started for the container.
    #[serde(default)]
    pub netns: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// pasta could not bind a published port (Docker's wording).
    #[error("failed to bind port {0}: Error starting userland proxy: listen {1}: bind: address already in use")]
    PortInUse(String, String),
    #[error("starting pasta: {0}")]
    Spawn(io::Error),
    #[error("pasta failed: {0}")]
    Failed(String),
    #[error("{what}: {source}")]
    Io { what: String, source: io::Error },
    #[error(transparent)]
    Link(#[from] super::bridge::Error),
}

/// Where pasta finds the namespace.
#[derive(Debug, PartialEq, Eq)]
pub enum Target {
    /// A file the namespace is bound onto (root).
    File(PathBuf),
    /// The init's pid: pasta joins its user and network namespaces.
    Pid(u32),
}

/// pasta's arguments (without the program).
pub fn pasta_args(bridge: &Bridge, target: &Target) -> Vec<String> {
    let mut args: Vec<String> = [
        "--config-net",
        "-T",
        "none",
        "-U",
        "none",
        "-q",
        "--no-dhcp",
        "--no-dhcpv6",
        "--no-ra",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if !bridge.map_gw {
        args.insert(1, "--no-map-gw".into());
    }
    if !bridge.mac.is_empty() {
        args.extend(["--ns-mac-addr".into(), bridge.mac.clone()]);
    }
    for p in &bridge.ports {
        let flag = match p.proto {
            Protocol::Tcp => "-t",
            Protocol::Udp => "-u",
        };
        args.push(flag.into());
        // No address: pasta's dual-stack listener, both families.
        let addr = if p.host_ip.is_empty() {
            String::new()
        } else {
            format!("{}/", p.host_ip)
        };
        args.push(format!("{addr}{}:{}", p.host_port, p.container_port));
    }
    if bridge.ports.iter().all(|p| p.proto != Protocol::Tcp) {
        args.extend(["-t".into(), "none".into()]);
    }
    if bridge.ports.iter().all(|p| p.proto != Protocol::Udp) {
        args.extend(["-u".into(), "none".into()]);
    }
    args.push("--pid".into());
    args.push(bridge.dir.join(PID_FILE).display().to_string());
    match target {
        Target::File(f) => {
            args.extend(["--runas".into(), "0".into(), "--netns".into(), f.display().to_string()]);
        }
        Target::Pid(pid) => args.push(pid.to_string()),
    }
    args
}

/// A running pasta; ended when stopped or dropped.
#[derive(Debug)]
pub struct Pasta {
    pid: u32,
    pidfd: Option<OwnedFd>,
    dir: PathBuf,
    netns: Option<PathBuf>,
    /// It listens on published ports: its end is waited for, so that the
    /// ports are free once the container shows as exited.
    holds_ports: bool,
    /// `dir` is its own (a spare's): removed with its files.
    own_dir: bool,
}

impl Pasta {
    /// Runs pasta on the network namespace of `init_pid` and returns once
    /// it is configured. On failure nothing is left (no pasta, no bind).
    pub fn start(bridge: &Bridge, init_pid: u32, rootless: bool) -> Result<Pasta, Error> {
        let target = if rootless {
            Target::Pid(init_pid)
        } else {
            Target::File(bind_netns(&bridge.dir, init_pid)?)
        };
        Pasta::start_on(bridge, target)
    }

    /// Runs pasta on `target` (a namespace file is removed on failure).
    fn start_on(bridge: &Bridge, target: Target) -> Result<Pasta, Error> {
        let netns = match &target {
            Target::File(f) => Some(f.clone()),
            Target::Pid(_) => None,
        };
        let _ = std::fs::remove_file(bridge.dir.join(PID_FILE));
        let undo = |e: Error| {
            remove_files(&bridge.dir, netns.as_deref());
            e
        };
        let mut cmd = Command::new("pasta");
        cmd.args(pasta_args(bridge, &target))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped());
        let began = Instant::now();
        let child = cmd.spawn().map_err(|e| undo(Error::Spawn(e)))?;
        // The daemonised pasta does not keep the launcher's stderr, so
        // this ends with the launcher.
        let out = wait_bounded(child).map_err(undo)?;
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            return Err(undo(launch_error(&stderr, &bridge.ports)));
        }
        let pid = read_pid(&bridge.dir).map_err(undo)?;
        tracing::debug!(
            "pasta {pid} configured the network of {} in {:?}",
            netns.as_deref().unwrap_or(&bridge.dir).display(),
            began.elapsed()
        );
        let pidfd = rustix::process::Pid::from_raw(pid as i32)
            .and_then(|p| rustix::process::pidfd_open(p, rustix::process::PidfdFlags::empty()).ok());
        Ok(Pasta {
            pid,
            pidfd,
            dir: bridge.dir.clone(),
            netns,
            holds_ports: !bridge.ports.is_empty(),
            own_dir: false,
        })
    }

    /// pasta's pid.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Ends pasta and removes its files; again is a no-op. A pasta
    /// without published ports is killed and not waited for: its end (the
    /// kernel's removal of its tap device, tens of milliseconds of RCU
    /// grace periods) frees nothing anyone waits for.
    pub fn stop(&mut self) {
        if let Some(fd) = self.pidfd.take() {
            if self.holds_ports {
                let began = Instant::now();
                end_process(&fd);
                tracing::debug!("pasta {} ended in {:?}", self.pid, began.elapsed());
            } else {
                let _ = rustix::process::pidfd_send_signal(&fd, rustix::process::Signal::KILL);
                tracing::debug!("pasta {} killed", self.pid);
            }
        }
        remove_files(&self.dir, self.netns.take().as_deref());
        if self.own_dir {
            let _ = std::fs::remove_dir(&self.dir);
        }
    }
}

impl Drop for Pasta {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A network namespace made ahead of need, with pasta configured on it,
/// for the next default-network container that publishes no port, links
/// nothing and asks for no MAC address or host gateway (root only: a
/// rootless container's namespace belongs to its own user namespace).
/// pasta's start (tens of milliseconds, the largest part of a bridge
/// container's start) is then off the start's path. The container's init
/// joins it ([`Bridge::netns`]) and [`SpareNetwork::into_pasta`] is its
/// pasta, ended with it; dropped unused, pasta ends and the files go.
#[derive(Debug)]
pub struct SpareNetwork {
    pasta: Pasta,
    mac: String,
}

impl SpareNetwork {
    /// Makes one whose files (pasta's pid file; the namespace file is
    /// under [`NETNS_DIR`], named as `dir`) are in `dir`, an empty
    /// directory of the caller's with a name unique on the host.
    pub fn make(dir: &Path, mac: &str) -> Result<SpareNetwork, Error> {
        let file = netns_file(dir);
        make_netns(&file)?;
        let bridge = Bridge {
            ports: Vec::new(),
            dir: dir.to_path_buf(),
            links: Vec::new(),
            internal: false,
            userns: None,
            map_gw: false,
            mac: mac.to_string(),
            netns: Some(file.clone()),
        };
        let mut pasta = Pasta::start_on(&bridge, Target::File(file))?;
        pasta.own_dir = true;
        Ok(SpareNetwork {
            pasta,
            mac: mac.to_string(),
        })
    }

    /// The namespace's file, for [`Bridge::netns`].
    pub fn netns(&self) -> Option<&Path> {
        self.pasta.netns.as_deref()
    }

    /// The MAC address of its interface.
    pub fn mac(&self) -> &str {
        &self.mac
    }

    /// Its pasta, the container's from now on.
    pub fn into_pasta(self) -> Pasta {
        self.pasta
    }
}

/// A new network namespace bound onto `file` (under [`NETNS_DIR`]), with
/// no process in it: made by a thread of its own, which ends at once.
fn make_netns(file: &Path) -> Result<(), Error> {
    prepare_netns_file(file)?;
    let target = file.to_path_buf();
    // A thread's network namespace is its own (no other thread of the
    // daemon moves), and the bind keeps the namespace once it has ended.
    let made = std::thread::Builder::new()
        .name("netns".into())
        .spawn(move || -> io::Result<()> {
            crate::sys::unshare_namespaces(rustix::thread::UnshareFlags::NEWNET)?;
            rustix::mount::mount_bind("/proc/thread-self/ns/net", &target)?;
            Ok(())
        })
        .map_err(io_err("starting a thread"))?
        .join()
        .unwrap_or_else(|_| Err(io::Error::other("the namespace's thread panicked")));
    if let Err(e) = made {
        let _ = std::fs::remove_file(file);
        return Err(io_err("making a network namespace")(e));
    }
    Ok(())
}

/// Waits for the launcher (woken by its pidfd, no polling), killing it
/// after [`START_LIMIT`]. Without a pidfd (never on the kernels we run
/// on) the wait has no limit.
fn wait_bounded(mut child: std::process::Child) -> Result<std::process::Output, Error> {
    let pidfd = rustix::process::Pid::from_raw(child.id() as i32)
        .and_then(|p| rustix::process::pidfd_open(p, rustix::process::PidfdFlags::empty()).ok());
    if let Some(fd) = &pidfd
        && !wait_pidfd(fd, START_LIMIT)
    {
        let _ = child.kill();
        let _ = child.wait();
        return Err(Error::Failed("it did not configure the namespace in time".into()));
    }
    child.wait_with_output().map_err(Error::Spawn)
}

/// Docker's error when pasta could not bind a port, else pasta's words.
fn launch_error(stderr: &str, ports: &[PortMap]) -> Error {
    if let Some(line) = stderr.lines().find(|l| l.contains("Failed to bind")) {
        let p = ports
            .iter()
            .find(|p| line.contains(&format!("{}:{}", p.host_port, p.container_port)))
            .or(ports.first());
        if let Some(p) = p {
            return port_in_use(p);
        }
    }
    let words: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.starts_with("Failed to send") && !l.contains("Changing to nobody"))
        .collect();
    let mut words = words.join("; ");
    if words.contains("tun") {
        // A rootless daemon's pasta opens /dev/net/tun as its user.
        words.push_str(" (pasta needs /dev/net/tun readable and writable by the daemon's user: mode 0666)");
    }
    Error::Failed(words)
}

/// Docker's error for a host port that is taken (an IPv6 address in
/// brackets, `tcp6`).
pub fn port_in_use(p: &PortMap) -> Error {
    let proto = p.proto.as_str();
    let (addr, family) = match p.host_ip.as_str() {
        "" => ("0.0.0.0".to_string(), "4"),
        ip if ip.contains(':') => (format!("[{ip}]"), "6"),
        ip => (ip.to_string(), "4"),
    };
    Error::PortInUse(
        format!("{addr}:{}/{proto}", p.host_port),
        format!("{proto}{family} {addr}:{}", p.host_port),
    )
}

fn io_err(what: &str) -> impl FnOnce(io::Error) -> Error + '_ {
    move |source| Error::Io {
        what: what.to_string(),
        source,
    }
}

/// The namespace file of the container whose run directory is `dir`.
fn netns_file(dir: &Path) -> PathBuf {
    Path::new(NETNS_DIR).join(dir.file_name().unwrap_or_default())
}

/// `file` (under [`NETNS_DIR`], made private if missing) as an empty
/// file, for a namespace to be bound onto.
fn prepare_netns_file(file: &Path) -> Result<(), Error> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(NETNS_DIR)
        .map_err(io_err("creating /run/strata/netns"))?;
    std::fs::write(file, b"").map_err(io_err("creating the network namespace file"))
}

/// Binds the init's network namespace onto its [`netns_file`].
fn bind_netns(dir: &Path, init_pid: u32) -> Result<PathBuf, Error> {
    let file = netns_file(dir);
    let _ = crate::sys::unmount_lazy(&file);
    prepare_netns_file(&file)?;
    let source = format!("/proc/{init_pid}/ns/net");
    if let Err(e) = rustix::mount::mount_bind(source.as_str(), &file) {
        let _ = std::fs::remove_file(&file);
        return Err(io_err("binding the network namespace")(e.into()));
    }
    Ok(file)
}

fn read_pid(dir: &Path) -> Result<u32, Error> {
    let text = std::fs::read_to_string(dir.join(PID_FILE)).map_err(io_err("reading pasta's pid file"))?;
    text.trim()
        .parse()
        .map_err(|_| Error::Failed(format!("its pid file says {:?}", text.trim())))
}

/// SIGTERM, then SIGKILL after [`STOP_GRACE`]; returns once it is gone
/// (pasta is not our child: it daemonised, so there is nothing to reap,
/// and the pidfd becomes readable when it exits).
fn end_process(fd: &OwnedFd) {
    use rustix::process::{Signal, pidfd_send_signal};
    if pidfd_send_signal(fd, Signal::TERM).is_err() {
        return;
    }
    if !wait_pidfd(fd, STOP_GRACE) {
        let _ = pidfd_send_signal(fd, Signal::KILL);
        wait_pidfd(fd, STOP_GRACE);
    }
}

/// Whether the process of pidfd `fd` ends within `limit` (a zombie
/// included).
pub(super) fn wait_pidfd(fd: &OwnedFd, limit: Duration) -> bool {
    use rustix::event::{PollFd, PollFlags, poll};
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let mut fds = [PollFd::new(fd, PollFlags::IN)];
        let ts = rustix::time::Timespec {
            tv_sec: left.as_secs() as i64,
            tv_nsec: left.subsec_nanos() as i64,
        };
        match poll(&mut fds, Some(&ts)) {
            Ok(n) => return n > 0,
            // A signal for another thread of the daemon: wait on.
            Err(rustix::io::Errno::INTR) => continue,
            Err(_) => return false,
        }
    }
}

fn remove_files(dir: &Path, netns: Option<&Path>) {
    if let Some(f) = netns {
        let _ = crate::sys::unmount_lazy(f);
        let _ = std::fs::remove_file(f);
    }
    let _ = std::fs::remove_file(dir.join(PID_FILE));
}

/// After a daemon died: ends the pasta a container's run directory names
/// (only if its command line names that directory, so a recycled pid is
/// never hit) and removes the namespace file.
pub fn cleanup(dir: &Path) {
    if let Ok(pid) = read_pid(dir) {
        let ours = std::fs::read(format!("/proc/{pid}/cmdline"))
            .map(|c| {
                let c = String::from_utf8_lossy(&c).into_owned();
                c.contains("pasta") && c.contains(&*dir.join(PID_FILE).to_string_lossy())
            })
            .unwrap_or(false);
        if ours
            && let Some(fd) = rustix::process::Pid::from_raw(pid as i32)
                .and_then(|p| rustix::process::pidfd_open(p, rustix::process::PidfdFlags::empty()).ok())
        {
            end_process(&fd);
        }
    }
    let netns = netns_file(dir);
    let netns = netns.exists().then_some(netns);
    remove_files(dir, netns.as_deref());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bridge(ports: Vec<PortMap>) -> Bridge {
        Bridge {
            ports,
            dir: PathBuf::from("/run/c"),
            links: Vec::new(),
            internal: false,
            userns: None,
            map_gw: false,
            mac: String::new(),
            netns: None,
        }
    }

    #[test]
    fn argv_for_root_and_rootless() {
        let b = bridge(vec![
            PortMap {
                host_ip: "127.0.0.1".into(),
                host_port: 18080,
                container_port: 80,
                proto: Protocol::Tcp,
            },
            PortMap {
                host_ip: String::new(),
                host_port: 5353,
                container_port: 53,
                proto: Protocol::Udp,
            },
        ]);
        let args = pasta_args(&b, &Target::File("/run/c/netns".into())).join(" ");
        let v6 = pasta_args(
            &bridge(vec![PortMap {
                host_ip: "::1".into(),
                host_port: 18080,
                container_port: 80,
                proto: Protocol::Tcp,
            }]),
            &Target::Pid(42),
        );
        assert!(v6.join(" ").contains("-t ::1/18080:80 -u none"), "{v6:?}");
        assert!(args.starts_with("--config-net --no-map-gw -T none -U none"), "{args}");
        assert!(
            args.contains(" -t 127.0.0.1/18080:80 -u 5353:53 --pid /run/c/pasta.pid"),
            "{args}"
        );
        assert!(args.ends_with("--runas 0 --netns /run/c/netns"), "{args}");
        assert!(!args.contains("-t none"), "{args}");
        let args = pasta_args(&bridge(vec![]), &Target::Pid(42)).join(" ");
        assert!(args.contains("-t none -u none --pid /run/c/pasta.pid 42"), "{args}");
        assert!(!args.contains("--runas"), "{args}");
        // Only a container asking for host-gateway gets the gateway mapped.
        let mapped = Bridge {
            map_gw: true,
            ..bridge(vec![])
        };
        let args = pasta_args(&mapped, &Target::Pid(42)).join(" ");
        assert!(args.starts_with("--config-net -T none -U none"), "{args}");
    }

    #[test]
    fn a_taken_port_is_dockers_error() {
        let p = PortMap {
            host_ip: "127.0.0.1".into(),
            host_port: 18080,
            container_port: 80,
            proto: Protocol::Tcp,
        };
        let e = launch_error(
            "Failed to bind any port for '-t 127.0.0.1/18080:80', exiting\n",
            std::slice::from_ref(&p),
        );
        assert_eq!(
            e.to_string(),
            "failed to bind port 127.0.0.1:18080/tcp: Error starting userland proxy: listen tcp4 127.0.0.1:18080: bind: address already in use"
        );
        let v6 = PortMap {
            host_ip: "::1".into(),
            ..p.clone()
        };
        assert_eq!(
            port_in_use(&v6).to_string(),
            "failed to bind port [::1]:18080/tcp: Error starting userland proxy: listen tcp6 [::1]:18080: bind: address already in use"
        );
        let e = launch_error("Failed to send 47 bytes to syslog\nsomething else\n", &[]);
        assert_eq!(e.to_string(), "pasta failed: something else");
    }
}

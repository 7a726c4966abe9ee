//! A real `stratad` per test on a temporary socket and store, driven by
//! the `strata` client; the host users the tests play.

use super::{
    STRATA, STRATAD, fuse_for_users, http_request, output_within, strata_at, tools, tree_snapshot, wait_for, which,
};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A running `stratad` on a private root and socket, stopped on drop.
pub struct Daemon {
    pub dir: tempfile::TempDir,
    pub root: PathBuf,
    pub socket: PathBuf,
    child: Option<Child>,
    pub extra_args: Vec<String>,
    /// Run the daemon as this uid and gid (via setpriv), unprivileged.
    pub run_as: Option<u32>,
    /// A command the daemon is run under (it gets stratad and its
    /// arguments after its own), e.g. to change its mount namespace.
    pub wrap: Vec<String>,
    /// cgroup directories the daemon starts in: the spawned process
    /// writes itself to each `cgroup.procs` (as root, before any setpriv)
    /// and then execs the daemon.
    pub cgroups: Vec<PathBuf>,
}

impl Daemon {
    pub fn start() -> Daemon {
        let mut d = Daemon::prepare();
        d.spawn();
        d
    }

    /// A daemon's directories, not yet started: adjust, then `spawn`.
    /// A started daemon with the default busybox image, or what this
    /// machine lacks to run containers (FUSE, root).
    pub fn with_busybox() -> Result<Daemon, String> {
        super::fuse()?;
        let d = Daemon::start();
        d.import_busybox();
        Ok(d)
    }

    /// [`Daemon::with_busybox`], for tests that drive it with the docker CLI.
    pub fn with_docker_and_busybox() -> Result<Daemon, String> {
        let d = Daemon::with_busybox()?;
        d.docker_cli()?;
        Ok(d)
    }

    pub fn prepare() -> Daemon {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("root");
        let socket = dir.path().join("stratad.sock");
        Daemon {
            dir,
            root,
            socket,
            child: None,
            extra_args: Vec::new(),
            run_as: None,
            wrap: Vec::new(),
            cgroups: Vec::new(),
        }
    }

    pub fn host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    /// Starts the daemon process on this root and socket and waits for it.
    pub fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("stratad.log"))
            .expect("log");
        let mut cmd = match self.run_as {
            None if !self.wrap.is_empty() => {
                let mut c = Command::new(&self.wrap[0]);
                c.args(&self.wrap[1..]).arg(STRATAD);
                c
            }
            Some(id) => {
                let mut c = Command::new("setpriv");
                c.arg(format!("--reuid={id}"))
                    .arg(format!("--regid={id}"))
                    .arg("--clear-groups")
                    .arg("--")
                    .arg(STRATAD);
                c
            }
            None => Command::new(STRATAD),
        };
        if !self.cgroups.is_empty() {
            cmd = self.in_cgroups(cmd);
        }
        let child = cmd
            .arg("--root")
            .arg(&self.root)
            .arg("-H")
            .arg(self.host())
            .args(["--shutdown-timeout", "2"])
            .args(&self.extra_args)
            .env("STRATA_LOG", "strata=debug")
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("spawn stratad");
        self.child = Some(child);
        wait_for(|| UnixStream::connect(&self.socket).is_ok(), "stratad to listen");
        // The socket accepts before the engine has opened the store (its
        // `containers/`): a first answer means the daemon is whole, so a
        // snapshot taken now is what the test's requests start from.
        let (status, body) = http_request(&self.socket, "GET", "/_ping", b"");
        assert_eq!(status, 200, "stratad's first /_ping: {body}");
    }

    /// `cmd` run by a shell that first moves itself into [`Self::cgroups`]
    /// (and fails if it cannot), then execs it.
    fn in_cgroups(&self, cmd: Command) -> Command {
        let dirs: Vec<String> = self.cgroups.iter().map(|d| d.display().to_string()).collect();
        let mut sh = Command::new("sh");
        sh.arg("-c")
            .arg(r#"IFS=:; for d in $STRATA_TEST_CGROUPS; do echo $$ > "$d/cgroup.procs" || exit 125; done; unset IFS STRATA_TEST_CGROUPS; exec "$@""#)
            .arg("sh")
            .arg(cmd.get_program())
            .args(cmd.get_args())
            .env("STRATA_TEST_CGROUPS", dirs.join(":"));
        sh
    }

    /// The daemon's pid, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// A line of the daemon's /proc/PID/status (`VmHWM`, `VmRSS`) in KiB.
    pub fn status_kib(&self, key: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid().expect("running"))).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
            .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("no {key} in {status}"))
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stratad.log")).unwrap_or_default()
    }

    /// SIGTERM and wait: a clean shutdown.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill").arg("-TERM").arg(c.id().to_string()).status();
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(10) {
                if c.try_wait().ok().flatten().is_some() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGKILL: a crash.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().expect("kill");
            c.wait().expect("wait");
        }
    }

    pub fn strata(&self, args: &[&str]) -> Output {
        strata_at(&self.host(), args, None)
    }

    pub fn strata_stdin(&self, args: &[&str], stdin: &[u8]) -> Output {
        strata_at(&self.host(), args, Some(stdin))
    }

    /// Runs `strata` and insists on success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.strata(args);
        assert!(
            out.status.success(),
            "strata {args:?} failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            self.log()
        );
        String::from_utf8(out.stdout).expect("utf-8 output")
    }

    /// Imports a tar file and returns the image ID.
    pub fn import(&self, tar: &Path, name: &str) -> String {
        self.ok(&["import", tar.to_str().expect("utf-8"), name])
            .trim()
            .to_string()
    }

    /// Builds and imports the default image with scripts/busybox-image.sh,
    /// as the README's main flow does.
    pub fn import_busybox(&self) {
        let out = Command::new("bash")
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/busybox-image.sh"))
            .env("STRATA", STRATA)
            .env("STRATA_HOST", self.host())
            .output()
            .expect("run busybox-image.sh");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }

    pub fn inspect(&self, name: &str) -> serde_json::Value {
        let out = self.ok(&["inspect", name]);
        let v: serde_json::Value = serde_json::from_str(&out).expect("inspect JSON");
        v[0].clone()
    }

    /// One raw HTTP/1.1 request over the socket; returns status and body.
    pub fn http(&self, method: &str, path: &str, body: &[u8]) -> (u16, String) {
        http_request(&self.socket, method, path, body)
    }

    /// The docker CLI pointed at this daemon, if installed.
    /// The docker CLI works against this daemon (`docker version`).
    pub fn docker_cli(&self) -> Result<(), String> {
        let out = self.docker(&["version"]).ok_or("the docker CLI is not installed")?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!("docker version failed: {}", super::text(&out)))
        }
    }

    /// `docker ARGS` for one part of a test: None, after a `SKIP:` (a
    /// failure under CI), when the docker CLI is not installed.
    #[track_caller]
    pub fn docker_part(&self, args: &[&str]) -> Option<Output> {
        super::part(super::tool("docker"))?;
        self.docker(args)
    }

    pub fn docker(&self, args: &[&str]) -> Option<Output> {
        which("docker")?;
        let config = self.dir.path().join("docker-config");
        let child = Command::new("docker")
            .arg("-H")
            .arg(self.host())
            .args(args)
            .env("DOCKER_CONFIG", &config)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run docker");
        Some(output_within(
            child,
            Duration::from_secs(120),
            &format!("docker {}", args.join(" ")),
        ))
    }

    /// `docker ARGS`, which must succeed; its stdout.
    pub fn docker_ok(&self, args: &[&str]) -> String {
        let out = self.docker(args).expect("docker CLI");
        assert!(out.status.success(), "docker {args:?}: {}", super::text(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `docker ARGS`, which must fail; its stderr.
    pub fn docker_fails(&self, args: &[&str]) -> String {
        let out = self.docker(args).expect("docker CLI");
        assert!(
            !out.status.success(),
            "docker {args:?} succeeded: {}",
            super::text(&out)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    /// A listing of every path under the store with type, size and mode:
    /// what "nothing was written" is checked against.
    pub fn store_snapshot(&self) -> Vec<String> {
        tree_snapshot(&self.root)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A rootless daemon: run as the tests' unprivileged user, its root and
/// socket directory that user's, `/dev/fuse` opened up as distributions
/// ship it, with the busybox image imported; or what it lacks to run here.
pub fn rootless_daemon() -> Result<Daemon, String> {
    rootless_daemon_in(Vec::new())
}

/// [`rootless_daemon`] started in the cgroup directories `cgroups` (see
/// [`Daemon::cgroups`]).
pub fn rootless_daemon_in(cgroups: Vec<PathBuf>) -> Result<Daemon, String> {
    use std::os::unix::fs::PermissionsExt;
    fuse_for_users()?;
    tools(&["setpriv"])?;
    // pasta (a bridge network) opens the tun device as the daemon's user:
    // 0666, as distributions ship it, where it exists.
    let _ = std::fs::set_permissions("/dev/net/tun", std::fs::Permissions::from_mode(0o666));
    let (uid, gid) = test_user();
    let mut d = Daemon::prepare();
    std::fs::set_permissions(d.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let run = d.dir.path().join("run");
    for dir in [&d.root, &run] {
        std::fs::create_dir(dir).unwrap();
        rustix::fs::chown(
            dir,
            Some(rustix::fs::Uid::from_raw(uid)),
            Some(rustix::fs::Gid::from_raw(gid)),
        )
        .unwrap();
    }
    d.socket = run.join("s.sock");
    d.run_as = Some(uid);
    d.cgroups = cgroups;
    d.spawn();
    d.import_busybox();
    Ok(d)
}

/// An unprivileged user made for these tests (once per run): its uid and gid.
pub fn test_user() -> (u32, u32) {
    static USER: std::sync::OnceLock<(u32, u32)> = std::sync::OnceLock::new();
    *USER.get_or_init(|| {
        let id = |flag: &str| {
            let out = Command::new("id").arg(flag).arg(TEST_USER).output().unwrap();
            String::from_utf8_lossy(&out.stdout).trim().parse::<u32>().ok()
        };
        if id("-u").is_none() {
            let made = Command::new("useradd")
                .args([
                    "--system",
                    "--user-group",
                    "--no-create-home",
                    "--shell",
                    "/usr/sbin/nologin",
                    TEST_USER,
                ])
                .status()
                .unwrap();
            assert!(made.success() || id("-u").is_some(), "useradd {TEST_USER} failed");
        }
        (id("-u").unwrap(), id("-g").unwrap())
    })
}

/// The name of [`test_user`].
pub const TEST_USER: &str = "strata-rootless";

/// The uid and gid of `strata-other`, an unprivileged local user made for
/// the tests that play a host user other than the daemon's (made with
/// `useradd` on first use), or None (with the reason) where it cannot be.
pub fn other_user() -> Result<(u32, u32), String> {
    const NAME: &str = "strata-other";
    let ids = || -> Option<(u32, u32)> {
        let id = |flag: &str| {
            let out = Command::new("id").arg(flag).arg(NAME).output().ok()?;
            String::from_utf8_lossy(&out.stdout).trim().parse().ok()
        };
        Some((id("-u")?, id("-g")?))
    };
    if let Some(ids) = ids() {
        return Ok(ids);
    }
    if !rustix::process::geteuid().is_root() {
        return Err(format!("making the user {NAME} needs root"));
    }
    // Tests run in parallel: another may make it first.
    let _ = Command::new("useradd")
        .args(["--system", "--no-create-home", "--shell", "/usr/sbin/nologin", NAME])
        .status();
    ids().ok_or_else(|| format!("useradd {NAME} failed (is useradd installed?)"))
}

/// Runs `args` as `uid:gid` with no supplementary groups and no
/// capabilities. setpriv keeps root's capabilities until its own exec, so
/// it execs a shell first, which then execs `args` as the plain user would.
pub fn run_as(uid: u32, gid: u32, args: &[&str]) -> Output {
    Command::new("setpriv")
        .arg(format!("--reuid={uid}"))
        .arg(format!("--regid={gid}"))
        .arg("--clear-groups")
        .args(["--", "/bin/sh", "-c", "exec \"$@\"", "sh"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run setpriv")
}

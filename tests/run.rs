//! The container runner (`strata::run`) on a plain busybox root directory:
//! namespaces, mounts, users, exit codes, exec and terminals. They need root
//! (mounts, namespaces) and busybox-static; otherwise they skip, saying why.

use crate::util::{STRATAD, busybox_tar, require, root, tool};
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use strata::run::{self, ContainerSpec, NetworkMode, ProcessSpec, Running, Stdio};

fn helper() -> &'static Path {
    Path::new(STRATAD)
}

/// An extracted busybox image, removed on drop.
struct Rootfs {
    dir: tempfile::TempDir,
    path: PathBuf,
}

/// The busybox image tar, built once per test run (it takes seconds), or
/// why it could not be (the image script's own error).
fn busybox_image() -> Result<&'static [u8], String> {
    static TAR: OnceLock<Result<Vec<u8>, String>> = OnceLock::new();
    TAR.get_or_init(|| {
        let dir = tempfile::tempdir().map_err(|e| format!("tempdir: {e}"))?;
        std::fs::read(busybox_tar(dir.path())?).map_err(|e| format!("reading the busybox tar: {e}"))
    })
    .as_deref()
    .map_err(Clone::clone)
}

/// The busybox image extracted, as root; or what is missing for it.
fn rootfs() -> Result<Rootfs, String> {
    root().map_err(|why| format!("the container runner tests {why}"))?;
    let tar = busybox_image()?;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("rootfs");
    std::fs::create_dir(&path).expect("rootfs dir");
    let mut child = Command::new("tar")
        .arg("-xf")
        .arg("-")
        .arg("-C")
        .arg(&path)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("run tar");
    child.stdin.take().expect("stdin").write_all(tar).expect("feed tar");
    let ok = child.wait().expect("wait for tar").success();
    assert!(ok, "extracting busybox");
    Ok(Rootfs { dir, path })
}

fn process(args: &[&str]) -> ProcessSpec {
    ProcessSpec {
        args: args.iter().map(|s| s.to_string()).collect(),
        env: vec!["HOSTNAME=box1".to_string()],
        cwd: String::new(),
        user: String::new(),
        tty: false,
        console_size: None,
    }
}

fn spec(root: &Rootfs, args: &[&str]) -> ContainerSpec {
    let hostname = root.dir.path().join("hostname");
    std::fs::write(&hostname, "box1\n").expect("hostname file");
    ContainerSpec {
        id: "0123456789ab".into(),
        rootfs: root.path.clone(),
        hostname: "box1".into(),
        domainname: String::new(),
        network: NetworkMode::Host,
        etc_files: vec![("/etc/hostname".into(), hostname)],
        mounts: Vec::new(),
        readonly_root: false,
        process: process(args),
        confinement: confinement(),
        init: false,
    }
}

/// Docker's seccomp filter, as stratad gives every container (compiled
/// once); no cgroup (the runner tests are not about devices).
fn confinement() -> run::Confinement {
    static PROGRAM: OnceLock<run::seccomp::Program> = OnceLock::new();
    let program = PROGRAM.get_or_init(|| run::seccomp::compile_default().expect("the default profile"));
    run::Confinement {
        seccomp: Some(program.clone()),
        cgroups: Vec::new(),
        privileges: Default::default(),
    }
}

/// Pipes for stdout and stderr (read by threads), /dev/null as stdin.
struct Captured {
    stdio: Stdio,
    out: std::thread::JoinHandle<String>,
    err: std::thread::JoinHandle<String>,
}

fn reader(mut r: std::io::PipeReader) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut s = String::new();
        let _ = r.read_to_string(&mut s);
        s
    })
}

fn capture() -> Captured {
    let (out_r, out_w) = std::io::pipe().expect("pipe");
    let (err_r, err_w) = std::io::pipe().expect("pipe");
    let null = std::fs::File::open("/dev/null").expect("/dev/null");
    Captured {
        stdio: Stdio::Fds {
            stdin: OwnedFd::from(null),
            stdout: OwnedFd::from(out_w),
            stderr: OwnedFd::from(err_w),
        },
        out: reader(out_r),
        err: reader(err_r),
    }
}

struct Outcome {
    code: i32,
    out: String,
    err: String,
}

fn finish(running: Running, out: std::thread::JoinHandle<String>, err: std::thread::JoinHandle<String>) -> Outcome {
    let code = running.wait().expect("wait");
    Outcome {
        code,
        out: out.join().expect("stdout reader"),
        err: err.join().expect("stderr reader"),
    }
}

fn run_spec(spec: &ContainerSpec) -> Outcome {
    let c = capture();
    let running = run::start(helper(), spec, c.stdio).unwrap_or_else(|e| panic!("start: {e}"));
    finish(running, c.out, c.err)
}

fn sh(root: &Rootfs, script: &str) -> Outcome {
    run_spec(&spec(root, &["sh", "-c", script]))
}

#[test]
fn runner_pid1_hostname_cmdline_and_root() {
    let root = require!(rootfs());
    let o = sh(
        &root,
        "echo $$; hostname; cat /proc/1/cmdline | tr '\\0' ' '; echo; ls /; cat /etc/hostname",
    );
    assert_eq!(o.code, 0, "stderr: {}", o.err);
    let lines: Vec<&str> = o.out.lines().collect();
    assert_eq!(lines[0], "1");
    assert_eq!(lines[1], "box1");
    assert!(lines[2].starts_with("sh -c echo $$"), "{}", lines[2]);
    for entry in ["bin", "dev", "etc", "proc", "sys", "tmp", "usr"] {
        assert!(lines.contains(&entry), "{entry} missing in {lines:?}");
    }
    assert_eq!(lines.last(), Some(&"box1"));
    // The host root is not what the container sees.
    assert!(!o.out.contains("\nboot\n") || !Path::new("/boot").exists() || lines.contains(&"boot"));
}

#[test]
fn runner_exit_code_propagates() {
    let root = require!(rootfs());
    assert_eq!(sh(&root, "exit 3").code, 3);
}

#[test]
fn runner_sigkill_gives_137() {
    let root = require!(rootfs());
    let c = capture();
    let running = run::start(helper(), &spec(&root, &["sleep", "100"]), c.stdio).expect("start");
    assert!(running.pid() > 1);
    let begin = Instant::now();
    running.signal(9).expect("signal");
    let o = finish(running, c.out, c.err);
    assert_eq!(o.code, 137);
    assert!(begin.elapsed() < Duration::from_secs(20));
}

#[test]
fn runner_command_not_found_is_127() {
    let root = require!(rootfs());
    let c = capture();
    let err = run::start(helper(), &spec(&root, &["nosuchcmd"]), c.stdio).expect_err("must fail");
    assert_eq!(err.exit_code(), Some(127));
    assert_eq!(
        err.to_string(),
        "exec: \"nosuchcmd\": executable file not found in $PATH"
    );
    let c = capture();
    let err = run::start(helper(), &spec(&root, &["/etc"]), c.stdio).expect_err("must fail");
    assert_eq!(err.exit_code(), Some(126));
    assert_eq!(err.to_string(), "exec: \"/etc\": permission denied");
}

#[test]
fn runner_user_resolution() {
    let root = require!(rootfs());
    let mut s = spec(&root, &["sh", "-c", "id -u; id -g; echo $HOME; pwd; id -G"]);
    s.process.user = "nobody".into();
    s.process.cwd = "/work/dir".into();
    let o = run_spec(&s);
    assert_eq!(o.code, 0, "{}", o.err);
    assert_eq!(o.out, "65534\n65534\n/nonexistent\n/work/dir\n65534\n");
    let md = std::fs::metadata(root.path.join("work/dir")).expect("cwd created");
    use std::os::unix::fs::MetadataExt;
    assert_eq!(md.uid(), 65534);

    s.process.user = "1234:33".into();
    s.process.cwd = String::new();
    let o = run_spec(&s);
    assert_eq!(o.out, "1234\n33\n/\n/\n33\n", "{}", o.err);

    // Root gets Docker's capabilities; others none.
    let mut s = spec(&root, &["sh", "-c", "grep Cap /proc/self/status; id"]);
    let o = run_spec(&s);
    assert!(o.out.contains("CapEff:\t00000000a80425fb"), "{}", o.out);
    assert!(o.out.contains("CapBnd:\t00000000a80425fb"), "{}", o.out);
    assert!(
        o.out.contains("uid=0(root) gid=0(root) groups=0(root),10(wheel)"),
        "{}",
        o.out
    );
    s.process.user = "daemon".into();
    let o = run_spec(&s);
    assert!(o.out.contains("CapEff:\t0000000000000000"), "{}", o.out);

    let c = capture();
    s.process.user = "ghost".into();
    let err = run::start(helper(), &s, c.stdio).expect_err("unknown user");
    assert_eq!(
        err.to_string(),
        "unable to find user ghost: no matching entries in passwd file"
    );
    assert_eq!(err.exit_code(), None);
}

#[test]
fn runner_isolation_proc_root_and_processes() {
    let root = require!(rootfs());
    let o = sh(&root, "ls /proc/1/root/; echo ---; ls /proc | grep -c '^[0-9]'; ps");
    assert_eq!(o.code, 0, "{}", o.err);
    let (listing, rest) = o.out.split_once("---\n").expect("marker");
    assert!(listing.lines().any(|l| l == "bin"), "{listing}");
    // The test's own temporary directory lives on the host only.
    assert!(!listing.contains("rootfs"), "{listing}");
    let count: u32 = rest
        .lines()
        .next()
        .and_then(|l| l.trim().parse().ok())
        .expect("a count");
    assert!(count <= 4, "the container sees {count} processes: {rest}");
    // The read-only and masked paths.
    let o = sh(
        &root,
        "echo 1 > /proc/sys/kernel/domainname && echo writable; wc -c < /proc/kcore; touch /sys/x 2>/dev/null || echo sys-ro; ls -l /dev/ptmx; ls /dev",
    );
    assert!(!o.out.contains("writable"), "{}", o.out);
    assert!(o.out.contains("sys-ro"), "{}", o.out);
    assert!(o.out.contains("/dev/ptmx -> pts/ptmx"), "{}", o.out);
    for dev in [
        "null", "zero", "full", "random", "urandom", "tty", "pts", "shm", "fd", "stdin",
    ] {
        assert!(o.out.lines().any(|l| l == dev), "/dev/{dev} missing: {}", o.out);
    }
    let o = sh(
        &root,
        "head -c 4 /dev/zero | wc -c; echo x > /dev/null && echo ok; echo hi > /dev/shm/f && cat /dev/shm/f",
    );
    assert_eq!(o.out, "4\nok\nhi\n", "{}", o.err);
}

#[test]
fn runner_network_none_has_only_loopback() {
    let root = require!(rootfs());
    let mut s = spec(
        &root,
        &[
            "sh",
            "-c",
            "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '; cat /sys/class/net/lo/operstate; ip link show lo 2>/dev/null | grep -o UP | head -1",
        ],
    );
    s.network = NetworkMode::None;
    let o = run_spec(&s);
    assert_eq!(o.code, 0, "{}", o.err);
    let mut lines = o.out.lines();
    assert_eq!(lines.next(), Some("lo"), "{}", o.out);
    assert!(
        o.out.contains("UP") || o.out.contains("unknown"),
        "lo is not up: {}",
        o.out
    );
}

#[test]
fn runner_exec_joins_the_container() {
    let root = require!(rootfs());
    std::fs::write(root.path.join("marker"), "inside\n").expect("marker");
    let c = capture();
    let running = run::start(helper(), &spec(&root, &["sleep", "100"]), c.stdio).expect("start");
    let e = capture();
    let exec = run::exec(
        helper(),
        running.pid(),
        &process(&[
            "sh",
            "-c",
            "echo $$; hostname; cat /marker; ls /proc | grep -c '^[0-9]'",
        ]),
        &confinement(),
        e.stdio,
    )
    .expect("exec");
    assert_ne!(exec.pid(), running.pid());
    let o = finish(exec, e.out, e.err);
    assert_eq!(o.code, 0, "{}", o.err);
    let lines: Vec<&str> = o.out.lines().collect();
    assert_ne!(lines[0], "1");
    assert_eq!(&lines[1..3], ["box1", "inside"]);
    // Exec errors are start errors with Docker's codes.
    let e = capture();
    let err = run::exec(
        helper(),
        running.pid(),
        &process(&["nosuchcmd"]),
        &confinement(),
        e.stdio,
    )
    .expect_err("must fail");
    assert_eq!(err.exit_code(), Some(127));
    let e = capture();
    let exec = run::exec(
        helper(),
        running.pid(),
        &process(&["sh", "-c", "exit 5"]),
        &confinement(),
        e.stdio,
    )
    .expect("exec");
    assert_eq!(finish(exec, e.out, e.err).code, 5);
    // docker top
    let procs = run::processes(running.pid()).expect("processes");
    assert!(
        procs.iter().any(|p| p.pid == running.pid() && p.cmd == "sleep 100"),
        "{procs:?}"
    );
    running.signal(9).expect("kill");
    assert_eq!(finish(running, c.out, c.err).code, 137);
}

/// Starts a TTY process (in a new container, or with `exec` in the one of
/// `target`) and reads its terminal to the end.
fn run_on_terminal(root: &Rootfs, target: Option<u32>, p: ProcessSpec) -> (i32, String) {
    let running = match target {
        None => {
            let mut s = spec(root, &[]);
            s.process = p;
            run::start(helper(), &s, Stdio::Terminal)
        }
        Some(pid) => run::exec(helper(), pid, &p, &confinement(), Stdio::Terminal),
    }
    .unwrap_or_else(|e| panic!("start: {e}"));
    let master = running.take_pty_master().expect("the terminal's master");
    assert!(running.take_pty_master().is_none(), "the master is taken once");
    let out = reader(std::io::PipeReader::from(master));
    let code = running.wait().expect("wait");
    (code, out.join().expect("reader"))
}

fn tty_process(script: &str) -> ProcessSpec {
    let mut p = process(&["sh", "-c", script]);
    p.tty = true;
    p
}

#[test]
fn runner_tty() {
    let root = require!(rootfs());
    // The terminal is the container's own: /dev/pts/0 of its devpts.
    let mut p = tty_process(
        "test -t 0 && echo is-a-tty; stty size; tty; ls -l /proc/self/fd/0 /proc/self/fd/2; \
         ls -1 /dev/pts; echo; (: </dev/tty) && echo has-ctty; exit 4",
    );
    p.console_size = Some((30, 90));
    let (code, out) = run_on_terminal(&root, None, p);
    assert_eq!(code, 4, "{out}");
    assert!(out.contains("is-a-tty"), "{out:?}");
    assert!(out.contains("30 90"), "{out:?}");
    assert!(out.lines().any(|l| l.trim_end() == "/dev/pts/0"), "{out:?}");
    assert!(out.contains("/proc/self/fd/2 -> /dev/pts/0"), "{out:?}");
    // Only the container's terminal is in its devpts.
    let pts: Vec<&str> = out
        .lines()
        .map(str::trim_end)
        .skip_while(|l| !l.contains("/proc/self/fd/2"))
        .skip(1)
        .take_while(|l| *l == "0" || *l == "ptmx")
        .collect();
    assert_eq!(pts, ["0", "ptmx"], "{out:?}");
    // The controlling terminal: /dev/tty opens.
    assert!(out.contains("has-ctty"), "{out:?}");

    // The user owns its terminal (as with runc).
    let mut p = tty_process("tty; stat -c %u $(tty)");
    p.user = "nobody".into();
    let (code, out) = run_on_terminal(&root, None, p);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("/dev/pts/0\r\n65534"), "{out:?}");

    // A TTY process takes Stdio::Terminal, and only it.
    let mut s = spec(&root, &["true"]);
    s.process.tty = true;
    let err = run::start(helper(), &s, capture().stdio).expect_err("fds for a tty");
    assert!(matches!(err, run::Error::Usage(_)), "{err}");
    s.process.tty = false;
    let err = run::start(helper(), &s, Stdio::Terminal).expect_err("a terminal without tty");
    assert!(matches!(err, run::Error::Usage(_)), "{err}");
    // A start that fails brings no terminal.
    let err = run::start(
        helper(),
        &{
            let mut s = spec(&root, &[]);
            s.process = tty_process("");
            s.process.args = vec!["nosuchcmd".into()];
            s
        },
        Stdio::Terminal,
    )
    .expect_err("not found");
    assert_eq!(err.exit_code(), Some(127));
}

#[test]
fn runner_exec_tty() {
    let root = require!(rootfs());
    let c = capture();
    let running = run::start(helper(), &spec(&root, &["sleep", "100"]), c.stdio).expect("start");
    // The container has no terminal: the exec's is the first of its devpts.
    let mut p = tty_process("tty; stty size; test -t 1 && echo is-a-tty");
    p.console_size = Some((12, 34));
    let (code, out) = run_on_terminal(&root, Some(running.pid()), p);
    assert_eq!(code, 0, "{out}");
    assert!(out.lines().any(|l| l.trim_end() == "/dev/pts/0"), "{out:?}");
    assert!(out.contains("12 34"), "{out:?}");
    assert!(out.contains("is-a-tty"), "{out:?}");
    // Two at once get two terminals.
    let first = run::exec(
        helper(),
        running.pid(),
        &tty_process("sleep 100"),
        &confinement(),
        Stdio::Terminal,
    )
    .expect("exec");
    let master = first.take_pty_master().expect("master");
    let (code, out) = run_on_terminal(&root, Some(running.pid()), tty_process("tty"));
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("/dev/pts/1"), "{out:?}");
    first.signal(9).expect("kill");
    assert_eq!(first.wait().expect("wait"), 137);
    drop(master);
    running.signal(9).expect("kill");
    assert_eq!(finish(running, c.out, c.err).code, 137);
}

#[test]
fn runner_stratad_death_kills_the_container() {
    // The lifeline: dropping Running (as stratad's death would close its
    // end) makes the shim kill the container.
    let root = require!(rootfs());
    let c = capture();
    let running = run::start(helper(), &spec(&root, &["sleep", "100"]), c.stdio).expect("start");
    let pid = running.pid();
    drop(running);
    let start = Instant::now();
    while Path::new(&format!("/proc/{pid}")).exists() {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        if stat.contains(") Z") || stat.is_empty() {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "the container survived");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(c.out.join().is_ok());
}

const ROOTLESS_ENV: &str = "STRATA_TEST_ROOTLESS_ROOTFS";

/// The runner as an unprivileged user (a user namespace mapping only that
/// user to root): this test re-runs the test binary under `setpriv` for
/// `rootless_inner`.
#[test]
fn runner_rootless() {
    let root = require!(rootfs());
    require!(tool("setpriv"));
    // The hostname file the inner test binds, and a root the user owns (as
    // a rootless FUSE mount would be).
    let _ = spec(&root, &["true"]);
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(root.dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let ok = Command::new("chown")
        .args(["-R", "65534:65534"])
        .arg(&root.path)
        .status()
        .expect("chown")
        .success();
    assert!(ok);
    let probe = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--",
            "unshare",
            "-U",
            "true",
        ])
        .status()
        .expect("setpriv");
    require!(
        probe
            .success()
            .then_some(())
            .ok_or("unprivileged user namespaces are not allowed here")
    );
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "run::rootless_inner",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(ROOTLESS_ENV, &root.path)
        .current_dir("/")
        .output()
        .expect("run the inner test");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success() && text.contains("rootless-ok"), "{text}");
}

#[test]
#[ignore = "run by runner_rootless as an unprivileged user"]
fn rootless_inner() {
    let path = require!(std::env::var_os(ROOTLESS_ENV).ok_or("only runner_rootless runs this"));
    assert!(!rustix::process::geteuid().is_root());
    let rootfs = PathBuf::from(path);
    let hostname = rootfs.parent().expect("parent").join("hostname");
    let mut s = ContainerSpec {
        id: "rootless".into(),
        rootfs,
        hostname: "box1".into(),
        domainname: String::new(),
        network: NetworkMode::None,
        etc_files: vec![("/etc/hostname".into(), hostname)],
        mounts: Vec::new(),
        readonly_root: false,
        process: process(&[
            "sh",
            "-c",
            "id -u; echo $$; hostname; cat /etc/hostname; tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '; \
             ls /dev/null /dev/pts/ptmx >/dev/null && echo devs; cat /proc/self/uid_map",
        ]),
        confinement: confinement(),
        init: false,
    };
    let o = run_spec(&s);
    assert_eq!(o.code, 0, "{}", o.err);
    let lines: Vec<&str> = o.out.lines().collect();
    assert_eq!(&lines[..6], ["0", "1", "box1", "box1", "lo", "devs"], "{}", o.out);
    assert!(lines[6].split_whitespace().eq(["0", "65534", "1"]), "{}", o.out);

    // Host network: sysfs falls back to the host's /sys, read-only.
    s.network = NetworkMode::Host;
    s.process = process(&["sh", "-c", "touch /sys/x 2>/dev/null || echo sys-ro; sleep 100"]);
    let c = capture();
    let running = run::start(helper(), &s, c.stdio).expect("start");
    let e = capture();
    let exec = run::exec(
        helper(),
        running.pid(),
        &process(&["sh", "-c", "id -u; hostname; echo $$"]),
        &confinement(),
        e.stdio,
    )
    .expect("exec");
    let x = finish(exec, e.out, e.err);
    assert_eq!(x.code, 0, "{}", x.err);
    let lines: Vec<&str> = x.out.lines().collect();
    assert_eq!(&lines[..2], ["0", "box1"], "{}", x.out);
    assert_ne!(lines[2], "1");
    // A user other than root is not mapped: a clear error.
    let e = capture();
    let mut p = process(&["id"]);
    p.user = "nobody".into();
    let err = run::exec(helper(), running.pid(), &p, &confinement(), e.stdio).expect_err("unmapped user");
    eprintln!("unmapped user: {err}");
    // exec -t: a terminal of the container's devpts, made in the user
    // namespace.
    let mut p = process(&["sh", "-c", "tty; stty size"]);
    p.tty = true;
    p.console_size = Some((5, 6));
    let exec = run::exec(helper(), running.pid(), &p, &confinement(), Stdio::Terminal).expect("exec -t");
    let out = reader(std::io::PipeReader::from(exec.take_pty_master().expect("master")));
    assert_eq!(exec.wait().expect("wait"), 0);
    let out = out.join().expect("reader");
    assert!(out.contains("/dev/pts/0\r\n5 6"), "{out:?}");
    running.signal(9).expect("kill");
    let o = finish(running, c.out, c.err);
    assert_eq!(o.code, 137);
    assert!(o.out.contains("sys-ro"), "{}", o.out);
    // run -t
    s.process = process(&["sh", "-c", "tty; id -u"]);
    s.process.tty = true;
    let running = run::start(helper(), &s, Stdio::Terminal).expect("run -t");
    let out = reader(std::io::PipeReader::from(running.take_pty_master().expect("master")));
    assert_eq!(running.wait().expect("wait"), 0);
    let out = out.join().expect("reader");
    assert!(out.contains("/dev/pts/0\r\n0"), "{out:?}");
    println!("rootless-ok");
}

//! Containers through stratad: run, attach, exec, the lifecycle, exit
//! codes, the host's protection, bad input, and state across restarts —
//! with `strata` and, where installed, the real `docker` CLI.

use crate::util::{Daemon, SmallDisk, fuse_unavailable, output_within, rootless_daemon, text, which};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

/// A daemon with the default busybox image, or None (with the reason
/// printed) where containers cannot run.
fn daemon() -> Option<Daemon> {
    if let Some(why) = fuse_unavailable() {
        crate::util::skip(why);
        return None;
    }
    let d = Daemon::start();
    d.import_busybox();
    Some(d)
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `strata ARGS`, which must succeed; its stdout.
fn ok(d: &Daemon, args: &[&str]) -> String {
    let out = d.strata(args);
    assert!(out.status.success(), "strata {args:?}: {}", text(&out));
    stdout(&out)
}

fn container_dir(d: &Daemon, id: &str) -> std::path::PathBuf {
    d.root.join("containers").join(id)
}

#[test]
fn run_prints_output_and_rm_leaves_nothing() {
    let Some(d) = daemon() else { return };
    let out = d.strata(&["run", "--rm", "busybox", "echo", "hi"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(stdout(&out), "hi\n");
    // --rm: no container and no writable layer left.
    crate::util::wait_for(|| ok(&d, &["ps", "-aq"]).is_empty(), "the --rm container to go");
    let left: Vec<_> = std::fs::read_dir(d.root.join("containers")).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn a_container_is_pid_1_in_its_own_namespaces_on_the_image_root() {
    let Some(d) = daemon() else { return };
    let out = d.strata(&[
        "run",
        "--name",
        "t",
        "busybox",
        "sh",
        "-c",
        "echo $$; hostname; tr '\\0' ' ' < /proc/1/cmdline; echo; ls /; ls /proc | grep -c '^[0-9]'",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let s = stdout(&out);
    let lines: Vec<&str> = s.lines().collect();
    assert_eq!(lines[0], "1", "{s}");
    let inspect: serde_json::Value = serde_json::from_str(&ok(&d, &["inspect", "t"])).unwrap();
    let c = &inspect[0];
    let id = c["Id"].as_str().unwrap();
    assert_eq!(lines[1], &id[..12], "hostname: {s}");
    assert_eq!(c["Config"]["Hostname"], &id[..12]);
    assert!(lines[2].starts_with("sh -c echo $$;"), "{s}");
    // The image's root, plus what the runtime mounts.
    for entry in ["bin", "etc", "proc", "dev", "sys"] {
        assert!(lines.contains(&entry), "{entry} missing from / in {s}");
    }
    // Only the container's own processes are visible (sh, ls/grep).
    let pids: usize = lines.last().unwrap().trim().parse().unwrap();
    assert!(pids <= 4, "{pids} processes visible: {s}");
    assert_eq!(c["State"]["Status"], "exited");
    assert_eq!(c["State"]["ExitCode"], 0);
    assert_eq!(c["Name"], "/t");
    assert!(
        c["GraphDriver"]["Data"]["UpperDir"]
            .as_str()
            .unwrap()
            .ends_with("/upper")
    );
}

#[test]
fn exit_codes_propagate_and_ps_shows_them() {
    let Some(d) = daemon() else { return };
    let out = d.strata(&["run", "--name", "three", "busybox", "sh", "-c", "exit 3"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let ps = ok(&d, &["ps", "-a"]);
    let line = ps
        .lines()
        .find(|l| l.ends_with("three"))
        .unwrap_or_else(|| panic!("{ps}"));
    assert!(line.contains("Exited (3) ") && line.contains(" ago"), "{ps}");
    assert!(ps.starts_with("CONTAINER ID"), "{ps}");
    // Not running: `ps` without -a leaves it out.
    assert!(!ok(&d, &["ps"]).contains("three"));

    // Killed by SIGKILL: 128 + 9, through kill and through stop's timeout.
    let id = ok(&d, &["run", "-d", "--name", "k", "busybox", "sleep", "100"]);
    let id = id.trim();
    assert_eq!(id.len(), 64, "{id}");
    assert!(ok(&d, &["ps"]).contains("Up "), "running");
    assert_eq!(ok(&d, &["kill", "k"]).trim(), "k");
    assert_eq!(ok(&d, &["wait", "k"]).trim(), "137");
    // sleep as PID 1 ignores SIGTERM: stop kills it after the timeout.
    ok(&d, &["start", "k"]);
    let started = std::time::Instant::now();
    ok(&d, &["stop", "-t", "1", "k"]);
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert!(ok(&d, &["inspect", "k"]).contains("\"ExitCode\": 137"));
    // A process that handles SIGTERM stops at once with its own code.
    ok(
        &d,
        &[
            "run",
            "-d",
            "--name",
            "g",
            "busybox",
            "sh",
            "-c",
            "trap 'exit 7' TERM; while true; do sleep 0.1; done",
        ],
    );
    std::thread::sleep(Duration::from_millis(300));
    ok(&d, &["stop", "-t", "20", "g"]);
    assert_eq!(ok(&d, &["wait", "g"]).trim(), "7");
    // rm of a running container: 409 without -f.
    ok(&d, &["start", "g"]);
    let out = d.strata(&["rm", "g"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("container is running: stop the container before removing or force remove"),
        "{}",
        text(&out)
    );
    ok(&d, &["rm", "-f", "g", "k", "three"]);
    assert!(!container_dir(&d, id).exists(), "the writable layer of k is gone");
    assert!(ok(&d, &["ps", "-a"]).lines().count() == 1);
}

#[test]
fn exec_runs_a_second_process_in_the_container() {
    let Some(d) = daemon() else { return };
    ok(
        &d,
        &[
            "run",
            "-d",
            "--name",
            "e",
            "busybox",
            "sh",
            "-c",
            "echo started > /state; sleep 100",
        ],
    );
    crate::util::wait_for(
        || d.strata(&["exec", "e", "cat", "/state"]).stdout == b"started\n",
        "the container to write /state",
    );
    let out = ok(
        &d,
        &[
            "exec",
            "e",
            "sh",
            "-c",
            "echo $$; hostname; cat /proc/1/cmdline | tr '\\0' ' '",
        ],
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_ne!(lines[0], "1", "{out}");
    let inspect = ok(&d, &["inspect", "e"]);
    let v: serde_json::Value = serde_json::from_str(&inspect).unwrap();
    assert_eq!(lines[1], v[0]["Config"]["Hostname"].as_str().unwrap());
    // busybox sh execs its last command: PID 1 is now the sleep.
    assert_eq!(lines[2], "sleep 100 ", "{out}");
    let out = d.strata(&["exec", "e", "sh", "-c", "exit 4"]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    // stdin reaches an exec with -i.
    let out = d.strata_stdin(
        &["exec", "-i", "e", "sh", "-c", "cat > /from-stdin; wc -c < /from-stdin"],
        b"12345",
    );
    assert_eq!(stdout(&out).trim(), "5", "{}", text(&out));
    let top = ok(&d, &["top", "e"]);
    assert!(top.starts_with("UID") && top.contains("sleep 100"), "{top}");
    // Docker's exit code and words for an exec that cannot start.
    let out = d.strata(&["exec", "e", "nosuchcmd"]);
    assert_eq!(out.status.code(), Some(126), "{}", text(&out));
    assert!(
        stdout(&out).contains(
            "OCI runtime exec failed: exec failed: unable to start container process: exec: \"nosuchcmd\": executable file not found in $PATH"
        ),
        "{}",
        text(&out)
    );
    ok(&d, &["rm", "-f", "e"]);
    let out = d.strata(&["exec", "e", "true"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("No such container: e"),
        "{}",
        text(&out)
    );
}

#[test]
fn the_host_is_protected() {
    let Some(d) = daemon() else { return };
    let marker = d.dir.path().join("host-only-marker");
    std::fs::write(&marker, "x").unwrap();
    let script = format!(
        "ls /proc/1/root/; echo ---; cd /../../..; pwd; ls; echo ---; ls {}; echo ---; echo inside > /written; ls /proc | grep -c '^[0-9]'",
        marker.display()
    );
    let out = d.strata(&["run", "--name", "p", "busybox", "sh", "-c", &script]);
    let s = stdout(&out);
    let parts: Vec<&str> = s.split("---\n").collect();
    assert_eq!(parts.len(), 4, "{}", text(&out));
    assert!(parts[0].contains("bin") && parts[0].contains("proc"), "{s}");
    assert!(parts[1].starts_with("/\n") && parts[1].contains("bin"), "{s}");
    assert!(parts[2].trim().is_empty(), "a host path is visible: {s}");
    let v: serde_json::Value = serde_json::from_str(&ok(&d, &["inspect", "p"])).unwrap();
    let id = v[0]["Id"].as_str().unwrap().to_string();
    // The file landed in this container's upper only.
    let upper = container_dir(&d, &id).join("upper");
    assert_eq!(std::fs::read_to_string(upper.join("written")).unwrap(), "inside\n");
    assert!(!std::path::Path::new("/written").exists());
    for layer in std::fs::read_dir(d.root.join("layers")).unwrap() {
        assert!(!layer.unwrap().path().join("root/written").exists());
    }
    // --network none: loopback only.
    let out = ok(
        &d,
        &["run", "--rm", "--network", "none", "busybox", "cat", "/proc/net/dev"],
    );
    let ifaces: Vec<&str> = out
        .lines()
        .skip(2)
        .map(|l| l.trim().split(':').next().unwrap())
        .collect();
    assert_eq!(ifaces, ["lo"], "{out}");
}

#[test]
fn bad_input_gets_docker_errors_and_leaves_nothing() {
    let Some(d) = daemon() else { return };
    let before = std::fs::read_dir(d.root.join("containers")).unwrap().count();
    let out = d.strata(&["run", "--rm", "nosuchimage", "true"]);
    assert_eq!(out.status.code(), Some(125), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("No such image: nosuchimage"),
        "{}",
        text(&out)
    );
    assert_eq!(std::fs::read_dir(d.root.join("containers")).unwrap().count(), before);

    let out = d.strata(&["run", "--name", "nocmd", "busybox", "nosuchcmd"]);
    assert_eq!(out.status.code(), Some(127), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("exec: \"nosuchcmd\": executable file not found in $PATH"),
        "{}",
        text(&out)
    );
    let out = d.strata(&["run", "--rm", "busybox", "/etc"]);
    assert_eq!(out.status.code(), Some(126), "{}", text(&out));

    ok(&d, &["create", "--name", "dup", "busybox", "true"]);
    let out = d.strata(&["create", "--name", "dup", "busybox", "true"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("The container name \"/dup\" is already in use"),
        "{}",
        text(&out)
    );
    let (status, _) = d.http(
        "POST",
        "/containers/create?name=dup",
        br#"{"Image":"busybox","Cmd":["true"]}"#,
    );
    assert_eq!(status, 409);

    let out = d.strata(&["run", "--rm", "-u", "nosuchuser", "busybox", "id"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("unable to find user nosuchuser"),
        "{}",
        text(&out)
    );
    let out = d.strata(&["run", "--rm", "-u", "a:b:c", "busybox", "id"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("invalid user"),
        "{}",
        text(&out)
    );
    let out = ok(
        &d,
        &["run", "--rm", "-u", "1234:5678", "busybox", "sh", "-c", "id -u; id -g"],
    );
    assert_eq!(out, "1234\n5678\n");

    ok(&d, &["rm", "dup", "nocmd"]);
    let out = d.strata(&["start", "dup"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("No such container: dup"),
        "{}",
        text(&out)
    );
    let (status, body) = d.http("POST", "/containers/dup/start", b"");
    assert_eq!(status, 404, "{body}");
    let (status, body) = d.http("POST", "/containers/create", b"{not json");
    assert_eq!(status, 400, "{body}");
    let (status, body) = d.http("POST", "/containers/create?name=a/b", br#"{"Image":"busybox"}"#);
    assert_eq!(status, 400, "{body}");
    // Images in use are not deleted.
    ok(&d, &["create", "--name", "holder", "busybox", "true"]);
    let out = d.strata(&["rmi", "busybox"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is using its referenced image"),
        "{}",
        text(&out)
    );
    assert!(ok(&d, &["images"]).contains("busybox"));
}

#[test]
fn logs_keep_both_streams() {
    let Some(d) = daemon() else { return };
    ok(
        &d,
        &[
            "run",
            "-d",
            "--name",
            "l",
            "busybox",
            "sh",
            "-c",
            "echo out; echo err >&2; sleep 0.2; echo out2",
        ],
    );
    assert_eq!(ok(&d, &["wait", "l"]).trim(), "0");
    let out = d.strata(&["logs", "l"]);
    assert_eq!(stdout(&out), "out\nout2\n", "{}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stderr), "err\n");
    let out = ok(&d, &["logs", "--tail", "1", "l"]);
    assert_eq!(out, "out2\n");
    // Follow a running container's output to its end.
    ok(
        &d,
        &[
            "run",
            "-d",
            "--name",
            "f",
            "busybox",
            "sh",
            "-c",
            "for i in 1 2 3; do echo $i; sleep 0.2; done",
        ],
    );
    let out = ok(&d, &["logs", "-f", "f"]);
    assert_eq!(out, "1\n2\n3\n");
}

/// Runs `strata ARGS` on a pseudo-terminal (via `script`), typing `input`
/// once the command has had time to start.
fn on_terminal(d: &Daemon, args: &str, input: &str) -> Output {
    let cmd = format!("{} -H {} {args}", env!("CARGO_BIN_EXE_strata"), d.host());
    terminal(&cmd, input)
}

/// The docker CLI on a pseudo-terminal, pointed at `d`.
fn docker_on_terminal(d: &Daemon, args: &str, input: &str) -> Output {
    let config = d.dir.path().join("docker-config");
    let cmd = format!("env DOCKER_CONFIG={} docker -H {} {args}", config.display(), d.host());
    terminal(&cmd, input)
}

fn terminal(cmd: &str, input: &str) -> Output {
    let args = cmd;
    let feeder = format!("sleep 1; printf '{input}'; sleep 10");
    let child = Command::new("sh")
        .arg("-c")
        .arg(format!("({feeder}) | script -qefc \"{cmd}\" /dev/null"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("script");
    output_within(child, Duration::from_secs(60), &format!("script {args}"))
}

#[test]
fn interactive_shell_on_a_terminal_then_start_ai_again() {
    let Some(d) = daemon() else { return };
    if which("script").is_none() {
        crate::util::skip("script(1) is not installed");
        return;
    }
    // `tty | tr / X`: the terminal echoes the typed command, not its output.
    let out = on_terminal(
        &d,
        "run -it --name git busybox sh",
        "echo made > /marker; test -t 0 && echo IS-$((1+1))TTY; tty | tr / X; exit\\r",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let s = stdout(&out);
    assert!(s.contains("IS-2TTY"), "stdin is a terminal: {s}");
    assert!(s.contains("XdevXptsX0"), "the container's own terminal: {s}");
    let out = on_terminal(&d, "start -ai git", "cat /marker; exit 5\\r");
    assert_eq!(out.status.code(), Some(5), "{}", text(&out));
    assert!(stdout(&out).contains("made"), "{}", text(&out));
    // Detach with Ctrl-P Ctrl-Q leaves it running; attach again.
    let out = on_terminal(&d, "start -ai git", "\\020\\021");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(ok(&d, &["ps"]).contains("git"));
    // exec -it: a terminal of the container's devpts too (pts/0 is the
    // container's).
    let out = on_terminal(&d, "exec -it git sh", "tty | tr / X; exit 3\\r");
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(stdout(&out).contains("XdevXptsX1"), "{}", text(&out));
    let out = on_terminal(&d, "attach git", "exit 6\\r");
    assert_eq!(out.status.code(), Some(6), "{}", text(&out));
}

#[test]
fn containers_survive_a_daemon_restart() {
    let Some(mut d) = daemon() else { return };
    ok(
        &d,
        &[
            "run",
            "--name",
            "keep",
            "busybox",
            "sh",
            "-c",
            "cat /file 2>/dev/null; echo kept > /file",
        ],
    );
    ok(&d, &["run", "-d", "--name", "crash", "busybox", "sleep", "100"]);
    let crash_pid: u32 = {
        let v: serde_json::Value = serde_json::from_str(&ok(&d, &["inspect", "crash"])).unwrap();
        v[0]["State"]["Pid"].as_u64().unwrap() as u32
    };
    assert!(crash_pid > 0);
    d.kill();
    // The container's processes die with the daemon.
    crate::util::wait_for(
        || !std::path::Path::new(&format!("/proc/{crash_pid}")).exists(),
        "the container to die with the daemon",
    );
    d.spawn();
    let ps = ok(&d, &["ps", "-a"]);
    assert!(
        ps.lines().any(|l| l.ends_with("keep") && l.contains("Exited (0)")),
        "{ps}"
    );
    assert!(
        ps.lines().any(|l| l.ends_with("crash") && l.contains("Exited (255)")),
        "{ps}"
    );
    // The same container, started again, still has its file.
    let out = ok(&d, &["start", "-a", "keep"]);
    assert_eq!(out, "kept\n");
    let out = d.strata(&["run", "--rm", "busybox", "cat", "/file"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a new container does not see another's file: {}",
        text(&out)
    );
    // One that died with the daemon starts again.
    let out = d.strata(&["restart", "crash"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = ok(&d, &["exec", "crash", "true"]);
    assert_eq!(out, "");
    ok(&d, &["rm", "-f", "crash"]);
    let v: serde_json::Value = serde_json::from_str(&ok(&d, &["inspect", "keep"])).unwrap();
    let upper = std::path::PathBuf::from(v[0]["GraphDriver"]["Data"]["UpperDir"].as_str().unwrap());
    assert_eq!(std::fs::read_to_string(upper.join("file")).unwrap(), "kept\n");
}

#[test]
fn docker_cli_runs_containers_on_stratad() {
    let Some(d) = daemon() else { return };
    if d.docker(&["version"]).is_none() {
        crate::util::skip("the docker CLI is not installed");
        return;
    }
    let docker = |args: &[&str]| d.docker(args).unwrap();
    let out = docker(&["run", "--rm", "busybox", "echo", "hi"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(stdout(&out), "hi\n");
    let out = docker(&["run", "--name", "t", "busybox", "sh", "-c", "echo $$; hostname"]);
    assert!(out.status.success(), "{}", text(&out));
    let s = stdout(&out);
    assert!(s.starts_with("1\n"), "{s}");
    let out = docker(&["run", "--name", "three", "busybox", "sh", "-c", "exit 3"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let out = docker(&["ps", "-a"]);
    let ps = stdout(&out);
    assert!(
        ps.lines().any(|l| l.ends_with("three") && l.contains("Exited (3)")),
        "{ps}"
    );
    let out = docker(&["run", "-d", "--name", "bg", "busybox", "sleep", "100"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = docker(&["exec", "bg", "sh", "-c", "echo $$"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_ne!(stdout(&out).trim(), "1");
    let out = docker(&["exec", "bg", "sh", "-c", "exit 9"]);
    assert_eq!(out.status.code(), Some(9), "{}", text(&out));
    // An attached exec that cannot start prints why, as with Docker (not
    // "unable to upgrade to tcp, received 400").
    let out = docker(&["exec", "bg", "nosuchcmd"]);
    assert_eq!(out.status.code(), Some(126), "{}", text(&out));
    assert!(
        stdout(&out).contains("exec: \"nosuchcmd\": executable file not found in $PATH"),
        "{}",
        text(&out)
    );
    let out = docker(&["exec", "-d", "bg", "nosuchcmd"]);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("executable file not found"),
        "{}",
        text(&out)
    );
    let out = docker(&["logs", "t"]);
    assert!(stdout(&out).starts_with("1\n"), "{}", text(&out));
    let out = docker(&["run", "--rm", "busybox", "nosuchcmd"]);
    assert_eq!(out.status.code(), Some(127), "{}", text(&out));
    let out = docker(&["run", "--rm", "nosuchimage"]);
    assert!(!out.status.success());
    // The tutorial's interactive flow, through a pseudo-terminal.
    if which("script").is_some() {
        let out = docker_on_terminal(
            &d,
            "run -it --name git busybox sh",
            "echo made > /marker; test -t 0 && echo IS-$((1+1))TTY; tty | tr / X; exit\\r",
        );
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        assert!(stdout(&out).contains("IS-2TTY"), "{}", text(&out));
        assert!(stdout(&out).contains("XdevXptsX0"), "{}", text(&out));
        let out = docker_on_terminal(&d, "start -ai git", "cat /marker; exit 5\\r");
        assert_eq!(out.status.code(), Some(5), "{}", text(&out));
        assert!(stdout(&out).contains("made"), "{}", text(&out));
        let out = docker_on_terminal(&d, "exec -it bg sh", "echo $((2+3))X; tty | tr / X; exit 2\\r");
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        assert!(stdout(&out).contains("5X"), "{}", text(&out));
        assert!(stdout(&out).contains("XdevXptsX0"), "{}", text(&out));
        let out = docker(&["rm", "git"]);
        assert!(out.status.success(), "{}", text(&out));
    }
    let out = docker(&["create", "--name", "t", "busybox"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is already in use"),
        "{}",
        text(&out)
    );
    let out = docker(&["kill", "bg"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = docker(&["wait", "bg"]);
    assert_eq!(stdout(&out).trim(), "137", "{}", text(&out));
    let out = docker(&["rm", "t", "three", "bg"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(ok(&d, &["ps", "-aq"]), "");
}

#[test]
fn diff_lists_a_containers_changes_as_docker_does() {
    let Some(d) = daemon() else { return };
    // busybox's image: /bin/* applets, /etc/{passwd,group}, /root, /tmp, /home …
    let script = "mkdir -p /srv/new/deep && echo x > /srv/new/deep/file && echo more >> /etc/passwd \
        && chmod 700 /home && rm /etc/group && rm -r /var && mv /root /moved && echo y > /tmp/t";
    ok(&d, &["run", "--name", "ch", "busybox", "sh", "-c", script]);
    let expected = "\
C /etc
D /etc/group
C /etc/passwd
C /home
A /moved
D /root
A /srv
A /srv/new
A /srv/new/deep
A /srv/new/deep/file
C /tmp
A /tmp/t
D /var
";
    assert_eq!(ok(&d, &["diff", "ch"]), expected);
    if let Some(out) = d.docker(&["diff", "ch"]) {
        assert_eq!(stdout(&out), expected, "{}", text(&out));
    }
    // What the runtime makes (/etc/hostname and friends, /dev, /proc) is no
    // change, not even to /etc.
    ok(&d, &["run", "--name", "nothing", "busybox", "true"]);
    assert_eq!(ok(&d, &["diff", "nothing"]), "");
    let out = d.strata(&["diff", "nosuch"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("No such container: nosuch"));
}

#[test]
fn an_attached_client_forwards_its_signals() {
    let Some(d) = daemon() else { return };
    let child = Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(["-H", &d.host(), "run", "--name", "sig", "busybox", "sh", "-c"])
        .arg("trap 'echo got-int; exit 42' INT; echo ready; while true; do sleep 0.1; done")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("strata run");
    let pid = child.id();
    crate::util::wait_for(
        || stdout(&d.strata(&["logs", "sig"])).contains("ready"),
        "the container to trap INT",
    );
    assert!(
        Command::new("kill")
            .args(["-INT", &pid.to_string()])
            .status()
            .unwrap()
            .success()
    );
    let out = output_within(child, Duration::from_secs(30), "strata run (signalled)");
    assert_eq!(out.status.code(), Some(42), "{}", text(&out));
    assert!(stdout(&out).contains("got-int"), "{}", text(&out));
}

/// A rootless daemon (the test's unprivileged user, /dev/fuse opened up as
/// distributions ship it) runs containers in a user namespace: root inside
/// is that user outside, and the image's files show as root's.
#[test]
fn a_rootless_daemon_runs_containers_in_a_user_namespace() {
    let Some(d) = rootless_daemon() else { return };
    let (uid, _) = crate::fs::test_user();
    let out = ok(
        &d,
        &[
            "run",
            "--rm",
            "busybox",
            "sh",
            "-c",
            "id -u; cat /proc/self/uid_map; stat -c %u /etc/passwd; echo $$; echo w > /etc/new && cat /etc/new",
        ],
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "0", "{out}");
    let map: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(map, ["0", &uid.to_string(), "1"], "{out}");
    assert_eq!(&lines[2..], ["0", "1", "w"], "{out}");
    let id = ok(&d, &["run", "-d", "busybox", "sleep", "100"]);
    let id = id.trim();
    let pid: u32 = {
        let v: serde_json::Value = serde_json::from_str(&ok(&d, &["inspect", id])).unwrap();
        v[0]["State"]["Pid"].as_u64().unwrap() as u32
    };
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let host_uid = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    assert!(
        host_uid.split_whitespace().nth(1) == Some(&uid.to_string()),
        "{host_uid}"
    );
    assert_eq!(ok(&d, &["exec", id, "id", "-u"]).trim(), "0");
    // Terminals are made in the container's devpts, in the user namespace.
    if which("script").is_some() {
        let out = on_terminal(&d, "run -it --rm busybox sh", "tty | tr / X; exit 4\\r");
        assert_eq!(out.status.code(), Some(4), "{}", text(&out));
        assert!(stdout(&out).contains("XdevXptsX0"), "{}", text(&out));
        let out = on_terminal(&d, &format!("exec -it {id} sh"), "tty | tr / X; exit 3\\r");
        assert_eq!(out.status.code(), Some(3), "{}", text(&out));
        assert!(stdout(&out).contains("XdevXptsX0"), "{}", text(&out));
    }
    ok(&d, &["rm", "-f", id]);
}

#[test]
fn run_flags_set_the_environment_directory_user_and_host_name() {
    let Some(d) = daemon() else { return };
    let out = ok(
        &d,
        &[
            "run",
            "--rm",
            "-e",
            "FOO=bar",
            "-w",
            "/tmp/work",
            "--hostname",
            "box",
            "-u",
            "nobody",
            "busybox",
            "sh",
            "-c",
            "echo $FOO; pwd; hostname; id -un; echo $HOME; echo $PATH",
        ],
    );
    assert_eq!(
        out,
        "bar\n/tmp/work\nbox\nnobody\n/nonexistent\n/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"
    );
    let out = ok(
        &d,
        &["run", "--rm", "--entrypoint", "echo", "busybox", "from", "entrypoint"],
    );
    assert_eq!(out, "from entrypoint\n");
    // The image's CMD (sh) with stdin kept open: a script on stdin runs.
    let out = d.strata_stdin(&["run", "--rm", "-i", "busybox"], b"echo piped; exit 9\n");
    assert_eq!(out.status.code(), Some(9), "{}", text(&out));
    assert_eq!(stdout(&out), "piped\n");
}

/// The tutorial's point: a container's changes become a layer on top of
/// its image's layers, shared, not copied.
#[test]
fn commit_freezes_the_changes_into_a_new_layer_and_image() {
    let Some(d) = daemon() else { return };
    // The chmod of /bin/busybox copies up its metadata only (stratad mounts
    // with metacopy): the commit must still store its data, read through
    // the mount, or nothing would run from the new image (every command is
    // a symlink to it).
    let script = "mkdir -p /srv/app && echo hello > /srv/app/greeting && echo extra >> /etc/passwd \
        && chmod 700 /home && rm /etc/group && rm -r /var && mv /root /moved && chmod 700 /bin/busybox";
    let busybox_sum = ok(&d, &["run", "--rm", "busybox", "sha256sum", "/bin/busybox"]);
    ok(&d, &["run", "--name", "git", "busybox", "sh", "-c", script]);
    let expected = "\
C /bin
C /bin/busybox
C /etc
D /etc/group
C /etc/passwd
C /home
A /moved
D /root
A /srv
A /srv/app
A /srv/app/greeting
D /var
";
    assert_eq!(ok(&d, &["diff", "git"]), expected);
    let upper = d.inspect("git")["GraphDriver"]["Data"]["UpperDir"]
        .as_str()
        .unwrap()
        .to_string();
    let copied = std::fs::metadata(std::path::Path::new(&upper).join("bin/busybox")).unwrap();
    use std::os::unix::fs::MetadataExt;
    assert!(
        copied.len() > 100_000 && copied.blocks() == 0,
        "no data copied up for a chmod"
    );

    // The layer commit will write: its entries and whiteouts, OCI style.
    let out = d.strata(&["diff", "--tar", "git"]);
    assert!(out.status.success(), "{}", text(&out));
    let tar = out.stdout;
    let tar_path = d.dir.path().join("layer.tar");
    std::fs::write(&tar_path, &tar).unwrap();
    let listing = Command::new("tar").arg("-tf").arg(&tar_path).output().unwrap();
    assert_eq!(
        stdout(&listing),
        "bin/\nbin/busybox\netc/\netc/.wh.group\netc/passwd\nhome/\nmoved/\n.wh.root\nsrv/\nsrv/app/\nsrv/app/greeting\n.wh.var\n"
    );

    let parent = d.inspect("busybox");
    let id = ok(
        &d,
        &["commit", "-m", "the tutorial", "-a", "Tutor", "git", "busybox:git"],
    );
    let id = id.trim();
    assert!(id.starts_with("sha256:") && id.len() == 71, "{id}");
    let images = ok(&d, &["images"]);
    assert!(
        images.lines().any(|l| l.starts_with("busybox ") && l.contains(" git ")),
        "{images}"
    );
    assert!(
        images
            .lines()
            .any(|l| l.starts_with("busybox ") && l.contains(" latest ")),
        "{images}"
    );
    let image = d.inspect("busybox:git");
    assert_eq!(image["Id"], id);
    let parent_layers = parent["RootFS"]["Layers"].as_array().unwrap().clone();
    let layers = image["RootFS"]["Layers"].as_array().unwrap();
    assert_eq!(layers.len(), parent_layers.len() + 1);
    assert_eq!(
        layers[..parent_layers.len()],
        parent_layers[..],
        "the parent's layers, unchanged"
    );
    // The committed layer is exactly the tar above: its sha256 is the diff_id.
    assert_eq!(
        layers.last().unwrap().as_str().unwrap(),
        format!("sha256:{}", crate::util::sha256_hex(&tar))
    );
    assert_eq!(image["Author"], "Tutor");
    assert_eq!(image["Comment"], "the tutorial");
    assert_eq!(image["Config"]["Cmd"], serde_json::json!(["sh", "-c", script]));
    let history = ok(&d, &["history", "busybox:git"]);
    let first = history.lines().nth(1).unwrap();
    assert!(
        first.starts_with(&id[7..19]) && first.contains("the tutorial"),
        "{history}"
    );
    // Shared, not copied: one directory per distinct layer.
    let stored = std::fs::read_dir(d.root.join("layers")).unwrap().count();
    assert_eq!(stored, layers.len());

    // A new container from the new image sees the changes.
    let out = ok(
        &d,
        &[
            "run",
            "--rm",
            "busybox:git",
            "sh",
            "-c",
            "cat /srv/app/greeting; tail -n1 /etc/passwd; stat -c %a /home; ls /etc/group /var /root 2>&1 | wc -l; ls -d /moved; stat -c %a /bin/busybox",
        ],
    );
    assert_eq!(out, "hello\nextra\n700\n3\n/moved\n700\n");
    assert_eq!(
        ok(&d, &["run", "--rm", "busybox:git", "sha256sum", "/bin/busybox"]),
        busybox_sum,
        "the committed busybox has its data"
    );

    // The same changes again: the same layer, stored once.
    ok(&d, &["commit", "git", "busybox:again"]);
    let again = d.inspect("busybox:again");
    assert_eq!(again["RootFS"]["Layers"], image["RootFS"]["Layers"]);
    assert_eq!(std::fs::read_dir(d.root.join("layers")).unwrap().count(), layers.len());

    // No changes: no layer, an empty_layer history entry.
    ok(&d, &["create", "--name", "clean", "busybox", "true"]);
    ok(
        &d,
        &[
            "commit",
            "-c",
            "CMD [\"echo\",\"from-cmd\"]",
            "-c",
            "ENV A=1",
            "-c",
            "WORKDIR /srv",
            "-c",
            "USER nobody",
            "-c",
            "LABEL k=v",
            "-c",
            "EXPOSE 80",
            "clean",
            "busybox:changed",
        ],
    );
    let changed = d.inspect("busybox:changed");
    assert_eq!(changed["RootFS"]["Layers"], parent["RootFS"]["Layers"]);
    let config = &changed["Config"];
    assert_eq!(config["Cmd"], serde_json::json!(["echo", "from-cmd"]));
    assert!(
        config["Env"].as_array().unwrap().contains(&serde_json::json!("A=1")),
        "{config}"
    );
    assert_eq!(config["WorkingDir"], "/srv");
    assert_eq!(config["User"], "nobody");
    assert_eq!(config["Labels"]["k"], "v");
    assert!(config["ExposedPorts"].get("80/tcp").is_some(), "{config}");
    let raw = ok(&d, &["inspect", "--config-raw", "busybox:changed"]);
    let raw: serde_json::Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(raw["history"].as_array().unwrap().last().unwrap()["empty_layer"], true);
    assert_eq!(ok(&d, &["run", "--rm", "busybox:changed"]), "from-cmd\n");

    // Bad input: clear errors, nothing written.
    let before = d.store_snapshot();
    for (args, status_text) in [
        (vec!["commit", "nosuch", "x:y"], "No such container: nosuch"),
        (vec!["commit", "git", "UPPER:case"], "invalid"),
        (vec!["commit", "-c", "BOGUS x", "git", "x:y"], "BOGUS"),
    ] {
        let out = d.strata(&args);
        assert!(!out.status.success(), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(status_text),
            "{args:?}: {}",
            text(&out)
        );
    }
    let (status, _) = d.http("POST", "/commit?container=nosuch", b"");
    assert_eq!(status, 404);
    let (status, _) = d.http("POST", "/commit?container=git&repo=UPPER", b"");
    assert_eq!(status, 400);
    let after = d.store_snapshot();
    let changed: Vec<_> = after
        .iter()
        .filter(|x| !before.contains(x))
        .chain(before.iter().filter(|x| !after.contains(x)))
        .collect();
    assert!(changed.is_empty(), "the bad commits wrote: {changed:?}");

    // The docker CLI commits too.
    if let Some(out) = d.docker(&["commit", "git", "busybox:docker"]) {
        assert!(out.status.success(), "{}", text(&out));
        let image = d.inspect("busybox:docker");
        assert_eq!(image["RootFS"]["Layers"], d.inspect("busybox:git")["RootFS"]["Layers"]);
        let out = d.docker(&["history", "busybox:docker"]).unwrap();
        assert!(stdout(&out).lines().count() >= 3, "{}", text(&out));
    }
}

/// The tutorial with the docker CLI, typed into a terminal.
#[test]
fn docker_cli_tutorial_run_it_diff_commit() {
    let Some(d) = daemon() else { return };
    if d.docker(&["version"]).is_none() || which("script").is_none() {
        crate::util::skip("needs the docker CLI and script(1)");
        return;
    }
    let docker = |args: &[&str]| {
        let out = d.docker(args).unwrap();
        assert!(out.status.success(), "docker {args:?}: {}", text(&out));
        stdout(&out)
    };
    let out = docker_on_terminal(
        &d,
        "run -it --name git busybox sh",
        "mkdir /srv && echo hi > /srv/f && chmod 600 /etc/passwd && rm -r /var && mv /root /moved; exit\\r",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(
        docker(&["diff", "git"]),
        "C /etc\nC /etc/passwd\nA /moved\nD /root\nA /srv\nA /srv/f\nD /var\n"
    );
    let id = docker(&["commit", "-m", "tutorial", "git", "busybox:git"]);
    assert!(id.trim().starts_with("sha256:"), "{id}");
    let images = docker(&["images"]);
    assert!(
        images.lines().filter(|l| l.starts_with("busybox ")).count() == 2,
        "{images}"
    );
    let parent: serde_json::Value = serde_json::from_str(&docker(&["inspect", "busybox"])).unwrap();
    let child: serde_json::Value = serde_json::from_str(&docker(&["inspect", "busybox:git"])).unwrap();
    let (p, c) = (
        parent[0]["RootFS"]["Layers"].as_array().unwrap(),
        child[0]["RootFS"]["Layers"].as_array().unwrap(),
    );
    assert_eq!(c.len(), p.len() + 1);
    assert_eq!(c[..p.len()], p[..]);
    let history = docker(&["history", "busybox:git"]);
    assert!(history.lines().nth(1).unwrap().contains("tutorial"), "{history}");
    let out = docker(&[
        "run",
        "--rm",
        "busybox:git",
        "sh",
        "-c",
        "cat /srv/f; stat -c %a /etc/passwd; ls /var /root 2>&1 | wc -l; ls -d /moved",
    ]);
    assert_eq!(out, "hi\n600\n2\n/moved\n");
}

#[test]
fn a_commit_on_a_full_disk_says_so_and_leaves_nothing() {
    if let Some(why) = fuse_unavailable() {
        return crate::util::skip(why);
    }
    let mut d = Daemon::prepare();
    let _disk = SmallDisk::mount(&d, "20m");
    d.spawn();
    d.import_busybox();
    // 12 MB in the writable layer; its commit needs as much again.
    let out = d.strata(&[
        "run",
        "--name",
        "big",
        "busybox",
        "sh",
        "-c",
        "head -c 12000000 /dev/urandom > /big",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let images = ok(&d, &["images", "-q"]);
    let out = d.strata(&["commit", "big", "big:1"]);
    assert!(!out.status.success(), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("No space left on device"), "{}", text(&out));
    assert!(!err.contains("Broken pipe"), "{}", text(&out));
    assert_eq!(ok(&d, &["images", "-q"]), images, "no image was made");
    assert_eq!(
        std::fs::read_dir(d.root.join("tmp")).unwrap().count(),
        0,
        "nothing half-written"
    );
    ok(&d, &["rm", "big"]);
}

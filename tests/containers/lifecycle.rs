//! Create, start, exec, exit codes, flags, bad input and state across
//! daemon restarts, with strata and the docker CLI.

use super::{container_dir, daemon, docker_on_terminal, ok, stdout};
use crate::util::{part, require, text, tool};
use std::time::Duration;

#[test]
fn run_prints_output_and_rm_leaves_nothing() {
    let d = require!(daemon());
    let out = d.strata(&["run", "--rm", "busybox", "echo", "hi"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(stdout(&out), "hi\n");
    // --rm: no container and no writable layer left.
    crate::util::wait_for(|| ok(&d, &["ps", "-aq"]).is_empty(), "the --rm container to go");
    // Its writable layer is deleted after the wait returns (see engine::remove).
    let left = || std::fs::read_dir(d.root.join("containers")).unwrap().count();
    crate::util::wait_for(|| left() == 0, "the --rm container's directory to go");
}

#[test]
fn exit_codes_propagate_and_ps_shows_them() {
    let d = require!(daemon());
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
    let d = require!(daemon());
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
    // ps options go to the host's ps; its rows are the container's alone.
    let top = ok(&d, &["top", "e", "-o", "pid,args"]);
    let rows: Vec<&str> = top.lines().collect();
    assert!(rows[0].starts_with("PID") && rows[0].contains("COMMAND"), "{top}");
    assert_eq!(rows.len(), 2, "the sleep alone: {top}");
    assert!(rows[1].ends_with("sleep 100"), "{top}");
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
fn bad_input_gets_docker_errors_and_leaves_nothing() {
    let d = require!(daemon());
    let before = std::fs::read_dir(d.root.join("containers")).unwrap().count();
    // `--pull never`: the refusal itself, with no attempt to reach Docker Hub.
    let out = d.strata(&["run", "--rm", "--pull", "never", "nosuchimage", "true"]);
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

    // The init fails before it waits to be confined, while the shim moves
    // it into its cgroups: whichever ends first, the init's reason is what
    // is reported (a few tries, as the order varies).
    for _ in 0..8 {
        let out = d.strata(&["run", "--rm", "-u", "nosuchuser", "busybox", "id"]);
        assert!(!out.status.success());
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("unable to find user nosuchuser"),
            "{}",
            text(&out)
        );
    }
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
fn containers_survive_a_daemon_restart() {
    let mut d = require!(daemon());
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
    let d = require!(daemon());
    require!(d.docker_cli());
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
    let out = docker(&["run", "--rm", "--pull", "never", "nosuchimage"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("No such image: nosuchimage"),
        "{}",
        text(&out)
    );
    // The tutorial's interactive flow, through a pseudo-terminal.
    if part(tool("script")).is_some() {
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
fn run_flags_set_the_environment_directory_user_and_host_name() {
    let d = require!(daemon());
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

/// Whoever sees a container exited may start it again at once: the new
/// run's mount and cgroup have the old run's paths, so the old run's
/// teardown must be over by then (it once removed the new cgroup, and the
/// start failed with "joining the cgroup …: No such file or directory").
#[test]
fn a_container_started_again_as_soon_as_it_exits_keeps_its_mount_and_cgroup() {
    let d = require!(daemon());
    ok(&d, &["create", "--name", "again", "busybox", "true"]);
    for round in 0..40 {
        let (status, body) = d.http("POST", "/containers/again/start", b"");
        assert_eq!(status, 204, "round {round}: {body}");
        // Polled as a script would, and started again the moment the
        // state says exited, which may be while that exit is torn down.
        let polling = std::time::Instant::now();
        while !d
            .http("GET", "/containers/again/json", b"")
            .1
            .contains(r#""Status":"exited""#)
        {
            assert!(
                polling.elapsed() < Duration::from_secs(20),
                "round {round}: it never exited"
            );
        }
    }
    let (status, body) = d.http("POST", "/containers/again/start", b"");
    assert_eq!(status, 204, "{body}");
}

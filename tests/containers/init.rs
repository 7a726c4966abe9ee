//! `--init`: PID 1 is the built-in init, which reaps every zombie that
//! reparents to it and forwards the signals it gets to the command (which
//! as PID 1 itself would ignore those it has no handler for).

use super::{daemon, docker_on_terminal, stdout};
use crate::util::{Daemon, require, text, wait_for};

/// Orphans 50 children from an exec'd shell (orphans reparent to the
/// container's PID 1) and counts the zombies left a second later.
const ORPHANS: &str = "for i in $(seq 50); do (sleep 0.01 &); done; sleep 1; ps -o stat,comm";

fn zombies(d: &Daemon, init: bool) -> usize {
    let mut args = vec!["run", "-d", "--name", "z"];
    if init {
        args.push("--init");
    }
    args.extend(["busybox", "sleep", "600"]);
    d.docker_ok(&args);
    let ps = d.docker_ok(&["exec", "z", "sh", "-c", ORPHANS]);
    d.docker_ok(&["rm", "-f", "z"]);
    ps.lines().filter(|l| l.trim_start().starts_with('Z')).count()
}

#[test]
fn init_reaps_orphaned_zombies() {
    let d = require!(daemon());
    require!(d.docker_cli());
    // `sleep` as PID 1 never waits for the orphans.
    assert_eq!(zombies(&d, false), 50, "without --init the zombies stay");
    assert_eq!(zombies(&d, true), 0, "--init reaps them");
    // PID 1 is the init, its child the command; the command's code is the container's.
    d.docker_ok(&["run", "-d", "--init", "--name", "top", "busybox", "sleep", "600"]);
    let top = d.docker_ok(&["exec", "top", "ps", "-o", "pid,comm"]);
    assert!(
        top.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["1", "docker-init"]),
        "{top}"
    );
    assert!(top.contains("sleep"), "{top}");
    d.docker_ok(&["rm", "-f", "top"]);
    let out = d.docker(&["run", "--init", "busybox", "sh", "-c", "exit 7"]).unwrap();
    assert_eq!(out.status.code(), Some(7), "{}", text(&out));
}

fn status(d: &Daemon, name: &str) -> String {
    d.docker_ok(&["inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", name])
        .trim()
        .to_string()
}

#[test]
fn init_forwards_sigint_to_a_command_without_a_handler() {
    let d = require!(daemon());
    require!(d.docker_cli());
    // Without --init, `sleep` is PID 1: the kernel drops the SIGINT.
    d.docker_ok(&["run", "-d", "--name", "plain", "busybox", "sleep", "600"]);
    d.docker_ok(&["kill", "-s", "INT", "plain"]);
    // With --init it is forwarded, and the command dies of it: 128+2.
    d.docker_ok(&["run", "-d", "--init", "--name", "forwarded", "busybox", "sleep", "600"]);
    d.docker_ok(&["kill", "-s", "INT", "forwarded"]);
    wait_for(
        || status(&d, "forwarded") == "exited 130",
        "the forwarded SIGINT to end sleep",
    );
    // The signal reached `plain` long before: it still runs.
    assert_eq!(status(&d, "plain"), "running 0");
    d.docker_ok(&["rm", "-f", "plain"]);
    // Ctrl-C on a terminal ends `docker run -t --init … sleep 600`.
    let out = docker_on_terminal(&d, "run -t --init --name tty busybox sleep 600", "\\003");
    assert_eq!(status(&d, "tty"), "exited 130", "{}", text(&out));
}

/// `strata run --init` and `--restart` send what the docker CLI sends.
#[test]
fn the_strata_cli_has_init_and_restart() {
    let d = require!(daemon());
    let out = d.strata(&["run", "--rm", "--init", "busybox", "ps", "-o", "pid,comm"]);
    assert!(out.status.success(), "{}", text(&out));
    let ps = stdout(&out);
    assert!(
        ps.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["1", "docker-init"]),
        "{ps}"
    );
    let out = d.strata(&["create", "--name", "r", "--restart", "on-failure:2", "busybox", "true"]);
    assert!(out.status.success(), "{}", text(&out));
    let policy = &d.inspect("r")["HostConfig"]["RestartPolicy"];
    assert_eq!(policy["Name"], "on-failure", "{policy}");
    assert_eq!(policy["MaximumRetryCount"], 2, "{policy}");
    let out = d.strata(&["create", "--restart", "on-failure:x", "busybox", "true"]);
    assert!(
        !out.status.success() && text(&out).contains("must be an integer"),
        "{}",
        text(&out)
    );
}

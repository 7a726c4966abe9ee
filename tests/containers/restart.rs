//! `--restart`: Docker's policies, back-off and `RestartCount`; `stop`
//! ends a container whatever its policy; `always` and `unless-stopped`
//! (unless the user stopped it) come back with the daemon.

use super::daemon;
use crate::util::{Daemon, require, text, wait_for};

/// Status, exit code and restart count.
fn state(d: &Daemon, name: &str) -> String {
    d.docker_ok(&[
        "inspect",
        "-f",
        "{{.State.Status}} {{.State.ExitCode}} {{.RestartCount}}",
        name,
    ])
    .trim()
    .to_string()
}

#[test]
fn on_failure_restarts_exactly_n_times() {
    let d = require!(daemon());
    require!(d.docker_cli());
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "f",
        "--restart",
        "on-failure:2",
        "busybox",
        "sh",
        "-c",
        "exit 3",
    ]);
    // Back-offs of 100 and 200 ms: done well within the bound.
    wait_for(|| state(&d, "f").starts_with("exited"), "the restarts to end");
    assert_eq!(state(&d, "f"), "exited 3 2");
    let logs = d.docker_ok(&["inspect", "-f", "{{.HostConfig.RestartPolicy.Name}}", "f"]);
    assert_eq!(logs.trim(), "on-failure");
    // A success ends on-failure at once.
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "ok",
        "--restart",
        "on-failure",
        "busybox",
        "true",
    ]);
    wait_for(|| state(&d, "ok").starts_with("exited"), "the exit");
    assert_eq!(state(&d, "ok"), "exited 0 0");
    // Docker's refusals.
    let out = d.http(
        "POST",
        "/containers/create",
        br#"{"Image":"busybox","Cmd":["true"],"HostConfig":{"AutoRemove":true,"RestartPolicy":{"Name":"always"}}}"#,
    );
    assert_eq!(out.0, 400, "{}", out.1);
    assert!(
        out.1
            .contains("can't create 'AutoRemove' container with restart policy"),
        "{}",
        out.1
    );
    let out = d.docker(&["run", "--restart", "sometimes", "busybox", "true"]).unwrap();
    assert!(!out.status.success(), "{}", text(&out));
}

#[test]
fn always_restarts_until_stopped_and_comes_back_with_the_daemon() {
    let mut d = require!(daemon());
    require!(d.docker_cli());
    // Exits at once, again and again: restarting in between, counted.
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "loop",
        "--restart",
        "always",
        "busybox",
        "sh",
        "-c",
        "sleep 0.2",
    ]);
    wait_for(
        || state(&d, "loop").split(' ').nth(2).and_then(|n| n.parse::<u32>().ok()) >= Some(2),
        "two restarts",
    );
    d.docker_ok(&["stop", "-t", "1", "loop"]);
    let stopped = state(&d, "loop");
    assert!(stopped.starts_with("exited"), "{stopped}");
    std::thread::sleep(std::time::Duration::from_millis(800));
    assert_eq!(state(&d, "loop"), stopped, "stop ends an `always` container");

    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "always",
        "--restart",
        "always",
        "busybox",
        "sleep",
        "600",
    ]);
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "kept",
        "--restart",
        "unless-stopped",
        "busybox",
        "sleep",
        "600",
    ]);
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "down",
        "--restart",
        "unless-stopped",
        "busybox",
        "sleep",
        "600",
    ]);
    d.docker_ok(&["run", "-d", "--name", "never", "busybox", "sleep", "600"]);
    d.docker_ok(&["stop", "-t", "1", "down"]);
    d.stop();
    d.spawn();
    wait_for(|| state(&d, "always").starts_with("running"), "`always` to come back");
    wait_for(
        || state(&d, "kept").starts_with("running"),
        "`unless-stopped` to come back",
    );
    assert!(state(&d, "down").starts_with("exited"), "{}", state(&d, "down"));
    assert!(state(&d, "never").starts_with("exited"), "{}", state(&d, "never"));
    // The `always` one stopped by the user before came back too, as Docker's.
    wait_for(
        || state(&d, "loop").starts_with("running") || state(&d, "loop").starts_with("restarting"),
        "`loop`",
    );
    d.docker_ok(&["rm", "-f", "always", "kept", "loop"]);
}

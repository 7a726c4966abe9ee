//! Containers through stratad: run, attach, exec, the lifecycle, exit
//! codes, the host's protection, bad input, and state across restarts —
//! with `strata` and, where installed, the real `docker` CLI.
//!
//! One module per part of the engine; the helpers they share.

use crate::util::{Daemon, output_within, text};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

/// A daemon with the default busybox image, or what it lacks to run
/// containers here.
fn daemon() -> Result<Daemon, String> {
    Daemon::with_busybox()
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

// Create, start, exec, exit codes, flags, bad input, daemon restarts.
mod lifecycle;
// Logs, terminals and attached clients: both output streams kept, signals forwarded.
mod streams;
// A container is PID 1 in its own namespaces on the image root, and the host stays protected.
mod isolation;
// Diff and commit: a container's changes become a shared layer of a new image.
mod commit;
// A rootless daemon runs containers in a user namespace.
mod rootless;
// Config.Env as Docker records it: the image's merged with -e, bare variables unset.
mod environment;
// --init: the built-in init reaps zombies and forwards signals.
mod init;
// --restart: Docker's policies, back-off and RestartCount, across daemon restarts.
mod restart;
// Capabilities, --privileged, no-new-privileges, devices, groups, ulimits.
mod security;
// Volumes, binds, tmpfs mounts and read-only roots.
mod volumes;
// Resource limits, OOM kills, pause and unpause through cgroups.
mod resources;
// The default bridge network through pasta: published ports, isolation, outbound, no leftovers.
mod network;
// cp: /containers/{id}/archive, both ways, paths resolved inside the root.
mod cp;
// rename: a new name, running or stopped, with Docker's conflicts.
mod rename;
// Prune and df: unused containers and images removed, real sizes reported.
mod prune;
// User-defined networks: objects, names between containers, isolation, connect, no leftovers.
mod networks;
// --mac-address: the interface's MAC on the default and on a user network, inspect, Docker's errors.
mod mac;
// --link: names, variables and a way through on the default network; an alias on a user network.
mod links;
// IPv6 published ports: -p [::1]:H:C through pasta, docker port, inspect, ps, a taken port.
mod ipv6_ports;
// events: the daemon's event stream, its filters and subscribers.
mod events;
// strata mount / unmount: images' layers mounted from the store, read-only or over an upper.
mod user_mounts;

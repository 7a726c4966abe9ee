//! Resource limits through the containers' cgroups: memory (OOM kills),
//! pids, CPU quota; pause and unpause through the freezer; Docker's
//! errors; a rootless daemon refusing limits it cannot apply.

use super::{daemon, ok, stdout};
use crate::util::{require, rootless_daemon, rootless_daemon_in, test_user, text};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The container's cgroup directory in the v1 hierarchy `controller`
/// (`/sys/fs/cgroup/<controller>/strata-<hash>/<id>`).
fn cgroup_dir(controller: &str, id: &str) -> Option<PathBuf> {
    let root = PathBuf::from("/sys/fs/cgroup").join(controller);
    std::fs::read_dir(&root)
        .ok()?
        .flatten()
        .map(|e| e.path().join(id))
        .find(|p| p.is_dir())
}

fn read(dir: &std::path::Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file))
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// `docker` when installed (the CLI the tests are about), else `strata`.
fn run_cli(d: &crate::util::Daemon, args: &[&str]) -> std::process::Output {
    d.docker(args).unwrap_or_else(|| d.strata(args))
}

#[test]
fn a_memory_limit_oom_kills_with_137_and_oomkilled() {
    let d = require!(daemon());
    for cli in ["docker", "strata"] {
        let name = format!("oom-{cli}");
        let args = [
            "run",
            "--name",
            &name,
            "--memory",
            "64m",
            "--memory-swap",
            "64m",
            "busybox",
            "sh",
            "-c",
            "exec dd if=/dev/zero of=/dev/null bs=150M count=1",
        ];
        let out = if cli == "docker" {
            match d.docker(&args) {
                Some(o) => o,
                None => continue,
            }
        } else {
            d.strata(&args)
        };
        assert_eq!(out.status.code(), Some(137), "{cli}: {}", text(&out));
        let v = d.inspect(&name);
        assert_eq!(v["State"]["OOMKilled"], true, "{cli}: {}", v["State"]);
        assert_eq!(v["State"]["ExitCode"], 137);
        assert_eq!(v["HostConfig"]["Memory"], 64 << 20);
        // Docker's `oom` event, before its die.
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap();
        let until = format!("{}.{:09}", now.as_secs(), now.subsec_nanos());
        let filter = format!("container={name}");
        let args = [
            "events",
            "--since",
            "0",
            "--until",
            &until,
            "-f",
            &filter,
            "--format",
            "{{.Action}}",
        ];
        let events = ok(&d, &args);
        assert!(events.contains("oom\ndie\n"), "{cli}: {events}");
        ok(&d, &["rm", &name]);
    }
    // Without a limit the same allocation succeeds, and no OOM is reported.
    let out = d.strata(&[
        "run",
        "--name",
        "free",
        "busybox",
        "dd",
        "if=/dev/zero",
        "of=/dev/null",
        "bs=150M",
        "count=1",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(d.inspect("free")["State"]["OOMKilled"], false);
}

#[test]
fn a_pids_limit_stops_the_eleventh_process() {
    let d = require!(daemon());
    // The shell and up to nine sleeps fit under the limit; the fork of the
    // eleventh process fails (busybox sh stops at "can't fork").
    let script = "for i in $(seq 1 15); do sleep 2 & echo started $i; done; wait; echo all";
    let out = run_cli(
        &d,
        &["run", "--rm", "--pids-limit", "10", "busybox", "sh", "-c", script],
    );
    let started = stdout(&out).lines().filter(|l| l.starts_with("started")).count();
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        (1..=9).contains(&started),
        "{started} processes started beside the shell: {}",
        text(&out)
    );
    assert!(text(&out).contains("can't fork"), "{}", text(&out));
    let out = d.strata(&["run", "--rm", "busybox", "sh", "-c", script]);
    assert!(
        out.status.success() && stdout(&out).contains("started 15\nall"),
        "without a limit: {}",
        text(&out)
    );
}

#[test]
fn cpus_half_holds_a_busy_loop_near_half_a_cpu() {
    let d = require!(daemon());
    let id = ok(
        &d,
        &[
            "run",
            "-d",
            "--cpus",
            "0.5",
            "busybox",
            "sh",
            "-c",
            "while :; do :; done",
        ],
    );
    let id = id.trim();
    let dir = cgroup_dir("cpuacct", id).expect("the container's cpuacct cgroup");
    let cpu = cgroup_dir("cpu", id).expect("the container's cpu cgroup");
    assert_eq!(read(&cpu, "cpu.cfs_quota_us"), "50000");
    assert_eq!(read(&cpu, "cpu.cfs_period_us"), "100000");
    let usage = || read(&dir, "cpuacct.usage").parse::<u64>().unwrap();
    let (u0, t0) = (usage(), Instant::now());
    // A measurement window, not a synchronisation.
    std::thread::sleep(Duration::from_millis(1500));
    let (u1, t1) = (usage(), Instant::now());
    let share = (u1 - u0) as f64 / (t1 - t0).as_nanos() as f64;
    eprintln!("--cpus 0.5: a busy loop used {:.1}% of a CPU", share * 100.0);
    // The bound that matters is the upper one (an ignored quota gives
    // ~1.0); the lower only says the loop ran, loose enough for a host
    // as loaded as the whole suite on 2 cores makes it.
    assert!((0.05..=0.70).contains(&share), "CPU share {share}");
    ok(&d, &["rm", "-f", id]);
}

#[test]
fn limits_are_written_to_the_cgroups_and_bad_ones_get_dockers_errors() {
    let d = require!(daemon());
    let id = ok(
        &d,
        &[
            "run",
            "-d",
            "-m",
            "64m",
            "--memory-reservation",
            "32m",
            "--cpu-shares",
            "512",
            "--cpuset-cpus",
            "0",
            "--pids-limit",
            "20",
            "busybox",
            "sleep",
            "60",
        ],
    );
    let id = id.trim();
    let mem = cgroup_dir("memory", id).expect("memory cgroup");
    assert_eq!(read(&mem, "memory.limit_in_bytes"), (64u64 << 20).to_string());
    assert_eq!(read(&mem, "memory.soft_limit_in_bytes"), (32u64 << 20).to_string());
    if mem.join("memory.memsw.limit_in_bytes").exists() {
        // Docker: swap as much as memory when --memory-swap is unset.
        assert_eq!(read(&mem, "memory.memsw.limit_in_bytes"), (128u64 << 20).to_string());
    }
    assert_eq!(read(&cgroup_dir("cpu", id).unwrap(), "cpu.shares"), "512");
    assert_eq!(read(&cgroup_dir("cpuset", id).unwrap(), "cpuset.cpus"), "0");
    assert_eq!(read(&cgroup_dir("pids", id).unwrap(), "pids.max"), "20");
    ok(&d, &["rm", "-f", id]);
    assert!(cgroup_dir("memory", id).is_none(), "the cgroup outlived the container");
    for (args, error) in [
        (&["-m", "1m"][..], "Minimum memory limit allowed is 6MB"),
        (
            &["--memory-swap", "64m"][..],
            "You should always set the Memory limit when using Memoryswap limit",
        ),
        (
            &["--cpuset-cpus", "999"][..],
            "Requested CPUs are not available - requested 999",
        ),
        (&["--cpus", "4096"][..], "Range of CPUs is from 0.01 to"),
    ] {
        let mut all = vec!["create"];
        all.extend_from_slice(args);
        all.push("busybox");
        let out = run_cli(&d, &all);
        assert!(
            !out.status.success() && text(&out).contains(error),
            "{args:?}: {}",
            text(&out)
        );
    }
}

#[test]
fn a_rootless_daemon_refuses_limits_without_a_delegated_cgroup() {
    let d = require!(rootless_daemon());
    let out = d.strata(&["run", "--rm", "-m", "64m", "busybox", "true"]);
    assert!(!out.status.success(), "{}", text(&out));
    let (uid, _) = test_user();
    for wanted in [
        &format!(
            "resource limits need a delegated cgroup for a rootless daemon: this daemon (uid {uid}) cannot write its cgroup in the memory, "
        )[..],
        " hierarchies; delegate them (cgroup v2: systemd's Delegate=yes; v1: chown the daemon's cgroup directories to its user) or remove --memory, --cpus, --pids-limit and the like",
    ] {
        assert!(text(&out).contains(wanted), "{}", text(&out));
    }
    ok(&d, &["run", "--rm", "busybox", "true"]);
}

/// The v1 controllers a container's cgroups use (`run::resources`).
const CONTROLLERS: &[&str] = &["memory", "cpu", "cpuacct", "cpuset", "pids", "freezer", "blkio"];

/// A cgroup v1 delegation as root makes one for a user (as LXC's
/// `pam_cgfs`): `strata-deleg-<rand>` at the root of each hierarchy the
/// containers' cgroups use, the directory and its files chowned to the
/// user. Dropping it removes the directories, deepest first.
struct Delegation {
    /// Controller and its delegated directory (a co-mounted hierarchy
    /// appears once per controller).
    dirs: Vec<(String, PathBuf)>,
}

impl Delegation {
    fn v1(uid: u32, gid: u32) -> Result<Delegation, String> {
        crate::util::root()?;
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        let name = format!("strata-deleg-{}-{}", std::process::id(), rand_suffix());
        let mut deleg = Delegation { dirs: Vec::new() };
        for controller in CONTROLLERS {
            // MOUNTPOINT is the 5th field; after " - ": FSTYPE SOURCE SUPER.
            let mount = mountinfo.lines().find_map(|l| {
                let (head, tail) = l.split_once(" - ")?;
                let mut tail = tail.split(' ');
                let (fstype, opts) = (tail.next()?, tail.nth(1)?);
                (fstype == "cgroup" && opts.split(',').any(|o| o == *controller))
                    .then(|| PathBuf::from(head.split(' ').nth(4).unwrap()))
            });
            let Some(mount) = mount else {
                if *controller == "memory" {
                    return Err("no cgroup v1 memory hierarchy (this test is about v1 delegation)".into());
                }
                continue;
            };
            let dir = mount.join(&name);
            if !dir.exists() {
                std::fs::create_dir(&dir).map_err(|e| format!("making {}: {e}", dir.display()))?;
                // A new cpuset cgroup has no cpus nor mems: nothing could join it.
                for file in ["cpuset.cpus", "cpuset.mems"] {
                    if let Ok(parent) = std::fs::read_to_string(mount.join(file)) {
                        std::fs::write(dir.join(file), parent.trim()).unwrap();
                    }
                }
                let chown = |p: &std::path::Path| {
                    rustix::fs::chown(
                        p,
                        Some(rustix::fs::Uid::from_raw(uid)),
                        Some(rustix::fs::Gid::from_raw(gid)),
                    )
                    .unwrap_or_else(|e| panic!("chown {}: {e}", p.display()))
                };
                chown(&dir);
                for entry in std::fs::read_dir(&dir).unwrap().flatten() {
                    chown(&entry.path());
                }
            }
            deleg.dirs.push((controller.to_string(), dir));
        }
        Ok(deleg)
    }

    fn dirs(&self) -> Vec<PathBuf> {
        let mut dirs: Vec<PathBuf> = self.dirs.iter().map(|(_, d)| d.clone()).collect();
        dirs.dedup();
        dirs
    }

    /// The container's cgroup in the hierarchy of `controller`:
    /// `<delegated>/strata-<hash>/<id>`.
    fn container(&self, controller: &str, id: &str) -> Option<PathBuf> {
        let (_, dir) = self.dirs.iter().find(|(c, _)| c == controller)?;
        std::fs::read_dir(dir)
            .ok()?
            .flatten()
            .map(|e| e.path().join(id))
            .find(|p| p.is_dir())
    }
}

fn rand_suffix() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos()
}

/// Removes a cgroup directory and its children, deepest first; a child
/// whose last process has just exited may stay busy a moment.
fn remove_cgroup_tree(dir: &std::path::Path) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            remove_cgroup_tree(&entry.path());
        }
    }
    let removed = within(Duration::from_secs(5), || {
        let procs = read(dir, "cgroup.procs");
        for pid in procs.lines() {
            let _ = std::process::Command::new("kill").args(["-KILL", pid]).status();
        }
        std::fs::remove_dir(dir).is_ok() || !dir.exists()
    });
    if !removed {
        eprintln!("could not remove the cgroup {}", dir.display());
    }
}

impl Drop for Delegation {
    fn drop(&mut self) {
        for dir in self.dirs() {
            remove_cgroup_tree(&dir);
        }
    }
}

#[test]
fn a_rootless_daemon_applies_limits_in_a_delegated_v1_cgroup() {
    let (uid, gid) = test_user();
    // Declared first, dropped last: after the daemon has stopped.
    let deleg = require!(Delegation::v1(uid, gid));
    let d = require!(rootless_daemon_in(deleg.dirs()));
    require!(d.docker_cli());
    let docker = |args: &[&str]| d.docker(args).expect("docker");
    // The daemon runs in the delegated cgroups, as its user.
    let pid = d.pid().unwrap().to_string();
    let (_, memory) = deleg.dirs.iter().find(|(c, _)| c == "memory").unwrap();
    assert!(
        read(memory, "cgroup.procs").lines().any(|p| p == pid),
        "the daemon is not in {}",
        memory.display()
    );

    let out = docker(&[
        "run",
        "--name",
        "oom",
        "--memory",
        "64m",
        "--memory-swap",
        "64m",
        "busybox",
        "sh",
        "-c",
        "exec dd if=/dev/zero of=/dev/null bs=150M count=1",
    ]);
    assert_eq!(out.status.code(), Some(137), "{}\n{}", text(&out), d.log());
    let v = d.inspect("oom");
    assert_eq!(v["State"]["OOMKilled"], true, "{}", v["State"]);
    ok(&d, &["rm", "oom"]);

    let script = "for i in $(seq 1 15); do sleep 2 & echo started $i; done; wait; echo all";
    let out = docker(&["run", "--rm", "--pids-limit", "10", "busybox", "sh", "-c", script]);
    let started = stdout(&out).lines().filter(|l| l.starts_with("started")).count();
    assert!(
        !out.status.success() && text(&out).contains("can't fork"),
        "{}",
        text(&out)
    );
    assert!(
        (1..=9).contains(&started),
        "{started} started beside the shell: {}",
        text(&out)
    );

    let out = docker(&["run", "-d", "--name", "limited", "-m", "64m", "busybox", "sleep", "60"]);
    assert!(out.status.success(), "{}", text(&out));
    let id = stdout(&out).trim().to_string();
    let mem = deleg
        .container("memory", &id)
        .expect("the container's cgroup under the delegated one");
    assert_eq!(read(&mem, "memory.limit_in_bytes"), (64u64 << 20).to_string());
    assert_eq!(
        read(&mem, "cgroup.procs").lines().count(),
        1,
        "the container's init is not in {}",
        mem.display()
    );
    let out = docker(&["stats", "--no-stream", "limited"]);
    assert!(
        out.status.success() && stdout(&out).contains(" / 64MiB"),
        "{}",
        text(&out)
    );
    // pause and update too.
    let out = docker(&["pause", "limited"]);
    assert!(out.status.success(), "{}", text(&out));
    let freezer = deleg.container("freezer", &id).expect("the container's freezer cgroup");
    assert_eq!(read(&freezer, "freezer.state"), "FROZEN");
    let out = docker(&["unpause", "limited"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = docker(&["update", "--memory", "128m", "--memory-swap", "256m", "limited"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(read(&mem, "memory.limit_in_bytes"), (128u64 << 20).to_string());
    ok(&d, &["rm", "-f", "limited"]);
    assert!(
        deleg.container("memory", &id).is_none(),
        "the cgroup outlived the container"
    );
}

/// Polls `f` every 20 ms for at most `limit`; whether it came true.
fn within(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    f()
}

#[test]
fn pause_freezes_a_counter_and_unpause_resumes_it() {
    let d = require!(daemon());
    let id = ok(
        &d,
        &[
            "run",
            "-d",
            "busybox",
            "sh",
            "-c",
            "i=0; while :; do i=$((i+1)); echo $i > /tmp/n; done",
        ],
    );
    let id = id.trim().to_string();
    // Read from the host, through the container's mount: exec is refused
    // while it is paused.
    let file = super::container_dir(&d, &id).join("merged/tmp/n");
    let counter = || {
        std::fs::read_to_string(&file)
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
    };
    assert!(
        within(Duration::from_secs(10), || counter().is_some_and(|n| n > 10)),
        "the counter never ran"
    );
    let out = run_cli(&d, &["pause", &id]);
    assert!(out.status.success(), "{}", text(&out));
    let v = d.inspect(&id);
    assert_eq!(
        (v["State"]["Status"].as_str(), v["State"]["Paused"].as_bool()),
        (Some("paused"), Some(true))
    );
    assert_eq!(v["State"]["Running"], true);
    assert_eq!(read(&cgroup_dir("freezer", &id).unwrap(), "freezer.state"), "FROZEN");
    let frozen = counter();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(counter(), frozen, "the counter advanced while paused");
    assert!(ok(&d, &["ps"]).contains("(Paused)"));
    let out = run_cli(&d, &["exec", &id, "true"]);
    assert!(
        !out.status.success() && text(&out).contains("is paused, unpause the container before exec"),
        "{}",
        text(&out)
    );
    let out = run_cli(&d, &["pause", &id]);
    assert!(
        !out.status.success() && text(&out).contains("is already paused"),
        "{}",
        text(&out)
    );
    let out = run_cli(&d, &["unpause", &id]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        within(Duration::from_secs(10), || counter() > frozen),
        "unpause did not resume the counter"
    );
    assert_eq!(d.inspect(&id)["State"]["Status"], "running");
    let out = run_cli(&d, &["unpause", &id]);
    assert!(
        !out.status.success() && text(&out).contains("is not paused"),
        "{}",
        text(&out)
    );
    // A paused container stops (Docker thaws it for the signal).
    ok(&d, &["pause", &id]);
    ok(&d, &["stop", "-t", "1", &id]);
    let v = d.inspect(&id);
    assert_eq!(
        (v["State"]["Status"].as_str(), v["State"]["Paused"].as_bool()),
        (Some("exited"), Some(false))
    );
    let out = run_cli(&d, &["pause", &id]);
    assert!(
        !out.status.success() && text(&out).contains("is not running"),
        "{}",
        text(&out)
    );
    ok(&d, &["rm", &id]);
}

/// A table's cells, split at runs of two or more spaces.
fn table_cells(t: &str) -> Vec<Vec<String>> {
    t.lines()
        .map(|l| {
            l.split("  ")
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(str::to_string)
                .collect()
        })
        .collect()
}

#[test]
fn stats_show_the_memory_limit_and_update_changes_it() {
    let d = require!(daemon());
    let id = ok(
        &d,
        &["run", "-d", "--name", "limited", "-m", "64m", "busybox", "sleep", "60"],
    );
    let id = id.trim().to_string();
    let out = ok(&d, &["stats", "--no-stream", "limited"]);
    assert!(out.starts_with("CONTAINER ID"), "{out}");
    assert!(out.contains(" / 64MiB"), "{out}");
    let f = "table {{.Container}}\t{{.Name}}\t{{.PIDs}}";
    let formatted = ok(&d, &["stats", "--no-stream", "--format", f, "limited"]);
    assert_eq!(
        table_cells(&formatted),
        [["CONTAINER", "NAME", "PIDS"], ["limited", "limited", "1"]]
    );
    let f = "{{.MemUsage}}";
    assert!(
        ok(&d, &["stats", "--no-stream", "--format", f, "limited"])
            .trim_end()
            .ends_with(" / 64MiB")
    );
    if let Some(out) = d.docker(&[
        "stats",
        "--no-stream",
        "--format",
        "table {{.Container}}\t{{.Name}}",
        "limited",
    ]) {
        assert_eq!(
            table_cells(&stdout(&out)),
            [["CONTAINER", "NAME"], ["limited", "limited"]],
            "{}",
            text(&out)
        );
    }
    if let Some(out) = d.docker(&["stats", "--no-stream", "limited"]) {
        assert!(
            out.status.success() && stdout(&out).contains(" / 64MiB"),
            "{}",
            text(&out)
        );
        eprintln!("docker stats: {}", stdout(&out));
    }
    let (status, body) = d.http("GET", &format!("/containers/{id}/stats?stream=false"), b"");
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["memory_stats"]["limit"], 64 << 20);
    assert!(v["cpu_stats"]["cpu_usage"]["total_usage"].as_u64().unwrap() > 0, "{v}");
    assert_eq!(v["pids_stats"]["current"], 1);
    let out = run_cli(&d, &["update", "--memory", "128m", "--memory-swap", "256m", "limited"]);
    assert!(out.status.success(), "{}", text(&out));
    let mem = cgroup_dir("memory", &id).unwrap();
    assert_eq!(read(&mem, "memory.limit_in_bytes"), (128u64 << 20).to_string());
    assert_eq!(d.inspect("limited")["HostConfig"]["Memory"], 128 << 20);
    assert!(ok(&d, &["stats", "--no-stream", "limited"]).contains(" / 128MiB"));
    ok(
        &d,
        &["update", "--pids-limit", "5", "--restart", "on-failure:2", "limited"],
    );
    assert_eq!(read(&cgroup_dir("pids", &id).unwrap(), "pids.max"), "5");
    let host = d.inspect("limited")["HostConfig"].clone();
    assert_eq!(host["RestartPolicy"]["Name"], "on-failure", "{host}");
    assert_eq!(host["RestartPolicy"]["MaximumRetryCount"], 2);
    // A stopped container's stats are zeros, as Docker's.
    ok(&d, &["stop", "-t", "0", "limited"]);
    let (_, body) = d.http("GET", &format!("/containers/{id}/stats?stream=false"), b"");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["read"], "0001-01-01T00:00:00Z", "{v}");
    assert_eq!(v["cpu_stats"]["cpu_usage"]["total_usage"], 0);
    ok(&d, &["rm", "limited"]);
}

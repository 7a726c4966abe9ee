//! Security options (issue 16, item 3): capabilities, `--privileged`,
//! `no-new-privileges`, devices, added groups, ulimits and the OOM score,
//! through the docker CLI (and `strata` for its own flags). Each assertion
//! fails if the option is ignored.

use super::{daemon, ok, stdout};
use crate::util::{Daemon, require, text};
use std::process::Output;

/// `docker run --rm FLAGS busybox sh -c SCRIPT`.
fn run(d: &Daemon, flags: &[&str], script: &str) -> Output {
    let mut args = vec!["run", "--rm"];
    args.extend_from_slice(flags);
    args.extend(["busybox", "sh", "-c", script]);
    d.docker(&args).expect("docker")
}

/// Its stdout, which must come from a successful run.
fn run_ok(d: &Daemon, flags: &[&str], script: &str) -> String {
    let out = run(d, flags, script);
    assert!(out.status.success(), "{flags:?} {script}: {}", text(&out));
    stdout(&out)
}

fn cap_eff(status: &str) -> u64 {
    let line = status.lines().find(|l| l.starts_with("CapEff:")).expect("CapEff line");
    u64::from_str_radix(line.split_whitespace().nth(1).unwrap(), 16).unwrap()
}

const NET_ADMIN: u64 = 1 << 12;
const SYS_ADMIN: u64 = 1 << 21;
const CHOWN: u64 = 1;

#[test]
fn capabilities_are_added_and_dropped_as_docker_does() {
    let d = require!(daemon());
    require!(d.docker_cli());
    // --cap-drop ALL: chown fails, nothing effective.
    let s = run_ok(
        &d,
        &["--cap-drop", "ALL"],
        "touch /f; chown 1:1 /f; echo rc=$?; grep CapEff /proc/1/status",
    );
    assert!(s.contains("rc=1"), "{s}");
    assert_eq!(cap_eff(&s), 0, "{s}");
    // The default set can chown.
    let s = run_ok(
        &d,
        &[],
        "touch /f; chown 1:1 /f; echo rc=$?; grep CapEff /proc/1/status",
    );
    assert!(s.contains("rc=0") && cap_eff(&s) & CHOWN != 0, "{s}");
    // --cap-add NET_ADMIN (any spelling): `ip link set lo down` works, in
    // a network namespace of its own only.
    let script = "ip link set lo down && echo down; grep CapEff /proc/1/status";
    for name in ["NET_ADMIN", "cap_net_admin"] {
        let s = run_ok(&d, &["--network", "none", "--cap-add", name], script);
        assert!(s.contains("down\n"), "{name}: {s}");
        assert!(cap_eff(&s) & NET_ADMIN != 0, "{s}");
    }
    let out = run(&d, &["--network", "none"], script);
    assert!(!stdout(&out).contains("down\n"), "{}", text(&out));
    assert!(text(&out).contains("Operation not permitted"), "{}", text(&out));
    // ALL, less one.
    let s = run_ok(
        &d,
        &["--cap-add", "ALL", "--cap-drop", "chown"],
        "grep CapEff /proc/1/status",
    );
    assert!(cap_eff(&s) & SYS_ADMIN != 0 && cap_eff(&s) & CHOWN == 0, "{s}");
    // An unknown name: Docker's error.
    let out = run(&d, &["--cap-add", "FLY"], "true");
    assert!(!out.status.success());
    assert!(text(&out).contains("unknown capability: \"CAP_FLY\""), "{}", text(&out));
    // Inspect shows them as sent; exec'd processes get the container's set,
    // `exec --privileged` every one.
    let out = d
        .docker(&[
            "run",
            "-d",
            "--name",
            "c",
            "--cap-drop",
            "ALL",
            "--cap-add",
            "KILL",
            "busybox",
            "sleep",
            "60",
        ])
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let c = d.inspect("c");
    assert_eq!(c["HostConfig"]["CapDrop"], serde_json::json!(["ALL"]));
    // The docker CLI sends CAP_-prefixed names; kept as sent.
    assert_eq!(c["HostConfig"]["CapAdd"], serde_json::json!(["CAP_KILL"]));
    let exec = |flags: &[&str]| {
        let mut args = vec!["exec"];
        args.extend_from_slice(flags);
        args.extend(["c", "grep", "CapEff", "/proc/self/status"]);
        let out = d.docker(&args).unwrap();
        assert!(out.status.success(), "{}", text(&out));
        cap_eff(&stdout(&out))
    };
    assert_eq!(exec(&[]), 1 << 5, "CAP_KILL alone");
    assert!(exec(&["--privileged"]) & SYS_ADMIN != 0);
    d.docker(&["rm", "-f", "c"]);
}

#[test]
fn seccomp_rules_follow_the_containers_capabilities() {
    let d = require!(daemon());
    require!(d.docker_cli());
    // Docker's profile allows unshare(CLONE_NEWNS) to holders of
    // CAP_SYS_ADMIN only: resolved against the container's set.
    let script = "unshare -m true && echo unshared; grep Seccomp: /proc/self/status";
    let out = run(&d, &[], script);
    assert!(!stdout(&out).contains("unshared"), "{}", text(&out));
    let s = run_ok(&d, &["--cap-add", "SYS_ADMIN"], script);
    assert_eq!(s, "unshared\nSeccomp:\t2\n");
}

#[test]
fn no_new_privileges_only_when_asked() {
    let d = require!(daemon());
    require!(d.docker_cli());
    let nnp = |flags: &[&str]| run_ok(&d, flags, "grep -E 'NoNewPrivs|Seccomp:' /proc/self/status");
    assert_eq!(nnp(&[]), "NoNewPrivs:\t0\nSeccomp:\t2\n");
    let on = "NoNewPrivs:\t1\nSeccomp:\t2\n";
    assert_eq!(nnp(&["--security-opt", "no-new-privileges"]), on);
    assert_eq!(nnp(&["--security-opt", "no-new-privileges=true"]), on);
    assert_eq!(
        nnp(&["--security-opt", "no-new-privileges=false"]),
        "NoNewPrivs:\t0\nSeccomp:\t2\n"
    );
    // An exec'd process too.
    let out = d
        .docker(&[
            "run",
            "-d",
            "--name",
            "n",
            "--security-opt",
            "no-new-privileges",
            "busybox",
            "sleep",
            "60",
        ])
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let out = d
        .docker(&["exec", "n", "grep", "NoNewPrivs", "/proc/self/status"])
        .unwrap();
    assert_eq!(stdout(&out), "NoNewPrivs:\t1\n", "{}", text(&out));
    d.docker(&["rm", "-f", "n"]);
}

#[test]
fn devices_are_bound_and_allowed_with_their_permissions() {
    let d = require!(daemon());
    require!(d.docker_cli());
    let s = run_ok(
        &d,
        &["--device", "/dev/null:/dev/mynull"],
        "echo x > /dev/mynull && echo written; ls -l /dev/mynull",
    );
    assert!(s.starts_with("written\nc"), "{s}");
    // Read-only (a device Docker's defaults do not allow): the cgroup
    // lets it be opened for reading only.
    let out = run(
        &d,
        &["--device", "/dev/loop-control:/dev/lc:r"],
        ": < /dev/lc && echo read; : > /dev/lc && echo written",
    );
    assert_eq!(stdout(&out), "read\n", "{}", text(&out));
    assert!(text(&out).contains("Operation not permitted"), "{}", text(&out));
    // Another device than the one asked for is still refused.
    let out = run(
        &d,
        &["--device", "/dev/null:/dev/mynull"],
        "mknod /dev/mem2 c 1 1 && head -c 1 /dev/mem2 && echo opened",
    );
    assert!(!stdout(&out).contains("opened"), "{}", text(&out));
    assert!(text(&out).contains("Operation not permitted"), "{}", text(&out));
    // A missing one: Docker's error.
    let out = run(&d, &["--device", "/dev/nonexistent-x"], "true");
    assert!(!out.status.success());
    assert!(
        text(&out).contains(
            "error gathering device information while adding custom device \"/dev/nonexistent-x\": no such file or directory"
        ),
        "{}",
        text(&out)
    );
}

#[test]
fn privileged_containers_get_the_host_devices_and_writable_proc_sys() {
    let d = require!(daemon());
    require!(d.docker_cli());
    // UTS is the container's own: writing its host name changes nothing
    // of the host's.
    let script = "ls /dev/loop-control /dev/fuse; echo priv-host > /proc/sys/kernel/hostname && hostname; \
                  grep -E 'CapEff|Seccomp:' /proc/self/status;";
    let s = run_ok(&d, &["--privileged"], script);
    assert!(s.contains("/dev/fuse\n/dev/loop-control\npriv-host\n"), "{s}");
    assert!(cap_eff(&s) & SYS_ADMIN != 0, "{s}");
    assert!(s.contains("Seccomp:\t0"), "{s}");
    let out = run(
        &d,
        &[],
        "ls /dev/loop-control; echo x > /proc/sys/kernel/hostname && echo wrote",
    );
    assert!(
        !stdout(&out).contains("wrote") && !stdout(&out).contains("loop-control"),
        "{}",
        text(&out)
    );
    // Inspect shows what is in force, as sent.
    let out = d
        .docker(&[
            "create",
            "--name",
            "p",
            "--privileged",
            "--device",
            "/dev/null:/dev/n:rw",
            "--ulimit",
            "nofile=10:20",
            "--group-add",
            "10",
            "busybox",
        ])
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let h = &d.inspect("p")["HostConfig"];
    assert_eq!(h["Privileged"], true);
    assert_eq!(h["Devices"][0]["PathInContainer"], "/dev/n");
    assert_eq!(h["Devices"][0]["CgroupPermissions"], "rw");
    assert_eq!(h["Ulimits"][0]["Soft"], 10);
    assert_eq!(h["GroupAdd"], serde_json::json!(["10"]));
}

#[test]
fn users_groups_ulimits_and_oom_score() {
    let d = require!(daemon());
    require!(d.docker_cli());
    let s = run_ok(
        &d,
        &["--user", "1000:1000", "--group-add", "10", "--group-add", "adm"],
        "id -u; id -g; id -G",
    );
    // The kernel keeps them sorted.
    assert_eq!(s, "1000\n1000\n1000 4 10\n");
    let out = run(&d, &["--group-add", "ghosts"], "true");
    assert!(!out.status.success());
    assert!(text(&out).contains("unable to find group ghosts"), "{}", text(&out));
    let s = run_ok(
        &d,
        &["--ulimit", "nofile=100:200", "--ulimit", "core=0"],
        "ulimit -n; ulimit -Hn; grep 'open files' /proc/self/limits",
    );
    assert!(s.starts_with("100\n200\n"), "{s}");
    assert!(s.contains("100                  200"), "{s}");
    let s = run_ok(&d, &["--oom-score-adj", "500"], "cat /proc/self/oom_score_adj");
    assert_eq!(s, "500\n");
}

#[test]
fn the_strata_cli_has_the_same_flags() {
    let d = require!(daemon());
    let s = ok(
        &d,
        &[
            "run",
            "--rm",
            "--cap-drop",
            "ALL",
            "--cap-add",
            "kill",
            "--security-opt",
            "no-new-privileges",
            "--ulimit",
            "nofile=50:60",
            "--group-add",
            "10",
            "--user",
            "1000:1000",
            "--oom-score-adj",
            "300",
            "--device",
            "/dev/null:/dev/n",
            "busybox",
            "sh",
            "-c",
            "grep -E 'CapBnd|NoNewPrivs' /proc/self/status; ulimit -n; id -G; cat /proc/self/oom_score_adj; echo > /dev/n && echo dev",
        ],
    );
    assert_eq!(s, "CapBnd:\t0000000000000020\nNoNewPrivs:\t1\n50\n1000 10\n300\ndev\n");
    let s = ok(
        &d,
        &[
            "run",
            "--rm",
            "--privileged",
            "busybox",
            "sh",
            "-c",
            "grep Seccomp: /proc/self/status",
        ],
    );
    assert_eq!(s, "Seccomp:\t0\n");
}

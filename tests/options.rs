//! What a `docker run` may ask for: honoured, or refused naming the option
//! (api::unsupported), and `docker ps --filter` honoured or refused
//! (engine::filter) — through the real docker CLI against stratad.

use crate::util::{Daemon, require, text};
use std::process::Output;

fn lines(out: &Output) -> Vec<String> {
    assert!(out.status.success(), "{}", text(out));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn options_that_are_not_honoured_are_refused_by_name() {
    let d = require!(Daemon::with_docker_and_busybox());
    let docker = |args: &[&str]| d.docker(args).unwrap();
    let cases: &[(&[&str], &str)] = &[
        (&["--pid", "host"], "--pid"),
        (&["--ipc", "host"], "--ipc"),
        (&["--uts", "host"], "--uts"),
        (&["--security-opt", "apparmor=unconfined"], "--security-opt apparmor"),
        (&["--sysctl", "net.ipv4.ip_forward=1"], "--sysctl"),
        (&["--cgroup-parent", "x"], "--cgroup-parent"),
        (&["--oom-kill-disable"], "--oom-kill-disable"),
        (&["--runtime", "runc"], "--runtime"),
        (&["--health-cmd", "true"], "--health-cmd"),
    ];
    for (flags, named) in cases {
        let mut args = vec!["run"];
        args.extend_from_slice(flags);
        args.extend(["busybox", "true"]);
        let out = docker(&args);
        assert!(!out.status.success(), "{args:?} was accepted: {}", text(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("strata does not support") && err.contains(named),
            "{args:?}: {err}"
        );
    }
    assert!(
        lines(&docker(&["ps", "-aq"])).is_empty(),
        "a refused create leaves nothing"
    );
    // What is honoured still runs.
    let out = docker(&[
        "run",
        "--rm",
        "--expose",
        "80",
        "--no-healthcheck",
        "--ipc",
        "private",
        "busybox",
        "true",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let out = docker(&["run", "-d", "--name", "bg", "busybox", "sleep", "60"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = docker(&["exec", "--privileged", "bg", "true"]);
    assert!(out.status.success(), "{}", text(&out));
    docker(&["rm", "-f", "bg"]);
}

#[test]
fn ps_filters_are_honoured_or_refused() {
    let d = require!(Daemon::with_docker_and_busybox());
    let docker = |args: &[&str]| d.docker(args).unwrap();
    let id = |name: &str| lines(&docker(&["inspect", "-f", "{{.Id}}", name]))[0].clone();
    lines(&docker(&[
        "run",
        "-d",
        "--name",
        "web-1",
        "-l",
        "tier=front",
        "busybox",
        "sleep",
        "60",
    ]));
    let out = docker(&[
        "run",
        "--name",
        "db",
        "-l",
        "tier=back",
        "busybox",
        "sh",
        "-c",
        "exit 3",
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    lines(&docker(&[
        "create", "--name", "later", "--expose", "80", "busybox", "true",
    ]));
    let (web, db, later) = (id("web-1"), id("db"), id("later"));
    let ps = |filters: &[&str]| {
        let mut args = vec!["ps", "-aq", "--no-trunc"];
        for f in filters {
            args.extend(["--filter", f]);
        }
        let mut v = lines(&docker(&args));
        v.sort();
        v
    };
    let sorted = |mut v: Vec<&String>| {
        v.sort();
        v.into_iter().cloned().collect::<Vec<_>>()
    };
    assert!(
        ps(&["name=zzz"]).is_empty(),
        "the filter that found nothing found {:?}",
        ps(&["name=zzz"])
    );
    assert_eq!(ps(&["name=web"]), vec![web.clone()]);
    assert_eq!(ps(&["name=^/d"]), vec![db.clone()]);
    assert_eq!(ps(&["label=tier"]), sorted(vec![&web, &db]));
    assert_eq!(ps(&["label=tier=back"]), vec![db.clone()]);
    assert_eq!(ps(&["status=exited"]), vec![db.clone()]);
    assert_eq!(ps(&["status=created"]), vec![later.clone()]);
    assert_eq!(ps(&["exited=3"]), vec![db.clone()]);
    assert!(ps(&["exited=0"]).is_empty());
    assert_eq!(ps(&[&format!("id={}", &web[..10])]), vec![web.clone()]);
    assert_eq!(ps(&["ancestor=busybox"]).len(), 3);
    assert_eq!(ps(&["since=web-1"]), sorted(vec![&db, &later]));
    assert_eq!(ps(&["before=db"]), vec![web.clone()]);
    assert_eq!(ps(&["expose=80"]), vec![later.clone()]);
    assert!(ps(&["publish=80"]).is_empty());
    assert_eq!(
        ps(&["name=web", "label=tier=back"]),
        Vec::<String>::new(),
        "keys must all hold"
    );
    assert_eq!(
        ps(&["name=web", "name=db"]),
        sorted(vec![&web, &db]),
        "values are alternatives"
    );
    // Without -a: running ones, unless a status is asked for.
    let running = lines(&docker(&["ps", "-q", "--no-trunc", "--filter", "label=tier"]));
    assert_eq!(running, vec![web.clone()]);
    let exited = lines(&docker(&["ps", "-q", "--no-trunc", "--filter", "status=exited"]));
    assert_eq!(exited, vec![db.clone()]);
    for bad in ["colour=red", "status=sleepy", "exited=x", "name=[ab]"] {
        let out = docker(&["ps", "-a", "--filter", bad]);
        assert!(!out.status.success(), "{bad}: {}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("invalid filter"),
            "{bad}: {}",
            text(&out)
        );
    }
    docker(&["rm", "-f", "web-1", "db", "later"]);
}

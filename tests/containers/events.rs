//! `/events`, `docker events` and `strata events`: what a run, a tag and
//! an rmi report, in moby's order; live subscribers; filters; bad input;
//! and no subscriber left behind by a client that went away.

use super::ok;
use crate::util::{Daemon, output_within, require, text, wait_for};
use std::io::BufRead;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Now as the docker CLI passes a timestamp on: `SECONDS.NANOS`.
fn now() -> String {
    let d = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    format!("{}.{:09}", d.as_secs(), d.subsec_nanos())
}

/// `TYPE ACTION` of each default-format line, with its attributes.
fn actions(lines: &str) -> Vec<(String, String)> {
    lines
        .lines()
        .map(|l| {
            let mut words = l.split(' ');
            let (_time, kind, action) = (words.next(), words.next().unwrap_or(""), words.next().unwrap_or(""));
            (format!("{kind} {action}"), l.to_string())
        })
        .collect()
}

/// `events ARGS` through the docker CLI or strata (which must agree).
fn events(d: &Daemon, docker: bool, args: &[&str]) -> String {
    let mut all = vec!["events"];
    all.extend_from_slice(args);
    if docker { d.docker_ok(&all) } else { ok(d, &all) }
}

fn listeners(d: &Daemon) -> u64 {
    let (status, body) = d.http("GET", "/info", b"");
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).expect("info JSON");
    v["NEventsListener"].as_u64().expect("NEventsListener")
}

#[test]
fn a_run_rm_reports_create_attach_connect_start_disconnect_die_destroy() {
    let d = require!(Daemon::with_docker_and_busybox());
    for (docker, name) in [(true, "x"), (false, "y")] {
        let since = now();
        if docker {
            d.docker_ok(&["run", "--rm", "--name", name, "busybox", "true"]);
        } else {
            ok(&d, &["run", "--rm", "--name", name, "busybox", "true"]);
        }
        let until = now();
        let all = events(&d, docker, &["--since", &since, "--until", &until]);
        let id = all
            .lines()
            .find(|l| l.contains(" container create ") && l.contains(&format!("name={name})")))
            .and_then(|l| l.split(' ').nth(3))
            .unwrap_or_else(|| panic!("no create in {all}"))
            .to_string();
        // Everything about it, the bridge network's events included.
        let ours: Vec<String> = actions(&all)
            .into_iter()
            .filter(|(_, l)| l.contains(&id))
            .map(|(a, _)| a)
            .collect();
        assert_eq!(
            ours,
            [
                "container create",
                "container attach",
                "network connect",
                "container start",
                "network disconnect",
                "container die",
                "container destroy"
            ],
            "{all}"
        );
        let die = all.lines().find(|l| l.contains("container die")).unwrap();
        assert!(die.contains("exitCode=0") && die.contains("image=busybox"), "{die}");
        // Docker's line: nine digits of fraction, attributes sorted.
        assert!(die.contains(&format!("container die {id} (execDuration=")), "{die}");
        assert!(
            die.ends_with(&format!(", exitCode=0, image=busybox, name={name})")),
            "{die}"
        );
        assert_eq!(
            die.split(' ').next().unwrap().len(),
            "2026-12-03T14:00:00.123456789Z".len(),
            "{die}"
        );
        // By name: that container's alone.
        let mine = events(
            &d,
            docker,
            &[
                "--since",
                &since,
                "--until",
                &until,
                "-f",
                &format!("container={name}"),
                "-f",
                "type=container",
            ],
        );
        let kinds: Vec<String> = actions(&mine).into_iter().map(|(a, _)| a).collect();
        assert_eq!(
            kinds,
            [
                "container create",
                "container attach",
                "container start",
                "container die",
                "container destroy"
            ],
            "{mine}"
        );
    }
}

#[test]
fn a_live_stream_sees_a_later_start_and_its_end_frees_the_subscriber() {
    let d = require!(Daemon::with_docker_and_busybox());
    assert_eq!(listeners(&d), 0);
    for docker in [true, false] {
        let mut cmd = if docker {
            let mut c = Command::new("docker");
            c.env("DOCKER_CONFIG", d.dir.path().join("docker-config"));
            c
        } else {
            Command::new(env!("CARGO_BIN_EXE_strata"))
        };
        let mut child = cmd
            .args(["-H", &d.host(), "events", "--filter", "event=start"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("events");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        wait_for(|| listeners(&d) == 1, "the events client to subscribe");
        let name = if docker { "live-d" } else { "live-s" };
        let id = d.docker_ok(&["run", "-d", "--name", name, "busybox", "sleep", "60"]);
        let line = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("a start event within 20 s");
        assert!(
            line.contains(&format!("container start {}", id.trim())) && line.contains(&format!("name={name}")),
            "{line}"
        );
        let _ = child.kill();
        let _ = child.wait();
        // The connection's end frees the subscription.
        wait_for(|| listeners(&d) == 0, "the subscriber to go");
        d.docker_ok(&["rm", "-f", name]);
    }
}

#[test]
fn filters_select_images_events_containers_and_labels() {
    let d = require!(Daemon::with_docker_and_busybox());
    let since = now();
    d.docker_ok(&["tag", "busybox", "busybox:ev"]);
    d.docker_ok(&["rmi", "busybox:ev"]);
    d.docker_ok(&["run", "--name", "ok", "--label", "team=a", "busybox", "true"]);
    let out = d.docker(&["run", "--name", "bad", "busybox", "false"]).unwrap();
    assert!(!out.status.success(), "{}", text(&out));
    let until = now();
    for docker in [true, false] {
        let at = |filters: &[&str]| {
            let mut args = vec!["--since", since.as_str(), "--until", until.as_str()];
            for f in filters {
                args.extend(["--filter", f]);
            }
            events(&d, docker, &args)
        };
        let images = at(&["type=image"]);
        let kinds: Vec<String> = actions(&images).into_iter().map(|(a, _)| a).collect();
        assert_eq!(kinds, ["image tag", "image untag"], "{images}");
        assert!(images.lines().next().unwrap().contains("name=busybox:ev"), "{images}");
        let dies = at(&["event=die"]);
        let lines: Vec<&str> = dies.lines().collect();
        assert_eq!(lines.len(), 2, "{dies}");
        assert!(
            lines[0].contains("exitCode=0") && lines[0].contains("name=ok"),
            "{dies}"
        );
        assert!(
            lines[1].contains("exitCode=1") && lines[1].contains("name=bad"),
            "{dies}"
        );
        let bad = at(&["container=bad"]);
        assert!(!bad.is_empty() && bad.lines().all(|l| l.contains("name=bad")), "{bad}");
        let labelled = at(&["label=team=a"]);
        assert!(labelled.lines().count() >= 4, "{labelled}");
        assert!(
            labelled.lines().all(|l| l.contains("name=ok") && l.contains("team=a")),
            "{labelled}"
        );
        assert_eq!(at(&["label=team=b"]), "");
        // A template on Go's field names, and `json`.
        let custom = events(
            &d,
            docker,
            &[
                "--since",
                &since,
                "--until",
                &until,
                "-f",
                "event=die",
                "--format",
                "{{.Type}} {{.Action}} {{.Actor.Attributes.name}} {{.Status}}",
            ],
        );
        assert_eq!(custom, "container die ok die\ncontainer die bad die\n");
        let json = events(
            &d,
            docker,
            &[
                "--since",
                &since,
                "--until",
                &until,
                "-f",
                "event=die",
                "--format",
                "json",
            ],
        );
        let first: serde_json::Value = serde_json::from_str(json.lines().next().unwrap()).unwrap();
        assert_eq!(first["status"], "die");
        assert_eq!(first["from"], "busybox");
        assert_eq!(first["Actor"]["Attributes"]["exitCode"], "0");
        assert_eq!(first["scope"], "local");
        assert_eq!(first["id"], first["Actor"]["ID"]);
    }
}

#[test]
fn bad_since_until_and_filters_are_refused() {
    let d = Daemon::start();
    let (status, body) = d.http("GET", "/events?filters=%7B%22nope%22%3A%5B%22x%22%5D%7D&until=1", b"");
    assert_eq!((status, body.contains("invalid filter 'nope'")), (400, true), "{body}");
    let (status, body) = d.http("GET", "/events?since=garbage", b"");
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("strconv.ParseInt: parsing \\\"garbage\\\": invalid syntax"),
        "{body}"
    );
    let (status, body) = d.http("GET", "/events?since=20&until=10", b"");
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("cannot be after `until` time"), "{body}");
    let (status, body) = d.http("GET", "/events?filters=nope&until=1", b"");
    assert_eq!(status, 400, "{body}");
    // A past `until` ends the stream; RFC 3339 and durations are read too.
    for q in ["until=1", "since=1&until=2026-01-01T00:00:00Z", "since=10m&until=1s"] {
        let (status, body) = d.http("GET", &format!("/events?{q}"), b"");
        assert_eq!(status, 200, "{q}: {body}");
    }
    let out = d.strata(&["events", "--since", "garbage"]);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("failed to parse value as time or duration"),
        "{}",
        text(&out)
    );
    let child = Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(["-H", &d.host(), "events", "--until", "1", "--format", "{{.Nope"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = output_within(child, Duration::from_secs(20), "strata events --format");
    assert_eq!(out.status.code(), Some(64), "{}", text(&out));
}

/// The `TYPE ACTION` of the events about `id` (its own, and its networks'
/// with `container=ID`).
fn about(all: &str, id: &str) -> Vec<String> {
    actions(all)
        .into_iter()
        .filter(|(_, l)| l.contains(id))
        .map(|(a, _)| a)
        .collect()
}

#[test]
fn each_operation_reports_its_event_once_in_mobys_order() {
    let d = require!(Daemon::with_docker_and_busybox());
    let since = now();
    let id = d.docker_ok(&["run", "-d", "--name", "ops", "busybox", "sleep", "60"]);
    let id = id.trim();
    d.docker_ok(&["exec", "ops", "true"]);
    d.docker_ok(&["pause", "ops"]);
    d.docker_ok(&["unpause", "ops"]);
    d.docker_ok(&["rename", "ops", "ops2"]);
    d.docker_ok(&["update", "--cpu-shares", "512", "ops2"]);
    d.docker_ok(&["commit", "ops2", "evimg:1"]);
    d.docker_ok(&["cp", "ops2:/bin/sh", "-"]);
    d.docker_ok(&["export", "-o", d.dir.path().join("ops.tar").to_str().unwrap(), "ops2"]);
    d.docker_ok(&["network", "create", "evnet"]);
    d.docker_ok(&["network", "connect", "evnet", "ops2"]);
    d.docker_ok(&["network", "disconnect", "evnet", "ops2"]);
    d.docker_ok(&["network", "rm", "evnet"]);
    // Its sleep is PID 1 and ignores SIGTERM: SIGKILL after a second.
    d.docker_ok(&["stop", "-t", "1", "ops2"]);
    d.docker_ok(&["volume", "create", "evvol"]);
    d.docker_ok(&["volume", "rm", "evvol"]);
    d.docker_ok(&["rm", "ops2"]);
    let until = now();
    let all = events(&d, true, &["--since", &since, "--until", &until]);
    assert_eq!(
        about(&all, id),
        [
            "container create",
            "network connect",
            "container start",
            "container exec_create:",
            "container exec_start:",
            "container exec_die",
            "container pause",
            "container unpause",
            "container rename",
            "container update",
            "container commit",
            "container archive-path",
            "container export",
            "network connect",
            "network disconnect",
            "container kill",
            "container kill",
            "network disconnect",
            "container die",
            "container stop",
            "container destroy",
        ],
        "{all}"
    );
    let line = |what: &str| {
        all.lines()
            .find(|l| l.contains(what))
            .unwrap_or_else(|| panic!("{what}: {all}"))
    };
    assert!(line("exec_create: true ").contains("execID="), "{all}");
    assert!(line("exec_die").contains("exitCode=0"), "{all}");
    assert!(line("container rename").contains("oldName=ops"), "{all}");
    let commit = line("container commit");
    let image = commit
        .split("imageID=")
        .nth(1)
        .and_then(|r| r.split(',').next())
        .unwrap();
    assert!(commit.contains("imageRef=evimg:1"), "{all}");
    // The image made, then tagged, before the container's commit.
    let images: Vec<String> = about(&all, image);
    assert_eq!(images, ["image create", "image tag", "container commit"], "{all}");
    assert!(line("container kill").contains("signal=15"), "{all}");
    assert!(line("signal=9").contains("container kill"), "{all}");
    assert!(line("container die").contains("exitCode=137"), "{all}");
    assert!(line("network create").contains("name=evnet, type=bridge"), "{all}");
    assert!(line("network destroy").contains("name=evnet"), "{all}");
    assert!(line("volume create evvol").contains("driver=local"), "{all}");
    assert!(line("volume destroy evvol").contains("driver=local"), "{all}");
    // The same with strata's client.
    assert_eq!(events(&d, false, &["--since", &since, "--until", &until]), all);
}

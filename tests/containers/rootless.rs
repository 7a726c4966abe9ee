//! A rootless daemon runs containers in a user namespace.

use super::{ok, on_terminal, stdout};
use crate::util::{part, require, rootless_daemon, text, tool};

/// A rootless daemon (the test's unprivileged user, /dev/fuse opened up as
/// distributions ship it) runs containers in a user namespace: root inside
/// is that user outside, and the image's files show as root's.
#[test]
fn a_rootless_daemon_runs_containers_in_a_user_namespace() {
    let d = require!(rootless_daemon());
    let (uid, _) = crate::util::test_user();
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
    if part(tool("script")).is_some() {
        let out = on_terminal(&d, "run -it --rm busybox sh", "tty | tr / X; exit 4\\r");
        assert_eq!(out.status.code(), Some(4), "{}", text(&out));
        assert!(stdout(&out).contains("XdevXptsX0"), "{}", text(&out));
        let out = on_terminal(&d, &format!("exec -it {id} sh"), "tty | tr / X; exit 3\\r");
        assert_eq!(out.status.code(), Some(3), "{}", text(&out));
        assert!(stdout(&out).contains("XdevXptsX0"), "{}", text(&out));
    }
    ok(&d, &["rm", "-f", id]);
}

/// `run --rm` leaves no mount behind, root and rootless: the exit's
/// detach runs after the waiters are told, racing the removal's rename
/// (a rootless root is in the host's mount namespace, unmounted by
/// fusermount3 at a path: one the rename has moved is missed unless the
/// removal detaches it again there).
#[test]
fn run_rm_leaves_no_mount_behind() {
    let root = require!(super::daemon());
    let rootless = require!(rootless_daemon());
    for d in [&root, &rootless] {
        for _ in 0..6 {
            ok(d, &["run", "--rm", "busybox", "true"]);
        }
        let store = d.root.to_str().unwrap().to_string();
        let left = || {
            let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
            info.lines()
                .filter(|l| l.split(' ').nth(4).is_some_and(|m| m.starts_with(&store)))
                .map(str::to_string)
                .collect::<Vec<_>>()
        };
        let gone = || {
            std::fs::read_dir(d.root.join("containers"))
                .unwrap()
                .filter_map(Result::ok)
                .count()
        };
        // The removals finish after `run` returns: poll, bounded.
        let start = std::time::Instant::now();
        while !(left().is_empty() && gone() == 0) && start.elapsed() < std::time::Duration::from_secs(10) {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert_eq!(left(), Vec::<String>::new(), "mounts left under {store}");
        assert_eq!(gone(), 0, "container directories left under {store}");
    }
}

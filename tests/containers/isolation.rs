//! A container is PID 1 in its own namespaces on the image root, and the host stays protected.

use super::{container_dir, daemon, ok, stdout};
use crate::util::{require, text};

#[test]
fn a_container_is_pid_1_in_its_own_namespaces_on_the_image_root() {
    let d = require!(daemon());
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
fn the_host_is_protected() {
    let d = require!(daemon());
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

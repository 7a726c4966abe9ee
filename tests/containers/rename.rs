//! `rename`: a container's new name, running or stopped, with Docker's
//! errors; inspect and ps show it and the old name is free again.

use super::ok;
use crate::util::{Daemon, require, text};

#[test]
fn rename_running_and_stopped_with_docker_s_errors() {
    let d = require!(Daemon::with_docker_and_busybox());
    d.docker_ok(&["run", "-d", "--name", "old", "busybox", "sleep", "1000"]);
    d.docker_ok(&["create", "--name", "other", "busybox", "true"]);
    d.docker_ok(&["rename", "old", "new"]);
    assert_eq!(
        d.docker_ok(&["inspect", "-f", "{{.Name}} {{.State.Running}}", "new"]),
        "/new true\n"
    );
    let names = d.docker_ok(&["ps", "-a", "--format", "{{.Names}}"]);
    assert!(
        names.lines().any(|n| n == "new") && !names.lines().any(|n| n == "old"),
        "{names}"
    );
    let err = d.docker_fails(&["inspect", "old"]);
    assert!(err.contains("No such object: old"), "{err}");
    // The old name is free; the stopped one renames too, with strata.
    d.docker_ok(&["create", "--name", "old", "busybox", "true"]);
    ok(&d, &["rename", "other", "third"]);
    assert_eq!(d.docker_ok(&["inspect", "-f", "{{.Name}}", "third"]), "/third\n");

    let err = d.docker_fails(&["rename", "new", "third"]);
    assert!(
        err.contains("Conflict. The container name \"/third\" is already in use by container"),
        "{err}"
    );
    let err = d.docker_fails(&["rename", "new", "bad name!"]);
    assert!(err.contains("Invalid container name (bad name!)"), "{err}");
    let err = d.docker_fails(&["rename", "new", "new"]);
    assert!(
        err.contains("Renaming a container with the same name as its current name"),
        "{err}"
    );
    let out = d.strata(&["rename", "nosuch", "x"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("No such container: nosuch"),
        "{}",
        text(&out)
    );
    assert_eq!(
        d.docker_ok(&["inspect", "-f", "{{.Name}}", "new"]),
        "/new\n",
        "unchanged by the failures"
    );

    // Kept across a daemon restart (written to the record).
    d.docker_ok(&["rm", "-f", "new"]);
    let mut d = d;
    d.stop();
    d.spawn();
    assert_eq!(d.docker_ok(&["inspect", "-f", "{{.Name}}", "third"]), "/third\n");
}

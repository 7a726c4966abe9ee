//! Other programs using stratafs: Podman with stratafs as its mount_program.

use crate::util::{busybox_tar, fuse, require, tool};
use std::fs;
use std::process::Command;

#[test]
fn podman_runs_a_container_with_stratafs_as_its_mount_program() {
    require!(fuse());
    require!(tool("podman"));
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    fs::write(
        dir.path().join("storage.conf"),
        format!(
            "[storage]\ndriver = \"overlay\"\nrunroot = \"{d}/run\"\ngraphroot = \"{d}/graph\"\n\
             [storage.options.overlay]\nmount_program = \"{}\"\n",
            crate::util::STRATAFS
        ),
    )
    .unwrap();
    // runc and cgroupfs: crun 1.8 refuses this machine's hybrid cgroups;
    // root here cannot raise hard limits, hence the ulimits.
    fs::write(
        dir.path().join("containers.conf"),
        format!(
            "[engine]\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\nruntime = \"runc\"\ntmp_dir = \"{d}/tmp\"\n\
             [containers]\ndefault_ulimits = [\"nofile=1024:1024\", \"nproc=4096:4096\"]\n"
        ),
    )
    .unwrap();
    let tar = require!(busybox_tar(dir.path()));
    let podman = |args: &[&str]| {
        Command::new("podman")
            .args(args)
            .env("CONTAINERS_STORAGE_CONF", dir.path().join("storage.conf"))
            .env("CONTAINERS_CONF", dir.path().join("containers.conf"))
            .output()
            .unwrap()
    };
    let imported = podman(&["import", tar.to_str().unwrap(), "strata-busybox"]);
    assert!(
        imported.status.success(),
        "{}",
        String::from_utf8_lossy(&imported.stderr)
    );
    let run = podman(&[
        "run",
        "--rm",
        "--network=none",
        "strata-busybox",
        "sh",
        "-c",
        "echo hi > /x && cat /x && ls /bin/busybox",
    ]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    assert_eq!(String::from_utf8_lossy(&run.stdout), "hi\n/bin/busybox\n");
    let _ = podman(&["rmi", "-f", "strata-busybox"]);
}

//! Output piped into a reader that has gone (`strata images | head -1`):
//! no "Broken pipe" message, and the status a shell shows for docker's
//! client there (killed by SIGPIPE: 128 + 13).

use crate::util::{Daemon, STRATA, require, sample_rootfs_tar};
use std::process::{Command, Stdio};

/// Runs strata with stdout a pipe whose read end is already closed: the
/// first write fails, whatever the timing.
fn into_closed_pipe(d: &Daemon, args: &[&str]) -> (Option<i32>, String) {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = Command::new(STRATA)
        .arg("-H")
        .arg(d.host())
        .args(args)
        .env_remove("STRATA_HOST")
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn a_closed_stdout_ends_strata_quietly() {
    let d = Daemon::start();
    let path = d.dir.path().join("rootfs.tar");
    std::fs::write(&path, sample_rootfs_tar()).unwrap();
    d.import(&path, "p:1");
    d.ok(&["create", "--name", "made", "p:1", "/bin/true"]);
    let commands: &[&[&str]] = &[
        &["images"],
        &["ps", "-a"],
        &["inspect", "p:1"],
        &["image", "inspect", "-f", "{{.Id}}", "p:1"],
        &["history", "p:1"],
        &["save", "p:1"],
        &["export", "made"],
        &["completion", "bash"],
        &["--help"],
    ];
    for args in commands {
        let (code, stderr) = into_closed_pipe(&d, args);
        assert_eq!(stderr, "", "{args:?}");
        let expected = if args == &["--help"] { 0 } else { 141 };
        assert_eq!(code, Some(expected), "{args:?}");
    }
}

#[test]
fn logs_into_a_closed_stdout_end_quietly() {
    let d = require!(Daemon::with_busybox());
    d.ok(&["run", "--name", "talker", "busybox", "seq", "1", "20000"]);
    assert!(d.ok(&["logs", "talker"]).ends_with("20000\n"));
    let (code, stderr) = into_closed_pipe(&d, &["logs", "talker"]);
    assert_eq!((code, stderr.as_str()), (Some(141), ""));
}

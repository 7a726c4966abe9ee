//! The daemon's memory across containers (issue 13, finding 7): what a
//! container's run costs goes away with it. Measured as the daemon's
//! resident set (VmRSS) through /proc; not timed.

use crate::util::{Daemon, fuse, require};
use std::process::{Command, Stdio};

#[test]
fn containers_leave_no_memory_behind_in_the_daemon() {
    require!(fuse());
    let d = Daemon::start();
    d.import_busybox();
    let run = || {
        Command::new(crate::util::STRATA)
            .args(["-H", &d.host(), "run", "--rm", "busybox", "true"])
            .stdout(Stdio::null())
            .status()
            .unwrap()
    };
    assert!(run().success());
    let rest = d.status_kib("VmRSS");
    // 16 at once, each with its own union mount and FUSE threads.
    let children: Vec<_> = (0..16)
        .map(|_| {
            Command::new(crate::util::STRATA)
                .args(["-H", &d.host(), "run", "--rm", "busybox", "true"])
                .stdout(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    crate::util::wait_for(
        || d.http("GET", "/containers/json?all=1", b"").1.trim() == "[]",
        "the --rm containers to be removed",
    );
    let after = d.status_kib("VmRSS");
    assert!(
        after < rest + (50 << 10),
        "16 containers, all gone, left the daemon at {after} KiB from {rest} KiB"
    );
    // A soak: where 1,000 sequential runs end is within 10% of where the
    // first 100 left it.
    let mut at_100 = 0;
    for i in 1..=1000 {
        assert!(run().success(), "run {i}");
        if i == 100 {
            at_100 = d.status_kib("VmRSS");
        }
    }
    let at_1000 = d.status_kib("VmRSS");
    assert!(
        at_1000 * 10 <= at_100 * 11,
        "1,000 runs grew the daemon from {at_100} KiB (after 100) to {at_1000} KiB"
    );
}

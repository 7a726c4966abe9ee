//! The FUSE transport prototype (examples/fuse_transport, issue 18 item 6)
//! run briefly in both transports, in this process: the server must have
//! served, over the transport asked for, exactly the requests the client
//! made, so that a transport that silently falls back to /dev/fuse, or
//! serves nothing, fails here rather than skewing benches/fuse-transport.sh.

#[allow(dead_code)]
#[path = "../../examples/fuse_transport/proto/mod.rs"]
mod proto;

use crate::util::require;
use proto::session::{Session, Transport};
use proto::workload::{self, Measured, Workload};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

const ENABLE_URING: &str = "/sys/module/fuse/parameters/enable_uring";

/// The fuse module's enable_uring switched on while this lives, put back as
/// it was when dropped (also when the test fails).
struct UringEnabled {
    was: String,
}

impl Drop for UringEnabled {
    fn drop(&mut self) {
        let _ = std::fs::write(ENABLE_URING, self.was.trim());
    }
}

/// FUSE over io_uring switched on (root may; the kernel needs 6.14+ built
/// with CONFIG_FUSE_IO_URING).
fn uring_enabled() -> Result<UringEnabled, String> {
    let was = std::fs::read_to_string(ENABLE_URING).map_err(|e| {
        format!("{ENABLE_URING}: {e}: this kernel has no FUSE over io_uring (6.14+, CONFIG_FUSE_IO_URING)")
    })?;
    let guard = UringEnabled { was };
    std::fs::write(ENABLE_URING, "Y").map_err(|e| format!("cannot switch {ENABLE_URING} on: {e}"))?;
    match std::fs::read_to_string(ENABLE_URING) {
        Ok(now) if now.trim() == "Y" => Ok(guard),
        now => Err(format!("{ENABLE_URING} did not stay on: {now:?}")),
    }
}

/// Mounts the prototype by `transport`, runs `ops` stats from one client and
/// `ops` reads from two, unmounts (whatever happened), and returns the two
/// phases' counts.
fn serve(transport: Transport, ops: u64) -> (Measured, Measured) {
    let dir = tempfile::tempdir().expect("tempdir");
    let session = Session::mount(dir.path(), transport, 2)
        .unwrap_or_else(|e| panic!("mounting the {} transport: {e}", transport.name()));
    // A watchdog: clients stuck in the kernel (say, a ring that never
    // became ready) are let go by aborting the connection, and fail.
    let abort = session.abort_file().expect("the mount's connection").to_path_buf();
    let (done, wait) = mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        let timed_out = wait.recv_timeout(Duration::from_secs(60)) == Err(RecvTimeoutError::Timeout);
        if timed_out {
            let _ = std::fs::write(abort, "1");
        }
        timed_out
    });
    let stat = workload::run(&session, Workload::Stat, 1, ops);
    let read = workload::run(&session, Workload::Read, 2, ops);
    drop(done);
    let timed_out = watchdog.join().expect("watchdog");
    let unmounted = session.unmount();
    assert!(!timed_out, "the {} transport served nothing in 60 s", transport.name());
    let (stat, read) = (stat.expect("stat workload"), read.expect("read workload"));
    unmounted.expect("unmount and the server threads' ends");
    (stat, read)
}

/// Each op was one request of its kind, and none other was made.
fn assert_one_request_per_op(m: &Measured, over_ring: bool) {
    let (wanted, other) = if over_ring {
        (m.via_uring, m.via_dev)
    } else {
        (m.via_dev, m.via_uring)
    };
    assert_eq!(
        wanted, m.ops,
        "every op one request over the transport asked for: {m:?}"
    );
    assert_eq!(other, 0, "none over the other transport: {m:?}");
    assert_eq!(m.all, m.ops, "no other request in the timed part: {m:?}");
}

#[test]
fn the_classic_fuse_transport_serves_one_request_per_stat_and_read() {
    require!(crate::util::fuse());
    let (stat, read) = serve(Transport::Classic, 300);
    assert_one_request_per_op(&stat, false);
    assert_one_request_per_op(&read, false);
}

#[test]
fn the_io_uring_fuse_transport_serves_every_request_over_the_ring() {
    require!(crate::util::fuse());
    let _on = require!(uring_enabled());
    let (stat, read) = serve(Transport::Uring, 300);
    assert_one_request_per_op(&stat, true);
    assert_one_request_per_op(&read, true);
}

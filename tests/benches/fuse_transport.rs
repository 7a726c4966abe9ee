//! The FUSE transport prototype (examples/fuse_transport, issue 18 item 6)
//! run briefly in both transports, in this process: the server must have
//! served, over the transport asked for, exactly the requests the client
//! made, so that a transport that silently falls back to /dev/fuse, or
//! serves nothing, fails here rather than skewing benches/fuse-transport.sh.

#[allow(dead_code)]
#[path = "../../examples/fuse_transport/proto/mod.rs"]
mod proto;

use crate::util::{require, uring_switched};
use proto::session::{Session, Transport};
use proto::workload::{self, Measured, Workload};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

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
    let _on = require!(uring_switched(true));
    let (stat, read) = serve(Transport::Uring, 300);
    assert_one_request_per_op(&stat, true);
    assert_one_request_per_op(&read, true);
}

#[test]
fn the_io_uring_fuse_transport_refuses_to_mount_when_the_kernel_does_not_offer_it() {
    require!(crate::util::fuse());
    let _off = require!(uring_switched(false));
    let dir = tempfile::tempdir().expect("tempdir");
    let err = match Session::mount(dir.path(), Transport::Uring, 1) {
        Ok(session) => {
            let _ = session.unmount();
            panic!("the io_uring transport mounted with enable_uring off: it would have served over /dev/fuse");
        }
        Err(e) => e.to_string(),
    };
    assert!(err.contains("did not offer FUSE_OVER_IO_URING"), "{err}");
    let table = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    let at = dir.path().canonicalize().expect("canonical tempdir");
    assert!(
        !table.lines().any(|l| l.split(' ').nth(4) == at.to_str()),
        "a refused mount is unmounted again"
    );
}

/// The replies' structs have the sizes of include/uapi/linux/fuse.h.
#[test]
fn the_prototypes_fuse_structs_have_the_kernels_sizes() {
    use proto::abi;
    let attr = abi::Attr {
        ino: 2,
        size: 4096,
        mode: 0o100644,
        nlink: 1,
    };
    let sized = |f: &dyn Fn(&mut Vec<u8>)| {
        let mut b = Vec::new();
        f(&mut b);
        b.len()
    };
    assert_eq!(sized(&|b| abi::attr_out(&attr, 0, b)), 104, "fuse_attr_out");
    assert_eq!(sized(&|b| abi::entry_out(&attr, 1, 0, b)), 128, "fuse_entry_out");
    assert_eq!(sized(&|b| abi::open_out(0, 0, b)), 16, "fuse_open_out");
    assert_eq!(sized(&abi::statfs_out), 80, "fuse_statfs_out");
    let init = abi::InitIn::parse(&[0u8; 64]);
    assert_eq!(abi::init_out(&init, 0).len(), 64, "fuse_init_out");
    // The ring's own structs are the library's (src/sys/uring.rs tests them).
    assert_eq!(strata::sys::uring::URING_HEADER_LEN, 288, "fuse_uring_req_header");
    // The 64-bit flags: flags2 read only with FUSE_INIT_EXT.
    let mut raw = [0u8; 64];
    raw[12..16].copy_from_slice(&(abi::FUSE_INIT_EXT as u32).to_le_bytes());
    raw[16..20].copy_from_slice(&((abi::FUSE_OVER_IO_URING >> 32) as u32).to_le_bytes());
    assert_ne!(abi::InitIn::parse(&raw).flags & abi::FUSE_OVER_IO_URING, 0);
    raw[12..16].copy_from_slice(&0u32.to_le_bytes());
    assert_eq!(abi::InitIn::parse(&raw).flags & abi::FUSE_OVER_IO_URING, 0);
}

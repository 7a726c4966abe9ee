//! FUSE over io_uring (`transport=`): with the fuse module's `enable_uring`
//! on, a `transport=uring` mount serves its requests over the rings (all
//! but INIT and FORGETs, which stay on /dev/fuse) and works; with it off,
//! `transport=uring` refuses to mount and `auto` serves over /dev/fuse.

use super::names;
use super::requests::counts_now;
use crate::util::{Mount, fuse, require, uring_switched};
use std::fs;

/// The requests that never travel over the ring.
const DEV_ONLY: [&str; 4] = ["INIT", "FORGET", "BATCH_FORGET", "INTERRUPT"];

#[test]
fn a_uring_mount_serves_its_requests_over_the_ring_and_works() {
    require!(fuse());
    let _on = require!(uring_switched(true));
    let mut m = Mount::prepare(1);
    // Large enough for a passthrough open (a small one is served from the
    // page cache).
    let below = vec![3u8; (1 << 20) + 4096];
    fs::write(m.lowers[0].join("lower"), &below).unwrap();
    let counts = m.dir.path().join("counts");
    m.options = format!("transport=uring,request_counts={}", counts.display());
    m.mount();

    fs::write(m.m("new"), "written\n").unwrap();
    assert_eq!(fs::read_to_string(m.m("new")).unwrap(), "written\n");
    fs::create_dir(m.m("d")).unwrap();
    fs::write(m.m("d/x"), vec![7u8; 3 << 20]).unwrap();
    assert_eq!(fs::read(m.m("d/x")).unwrap(), vec![7u8; 3 << 20]);
    fs::rename(m.m("d/x"), m.m("d/y")).unwrap();
    assert_eq!(names(&m.m("d")), ["y"]);
    fs::remove_file(m.m("d/y")).unwrap();
    assert!(names(&m.m("d")).is_empty());
    assert_eq!(names(&m.mnt), ["d", "lower", "new"]);
    // Passthrough: the kernel reads the lower file itself (no READ).
    let before = counts_now(&counts);
    assert_eq!(fs::read(m.m("lower")).unwrap(), below);

    let c = counts_now(&counts);
    let get = |op: &str| c.get(op).copied().unwrap_or(0);
    assert_eq!(
        before.get("READ"),
        c.get("READ"),
        "a passthrough read reached the server: {c:?}"
    );
    assert!(get("OPEN") > before.get("OPEN").copied().unwrap_or(0), "{c:?}");
    for op in ["CREATE", "MKDIR", "RENAME", "UNLINK", "READDIRPLUS", "LOOKUP"] {
        assert!(get(op) > 0, "{op} not served: {c:?}");
    }
    let over_dev = get("TOTAL") - get("URING");
    let dev_only: u64 = DEV_ONLY.iter().map(|op| get(op)).sum();
    assert!(get("URING") > 0, "nothing over the ring: {c:?}");
    assert_eq!(over_dev, dev_only, "only INIT and FORGETs over /dev/fuse: {c:?}");
}

#[test]
fn without_the_kernels_offer_uring_refuses_and_auto_serves_over_dev_fuse() {
    require!(fuse());
    let _off = require!(uring_switched(false));
    let mut m = Mount::prepare(1);
    m.options = "transport=uring".into();
    let out = m.try_mount(true);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "mounted without FUSE over io_uring");
    assert!(said.contains("enable_uring"), "no clear error: {said}");
    let mounted = fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounted.contains(&m.mnt.display().to_string()), "a mount left behind");

    let counts = m.dir.path().join("counts");
    m.options = format!("transport=auto,request_counts={}", counts.display());
    m.mount();
    fs::write(m.m("f"), "x").unwrap();
    assert_eq!(fs::read_to_string(m.m("f")).unwrap(), "x");
    let c = counts_now(&counts);
    assert!(c.contains_key("CREATE"), "{c:?}");
    assert_eq!(c.get("URING"), None, "over a ring the kernel did not offer: {c:?}");
}

//! The kernel caches stay coherent with changes made through and beside the mount.

use super::names;
use crate::util::{Mount, fuse, require};
use std::fs;

#[test]
fn changes_made_beside_the_mount_show_once_invalidated() {
    require!(fuse());
    let m = Mount::prepare(1);
    fs::write(m.lowers[0].join("lower"), "lower").unwrap();
    let args = vec![
        "-o".to_string(),
        format!(
            "lowerdir={},upperdir={},workdir={},passthrough=0",
            m.lowerdir(),
            m.upper.display(),
            m.work.display()
        ),
        m.mnt.display().to_string(),
    ];
    let cfg = strata::fs::parse_mount_args(args).unwrap();
    assert!(cfg.timeout.as_secs() >= 3600, "long cache times by default");
    let fs_ = strata::fs::UnionFs::new(&cfg).unwrap();
    let invalidator = fs_.invalidator();
    let session = strata::fs::mount_union(fs_, &cfg).unwrap().spawn().unwrap();
    invalidator.attach(session.notifier());

    fs::write(m.m("file"), "old").unwrap();
    assert_eq!(fs::read_to_string(m.m("file")).unwrap(), "old");
    assert!(!m.m("later").exists());
    assert_eq!(names(&m.mnt), ["file", "lower"]);
    assert_eq!(fs::metadata(m.m("lower")).unwrap().len(), 5);
    // The daemon's own writes, straight into the upper layer.
    fs::write(m.upper.join("file"), "new and longer").unwrap();
    fs::write(m.upper.join("later"), "later").unwrap();
    fs::write(m.upper.join("lower"), "copied by the daemon").unwrap();
    // The kernel still trusts what it cached (the hour-long attribute time;
    // asking for the size alone, as `stat -c %s` does, so that no attribute
    // a read invalidated, like atime, forces a refresh).
    let size = |p: &str| {
        rustix::fs::statx(
            rustix::fs::CWD,
            m.m(p),
            rustix::fs::AtFlags::empty(),
            rustix::fs::StatxFlags::SIZE,
        )
        .unwrap()
        .stx_size
    };
    assert_eq!(size("file"), 3);
    assert_eq!(size("lower"), 5);
    for path in ["file", "later", "lower"] {
        invalidator.changed(path.as_bytes()).unwrap();
    }
    assert_eq!(size("file"), 14);
    assert_eq!(size("lower"), 20);
    assert_eq!(fs::read_to_string(m.m("file")).unwrap(), "new and longer");
    assert_eq!(fs::read_to_string(m.m("later")).unwrap(), "later");
    assert_eq!(fs::read_to_string(m.m("lower")).unwrap(), "copied by the daemon");
    assert_eq!(names(&m.mnt), ["file", "later", "lower"]);
    drop(session);
}

/// The caches that make the mount fast (page-cache opens of small lower
/// files, listings made without OPENDIR, negative entries, held parent
/// directories) never show a stale view of changes made through the mount.
#[test]
fn caches_follow_changes_made_through_the_mount() {
    require!(fuse());
    let mut m = Mount::prepare(2);
    fs::create_dir(m.lowers[1].join("d")).unwrap();
    fs::write(m.lowers[1].join("d/small"), "lower").unwrap();
    fs::write(m.lowers[1].join("d/big"), vec![7u8; 3 << 20]).unwrap();
    m.mount();
    // A small lower file read twice (the second from the page cache), then
    // written: every later open reads what was written.
    assert_eq!(fs::read_to_string(m.m("d/small")).unwrap(), "lower");
    assert_eq!(fs::read_to_string(m.m("d/small")).unwrap(), "lower");
    let reader = fs::File::open(m.m("d/small")).unwrap();
    fs::write(m.m("d/small"), "upper!").unwrap();
    assert_eq!(fs::read_to_string(m.m("d/small")).unwrap(), "upper!");
    drop(reader);
    assert_eq!(fs::read_to_string(m.m("d/small")).unwrap(), "upper!");
    assert_eq!(fs::read(m.m("d/big")).unwrap(), vec![7u8; 3 << 20]);
    // A name looked up in vain, then made: it is there at once.
    assert!(fs::symlink_metadata(m.m("d/later")).is_err());
    fs::write(m.m("d/later"), "x").unwrap();
    assert_eq!(fs::read_to_string(m.m("d/later")).unwrap(), "x");
    // Listings follow creates, removals and renames of directories.
    assert_eq!(names(&m.m("d")), ["big", "later", "small"]);
    fs::remove_file(m.m("d/big")).unwrap();
    fs::create_dir(m.m("d/sub")).unwrap();
    fs::write(m.m("d/sub/inner"), "i").unwrap();
    assert_eq!(names(&m.m("d")), ["later", "small", "sub"]);
    fs::rename(m.m("d/sub"), m.m("moved")).unwrap();
    fs::create_dir(m.m("d/sub")).unwrap();
    fs::write(m.m("d/sub/other"), "o").unwrap();
    assert_eq!(
        names(&m.m("d/sub")),
        ["other"],
        "the old directory's handle is not reused"
    );
    assert_eq!(names(&m.m("moved")), ["inner"]);
    fs::remove_file(m.m("d/sub/other")).unwrap();
    fs::remove_dir(m.m("d/sub")).unwrap();
    fs::create_dir(m.m("d/sub")).unwrap();
    assert!(names(&m.m("d/sub")).is_empty());
    fs::write(m.m("d/sub/again"), "a").unwrap();
    assert_eq!(fs::read_to_string(m.m("d/sub/again")).unwrap(), "a");
    // And the same view after a remount: it is all on disk.
    m.unmount();
    m.mount();
    assert_eq!(names(&m.m("d")), ["later", "small", "sub"]);
    assert_eq!(fs::read_to_string(m.m("d/small")).unwrap(), "upper!");
    assert_eq!(names(&m.m("moved")), ["inner"]);
}

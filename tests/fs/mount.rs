//! Mounting and unmounting: refused mountpoints, read-only, open files, a killed stratafs.

use super::{libc_erofs, names};
use crate::util::{Mount, fuse, require};
use std::fs;
use std::process::Command;

#[test]
fn a_symlink_planted_in_the_upper_is_never_followed() {
    require!(fuse());
    let mut m = Mount::prepare(1);
    fs::create_dir(m.lowers[0].join("d")).unwrap();
    // Long cache times: the kernel keeps `d` as the directory it saw, so the
    // request reaches stratafs by node, as a container's would.
    m.options = "timeout=3600".into();
    let canary = m.dir.path().join("canary");
    fs::create_dir(&canary).unwrap();
    type Op = fn(&Mount) -> std::io::Result<()>;
    let ops: [(&str, Op); 4] = [
        ("create", |m| fs::write(m.m("d/new"), "x")),
        ("mkdir", |m| fs::create_dir(m.m("d/newdir"))),
        ("symlink", |m| std::os::unix::fs::symlink("t", m.m("d/newlink"))),
        ("rename", |m| fs::rename(m.m("d/first"), m.m("d/renamed"))),
    ];
    for (what, op) in ops {
        let _ = fs::remove_file(m.upper.join("d"));
        let _ = fs::remove_dir_all(m.upper.join("d"));
        m.mount();
        fs::write(m.m("d/first"), "1").unwrap();
        // Out of band, the upper's directory becomes a symlink to the canary
        // (what a hostile writer of the upper could do).
        fs::remove_dir_all(m.upper.join("d")).unwrap();
        std::os::unix::fs::symlink(&canary, m.upper.join("d")).unwrap();
        let _ = op(&m);
        assert_eq!(names(&canary), Vec::<String>::new(), "{what} wrote through the symlink");
        m.unmount();
    }
}

#[test]
fn a_mountpoint_inside_a_layer_is_refused() {
    require!(fuse());
    let mut m = Mount::prepare(1);
    let inside = m.lowers[0].join("mnt");
    fs::create_dir(&inside).unwrap();
    m.mnt = inside;
    let out = m.try_mount(true);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("contain one another"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn sigkill_of_stratafs_keeps_the_upper_and_a_remount_works() {
    require!(fuse());
    let mut m = Mount::prepare(1);
    fs::write(m.lowers[0].join("f"), "lower").unwrap();
    m.mount();
    fs::write(m.m("f"), "changed").unwrap();
    fs::write(m.m("new"), "new").unwrap();
    let pid = Command::new("pgrep")
        .args(["-f", &format!("stratafs.*{}", m.mnt.display())])
        .output()
        .unwrap();
    let pid = String::from_utf8_lossy(&pid.stdout)
        .lines()
        .next()
        .map(str::to_string)
        .expect("stratafs pid");
    Command::new("kill").args(["-KILL", &pid]).status().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(200));
    m.unmount();
    assert_eq!(fs::read_to_string(m.upper.join("f")).unwrap(), "changed");
    m.mount();
    assert_eq!(fs::read_to_string(m.m("f")).unwrap(), "changed");
    assert_eq!(fs::read_to_string(m.m("new")).unwrap(), "new");
}

#[test]
fn unmount_while_files_are_open() {
    require!(fuse());
    let mut m = Mount::prepare(1);
    fs::write(m.lowers[0].join("f"), "lower").unwrap();
    m.mount();
    let mut open = fs::OpenOptions::new().read(true).write(true).open(m.m("f")).unwrap();
    use std::io::Write;
    open.write_all(b"UPPER").unwrap();
    let busy = Command::new("umount").arg(&m.mnt).output().unwrap();
    assert!(!busy.status.success(), "a busy mount is not unmounted under its users");
    let lazy = Command::new("umount").arg("-l").arg(&m.mnt).status().unwrap();
    assert!(lazy.success());
    open.write_all(b"!").unwrap();
    drop(open);
    std::thread::sleep(std::time::Duration::from_millis(100));
    assert_eq!(fs::read_to_string(m.upper.join("f")).unwrap(), "UPPER!");
    m.mount();
    assert_eq!(fs::read_to_string(m.m("f")).unwrap(), "UPPER!");
}

#[test]
fn the_ro_option_refuses_writes_even_with_an_upper_layer() {
    require!(fuse());
    let mut m = Mount::prepare(1);
    fs::write(m.lowers[0].join("f"), "lower").unwrap();
    m.options = "ro,noacl,fsync=0,some_unknown_option".into();
    m.mount();
    assert_eq!(fs::read_to_string(m.m("f")).unwrap(), "lower");
    let err = fs::write(m.m("f"), "x").unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc_erofs()));
    assert_eq!(
        fs::read_dir(&m.upper).unwrap().count(),
        0,
        "nothing reached the upper layer"
    );
}

/// The mount's options as /proc/self/mountinfo lists them (its fourth
/// field on: the per-mount flags).
fn mount_flags(mnt: &std::path::Path) -> String {
    let info = fs::read_to_string("/proc/self/mountinfo").unwrap();
    let mnt = mnt.to_str().unwrap();
    info.lines()
        .find(|l| l.split(' ').nth(4) == Some(mnt))
        .and_then(|l| l.split(' ').nth(5))
        .unwrap_or_else(|| panic!("{mnt} is not mounted"))
        .to_string()
}

#[test]
fn noatime_and_relatime_reach_the_kernel() {
    require!(fuse());
    let mut m = Mount::prepare(1);
    m.options = "noatime".into();
    m.mount();
    let flags = mount_flags(&m.mnt);
    assert!(flags.split(',').any(|f| f == "noatime"), "{flags}");
    m.unmount();
    m.options = "relatime".into();
    m.mount();
    let flags = mount_flags(&m.mnt);
    assert!(flags.split(',').any(|f| f == "relatime"), "{flags}");
    m.unmount();
}

//! Mounts by users without privileges: fusermount3 and the root of a user namespace.

use super::{as_user, xattr_names};
use crate::util::test_user;
use crate::util::{Mount, fuse, require};
use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::process::Command;

fn is_whiteout(dir: &std::path::Path, name: &str) -> bool {
    let dev = fs::symlink_metadata(dir.join(name)).is_ok_and(|md| md.file_type().is_char_device() && md.rdev() == 0);
    dev || dir.join(format!(".wh.{name}")).is_file()
}

/// Prepares a mount whose directories belong to the test user, with
/// /dev/fuse opened up as standard distributions have it.
fn user_mount() -> Mount {
    // These machines keep /dev/fuse at 0600; distributions ship 0666.
    fs::set_permissions("/dev/fuse", fs::Permissions::from_mode(0o666)).unwrap();
    let (uid, gid) = test_user();
    let m = Mount::prepare(1);
    fs::set_permissions(m.dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    fs::write(m.lowers[0].join("f"), "lower").unwrap();
    fs::create_dir(m.lowers[0].join("d")).unwrap();
    fs::write(m.lowers[0].join("d/old"), "old").unwrap();
    for p in [&m.lowers[0], &m.upper, &m.work, &m.mnt] {
        Command::new("chown")
            .args(["-R", &format!("{uid}:{gid}")])
            .arg(p)
            .status()
            .unwrap();
    }
    m
}

/// The shell command that mounts `m` with an upper layer.
fn stratafs_command(m: &Mount) -> String {
    format!(
        "{} -o lowerdir={},upperdir={},workdir={} {}",
        crate::util::STRATAFS,
        m.lowerdir(),
        m.upper.display(),
        m.work.display(),
        m.mnt.display()
    )
}

#[test]
fn a_user_created_by_the_test_mounts_through_fusermount3() {
    require!(fuse());
    assert!(
        crate::util::which("fusermount3").is_some(),
        "fusermount3 is needed (package fuse3; .ci/run installs it)"
    );
    let m = user_mount();
    let mnt = m.mnt.display();
    let script = format!(
        "set -e; {}; echo hi > {mnt}/new; rm {mnt}/f; rm -r {mnt}/d; mkdir {mnt}/d; touch {mnt}/d/fresh; \
         ls {mnt}/d; cat {mnt}/new; fusermount3 -u {mnt}",
        stratafs_command(&m)
    );
    let out = as_user(&script);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "fresh\nhi\n");
    // Unprivileged formats: a whiteout device (Linux lets anyone make 0/0
    // since 5.8) or a `.wh.` file, and the user xattr for opacity.
    assert!(is_whiteout(&m.upper, "f"));
    assert!(m.upper.join("d/.wh..wh..opq").exists());
    assert!(xattr_names(&m.upper.join("d")).contains(&"user.fuseoverlayfs.opaque".to_string()));
    assert_eq!(fs::metadata(m.upper.join("new")).unwrap().uid(), test_user().0);
    assert_eq!(fs::read_to_string(m.lowers[0].join("f")).unwrap(), "lower");
}

#[test]
fn root_of_a_user_namespace_mounts_too() {
    require!(fuse());
    let m = user_mount();
    let mnt = m.mnt.display();
    let script = format!(
        "set -e; unshare -Urm sh -c '{} && echo hi > {mnt}/new && rm {mnt}/f && cat {mnt}/d/old && \
         chmod 600 {mnt}/d/old && umount {mnt}'",
        stratafs_command(&m)
    );
    let out = as_user(&script);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "old");
    assert_eq!(fs::read_to_string(m.upper.join("new")).unwrap(), "hi\n");
    assert!(is_whiteout(&m.upper, "f"));
    assert_eq!(fs::metadata(m.upper.join("d/old")).unwrap().mode() & 0o777, 0o600);
}

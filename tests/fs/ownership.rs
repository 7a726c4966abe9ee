//! Ownership and permissions: id mappings, squashing, POSIX ACLs.

use super::as_user;
use crate::util::TEST_USER;
use crate::util::{Mount, fuse, require};
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::process::Command;

#[test]
fn id_mappings_squashing_and_static_nlink() {
    require!(fuse());
    let mut m = Mount::prepare(1);
    fs::write(m.lowers[0].join("owned"), "x").unwrap();
    rustix::fs::chown(
        m.lowers[0].join("owned"),
        Some(rustix::fs::Uid::from_raw(1000)),
        Some(rustix::fs::Gid::from_raw(1000)),
    )
    .unwrap();
    fs::create_dir_all(m.lowers[0].join("d/sub")).unwrap();
    m.options = "uidmapping=0:1000:1:1:5000:10,gidmapping=0:1000:1,static_nlink".into();
    m.mount();
    let md = fs::metadata(m.m("owned")).unwrap();
    assert_eq!((md.uid(), md.gid()), (0, 0), "disk 1000 shows as 0");
    assert_eq!(fs::metadata(m.m("d")).unwrap().nlink(), 1);
    // What root creates is stored as 1000; a chown to shown id 3 lands as 5002.
    fs::write(m.m("new"), "n").unwrap();
    let disk = fs::metadata(m.upper.join("new")).unwrap();
    assert_eq!((disk.uid(), disk.gid()), (1000, 1000));
    rustix::fs::chown(m.m("new"), Some(rustix::fs::Uid::from_raw(3)), None).unwrap();
    assert_eq!(fs::metadata(m.upper.join("new")).unwrap().uid(), 5002);
    assert_eq!(fs::metadata(m.m("new")).unwrap().uid(), 3);
    m.unmount();

    m.options = "squash_to_root".into();
    m.mount();
    let md = fs::metadata(m.m("new")).unwrap();
    assert_eq!((md.uid(), md.gid()), (0, 0));
}

#[test]
fn posix_acls_are_kept_and_enforced() {
    require!(fuse());
    assert!(
        crate::util::which("setfacl").is_some(),
        "setfacl is needed (package acl; .ci/run installs it)"
    );
    let mut m = Mount::prepare(1);
    fs::write(m.lowers[0].join("secret"), "s").unwrap();
    fs::set_permissions(m.lowers[0].join("secret"), fs::Permissions::from_mode(0o600)).unwrap();
    fs::set_permissions(m.dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    m.mount();
    let cat = || as_user(&format!("cat {}", m.m("secret").display()));
    assert!(!cat().status.success(), "0600 root file: the test user may not read it");
    let set = Command::new("setfacl")
        .args(["-m", &format!("u:{TEST_USER}:r")])
        .arg(m.m("secret"))
        .status()
        .unwrap();
    assert!(set.success());
    let out = cat();
    assert!(
        out.status.success(),
        "the ACL grants it: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "s");
    let acl = Command::new("getfacl")
        .arg("-c")
        .arg(m.upper.join("secret"))
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&acl.stdout).contains(&format!("user:{TEST_USER}:r--")),
        "stored in the upper layer"
    );
}

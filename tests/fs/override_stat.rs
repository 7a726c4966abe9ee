//! `privileges_in_xattrs` (`src/fs/override_stat.rs`): set-id bits, device
//! nodes and file capabilities show through the mount and never reach the
//! disk of the upper layer (or the store).

use crate::util::{Daemon, Mount, fuse, require};
use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Command;

/// A file capability (`cap_net_raw+ep`, VFS revision 2): as good as
/// set-uid root for what it grants.
fn net_raw_capability() -> Vec<u8> {
    let mut v = Vec::new();
    for word in [0x0200_0001u32, 1 << 13, 0, 0, 0] {
        v.extend_from_slice(&word.to_le_bytes());
    }
    v
}

fn capability_of(path: &Path) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; 256];
    match rustix::fs::lgetxattr(path, "security.capability", &mut buf[..]) {
        Ok(n) => Some(buf[..n].to_vec()),
        Err(rustix::io::Errno::NODATA) => None,
        Err(e) => panic!("{}: {e}", path.display()),
    }
}

fn run(cmd: &str, args: &[&str]) {
    let out = Command::new(cmd).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{cmd} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Everything below `root` on its filesystem (mounts below are not
/// entered): no set-id bit, no device but 0/0 whiteouts, no capability.
fn clean_on_disk(root: &Path) {
    let dev = fs::symlink_metadata(root).unwrap().dev();
    let mut todo = vec![root.to_path_buf()];
    while let Some(dir) = todo.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let md = fs::symlink_metadata(&path).unwrap();
            let what = path.display();
            assert_eq!(md.mode() & 0o6000, 0, "{what} has a set-id bit on disk");
            assert!(!md.file_type().is_block_device(), "{what} is a block device on disk");
            assert!(
                !md.file_type().is_char_device() || md.rdev() == 0,
                "{what} is a character device on disk"
            );
            if !md.file_type().is_symlink() {
                assert_eq!(capability_of(&path), None, "{what} has a capability on disk");
            }
            if md.is_dir() && md.dev() == dev {
                todo.push(path);
            }
        }
    }
}

fn is_device(m: &Mount, rel: &str, block: bool, major: u32, minor: u32) {
    let md = fs::symlink_metadata(m.m(rel)).unwrap();
    let kind = if block {
        md.file_type().is_block_device()
    } else {
        md.file_type().is_char_device()
    };
    assert!(kind, "{rel} is a {} device", if block { "block" } else { "character" });
    assert_eq!(md.rdev(), rustix::fs::makedev(major, minor), "{rel}'s device numbers");
}

fn mode(m: &Mount, rel: &str) -> u32 {
    fs::symlink_metadata(m.m(rel)).unwrap().mode() & 0o7777
}

/// The names in `dir` that a listing types as devices (its `d_type`).
fn listed_devices(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| {
            let t = e.file_type().unwrap();
            t.is_char_device() || t.is_block_device()
        })
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn shows_privileges(m: &Mount, step: &str) {
    is_device(m, "dev/chr", false, 1, 3);
    is_device(m, "dev/blk", true, 7, 0);
    assert_eq!(mode(m, "dev/chr"), 0o640, "{step}: the device's own mode");
    // Enough entries that the listing goes on past its first reply.
    assert_eq!(listed_devices(&m.m("dev")), ["blk", "chr"], "{step}: d_type");
    assert_eq!(mode(m, "suid"), 0o4755, "{step}");
    assert_eq!(mode(m, "sgid-dir"), 0o2755, "{step}");
    let inside = fs::symlink_metadata(m.m("sgid-dir/sub")).unwrap();
    assert_eq!(
        (inside.mode() & 0o2000, inside.gid()),
        (0o2000, 1234),
        "{step}: a set-gid directory passes on its group and the bit"
    );
    assert_eq!(
        fs::symlink_metadata(m.m("sgid-dir/file")).unwrap().gid(),
        1234,
        "{step}"
    );
    assert_eq!(capability_of(&m.m("capable")), Some(net_raw_capability()), "{step}");
    assert_eq!(mode(m, "chowned"), 0o755, "{step}: a chown clears the set-uid bit");
    assert_eq!(mode(m, "written"), 0o757, "{step}: a write by another user clears it");
    assert_eq!(mode(m, "cleared"), 0o755, "{step}: a chmod clears it");
    for f in ["dev/moved", "linked"] {
        assert_eq!(mode(m, f), 0o2711, "{step}: {f}, renamed or linked");
    }
}

#[test]
fn privileges_show_through_the_mount_and_stay_off_the_disk() {
    require!(fuse());
    let mut m = Mount::prepare(1);
    m.options = "privileges_in_xattrs".into();
    // Another user writes in it below.
    fs::set_permissions(m.dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    m.mount();
    fs::create_dir(m.m("dev")).unwrap();
    for i in 0..150 {
        fs::write(m.m(&format!("dev/file{i:03}")), "").unwrap();
    }
    run("mknod", &["-m", "640", m.m("dev/chr").to_str().unwrap(), "c", "1", "3"]);
    run("mknod", &["-m", "640", m.m("dev/blk").to_str().unwrap(), "b", "7", "0"]);
    for f in ["suid", "chowned", "written", "cleared", "capable"] {
        fs::write(m.m(f), "#!/bin/sh\n").unwrap();
    }
    for (f, bits) in [
        ("suid", 0o4755),
        ("chowned", 0o4755),
        ("written", 0o4757),
        ("cleared", 0o6755),
    ] {
        fs::set_permissions(m.m(f), fs::Permissions::from_mode(bits)).unwrap();
    }
    fs::create_dir(m.m("sgid-dir")).unwrap();
    rustix::fs::chown(m.m("sgid-dir"), None, Some(rustix::fs::Gid::from_raw(1234))).unwrap();
    fs::set_permissions(m.m("sgid-dir"), fs::Permissions::from_mode(0o2755)).unwrap();
    fs::create_dir(m.m("sgid-dir/sub")).unwrap();
    fs::write(m.m("sgid-dir/file"), "").unwrap();
    rustix::fs::setxattr(
        m.m("capable"),
        "security.capability",
        &net_raw_capability(),
        rustix::fs::XattrFlags::empty(),
    )
    .unwrap();
    rustix::fs::chown(m.m("chowned"), Some(rustix::fs::Uid::from_raw(1000)), None).unwrap();
    run(
        "setpriv",
        &[
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "sh",
            "-c",
            &format!("echo more >> {}", m.m("written").display()),
        ],
    );
    fs::set_permissions(m.m("cleared"), fs::Permissions::from_mode(0o755)).unwrap();
    // A rename and a link keep the inode, and so its privileges.
    fs::write(m.m("moved"), "").unwrap();
    fs::set_permissions(m.m("moved"), fs::Permissions::from_mode(0o2711)).unwrap();
    fs::rename(m.m("moved"), m.m("dev/moved")).unwrap();
    fs::hard_link(m.m("dev/moved"), m.m("linked")).unwrap();
    fs::rename(m.m("dev/chr"), m.m("chr-moved")).unwrap();
    fs::hard_link(m.m("chr-moved"), m.m("dev/chr")).unwrap();
    fs::remove_file(m.m("chr-moved")).unwrap();
    shows_privileges(&m, "as made");
    clean_on_disk(&m.upper);
    clean_on_disk(&m.work);
    // What users see of xattrs: the capability, never the overrides.
    let names = xattr_names(&m.m("capable"));
    assert_eq!(names, ["security.capability"], "{names:?}");
    for internal in ["user.containers.override_stat", "user.containers.security.capability"] {
        let err = rustix::fs::setxattr(
            m.m("capable"),
            internal,
            b"0:0:4755:file",
            rustix::fs::XattrFlags::empty(),
        );
        assert_eq!(err, Err(rustix::io::Errno::PERM), "{internal} is not the user's to set");
    }
    m.unmount();
    m.mount();
    shows_privileges(&m, "after a remount");
}

fn xattr_names(p: &Path) -> Vec<String> {
    let mut buf = vec![0u8; 4096];
    let n = rustix::fs::llistxattr(p, &mut buf[..]).unwrap();
    buf[..n]
        .split(|&c| c == 0)
        .filter(|s| !s.is_empty())
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect()
}

/// A store layer with a set-uid file, a device and a file capability.
fn privileged_layer(d: &Daemon) -> std::path::PathBuf {
    let mut b = tar::Builder::new(Vec::new());
    let mut dir = tar::Header::new_ustar();
    dir.set_entry_type(tar::EntryType::Directory);
    dir.set_mode(0o755);
    dir.set_size(0);
    b.append_data(&mut dir, "bin/", std::io::empty()).unwrap();
    let mut file = tar::Header::new_ustar();
    file.set_entry_type(tar::EntryType::Regular);
    file.set_mode(0o4755);
    file.set_size(3);
    b.append_data(&mut file, "bin/suid", &b"su\n"[..]).unwrap();
    b.append_pax_extensions([("SCHILY.xattr.security.capability", net_raw_capability().as_slice())])
        .unwrap();
    file.set_mode(0o755);
    b.append_data(&mut file, "bin/capable", &b"ca\n"[..]).unwrap();
    let mut dev = tar::Header::new_ustar();
    dev.set_entry_type(tar::EntryType::Char);
    dev.set_mode(0o666);
    dev.set_size(0);
    dev.set_device_major(1).unwrap();
    dev.set_device_minor(3).unwrap();
    b.append_data(&mut dev, "bin/null", std::io::empty()).unwrap();
    let path = d.dir.path().join("privileged.tar");
    fs::write(&path, b.into_inner().unwrap()).unwrap();
    d.import(&path, "privileged");
    let layer = d.inspect("privileged")["RootFS"]["Layers"][0].as_str().unwrap()[7..].to_string();
    d.root.join("layers").join(layer)
}

#[test]
fn a_store_layers_privileges_copy_up_into_xattrs() {
    require!(fuse());
    let d = Daemon::start();
    let layer = privileged_layer(&d);
    assert_eq!(
        capability_of(&layer.join("root/bin/capable")),
        None,
        "the store keeps a capability in the index only"
    );
    let mut m = Mount::prepare(0);
    m.lowers = vec![layer];
    m.options = "privileges_in_xattrs".into();
    m.mount();
    let check = |m: &Mount, step: &str| {
        assert_eq!(mode(m, "bin/suid"), 0o4755, "{step}");
        is_device(m, "bin/null", false, 1, 3);
        assert_eq!(listed_devices(&m.m("bin")), ["null"], "{step}: d_type");
        assert_eq!(capability_of(&m.m("bin/capable")), Some(net_raw_capability()), "{step}");
    };
    check(&m, "from the store layer");
    // Copy-ups: a change of times of each.
    for f in ["bin/suid", "bin/null", "bin/capable"] {
        run("touch", &["-h", "-d", "2001-02-03", m.m(f).to_str().unwrap()]);
    }
    check(&m, "copied up");
    clean_on_disk(&m.upper);
    clean_on_disk(&m.work);
    m.unmount();
    m.mount();
    check(&m, "copied up, after a remount");
}

#[test]
fn a_container_leaves_the_store_without_privileges_on_disk() {
    require!(fuse());
    let d = Daemon::start();
    d.import_busybox();
    d.ok(&["run", "-d", "--name", "priv", "busybox", "sleep", "600"]);
    d.ok(&[
        "exec",
        "priv",
        "sh",
        "-c",
        "mknod /tmp/b b 7 0 && chmod u+s /bin/busybox",
    ]);
    let inside = "stat -c '%F %t %T' /tmp/b; stat -c %a /bin/busybox";
    let seen = d.ok(&["exec", "priv", "sh", "-c", inside]);
    assert_eq!(seen, "block special file 7 0\n4755\n");
    clean_on_disk(&d.root);
    d.ok(&["commit", "priv", "busybox:priv"]);
    assert_eq!(d.ok(&["run", "--rm", "busybox:priv", "sh", "-c", inside]), seen);
    d.ok(&["rm", "-f", "priv"]);
    // The committed layer is extracted into the store the same way.
    clean_on_disk(&d.root);
}

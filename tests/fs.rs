//! `stratafs`: real FUSE mounts (root only; CI runs as root).

use crate::util::{LoopFs, Mount};
use std::fs;
use std::os::unix::fs::{DirEntryExt, FileTypeExt, MetadataExt, PermissionsExt};
use std::process::Command;

macro_rules! need_fuse {
    () => {
        if let Some(why) = crate::util::fuse_unavailable() {
            crate::util::skip(why);
            return;
        }
    };
}

fn mknod_whiteout(path: &std::path::Path) {
    let st = Command::new("mknod").arg(path).args(["c", "0", "0"]).status().unwrap();
    assert!(st.success());
}

fn setfattr(path: &std::path::Path, name: &str, value: &str) {
    rustix::fs::setxattr(path, name, value.as_bytes(), rustix::fs::XattrFlags::empty()).unwrap();
}

fn names(dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn lower_layers_merge_with_every_whiteout_format() {
    need_fuse!();
    let mut m = Mount::prepare(2);
    let (top, bottom) = (&m.lowers[0].clone(), &m.lowers[1].clone());
    for d in ["opq-file", "opq-xattr", "opq-user", "opq-fo", "merged"] {
        fs::create_dir(bottom.join(d)).unwrap();
        fs::write(bottom.join(d).join("old"), "old").unwrap();
        fs::create_dir(top.join(d)).unwrap();
        fs::write(top.join(d).join("new"), "new").unwrap();
    }
    for f in ["by-device", "by-wh-file", "kept"] {
        fs::write(bottom.join(f), f).unwrap();
    }
    mknod_whiteout(&top.join("by-device"));
    fs::write(top.join(".wh.by-wh-file"), "").unwrap();
    fs::write(top.join("opq-file/.wh..wh..opq"), "").unwrap();
    setfattr(&top.join("opq-xattr"), "trusted.overlay.opaque", "y");
    setfattr(&top.join("opq-user"), "user.overlay.opaque", "y");
    setfattr(&top.join("opq-fo"), "user.fuseoverlayfs.opaque", "y");
    setfattr(&top.join("merged"), "user.visible", "1");
    setfattr(&top.join("merged"), "trusted.overlay.redirect", "x");
    m.mount_read_only();

    assert_eq!(
        names(&m.mnt),
        ["kept", "merged", "opq-file", "opq-fo", "opq-user", "opq-xattr"]
    );
    for d in ["opq-file", "opq-xattr", "opq-user", "opq-fo"] {
        assert_eq!(names(&m.m(d)), ["new"], "{d} is opaque");
    }
    assert_eq!(names(&m.m("merged")), ["new", "old"]);
    assert!(!m.m("by-device").exists() && !m.m("by-wh-file").exists());
    assert!(!m.m(".wh.by-wh-file").exists(), "whiteout files never show");
    assert_eq!(fs::read_to_string(m.m("merged/old")).unwrap(), "old");
    // Internal xattrs never show; the user's do.
    let attrs = xattr_names(&m.m("merged"));
    assert!(attrs.contains(&"user.visible".to_string()), "{attrs:?}");
    assert!(!attrs.iter().any(|a| a.contains("overlay")), "{attrs:?}");
    // No upper: read-only.
    let err = fs::write(m.m("kept"), "x").unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc_erofs()));
    let err = fs::create_dir(m.m("newdir")).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc_erofs()));
}

fn libc_erofs() -> i32 {
    rustix::io::Errno::ROFS.raw_os_error()
}

fn xattr_names(p: &std::path::Path) -> Vec<String> {
    let mut buf = vec![0u8; 4096];
    let n = rustix::fs::listxattr(p, &mut buf[..]).unwrap();
    buf[..n]
        .split(|&c| c == 0)
        .filter(|s| !s.is_empty())
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect()
}

#[test]
fn copy_up_keeps_metadata_holes_and_inode_numbers() {
    need_fuse!();
    let mut m = Mount::prepare(1);
    let low = m.lowers[0].clone();
    fs::create_dir(low.join("dir")).unwrap();
    fs::write(low.join("dir/file"), "hello").unwrap();
    fs::set_permissions(low.join("dir/file"), fs::Permissions::from_mode(0o640)).unwrap();
    rustix::fs::chown(
        low.join("dir/file"),
        Some(rustix::fs::Uid::from_raw(1234)),
        Some(rustix::fs::Gid::from_raw(5678)),
    )
    .unwrap();
    setfattr(&low.join("dir/file"), "user.note", "kept");
    let sparse = fs::File::create(low.join("sparse")).unwrap();
    sparse.set_len(64 << 20).unwrap();
    use std::os::unix::fs::FileExt;
    sparse.write_all_at(b"end", (64 << 20) - 3).unwrap();
    drop(sparse);
    Command::new("touch")
        .args(["-d", "2001-02-03 04:05:06"])
        .arg(low.join("dir/file"))
        .status()
        .unwrap();
    m.mount();

    let before = fs::metadata(m.m("dir/file")).unwrap();
    let dir_before = fs::metadata(m.m("dir")).unwrap().ino();
    let listed: Vec<u64> = fs::read_dir(m.m("dir")).unwrap().map(|e| e.unwrap().ino()).collect();
    assert_eq!(listed, vec![before.ino()], "readdir's d_ino is st_ino");

    let mut f = fs::OpenOptions::new().append(true).open(m.m("dir/file")).unwrap();
    use std::io::Write;
    f.write_all(b" world").unwrap();
    drop(f);
    assert_eq!(fs::read_to_string(m.m("dir/file")).unwrap(), "hello world");
    assert_eq!(
        fs::read_to_string(low.join("dir/file")).unwrap(),
        "hello",
        "the lower layer is untouched"
    );
    let up = fs::metadata(m.upper.join("dir/file")).unwrap();
    assert_eq!((up.uid(), up.gid(), up.mode() & 0o7777), (1234, 5678, 0o640));
    assert!(xattr_names(&m.upper.join("dir/file")).contains(&"user.note".to_string()));
    let after = fs::metadata(m.m("dir/file")).unwrap();
    assert_eq!(after.ino(), before.ino(), "st_ino survives copy-up");
    assert_eq!(fs::metadata(m.m("dir")).unwrap().ino(), dir_before);

    // chmod copies up too, keeping the mtime; a sparse file stays sparse.
    let sparse_mtime = fs::metadata(m.m("sparse")).unwrap().mtime();
    fs::set_permissions(m.m("sparse"), fs::Permissions::from_mode(0o600)).unwrap();
    assert_eq!(
        fs::metadata(m.m("sparse")).unwrap().mtime(),
        sparse_mtime,
        "mtime kept through copy-up"
    );
    let sp = fs::metadata(m.upper.join("sparse")).unwrap();
    assert_eq!(sp.len(), 64 << 20);
    assert!(sp.blocks() * 512 < 1 << 20, "holes kept: {} blocks", sp.blocks());
    let mut end = [0u8; 3];
    fs::File::open(m.m("sparse"))
        .unwrap()
        .read_exact_at(&mut end, (64 << 20) - 3)
        .unwrap();
    assert_eq!(&end, b"end");

    // Remount: the same inode numbers.
    m.unmount();
    m.mount();
    assert_eq!(fs::metadata(m.m("dir/file")).unwrap().ino(), before.ino());
    assert_eq!(fs::metadata(m.m("dir")).unwrap().ino(), dir_before);
}

#[test]
fn deleting_lower_objects_writes_whiteouts_only() {
    need_fuse!();
    let mut m = Mount::prepare(1);
    let low = m.lowers[0].clone();
    fs::write(low.join("big"), vec![1u8; 1 << 20]).unwrap();
    fs::write(low.join("small"), "s").unwrap();
    fs::create_dir_all(low.join("tree/sub")).unwrap();
    fs::write(low.join("tree/sub/f"), "f").unwrap();
    m.mount();
    fs::remove_file(m.m("big")).unwrap();
    fs::remove_file(m.m("small")).unwrap();
    let wh = fs::symlink_metadata(m.upper.join("big")).unwrap();
    assert!(
        wh.file_type().is_char_device() && wh.rdev() == 0,
        "a 0/0 whiteout, no copy of the data"
    );
    // Whiteouts are links to one device, as kernel overlayfs makes them.
    let other = fs::symlink_metadata(m.upper.join("small")).unwrap();
    assert_eq!((other.ino(), other.dev()), (wh.ino(), wh.dev()));
    assert!(wh.nlink() >= 2);
    assert!(!m.m("big").exists());
    fs::remove_dir_all(m.m("tree")).unwrap();
    assert!(!m.m("tree").exists());
    assert_eq!(names(&m.mnt), Vec::<String>::new());
    // A new directory where a lower one was deleted is opaque.
    fs::create_dir(m.m("tree")).unwrap();
    fs::write(m.m("tree/new"), "n").unwrap();
    assert_eq!(names(&m.m("tree")), ["new"]);
    assert!(m.upper.join("tree/.wh..wh..opq").exists() || xattr_names(&m.upper.join("tree")).is_empty());
    // Names whiteouts use are not for users: refused, and nothing is left
    // in the upper layer that would hide a name.
    fs::write(m.m("sneaky"), "s").unwrap();
    for made in [
        fs::write(m.m(".wh.sneaky"), "x"),
        fs::create_dir(m.m(".wh.sneaky")),
        std::os::unix::fs::symlink("x", m.m(".wh.sneaky")),
        fs::rename(m.m("sneaky"), m.m(".wh.sneaky")),
    ] {
        assert_eq!(
            made.unwrap_err().raw_os_error(),
            Some(rustix::io::Errno::PERM.raw_os_error())
        );
    }
    assert!(!m.upper.join(".wh.sneaky").exists());
    assert_eq!(fs::read(m.m("sneaky")).unwrap(), b"s");
    m.unmount();
    assert_eq!(
        fs::read(low.join("big")).unwrap().len(),
        1 << 20,
        "the lower layer is untouched"
    );
}

#[test]
fn rename_link_symlink_and_long_names() {
    need_fuse!();
    let mut m = Mount::prepare(1);
    let low = m.lowers[0].clone();
    fs::write(low.join("a"), "a").unwrap();
    fs::create_dir(low.join("lowdir")).unwrap();
    fs::write(low.join("lowdir/x"), "x").unwrap();
    m.mount();
    fs::rename(m.m("a"), m.m("b")).unwrap();
    assert!(!m.m("a").exists());
    assert_eq!(fs::read_to_string(m.m("b")).unwrap(), "a");
    fs::hard_link(m.m("b"), m.m("c")).unwrap();
    assert_eq!(
        fs::metadata(m.m("b")).unwrap().ino(),
        fs::metadata(m.m("c")).unwrap().ino()
    );
    assert_eq!(fs::metadata(m.m("c")).unwrap().nlink(), 2);
    std::os::unix::fs::symlink("b", m.m("s")).unwrap();
    assert_eq!(fs::read_link(m.m("s")).unwrap().to_str(), Some("b"));
    assert_eq!(fs::read_to_string(m.m("s")).unwrap(), "a");
    // Directories made in the upper rename freely.
    fs::create_dir(m.m("newdir")).unwrap();
    fs::write(m.m("newdir/f"), "f").unwrap();
    fs::rename(m.m("newdir"), m.m("moved")).unwrap();
    assert_eq!(fs::read_to_string(m.m("moved/f")).unwrap(), "f");
    let long = "n".repeat(256);
    let err = fs::write(m.m(&long), "x").unwrap_err();
    assert_eq!(err.raw_os_error(), Some(rustix::io::Errno::NAMETOOLONG.raw_os_error()));
    let err = fs::metadata(m.m(&long)).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(rustix::io::Errno::NAMETOOLONG.raw_os_error()));
}

#[test]
fn a_symlink_planted_in_the_upper_is_never_followed() {
    need_fuse!();
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
    need_fuse!();
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
fn sixty_four_layers_stack() {
    need_fuse!();
    let mut m = Mount::prepare(64);
    for (i, l) in m.lowers.iter().enumerate() {
        fs::create_dir(l.join("shared")).unwrap();
        fs::write(l.join("shared").join(format!("f{i}")), i.to_string()).unwrap();
        fs::write(l.join("which"), i.to_string()).unwrap();
    }
    m.mount();
    assert_eq!(fs::read_dir(m.m("shared")).unwrap().count(), 64);
    assert_eq!(fs::read_to_string(m.m("which")).unwrap(), "0", "the topmost layer wins");
    assert_eq!(fs::read_to_string(m.m("shared/f63")).unwrap(), "63");
}

/// Whiteouts of each format, opaque directories and a directory replaced
/// by a file, deep in a stack of many layers (where lookups skip the layers
/// a name is not in, and layers are read ahead in parallel): the same view
/// as layer by layer, through a read-only mount and with an upper layer.
#[test]
fn deep_stacks_keep_whiteouts_opaque_directories_and_redirects() {
    need_fuse!();
    const N: usize = 16;
    let mut m = Mount::prepare(N);
    let l = m.lowers.clone();
    for (i, layer) in l.iter().enumerate() {
        for d in ["d", "opq-file", "opq-xattr", "opq-fo", "cut", "src"] {
            fs::create_dir_all(layer.join(d).join("sub")).unwrap();
            fs::write(layer.join(d).join(format!("f{i}")), i.to_string()).unwrap();
            fs::write(layer.join(d).join("sub").join(format!("g{i}")), i.to_string()).unwrap();
        }
        fs::write(layer.join("d").join("all"), i.to_string()).unwrap();
    }
    // Names whited out in layer 5, each shown above it (layer 3) and
    // hidden below it (layer 9).
    for (name, kind) in [("dev", 0), ("whfile", 1)] {
        fs::write(l[3].join("d").join(name), "above").unwrap();
        fs::write(l[9].join("d").join(name), "below").unwrap();
        if kind == 0 {
            mknod_whiteout(&l[5].join("d").join(name));
        } else {
            fs::write(l[5].join("d").join(format!(".wh.{name}")), "").unwrap();
        }
    }
    // Whiteouts with nothing above: the name is gone.
    mknod_whiteout(&l[6].join("d").join("f12"));
    fs::write(l[6].join("d").join(".wh.f13"), "").unwrap();
    fs::remove_dir_all(l[7].join("d").join("sub")).unwrap();
    mknod_whiteout(&l[7].join("d").join("sub"));
    // Opaque in layer 4: layers 5.. do not show.
    fs::write(l[4].join("opq-file").join(".wh..wh..opq"), "").unwrap();
    setfattr(&l[4].join("opq-xattr"), "trusted.overlay.opaque", "y");
    setfattr(&l[4].join("opq-fo"), "user.fuseoverlayfs.opaque", "y");
    // A file in layer 8 ends the directory `cut` there.
    fs::remove_dir_all(l[8].join("cut")).unwrap();
    fs::write(l[8].join("cut"), "file").unwrap();
    // Redirects in lower layers are not followed (only the upper's are).
    setfattr(&l[2].join("src"), "trusted.overlay.redirect", "/d");

    let expect = |m: &Mount| {
        let mut d: Vec<String> = (0..N)
            .filter(|i| ![12, 13].contains(i))
            .map(|i| format!("f{i}"))
            .collect();
        d.extend(["all", "dev", "sub", "whfile"].map(String::from));
        d.sort();
        assert_eq!(names(&m.m("d")), d);
        assert_eq!(fs::read_to_string(m.m("d/all")).unwrap(), "0");
        assert_eq!(fs::read_to_string(m.m("d/dev")).unwrap(), "above");
        assert_eq!(fs::read_to_string(m.m("d/whfile")).unwrap(), "above");
        assert_eq!(fs::read_to_string(m.m("d/f15")).unwrap(), "15");
        for gone in ["f12", "f13", ".wh.f13", "nowhere", "sub/g7", "sub/g15"] {
            assert!(fs::symlink_metadata(m.m(&format!("d/{gone}"))).is_err(), "d/{gone}");
        }
        let mut sub: Vec<String> = (0..7).map(|i| format!("g{i}")).collect();
        sub.sort();
        assert_eq!(names(&m.m("d/sub")), sub, "layer 7 whites out the directory");
        for d in ["opq-file", "opq-xattr", "opq-fo"] {
            assert_eq!(
                names(&m.m(d)),
                ["f0", "f1", "f2", "f3", "f4", "sub"],
                "{d} is opaque in layer 4"
            );
            assert_eq!(
                names(&m.m(&format!("{d}/sub"))),
                ["g0", "g1", "g2", "g3", "g4"],
                "{d}/sub"
            );
            assert!(!m.m(&format!("{d}/f5")).exists());
        }
        let cut: Vec<String> = ["f0", "f1", "f2", "f3", "f4", "f5", "f6", "f7", "sub"]
            .map(String::from)
            .to_vec();
        assert_eq!(names(&m.m("cut")), cut, "a file in layer 8 ends the directory");
        assert!(!m.m("cut/f9").exists());
        assert_eq!(fs::read_to_string(m.m("src/f15")).unwrap(), "15");
        assert!(!m.m("src/all").exists(), "a lower layer's redirect is not followed");
    };
    m.mount_read_only();
    expect(&m);
    m.unmount();
    m.mount();
    expect(&m);
    // Through the upper layer: removing, re-creating and renaming names
    // that are in many layers below.
    fs::remove_file(m.m("d/all")).unwrap();
    assert!(!m.m("d/all").exists());
    fs::remove_file(m.m("d/f15")).unwrap();
    fs::write(m.m("d/f15"), "new").unwrap();
    fs::rename(m.m("opq-file"), m.m("moved")).unwrap();
    fs::remove_dir_all(m.m("cut")).unwrap();
    let check = |m: &Mount| {
        assert!(!m.m("d/all").exists());
        assert_eq!(fs::read_to_string(m.m("d/f15")).unwrap(), "new");
        assert!(!m.m("opq-file").exists() && !m.m("cut").exists());
        assert_eq!(names(&m.m("moved")), ["f0", "f1", "f2", "f3", "f4", "sub"]);
        assert_eq!(fs::read_to_string(m.m("moved/f4")).unwrap(), "4");
        assert_eq!(names(&m.m("moved/sub")), ["g0", "g1", "g2", "g3", "g4"]);
    };
    check(&m);
    m.unmount();
    m.mount();
    check(&m);
}

#[test]
fn sigkill_of_stratafs_keeps_the_upper_and_a_remount_works() {
    need_fuse!();
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

fn is_whiteout(dir: &std::path::Path, name: &str) -> bool {
    let dev = fs::symlink_metadata(dir.join(name)).is_ok_and(|md| md.file_type().is_char_device() && md.rdev() == 0);
    dev || dir.join(format!(".wh.{name}")).is_file()
}

/// An unprivileged user made for these tests (once per run): its uid and gid.
pub(crate) fn test_user() -> (u32, u32) {
    static USER: std::sync::OnceLock<(u32, u32)> = std::sync::OnceLock::new();
    *USER.get_or_init(|| {
        let id = |flag: &str| {
            let out = Command::new("id").arg(flag).arg(TEST_USER).output().unwrap();
            String::from_utf8_lossy(&out.stdout).trim().parse::<u32>().ok()
        };
        if id("-u").is_none() {
            let made = Command::new("useradd")
                .args([
                    "--system",
                    "--user-group",
                    "--no-create-home",
                    "--shell",
                    "/usr/sbin/nologin",
                    TEST_USER,
                ])
                .status()
                .unwrap();
            assert!(made.success() || id("-u").is_some(), "useradd {TEST_USER} failed");
        }
        (id("-u").unwrap(), id("-g").unwrap())
    })
}

const TEST_USER: &str = "strata-rootless";

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

fn as_user(script: &str) -> std::process::Output {
    let (uid, gid) = test_user();
    Command::new("setpriv")
        .args([
            &format!("--reuid={uid}"),
            &format!("--regid={gid}"),
            "--clear-groups",
            "--",
            "sh",
            "-c",
            script,
        ])
        .output()
        .unwrap()
}

#[test]
fn a_user_created_by_the_test_mounts_through_fusermount3() {
    need_fuse!();
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
    need_fuse!();
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

/// Reads, writes, appends and copy-up through one mount configuration.
fn data_round_trip(m: &Mount) {
    use std::io::{Read, Seek, SeekFrom, Write};
    let want: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let got = fs::read(m.m("data")).unwrap();
    assert!(got == want, "lower data reads back");
    let mut f = fs::OpenOptions::new().read(true).write(true).open(m.m("data")).unwrap();
    f.seek(SeekFrom::Start(1_000_000)).unwrap();
    f.write_all(b"MIDDLE").unwrap();
    f.seek(SeekFrom::Start(999_998)).unwrap();
    let mut buf = [0u8; 10];
    f.read_exact(&mut buf).unwrap();
    assert_eq!(&buf[2..8], b"MIDDLE");
    drop(f);
    fs::OpenOptions::new()
        .append(true)
        .open(m.m("data"))
        .unwrap()
        .write_all(b"END")
        .unwrap();
    let after = fs::read(m.m("data")).unwrap();
    assert_eq!(after.len(), want.len() + 3);
    assert_eq!(
        fs::metadata(m.m("data")).unwrap().len(),
        after.len() as u64,
        "size seen by stat"
    );
    assert_eq!(&after[after.len() - 3..], b"END");
    assert_eq!(
        fs::read(m.lowers[0].join("data")).unwrap(),
        want,
        "the lower layer is untouched"
    );
}

#[test]
fn data_round_trips_with_and_without_passthrough() {
    need_fuse!();
    for options in ["", "passthrough=0"] {
        let mut m = Mount::prepare(1);
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        fs::write(m.lowers[0].join("data"), &data).unwrap();
        m.options = options.to_string();
        m.mount();
        data_round_trip(&m);
    }
}

#[test]
fn unmount_while_files_are_open() {
    need_fuse!();
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
fn directories_with_lower_content_rename_by_redirect() {
    need_fuse!();
    let mut m = Mount::prepare(2);
    fs::create_dir_all(m.lowers[1].join("src/deep/er")).unwrap();
    fs::write(m.lowers[1].join("src/deep/er/file"), "bottom").unwrap();
    fs::create_dir_all(m.lowers[0].join("src")).unwrap();
    fs::write(m.lowers[0].join("src/top"), "top").unwrap();
    m.mount();
    let ino = fs::metadata(m.m("src")).unwrap().ino();
    fs::rename(m.m("src"), m.m("dst")).unwrap();
    assert!(!m.m("src").exists());
    assert_eq!(names(&m.m("dst")), ["deep", "top"]);
    assert_eq!(fs::read_to_string(m.m("dst/deep/er/file")).unwrap(), "bottom");
    assert_eq!(
        fs::metadata(m.m("dst")).unwrap().ino(),
        ino,
        "the directory keeps its inode number"
    );
    // Changes inside the moved tree copy up from where the content really is.
    fs::write(m.m("dst/deep/er/file"), "changed").unwrap();
    fs::rename(m.m("dst/deep"), m.m("deep-again")).unwrap();
    fs::create_dir(m.m("src")).unwrap();
    assert_eq!(
        names(&m.m("src")),
        Vec::<String>::new(),
        "a new directory under the old name is empty"
    );
    // The same view after a remount: it is all on disk.
    m.unmount();
    m.mount();
    assert_eq!(names(&m.m("dst")), ["top"]);
    assert_eq!(fs::read_to_string(m.m("deep-again/er/file")).unwrap(), "changed");
    assert_eq!(names(&m.m("src")), Vec::<String>::new());
    assert_eq!(
        fs::read_to_string(m.lowers[1].join("src/deep/er/file")).unwrap(),
        "bottom"
    );
    // `mv` works without falling back to copying.
    let out = Command::new("mv").arg(m.m("dst")).arg(m.m("moved")).output().unwrap();
    assert!(out.status.success());
    assert_eq!(fs::read_to_string(m.m("moved/top")).unwrap(), "top");
}

#[test]
fn podman_runs_a_container_with_stratafs_as_its_mount_program() {
    need_fuse!();
    if crate::util::which("podman").is_none() {
        crate::util::skip("podman is not installed (scripts/deps.sh installs it)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    fs::write(
        dir.path().join("storage.conf"),
        format!(
            "[storage]\ndriver = \"overlay\"\nrunroot = \"{d}/run\"\ngraphroot = \"{d}/graph\"\n\
             [storage.options.overlay]\nmount_program = \"{}\"\n",
            crate::util::STRATAFS
        ),
    )
    .unwrap();
    // runc and cgroupfs: crun 1.8 refuses this machine's hybrid cgroups;
    // root here cannot raise hard limits, hence the ulimits.
    fs::write(
        dir.path().join("containers.conf"),
        format!(
            "[engine]\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\nruntime = \"runc\"\ntmp_dir = \"{d}/tmp\"\n\
             [containers]\ndefault_ulimits = [\"nofile=1024:1024\", \"nproc=4096:4096\"]\n"
        ),
    )
    .unwrap();
    let tar = crate::util::busybox_tar(dir.path()).expect("busybox-static is needed");
    let podman = |args: &[&str]| {
        Command::new("podman")
            .args(args)
            .env("CONTAINERS_STORAGE_CONF", dir.path().join("storage.conf"))
            .env("CONTAINERS_CONF", dir.path().join("containers.conf"))
            .output()
            .unwrap()
    };
    let imported = podman(&["import", tar.to_str().unwrap(), "strata-busybox"]);
    assert!(
        imported.status.success(),
        "{}",
        String::from_utf8_lossy(&imported.stderr)
    );
    let run = podman(&[
        "run",
        "--rm",
        "--network=none",
        "strata-busybox",
        "sh",
        "-c",
        "echo hi > /x && cat /x && ls /bin/busybox",
    ]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    assert_eq!(String::from_utf8_lossy(&run.stdout), "hi\n/bin/busybox\n");
    let _ = podman(&["rmi", "-f", "strata-busybox"]);
}

#[test]
fn id_mappings_squashing_and_static_nlink() {
    need_fuse!();
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
fn layers_of_the_store_mount_with_their_indexed_whiteouts() {
    need_fuse!();
    use crate::util::{Daemon, TarBuilder};
    let d = Daemon::start();
    let base = TarBuilder::new()
        .dir("etc/")
        .file("etc/passwd", b"root")
        .file("etc/shadow", b"secret")
        .dir("opq/")
        .file("opq/old", b"old")
        .finish();
    let top = TarBuilder::new()
        .file("etc/.wh.shadow", b"")
        .dir("opq/")
        .file("opq/.wh..wh..opq", b"")
        .file("opq/new", b"new")
        .finish();
    let mut layers = Vec::new();
    for (name, tar) in [("base", base), ("top", top)] {
        let path = d.dir.path().join(format!("{name}.tar"));
        fs::write(&path, tar).unwrap();
        d.import(&path, name);
        let layer = d.inspect(name)["RootFS"]["Layers"][0].as_str().unwrap()[7..].to_string();
        layers.push(d.root.join("layers").join(layer));
    }
    let mut m = Mount::prepare(0);
    m.lowers = vec![layers[1].clone(), layers[0].clone()];
    m.mount();
    assert_eq!(names(&m.m("etc")), ["passwd"], "the whiteout lives only in the index");
    assert_eq!(names(&m.m("opq")), ["new"], "so does the opaque marker");
    assert_eq!(fs::read_to_string(m.m("etc/passwd")).unwrap(), "root");
    fs::write(m.m("etc/passwd"), "changed").unwrap();
    assert_eq!(
        fs::read_to_string(layers[0].join("root/etc/passwd")).unwrap(),
        "root",
        "the store is untouched"
    );
    assert_eq!(fs::read_to_string(m.upper.join("etc/passwd")).unwrap(), "changed");
}

#[test]
fn rename_exchange_swaps_lower_and_upper_objects() {
    need_fuse!();
    let mut m = Mount::prepare(1);
    fs::write(m.lowers[0].join("file"), "lower file").unwrap();
    fs::create_dir(m.lowers[0].join("dir")).unwrap();
    fs::write(m.lowers[0].join("dir/inner"), "inner").unwrap();
    m.mount();
    fs::write(m.m("fresh"), "upper file").unwrap();
    let exchange = |a: &str, b: &str| {
        rustix::fs::renameat_with(
            rustix::fs::CWD,
            m.m(a),
            rustix::fs::CWD,
            m.m(b),
            rustix::fs::RenameFlags::EXCHANGE,
        )
    };
    exchange("file", "fresh").unwrap();
    assert_eq!(fs::read_to_string(m.m("file")).unwrap(), "upper file");
    assert_eq!(fs::read_to_string(m.m("fresh")).unwrap(), "lower file");
    exchange("dir", "file").unwrap();
    assert_eq!(fs::read_to_string(m.m("file/inner")).unwrap(), "inner");
    assert_eq!(fs::read_to_string(m.m("dir")).unwrap(), "upper file");
    assert_eq!(exchange("dir", "missing"), Err(rustix::io::Errno::NOENT));
    m.unmount();
    m.mount();
    assert_eq!(
        fs::read_to_string(m.m("file/inner")).unwrap(),
        "inner",
        "after a remount too"
    );
    assert_eq!(names(&m.mnt), ["dir", "file", "fresh"]);
}

#[test]
fn changes_made_beside_the_mount_show_once_invalidated() {
    need_fuse!();
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
    let session = fuser::spawn_mount(fs_, &m.mnt, &strata::fs::session_config(&cfg)).unwrap();
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

#[test]
fn posix_acls_are_kept_and_enforced() {
    need_fuse!();
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

#[test]
fn a_real_zero_zero_device_stays_a_device_through_copy_up() {
    need_fuse!();
    let mut m = Mount::prepare(1);
    let dev = m.lowers[0].join("null0");
    mknod_whiteout(&dev);
    setfattr(&dev, "trusted.strata.device", "y");
    mknod_whiteout(&m.lowers[0].join("gone"));
    m.mount();
    assert_eq!(
        names(&m.mnt),
        ["null0"],
        "a marked 0/0 device shows; an unmarked one is a whiteout"
    );
    fs::set_permissions(m.m("null0"), fs::Permissions::from_mode(0o640)).unwrap();
    let md = fs::symlink_metadata(m.m("null0")).unwrap();
    assert!(md.file_type().is_char_device() && md.rdev() == 0);
    assert_eq!(md.mode() & 0o777, 0o640);
    // Made through the mount, too.
    let out = Command::new("mknod")
        .arg(m.m("made"))
        .args(["c", "0", "0"])
        .status()
        .unwrap();
    assert!(out.success());
    m.unmount();
    m.mount();
    assert_eq!(names(&m.mnt), ["made", "null0"], "both survive a remount");
}

#[test]
fn the_ro_option_refuses_writes_even_with_an_upper_layer() {
    need_fuse!();
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

/// The caches that make the mount fast (page-cache opens of small lower
/// files, listings made without OPENDIR, negative entries, held parent
/// directories) never show a stale view of changes made through the mount.
#[test]
fn caches_follow_changes_made_through_the_mount() {
    need_fuse!();
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

/// Allocated bytes of a file (holes excluded).
fn allocated(path: &std::path::Path) -> u64 {
    fs::symlink_metadata(path).unwrap().blocks() * 512
}

#[test]
fn metacopy_changes_metadata_without_copying_data_until_written() {
    need_fuse!();
    use std::io::Write;
    use std::os::unix::fs::FileExt;
    const SIZE: usize = 8 << 20;
    let mut m = Mount::prepare(2);
    let data: Vec<u8> = (0..SIZE).map(|i| (i % 251) as u8 + 1).collect();
    for name in ["chmod", "xattr", "moved", "linked", "truncated", "shortened", "changed"] {
        fs::write(m.lowers[1].join(name), &data).unwrap();
    }
    Command::new("touch")
        .args(["-d", "2001-02-03 04:05:06"])
        .arg(m.lowers[1].join("chmod"))
        .status()
        .unwrap();
    m.options = "metacopy=on".into();
    m.mount();

    // Metadata changes copy up a hole of the right size, not the data.
    let lower_blocks = fs::metadata(m.lowers[1].join("chmod")).unwrap().blocks();
    fs::set_permissions(m.m("chmod"), fs::Permissions::from_mode(0o600)).unwrap();
    // What chmod answered, before anything else asks again.
    assert_eq!(fs::metadata(m.m("chmod")).unwrap().blocks(), lower_blocks);
    setfattr(&m.m("xattr"), "user.note", "kept");
    fs::rename(m.m("moved"), m.m("moved-to")).unwrap();
    fs::hard_link(m.m("linked"), m.m("linked-too")).unwrap();
    for name in ["chmod", "xattr", "moved-to", "linked", "linked-too"] {
        let up = m.upper.join(name);
        assert_eq!(fs::metadata(&up).unwrap().len(), SIZE as u64, "{name}: size kept");
        assert!(
            allocated(&up) < 64 << 10,
            "{name}: no data copied ({} bytes)",
            allocated(&up)
        );
        assert_eq!(fs::read(m.m(name)).unwrap(), data, "{name} reads its lower data");
    }
    let shown = fs::metadata(m.m("chmod")).unwrap();
    assert_eq!(shown.mode() & 0o7777, 0o600);
    assert_eq!(shown.blocks(), lower_blocks, "du sees the data's blocks");
    assert_eq!(shown.mtime(), 981173106, "mtime kept");
    let ino = shown.ino();

    // A remount finds the data below again.
    m.unmount();
    m.mount();
    assert_eq!(fs::read(m.m("moved-to")).unwrap(), data);
    assert_eq!(fs::metadata(m.m("chmod")).unwrap().ino(), ino);

    // The first open for writing brings the data up, times kept.
    let mut f = fs::OpenOptions::new().append(true).open(m.m("chmod")).unwrap();
    assert!(allocated(&m.upper.join("chmod")) >= SIZE as u64, "data copied at open");
    assert_eq!(fs::metadata(m.m("chmod")).unwrap().mtime(), 981173106);
    f.write_all(b"!").unwrap();
    drop(f);
    let mut want = data.clone();
    want.push(b'!');
    assert_eq!(fs::read(m.m("chmod")).unwrap(), want);
    assert_eq!(
        fs::read(m.lowers[1].join("chmod")).unwrap(),
        data,
        "the lower layer is untouched"
    );
    // Through one link, seen through the other.
    fs::OpenOptions::new()
        .write(true)
        .open(m.m("linked-too"))
        .unwrap()
        .write_all_at(b"XY", 0)
        .unwrap();
    assert_eq!(&fs::read(m.m("linked")).unwrap()[..4], &[b'X', b'Y', data[2], data[3]]);

    // Truncation: to nothing copies nothing; to a length keeps that much.
    setfattr(&m.m("truncated"), "user.a", "1");
    fs::File::create(m.m("truncated")).unwrap();
    assert_eq!(fs::metadata(m.m("truncated")).unwrap().len(), 0);
    setfattr(&m.m("shortened"), "user.a", "1");
    fs::OpenOptions::new()
        .write(true)
        .open(m.m("shortened"))
        .unwrap()
        .set_len(10)
        .unwrap();
    m.unmount();
    m.mount();
    assert_eq!(fs::read(m.m("truncated")).unwrap(), b"", "stays empty after a remount");
    assert_eq!(fs::read(m.m("shortened")).unwrap(), &data[..10]);
    assert_eq!(fs::read(m.m("chmod")).unwrap(), want);

    // The layers under a metacopy file changed: its data is an error, not
    // another file's bytes.
    setfattr(&m.m("changed"), "user.a", "1");
    m.unmount();
    // Made before the old one goes, so it cannot reuse its inode number.
    fs::write(m.lowers[1].join("changed.new"), b"another file").unwrap();
    fs::rename(m.lowers[1].join("changed.new"), m.lowers[1].join("changed")).unwrap();
    m.mount();
    let err = fs::read(m.m("changed")).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc_eio()), "{err}");
}

fn libc_eio() -> i32 {
    rustix::io::Errno::IO.raw_os_error()
}

#[test]
fn without_metacopy_a_chmod_copies_the_data() {
    need_fuse!();
    let mut m = Mount::prepare(1);
    let data = vec![7u8; 1 << 20];
    fs::write(m.lowers[0].join("f"), &data).unwrap();
    m.mount();
    fs::set_permissions(m.m("f"), fs::Permissions::from_mode(0o600)).unwrap();
    assert!(allocated(&m.upper.join("f")) >= 1 << 20);
    assert_eq!(fs::read(m.upper.join("f")).unwrap(), data);
}

// Copy-up on a store that can share extents (XFS with reflink), and on one
// that cannot. Lower, upper and work directories live on a loop-mounted XFS
// image of their own; the mountpoint stays in the test's tempdir.

const MIB: usize = 1 << 20;

/// Megabyte `i` of the test files: non-zero bytes, different per megabyte.
fn pattern_mib(i: usize) -> Vec<u8> {
    (0..MIB)
        .map(|j| ((i * 37 + j / 4096 * 7 + j) % 251 + 1) as u8)
        .collect()
}

/// Writes the pattern's megabytes `which` (holes elsewhere), `len` MiB in all.
fn write_pattern(path: &std::path::Path, len: usize, which: impl Iterator<Item = usize>) {
    use std::os::unix::fs::FileExt;
    let f = fs::File::create(path).unwrap();
    f.set_len((len * MIB) as u64).unwrap();
    for i in which {
        f.write_all_at(&pattern_mib(i), (i * MIB) as u64).unwrap();
    }
    f.sync_all().unwrap();
}

/// Reads `path` whole and compares it, megabyte by megabyte, with the
/// pattern (zeros where `is_data` says a hole), then the bytes after them.
fn check_pattern(path: &std::path::Path, len: usize, is_data: impl Fn(usize) -> bool, tail: &[u8]) {
    use std::io::Read;
    let meta = fs::metadata(path).unwrap();
    assert_eq!(
        meta.len(),
        (len * MIB + tail.len()) as u64,
        "size of {}",
        path.display()
    );
    let mut f = fs::File::open(path).unwrap();
    let mut buf = vec![0u8; MIB];
    for i in 0..len {
        f.read_exact(&mut buf).unwrap();
        let ok = if is_data(i) {
            buf == pattern_mib(i)
        } else {
            buf.iter().all(|&b| b == 0)
        };
        assert!(ok, "{}: megabyte {i} differs (data: {})", path.display(), is_data(i));
    }
    let mut rest = Vec::new();
    f.read_to_end(&mut rest).unwrap();
    assert_eq!(rest, tail, "{}: the bytes after the lower file's end", path.display());
}

/// `filefrag -v` of a file (its FIEMAP extents and their flags), or None
/// when filefrag (e2fsprogs) is not installed.
fn filefrag(path: &std::path::Path) -> Option<String> {
    let out = Command::new("filefrag").arg("-v").arg(path).output().ok()?;
    assert!(
        out.status.success(),
        "filefrag: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A stratafs mount whose lower, upper and work directories are on `store`.
fn mount_on(store: &LoopFs) -> Mount {
    let mut m = Mount::prepare(1);
    m.lowers = vec![store.path("lower")];
    m.upper = store.path("upper");
    m.work = store.path("work");
    for d in [&m.lowers[0], &m.upper, &m.work] {
        fs::create_dir(d).unwrap();
    }
    m
}

fn append(path: &std::path::Path, bytes: &[u8]) {
    use std::io::Write;
    let mut f = fs::OpenOptions::new().append(true).open(path).unwrap();
    f.write_all(bytes).unwrap();
}

macro_rules! need_xfs {
    ($reflink:expr, $options:expr) => {
        match LoopFs::xfs(512 << 20, $reflink, $options) {
            Ok(store) => store,
            Err(why) => {
                crate::util::skip(&why);
                return;
            }
        }
    };
}

/// The upper copy must share the lower file's extents. Either call of
/// copy_data gets there on XFS: FICLONE, or copy_file_range (which the
/// kernel serves by a clone within one filesystem); the read/write fallback
/// does not, and fails this test.
#[test]
fn append_copy_up_on_a_reflink_store_shares_the_lower_extents() {
    need_fuse!();
    const LEN: usize = 64;
    // Declared first, dropped last: stratafs is unmounted before the store.
    // allocsize: no speculative preallocation past EOF after the append
    // (XFS keeps it for a while after the last close), so that the space
    // the store uses is the data's.
    let store = need_xfs!(true, "allocsize=4k");
    let mut m = mount_on(&store);
    write_pattern(&m.lowers[0].join("big"), LEN, 0..LEN);
    let used_before = store.used_bytes();
    m.mount();

    append(&m.m("big"), b"!");
    check_pattern(&m.m("big"), LEN, |_| true, b"!");
    // Unmounted, so that every file is closed: XFS's speculative
    // preallocation past EOF after an append goes at the last close.
    m.unmount();

    let grown = store.used_bytes().saturating_sub(used_before);
    eprintln!("the store grew by {} KiB", grown >> 10);
    check_pattern(&m.upper.join("big"), LEN, |_| true, b"!");
    check_pattern(&m.lowers[0].join("big"), LEN, |_| true, b"");
    // A copy of 64 MiB would take 64 MiB more; a clone takes a block for the
    // appended byte (and some metadata).
    assert!(
        grown < 4 << 20,
        "copy-up used {} KiB of the store for a {LEN} MiB file: its extents were copied, not shared\n{}",
        grown >> 10,
        filefrag(&m.upper.join("big")).unwrap_or_default()
    );
    match filefrag(&m.upper.join("big")) {
        Some(extents) => assert!(
            extents.lines().any(|l| l.contains("shared")),
            "FIEMAP shows no shared extent in the upper copy:\n{extents}"
        ),
        None => eprintln!("note: filefrag (e2fsprogs) missing; FIEMAP not checked"),
    }
}

#[test]
fn append_copy_up_without_reflink_copies_the_data_and_keeps_holes() {
    need_fuse!();
    const LEN: usize = 64;
    let data = |i: usize| i < 8 || (40..48).contains(&i) || i == LEN - 1;
    // Default mount options, as a store has them: XFS preallocates past
    // EOF while a file grows, which copy-up must not let fill the holes.
    let store = need_xfs!(false, "");
    let mut m = mount_on(&store);
    write_pattern(&m.lowers[0].join("sparse"), LEN, (0..LEN).filter(|&i| data(i)));
    let used_before = store.used_bytes();
    m.mount();

    append(&m.m("sparse"), b"tail");
    check_pattern(&m.m("sparse"), LEN, data, b"tail");
    m.unmount();

    let grown = store.used_bytes().saturating_sub(used_before);
    eprintln!("the store grew by {} KiB", grown >> 10);
    check_pattern(&m.upper.join("sparse"), LEN, data, b"tail");
    check_pattern(&m.lowers[0].join("sparse"), LEN, data, b"");
    // 17 MiB of data, copied (nothing can be shared here), the holes kept
    // (allowing for preallocation past EOF after the append; holes that
    // became unwritten extents would add 16 MiB).
    let up = fs::metadata(m.upper.join("sparse")).unwrap();
    let allocated = up.blocks() * 512;
    assert!(
        (17 << 20..24 << 20).contains(&allocated),
        "the upper copy has {} KiB allocated for 17 MiB of data in 64 MiB:\n{}",
        allocated >> 10,
        filefrag(&m.upper.join("sparse")).unwrap_or_default()
    );
    assert!(
        grown >= 17 << 20,
        "the store grew by only {} KiB for a copy of 17 MiB",
        grown >> 10
    );
    if let Some(extents) = filefrag(&m.upper.join("sparse")) {
        assert!(
            !extents.contains("shared"),
            "shared extents without reflink:\n{extents}"
        );
    }
}

mod hardlinks;
mod override_stat;

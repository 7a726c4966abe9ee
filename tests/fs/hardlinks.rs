//! Hard links of lower layers through copy-up (`src/fs/hardlinks.rs`): every
//! name of an inode stays that inode, in the mount and after a remount.

use crate::util::{Daemon, Mount, TarBuilder, busybox_tar, fuse, require};
use std::fs;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::process::Command;

/// `names` in the lower layer, one inode holding "chain\n".
fn lower_aliases(m: &Mount, names: &[&str]) {
    let low = &m.lowers[0];
    fs::write(low.join(names[0]), "chain\n").unwrap();
    for n in &names[1..] {
        fs::hard_link(low.join(names[0]), low.join(n)).unwrap();
    }
}

fn append(path: &std::path::Path, text: &str) {
    let mut f = fs::OpenOptions::new()
        .append(true)
        .open(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    f.write_all(text.as_bytes()).unwrap();
}

/// The names are one inode through the mount: one inode number, `nlink`
/// links, and `content` read by each name (its size too).
fn one_inode(m: &Mount, names: &[&str], nlink: u64, content: &str, step: &str) {
    let first = fs::symlink_metadata(m.m(names[0])).unwrap_or_else(|e| panic!("{step}: {}: {e}", names[0]));
    for n in names {
        let md = fs::symlink_metadata(m.m(n)).unwrap_or_else(|e| panic!("{step}: {n}: {e}"));
        assert_eq!(
            (md.ino(), md.nlink(), md.len()),
            (first.ino(), nlink, content.len() as u64),
            "{step}: {n}'s inode number, link count and size"
        );
        let read = fs::read_to_string(m.m(n)).unwrap_or_else(|e| panic!("{step}: reading {n}: {e}"));
        assert_eq!(read, content, "{step}: {n}'s content");
    }
}

fn remount(m: &mut Mount) {
    m.unmount();
    m.mount();
}

#[test]
fn a_write_to_one_lower_hard_link_shows_in_every_name() {
    require!(fuse());
    // The report's two orders: b written first; a read, then b written.
    for read_a_first in [false, true] {
        let mut m = Mount::prepare(1);
        lower_aliases(&m, &["a", "b"]);
        m.mount();
        if read_a_first {
            assert_eq!(fs::read_to_string(m.m("a")).unwrap(), "chain\n");
        }
        append(&m.m("b"), "x\n");
        let step = format!("read a first: {read_a_first}");
        one_inode(&m, &["b", "a"], 2, "chain\nx\n", &step);
        remount(&mut m);
        one_inode(&m, &["b", "a"], 2, "chain\nx\n", &format!("{step}, after a remount"));
        assert_eq!(
            fs::read_to_string(m.lowers[0].join("a")).unwrap(),
            "chain\n",
            "the lower layer is untouched"
        );
    }
}

#[test]
fn names_never_looked_up_before_a_remount_show_the_copy() {
    require!(fuse());
    let mut m = Mount::prepare(1);
    lower_aliases(&m, &["a", "b", "c"]);
    m.mount();
    append(&m.m("a"), "x\n");
    remount(&mut m);
    one_inode(&m, &["b", "c", "a"], 3, "chain\nx\n", "after the remount");
    append(&m.m("c"), "y\n");
    one_inode(&m, &["a", "b", "c"], 3, "chain\nx\ny\n", "written through another name");
    remount(&mut m);
    one_inode(&m, &["c", "a", "b"], 3, "chain\nx\ny\n", "after a second remount");
}

#[test]
fn a_metadata_copy_up_of_one_name_then_a_write_through_another() {
    require!(fuse());
    let mut m = Mount::prepare(1);
    lower_aliases(&m, &["a", "b"]);
    m.options = "metacopy=on".into();
    m.mount();
    fs::set_permissions(m.m("a"), fs::Permissions::from_mode(0o600)).unwrap();
    one_inode(&m, &["a", "b"], 2, "chain\n", "after the chmod");
    remount(&mut m);
    assert_eq!(fs::metadata(m.m("b")).unwrap().mode() & 0o7777, 0o600, "b has a's mode");
    append(&m.m("b"), "y\n");
    remount(&mut m);
    one_inode(&m, &["a", "b"], 2, "chain\ny\n", "after the write through b");
    for n in ["a", "b"] {
        assert_eq!(fs::metadata(m.m(n)).unwrap().mode() & 0o7777, 0o600, "{n}'s mode");
    }
}

#[test]
fn unlinking_one_name_keeps_the_others() {
    require!(fuse());
    let mut m = Mount::prepare(1);
    lower_aliases(&m, &["a", "b", "c"]);
    m.mount();
    append(&m.m("a"), "x\n");
    fs::remove_file(m.m("b")).unwrap();
    one_inode(&m, &["a", "c"], 2, "chain\nx\n", "after the unlink");
    assert!(!m.m("b").exists());
    let wh = fs::symlink_metadata(m.upper.join("b")).unwrap();
    use std::os::unix::fs::FileTypeExt;
    assert!(
        wh.file_type().is_char_device() && wh.rdev() == 0,
        "a whiteout hides the lower name"
    );
    remount(&mut m);
    assert!(!m.m("b").exists(), "b stays deleted");
    one_inode(&m, &["c", "a"], 2, "chain\nx\n", "after a remount");

    // A name removed before any copy-up: the others count it gone too.
    let mut m = Mount::prepare(1);
    lower_aliases(&m, &["a", "b"]);
    m.mount();
    fs::remove_file(m.m("b")).unwrap();
    one_inode(&m, &["a"], 1, "chain\n", "a name removed before a copy-up");
    remount(&mut m);
    one_inode(
        &m,
        &["a"],
        1,
        "chain\n",
        "a name removed before a copy-up, after a remount",
    );
    assert!(!m.m("b").exists());
}

#[test]
fn a_link_or_a_rename_of_one_name_keeps_the_others() {
    require!(fuse());
    let mut m = Mount::prepare(1);
    lower_aliases(&m, &["a", "b", "c"]);
    m.mount();
    fs::hard_link(m.m("a"), m.m("d")).unwrap();
    one_inode(&m, &["a", "b", "c", "d"], 4, "chain\n", "after a link");
    fs::rename(m.m("b"), m.m("e")).unwrap();
    one_inode(&m, &["a", "c", "d", "e"], 4, "chain\n", "after a rename");
    assert!(!m.m("b").exists());
    remount(&mut m);
    append(&m.m("e"), "x\n");
    remount(&mut m);
    one_inode(
        &m,
        &["c", "a", "d", "e"],
        4,
        "chain\nx\n",
        "written through the renamed name",
    );
    assert!(!m.m("b").exists());
}

/// A store layer with data/a and its hard link data/b ("chain\n").
fn store_layer(d: &Daemon) -> std::path::PathBuf {
    let tar = TarBuilder::new()
        .dir("data/")
        .file("data/a", b"chain\n")
        .hardlink("data/b", "data/a")
        .file("data/other", b"o")
        .finish();
    let path = d.dir.path().join("linked.tar");
    fs::write(&path, tar).unwrap();
    d.import(&path, "linked");
    let layer = d.inspect("linked")["RootFS"]["Layers"][0].as_str().unwrap()[7..].to_string();
    d.root.join("layers").join(layer)
}

#[test]
fn a_store_layer_copies_up_every_name_of_an_inode() {
    require!(fuse());
    let d = Daemon::start();
    let mut m = Mount::prepare(0);
    m.lowers = vec![store_layer(&d)];
    m.mount();
    // Only b is looked up: the layer's index names a too.
    append(&m.m("data/b"), "x\n");
    let (a, b) = (
        fs::symlink_metadata(m.upper.join("data/a")).expect("a is linked into the upper layer"),
        fs::symlink_metadata(m.upper.join("data/b")).unwrap(),
    );
    assert_eq!(a.ino(), b.ino(), "one inode in the upper layer");
    remount(&mut m);
    one_inode(&m, &["data/a", "data/b"], 2, "chain\nx\n", "after a remount");
}

#[test]
fn a_write_to_a_hard_link_in_a_container_commits_every_name() {
    require!(fuse());
    let d = Daemon::start();
    let tar = require!(busybox_tar(d.dir.path()));
    let extra = d.dir.path().join("extra");
    fs::create_dir_all(extra.join("data")).unwrap();
    fs::write(extra.join("data/a"), "chain\n").unwrap();
    fs::hard_link(extra.join("data/a"), extra.join("data/b")).unwrap();
    let appended = Command::new("tar")
        .args(["--owner=0", "--group=0", "--numeric-owner", "-rf"])
        .arg(&tar)
        .arg("-C")
        .arg(&extra)
        .arg("data")
        .status()
        .unwrap();
    assert!(appended.success());
    d.import(&tar, "linked");
    d.ok(&["run", "--name", "hl", "linked", "sh", "-c", "echo x >> /data/b"]);
    assert_eq!(d.ok(&["diff", "hl"]), "C /data\nC /data/a\nC /data/b\n");
    d.ok(&["commit", "hl", "linked:new"]);
    let out = d.ok(&[
        "run",
        "--rm",
        "linked:new",
        "sh",
        "-c",
        "stat -c '%i %h' /data/a /data/b; cat /data/a /data/b",
    ]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 6, "{out}");
    assert_eq!(lines[0], lines[1], "one inode: {out}");
    assert!(lines[0].ends_with(" 2"), "two links: {out}");
    assert_eq!(lines[2..], ["chain", "x", "chain", "x"], "{out}");
}

//! A lower store layer's attributes come from its index (`src/fs/indexed.rs`):
//! a lookup or a listing stats nothing on disk, and inode numbers are the
//! index's, stable across remounts, shared by hard links, kept by copy-up.

use crate::util::{Daemon, Mount, TarBuilder, fuse, require};
use std::fs;
use std::os::unix::fs::{DirEntryExt, MetadataExt, PermissionsExt};
use std::path::PathBuf;
use std::process::Command;

/// Every entry's mtime in a `TarBuilder` archive.
const TAR_MTIME: i64 = 1_700_000_000;

/// A store layer of `data/` (a, its hard link b, 5000-byte big, a symlink
/// and a subdirectory), and the layer's directory.
fn store_layer(d: &Daemon) -> PathBuf {
    let tar = TarBuilder::new()
        .dir("data/")
        .file("data/a", b"chain\n")
        .hardlink("data/b", "data/a")
        .file("data/big", &[7u8; 5000])
        .symlink("data/link", "a")
        .dir("data/sub/")
        .file("data/sub/x", b"x")
        .finish();
    let path = d.dir.path().join("indexed.tar");
    fs::write(&path, tar).unwrap();
    d.import(&path, "indexed");
    let layer = d.inspect("indexed")["RootFS"]["Layers"][0].as_str().unwrap()[7..].to_string();
    d.root.join("layers").join(layer)
}

#[test]
fn a_store_layer_shows_its_index_not_its_disk() {
    require!(fuse());
    let d = Daemon::start();
    let layer = store_layer(&d);
    // The disk's metadata made to differ from the index's (the index is
    // authoritative): were it stat'ed, the mount would show these.
    let disk = layer.join("root/data/big");
    let st = Command::new("touch")
        .args(["-h", "-d", "2001-02-03 04:05:06"])
        .arg(&disk)
        .status()
        .unwrap();
    assert!(st.success());
    fs::set_permissions(&disk, fs::Permissions::from_mode(0o600)).unwrap();
    assert_eq!(fs::symlink_metadata(&disk).unwrap().mtime(), 981_173_106);
    let mut m = Mount::prepare(0);
    m.lowers = vec![layer];
    m.mount();
    for path in ["data/big", "data/a", "data", "data/link"] {
        let md = fs::symlink_metadata(m.m(path)).unwrap();
        assert_eq!(
            (md.mtime(), md.mtime_nsec(), md.atime(), md.ctime()),
            (TAR_MTIME, 0, TAR_MTIME, TAR_MTIME),
            "{path}: mtime, and atime and ctime shown as the mtime"
        );
    }
    let big = fs::symlink_metadata(m.m("data/big")).unwrap();
    assert_eq!(big.mode() & 0o7777, 0o644, "the index's mode, not the disk's");
    assert_eq!(big.len(), 5000);
    assert_eq!(big.blocks(), 5000u64.div_ceil(big.blksize()) * (big.blksize() / 512));
    assert_eq!(
        fs::read(m.m("data/big")).unwrap(),
        vec![7u8; 5000],
        "the data is the disk's"
    );
    let link = fs::symlink_metadata(m.m("data/link")).unwrap();
    assert!(link.file_type().is_symlink());
    assert_eq!(link.len(), 1, "a symlink's size is its target's length");
    assert_eq!(fs::read_link(m.m("data/link")).unwrap(), PathBuf::from("a"));
    assert_eq!(
        fs::symlink_metadata(m.m("data")).unwrap().nlink(),
        3,
        "2 and one subdirectory"
    );
    assert_eq!(fs::symlink_metadata(m.m("data/sub")).unwrap().nlink(), 2);
    assert_eq!(fs::symlink_metadata(m.m("data/a")).unwrap().nlink(), 2, "a and b");
    assert_eq!(fs::symlink_metadata(m.m("data/big")).unwrap().nlink(), 1);
    // A change copies the object up: from then on the upper layer's disk.
    fs::set_permissions(m.m("data/big"), fs::Permissions::from_mode(0o640)).unwrap();
    let up = fs::symlink_metadata(m.m("data/big")).unwrap();
    assert_eq!((up.mode() & 0o7777, up.mtime()), (0o640, TAR_MTIME));
}

/// Every entry of `dir` in the mount: name → (d_ino, st_ino).
fn numbers(m: &Mount, dir: &str) -> Vec<(String, u64, u64)> {
    let mut out: Vec<(String, u64, u64)> = fs::read_dir(m.m(dir))
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let name = e.file_name().to_string_lossy().into_owned();
            let st_ino = fs::symlink_metadata(e.path()).unwrap().ino();
            (name, e.ino(), st_ino)
        })
        .collect();
    out.sort();
    out
}

#[test]
fn a_store_layers_inode_numbers_are_stable_and_shared_by_hard_links() {
    require!(fuse());
    let d = Daemon::start();
    let mut m = Mount::prepare(0);
    m.lowers = vec![store_layer(&d)];
    m.mount();
    let before = numbers(&m, "data");
    assert_eq!(before.len(), 5);
    for (name, d_ino, st_ino) in &before {
        assert_eq!(d_ino, st_ino, "{name}: readdir's d_ino is st_ino");
    }
    let ino = |name: &str| before.iter().find(|e| e.0 == name).unwrap().2;
    assert_eq!(ino("a"), ino("b"), "hard links share one number");
    let mut distinct: Vec<u64> = before.iter().map(|e| e.2).collect();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 4, "every other entry its own number");
    m.unmount();
    m.mount();
    assert_eq!(numbers(&m, "data"), before, "the same numbers after a remount");
    // Copy-up keeps the number, and so do the other names of the inode.
    fs::set_permissions(m.m("data/big"), fs::Permissions::from_mode(0o600)).unwrap();
    fs::write(m.m("data/b"), "written\n").unwrap();
    assert_eq!(numbers(&m, "data"), before, "copy-up keeps the numbers");
    m.unmount();
    m.mount();
    assert_eq!(numbers(&m, "data"), before, "and so does a remount after it");
    assert_eq!(fs::read_to_string(m.m("data/a")).unwrap(), "written\n");
}

#[test]
fn a_metacopy_file_reads_its_data_from_a_store_layer_by_the_index_number() {
    require!(fuse());
    let d = Daemon::start();
    let mut m = Mount::prepare(0);
    m.lowers = vec![store_layer(&d)];
    m.options = "metacopy=on".into();
    m.mount();
    let before = fs::symlink_metadata(m.m("data/big")).unwrap().ino();
    // Its metadata up, its data left in the store layer, named by number.
    fs::set_permissions(m.m("data/big"), fs::Permissions::from_mode(0o600)).unwrap();
    assert!(super::allocated(&m.upper.join("data/big")) < 8192, "no data copied");
    for step in ["mounted", "remounted"] {
        assert_eq!(fs::read(m.m("data/big")).unwrap(), vec![7u8; 5000], "{step}: the data");
        let md = fs::symlink_metadata(m.m("data/big")).unwrap();
        assert_eq!((md.ino(), md.mode() & 0o7777), (before, 0o600), "{step}");
        m.unmount();
        m.mount();
    }
}

//! Rename, links and symlinks: redirects for lower directories, RENAME_EXCHANGE, long names.

use super::names;
use crate::util::{Mount, fuse, require};
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::process::Command;

#[test]
fn rename_link_symlink_and_long_names() {
    require!(fuse());
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
fn directories_with_lower_content_rename_by_redirect() {
    require!(fuse());
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
fn rename_exchange_swaps_lower_and_upper_objects() {
    require!(fuse());
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

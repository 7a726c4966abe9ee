//! Metadata-only copy-up (metacopy=on): no data copied until the first write.

use super::{allocated, setfattr};
use crate::util::{Mount, fuse, require};
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::process::Command;

#[test]
fn metacopy_changes_metadata_without_copying_data_until_written() {
    require!(fuse());
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
    require!(fuse());
    let mut m = Mount::prepare(1);
    let data = vec![7u8; 1 << 20];
    fs::write(m.lowers[0].join("f"), &data).unwrap();
    m.mount();
    fs::set_permissions(m.m("f"), fs::Permissions::from_mode(0o600)).unwrap();
    assert!(allocated(&m.upper.join("f")) >= 1 << 20);
    assert_eq!(fs::read(m.upper.join("f")).unwrap(), data);
}

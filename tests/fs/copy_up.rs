//! Copy-up: data, metadata, holes and inode numbers kept; reflink and plain stores; devices.

use super::{mknod_whiteout, names, setfattr, xattr_names};
use crate::util::{LoopFs, Mount, fuse, part, require};
use std::fs;
use std::os::unix::fs::{DirEntryExt, FileTypeExt, MetadataExt, PermissionsExt};
use std::process::Command;

#[test]
fn copy_up_keeps_metadata_holes_and_inode_numbers() {
    require!(fuse());
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
    require!(fuse());
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
fn a_real_zero_zero_device_stays_a_device_through_copy_up() {
    require!(fuse());
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

fn filefrag_missing() -> String {
    "filefrag (e2fsprogs) is not installed: the extents are not checked".into()
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
                crate::util::unmet(&why);
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
    require!(fuse());
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
    if let Some(extents) = part(filefrag(&m.upper.join("big")).ok_or_else(filefrag_missing)) {
        assert!(
            extents.lines().any(|l| l.contains("shared")),
            "FIEMAP shows no shared extent in the upper copy:\n{extents}"
        );
    }
}

#[test]
fn append_copy_up_without_reflink_copies_the_data_and_keeps_holes() {
    require!(fuse());
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
    if let Some(extents) = part(filefrag(&m.upper.join("sparse")).ok_or_else(filefrag_missing)) {
        assert!(
            !extents.contains("shared"),
            "shared extents without reflink:\n{extents}"
        );
    }
}

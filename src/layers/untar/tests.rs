use super::*;
use crate::layers::tarread::testtar::*;
use std::os::unix::fs::{FileTypeExt, MetadataExt};

fn extract_bytes(tar: &[u8], privileged: bool) -> (tempfile::TempDir, Result<Extracted, ExtractError>) {
    let dir = tempfile::tempdir().unwrap();
    let root = BeneathDir::open(dir.path()).unwrap();
    let result = extract(tar, &root, ExtractOptions { privileged });
    (dir, result)
}

fn archive_error(result: Result<Extracted, ExtractError>) -> String {
    match result {
        Err(ExtractError::Archive(e)) => e.to_string(),
        Err(ExtractError::Io(e)) => panic!("a store error, not the archive's: {e}"),
        Ok(_) => panic!("accepted"),
    }
}

#[test]
fn clean_path_normalises_and_refuses() {
    assert_eq!(clean_path(b"./a//b/./c/").unwrap(), b"a/b/c");
    assert_eq!(clean_path(b"./").unwrap(), b"");
    assert!(clean_path(b"/etc/passwd").is_err());
    assert!(clean_path(b"a/../../etc").is_err());
    assert!(clean_path(b"..").is_err());
    let long = vec![b'x'; 256];
    assert!(clean_path(&long).is_err());
}

#[test]
fn sparse_files_are_stored_with_their_holes() {
    const TB: u64 = 1 << 40;
    let map = [(0, 1), (1 << 30, 4096), (TB - 1, 1)];
    let mut data = vec![b'a'];
    data.extend(std::iter::repeat_n(b'b', 4096));
    data.push(b'c');
    for (what, entry) in [
        ("old GNU", old_gnu(b"f", TB, &map, &data)),
        ("PAX 0.0", pax_sparse("0.0", b"f", TB, &map, &data)),
        ("PAX 0.1", pax_sparse("0.1", b"f", TB, &map, &data)),
        ("PAX 1.0", pax_sparse("1.0", b"f", TB, &map, &data)),
    ] {
        let tar = [entry, file(b"after", b"z"), end()].concat();
        let (dir, result) = extract_bytes(&tar, false);
        let ex = result.unwrap_or_else(|e| panic!("{what}: {e}"));
        let f = std::fs::File::open(dir.path().join("f")).unwrap();
        let md = f.metadata().unwrap();
        assert_eq!(md.len(), TB, "{what}: the real size");
        assert!(md.blocks() * 512 <= 64 * 1024, "{what}: {} blocks on disk", md.blocks());
        let at = |offset: u64, len: usize| {
            let mut buf = vec![0u8; len];
            f.read_exact_at(&mut buf, offset).unwrap();
            buf
        };
        assert_eq!(at(0, 2), b"a\0", "{what}");
        assert_eq!(at((1 << 30) - 1, 3), b"\0bb", "{what}");
        assert_eq!(at(TB - 2, 2), b"\0c", "{what}");
        assert_eq!(ex.index.get(b"f").unwrap().size, TB, "{what}");
        assert_eq!(ex.index.content_size(), TB + 1, "{what}");
        assert_eq!(ex.diff_id, Digest::of(&tar), "{what}: every byte of the stream");
        assert_eq!(std::fs::read(dir.path().join("after")).unwrap(), b"z", "{what}");
        assert!(!dir.path().join("GNUSparseFile.1").exists(), "{what}");
    }
}

#[test]
fn a_size_the_filesystem_cannot_hold_is_the_archive_s_fault() {
    let dir = tempfile::tempdir().unwrap();
    let fs_type = rustix::fs::statfs(dir.path()).unwrap().f_type;
    // ext4 and XFS refuse files beyond 16 TiB and 8 EiB; tmpfs holds any.
    if !matches!(fs_type, 0xEF53 | 0x5846_5342) {
        eprintln!("SKIP: the temporary directory's filesystem ({fs_type:#x}) holds files of any size");
        return;
    }
    let real = i64::MAX as u64;
    let tar = [old_gnu(b"huge", real, &[(real - 1, 1)], b"x"), end()].concat();
    let msg = archive_error(extract_bytes(&tar, false).1);
    assert!(msg.contains("larger than the store's filesystem can hold"), "{msg}");
}

#[test]
fn set_id_bits_and_devices_never_reach_the_disk() {
    let mut tar = Vec::new();
    for (name, flag, mode) in [
        (&b"suid"[..], b'0', 0o4755),
        (b"sgid", b'0', 0o2711),
        (b"sgid-dir", b'5', 0o2775),
        (b"null", b'3', 0o666),
        (b"loop0", b'4', 0o660),
        (b"fifo", b'6', 0o4644),
    ] {
        let mut b = block(name, flag, 0, false);
        b[100..108].copy_from_slice(format!("{mode:07o}\0").as_bytes());
        b[329..337].copy_from_slice(b"0000007\0");
        b[337..345].copy_from_slice(b"0000003\0");
        fix_checksum(&mut b);
        tar.extend(b);
    }
    tar.extend(block(b"suid-link", b'1', 0, false));
    let at = tar.len() - 512;
    tar[at + 157..at + 161].copy_from_slice(b"suid");
    fix_checksum(&mut tar[at..]);
    tar.extend(end());
    for privileged in [false, rustix::process::geteuid().is_root()] {
        let (dir, result) = extract_bytes(&tar, privileged);
        let ex = result.unwrap();
        for name in ["suid", "sgid", "sgid-dir", "null", "loop0", "fifo", "suid-link"] {
            let md = std::fs::symlink_metadata(dir.path().join(name)).unwrap();
            assert_eq!(md.mode() & 0o6000, 0, "{name}: set-id bits on disk");
            assert!(
                !md.file_type().is_char_device() && !md.file_type().is_block_device(),
                "{name}"
            );
        }
        let null = std::fs::symlink_metadata(dir.path().join("null")).unwrap();
        assert!(null.is_file() && null.len() == 0 && null.mode() & 0o7777 == 0o600);
        assert!(
            std::fs::symlink_metadata(dir.path().join("fifo"))
                .unwrap()
                .file_type()
                .is_fifo()
        );
        let suid = std::fs::metadata(dir.path().join("suid")).unwrap();
        assert_eq!(suid.mode() & 0o777, 0o755, "the other bits are kept");
        // The index keeps the truth.
        let e = |p: &[u8]| ex.index.get(p).unwrap().clone();
        assert_eq!(e(b"suid").mode, 0o4755);
        assert_eq!(e(b"suid-link").mode, 0o4755);
        assert_eq!(e(b"sgid").mode, 0o2711);
        assert_eq!(e(b"sgid-dir").mode, 0o2775);
        let null = e(b"null");
        assert_eq!(
            (null.kind, null.mode, null.rdev_major, null.rdev_minor),
            (EntryKind::CharDevice, 0o666, 7, 3)
        );
        assert_eq!(e(b"loop0").kind, EntryKind::BlockDevice);
    }
}

#[test]
fn names_in_errors_are_cut_short() {
    let huge = |tail: &str| {
        let mut name = "d/".repeat(30_000).into_bytes();
        name.extend_from_slice(tail.as_bytes());
        name
    };
    let cases: Vec<Vec<u8>> = vec![
        [pax(&[("path", &huge("../x"))]), file(b"p", b""), end()].concat(),
        [pax(&[("path", &huge(&"n".repeat(300)))]), file(b"p", b""), end()].concat(),
        [pax(&[("path", &huge("x")), ("uid", b"-1")]), file(b"p", b""), end()].concat(),
        [pax(&[("linkpath", &huge("../x"))]), block(b"h", b'1', 0, false), end()].concat(),
        [
            pax(&[("path", &huge("x"))]),
            old_gnu(b"s", 1, &[(0, 4)], b"abcd"),
            end(),
        ]
        .concat(),
    ];
    for tar in cases {
        let msg = archive_error(extract_bytes(&tar, false).1);
        assert!(msg.len() < 600, "{} bytes: {msg}", msg.len());
        assert!(msg.contains("… (60"), "{msg}");
    }
}

#[test]
fn pax_bombs_are_refused_before_they_are_read() {
    let tar = block(b"bomb", b'x', 1 << 30, false);
    let msg = archive_error(extract_bytes(&tar, false).1);
    assert!(msg.contains("PAX header of 1073741824 bytes exceeds 1 MiB"), "{msg}");
}

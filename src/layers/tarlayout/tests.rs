//! Every kind of tar the reader takes comes back byte for byte.

use super::*;
use crate::layers::tarread::testtar::*;
use crate::layers::untar::{self, ExtractOptions};
use proptest::prelude::*;

/// Extracts `tar` as the store does (tree in `root/`, layout beside it).
fn store_layer(tar: &[u8]) -> Result<(tempfile::TempDir, Digest), untar::ExtractError> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("root")).unwrap();
    let root = BeneathDir::open(&dir.path().join("root")).unwrap();
    let mut layout = LayoutWriter::create(dir.path()).unwrap();
    let ex = untar::extract_recording(tar, &root, ExtractOptions { privileged: false }, &mut layout)?;
    layout.finish(&ex.diff_id, ex.tar_bytes).unwrap();
    assert!(!dir.path().join(SPILL_NAME).exists(), "the spill is gone");
    Ok((dir, ex.diff_id))
}

fn rebuilt(dir: &Path, diff_id: Digest) -> io::Result<Vec<u8>> {
    let mut tar = LayerTar::open(dir, diff_id).unwrap();
    let mut out = Vec::new();
    // Odd-sized reads, to cross every boundary.
    let mut buf = vec![0u8; 777];
    loop {
        let n = tar.read(&mut buf)?;
        if n == 0 {
            return Ok(out);
        }
        out.extend_from_slice(&buf[..n]);
    }
}

#[track_caller]
fn round_trips(what: &str, tar: &[u8]) {
    let (dir, diff_id) = store_layer(tar).unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_eq!(diff_id, Digest::of(tar), "{what}");
    let out = rebuilt(dir.path(), diff_id).unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_eq!(out.len(), tar.len(), "{what}: length");
    assert!(out == tar, "{what}: the bytes differ");
    assert_eq!(LayerTar::open(dir.path(), diff_id).unwrap().size(), tar.len() as u64);
}

fn builder_tar() -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Directory);
    h.set_mode(0o755);
    h.set_size(0);
    b.append_data(&mut h, "dir/", io::empty()).unwrap();
    // A GNU long name, and a file larger than a chunk.
    let long = format!("dir/{}", "n".repeat(150));
    let big: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let mut h = tar::Header::new_gnu();
    h.set_mode(0o4755);
    h.set_size(big.len() as u64);
    b.append_data(&mut h, &long, big.as_slice()).unwrap();
    b.append_pax_extensions([
        ("path", &b"dir/pax-named"[..]),
        ("mtime", b"1700000000.25"),
        ("SCHILY.xattr.user.k", b"v"),
    ])
    .unwrap();
    let mut h = tar::Header::new_ustar();
    h.set_size(1);
    b.append_data(&mut h, "short", &b"x"[..]).unwrap();
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_size(0);
    b.append_link(&mut h, "dir/link", "/etc/passwd").unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Link);
    h.set_size(0);
    b.append_link(&mut h, "dir/hard", "dir/pax-named").unwrap();
    let mut h = tar::Header::new_ustar();
    h.set_size(0);
    b.append_data(&mut h, "empty", io::empty()).unwrap();
    b.into_inner().unwrap()
}

#[test]
fn pax_gnu_long_names_links_and_large_files_round_trip() {
    round_trips("the tar crate's archive", &builder_tar());
}

#[test]
fn sparse_files_round_trip_in_every_format() {
    const GB: u64 = 1 << 30;
    let map = [(0, 1), (GB / 2, 70_000), (GB - 1, 1)];
    let mut data = vec![b'a'];
    data.extend((0..70_000u32).map(|i| (i % 13) as u8 + 1));
    data.push(b'c');
    // Enough map entries for old GNU extension blocks.
    let many: Vec<(u64, u64)> = (0..50).map(|i| (i * 8192, 100)).collect();
    let many_data = vec![b'm'; 5000];
    for (what, entry) in [
        ("old GNU", old_gnu(b"f", GB, &map, &data)),
        ("old GNU, extended", old_gnu(b"f", 50 * 8192, &many, &many_data)),
        ("PAX 0.0", pax_sparse("0.0", b"f", GB, &map, &data)),
        ("PAX 0.1", pax_sparse("0.1", b"f", GB, &map, &data)),
        ("PAX 1.0", pax_sparse("1.0", b"f", GB, &map, &data)),
    ] {
        round_trips(what, &[entry, file(b"after", b"z"), end()].concat());
    }
}

#[test]
fn whiteouts_opaque_markers_and_skipped_data_round_trip() {
    let tar = [
        block(b"d/", b'5', 0, false),
        file(b"d/.wh..wh..opq", b""),
        file(b"d/.wh.gone", b"data a whiteout carries is kept too"),
        file(b".wh..wh.plnk", b"aufs"),
        block(b"fifo", b'6', 0, false),
        // A device with a size field: no data follows it.
        block(b"chr", b'3', 0, false),
        file(b"d/kept", b"kept"),
        end(),
    ]
    .concat();
    round_trips("whiteouts", &tar);
}

#[test]
fn bytes_after_the_end_blocks_round_trip() {
    let base = [file(b"a", b"a"), end()].concat();
    round_trips("two end blocks", &base);
    round_trips("20 zero blocks", &[base.clone(), vec![0; 20 * 512]].concat());
    round_trips("an odd tail", &[base.clone(), b"not a block".to_vec()].concat());
    round_trips("a long tail", &[base, vec![7; 200_000]].concat());
}

#[test]
fn many_headers_between_files_round_trip() {
    // More header bytes between two files than one raw record holds.
    let mut tar = file(b"first", b"1");
    for i in 0..400 {
        tar.extend(block(format!("dir{i}/").as_bytes(), b'5', 0, false));
    }
    tar.extend(file(b"last", b"2"));
    tar.extend(end());
    round_trips("400 directories", &tar);
}

#[test]
fn files_the_archive_replaces_or_deletes_round_trip() {
    let tar = [
        file(b"twice", b"first content"),
        file(b"twice", b"second"),
        block(b"d/", b'5', 0, false),
        file(b"d/a", b"under d"),
        file(b"d/b/c", b"deeper"),
        // d (and what is below it) replaced by a file.
        file(b"d", b"now a file"),
        file(b"e", b"deleted by a whiteout"),
        file(b".wh.e", b""),
        file(b"kept", b"kept"),
        end(),
    ]
    .concat();
    round_trips("replaced files", &tar);
}

#[test]
fn a_changed_layer_is_an_error_and_its_end_is_withheld() {
    let tar = [file(b"a", b"original"), end()].concat();
    let (dir, diff_id) = store_layer(&tar).unwrap();
    std::fs::write(dir.path().join("root/a"), b"changed!").unwrap();
    let mut out = Vec::new();
    let err = LayerTar::open(dir.path(), diff_id)
        .unwrap()
        .read_to_end(&mut out)
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    assert!(err.to_string().contains("the stored layer was changed"), "{err}");
    assert!(out.len() <= tar.len() - rebuild::HOLD, "{} bytes handed out", out.len());

    std::fs::write(dir.path().join("root/a"), b"short").unwrap();
    let err = LayerTar::open(dir.path(), diff_id)
        .unwrap()
        .read_to_end(&mut Vec::new())
        .unwrap_err();
    assert!(err.to_string().contains("\"a\" is shorter"), "{err}");

    std::fs::remove_file(dir.path().join("root/a")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", dir.path().join("root/a")).unwrap();
    let err = LayerTar::open(dir.path(), diff_id)
        .unwrap()
        .read_to_end(&mut Vec::new())
        .unwrap_err();
    assert!(err.to_string().contains("\"a\""), "a symlink is not followed: {err}");
}

#[test]
fn a_layer_without_a_layout_or_with_another_s_is_refused() {
    let tar = [file(b"a", b"a"), end()].concat();
    let (dir, diff_id) = store_layer(&tar).unwrap();
    let other = Digest::of(b"other");
    let err = LayerTar::open(dir.path(), other).err().unwrap().to_string();
    assert!(err.contains("another layer's"), "{err}");
    std::fs::remove_file(dir.path().join(FILE_NAME)).unwrap();
    let err = LayerTar::open(dir.path(), diff_id).err().unwrap();
    assert!(matches!(err, LayoutError::Missing(d) if d == diff_id), "{err}");
    assert!(err.to_string().contains("cannot be rebuilt"), "{err}");
}

#[test]
fn the_store_hands_out_a_gzip_d_import_s_tar_uncompressed() {
    use flate2::write::GzEncoder;
    let tar = builder_tar();
    let mut gz = GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&tar).unwrap();
    let gz = gz.finish().unwrap();
    let root = tempfile::tempdir().unwrap();
    let store = crate::layers::Store::open(root.path()).unwrap();
    let imported = store.import(gz.as_slice(), &Default::default()).unwrap();
    assert_eq!(imported.layer, Digest::of(&tar));
    let mut out = Vec::new();
    let mut layer = store.layer_tar(&imported.layer).unwrap();
    assert_eq!(layer.size(), tar.len() as u64);
    layer.read_to_end(&mut out).unwrap();
    assert!(out == tar, "the bytes differ");
    let err = store.layer_tar(&Digest::of(b"none")).err().unwrap().to_string();
    assert!(err.contains("no such layer"), "{err}");
}

/// One generated entry: a few names, so that paths repeat.
#[derive(Clone, Debug)]
enum Item {
    File(usize, Vec<u8>, bool),
    Dir(usize),
    Symlink(usize),
    HardLink(usize, usize),
    Whiteout(usize),
}

const NAMES: [&str; 6] = ["a", "b", "d", "d/x", "d/y", "d/e/z"];

fn item() -> impl Strategy<Value = Item> {
    let n = || 0..NAMES.len();
    prop_oneof![
        4 => (n(), proptest::collection::vec(any::<u8>(), 0..2000), any::<bool>())
            .prop_map(|(i, d, pax)| Item::File(i, d, pax)),
        1 => n().prop_map(Item::Dir),
        1 => n().prop_map(Item::Symlink),
        1 => (n(), n()).prop_map(|(i, j)| Item::HardLink(i, j)),
        1 => n().prop_map(Item::Whiteout),
    ]
}

fn build(items: &[Item], tail: usize) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for it in items {
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        h.set_size(0);
        match it {
            Item::File(i, data, pax) => {
                if *pax {
                    b.append_pax_extensions([("mtime", &b"1.5"[..])]).unwrap();
                }
                h.set_size(data.len() as u64);
                b.append_data(&mut h, NAMES[*i], data.as_slice()).unwrap();
            }
            Item::Dir(i) => {
                h.set_entry_type(tar::EntryType::Directory);
                b.append_data(&mut h, NAMES[*i], io::empty()).unwrap();
            }
            Item::Symlink(i) => {
                h.set_entry_type(tar::EntryType::Symlink);
                b.append_link(&mut h, NAMES[*i], "target").unwrap();
            }
            Item::HardLink(i, j) => {
                h.set_entry_type(tar::EntryType::Link);
                b.append_link(&mut h, NAMES[*i], NAMES[*j]).unwrap();
            }
            Item::Whiteout(i) => {
                let (parent, name) = NAMES[*i].rsplit_once('/').unwrap_or(("", NAMES[*i]));
                let wh = if parent.is_empty() {
                    format!(".wh.{name}")
                } else {
                    format!("{parent}/.wh.{name}")
                };
                b.append_data(&mut h, wh, io::empty()).unwrap();
            }
        }
    }
    let mut tar = b.into_inner().unwrap();
    tar.extend(std::iter::repeat_n(0u8, tail));
    tar
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn whatever_extracts_round_trips(items in proptest::collection::vec(item(), 0..14), tail in 0usize..3000) {
        let tar = build(&items, tail);
        // Some sequences are refused (a file as a parent, a link to nothing).
        if let Ok((dir, diff_id)) = store_layer(&tar) {
            let out = rebuilt(dir.path(), diff_id).unwrap();
            prop_assert!(out == tar, "{} bytes rebuilt of {}", out.len(), tar.len());
        }
    }
}

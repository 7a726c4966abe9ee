use super::testtar::*;
use super::*;
use proptest::prelude::*;

/// Every header and the data of each entry (sparse data as read).
fn read_all(bytes: &[u8]) -> Result<Vec<(Header, Vec<u8>)>, TarError> {
    let mut r = Reader::new(bytes);
    let mut out = Vec::new();
    while let Some(h) = r.next_entry()? {
        let mut data = Vec::new();
        let mut buf = [0u8; 700];
        loop {
            let n = r.read(&mut buf)?;
            if n == 0 {
                break;
            }
            data.extend_from_slice(&buf[..n]);
        }
        out.push((h, data));
    }
    Ok(out)
}

fn err(bytes: &[u8]) -> String {
    read_all(bytes).expect_err("should be refused").to_string()
}

#[test]
fn reads_what_the_tar_crate_writes() {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Directory);
    h.set_mode(0o755);
    h.set_size(0);
    b.append_data(&mut h, "dir/", std::io::empty()).unwrap();
    let long = format!("dir/{}", "n".repeat(150));
    let mut h = tar::Header::new_gnu();
    h.set_mode(0o4755);
    h.set_uid(3_000_000_000);
    h.set_size(3);
    b.append_data(&mut h, &long, &b"abc"[..]).unwrap();
    b.append_pax_extensions([
        ("path", &b"dir/pax-named"[..]),
        ("mtime", b"1700000000.25"),
        ("uid", b"4000000000"),
        ("SCHILY.xattr.user.k", b"v"),
        ("SCHILY.xattr.user.empty", b""),
    ])
    .unwrap();
    let mut h = tar::Header::new_ustar();
    h.set_size(1);
    b.append_data(&mut h, "short", &b"x"[..]).unwrap();
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_size(0);
    b.append_link(&mut h, "dir/link", "/etc/passwd").unwrap();
    let tar = b.into_inner().unwrap();

    let entries = read_all(&tar).unwrap();
    let names: Vec<&[u8]> = entries.iter().map(|(h, _)| h.name.as_slice()).collect();
    assert_eq!(
        names,
        [b"dir/".as_slice(), long.as_bytes(), b"dir/pax-named", b"dir/link"]
    );
    let (dir, _) = &entries[0];
    assert_eq!((dir.typeflag, dir.mode), (typeflag::DIR, 0o755));
    let (f, data) = &entries[1];
    assert_eq!(
        (f.mode, f.uid, f.size, data.as_slice()),
        (0o4755, 3_000_000_000, 3, &b"abc"[..])
    );
    let (p, data) = &entries[2];
    assert_eq!(
        (p.uid, p.mtime, p.mtime_nsec),
        (4_000_000_000, 1_700_000_000, 250_000_000)
    );
    assert_eq!(
        p.xattrs,
        vec![("user.k".to_string(), b"v".to_vec())],
        "empty values dropped, as Go does"
    );
    assert_eq!(data, b"x");
    assert_eq!(
        (entries[3].0.typeflag, entries[3].0.linkname.as_slice()),
        (typeflag::SYMLINK, &b"/etc/passwd"[..])
    );
}

#[test]
fn pax_size_overrides_the_header_and_later_headers_replace_earlier_ones() {
    let mut tar = pax(&[("size", b"600")]);
    let data = vec![7u8; 600];
    tar.extend(block(b"big", b'0', 0, false));
    tar.extend(padded(&data));
    tar.extend(pax(&[("path", b"first")]));
    tar.extend(pax(&[("uid", b"5")]));
    tar.extend(file(b"second", b"2"));
    // A global header: an entry of its own that drops what came before it.
    tar.extend(pax(&[("path", b"lost")]));
    let mut global = pax(&[("path", b"global")]);
    global[156] = b'g';
    fix_checksum(&mut global);
    tar.extend(global);
    tar.extend(file(b"third", b"3"));
    tar.extend(end());
    let entries = read_all(&tar).unwrap();
    assert_eq!((entries[0].0.size, entries[0].1.len()), (600, 600));
    assert_eq!((entries[1].0.name.as_slice(), entries[1].0.uid), (&b"second"[..], 5));
    assert_eq!(entries[2].0.name, b"third");
    assert_eq!(entries.len(), 3);
}

#[test]
fn header_only_types_carry_no_data_and_old_names_ending_in_slash_are_dirs() {
    // A directory whose size field says 512: Go reads the next header
    // right after it, so the "data" block is the next entry.
    let mut tar = block(b"d/", b'5', 512, false);
    tar.extend(file(b"d/f", b"x"));
    tar.extend(block(b"old-dir/", 0, 0, false));
    tar.extend(block(b"old-file", 0, 0, false));
    tar.extend(end());
    let entries = read_all(&tar).unwrap();
    let kinds: Vec<(&[u8], u8)> = entries.iter().map(|(h, _)| (h.name.as_slice(), h.typeflag)).collect();
    assert_eq!(
        kinds,
        [
            (&b"d/"[..], typeflag::DIR),
            (b"d/f", typeflag::REG),
            (b"old-dir/", typeflag::DIR),
            (b"old-file", typeflag::REG)
        ]
    );
}

#[test]
fn extended_headers_are_refused_from_their_size_before_being_read() {
    // Nothing follows the header: a reader that buffered first would
    // report a truncated archive, not the size.
    for (flag, what) in [
        (b'x', "PAX header"),
        (b'g', "PAX global header"),
        (b'L', "GNU long name"),
        (b'K', "GNU long link"),
    ] {
        let tar = block(b"bomb", flag, 1 << 30, true);
        assert_eq!(err(&tar), format!("entry 1: {what} of 1073741824 bytes exceeds 1 MiB"));
    }
    let mut ok = block(b"././@LongLink", b'L', 1 << 20, true);
    ok.extend(padded(&vec![b'a'; 1 << 20]));
    ok.extend(file(b"short", b""));
    ok.extend(end());
    assert_eq!(
        read_all(&ok).unwrap()[0].0.name.len(),
        1 << 20,
        "exactly 1 MiB is allowed"
    );
}

#[test]
fn ends_truncation_and_non_tars() {
    let one = file(b"a", b"x");
    let mut single_zero = one.clone();
    single_zero.extend([0u8; 512]);
    assert_eq!(read_all(&single_zero).unwrap().len(), 1, "one zero block ends it");
    assert!(matches!(read_all(&one), Err(TarError::Truncated)));
    let mut short_data = block(b"a", b'0', 100, false);
    short_data.extend([1u8; 50]);
    assert!(matches!(read_all(&short_data), Err(TarError::Truncated)));
    assert!(matches!(read_all(&[b'x'; 1024]), Err(TarError::NotTar(_))));
    let mut later = one.clone();
    later.extend([b'x'; 512]);
    assert_eq!(err(&later), "entry 2: bad header checksum");
    let mut pending = pax(&[("path", b"p")]);
    pending.extend(end());
    assert!(err(&pending).contains("describes no entry"));
    assert!(err(&[pax(&[("uid", b"x")]), file(b"a", b""), end()].concat()).contains("bad PAX uid"));
}

#[test]
fn old_gnu_sparse_maps_with_extension_headers() {
    let map: Vec<(u64, u64)> = (0..30).map(|i| (i * 1000, 2)).chain([(1 << 40, 0)]).collect();
    let data = vec![9u8; 60];
    let tar = [old_gnu(b"holes", 1 << 40, &map, &data), file(b"after", b"z"), end()].concat();
    let entries = read_all(&tar).unwrap();
    let (h, got) = &entries[0];
    assert_eq!(
        (h.typeflag, h.size, got.as_slice()),
        (typeflag::GNU_SPARSE, 1 << 40, data.as_slice())
    );
    let segments = h.sparse.as_ref().unwrap();
    assert_eq!(segments.len(), 31);
    assert_eq!(segments[29], Segment { offset: 29_000, len: 2 });
    assert_eq!(entries[1].1, b"z");
    // The same map in a ustar header is refused, as Go refuses it.
    let mut ustar = old_gnu(b"holes", 100, &[(0, 1)], b"x");
    ustar[257..265].copy_from_slice(b"ustar\x0000");
    fix_checksum(&mut ustar);
    assert!(err(&[ustar, end()].concat()).contains("not GNU"));
}

#[test]
fn pax_sparse_formats() {
    let map = [(0, 3), (1 << 20, 2), (1 << 41, 1)];
    for version in ["0.0", "0.1", "1.0"] {
        let tar = [pax_sparse(version, b"f", (1 << 41) + 1, &map, b"abcde!"), end()].concat();
        let entries = read_all(&tar).unwrap_or_else(|e| panic!("{version}: {e}"));
        let (h, data) = &entries[0];
        assert_eq!((h.size, data.as_slice()), ((1 << 41) + 1, &b"abcde!"[..]), "{version}");
        let want: Vec<Segment> = map.iter().map(|&(offset, len)| Segment { offset, len }).collect();
        assert_eq!(h.sparse.as_deref(), Some(want.as_slice()), "{version}");
        assert_eq!(h.name, b"f", "{version}");
    }
}

#[test]
fn bad_sparse_maps_are_refused() {
    for version in ["0.0", "0.1", "1.0"] {
        for (map, real, data, why) in [
            (&[(0u64, 4u64), (2, 2)][..], 10, &b"abcdef"[..], "overlaps"),
            (&[(8, 4)], 10, b"abcd", "beyond the real size"),
            (
                &[(0, 4)],
                10,
                b"abcdef",
                "places 4 bytes of data but the entry carries 6",
            ),
            (&[(0, 4)], 10, b"ab", "places 4 bytes of data but the entry carries 2"),
        ] {
            let tar = [pax_sparse(version, b"f", real, map, data), end()].concat();
            let e = err(&tar);
            assert!(e.contains(why), "{version}: {e}");
        }
    }
    let tar = [old_gnu(b"f", 10, &[(0, 4), (2, 2)], b"abcdef"), end()].concat();
    assert!(err(&tar).contains("overlaps"));
    let huge = pax(&[
        ("GNU.sparse.major", b"1"),
        ("GNU.sparse.minor", b"0"),
        ("GNU.sparse.realsize", b"10"),
    ]);
    let mut body = b"100000000\n".to_vec();
    body.resize(512, 0);
    let tar = [huge, block(b"f", b'0', 512, false), body, end()].concat();
    assert!(err(&tar).contains("exceeds 65536"));
}

#[test]
fn an_endless_chain_of_sparse_extension_headers_is_cut_off() {
    let mut tar = old_gnu(b"f", 10, &[(0, 1)], b"");
    tar.truncate(512);
    tar[482] = 1;
    fix_checksum(&mut tar);
    let mut ext = [0u8; 512];
    ext[504] = 1;
    for _ in 0..(MAX_SPARSE_ENTRIES / 21 + 5) {
        tar.extend(ext);
    }
    assert!(err(&tar).contains("sparse extension headers"));
}

#[test]
fn quoted_names_are_cut_short() {
    let long = vec![b'n'; 100_000];
    let q = quote(&long);
    assert!(q.len() < 300, "{}", q.len());
    assert!(q.ends_with("… (100000 bytes)"));
    assert_eq!(quote(b"short"), "\"short\"");
    let e = TarError::Sparse {
        name: long,
        reason: "x".into(),
    };
    assert!(e.to_string().len() < 320);
}

/// Reads everything the reader gives, with a bound on the work done.
fn exhaust(bytes: &[u8]) {
    let mut r = Reader::new(bytes);
    let mut buf = [0u8; 4096];
    for _ in 0..10_000 {
        match r.next_entry() {
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => return,
        }
        while let Ok(n) = r.read(&mut buf) {
            if n == 0 {
                break;
            }
        }
    }
}

fn valid_archive() -> Vec<u8> {
    [
        pax(&[("path", b"pax/path"), ("mtime", b"1.5"), ("SCHILY.xattr.user.a", b"b")]),
        file(b"pax-file", b"hello"),
        block(b"d/", b'5', 0, true),
        old_gnu(b"sparse", 5000, &[(0, 2), (4000, 3)], b"abcde"),
        pax_sparse("1.0", b"s1", 1000, &[(10, 2)], b"xy"),
        pax_sparse("0.1", b"s0", 1000, &[(10, 2)], b"xy"),
        block(b"././@LongLink", b'L', 5, true),
        padded(b"long\0"),
        file(b"x", b"data"),
        end(),
    ]
    .concat()
}

#[test]
fn the_valid_archive_reads() {
    let entries = read_all(&valid_archive()).unwrap();
    assert_eq!(entries.len(), 6);
    assert_eq!(entries[5].0.name, b"long");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        exhaust(&bytes);
    }

    #[test]
    fn never_panics_on_a_mutated_archive(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..16),
        cut in any::<prop::sample::Index>(),
        fix in any::<bool>(),
    ) {
        let mut bytes = valid_archive();
        for (at, v) in &edits {
            let i = at.index(bytes.len());
            bytes[i] = *v;
        }
        if fix {
            // Mutations behind a valid checksum reach the field parsers.
            for start in (0..bytes.len()).step_by(512) {
                if bytes[start..start + 512].iter().any(|&c| c != 0) {
                    fix_checksum(&mut bytes[start..start + 512]);
                }
            }
        }
        exhaust(&bytes);
        let len = cut.index(bytes.len());
        exhaust(&bytes[..len]);
    }
}

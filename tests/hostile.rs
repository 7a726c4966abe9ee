//! Bad input: every hostile or malformed import is refused with HTTP 400 and
//! a clear message, and nothing changes in the store or outside it.

use crate::util::{
    Daemon, Mount, TarBuilder, disk_usage, extended_header_bomb_gz, fuse, gnu_tar_sparse, require, sample_rootfs_tar,
    sha256_hex, tree_snapshot,
};
use std::os::unix::fs::{FileExt, FileTypeExt, MetadataExt};
use std::process::Command;
use strata::layers::index::{EntryKind, LayerIndex};

struct Case {
    what: &'static str,
    query: String,
    body: Vec<u8>,
    message: &'static str,
}

fn case(what: &'static str, body: Vec<u8>, message: &'static str) -> Case {
    Case {
        what,
        query: "repo=evil:1".into(),
        body,
        message,
    }
}

/// Posts each case as an import and checks it gets a 400 whose message
/// mentions what it should, and that the store is unchanged; `also` checks
/// more after each case. Returns the messages.
fn refuse_all(d: &Daemon, cases: Vec<Case>, also: impl Fn(&str)) -> Vec<String> {
    let store_before = d.store_snapshot();
    let mut messages = Vec::new();
    for c in cases {
        let (status, body) = d.http("POST", &format!("/v1.50/images/create?fromSrc=-&{}", c.query), &c.body);
        assert_eq!(status, 400, "{}: expected 400, got {status}: {body}", c.what);
        let msg: serde_json::Value = serde_json::from_str(&body).unwrap_or_else(|_| panic!("{}: {body}", c.what));
        let message = msg["message"].as_str().unwrap_or_default();
        assert!(
            message.to_lowercase().contains(&c.message.to_lowercase()),
            "{}: message {message:?} should mention {:?}",
            c.what,
            c.message
        );
        assert_eq!(d.store_snapshot(), store_before, "{}: the store changed", c.what);
        also(c.what);
        messages.push(message.to_string());
    }
    messages
}

/// Archives and names an import must refuse: paths and links out of the
/// layer (to `canary_abs`, or climbing to it by `climb`), broken or foreign
/// archives, bad names and changes.
fn hostile_cases(canary_abs: &str, climb: &str) -> Vec<Case> {
    let mut big_truncated = TarBuilder::new().file("big", &vec![1u8; 100_000]).finish();
    big_truncated.truncate(30_000);
    vec![
        case(
            "dot-dot path",
            TarBuilder::new().file("../escape", b"x").finish(),
            "climbs out",
        ),
        case(
            "nested dot-dot",
            TarBuilder::new().dir("a/").file("a/../../escape", b"x").finish(),
            "climbs out",
        ),
        case(
            "absolute path",
            TarBuilder::new().file(&format!("{canary_abs}/abs"), b"x").finish(),
            "absolute",
        ),
        case(
            "write through an absolute symlink",
            TarBuilder::new()
                .symlink("link", canary_abs)
                .file("link/pwned", b"x")
                .finish(),
            "symlink",
        ),
        case(
            "write through a climbing symlink",
            TarBuilder::new().symlink("up", climb).file("up/pwned", b"x").finish(),
            "symlink",
        ),
        case(
            "directory through a symlink",
            TarBuilder::new().symlink("d", canary_abs).dir("d/sub/").finish(),
            "symlink",
        ),
        case(
            "hard link to an absolute path",
            TarBuilder::new().hardlink("h", &format!("{canary_abs}/keep")).finish(),
            "leaves the layer",
        ),
        case(
            "hard link climbing out",
            TarBuilder::new().hardlink("h", &format!("{climb}/keep")).finish(),
            "leaves the layer",
        ),
        case(
            "hard link through a symlink",
            TarBuilder::new()
                .symlink("s", canary_abs)
                .hardlink("h", "s/keep")
                .finish(),
            "hard link",
        ),
        case(
            "hard link to a path not in the archive",
            TarBuilder::new().hardlink("h", "etc/shadow").finish(),
            "not earlier in this archive",
        ),
        case("truncated in file data", big_truncated, "truncated"),
        case(
            "no end-of-archive marker",
            TarBuilder::new().file("a", b"x").unterminated(),
            "truncated",
        ),
        case(
            "not a tar",
            b"this is plainly not a tar archive, just some text".repeat(20),
            "not a tar",
        ),
        case("empty body", Vec::new(), "empty"),
        case("xz data", vec![0xfd, b'7', b'z', b'X', b'Z', 0, 1, 2, 3], "xz"),
        Case {
            what: "upper-case name",
            query: "repo=UPPER:case".into(),
            body: sample_rootfs_tar(),
            message: "must be lowercase",
        },
        Case {
            what: "two colons",
            query: "repo=a:b:c".into(),
            body: sample_rootfs_tar(),
            message: "invalid",
        },
        Case {
            what: "bad change",
            query: "repo=ok:1&changes=RUN+rm+-rf+%2F".into(),
            body: sample_rootfs_tar(),
            message: "not supported",
        },
    ]
}

#[test]
fn hostile_archives_and_names_are_refused_and_change_nothing() {
    let d = Daemon::start();
    // A canary directory outside the store that hostile archives aim at.
    let canary = d.dir.path().join("canary");
    std::fs::create_dir(&canary).unwrap();
    std::fs::write(canary.join("keep"), b"untouched").unwrap();
    let canary_abs = canary.display().to_string();
    let climb = format!("{}{}", "../".repeat(12), canary_abs.trim_start_matches('/'));

    // One good import first, so the store has state to protect.
    let good = d.dir.path().join("good.tar");
    std::fs::write(&good, sample_rootfs_tar()).unwrap();
    d.import(&good, "good:1");

    let cases = hostile_cases(&canary_abs, &climb);

    let canary_before = tree_snapshot(&canary);
    refuse_all(&d, cases, |what| {
        assert_eq!(tree_snapshot(&canary), canary_before, "{what}: the canary changed");
    });
    assert_eq!(std::fs::read(canary.join("keep")).unwrap(), b"untouched");
    assert!(!d.dir.path().join("escape").exists());
    let images = d.ok(&["images", "-q"]);
    assert_eq!(images.lines().count(), 1, "only the good image: {images}");
}

#[test]
fn the_client_reports_a_refused_import_in_one_line() {
    let d = Daemon::start();
    let bad = d.dir.path().join("bad.tar");
    std::fs::write(&bad, TarBuilder::new().file("../x", b"x").finish()).unwrap();
    let out = d.strata(&["import", bad.to_str().unwrap(), "x:1"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("Error response from daemon: "), "{err}");
    assert!(err.contains("climbs out"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

#[test]
fn bad_api_requests_get_json_errors() {
    let d = Daemon::start();
    for (method, path, status) in [
        ("GET", "/v1.50/images/nope/json", 404),
        ("GET", "/v1.50/containers/nope/json", 404),
        ("GET", "/v1.50/networks/nope", 404),
        ("GET", "/v1.50/volumes/nope", 404),
        ("GET", "/v1.50/plugins/nope/json", 404),
        ("GET", "/v1.50/no/such/route", 404),
        ("GET", "/v1.99/info", 400),
        ("GET", "/v1.12/info", 400),
        ("POST", "/images/nope/tag?repo=x", 404),
        ("POST", "/images/create?fromSrc=http://example.invalid/x.tar", 400),
        ("POST", "/images/create", 400),
        ("DELETE", "/images/nope", 404),
        ("GET", "/images/NOPE:x/json", 400),
    ] {
        let (got, body) = d.http(method, path, b"");
        assert_eq!(got, status, "{method} {path}: {body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_else(|_| panic!("{path}: {body}"));
        assert!(v["message"].as_str().is_some_and(|m| !m.is_empty()), "{path}: {body}");
    }
}

fn layer_of(d: &Daemon, name: &str) -> String {
    d.inspect(name)["RootFS"]["Layers"][0].as_str().expect("a layer")[7..].to_string()
}

/// Issue 13, finding 1: a sparse file is stored with its holes, whatever
/// size it claims, in every format GNU tar writes.
#[test]
fn sparse_bombs_are_stored_with_their_holes() {
    // 1 TiB in about 10 KB of archive. (The code before wrote every zero of
    // the old GNU format: check it with 2 GiB, never with this.)
    const SIZE: u64 = 1 << 40;
    let d = Daemon::start();
    let data_at = [1 << 20, SIZE / 2 + 12_345, SIZE - 1];
    for format in ["gnu", "0.0", "0.1", "1.0"] {
        let path = require!(
            gnu_tar_sparse(d.dir.path(), format, SIZE, &data_at)
                .ok_or("GNU tar must be able to make sparse archives (apt-get install tar)")
        );
        let tar = std::fs::read(&path).unwrap();
        assert!(tar.len() < 64 * 1024, "{format}: {} bytes", tar.len());
        let tag = format!("sparse:{}", format.replace('.', "-"));
        d.import(&path, &tag);
        let layer = layer_of(&d, &tag);
        assert_eq!(
            layer,
            sha256_hex(&tar),
            "{format}: the diff_id is the digest of the stream"
        );
        let dir = d.root.join("layers").join(&layer);
        let used = disk_usage(&dir);
        assert!(used < 1 << 20, "{format}: the layer takes {used} bytes of disk");
        let names: Vec<_> = std::fs::read_dir(dir.join("root"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["f"], "{format}: no GNUSparseFile directory");
        let f = std::fs::File::open(dir.join("root/f")).unwrap();
        assert_eq!(f.metadata().unwrap().len(), SIZE, "{format}: the real size");
        let byte = |at: u64| {
            let mut b = [9u8];
            f.read_exact_at(&mut b, at).unwrap();
            b[0]
        };
        for &at in &data_at {
            assert_eq!(byte(at), b'x', "{format}: data at {at}");
        }
        assert_eq!((byte(0), byte(SIZE / 4)), (0, 0), "{format}: holes read as zeros");
        let index = LayerIndex::from_bytes(std::fs::read(dir.join("index")).unwrap()).unwrap();
        let e = index.get(b"f").unwrap().to_entry();
        assert_eq!((e.kind, e.size), (EntryKind::File, SIZE), "{format}");
    }
}

/// Sparse maps Go's archive/tar refuses (and ones of any length) are
/// refused before anything is written.
#[test]
fn bad_sparse_maps_are_refused_and_change_nothing() {
    let d = Daemon::start();
    let good = d.dir.path().join("good.tar");
    std::fs::write(&good, sample_rootfs_tar()).unwrap();
    d.import(&good, "good:1");
    let mut cases = Vec::new();
    type Build = fn(TarBuilder, &str, u64, &[(u64, u64)], &[u8]) -> TarBuilder;
    let formats: [(&'static str, Build); 4] = [
        ("old GNU", |t, n, r, m, d| t.old_gnu_sparse(n, r, m, d)),
        ("PAX 0.0", |t, n, r, m, d| t.pax_sparse("0.0", n, r, m, d)),
        ("PAX 0.1", |t, n, r, m, d| t.pax_sparse("0.1", n, r, m, d)),
        ("PAX 1.0", |t, n, r, m, d| t.pax_sparse("1.0", n, r, m, d)),
    ];
    for (format, build) in formats {
        let tar = |map: &[(u64, u64)], data: &[u8]| build(TarBuilder::new(), "f", 100, map, data).finish();
        cases.extend([
            case(format, tar(&[(0, 10), (5, 10)], &[1; 20]), "overlaps"),
            case(format, tar(&[(10, 5), (0, 5)], &[1; 10]), "overlaps or precedes"),
            case(format, tar(&[(95, 10)], &[1; 10]), "ends beyond the real size 100"),
            case(
                format,
                tar(&[(0, 10)], &[1; 20]),
                "places 10 bytes of data but the entry carries 20",
            ),
            case(
                format,
                tar(&[(0, 10)], &[1; 5]),
                "places 10 bytes of data but the entry carries 5",
            ),
        ]);
    }
    // Maps of any length: a count no memory could hold, and real ones.
    let billion_1x0 = TarBuilder::new()
        .pax(&[
            ("GNU.sparse.major", b"1"),
            ("GNU.sparse.minor", b"0"),
            ("GNU.sparse.realsize", b"100"),
        ])
        .entry(
            "GNUSparseFile.1/f",
            b'0',
            0o644,
            0,
            &[&b"4000000000\n"[..], &[0; 501]].concat(),
        )
        .finish();
    let billion_0x1 = TarBuilder::new()
        .pax(&[
            ("GNU.sparse.size", b"100"),
            ("GNU.sparse.numblocks", b"4000000000"),
            ("GNU.sparse.map", b"0,1"),
        ])
        .entry("f", b'0', 0o644, 0, b"x")
        .finish();
    let many: Vec<(u64, u64)> = (0..70_000).map(|i| (i * 2, 1)).collect();
    let many_old = TarBuilder::new()
        .old_gnu_sparse("f", 200_000, &many, &vec![1; many.len()])
        .finish();
    let many_1x0 = TarBuilder::new()
        .pax_sparse("1.0", "f", 200_000, &many, &vec![1; many.len()])
        .finish();
    let mut endless = TarBuilder::new()
        .old_gnu_sparse("f", 100, &[(0, 1)], &[])
        .unterminated();
    endless[482] = 1;
    fix_checksum(&mut endless[..512]);
    let mut ext = [0u8; 512];
    ext[504] = 1;
    for _ in 0..4000 {
        endless.extend_from_slice(&ext);
    }
    cases.extend([
        case(
            "1.0 map of 4e9 entries",
            billion_1x0,
            "sparse map of 4000000000 entries exceeds 65536",
        ),
        case(
            "0.1 map of 4e9 entries",
            billion_0x1,
            "sparse map of 4000000000 entries exceeds 65536",
        ),
        case("old GNU map of 70,000 entries", many_old, "more than 65536 entries"),
        case(
            "1.0 map of 70,000 entries",
            many_1x0,
            "sparse map of 70000 entries exceeds 65536",
        ),
        case("endless sparse extension headers", endless, "sparse extension headers"),
    ]);
    refuse_all(&d, cases, |_| {});
}

fn fix_checksum(header: &mut [u8]) {
    header[148..156].copy_from_slice(b"        ");
    let sum: u32 = header.iter().map(|&c| u32::from(c)).sum();
    header[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
}

/// Issue 13, finding 2: an extended header (PAX record, GNU long name or
/// link) is bounded to 1 MiB, as in Go and Docker, and refused from its
/// header, before any of it is buffered. Each body is about 1 MB of gzip.
#[test]
fn extended_header_bombs_are_refused_before_they_are_read() {
    let d = Daemon::start();
    let good = d.dir.path().join("good.tar");
    std::fs::write(&good, sample_rootfs_tar()).unwrap();
    d.import(&good, "good:1");
    let cases = vec![
        case(
            "a 1 GiB PAX record",
            extended_header_bomb_gz(b'x', 1 << 30),
            "PAX header of 1073741824 bytes exceeds 1 MiB",
        ),
        case(
            "a 1 GiB global PAX record",
            extended_header_bomb_gz(b'g', 1 << 30),
            "PAX global header of 1073741824 bytes exceeds 1 MiB",
        ),
        case(
            "a 1 GiB GNU long name",
            extended_header_bomb_gz(b'L', 1 << 30),
            "GNU long name of 1073741824 bytes exceeds 1 MiB",
        ),
        case(
            "a 1 GiB GNU long link",
            extended_header_bomb_gz(b'K', 1 << 30),
            "GNU long link of 1073741824 bytes exceeds 1 MiB",
        ),
        case(
            "1 MiB and one byte",
            extended_header_bomb_gz(b'x', (1 << 20) + 1),
            "PAX header of 1048577 bytes exceeds 1 MiB",
        ),
    ];
    for c in &cases {
        assert!(
            c.body.len() < 2 << 20,
            "{}: the test sends {} bytes",
            c.what,
            c.body.len()
        );
    }
    refuse_all(&d, cases, |_| {});
    // Exactly 1 MiB is allowed, as in Go.
    let ok = d.dir.path().join("ok.tar.gz");
    std::fs::write(&ok, extended_header_bomb_gz(b'x', 1 << 20)).unwrap();
    d.import(&ok, "ok:1");
}

/// Issue 13, finding 3: an error quotes at most a short prefix of a name
/// from the archive, then `…` and the name's length.
#[test]
fn names_in_error_messages_are_cut_short() {
    let d = Daemon::start();
    let climbing = format!("{}../x", "d/".repeat(50_000));
    let long_component = "n".repeat(100_000);
    let mut long_name = climbing.clone().into_bytes();
    long_name.push(0);
    let cases = vec![
        case(
            "a 100 KB PAX path",
            TarBuilder::new()
                .pax(&[("path", climbing.as_bytes())])
                .file("p", b"")
                .finish(),
            "climbs out",
        ),
        case(
            "a 100 KB GNU long name",
            TarBuilder::new().extended(b'L', &long_name).file("p", b"").finish(),
            "climbs out",
        ),
        case(
            "a 100 KB component",
            TarBuilder::new()
                .pax(&[("path", long_component.as_bytes())])
                .file("p", b"")
                .finish(),
            "longer than",
        ),
        case(
            "a hard link to a 100 KB path",
            TarBuilder::new()
                .pax(&[("linkpath", climbing.as_bytes())])
                .hardlink("h", "x")
                .finish(),
            "leaves the layer",
        ),
    ];
    for message in refuse_all(&d, cases, |_| {}) {
        assert!(message.len() < 1024, "{} bytes: {message}", message.len());
        assert!(message.contains("… (100"), "{message}");
    }
}

/// Issue 13, finding 4: set-uid and set-gid files and device nodes never
/// exist on disk in the store (a host user who can reach a layer could run
/// or open them); the index keeps them, and a union mount shows them.
#[test]
fn the_store_never_holds_set_id_files_or_device_nodes() {
    let d = Daemon::start();
    let tar = TarBuilder::new()
        .dir("bin/")
        .entry("bin/suid-root", b'0', 0o4755, 0, b"#!/bin/sh\nid -u\n")
        .entry("bin/sgid", b'0', 0o2755, 0, b"x")
        .hardlink("bin/suid-again", "bin/suid-root")
        .dir("dev/")
        .device("dev/null", b'3', 1, 3, 0o666)
        .device("dev/loop0", b'4', 7, 0, 0o660)
        .finish();
    let path = d.dir.path().join("setid.tar");
    std::fs::write(&path, &tar).unwrap();
    d.import(&path, "setid:1");
    let found = Command::new("find")
        .arg(&d.root)
        .args([
            "(", "-perm", "/6000", "-o", "-type", "b", "-o", "-type", "c", ")", "-print",
        ])
        .output()
        .expect("find");
    assert!(found.status.success());
    assert_eq!(
        String::from_utf8_lossy(&found.stdout),
        "",
        "set-id files or devices in the store"
    );

    let layer = d.root.join("layers").join(layer_of(&d, "setid:1"));
    let index = LayerIndex::from_bytes(std::fs::read(layer.join("index")).unwrap()).unwrap();
    let e = |p: &[u8]| index.get(p).unwrap().to_entry();
    assert_eq!((e(b"bin/suid-root").mode, e(b"bin/suid-root").uid), (0o4755, 0));
    assert_eq!(e(b"bin/suid-again").mode, 0o4755);
    assert_eq!(e(b"bin/sgid").mode, 0o2755);
    let null = e(b"dev/null");
    assert_eq!(
        (null.kind, null.rdev_major, null.rdev_minor, null.mode),
        (EntryKind::CharDevice, 1, 3, 0o666)
    );
    let lo = e(b"dev/loop0");
    assert_eq!((lo.kind, lo.rdev_major, lo.rdev_minor), (EntryKind::BlockDevice, 7, 0));

    require!(fuse());
    let mut m = Mount::prepare(0);
    m.lowers = vec![layer];
    m.mount_read_only();
    let md = |p: &str| std::fs::symlink_metadata(m.m(p)).unwrap();
    assert_eq!(
        (md("bin/suid-root").mode() & 0o7777, md("bin/suid-root").uid()),
        (0o4755, 0)
    );
    assert_eq!(md("bin/sgid").mode() & 0o7777, 0o2755);
    let null = md("dev/null");
    assert!(null.file_type().is_char_device(), "the mount shows the device");
    assert_eq!((null.rdev(), null.mode() & 0o7777), (rustix::fs::makedev(1, 3), 0o666));
    let lo = md("dev/loop0");
    assert!(lo.file_type().is_block_device());
    assert_eq!(lo.rdev(), rustix::fs::makedev(7, 0));
}

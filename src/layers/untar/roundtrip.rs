//! Property: an archive written by the `tar` crate's builder from generated
//! entries extracts to exactly the index those entries describe.

use super::*;
use proptest::prelude::*;
use std::collections::BTreeMap;

#[derive(Clone, Debug)]
enum Body {
    File(Vec<u8>),
    Symlink(String),
    /// A hard link to the n-th file generated before it (modulo their count).
    HardLink(usize),
}

#[derive(Clone, Debug)]
struct Item {
    /// Which directory it goes in (modulo the directories' count; the
    /// count itself means the root).
    dir: usize,
    name: String,
    body: Body,
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: u64,
    /// Written as PAX records rather than in the header.
    pax: bool,
    mtime_nsec: u32,
}

fn body() -> impl Strategy<Value = Body> {
    prop_oneof![
        4 => proptest::collection::vec(any::<u8>(), 0..3000).prop_map(Body::File),
        // What the builder writes unchanged (it drops `.` and empty components).
        1 => "/?([a-z]{1,8}|\\.\\.)(/([a-z]{1,8}|\\.\\.)){0,4}".prop_map(Body::Symlink),
        // Too long for the header: a GNU long link.
        1 => "[a-z]{100,150}".prop_map(Body::Symlink),
        1 => any::<usize>().prop_map(Body::HardLink),
    ]
}

fn item() -> impl Strategy<Value = Item> {
    (
        any::<usize>(),
        // Short names, and names too long for a header's 100 bytes.
        prop_oneof!["[a-z0-9_-]{1,12}", "[a-z]{90,140}"],
        body(),
        0u32..0o10000,
        prop_oneof![0u32..3000, any::<u32>()],
        0u32..3000,
        0u64..(1 << 33),
        any::<bool>(),
        0u32..1_000_000_000,
    )
        .prop_map(|(dir, name, body, mode, uid, gid, mtime, pax, mtime_nsec)| Item {
            dir,
            name,
            body,
            mode,
            uid,
            gid,
            mtime,
            pax,
            mtime_nsec,
        })
}

fn entry(kind: EntryKind, item: &Item) -> Entry {
    Entry {
        kind,
        mode: item.mode,
        uid: item.uid,
        gid: item.gid,
        mtime_sec: item.mtime as i64,
        mtime_nsec: if item.pax { item.mtime_nsec } else { 0 },
        ..Entry::dir(0, 0, 0, 0)
    }
}

type Contents = Vec<(String, Vec<u8>)>;

/// Builds the archive, the index it should extract to and the files' data.
fn build(dirs: &[(u32, u64)], items: &[Item]) -> (Vec<u8>, BTreeMap<Vec<u8>, Entry>, Contents) {
    let mut b = tar::Builder::new(Vec::new());
    let mut want = BTreeMap::new();
    want.insert(Vec::new(), Entry::dir(0o755, 0, 0, 0));
    for (i, &(mode, mtime)) in dirs.iter().enumerate() {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mode(mode);
        h.set_mtime(mtime);
        h.set_size(0);
        b.append_data(&mut h, format!("d{i}/"), std::io::empty()).unwrap();
        want.insert(format!("d{i}").into_bytes(), Entry::dir(mode, 0, 0, mtime as i64));
    }
    let mut files: Contents = Vec::new();
    for (n, item) in items.iter().enumerate() {
        let dir = item.dir % (dirs.len() + 1);
        // `r-` keeps a name at the root from being a directory's (`d` + 1 is `d1`).
        let path = if dir == dirs.len() {
            format!("r-{}{n}", item.name)
        } else {
            format!("d{dir}/{}{n}", item.name)
        };
        if matches!(item.body, Body::HardLink(_)) && files.is_empty() {
            continue;
        }
        let mut h = tar::Header::new_gnu();
        h.set_mode(item.mode);
        h.set_uid(u64::from(item.uid));
        h.set_gid(u64::from(item.gid));
        h.set_mtime(item.mtime);
        if item.pax {
            // The header's own fields say otherwise: the records win.
            h.set_uid(1);
            h.set_mtime(1);
            let (uid, mtime) = (item.uid.to_string(), format!("{}.{:09}", item.mtime, item.mtime_nsec));
            b.append_pax_extensions([
                ("path", path.as_bytes()),
                ("uid", uid.as_bytes()),
                ("mtime", mtime.as_bytes()),
                ("SCHILY.xattr.user.roundtrip", b"v"),
            ])
            .unwrap();
        }
        let e = match &item.body {
            Body::File(data) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(data.len() as u64);
                b.append_data(&mut h, &path, data.as_slice()).unwrap();
                files.push((path.clone(), data.clone()));
                Entry {
                    size: data.len() as u64,
                    ..entry(EntryKind::File, item)
                }
            }
            Body::Symlink(target) => {
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_size(0);
                b.append_link(&mut h, &path, target).unwrap();
                Entry {
                    target: target.clone().into_bytes(),
                    size: target.len() as u64,
                    ..entry(EntryKind::Symlink, item)
                }
            }
            Body::HardLink(k) => {
                let target = files[k % files.len()].0.clone();
                h.set_entry_type(tar::EntryType::Link);
                h.set_size(0);
                b.append_link(&mut h, &path, &target).unwrap();
                let mut linked = want[target.as_bytes()].clone();
                linked.flags |= FLAG_HARDLINK;
                linked.target = target.into_bytes();
                linked
            }
        };
        want.insert(path.into_bytes(), e);
    }
    (b.into_inner().unwrap(), want, files)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn builder_archives_extract_to_the_index_they_describe(
        dirs in proptest::collection::vec((0u32..0o10000, 0u64..(1 << 33)), 0..4),
        items in proptest::collection::vec(item(), 1..12),
    ) {
        let (tar, want, files) = build(&dirs, &items);
        let tmp = tempfile::tempdir().unwrap();
        let root = BeneathDir::open(tmp.path()).unwrap();
        let ex = extract(tar.as_slice(), &root, ExtractOptions { privileged: false }).unwrap();
        let got: BTreeMap<Vec<u8>, Entry> = ex.index.iter().map(|(p, e)| (p.clone(), e.clone())).collect();
        prop_assert_eq!(&got, &want);
        prop_assert_eq!(ex.diff_id, Digest::of(&tar));
        for (path, data) in &files {
            prop_assert_eq!(&std::fs::read(tmp.path().join(path)).unwrap(), data);
        }
    }
}

//! Saving and loading through a real store.

use super::*;
use crate::layers::tarread::testtar::{end, file};
use crate::layers::{ImportOptions, Store};
use std::io::Read;

fn store() -> (tempfile::TempDir, Store) {
    let root = tempfile::tempdir().unwrap();
    let store = Store::open(root.path()).unwrap();
    (root, store)
}

fn import(store: &Store, files: &[(&[u8], &[u8])], tag: Option<&str>) -> (Digest, Vec<u8>) {
    let mut tar: Vec<u8> = files.iter().flat_map(|(n, d)| file(n, d)).collect();
    tar.extend(end());
    let opts = ImportOptions {
        tag: tag.map(|t| Reference::parse(t).unwrap()),
        ..Default::default()
    };
    (store.import(tar.as_slice(), &opts).unwrap().image, tar)
}

fn save(store: &Store, names: &[&str]) -> Result<Vec<u8>, Error> {
    let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    let plan = save::plan(store, &names)?;
    let mut out = Vec::new();
    save::write(store, &plan, &mut out).unwrap();
    Ok(out)
}

/// The archive's files by name.
fn entries(archive: &[u8]) -> BTreeMap<String, Vec<u8>> {
    let mut a = tar::Archive::new(archive);
    a.entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let name = e.path().unwrap().to_string_lossy().into_owned();
            let mut data = Vec::new();
            e.read_to_end(&mut data).unwrap();
            (name, data)
        })
        .collect()
}

#[test]
fn a_save_is_an_oci_layout_and_a_docker_archive() {
    let (_root, store) = store();
    let (id, layer_tar) = import(&store, &[(b"etc/hostname", b"strata\n")], Some("example.com/app:1"));
    store.tag(&id.to_string(), Reference::parse("app:2").unwrap()).unwrap();
    let archive = save(&store, &["example.com/app:1", "app"]).unwrap();
    assert!(
        archive == save(&store, &["example.com/app:1", "app"]).unwrap(),
        "deterministic"
    );
    let files = entries(&archive);
    let names: Vec<&str> = files.keys().map(String::as_str).collect();
    assert_eq!(names[..2], ["blobs/", "blobs/sha256/"]);
    assert_eq!(names[names.len() - 4..], [INDEX, MANIFEST, OCI_LAYOUT, REPOSITORIES]);

    let diff_id = Digest::of(&layer_tar);
    let layer = &files[&blob_path(&diff_id)];
    assert!(layer == &layer_tar, "the layer blob is the exact tar");
    assert_eq!(Digest::of(&files[&blob_path(&id)]), id, "the config, verbatim");

    let index: Index = serde_json::from_slice(&files[INDEX]).unwrap();
    let names: Vec<(&str, &str)> = index
        .manifests
        .iter()
        .map(|d| {
            (
                d.annotations[ANNOTATION_IMAGE_NAME].as_str(),
                d.annotations[ANNOTATION_REF_NAME].as_str(),
            )
        })
        .collect();
    assert_eq!(names, [("example.com/app:1", "1"), ("docker.io/library/app:2", "2")]);
    let manifest_blob = &files[&format!("blobs/sha256/{}", &index.manifests[0].digest[7..])];
    let manifest: Manifest = serde_json::from_slice(manifest_blob).unwrap();
    assert_eq!(manifest.config.digest, id.to_string());
    assert_eq!(manifest.layers[0].digest, diff_id.to_string());
    assert_eq!(manifest.layers[0].media_type, media::OCI_LAYER);
    assert_eq!(manifest.layers[0].size as usize, layer_tar.len());

    let items: Vec<ManifestItem> = serde_json::from_slice(&files[MANIFEST]).unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].repo_tags.as_deref().unwrap(), ["example.com/app:1", "app:2"]);
    assert_eq!(items[0].layers, [blob_path(&diff_id)]);
}

#[test]
fn unknown_names_are_refused_in_docker_s_words() {
    let (_root, store) = store();
    import(&store, &[(b"a", b"a")], Some("app:1"));
    let msg = |names: &[&str]| save(&store, names).err().unwrap().to_string();
    assert_eq!(msg(&["app:2"]), "reference does not exist");
    assert_eq!(msg(&["app:1", "nothing"]), "No such image: nothing");
    assert!(matches!(save(&store, &["app:2"]), Err(Error::NotFound(_))));
}

#[test]
fn an_untagged_image_is_saved_by_id() {
    let (_root, store) = store();
    let (id, _) = import(&store, &[(b"a", b"a")], None);
    let files = entries(&save(&store, &[&id.hex()[..12]]).unwrap());
    let items: Vec<ManifestItem> = serde_json::from_slice(&files[MANIFEST]).unwrap();
    assert_eq!(items[0].repo_tags, None);
    assert!(!files.contains_key(REPOSITORIES));
    let index: Index = serde_json::from_slice(&files[INDEX]).unwrap();
    assert_eq!(index.manifests.len(), 1);
    assert!(index.manifests[0].annotations.is_empty());
}

fn load(store: &Store, archive: &[u8]) -> Result<Vec<load::Loaded>, Error> {
    load::load(store, archive)
}

/// Every path under the store: what "nothing changed" is checked against.
fn listing(root: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(dir) = todo.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() && !p.is_symlink() {
                todo.push(p.clone());
            }
            out.push(p.strip_prefix(root).unwrap().display().to_string());
        }
    }
    out.sort();
    out
}

/// A tar of `files` (name, content), in that order.
fn tar_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in files {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_path(name).unwrap();
        h.set_cksum();
        b.append(&h, *data).unwrap();
    }
    b.into_inner().unwrap()
}

#[test]
fn save_remove_load_gives_the_same_image() {
    let (_root, store) = store();
    let (id, layer_tar) = import(&store, &[(b"a", b"a"), (b"b/c", b"c")], Some("app:1"));
    let archive = save(&store, &["app:1"]).unwrap();
    store.remove_image("app:1", false, None).unwrap().unwrap();
    assert!(store.images().is_empty());
    // Gzip'd, as `docker save | gzip` makes it.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &archive).unwrap();
    let loaded = load(&store, &gz.finish().unwrap()).unwrap();
    assert_eq!(
        loaded,
        [load::Loaded {
            id,
            tags: vec![Reference::parse("app:1").unwrap()],
            moved: vec![]
        }]
    );
    assert_eq!(store.resolve("app:1").unwrap(), id);
    let mut again = Vec::new();
    store
        .layer_tar(&Digest::of(&layer_tar))
        .unwrap()
        .read_to_end(&mut again)
        .unwrap();
    assert!(again == layer_tar);
    assert_eq!(
        std::fs::read_dir(store.root().join("tmp")).unwrap().count(),
        0,
        "tmp/ is empty"
    );
}

/// An archive as Docker before 25 wrote it: `<id>/layer.tar`, `<hex>.json`,
/// a repeated layer as a symlink to its first copy.
fn old_docker_archive(layer: &[u8], config: &[u8], tags: &str) -> Vec<u8> {
    let hex = Digest::of(config).hex();
    let manifest = format!(r#"[{{"Config":"{hex}.json","RepoTags":{tags},"Layers":["l1/layer.tar","l2/layer.tar"]}}]"#);
    let mut b = tar::Builder::new(Vec::new());
    let mut add = |name: &str, data: &[u8]| {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_path(name).unwrap();
        h.set_cksum();
        b.append(&h, data).unwrap();
    };
    add("l1/layer.tar", layer);
    add(&format!("{hex}.json"), config);
    add("manifest.json", manifest.as_bytes());
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_size(0);
    b.append_link(&mut h, "l2/layer.tar", "../l1/layer.tar").unwrap();
    b.into_inner().unwrap()
}

fn two_layer_config(diff_id: &Digest) -> Vec<u8> {
    format!(
        r#"{{"architecture":"amd64","os":"linux","config":{{}},"rootfs":{{"type":"layers","diff_ids":["{diff_id}","{diff_id}"]}}}}"#
    )
    .into_bytes()
}

#[test]
fn an_old_docker_archive_loads_with_its_symlinked_layer() {
    let (_root, store) = store();
    let layer = [file(b"etc/x", b"x"), end()].concat();
    let config = two_layer_config(&Digest::of(&layer));
    let loaded = load(&store, &old_docker_archive(&layer, &config, r#"["old:1"]"#)).unwrap();
    assert_eq!(loaded[0].id, Digest::of(&config), "the config kept verbatim");
    assert_eq!(store.resolve("old:1").unwrap(), Digest::of(&config));

    // Untagged, and a second load of it moves nothing.
    let loaded = load(&store, &old_docker_archive(&layer, &config, "null")).unwrap();
    assert!(loaded[0].tags.is_empty() && loaded[0].moved.is_empty());
}

#[test]
fn bad_archives_are_refused_and_change_nothing() {
    let (root, store) = store();
    import(&store, &[(b"kept", b"kept")], Some("kept:1"));
    let before = listing(root.path());
    let layer = [file(b"etc/x", b"x"), end()].concat();
    let config = two_layer_config(&Digest::of(&layer));
    let hex = Digest::of(&config).hex();
    let wrong_diff = two_layer_config(&Digest::of(b"other"));
    let good = old_docker_archive(&layer, &config, r#"["new:1"]"#);
    let manifest = |layers: &str, config: &str| {
        format!(r#"[{{"Config":"{config}","RepoTags":["new:1"],"Layers":{layers}}}]"#).into_bytes()
    };
    let cfg = format!("{hex}.json");
    let hostile = [file(b"../escape", b"x"), end()].concat();
    let hostile_archive = old_docker_archive(&hostile, &two_layer_config(&Digest::of(&hostile)), "null");
    let cases: Vec<(&str, Vec<u8>, String)> = vec![
        (
            "a layer with a hostile path",
            hostile_archive,
            "path climbs out with `..`".into(),
        ),
        (
            "garbage",
            b"this is not a tar archive at all, not even close; it is text".repeat(20),
            "not a tar archive".into(),
        ),
        ("truncated", good[..good.len() - 2048].to_vec(), "truncated".into()),
        (
            "empty archive",
            tar_of(&[]),
            "neither manifest.json nor index.json".into(),
        ),
        (
            "a missing layer",
            tar_of(&[
                (&cfg, &config),
                ("manifest.json", &manifest(r#"["l1/layer.tar","l1/layer.tar"]"#, &cfg)),
            ]),
            "which the archive does not hold".into(),
        ),
        (
            "a path outside",
            tar_of(&[
                (&cfg, &config),
                ("manifest.json", &manifest(r#"["../../etc/passwd","x"]"#, &cfg)),
            ]),
            "outside the archive".into(),
        ),
        (
            "a config not of its digest",
            tar_of(&[(&cfg, &wrong_diff), ("manifest.json", &manifest(r#"["a","b"]"#, &cfg))]),
            "does not hold the content of its digest".into(),
        ),
        (
            "a diff_id mismatch",
            tar_of(&[
                ("l1/layer.tar", &layer),
                ("c.json", &wrong_diff),
                (
                    "manifest.json",
                    &manifest(r#"["l1/layer.tar","l1/layer.tar"]"#, "c.json"),
                ),
            ]),
            "don't match image configuration".into(),
        ),
        (
            "a layer count mismatch",
            tar_of(&[
                ("l1/layer.tar", &layer),
                ("c.json", &config),
                ("manifest.json", &manifest(r#"["l1/layer.tar"]"#, "c.json")),
            ]),
            "lists 1 layers for an image whose config lists 2".into(),
        ),
    ];
    for (what, archive, expected) in cases {
        let err = load(&store, &archive)
            .err()
            .unwrap_or_else(|| panic!("{what}: accepted"));
        assert!(err.to_string().contains(&expected), "{what}: {err}");
        assert_eq!(listing(root.path()), before, "{what}: the store changed");
    }
    let symlinked_out = {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        b.append_link(&mut h, "manifest.json", "/etc/passwd").unwrap();
        b.into_inner().unwrap()
    };
    let err = load(&store, &symlinked_out).err().unwrap().to_string();
    assert!(err.contains("outside the archive"), "{err}");
    assert_eq!(listing(root.path()), before);
    assert_eq!(store.images().len(), 1);
}

/// An OCI layout holding `layer` (gzip'd) under a manifest and `index`,
/// with `mangle` applied to its files before they are archived.
fn oci_archive(layer: &[u8], mangle: impl FnOnce(&mut BTreeMap<String, Vec<u8>>, &Digest)) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, layer).unwrap();
    let blob = gz.finish().unwrap();
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","rootfs":{{"type":"layers","diff_ids":["{}"]}}}}"#,
        Digest::of(layer)
    )
    .into_bytes();
    let desc = |media_type: &str, bytes: &[u8]| {
        format!(
            r#"{{"mediaType":"{media_type}","digest":"{}","size":{}}}"#,
            Digest::of(bytes),
            bytes.len()
        )
    };
    let manifest = format!(
        r#"{{"schemaVersion":2,"config":{},"layers":[{}]}}"#,
        desc(media::OCI_CONFIG, &config),
        desc(media::OCI_LAYER_GZIP, &blob)
    )
    .into_bytes();
    let mut m = desc(media::OCI_MANIFEST, &manifest);
    m.insert_str(
        m.len() - 1,
        r#","annotations":{"org.opencontainers.image.ref.name":"example.com/oci:1"}"#,
    );
    let index = format!(r#"{{"schemaVersion":2,"manifests":[{m}]}}"#).into_bytes();
    let mut files = BTreeMap::new();
    for b in [&blob, &config, &manifest] {
        files.insert(blob_path(&Digest::of(b)), b.clone());
    }
    files.insert(INDEX.to_string(), index);
    files.insert(OCI_LAYOUT.to_string(), OCI_LAYOUT_CONTENT.to_vec());
    mangle(&mut files, &Digest::of(&blob));
    let list: Vec<(&str, &[u8])> = files.iter().map(|(k, v)| (k.as_str(), v.as_slice())).collect();
    tar_of(&list)
}

#[test]
fn an_oci_layout_loads_and_its_bad_forms_are_refused() {
    let (root, store) = store();
    let layer = [file(b"etc/oci", b"oci"), end()].concat();
    let before = listing(root.path());
    let nested = |files: &mut BTreeMap<String, Vec<u8>>, _: &Digest| {
        // index.json → an index → the index again … past the depth limit.
        let inner = files[INDEX].clone().into_iter().collect::<Vec<u8>>();
        let mut wrapped = inner;
        for _ in 0..6 {
            let d = Digest::of(&wrapped);
            files.insert(blob_path(&d), wrapped.clone());
            wrapped = format!(
                r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"{}","digest":"{d}","size":{}}}]}}"#,
                media::OCI_INDEX,
                wrapped.len()
            )
            .into_bytes();
        }
        files.insert(INDEX.to_string(), wrapped);
    };
    type Mangle = Box<dyn FnOnce(&mut BTreeMap<String, Vec<u8>>, &Digest)>;
    let cases: Vec<(&str, Mangle, &str)> = vec![
        (
            "a missing blob",
            Box::new(|f, d| drop(f.remove(&blob_path(d)))),
            "which the archive does not hold",
        ),
        (
            "a blob of another digest, same content",
            // The gzip header's time: it decompresses to the same layer.
            Box::new(|f, d| f.get_mut(&blob_path(d)).unwrap()[4] ^= 1),
            "filesystem layer verification failed for digest",
        ),
        (
            "a corrupt blob",
            Box::new(|f, d| f.get_mut(&blob_path(d)).unwrap()[20] ^= 1),
            "filesystem layer verification failed",
        ),
        ("indexes too deep", Box::new(nested), "more than 4 deep"),
        (
            "an unknown media type",
            Box::new(|f, _| {
                let i = String::from_utf8(f[INDEX].clone()).unwrap();
                f.insert(
                    INDEX.into(),
                    i.replace(media::OCI_MANIFEST, "application/x-nonsense").into_bytes(),
                );
            }),
            "unknown media type",
        ),
    ];
    for (what, mangle, expected) in cases {
        let err = load(&store, &oci_archive(&layer, mangle))
            .err()
            .unwrap_or_else(|| panic!("{what}: accepted"));
        assert!(err.to_string().contains(expected), "{what}: {err}");
        assert_eq!(listing(root.path()), before, "{what}: the store changed");
    }
    let loaded = load(&store, &oci_archive(&layer, |_, _| {})).unwrap();
    assert_eq!(loaded[0].tags, [Reference::parse("example.com/oci:1").unwrap()]);
    let image = store.image("example.com/oci:1").unwrap();
    assert_eq!(image.config.rootfs.diff_ids, [Digest::of(&layer)]);
}

#[test]
fn a_load_takes_a_tag_from_the_image_that_had_it() {
    let (_root, store) = store();
    let (first, _) = import(&store, &[(b"a", b"1")], Some("app:1"));
    let archive = save(&store, &["app:1"]).unwrap();
    let (second, _) = import(&store, &[(b"a", b"2")], Some("app:1"));
    let loaded = load(&store, &archive).unwrap();
    assert_eq!(loaded[0].id, first);
    assert_eq!(loaded[0].moved, [(Reference::parse("app:1").unwrap(), second)]);
    assert_eq!(store.resolve("app:1").unwrap(), first);
    assert_eq!(store.images().len(), 2, "the other image stays, untagged");
}

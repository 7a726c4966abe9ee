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

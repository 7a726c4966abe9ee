//! The store on disk: what a removal leaves of layers, configs and chain
//! indexes, and that the state survives a restart.

use super::*;
use crate::layers::image::{History, ImageConfig};
use crate::layers::tarread::testtar::{end, file};
use crate::layers::{ImportOptions, Reference};

fn tar_of(files: &[(&[u8], &[u8])]) -> Vec<u8> {
    let mut tar: Vec<u8> = files.iter().flat_map(|(name, data)| file(name, data)).collect();
    tar.extend(end());
    tar
}

fn import(store: &Store, tar: &[u8], tag: &str) -> ImportResult {
    let opts = ImportOptions {
        tag: Some(Reference::parse(tag).unwrap()),
        ..Default::default()
    };
    store.import(tar, &opts).unwrap()
}

/// `parent` plus one layer, as a commit of a container makes it.
fn commit_on(store: &Store, parent: &Digest, tar: &[u8], tag: &str) -> (Digest, Digest) {
    let mut config = ImageConfig::parse(&store.config_bytes(&parent.to_string()).unwrap()).unwrap();
    config.history.push(History {
        comment: Some("child".into()),
        ..Default::default()
    });
    let mut layer: &[u8] = tar;
    let (id, diff_id) = store
        .commit(parent, config, Some(&mut layer), Some(Reference::parse(tag).unwrap()))
        .unwrap();
    (id, diff_id.unwrap())
}

fn removed(store: &Store, name: &str) -> Vec<Removal> {
    store.remove_image(name, false, None).unwrap().unwrap()
}

#[test]
fn removing_a_child_keeps_the_layer_its_parent_shares() {
    let root = tempfile::tempdir().unwrap();
    let store = Store::open(root.path()).unwrap();
    let base = import(&store, &tar_of(&[(b"etc/base", b"base")]), "base");
    let (child, top) = commit_on(&store, &base.image, &tar_of(&[(b"etc/top", b"top")]), "child");
    let base_chain = store.image_chain(&base.image).unwrap();
    let child_chain = store.image_chain(&child).unwrap();
    assert_ne!(base_chain, child_chain);
    // The parent's last tag goes; the parent stays for its child.
    assert_eq!(
        removed(&store, "base"),
        vec![Removal::Untagged(Reference::parse("base").unwrap())]
    );
    assert!(store.config_path(&base.image).exists());

    assert_eq!(
        removed(&store, "child"),
        vec![
            Removal::Untagged(Reference::parse("child").unwrap()),
            Removal::Deleted(child)
        ]
    );
    assert!(!store.config_path(&child).exists());
    assert!(!store.chain_index_path(&child_chain).exists());
    assert!(!store.layer_dir(&top).exists());
    assert!(store.layer_dir(&base.layer).join("root/etc/base").exists());
    assert!(store.chain_index_path(&base_chain).exists());
    assert_eq!(store.info().layers, 1);

    // The state on disk says the same after a restart.
    drop(store);
    let store = Store::open(root.path()).unwrap();
    assert_eq!(
        store.images().iter().map(|i| i.id).collect::<Vec<_>>(),
        vec![base.image]
    );
    assert!(store.images()[0].tags.is_empty());
    let gone = store.remove_image(&base.image.hex(), false, None).unwrap().unwrap();
    assert_eq!(gone, vec![Removal::Deleted(base.image)]);
    assert!(!store.layer_dir(&base.layer).exists());
    assert!(!store.chain_index_path(&base_chain).exists());
    assert_eq!((store.info().images, store.info().layers), (0, 0));
}

#[test]
fn a_refused_removal_changes_nothing() {
    let root = tempfile::tempdir().unwrap();
    let store = Store::open(root.path()).unwrap();
    let image = import(&store, &tar_of(&[(b"a", b"a")]), "held");
    let user = ImageUser::Container {
        id: "0123456789ab".into(),
        running: false,
    };
    let refused = store.remove_image("held", false, Some(&user)).unwrap();
    assert_eq!(
        refused,
        Err(Refusal::TagInUse {
            tag: Reference::parse("held").unwrap(),
            image: image.image,
            user,
        })
    );
    assert_eq!(store.image("held").unwrap().id, image.image);
    assert!(store.layer_dir(&image.layer).exists());
}

#[test]
fn a_restart_drops_what_the_state_names_wrongly_and_refuses_a_changed_config() {
    let root = tempfile::tempdir().unwrap();
    let store = Store::open(root.path()).unwrap();
    let image = import(&store, &tar_of(&[(b"a", b"a")]), "kept").image;
    drop(store);
    let state_path = root.path().join("state.json");
    let mut state: serde_json::Value = serde_json::from_slice(&std::fs::read(&state_path).unwrap()).unwrap();
    let missing = Digest::of(b"no such image");
    state["tags"]["ghost:latest"] = serde_json::json!(missing.to_string());
    state["images"]["not-hex"] = serde_json::json!({});
    std::fs::write(&state_path, serde_json::to_vec(&state).unwrap()).unwrap();

    let store = Store::open(root.path()).unwrap();
    let images = store.images();
    assert_eq!(images.iter().map(|i| i.id).collect::<Vec<_>>(), vec![image]);
    assert_eq!(images[0].tags, vec![Reference::parse("kept").unwrap()]);
    assert!(store.resolve("ghost").is_err());
    let config_path = store.config_path(&image);
    drop(store);

    // A config that no longer hashes to its image ID is not trusted.
    std::fs::write(&config_path, b"{}").unwrap();
    match Store::open(root.path()) {
        Err(Error::Io { source, .. }) => assert_eq!(source.kind(), io::ErrorKind::InvalidData),
        Err(e) => panic!("another error: {e}"),
        Ok(_) => panic!("opened a store whose config does not match its image ID"),
    }
}

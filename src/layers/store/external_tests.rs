//! Layers and images from elsewhere: what is refused leaves nothing behind,
//! what is accepted keeps its bytes and names across a restart.

use super::*;
use crate::layers::tarread::testtar::{end, file};
use crate::layers::{BlobExpectation, Compression, ExpectedLayer, ExternalImage, Reference};
use std::io::{self, Read, Write};

/// A source that fails as a dropped connection does.
struct Failing;

impl Read for Failing {
    fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
        Err(io::Error::new(io::ErrorKind::ConnectionReset, "connection reset"))
    }
}

fn tar_of(name: &[u8], data: &[u8]) -> Vec<u8> {
    let mut tar = file(name, data);
    tar.extend(end());
    tar
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

fn config_for(diff_ids: &[Digest]) -> Vec<u8> {
    let ids: Vec<String> = diff_ids.iter().map(|d| format!("\"{d}\"")).collect();
    // Not canonical JSON on purpose: the bytes must be kept as they are.
    format!(
        "{{\"os\": \"linux\", \"architecture\": \"amd64\", \"rootfs\": {{\"type\": \"layers\", \"diff_ids\": [{}]}}}}",
        ids.join(", ")
    )
    .into_bytes()
}

fn expecting(blob: &[u8], tar: &[u8], compression: Compression) -> ExpectedLayer {
    ExpectedLayer {
        diff_id: Digest::of(tar),
        compression,
        blob: Some(BlobExpectation {
            digest: Digest::of(blob),
            size: blob.len() as u64,
        }),
    }
}

/// Names in a store directory (`layers`, `tmp`, `images`).
fn listing(root: &Path, sub: &str) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(root.join(sub))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn assert_nothing_left(root: &Path) {
    for sub in ["layers", "tmp", "images", "chains"] {
        assert_eq!(listing(root, sub), Vec::<String>::new(), "{sub}/ after a refusal");
    }
}

#[test]
fn a_pulled_image_keeps_its_config_bytes_names_and_blobs_across_restarts() {
    let root = tempfile::tempdir().unwrap();
    let tar = tar_of(b"etc/hello", b"hello");
    let blob = gzip(&tar);
    let config = config_for(&[Digest::of(&tar)]);
    let id = {
        let store = Store::open(root.path()).unwrap();
        let rec = store
            .store_layer_expecting(&blob[..], &expecting(&blob, &tar, Compression::Gzip))
            .unwrap();
        assert_eq!(rec.diff_id, Digest::of(&tar));
        let image = ExternalImage {
            config: &config,
            tags: vec![Reference::parse("127.0.0.1:5000/hello").unwrap()],
            repo_digests: vec![format!("127.0.0.1:5000/hello@{}", Digest::of(b"manifest"))],
            blobs: vec![(Digest::of(&blob), rec.diff_id)],
        };
        store.add_external_image(&image).unwrap()
    };
    assert_eq!(id, Digest::of(&config), "the ID is the digest of the bytes given");
    let store = Store::open(root.path()).unwrap();
    assert_eq!(store.config_bytes(&id.to_string()).unwrap(), config);
    let summary = store.image("127.0.0.1:5000/hello:latest").unwrap();
    assert_eq!(summary.id, id);
    assert_eq!(
        summary.repo_digests,
        vec![format!("127.0.0.1:5000/hello@{}", Digest::of(b"manifest"))]
    );
    assert_eq!(store.layer_for_blob(&Digest::of(&blob)), Some(Digest::of(&tar)));
    // Named by its RepoDigest, as `docker run NAME@sha256:…` names it.
    let by_digest = format!("127.0.0.1:5000/hello@{}", Digest::of(b"manifest"));
    assert_eq!(store.resolve(&by_digest).unwrap(), id);
    let other = format!("127.0.0.1:5000/hello@{}", Digest::of(b"other"));
    assert!(matches!(store.resolve(&other), Err(Error::ImageNotFound(_))));
    assert!(store.resolve("127.0.0.1:5000/hello@sha256:zz").is_err());
    // Once the image goes, so does the blob record: a pull would skip it.
    store.remove_image(&id.to_string(), true, None).unwrap().unwrap();
    assert_eq!(store.layer_for_blob(&Digest::of(&blob)), None);
    drop(store);
    let store = Store::open(root.path()).unwrap();
    assert_eq!(store.layer_for_blob(&Digest::of(&blob)), None);
}

#[test]
fn zstd_and_plain_layers_are_stored_and_checked() {
    let root = tempfile::tempdir().unwrap();
    let store = Store::open(root.path()).unwrap();
    let tar = tar_of(b"z", &vec![7u8; 100_000]);
    let mut zstd = ruzstd::encoding::compress_to_vec(&tar[..], ruzstd::encoding::CompressionLevel::Fastest);
    // A second frame (empty) and a skippable frame, as zstd:chunked writes.
    zstd.extend(ruzstd::encoding::compress_to_vec(
        &b""[..],
        ruzstd::encoding::CompressionLevel::Fastest,
    ));
    zstd.extend([0x50, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 1, 2, 3]);
    let rec = store
        .store_layer_expecting(&zstd[..], &expecting(&zstd, &tar, Compression::Zstd))
        .unwrap();
    assert_eq!(rec.diff_id, Digest::of(&tar));
    let plain = tar_of(b"p", b"plain");
    let rec = store
        .store_layer_expecting(&plain[..], &expecting(&plain, &plain, Compression::None))
        .unwrap();
    assert_eq!(rec.diff_id, Digest::of(&plain));
    assert_eq!(listing(root.path(), "layers").len(), 2);
    store.discard_unreferenced_layers(&[Digest::of(&tar), Digest::of(&plain)]);
    assert_nothing_left(root.path());
}

#[test]
fn a_layer_that_is_not_what_was_expected_leaves_nothing() {
    let root = tempfile::tempdir().unwrap();
    let store = Store::open(root.path()).unwrap();
    let tar = tar_of(b"etc/hello", b"hello");
    let blob = gzip(&tar);
    let good = expecting(&blob, &tar, Compression::Gzip);

    let other = tar_of(b"etc/other", b"other");
    let wrong_diff = ExpectedLayer {
        diff_id: Digest::of(&other),
        ..good
    };
    let e = store.store_layer_expecting(&blob[..], &wrong_diff).unwrap_err();
    assert!(matches!(e, Error::DiffIdMismatch { .. }), "{e}");
    assert!(
        e.to_string()
            .starts_with("layers from manifest don't match image configuration")
    );
    assert_nothing_left(root.path());

    let mut wrong_digest = good;
    wrong_digest.blob = Some(BlobExpectation {
        digest: Digest::of(b"something else"),
        size: blob.len() as u64,
    });
    let e = store.store_layer_expecting(&blob[..], &wrong_digest).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "filesystem layer verification failed for digest {}",
            Digest::of(b"something else")
        )
    );
    assert_nothing_left(root.path());

    // Trailing bytes past the gzip stream: counted, so the size is wrong.
    let mut longer = blob.clone();
    longer.extend([0u8; 3]);
    let e = store.store_layer_expecting(&longer[..], &good).unwrap_err();
    assert!(!e.to_string().is_empty());
    assert_nothing_left(root.path());

    let truncated = &blob[..blob.len() - 10];
    let e = store.store_layer_expecting(truncated, &good).unwrap_err();
    assert!(e.to_string().contains(&Digest::of(&blob).to_string()), "{e}");
    assert_nothing_left(root.path());

    let e = store
        .store_layer_expecting(&b"garbage, not gzip"[..], &good)
        .unwrap_err();
    assert!(matches!(e, Error::LayerVerification(_)), "{e}");
    assert_nothing_left(root.path());

    // The source failing (the network) is a broken download, not a wrong blob.
    let failing = (&blob[..blob.len() / 2]).chain(Failing);
    let e = store.store_layer_expecting(failing, &good).unwrap_err();
    assert!(
        matches!(&e, Error::BlobUnreadable(_, m) if m.contains("connection reset")),
        "{e}"
    );
    assert_nothing_left(root.path());
}

#[test]
fn an_image_whose_layers_are_missing_or_whose_config_is_bad_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let store = Store::open(root.path()).unwrap();
    let config = config_for(&[Digest::of(b"no such layer")]);
    let tag = Reference::parse("x").unwrap();
    let e = store
        .add_config_image(&config, std::slice::from_ref(&tag), &[])
        .unwrap_err();
    assert!(matches!(e, Error::MissingLayer(_)), "{e}");
    assert!(store.add_config_image(b"{not json", &[tag], &[]).is_err());
    assert!(store.images().is_empty());
    assert_nothing_left(root.path());
}

#[test]
fn a_state_file_from_before_repo_digests_still_loads() {
    let root = tempfile::tempdir().unwrap();
    let tar = tar_of(b"etc/hello", b"hello");
    let config = config_for(&[Digest::of(&tar)]);
    let id = {
        let store = Store::open(root.path()).unwrap();
        store
            .store_layer_expecting(&tar[..], &expecting(&tar, &tar, Compression::None))
            .unwrap();
        store.add_config_image(&config, &[], &[]).unwrap()
    };
    let old = include_str!("testdata/state-0.1.0.json").replace("IMAGE", &id.hex());
    fs::write(root.path().join("state.json"), old).unwrap();
    let store = Store::open(root.path()).unwrap();
    let summary = store.image("old").unwrap();
    assert_eq!(summary.id, id);
    assert!(summary.repo_digests.is_empty());
    // Names added later are kept with it, and written in the new form.
    let digest = format!("old@{}", Digest::of(b"m"));
    store
        .add_config_image(&config, &[], std::slice::from_ref(&digest))
        .unwrap();
    drop(store);
    let store = Store::open(root.path()).unwrap();
    assert_eq!(store.image("old").unwrap().repo_digests, vec![digest]);
}

#[test]
fn a_pushed_blob_is_remembered_for_its_layer_across_restarts() {
    let root = tempfile::tempdir().unwrap();
    let tar = tar_of(b"etc/pushed", b"pushed");
    let (pulled, pushed) = (gzip(&tar), b"another compression".to_vec());
    let config = config_for(&[Digest::of(&tar)]);
    {
        let store = Store::open(root.path()).unwrap();
        let rec = store
            .store_layer_expecting(&pulled[..], &expecting(&pulled, &tar, Compression::Gzip))
            .unwrap();
        store.add_config_image(&config, &[], &[]).unwrap();
        assert!(store.blobs_of_layer(&rec.diff_id).is_empty());
        store.remember_blob(Digest::of(&pushed), rec.diff_id).unwrap();
        store.remember_blob(Digest::of(&pulled), rec.diff_id).unwrap();
        // A layer that is not stored gets no record.
        store.remember_blob(Digest::of(b"x"), Digest::of(b"no layer")).unwrap();
        assert_eq!(store.layer_for_blob(&Digest::of(b"x")), None);
    }
    let store = Store::open(root.path()).unwrap();
    let mut want = vec![Digest::of(&pulled), Digest::of(&pushed)];
    want.sort();
    assert_eq!(store.blobs_of_layer(&Digest::of(&tar)), want);
    assert_eq!(store.layer_for_blob(&Digest::of(&pushed)), Some(Digest::of(&tar)));
}

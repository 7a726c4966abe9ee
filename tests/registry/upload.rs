//! The registry client's write side (`registry::upload`) against a real
//! registry: blobs uploaded whole and in chunks, HEAD, cross-repository
//! mounts, manifests; Basic and token auth for push.

use crate::util::{Registry, TestImage, one_file_layer, require};
use bytes::Bytes;
use strata::layers::Digest;
use strata::registry::{Credentials, Mount, RegistryConfig, RemoteName, Session};

fn session(reg: &Registry, repo: &str, creds: Option<(&str, &str)>) -> std::sync::Arc<Session> {
    let name = RemoteName::parse(&format!("{}/{repo}", reg.addr()), "latest").expect("a name");
    let creds = creds.map_or_else(Credentials::default, |(u, p)| Credentials {
        username: u.into(),
        password: p.into(),
        ..Credentials::default()
    });
    Session::new(RegistryConfig::default(), name, creds, "pull,push")
}

fn block_on<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}

/// Pushes `image` by the session: the config whole, each layer in chunks
/// of `chunk` bytes, then the manifest as `tag`. The manifest's digest.
async fn push(s: &Session, image: &crate::util::RegistryImage, chunk: usize, tag: &str) -> Digest {
    let config = s
        .put_blob(Bytes::from(image.config.bytes.clone()))
        .await
        .expect("config");
    assert_eq!(config.to_string(), image.config.digest);
    for layer in &image.layers {
        let digest: Digest = layer.digest.parse().unwrap();
        assert_eq!(s.blob_exists(&digest).await.expect("HEAD"), None);
        let mut upload = s.start_upload().await.expect("POST");
        for piece in layer.bytes.chunks(chunk) {
            s.upload_chunk(&mut upload, Bytes::copy_from_slice(piece))
                .await
                .expect("PATCH");
        }
        s.finish_upload(upload, &digest, Bytes::new()).await.expect("PUT");
        assert_eq!(
            s.blob_exists(&digest).await.expect("HEAD"),
            Some(layer.bytes.len() as u64)
        );
    }
    let m = &image.manifest;
    s.put_manifest(tag, &m.media_type, Bytes::from(m.bytes.clone()))
        .await
        .expect("manifest")
}

fn sample() -> crate::util::RegistryImage {
    let big: Vec<u8> = (0..300_000u32)
        .flat_map(|i| i.wrapping_mul(2_654_435_761).to_le_bytes())
        .collect();
    TestImage::new(
        "amd64",
        vec![one_file_layer("big", &big), one_file_layer("small", b"small\n")],
    )
    .registry_blobs()
}

#[test]
fn blobs_go_up_whole_and_in_chunks_and_the_manifest_reads_back() {
    let reg = require!(Registry::plain());
    let image = sample();
    let s = session(&reg, "up/one", None);
    let digest = block_on(push(&s, &image, 100_000, "v1"));
    assert_eq!(digest.to_string(), image.manifest.digest);
    let (media_type, bytes, got) = reg.manifest("up/one", "v1");
    assert_eq!(
        (media_type, bytes, got),
        (
            image.manifest.media_type.clone(),
            image.manifest.bytes.clone(),
            image.manifest.digest.clone()
        )
    );
    for layer in &image.layers {
        assert_eq!(reg.get_blob("up/one", &layer.digest), layer.bytes);
        let prefix = block_on(s.blob_prefix(&layer.digest.parse().unwrap(), 5)).unwrap();
        assert_eq!(prefix[..], layer.bytes[..5]);
    }
    // A wrong digest at the end is refused by the registry.
    let err = block_on(async {
        let mut upload = s.start_upload().await.unwrap();
        s.upload_chunk(&mut upload, Bytes::from_static(b"abc")).await.unwrap();
        s.finish_upload(upload, &Digest::of(b"not abc"), Bytes::new())
            .await
            .unwrap_err()
    });
    assert!(err.to_string().contains("digest"), "{err}");
}

#[test]
fn a_blob_of_another_repository_is_mounted_not_uploaded() {
    let reg = require!(Registry::token("carol", "pw"));
    let image = sample();
    let first = session(&reg, "src/repo", Some(("carol", "pw")));
    block_on(push(&first, &image, 1 << 20, "v1"));
    let second = session(&reg, "dst/repo", Some(("carol", "pw")));
    let layer: Digest = image.layers[0].digest.parse().unwrap();
    let mounted = block_on(async {
        assert_eq!(second.blob_exists(&layer).await.unwrap(), None);
        let m = second.mount_blob(&layer, "src/repo").await.unwrap();
        (matches!(m, Mount::Mounted), second.blob_exists(&layer).await.unwrap())
    });
    assert_eq!(mounted, (true, Some(image.layers[0].bytes.len() as u64)));
    // From a repository that lacks it: an upload to go on with.
    let missing = block_on(second.mount_blob(&Digest::of(b"nowhere"), "src/repo")).unwrap();
    assert!(matches!(missing, Mount::Upload(_)), "{missing:?}");
    assert!(
        reg.token_requests()
            .iter()
            .any(|r| r.contains("repository:dst/repo:pull,push") && r.contains("repository:src/repo:pull")),
        "{:?}",
        reg.token_requests()
    );
}

#[test]
fn pushing_needs_the_credentials() {
    let reg = require!(Registry::basic("dave", "pw"));
    let image = sample();
    let err = block_on(session(&reg, "locked", None).start_upload()).unwrap_err();
    assert!(err.is_unauthorized(), "{err}");
    assert!(err.to_string().contains("no basic auth credentials"), "{err}");
    let wrong = block_on(session(&reg, "locked", Some(("dave", "nope"))).start_upload()).unwrap_err();
    assert!(wrong.is_unauthorized(), "{wrong}");
    assert!(!wrong.to_string().contains("nope"), "the password in an error: {wrong}");
    let digest = block_on(push(
        &session(&reg, "locked", Some(("dave", "pw"))),
        &image,
        1 << 20,
        "v1",
    ));
    assert_eq!(reg.manifest("locked", "v1").2, digest.to_string());
}

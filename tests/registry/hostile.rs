//! A registry that lies, breaks or fails (the scripted fake): each pull
//! fails with a clear error, Docker's words where Docker has them, and
//! leaves the store as it was — no image, no tag, no layer, nothing in
//! `tmp/`. Transient failures are retried, a bounded number of times.

use super::{Pull, pull, tmp_entries};
use crate::util::{Answer, Daemon, FakeRegistry, RegistryImage, TestImage, gzip, media, one_file_layer};

/// A three-layer image served honestly as `r:v1`.
fn served() -> (FakeRegistry, RegistryImage) {
    let fake = FakeRegistry::start();
    let layers = (0..3)
        .map(|i| one_file_layer(&format!("f{i}"), &noise(i, 20_000)))
        .collect();
    let image = TestImage::new("amd64", layers).registry_blobs();
    fake.serve_image("r", "v1", &image);
    (fake, image)
}

/// What must not change: the store's tree (but the containers' directory,
/// which the daemon makes as it starts) and the image list.
fn state(d: &Daemon) -> (Vec<String>, String) {
    let mut tree = d.store_snapshot();
    tree.retain(|p| !p.starts_with("containers"));
    (tree, d.http("GET", "/images/json", b"").1)
}

/// `n` bytes that do not compress (an LCG's), so a blob is as long as its
/// layer.
fn noise(seed: u32, n: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..n)
        .map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            (x >> 16) as u8
        })
        .collect()
}

/// Pulls `r:v1` from `fake`, which must fail leaving the store as it was;
/// the failure.
#[track_caller]
fn refused(d: &Daemon, fake: &FakeRegistry) -> Pull {
    let before = state(d);
    let p = pull(d, &format!("{}/r", fake.addr()), "v1", None);
    assert!(!p.message().is_empty(), "the pull did not fail: {:?}", p.lines);
    assert_eq!(state(d), before, "the store changed: {:?}", p.lines);
    assert!(tmp_entries(d).is_empty(), "tmp/ holds {:?}", tmp_entries(d));
    p
}

#[test]
fn a_missing_manifest_is_dockers_404() {
    let (fake, _) = served();
    fake.manifest(
        "r",
        "v1",
        vec![Answer::error(404, "MANIFEST_UNKNOWN", "manifest unknown")],
    );
    let d = Daemon::start();
    let p = refused(&d, &fake);
    assert_eq!(p.status, 404);
    assert_eq!(
        p.message(),
        format!(
            "manifest for {}/r:v1 not found: manifest unknown: manifest unknown",
            fake.addr()
        )
    );
}

#[test]
fn a_blob_that_is_not_its_digest_or_size_is_refused() {
    let (fake, image) = served();
    let d = Daemon::start();
    let layer = &image.layers[1];
    let other = gzip(&one_file_layer("other", b"other"));
    let wrong_size = [layer.bytes.clone(), b"extra".to_vec()].concat();
    let short = layer.bytes[..layer.bytes.len() - 1].to_vec();
    let verification = format!("filesystem layer verification failed for digest {}", layer.digest);
    for (bytes, want) in [
        (other, &verification),
        (wrong_size, &verification),
        (short, &verification),
    ] {
        fake.blob("r", &layer.digest, vec![Answer::ok("application/octet-stream", bytes)]);
        let p = refused(&d, &fake);
        assert_eq!(p.status, 200, "the stream had begun");
        assert!(p.message().starts_with(want.as_str()), "{:?}", p.message());
        assert!(p.lines.iter().any(|l| l["errorDetail"]["message"] == p.message()));
    }
}

#[test]
fn a_config_whose_diff_ids_do_not_match_the_layers_is_refused() {
    let d = Daemon::start();
    for lie in ["other layer", "fewer layers"] {
        let fake = FakeRegistry::start();
        let layers: Vec<Vec<u8>> = (0..2).map(|i| one_file_layer(&format!("f{i}"), b"x")).collect();
        let mut named = layers.clone();
        match lie {
            "other layer" => named[1] = one_file_layer("f1", b"not this"),
            _ => {
                named.pop();
            }
        }
        // The config names `named`; the manifest serves `layers`.
        let mut image = TestImage::new("amd64", named).registry_blobs();
        image.layers = layers
            .iter()
            .map(|l| crate::util::Blob::new(media::DOCKER_LAYER_GZIP, gzip(l)))
            .collect();
        image.manifest = crate::util::Blob::new(
            media::DOCKER_MANIFEST,
            crate::util::schema2_manifest(&image.config, &image.layers),
        );
        fake.serve_image("r", "v1", &image);
        let p = refused(&d, &fake);
        assert!(
            p.message()
                .starts_with("layers from manifest don't match image configuration"),
            "{lie}: {:?}",
            p.lines
        );
    }
}

#[test]
fn a_download_cut_short_is_resumed_and_one_that_stays_cut_fails() {
    let (fake, image) = served();
    let d = Daemon::start();
    let layer = &image.layers[0];
    let path = format!("/v2/r/blobs/{}", layer.digest);
    let bytes = layer.bytes.clone();
    fake.blob(
        "r",
        &layer.digest,
        vec![Answer::ok("application/octet-stream", bytes.clone()).truncated(5000)],
    );
    let p = refused(&d, &fake);
    assert!(p.message().contains(&layer.digest), "{:?}", p.lines);
    let tries = fake.count("GET", &path);
    assert!((2..=5).contains(&tries), "{tries} GETs of a blob that stays cut");

    fake.blob(
        "r",
        &layer.digest,
        vec![
            Answer::ok("application/octet-stream", bytes.clone()).truncated(5000),
            Answer::ok("application/octet-stream", bytes),
        ],
    );
    let p = pull(&d, &format!("{}/r", fake.addr()), "v1", None);
    assert_eq!(p.message(), "", "{:?}", p.lines);
    assert_eq!(d.inspect(&format!("{}/r:v1", fake.addr()))["Id"], image.config.digest);
    assert!(
        fake.requests().iter().any(|r| r.contains(&path)),
        "{:?}",
        fake.requests()
    );
}

#[test]
fn huge_unknown_and_schema1_manifests_are_refused() {
    let (fake, _) = served();
    let d = Daemon::start();
    let huge = format!(
        "{{\"schemaVersion\":2,\"mediaType\":\"{}\",\"pad\":\"{}\"}}",
        media::OCI_MANIFEST,
        "x".repeat(5 << 20)
    );
    let cases = [
        (media::OCI_MANIFEST, huge.into_bytes(), "manifest too big".to_string()),
        (
            "application/vnd.example+json",
            br#"{"schemaVersion":2,"mediaType":"application/vnd.example+json"}"#.to_vec(),
            "unsupported manifest media type and no default available: application/vnd.example+json".to_string(),
        ),
        (
            "application/vnd.docker.distribution.manifest.v1+prettyjws",
            br#"{"schemaVersion":1,"name":"r","tag":"v1","fsLayers":[]}"#.to_vec(),
            "Docker Image Format v1 and Docker Image manifest version 2, schema 1 support has been removed".to_string(),
        ),
    ];
    for (media_type, body, want) in cases {
        fake.manifest("r", "v1", vec![Answer::ok(media_type, body)]);
        let p = refused(&d, &fake);
        assert!(p.message().starts_with(&want), "{:?}", p.message());
    }
}

#[test]
fn server_errors_are_retried_then_reported_in_dockers_words() {
    let (fake, image) = served();
    let d = Daemon::start();
    let m = &image.manifest;
    let path = "/v2/r/manifests/v1";
    fake.manifest(
        "r",
        "v1",
        vec![Answer::status(503).times(2), Answer::ok(&m.media_type, m.bytes.clone())],
    );
    let p = pull(&d, &format!("{}/r", fake.addr()), "v1", None);
    assert_eq!(p.message(), "", "{:?}", p.lines);
    assert_eq!(fake.count("GET", path), 3);
    // 429: its Retry-After is waited, then the pull goes on.
    let d = Daemon::start();
    fake.manifest(
        "r",
        "v1",
        vec![
            Answer::status(429).header("Retry-After", "1"),
            Answer::ok(&m.media_type, m.bytes.clone()),
        ],
    );
    let started = std::time::Instant::now();
    let p = pull(&d, &format!("{}/r", fake.addr()), "v1", None);
    assert_eq!(p.message(), "", "{:?}", p.lines);
    assert!(
        started.elapsed() >= std::time::Duration::from_secs(1),
        "Retry-After not honoured"
    );
    assert_eq!(fake.count("GET", path), 5);

    let d = Daemon::start();
    fake.manifest("r", "v1", vec![Answer::status(500)]);
    let before = fake.count("GET", path);
    let p = refused(&d, &fake);
    assert_eq!(
        p.message(),
        "received unexpected HTTP status: 500 Internal Server Error"
    );
    assert_eq!(fake.count("GET", path) - before, 3, "3 attempts, no more");
    // A 4xx is not retried.
    fake.manifest("r", "v1", vec![Answer::status(403)]);
    let before = fake.count("GET", path);
    let p = refused(&d, &fake);
    assert_eq!(p.message(), "denied: requested access to the resource is denied");
    assert_eq!(fake.count("GET", path) - before, 1);
}

/// Names in a directory of the store.
fn names(d: &Daemon, sub: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(d.root.join(sub))
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn a_daemon_killed_mid_pull_leaves_nothing_and_the_next_pull_works() {
    let (fake, image) = served();
    let stalled = &image.layers[2];
    fake.blob(
        "r",
        &stalled.digest,
        vec![Answer::ok("application/octet-stream", stalled.bytes.clone()).stalled(8000)],
    );
    let mut d = Daemon::start();
    let socket = d.socket.clone();
    let name = format!("{}/r", fake.addr());
    let query = format!("/images/create?fromImage={name}&tag=v1");
    let client = std::thread::spawn(move || crate::util::http_request(&socket, "POST", &query, b""));
    // Two layers stored (not yet an image's), the third mid-extraction.
    crate::util::wait_for(
        || names(&d, "layers").len() == 2 && !names(&d, "tmp").is_empty(),
        "two layers stored and one in tmp/",
    );
    d.kill();
    let _ = client.join();
    d.spawn();
    assert_eq!(d.http("GET", "/images/json", b"").1.trim(), "[]");
    assert_eq!(
        names(&d, "layers"),
        Vec::<String>::new(),
        "layers left by the killed pull"
    );
    assert_eq!(names(&d, "tmp"), Vec::<String>::new());
    assert_eq!(names(&d, "images"), Vec::<String>::new());
    fake.release();
    fake.blob(
        "r",
        &stalled.digest,
        vec![Answer::ok("application/octet-stream", stalled.bytes.clone())],
    );
    let p = pull(&d, &name, "v1", None);
    assert_eq!(p.message(), "", "{:?}", p.lines);
    assert_eq!(d.inspect(&format!("{name}:v1"))["Id"], image.config.digest);
}

#[test]
fn a_bad_name_or_platform_is_the_clients_error() {
    let d = Daemon::start();
    let p = pull(&d, "127.0.0.1:1/Busybox", "latest", None);
    assert_eq!(
        (p.status, p.message().as_str()),
        (
            400,
            "invalid reference format: repository name (127.0.0.1:1/Busybox) must be lowercase"
        )
    );
    let p = super::pull_query(&d, "fromImage=127.0.0.1:1/x&tag=v1&platform=linux", None);
    assert_eq!(p.status, 400, "{:?}", p.lines);
    assert!(
        p.message().starts_with("invalid platform \"linux\""),
        "{:?}",
        p.message()
    );
    assert!(tmp_entries(&d).is_empty());
}

#[test]
fn a_blob_redirected_to_its_storage_is_fetched_there() {
    let (fake, image) = served();
    let storage = FakeRegistry::start();
    let layer = &image.layers[0];
    let elsewhere = format!("{}/bucket/{}", storage.url(), &layer.digest[7..]);
    fake.blob(
        "r",
        &layer.digest,
        vec![Answer::status(307).header("Location", &elsewhere)],
    );
    storage.on(
        "GET",
        &format!("/bucket/{}", &layer.digest[7..]),
        vec![Answer::ok("application/octet-stream", layer.bytes.clone())],
    );
    let d = Daemon::start();
    let p = pull(&d, &format!("{}/r", fake.addr()), "v1", None);
    assert_eq!(p.message(), "", "{:?}", p.lines);
    assert_eq!(storage.count("GET", &format!("/bucket/{}", &layer.digest[7..])), 1);
    assert_eq!(d.inspect(&format!("{}/r:v1", fake.addr()))["Id"], image.config.digest);
}

/// An OCI index of one `linux/amd64` entry pointing to `(media type, bytes)`.
fn index_of(media_type: &str, bytes: &[u8]) -> Vec<u8> {
    let entry = serde_json::json!({
        "mediaType": media_type,
        "digest": crate::util::digest_of(bytes),
        "size": bytes.len(),
        "platform": {"os": "linux", "architecture": "amd64"},
    });
    let index = serde_json::json!({"schemaVersion": 2, "mediaType": media::OCI_INDEX, "manifests": [entry]});
    serde_json::to_vec(&index).unwrap()
}

#[test]
fn indexes_of_indexes_are_followed_two_deep_and_no_further() {
    let (fake, image) = served();
    let m = &image.manifest;
    let inner = index_of(&m.media_type, &m.bytes);
    let outer = index_of(media::OCI_INDEX, &inner);
    let too_deep = index_of(media::OCI_INDEX, &outer);
    for bytes in [&inner, &outer, &too_deep] {
        let digest = crate::util::digest_of(bytes);
        fake.manifest("r", &digest, vec![Answer::ok(media::OCI_INDEX, bytes.clone())]);
    }
    let d = Daemon::start();
    fake.manifest("r", "v1", vec![Answer::ok(media::OCI_INDEX, outer.clone())]);
    let p = pull(&d, &format!("{}/r", fake.addr()), "v1", None);
    assert_eq!(p.message(), "", "{:?}", p.lines);
    assert_eq!(d.inspect(&format!("{}/r:v1", fake.addr()))["Id"], image.config.digest);
    let d = Daemon::start();
    fake.manifest("r", "v1", vec![Answer::ok(media::OCI_INDEX, too_deep)]);
    let p = refused(&d, &fake);
    assert_eq!(p.message(), "manifest list nested more than 2 deep");
}

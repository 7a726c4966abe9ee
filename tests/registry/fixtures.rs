//! The registry fixtures prove themselves: each set-up of the real
//! registry seeded by skopeo and read back (and refusing what it must),
//! the token flow end to end, multi-platform lists, and the fake
//! registry's scripts.

use crate::util::{
    Answer, FakeRegistry, IndexKind, Registry, Request, Side, TestImage, bearer_challenge, digest_of, gzip, media,
    one_file_layer, require, skopeo,
};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// `skopeo inspect [--config] docker://ADDR/REF` with the registry's flags:
/// the JSON it prints.
fn inspect(reg: &Registry, reference: &str, config: bool) -> serde_json::Value {
    let mut args = vec!["inspect".to_string()];
    if config {
        args.push("--config".into());
    }
    args.extend(reg.skopeo_args(Side::Only));
    args.push(format!("docker://{}/{reference}", reg.addr()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = skopeo(&args);
    assert!(out.status.success(), "skopeo {args:?}: {}", crate::util::text(&out));
    serde_json::from_slice(&out.stdout).expect("skopeo's JSON")
}

/// A three-layer image whose layers are distinct files.
fn three_layers(architecture: &str) -> TestImage {
    let layers = (0..3)
        .map(|i| one_file_layer(&format!("layer-{i}"), format!("content {i}\n").repeat(100).as_bytes()))
        .collect();
    TestImage::new(architecture, layers)
}

#[test]
fn plain_registry_is_seeded_and_read_back_on_loopback_only() {
    let reg = require!(Registry::plain());
    let (image, digest) = require!(reg.seed_busybox("library/busybox:latest"));
    let seen = inspect(&reg, "library/busybox:latest", false);
    assert_eq!(seen["Digest"], digest);
    let config = inspect(&reg, "library/busybox:latest", true);
    assert_eq!(config["rootfs"]["diff_ids"], serde_json::json!(image.diff_ids()));
    let (media_type, bytes, got) = reg.manifest("library/busybox", "latest");
    assert_eq!(
        (media_type.as_str(), got.as_str()),
        (media::DOCKER_MANIFEST, digest.as_str())
    );
    let manifest: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(
        manifest["config"]["digest"],
        image.id(),
        "skopeo keeps the config's bytes"
    );
    assert_eq!(reg.tags("library/busybox"), ["latest"]);
    // Bound to 127.0.0.1 only: another loopback address is refused.
    let port = reg.addr().rsplit_once(':').unwrap().1.to_string();
    assert!(
        TcpStream::connect(format!("127.0.0.2:{port}")).is_err(),
        "the registry listens beyond 127.0.0.1"
    );
}

#[test]
fn multi_layer_archive_keeps_its_diff_ids_and_oci_format_works() {
    let reg = require!(Registry::plain());
    let image = three_layers("amd64");
    let digest = reg.seed_image(&image, "many:v1", &["--format", "oci"]);
    let (media_type, bytes, got) = reg.manifest("many", "v1");
    assert_eq!((media_type.as_str(), got), (media::OCI_MANIFEST, digest));
    let manifest: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    let layers = manifest["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 3);
    // Each layer blob is the gzip of a layer tar: it unpacks to its diff_id.
    for (layer, diff_id) in layers.iter().zip(image.diff_ids()) {
        let blob = reg.get_blob("many", layer["digest"].as_str().unwrap());
        let mut tar = Vec::new();
        flate2::read::GzDecoder::new(&blob[..]).read_to_end(&mut tar).unwrap();
        assert_eq!(digest_of(&tar), diff_id);
    }
}

#[test]
fn raw_put_image_round_trips() {
    let reg = require!(Registry::plain());
    let image = three_layers("amd64").registry_blobs();
    let digest = reg.put_image("raw", "t", &image);
    assert_eq!(digest, image.manifest.digest);
    assert_eq!(reg.manifest("raw", &digest).1, image.manifest.bytes);
    assert_eq!(reg.get_blob("raw", &image.config.digest), image.config.bytes);
}

#[test]
fn basic_registry_refuses_without_credentials() {
    let reg = require!(Registry::basic("alice", "s3cret"));
    let anonymous = reg.request_anonymous(&Request::new("GET", "/v2/"));
    assert_eq!(anonymous.status, 401);
    assert_eq!(
        anonymous.header("www-authenticate"),
        Some(r#"Basic realm="strata-test""#)
    );
    assert_eq!(reg.request(&Request::new("GET", "/v2/")).status, 200);
    assert_eq!(
        reg.request_as(&Request::new("GET", "/v2/"), "alice", "wrong").status,
        401
    );
    let digest = reg.seed_image(&three_layers("amd64"), "private:v1", &[]);
    assert_eq!(inspect(&reg, "private:v1", false)["Digest"], digest);
    let out = skopeo(&[
        "inspect",
        "--tls-verify=false",
        "--no-creds",
        &format!("docker://{}/private:v1", reg.addr()),
    ]);
    assert!(
        !out.status.success(),
        "read without credentials: {}",
        crate::util::text(&out)
    );
}

#[test]
fn tls_registry_needs_its_ca() {
    let reg = require!(Registry::tls());
    assert!(reg.url().starts_with("https://127.0.0.1:"), "{}", reg.url());
    // curl with the system roots only: the certificate is not trusted.
    let out = std::process::Command::new("curl")
        .args(["-sS", "-o", "/dev/null", &format!("{}/v2/", reg.url())])
        .output()
        .unwrap();
    assert!(!out.status.success(), "TLS without the CA was accepted");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("certificate"),
        "{}",
        crate::util::text(&out)
    );
    assert_eq!(reg.request(&Request::new("GET", "/v2/")).status, 200);
    let digest = reg.seed_image(&three_layers("amd64"), "secure:v1", &[]);
    assert_eq!(inspect(&reg, "secure:v1", false)["Digest"], digest);
    let config_dir = tempfile::tempdir().unwrap();
    let installed = reg.install_ca(config_dir.path());
    assert_eq!(
        installed,
        config_dir.path().join(format!("certs.d/{}/ca.crt", reg.addr()))
    );
    assert_eq!(
        std::fs::read(&installed).unwrap(),
        std::fs::read(reg.ca().unwrap()).unwrap()
    );
}

#[test]
fn token_registry_challenges_and_the_token_flow_works() {
    let reg = require!(Registry::token("bob", "hunter2"));
    let first = reg.request_anonymous(&Request::new("GET", "/v2/tok/manifests/v1"));
    assert_eq!(first.status, 401);
    let challenge = bearer_challenge(first.header("www-authenticate").expect("a challenge")).expect("Bearer");
    let get = |k: &str| challenge.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
    assert!(
        get("realm").is_some_and(|r| r.starts_with("http://127.0.0.1:")),
        "{challenge:?}"
    );
    assert_eq!(get("service").as_deref(), Some(crate::util::TOKEN_SERVICE));
    assert_eq!(get("scope").as_deref(), Some("repository:tok:pull"));
    // Anonymous and wrong credentials get no token.
    assert_eq!(reg.fetch_token(&challenge, None).unwrap_err().status, 401);
    assert_eq!(
        reg.fetch_token(&challenge, Some(("bob", "nope"))).unwrap_err().status,
        401
    );
    // skopeo does the flow itself to push; curl with the token reads back.
    let digest = reg.seed_image(&three_layers("amd64"), "tok:v1", &[]);
    let token = reg.fetch_token(&challenge, Some(("bob", "hunter2"))).expect("a token");
    let req = Request::new("GET", "/v2/tok/manifests/v1").header("Accept", media::DOCKER_MANIFEST);
    let with_token = reg.request_anonymous(&req.header("Authorization", &format!("Bearer {token}")));
    assert_eq!((with_token.status, digest_of(&with_token.body)), (200, digest));
    assert!(
        reg.token_requests()
            .iter()
            .any(|r| r.starts_with("account=bob scope=repository:tok:pull,push")),
        "{:?}",
        reg.token_requests()
    );
}

#[test]
fn public_token_registry_gives_anonymous_pull_only() {
    let reg = require!(Registry::token_public("bob", "hunter2"));
    let digest = reg.seed_image(&three_layers("amd64"), "pub:v1", &[]);
    let out = skopeo(&[
        "inspect",
        "--tls-verify=false",
        "--no-creds",
        &format!("docker://{}/pub:v1", reg.addr()),
    ]);
    assert!(out.status.success(), "anonymous pull: {}", crate::util::text(&out));
    let seen: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(seen["Digest"], digest);
    let upload = reg.request_anonymous(&Request::new("POST", "/v2/pub/blobs/uploads/"));
    let challenge = bearer_challenge(upload.header("www-authenticate").unwrap()).unwrap();
    let token = reg.fetch_token(&challenge, None).expect("an anonymous token");
    let denied = Request::new("POST", "/v2/pub/blobs/uploads/").header("Authorization", &format!("Bearer {token}"));
    assert_eq!(reg.request_anonymous(&denied).status, 401, "an anonymous token pushed");
}

#[test]
fn platforms_index_lists_amd64_and_arm64() {
    let reg = require!(Registry::plain());
    for (tag, kind, want) in [
        ("oci", IndexKind::Oci, media::OCI_INDEX),
        ("docker", IndexKind::DockerList, media::DOCKER_LIST),
    ] {
        let p = require!(reg.seed_platforms("multi", tag, kind));
        let (media_type, bytes, digest) = reg.manifest("multi", tag);
        assert_eq!((media_type.as_str(), &digest), (want, &p.index));
        let index: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        let entries: Vec<(String, String)> = index["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    m["platform"]["architecture"].as_str().unwrap().into(),
                    m["digest"].as_str().unwrap().into(),
                )
            })
            .collect();
        assert_eq!(
            entries,
            [
                ("amd64".to_string(), p.amd64.clone()),
                ("arm64".to_string(), p.arm64.clone())
            ]
        );
        let arm = inspect(&reg, &format!("multi@{}", p.arm64), true);
        assert_eq!(arm["architecture"], "arm64");
    }
}

/// `METHOD PATH` to the fake by hand: status line and body as received
/// (a cut body is what arrived before the close).
fn raw(fake: &FakeRegistry, method: &str, path: &str) -> (String, Vec<u8>) {
    let mut s = TcpStream::connect(fake.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "{method} {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut reply = Vec::new();
    let _ = s.read_to_end(&mut reply);
    let split = reply.windows(4).position(|w| w == b"\r\n\r\n").expect("a reply head") + 4;
    let head = String::from_utf8_lossy(&reply[..split]).into_owned();
    (head, reply[split..].to_vec())
}

#[test]
fn fake_registry_follows_its_scripts() {
    let fake = FakeRegistry::start();
    let image = three_layers("amd64").registry_blobs();
    fake.serve_image("r", "v1", &image);
    let (head, body) = raw(&fake, "GET", "/v2/r/manifests/v1");
    assert!(
        head.starts_with("HTTP/1.1 200") && head.contains(&image.manifest.digest),
        "{head}"
    );
    assert_eq!(body, image.manifest.bytes);
    // Failing twice, then serving.
    let layer = &image.layers[0];
    let path = format!("/v2/r/blobs/{}", layer.digest);
    fake.blob(
        "r",
        &layer.digest,
        vec![
            Answer::status(503).times(2),
            Answer::ok("application/octet-stream", layer.bytes.clone()),
        ],
    );
    let statuses: Vec<String> = (0..3).map(|_| raw(&fake, "GET", &path).0[9..12].to_string()).collect();
    assert_eq!(statuses, ["503", "503", "200"]);
    assert_eq!(fake.count("GET", &path), 3);
    // A cut body: full length declared, less sent.
    fake.blob(
        "r",
        &layer.digest,
        vec![Answer::ok("application/octet-stream", layer.bytes.clone()).truncated(10)],
    );
    let (head, body) = raw(&fake, "GET", &path);
    assert!(
        head.contains(&format!("Content-Length: {}", layer.bytes.len())),
        "{head}"
    );
    assert_eq!(body, layer.bytes[..10]);
    // Wrong bytes under a digest, a lying length, HEAD.
    fake.blob(
        "r",
        &layer.digest,
        vec![Answer::ok("application/octet-stream", gzip(b"other")).declared_length(3)],
    );
    let (head, body) = raw(&fake, "GET", &path);
    assert!(head.contains("Content-Length: 3\r\n"), "{head}");
    assert_ne!(digest_of(&body), layer.digest);
    let (head, body) = raw(&fake, "HEAD", &format!("/v2/r/blobs/{}", image.config.digest));
    assert!(head.starts_with("HTTP/1.1 200") && body.is_empty(), "{head}");
    assert!(
        raw(&fake, "GET", "/v2/r/manifests/absent")
            .0
            .starts_with("HTTP/1.1 404")
    );
}

#[test]
fn fake_registry_stalls_until_released() {
    let fake = FakeRegistry::start();
    fake.blob(
        "r",
        "sha256:big",
        vec![Answer::ok("application/octet-stream", vec![7u8; 1 << 20]).stalled(1000)],
    );
    let mut s = TcpStream::connect(fake.addr()).unwrap();
    s.write_all(b"GET /v2/r/blobs/sha256:big HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    s.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    // Held open: the read times out after the first bytes instead of ending.
    let stalled = loop {
        match s.read(&mut buf) {
            Ok(0) => break false,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(_) => break true,
        }
    };
    assert!(stalled, "the body ended instead of stalling");
    fake.release();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.read_to_end(&mut got).expect("closed after release");
    let body = got
        .split_at(got.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4)
        .1;
    assert_eq!(body.len(), 1000);
}

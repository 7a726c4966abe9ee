//! `pull` from a real registry (CNCF distribution on loopback, seeded by
//! skopeo): what is stored is what the registry holds (image ID, diff_ids,
//! RepoDigests), Docker's progress stream, pulling again, platforms, the
//! docker CLI.

use super::{Pull, lines_with, pull, tmp_entries};
use crate::util::{Blob, Daemon, IndexKind, Registry, RegistryImage, TestImage, media, one_file_layer, require};

/// `image` as an OCI manifest whose layers are `encode`d as `layer_type`.
fn oci_image(image: &TestImage, layer_type: &str, encode: &dyn Fn(&[u8]) -> Vec<u8>) -> RegistryImage {
    let config = Blob::new(media::OCI_CONFIG, image.config.clone());
    let layers: Vec<Blob> = image.layers.iter().map(|l| Blob::new(layer_type, encode(l))).collect();
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": media::OCI_MANIFEST,
        "config": config.descriptor(),
        "layers": layers.iter().map(Blob::descriptor).collect::<Vec<_>>(),
    });
    RegistryImage {
        manifest: Blob::new(media::OCI_MANIFEST, serde_json::to_vec(&manifest).unwrap()),
        config,
        layers,
    }
}

/// A registry with busybox seeded as `busybox:latest`, a daemon, and what
/// the registry holds: the image and its manifest's digest.
fn seeded() -> Option<(Registry, Daemon, TestImage, String)> {
    let reg = match Registry::plain() {
        Ok(r) => r,
        Err(why) => {
            crate::util::unmet(&why);
            return None;
        }
    };
    let (image, digest) = match reg.seed_busybox("busybox:latest") {
        Ok(x) => x,
        Err(why) => {
            crate::util::unmet(&why);
            return None;
        }
    };
    Some((reg, Daemon::start(), image, digest))
}

#[test]
fn a_pull_stores_what_the_registry_holds_with_dockers_stream() {
    let Some((reg, d, image, digest)) = seeded() else {
        return;
    };
    let name = format!("{}/busybox", reg.addr());
    let Pull { status, lines } = pull(&d, &name, "latest", None);
    assert_eq!(status, 200, "{lines:?}");
    assert_eq!(
        lines[0],
        serde_json::json!({"status": "Pulling from busybox", "id": "latest"})
    );
    let layer = &lines_with(&lines, "Pulling fs layer")[0]["id"];
    assert_eq!(layer.as_str().unwrap().len(), 12);
    // One layer's states in Docker's order.
    let states: Vec<&str> = lines
        .iter()
        .filter(|l| &l["id"] == layer)
        .map(|l| l["status"].as_str().unwrap())
        .collect();
    let mut order = states.clone();
    order.dedup();
    assert_eq!(
        order,
        [
            "Pulling fs layer",
            "Downloading",
            "Verifying Checksum",
            "Download complete",
            "Extracting",
            "Pull complete"
        ]
    );
    let downloading = lines_with(&lines, "Downloading");
    let last = downloading.last().unwrap();
    assert_eq!(last["progressDetail"]["current"], last["progressDetail"]["total"]);
    let n = lines.len();
    assert_eq!(lines[n - 2]["status"], format!("Digest: {digest}"));
    assert_eq!(
        lines[n - 1]["status"],
        format!("Status: Downloaded newer image for {name}:latest")
    );

    let inspect = d.inspect(&name);
    assert_eq!(inspect["Id"], image.id());
    assert_eq!(inspect["RootFS"]["Layers"], serde_json::json!(image.diff_ids()));
    assert_eq!(inspect["RepoDigests"], serde_json::json!([format!("{name}@{digest}")]));
    assert_eq!(inspect["RepoTags"], serde_json::json!([format!("{name}:latest")]));
    let (_, list) = d.http("GET", "/images/json", b"");
    let list: serde_json::Value = serde_json::from_str(&list).unwrap();
    assert_eq!(list[0]["RepoDigests"], serde_json::json!([format!("{name}@{digest}")]));
    assert!(tmp_entries(&d).is_empty());

    // Again: nothing downloaded, nothing changed.
    let before = d.store_snapshot();
    let again = pull(&d, &name, "latest", None);
    assert_eq!(lines_with(&again.lines, "Already exists").len(), 1, "{:?}", again.lines);
    assert!(lines_with(&again.lines, "Downloading").is_empty());
    assert_eq!(
        again.lines.last().unwrap()["status"],
        format!("Status: Image is up to date for {name}:latest")
    );
    assert_eq!(d.store_snapshot(), before);
    // The stored image runs: its layer is the busybox tree.
    assert!(
        d.root
            .join("layers")
            .join(&image.diff_ids()[0][7..])
            .join("root/bin/busybox")
            .exists()
    );
}

#[test]
fn the_docker_cli_pulls_and_runs_from_the_registry() {
    let Some((reg, d, image, _)) = seeded() else { return };
    let name = format!("{}/busybox", reg.addr());
    let Some(out) = d.docker_part(&["pull", &name]) else {
        return;
    };
    let text = crate::util::text(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("latest: Pulling from busybox"), "{text}");
    assert!(
        text.contains(&format!("Status: Downloaded newer image for {name}:latest")),
        "{text}"
    );
    assert_eq!(d.inspect(&name)["Id"], image.id());
    d.ok(&["rmi", &name]);
    if crate::util::part(crate::util::fuse()).is_none() {
        return;
    }
    let Some(out) = d.docker_part(&["run", "--rm", &name, "echo", "hi"]) else {
        return;
    };
    let text = crate::util::text(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("Unable to find image"), "{text}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).lines().last(),
        Some("hi"),
        "{text}"
    );
}

#[test]
fn layers_of_every_compression_pull_and_shared_ones_are_skipped() {
    let reg = require!(Registry::plain());
    let d = Daemon::start();
    let layers: Vec<Vec<u8>> = (0..3)
        .map(|i| one_file_layer(&format!("f{i}"), format!("layer {i}\n").repeat(500).as_bytes()))
        .collect();
    let image = TestImage::new("amd64", layers.clone());
    reg.seed_image(&image, "gz:v1", &[]);
    let zstd = |l: &[u8]| ruzstd::encoding::compress_to_vec(l, ruzstd::encoding::CompressionLevel::Fastest);
    reg.put_image("zstd", "v1", &oci_image(&image, media::OCI_LAYER_ZSTD, &zstd));
    let plain = TestImage::new("amd64", vec![layers[0].clone(), one_file_layer("other", b"x")]);
    reg.put_image("plain", "v1", &oci_image(&plain, media::OCI_LAYER_TAR, &|l| l.to_vec()));
    for (repo, want, layer_type, expect_skipped) in [
        ("zstd", &image, media::OCI_LAYER_ZSTD, 0),
        ("gz", &image, media::DOCKER_LAYER_GZIP, 3),
        ("plain", &plain, media::OCI_LAYER_TAR, 1),
    ] {
        let manifest: serde_json::Value = serde_json::from_slice(&reg.manifest(repo, "v1").1).unwrap();
        assert_eq!(manifest["layers"][1]["mediaType"], layer_type, "{repo}");
        let name = format!("{}/{repo}", reg.addr());
        let p = pull(&d, &name, "v1", None);
        assert_eq!(p.status, 200);
        assert!(
            p.lines.last().unwrap()["status"]
                .as_str()
                .unwrap()
                .starts_with("Status: "),
            "{repo}: {:?}",
            p.lines
        );
        let inspect = d.inspect(&format!("{name}:v1"));
        assert_eq!(inspect["Id"], want.id(), "{repo}");
        assert_eq!(
            inspect["RootFS"]["Layers"],
            serde_json::json!(want.diff_ids()),
            "{repo}"
        );
        // The same layers compressed otherwise are stored already.
        let skipped = lines_with(&p.lines, "Already exists").len();
        assert_eq!(skipped, expect_skipped, "{repo}: {:?}", p.lines);
    }
}

#[test]
fn an_index_pulls_the_hosts_platform_or_the_one_asked_for() {
    let reg = require!(Registry::plain());
    let platforms = require!(reg.seed_platforms("multi", "v1", IndexKind::DockerList));
    let d = Daemon::start();
    let name = format!("{}/multi", reg.addr());
    let p = pull(&d, &name, "v1", None);
    assert_eq!(p.status, 200, "{:?}", p.lines);
    assert_eq!(
        p.lines[p.lines.len() - 2]["status"],
        format!("Digest: {}", platforms.index)
    );
    let amd = d.inspect(&format!("{name}:v1"));
    assert_eq!(amd["Architecture"], "amd64");
    assert_eq!(
        amd["RepoDigests"],
        serde_json::json!([format!("{name}@{}", platforms.index)])
    );
    let p = super::pull_query(&d, &format!("fromImage={name}&tag=v1&platform=linux/arm64"), None);
    assert_eq!(p.status, 200, "{:?}", p.lines);
    let arm = d.inspect(&format!("{name}:v1"));
    assert_eq!(arm["Architecture"], "arm64");
    assert_ne!(arm["Id"], amd["Id"]);
    // The amd64 image stays, untagged, as Docker leaves it.
    assert_eq!(
        d.inspect(amd["Id"].as_str().unwrap())["RepoTags"],
        serde_json::json!([])
    );
    let p = super::pull_query(&d, &format!("fromImage={name}&tag=v1&platform=linux/s390x"), None);
    assert_eq!(p.status, 500, "{:?}", p.lines);
    assert!(
        p.message()
            .contains("no matching manifest for linux/s390x in the manifest list entries"),
        "{:?}",
        p.lines
    );
    // By digest: no tag, the RepoDigest only.
    let p = pull(&d, &format!("{name}@{}", platforms.arm64), "", None);
    assert_eq!(p.status, 200, "{:?}", p.lines);
    assert_eq!(p.lines[0]["id"], platforms.arm64);
    let by_digest = d.inspect(&format!("{name}@{}", platforms.arm64));
    assert_eq!(by_digest["Id"], arm["Id"]);
    assert!(
        by_digest["RepoDigests"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!(format!("{name}@{}", platforms.arm64))),
        "{by_digest}"
    );
}

#[test]
fn a_single_platform_image_of_another_platform_pulls_with_dockers_warning() {
    let Some((reg, d, _image, _digest)) = seeded() else {
        return;
    };
    let name = format!("{}/busybox", reg.addr());
    let Pull { status, lines } =
        super::pull_query(&d, &format!("fromImage={name}&tag=latest&platform=linux/arm64"), None);
    assert_eq!(status, 200, "{lines:?}");
    // seed_busybox's image says amd64 whatever the host is.
    let host = "amd64";
    let warning = format!(
        "WARNING: image with reference {name}:latest was found but does not match the specified platform: wanted linux/arm64, actual: linux/{host}"
    );
    assert_eq!(lines.last().unwrap()["status"], warning.as_str(), "{lines:?}");
    assert!(lines.iter().all(|l| l["error"].is_null()), "{lines:?}");
    // The pull stands, as Docker's does; asking for the image's own
    // platform (or none) warns of nothing.
    assert!(d.inspect(&format!("{name}:latest"))["Id"].is_string());
    for query in ["", &format!("&platform=linux/{host}")] {
        let again = super::pull_query(&d, &format!("fromImage={name}&tag=latest{query}"), None);
        assert!(
            again
                .lines
                .iter()
                .all(|l| !l["status"].as_str().unwrap_or("").starts_with("WARNING")),
            "{:?}",
            again.lines
        );
    }
}

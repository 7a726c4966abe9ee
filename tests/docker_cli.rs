//! The real docker CLI (client only; no engine here) driving stratad.

use crate::util::{Daemon, require, sample_rootfs_tar, sha256_hex};
use std::process::Output;

fn ok(out: Option<Output>, what: &str) -> Option<String> {
    let out = out?;
    assert!(
        out.status.success(),
        "docker {what} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8(out.stdout).unwrap())
}

#[test]
fn docker_cli_manages_images_through_stratad() {
    let d = Daemon::start();
    require!(d.docker_cli());
    let version = ok(d.docker(&["version"]), "version").unwrap();
    assert!(
        version.contains("Server: Strata") && version.contains("API version:      1.50"),
        "{version}"
    );
    let info = ok(d.docker(&["info"]), "info").unwrap();
    assert!(
        info.contains("Server Version: 0.1.0") && info.contains("Storage Driver: strata"),
        "{info}"
    );

    let tar = sample_rootfs_tar();
    let path = d.dir.path().join("x.tar");
    std::fs::write(&path, &tar).unwrap();
    let imported = ok(d.docker(&["import", path.to_str().unwrap(), "y:1"]), "import").unwrap();
    let id = imported.trim();
    assert!(id.starts_with("sha256:") && id.len() == 71, "{imported}");

    let images = ok(d.docker(&["images"]), "images").unwrap();
    assert!(
        images.lines().any(|l| l.starts_with("y ") && l.contains(&id[7..19])),
        "{images}"
    );

    let filtered = ok(d.docker(&["images", "y"]), "images y").unwrap();
    assert_eq!(filtered.lines().count(), 2, "{filtered}");
    let none = ok(d.docker(&["images", "nothing"]), "images nothing").unwrap();
    assert_eq!(none.lines().count(), 1, "{none}");

    let inspect = ok(d.docker(&["inspect", "y:1"]), "inspect").unwrap();
    let v: serde_json::Value = serde_json::from_str(&inspect).unwrap();
    assert_eq!(v[0]["Id"], id);
    assert_eq!(v[0]["RootFS"]["Layers"][0], format!("sha256:{}", sha256_hex(&tar)));

    ok(d.docker(&["tag", "y:1", "docker.io/library/z:2"]), "tag");
    let inspect = ok(d.docker(&["image", "inspect", "z:2"]), "inspect z").unwrap();
    assert!(inspect.contains("\"z:2\"") && inspect.contains("\"y:1\""), "{inspect}");
    let history = ok(d.docker(&["history", "z:2"]), "history").unwrap();
    assert!(
        history.contains(&id[7..19]) && history.contains("Imported from -"),
        "{history}"
    );

    let rmi = ok(d.docker(&["rmi", "y:1", "z:2"]), "rmi").unwrap();
    assert!(
        rmi.contains("Untagged: y:1") && rmi.contains("Untagged: z:2") && rmi.contains(&format!("Deleted: {id}")),
        "{rmi}"
    );
    let images = ok(d.docker(&["images", "-q"]), "images -q").unwrap();
    assert!(images.trim().is_empty(), "{images}");

    // The default image, built by its script through stratad, as docker sees it.
    d.import_busybox();
    let busybox = ok(d.docker(&["inspect", "busybox"]), "inspect busybox").unwrap();
    let v: serde_json::Value = serde_json::from_str(&busybox).unwrap();
    assert_eq!(v[0]["RepoTags"], serde_json::json!(["busybox:latest"]));
    assert_eq!(v[0]["Config"]["Cmd"], serde_json::json!(["sh"]));
    let images = ok(d.docker(&["images", "busybox"]), "images busybox").unwrap();
    assert!(
        images
            .lines()
            .nth(1)
            .is_some_and(|l| l.starts_with("busybox ") && l.contains("latest")),
        "{images}"
    );

    let missing = d.docker(&["inspect", "nope"]).unwrap();
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("No such object: nope"));
    let bad = d.docker(&["import", path.to_str().unwrap(), "UPPER:case"]).unwrap();
    assert!(!bad.status.success());
}

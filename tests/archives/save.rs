//! `save`: the archive Docker 25+ writes, read by other tools.

use super::{archive_files, get_to_file, podman, save_to_file, success};
use crate::util::{Daemon, busybox_tar, require, sha256_hex, text, tools};
use std::process::Command;

#[test]
fn a_saved_image_is_read_by_skopeo_umoci_and_podman() {
    require!(tools(&["curl", "skopeo", "umoci", "podman"]));
    let d = Daemon::start();
    let tar = require!(busybox_tar(d.dir.path()));
    let id = d.import(&tar, "busybox:1");
    d.ok(&["tag", "busybox:1", "127.0.0.1:5000/team/busybox:v2"]);
    let diff_id = format!("sha256:{}", sha256_hex(&std::fs::read(&tar).unwrap()));
    let saved = save_to_file(&d, &["busybox:1", "127.0.0.1:5000/team/busybox:v2"], "saved.tar");
    let again = save_to_file(&d, &["busybox:1", "127.0.0.1:5000/team/busybox:v2"], "again.tar");
    assert!(
        std::fs::read(&saved).unwrap() == std::fs::read(&again).unwrap(),
        "deterministic"
    );
    let files = archive_files(&saved);
    assert_eq!(
        format!(
            "sha256:{}",
            sha256_hex(&files[&format!("blobs/sha256/{}", &diff_id[7..])])
        ),
        diff_id,
        "the layer blob is the exact tar"
    );
    let path = saved.to_str().unwrap();

    let inspect = success(
        Command::new("skopeo")
            .args(["inspect", &format!("docker-archive:{path}:busybox:1")])
            .output()
            .unwrap(),
        "skopeo inspect",
    );
    let inspect: serde_json::Value = serde_json::from_str(&inspect).unwrap();
    assert_eq!(inspect["Layers"][0], diff_id.as_str(), "{inspect}");
    assert_eq!(inspect["Os"], "linux");

    let layout = d.dir.path().join("layout");
    let dest = format!("oci:{}:copied", layout.display());
    success(
        Command::new("skopeo")
            .args(["copy", &format!("docker-archive:{path}:busybox:1"), &dest])
            .output()
            .unwrap(),
        "skopeo copy",
    );
    let ls = success(
        Command::new("umoci")
            .args(["ls", "--layout"])
            .arg(&layout)
            .output()
            .unwrap(),
        "umoci ls",
    );
    assert_eq!(ls.trim(), "copied");
    // The archive is an OCI layout itself, tags in its index.
    let oci = success(
        Command::new("skopeo")
            .args(["inspect", &format!("oci-archive:{path}:v2")])
            .output()
            .unwrap(),
        "skopeo inspect oci-archive",
    );
    assert!(oci.contains(&diff_id), "{oci}");

    let loaded = success(podman(d.dir.path(), &["load", "-i", path]), "podman load");
    assert!(loaded.contains("busybox:1"), "{loaded}");
    let out = success(
        podman(d.dir.path(), &["image", "inspect", "localhost/busybox:1"]),
        "podman image inspect",
    );
    let images: serde_json::Value = serde_json::from_str(&out).unwrap();
    let podman_image = images.as_array().unwrap().first().unwrap_or_else(|| panic!("{out}"));
    assert_eq!(
        podman_image["Id"].as_str().map(|s| format!("sha256:{s}")),
        Some(id),
        "the same image ID"
    );
    assert_eq!(podman_image["RootFS"]["Layers"][0], diff_id.as_str());
}

#[test]
fn an_unknown_image_is_a_404_before_any_byte() {
    require!(tools(&["curl"]));
    let d = Daemon::start();
    let tar = require!(busybox_tar(d.dir.path()));
    d.import(&tar, "busybox:1");
    let out = d.dir.path().join("out");
    for (path, message) in [
        (
            "/images/get?names=busybox:1&names=busybox:2",
            "reference does not exist",
        ),
        ("/images/get?names=nothing", "No such image: nothing"),
        ("/images/nothing:1/get", "reference does not exist"),
    ] {
        assert_eq!(get_to_file(&d, path, &out), 404, "{path}");
        let body: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
        assert_eq!(body["message"], message, "{path}");
    }
    assert_eq!(get_to_file(&d, "/images/busybox:1/get", &out), 200);
    assert!(archive_files(&out).contains_key("manifest.json"));
}

#[test]
fn the_docker_cli_saves_from_stratad() {
    let d = Daemon::start();
    require!(d.docker_cli());
    let tar = require!(busybox_tar(d.dir.path()));
    d.import(&tar, "busybox");
    let file = d.dir.path().join("docker-save.tar");
    let out = d.docker(&["save", "-o", file.to_str().unwrap(), "busybox"]).unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let files = archive_files(&file);
    let items: serde_json::Value = serde_json::from_slice(&files["manifest.json"]).unwrap();
    assert_eq!(items[0]["RepoTags"][0], "busybox:latest");
    let out = d.docker(&["save", "nothing:1"]).unwrap();
    assert!(!out.status.success());
    assert!(text(&out).contains("reference does not exist"), "{}", text(&out));
}

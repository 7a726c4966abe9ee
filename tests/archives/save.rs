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

#[test]
fn a_committed_image_s_saved_layer_hashes_to_its_diff_id() {
    require!(crate::util::fuse());
    require!(tools(&["curl"]));
    let d = Daemon::start();
    d.import_busybox();
    let script = "mkdir -p /srv/app && echo hello > /srv/app/greeting && rm /etc/group && chmod 700 /bin/busybox";
    d.ok(&["run", "--name", "c", "busybox", "sh", "-c", script]);
    d.ok(&["commit", "c", "busybox:committed"]);
    let layers = d.inspect("busybox:committed")["RootFS"]["Layers"].clone();
    let layers: Vec<&str> = layers.as_array().unwrap().iter().map(|l| l.as_str().unwrap()).collect();
    assert_eq!(layers.len(), 2);
    let files = archive_files(&save_to_file(&d, &["busybox:committed"], "committed.tar"));
    for layer in &layers {
        let blob = &files[&format!("blobs/sha256/{}", &layer[7..])];
        assert_eq!(format!("sha256:{}", sha256_hex(blob)), *layer);
    }
    let top = &files[&format!("blobs/sha256/{}", &layers[1][7..])];
    let mut names = Vec::new();
    for e in tar::Archive::new(top.as_slice()).entries().unwrap() {
        names.push(e.unwrap().path().unwrap().to_string_lossy().into_owned());
    }
    assert!(
        names.iter().any(|n| n == "srv/app/greeting") && names.iter().any(|n| n == "etc/.wh.group"),
        "{names:?}"
    );
}

#[test]
fn a_changed_or_old_layer_is_never_handed_out_as_its_diff_id() {
    require!(tools(&["curl"]));
    let d = Daemon::start();
    let tar = crate::util::sample_rootfs_tar();
    let path = d.dir.path().join("rootfs.tar");
    std::fs::write(&path, &tar).unwrap();
    d.import(&path, "sample:1");
    let layer = d.root.join("layers").join(sha256_hex(&tar));
    let passwd = layer.join("root/etc/passwd");
    let original = std::fs::read(&passwd).unwrap();
    let mut changed = original.clone();
    changed[0] ^= 1;
    std::fs::write(&passwd, &changed).unwrap();
    let out = d.dir.path().join("cut.tar");
    let run = Command::new("curl")
        .args(["-sS", "--unix-socket"])
        .arg(&d.socket)
        .arg("-o")
        .arg(&out)
        .arg("http://localhost/images/get?names=sample:1")
        .output()
        .unwrap();
    assert!(!run.status.success(), "the transfer is cut, not ended cleanly");
    let got = std::fs::read(&out).unwrap_or_default();
    let mut archive = tar::Archive::new(got.as_slice());
    let complete = archive.entries().is_ok_and(|mut e| e.all(|e| e.is_ok()));
    assert!(!complete || got.len() < tar.len(), "no complete archive of other bytes");
    assert!(d.log().contains("the stored layer was changed"), "{}", d.log());

    std::fs::write(&passwd, &original).unwrap();
    assert_eq!(get_to_file(&d, "/images/sample:1/get", &out), 200);
    std::fs::remove_file(layer.join("tar-layout")).unwrap();
    assert_eq!(get_to_file(&d, "/images/sample:1/get", &out), 500);
    let body: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains("stored before Strata kept each layer's exact tar"),
        "{message}"
    );
}

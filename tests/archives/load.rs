//! `load`: what Docker, podman and skopeo write, and hostile archives.

use super::{load_file, load_file_query, podman, save_to_file, success};
use crate::util::{Daemon, busybox_tar, require, text, tools};
use std::path::Path;
use std::process::Command;

fn layers(d: &Daemon, name: &str) -> serde_json::Value {
    d.inspect(name)["RootFS"]["Layers"].clone()
}

#[test]
fn archives_podman_and_skopeo_write_load_with_the_same_diff_ids() {
    require!(tools(&["curl", "skopeo", "podman"]));
    let d = Daemon::start();
    let dir = d.dir.path();
    let tar = require!(busybox_tar(dir));
    success(
        podman(dir, &["import", tar.to_str().unwrap(), "localhost/bb:1"]),
        "podman import",
    );
    let out = success(podman(dir, &["image", "inspect", "localhost/bb:1"]), "podman inspect");
    let podman_layers = serde_json::from_str::<serde_json::Value>(&out).unwrap()[0]["RootFS"]["Layers"].clone();
    let docker_archive = dir.join("podman-docker.tar");
    let oci_archive = dir.join("podman-oci.tar");
    let file = |p: &Path| p.to_str().unwrap().to_string();
    success(
        podman(
            dir,
            &[
                "save",
                "--format",
                "docker-archive",
                "-o",
                &file(&docker_archive),
                "localhost/bb:1",
            ],
        ),
        "podman save docker-archive",
    );
    success(
        podman(
            dir,
            &[
                "save",
                "--format",
                "oci-archive",
                "-o",
                &file(&oci_archive),
                "localhost/bb:1",
            ],
        ),
        "podman save oci-archive",
    );
    // skopeo's OCI archive with zstd layers, named by a bare tag (untagged to a loader).
    let zstd_archive = dir.join("skopeo-zstd.tar");
    success(
        Command::new("skopeo")
            .args(["copy", "--dest-compress-format", "zstd", "--dest-compress"])
            .arg(format!("docker-archive:{}", file(&docker_archive)))
            .arg(format!("oci-archive:{}:v3", file(&zstd_archive)))
            .output()
            .unwrap(),
        "skopeo copy",
    );
    for (what, archive, name) in [
        ("podman's docker-archive", &docker_archive, Some("localhost/bb:1")),
        ("podman's oci-archive", &oci_archive, Some("localhost/bb:1")),
        ("skopeo's zstd oci-archive", &zstd_archive, None),
    ] {
        let (status, reply) = load_file(&d, archive);
        assert_eq!(status, 200, "{what}: {reply}");
        let id = match name {
            Some(n) => {
                assert!(reply.contains(&format!("Loaded image: {n}\\n")), "{what}: {reply}");
                n.to_string()
            }
            None => {
                let at = reply.find("sha256:").unwrap_or_else(|| panic!("{what}: {reply}"));
                reply[at..at + 71].to_string()
            }
        };
        assert_eq!(layers(&d, &id), podman_layers, "{what}: the same diff_ids");
        d.ok(&["rmi", "-f", &id]);
    }
    assert_eq!(
        std::fs::read_dir(d.root.join("tmp")).unwrap().count(),
        0,
        "tmp/ is empty"
    );
}

#[test]
fn save_rmi_load_gives_the_same_image_with_the_docker_cli_too() {
    require!(tools(&["curl"]));
    let d = Daemon::start();
    let tar = require!(busybox_tar(d.dir.path()));
    let id = d.import(&tar, "busybox:1");
    let saved = save_to_file(&d, &["busybox:1"], "saved.tar");
    d.ok(&["rmi", "busybox:1"]);
    let (status, reply) = load_file(&d, &saved);
    assert_eq!(
        (status, reply.as_str()),
        (200, "{\"stream\":\"Loaded image: busybox:1\\n\"}\n")
    );
    assert_eq!(d.inspect("busybox:1")["Id"], id.as_str());
    // Not quiet: each layer's progress, then what was loaded.
    d.ok(&["rmi", "busybox:1"]);
    let (status, reply) = load_file_query(&d, &saved, "quiet=0");
    assert_eq!(status, 200, "{reply}");
    let lines: Vec<serde_json::Value> = reply.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let size = std::fs::metadata(&tar).unwrap().len();
    assert_eq!(lines[0]["status"], "Loading layer", "{reply}");
    assert_eq!(lines[0]["progressDetail"]["total"], size, "{reply}");
    assert_eq!(lines[lines.len() - 2]["progressDetail"]["current"], size, "{reply}");
    assert_eq!(lines[lines.len() - 1]["stream"], "Loaded image: busybox:1\n");
    assert_eq!(d.inspect("busybox:1")["Id"], id.as_str());

    // The same with the docker CLI, as the tutorial's readers would.
    if d.docker_part(&["version"]).is_none() {
        return;
    }
    let file = d.dir.path().join("docker.tar");
    let out = d.docker(&["save", "-o", file.to_str().unwrap(), "busybox:1"]).unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(d.docker(&["rmi", "busybox:1"]).unwrap().status.success());
    let out = d.docker(&["load", "-i", file.to_str().unwrap()]).unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("Loaded image: busybox:1"), "{}", text(&out));
    assert_eq!(d.inspect("busybox:1")["Id"], id.as_str());
    let out = d.docker(&["load", "-i", tar.to_str().unwrap()]).unwrap();
    assert!(!out.status.success());
    assert!(
        text(&out).contains("neither manifest.json nor index.json"),
        "{}",
        text(&out)
    );
}

#[test]
fn a_refused_archive_changes_nothing() {
    require!(tools(&["curl"]));
    let d = Daemon::start();
    let tar = require!(busybox_tar(d.dir.path()));
    d.import(&tar, "busybox:1");
    let saved = save_to_file(&d, &["busybox:1"], "saved.tar");
    let bytes = std::fs::read(&saved).unwrap();
    d.ok(&["rmi", "busybox:1"]);
    let before = (d.store_snapshot(), d.ok(&["images", "-q"]));
    let write = |name: &str, data: &[u8]| {
        let p = d.dir.path().join(name);
        std::fs::write(&p, data).unwrap();
        p
    };
    // The layer's blob, one byte changed: its digest is the diff_id no more.
    let mut changed = bytes.clone();
    let at = bytes
        .windows(11)
        .position(|w| w == b"bin/busybox")
        .expect("a busybox entry")
        + 2048;
    changed[at] ^= 0xff;
    for (what, file, expected) in [
        ("garbage", write("garbage", &[7u8; 5000]), "not a tar archive"),
        ("truncated", write("truncated", &bytes[..bytes.len() / 2]), "truncated"),
        (
            "a changed layer",
            write("changed", &changed),
            "don't match image configuration",
        ),
    ] {
        let (status, reply) = load_file(&d, &file);
        assert_eq!(status, 400, "{what}: {reply}");
        assert!(reply.contains(expected), "{what}: {reply}");
        assert_eq!(
            (d.store_snapshot(), d.ok(&["images", "-q"])),
            before,
            "{what}: nothing changed"
        );
    }
    // Not quiet, a layer refused once its progress was reported: the
    // stream's last line says why, and still nothing changed.
    let (status, reply) = load_file_query(&d, &write("changed", &changed), "quiet=0");
    assert_eq!(status, 200, "{reply}");
    assert!(reply.contains("Loading layer"), "{reply}");
    let last: serde_json::Value = serde_json::from_str(reply.lines().last().unwrap()).unwrap();
    let message = last["errorDetail"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("don't match image configuration"), "{reply}");
    assert_eq!((d.store_snapshot(), d.ok(&["images", "-q"])), before, "nothing changed");
}

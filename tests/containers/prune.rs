//! `container prune`, `image prune [-a]`, `system df [-v]` and `system
//! prune`: what is unused goes, with Docker's reports and real sizes.

use super::ok;
use crate::util::{Daemon, require, text};
use std::process::Command;

/// `GET PATH` of the daemon's API as JSON (through curl).
fn api_json(d: &Daemon, path: &str) -> serde_json::Value {
    let out = Command::new("curl")
        .args(["-sf", "--unix-socket"])
        .arg(&d.socket)
        .arg(format!("http://localhost{path}"))
        .output()
        .unwrap();
    assert!(out.status.success(), "GET {path}: {}", text(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `du -sb` of a directory: its apparent bytes.
fn du_bytes(p: &std::path::Path) -> u64 {
    let out = Command::new("du").arg("-sb").arg(p).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// The bytes of docker's `Total reclaimed space: 100.3kB` (decimal units).
fn reclaimed(out: &str) -> u64 {
    let v = out
        .lines()
        .find_map(|l| l.strip_prefix("Total reclaimed space: "))
        .unwrap_or_else(|| panic!("no total in {out}"));
    let (n, unit) = v.split_at(v.find(|c: char| c.is_ascii_alphabetic()).unwrap());
    let scale = match unit {
        "B" => 1.0,
        "kB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        _ => panic!("{v}"),
    };
    (n.parse::<f64>().unwrap() * scale) as u64
}

fn daemon() -> Result<Daemon, String> {
    crate::util::tools(&["curl"])?;
    Daemon::with_docker_and_busybox()
}

#[test]
fn container_prune_removes_stopped_containers_with_their_sizes() {
    let d = require!(daemon());
    let write = "dd if=/dev/zero of=/big bs=1000 count=300 2>/dev/null";
    let done = d.docker_ok(&["run", "-d", "--name", "done", "busybox", "sh", "-c", write]);
    let done = done.trim();
    d.docker_ok(&["wait", "done"]);
    d.docker_ok(&["run", "--name", "kept", "--label", "keep=1", "busybox", "true"]);
    d.docker_ok(&["run", "-d", "--name", "live", "busybox", "sleep", "1000"]);
    let out = d.docker_ok(&["container", "prune", "-f", "--filter", "label!=keep"]);
    assert!(out.contains("Deleted Containers:") && out.contains(done), "{out}");
    assert!(
        out.contains("Total reclaimed space: 300kB"),
        "the writable layer's bytes: {out}"
    );
    let names = d.docker_ok(&["ps", "-a", "--format", "{{.Names}}"]);
    let mut names: Vec<&str> = names.lines().collect();
    names.sort();
    assert_eq!(names, ["kept", "live"], "the running and the filtered-out stay");
    let out = d.docker_ok(&["container", "prune", "-f", "--filter", "until=1h"]);
    assert!(
        out.contains("Total reclaimed space: 0B") && !out.contains("Deleted"),
        "{out}"
    );
    let err = d.docker_fails(&["container", "prune", "-f", "--filter", "nosuch=1"]);
    assert!(err.contains("invalid filter 'nosuch'"), "{err}");
    ok(&d, &["rm", "-f", "live"]);
}

#[test]
fn image_prune_removes_dangling_then_unused_images() {
    let d = require!(daemon());
    // A dangling image: imported without a name (100 kB of content).
    let tar = d.dir.path().join("blob.tar");
    {
        let mut b = tar::Builder::new(std::fs::File::create(&tar).unwrap());
        let mut h = tar::Header::new_ustar();
        h.set_path("blob").unwrap();
        h.set_size(100_000);
        h.set_mode(0o644);
        h.set_cksum();
        b.append(&h, std::io::repeat(7).take(100_000)).unwrap();
        b.finish().unwrap();
    }
    use std::io::Read;
    let dangling = d.docker_ok(&["import", &tar.display().to_string()]);
    let dangling = dangling.trim();
    // A tagged, unused image of 200 kB over busybox.
    let write = "dd if=/dev/zero of=/data bs=1000 count=200 2>/dev/null";
    d.docker_ok(&["run", "--name", "w", "busybox", "sh", "-c", write]);
    d.docker_ok(&["commit", "w", "mine:1"]);
    d.docker_ok(&["rm", "w"]);
    d.docker_ok(&["create", "--name", "user", "busybox", "true"]);

    let out = d.docker_ok(&["image", "prune", "-f"]);
    assert!(out.contains(&format!("deleted: {dangling}")), "{out}");
    let freed = reclaimed(&out);
    assert!(
        (100_000..105_000).contains(&freed),
        "the layer's bytes in the store: {out}"
    );
    assert!(
        d.docker_ok(&["images", "-q", "mine:1"]).trim().len() == 12,
        "tagged images stay"
    );

    let out = d.docker_ok(&["image", "prune", "-a", "-f", "--filter", "label=nosuch"]);
    assert!(
        out.contains("Total reclaimed space: 0B"),
        "the filter keeps them: {out}"
    );
    let out = d.docker_ok(&["image", "prune", "-a", "-f"]);
    assert!(
        out.contains("untagged: mine:1") && out.contains("deleted: sha256:"),
        "{out}"
    );
    let freed = reclaimed(&out);
    assert!((200_000..210_000).contains(&freed), "{out}");
    let left = d.docker_ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert_eq!(left.trim(), "busybox:latest", "the image a container stands on stays");
}

#[test]
fn system_df_counts_real_sizes_and_system_prune_clears() {
    let d = require!(daemon());
    let write = "dd if=/dev/zero of=/big bs=1000 count=250 2>/dev/null";
    d.docker_ok(&[
        "run",
        "--name",
        "s",
        "-v",
        "vol:/data",
        "busybox",
        "sh",
        "-c",
        &format!("{write}; echo 12345 > /data/x"),
    ]);
    d.docker_ok(&["commit", "s", "snap:1"]);
    let df = api_json(&d, "/system/df");
    let layers = df["LayersSize"].as_i64().unwrap() as u64;
    let on_disk = du_bytes(&d.root.join("layers"));
    let diff = layers.abs_diff(on_disk) as f64 / on_disk as f64;
    println!(
        "system df LayersSize {layers}, du -sb of the layers {on_disk} ({:.2}%)",
        diff * 100.0
    );
    assert!(diff < 0.05, "LayersSize {layers} against du {on_disk}");
    let images = df["Images"].as_array().unwrap();
    let snap = images.iter().find(|i| i["RepoTags"][0] == "snap:1").unwrap();
    let busybox = images.iter().find(|i| i["RepoTags"][0] == "busybox:latest").unwrap();
    assert_eq!(snap["SharedSize"], busybox["Size"], "busybox's layer is shared");
    assert_eq!(busybox["Containers"], 1);
    assert_eq!(
        layers as i64,
        snap["Size"].as_i64().unwrap(),
        "the shared layer counted once"
    );
    let c = &df["Containers"][0];
    assert_eq!(c["SizeRw"].as_i64().unwrap(), 250_000, "{c}");
    let v = &df["Volumes"][0];
    assert_eq!(
        (
            v["Name"].as_str(),
            v["UsageData"]["Size"].as_i64(),
            v["UsageData"]["RefCount"].as_i64()
        ),
        (Some("vol"), Some(6), Some(1))
    );

    let out = d.docker_ok(&["system", "df"]);
    println!("{out}");
    let images_row = out.lines().find(|l| l.starts_with("Images")).unwrap();
    assert!(
        images_row.split_whitespace().collect::<Vec<_>>()[1..3] == ["2", "1"],
        "{out}"
    );
    assert!(
        out.lines().any(|l| l.starts_with("Containers") && l.contains("250kB")),
        "{out}"
    );
    let verbose = d.docker_ok(&["system", "df", "-v"]);
    assert!(verbose.contains("snap") && verbose.contains("vol"), "{verbose}");

    let out = d.docker_ok(&["system", "prune", "-a", "-f", "--volumes"]);
    println!("{out}");
    assert!(
        out.contains("Deleted Containers:") && out.contains("untagged: snap:1"),
        "{out}"
    );
    assert!(d.docker_ok(&["ps", "-aq"]).is_empty());
    assert!(d.docker_ok(&["images", "-q"]).is_empty(), "no image is used any more");
    // A named volume stays without -a on the volume prune (docker 28).
    let vols = d.docker_ok(&["volume", "ls", "-q"]);
    assert_eq!(vols.trim(), "vol");
}

/// The `strata` forms print what the docker CLI prints.
#[test]
fn strata_prune_and_df_print_as_docker() {
    let d = require!(daemon());
    let write = "dd if=/dev/zero of=/big bs=1000 count=120 2>/dev/null";
    let id = d.docker_ok(&["run", "-d", "--name", "a", "-v", "/anon", "busybox", "sh", "-c", write]);
    d.docker_ok(&["wait", "a"]);
    d.docker_ok(&["commit", "a", "snap:1"]);
    d.docker_ok(&["run", "-d", "--name", "live", "busybox", "sleep", "1000"]);
    assert_eq!(ok(&d, &["system", "df"]), d.docker_ok(&["system", "df"]));
    let verbose = ok(&d, &["system", "df", "-v"]);
    assert!(
        verbose.contains("Images space usage:") && verbose.contains("snap "),
        "{verbose}"
    );
    assert!(verbose.contains("120kB") && verbose.contains("a\n"), "{verbose}");

    let out = ok(&d, &["container", "prune", "-f"]);
    assert_eq!(
        out,
        format!("Deleted Containers:\n{}\n\nTotal reclaimed space: 120kB\n", id.trim())
    );
    let out = ok(&d, &["image", "prune", "-f"]);
    assert_eq!(out, "Total reclaimed space: 0B\n", "nothing dangling");
    // Without -f and a "no": nothing happens.
    let asked = d.strata_stdin(&["system", "prune", "-a", "--volumes"], b"n\n");
    assert!(String::from_utf8_lossy(&asked.stdout).contains("Are you sure you want to continue? [y/N]"));
    assert!(!ok(&d, &["images", "-q"]).is_empty());
    let out = ok(&d, &["system", "prune", "-a", "-f", "--volumes"]);
    assert!(
        out.contains("Deleted Volumes:") && out.contains("untagged: snap:1"),
        "{out}"
    );
    assert!(out.ends_with("B\n") && out.contains("Total reclaimed space: "), "{out}");
    let left = ok(&d, &["images", "--format", "json"]);
    assert!(
        left.contains("busybox") && !left.contains("snap"),
        "the running container's image stays: {left}"
    );
    ok(&d, &["rm", "-f", "live"]);
}

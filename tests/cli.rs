//! The `strata` client: Docker's output formats and rules.

// Archives through `strata`: save, load, export.
mod archives;
// `--format`: Go templates, as the docker CLI prints them.
mod formats;
// Progress of long operations: on a terminal, in a pipe, quiet.
mod progress;
// Registries through `strata`: pull, push, login, logout, --pull.
mod registry;

use crate::util::{Daemon, sample_rootfs_tar, strata_at};

fn is_short_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|c| c.is_ascii_hexdigit())
}

#[test]
fn images_lists_tags_in_docker_format() {
    let d = Daemon::start();
    let path = d.dir.path().join("rootfs.tar");
    std::fs::write(&path, sample_rootfs_tar()).unwrap();
    let id = d.import(&path, "sample:1");
    d.ok(&["tag", "sample:1", "docker.io/library/other"]);
    let table = d.ok(&["images"]);
    let mut lines = table.lines();
    let header = lines.next().unwrap();
    assert!(
        header.starts_with("REPOSITORY   TAG       IMAGE ID       CREATED"),
        "{header:?}"
    );
    assert!(header.ends_with("SIZE"));
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(rows.len(), 2, "{table}");
    for row in &rows {
        assert!(is_short_id(row[2]), "{row:?}");
        assert!(id.starts_with(&format!("sha256:{}", row[2])));
        assert_eq!(row.last().copied(), Some("100kB"), "{row:?}");
    }
    assert!(rows.iter().any(|r| r[0] == "other" && r[1] == "latest"));
    assert!(rows.iter().any(|r| r[0] == "sample" && r[1] == "1"));

    let json = d.ok(&["images", "--format", "json"]);
    for line in json.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(is_short_id(v["ID"].as_str().unwrap()));
        assert_eq!(v["Size"], "100kB");
    }
    assert_eq!(json.lines().count(), 2);
    // Filters, as `docker images NAME` and `-f` send them.
    let only = d.ok(&["images", "other"]);
    assert_eq!(only.lines().count(), 2, "{only}");
    assert!(only.lines().nth(1).unwrap().starts_with("other "));
    assert_eq!(d.ok(&["images", "sam*:1"]).lines().count(), 2);
    assert_eq!(d.ok(&["images", "nothing"]).lines().count(), 1);
    assert_eq!(d.ok(&["images", "-f", "dangling=true"]).lines().count(), 1);
    assert_eq!(d.ok(&["images", "-f", "dangling=false"]).lines().count(), 3);
    let bad = d.strata(&["images", "-f", "colour=red"]);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("invalid filter 'colour'"));
    let quiet = d.ok(&["images", "-q"]);
    assert_eq!(quiet.trim(), &id[7..19], "one ID per image, not per tag");
}

#[test]
fn rmi_and_tag_follow_docker_rules() {
    let d = Daemon::start();
    let path = d.dir.path().join("rootfs.tar");
    std::fs::write(&path, sample_rootfs_tar()).unwrap();
    let id = d.import(&path, "x:1");
    d.ok(&["tag", "x:1", "y:2"]);
    d.ok(&["tag", &id[7..19], "z"]);

    // By ID with several tags: refused without -f.
    let out = d.strata(&["rmi", &id[7..19]]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("must be forced"));

    assert_eq!(d.ok(&["rmi", "x:1"]), "Untagged: x:1\n");
    assert_eq!(d.ok(&["rmi", "z"]), "Untagged: z:latest\n");
    let layer_dirs = std::fs::read_dir(d.root.join("layers")).unwrap().count();
    assert_eq!(layer_dirs, 1);
    assert_eq!(d.ok(&["rmi", "y:2"]), format!("Untagged: y:2\nDeleted: {id}\n"));
    assert_eq!(std::fs::read_dir(d.root.join("layers")).unwrap().count(), 0);
    assert_eq!(std::fs::read_dir(d.root.join("images")).unwrap().count(), 0);

    // Forced removal by full ID untags everything.
    let id2 = d.import(&path, "p:1");
    d.ok(&["tag", "p:1", "q:1"]);
    let out = d.ok(&["rmi", "-f", &id2]);
    assert!(out.contains("Untagged: p:1") && out.contains("Untagged: q:1") && out.contains(&format!("Deleted: {id2}")));

    // Unknown names: one error line per name, exit 1, the rest still removed.
    let id3 = d.import(&path, "r:1");
    let out = d.strata(&["rmi", "nope", "r:1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("No such image: nope"));
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("Deleted: {id3}")));

    let bad = d.strata(&["tag", "nope", "a:b"]);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("No such image: nope"));
}

#[test]
fn history_and_inspect_show_the_import() {
    let d = Daemon::start();
    let path = d.dir.path().join("rootfs.tar");
    std::fs::write(&path, sample_rootfs_tar()).unwrap();
    let out = d.ok(&[
        "import",
        "-m",
        "first import",
        "-c",
        "ENV A=1",
        "-c",
        "CMD [\"sh\"]",
        path.to_str().unwrap(),
        "h:1",
    ]);
    let id = out.trim();
    let history = d.ok(&["history", "h:1"]);
    let lines: Vec<&str> = history.lines().collect();
    assert!(lines[0].starts_with("IMAGE          CREATED"), "{history}");
    assert!(
        lines[1].starts_with(&id[7..19]) && lines[1].contains("first import") && lines[1].contains("100kB"),
        "{history}"
    );
    let inspect = d.inspect(&id[7..19]);
    assert_eq!(inspect["RepoTags"], serde_json::json!(["h:1"]));
    assert_eq!(inspect["Config"]["Env"], serde_json::json!(["A=1"]));
    assert_eq!(inspect["Config"]["Cmd"], serde_json::json!(["sh"]));
    assert_eq!(inspect["Comment"], "first import");
    assert_eq!(inspect["Os"], "linux");
    // `inspect` prints JSON indented by four spaces, like docker.
    let text = d.ok(&["inspect", "h:1"]);
    assert!(text.starts_with("[\n    {\n        \"Id\": "), "{text}");
    let missing = d.strata(&["inspect", "nope"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("No such object: nope"));
}

#[test]
fn version_and_info_describe_the_daemon() {
    let d = Daemon::start();
    let v = d.ok(&["version"]);
    assert!(
        v.contains("Server: Strata") && v.contains("API version:      1.50 (minimum version 1.24)"),
        "{v}"
    );
    let i = d.ok(&["info"]);
    assert!(i.contains(&format!(" Docker Root Dir: {}", d.root.display())), "{i}");
    assert!(i.contains(" Images: 0"), "{i}");
}

#[test]
fn no_daemon_gives_one_clear_line_and_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let host = format!("unix://{}/absent.sock", dir.path().display());
    for args in [&["images"][..], &["version"], &["import", "-", "x"]] {
        let out = strata_at(&host, args, None);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(
            err.contains(&format!("cannot connect to stratad at {host}: is it running?")),
            "{err}"
        );
        assert!(!err.contains("panicked") && !err.contains("backtrace"), "{err}");
    }
    let out = strata_at("http://nowhere", &["images"], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid host"));
}

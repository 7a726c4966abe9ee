//! `export`: a container's merged root as a tar, stopped or running.

use super::get_to_file;
use crate::util::{Daemon, fuse, require, text, tools};

fn daemon() -> Result<Daemon, String> {
    fuse()?;
    tools(&["curl"])?;
    let d = Daemon::start();
    d.import_busybox();
    Ok(d)
}

/// The entries of a tar: name → (type flag, link target, data).
fn entries(path: &std::path::Path) -> std::collections::BTreeMap<String, (u8, String, Vec<u8>)> {
    use std::io::Read;
    let mut a = tar::Archive::new(std::fs::File::open(path).unwrap());
    a.entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let name = e.path().unwrap().to_string_lossy().trim_end_matches('/').to_string();
            let flag = e.header().entry_type().as_byte();
            let link = e
                .link_name()
                .unwrap()
                .map(|l| l.to_string_lossy().into_owned())
                .unwrap_or_default();
            let mut data = Vec::new();
            e.read_to_end(&mut data).unwrap();
            (name, (flag, link, data))
        })
        .collect()
}

#[test]
fn a_stopped_or_running_container_exports_its_whole_root() {
    let d = require!(daemon());
    let script =
        "echo hi > /hello && rm /etc/group && ln -s /etc/passwd /lnk && mkdir -p /srv/a && ln /hello /srv/a/again";
    d.ok(&["run", "--name", "c", "busybox", "sh", "-c", script]);
    let file = d.dir.path().join("c.tar");
    assert_eq!(get_to_file(&d, "/containers/c/export", &file), 200);
    let tar = entries(&file);
    assert_eq!(tar["hello"].2, b"hi\n");
    assert_eq!(tar["lnk"].0, b'2');
    assert_eq!(tar["lnk"].1, "/etc/passwd");
    assert_eq!(
        (tar["srv/a/again"].0, tar["srv/a/again"].1.as_str()),
        (b'1', "hello"),
        "a hard link"
    );
    assert!(!tar.contains_key("etc/group"), "a deleted file is not there");
    assert!(
        tar.contains_key("etc/passwd") && tar.contains_key("bin/busybox"),
        "the image's files are"
    );
    assert!(!tar.keys().any(|k| k.contains(".wh.")), "no whiteouts in an export");
    let busybox = &tar["bin/busybox"];
    assert!(busybox.0 == b'0' && busybox.2.len() > 100_000, "the image's content");
    assert!(
        !d.root.join("containers").read_dir().unwrap().any(|e| {
            let merged = e.unwrap().path().join("merged");
            std::fs::read_dir(&merged).is_ok_and(|mut m| m.next().is_some())
        }),
        "the mount made for the export is gone"
    );

    let id = d.ok(&[
        "run",
        "-d",
        "--name",
        "r",
        "busybox",
        "sh",
        "-c",
        "echo live > /live; sleep 100",
    ]);
    crate::util::wait_for(
        || get_to_file(&d, "/containers/r/export", &file) == 200 && entries(&file).contains_key("live"),
        "the running container's file in its export",
    );
    let inspect = d.inspect(id.trim());
    assert_eq!(inspect["State"]["Running"], true, "export leaves it running");
    d.ok(&["rm", "-f", "r"]);

    if let Some(out) = d.docker_part(&["export", "-o", file.to_str().unwrap(), "c"]) {
        assert!(out.status.success(), "{}", text(&out));
        assert_eq!(entries(&file)["hello"].2, b"hi\n");
    }
}

#[test]
fn an_unknown_container_is_a_404() {
    require!(tools(&["curl"]));
    let d = Daemon::start();
    let file = d.dir.path().join("out");
    assert_eq!(get_to_file(&d, "/containers/nosuch/export", &file), 404);
    let body: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(body["message"], "No such container: nosuch");
}

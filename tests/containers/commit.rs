//! Diff and commit: a container's changes become a shared layer of a new image.

use super::{daemon, docker_on_terminal, ok, stdout};
use crate::util::{Daemon, SmallDisk, fuse, require, text, tool};
use std::process::Command;

#[test]
fn diff_lists_a_containers_changes_as_docker_does() {
    let d = require!(daemon());
    // busybox's image: /bin/* applets, /etc/{passwd,group}, /root, /tmp, /home …
    let script = "mkdir -p /srv/new/deep && echo x > /srv/new/deep/file && echo more >> /etc/passwd \
        && chmod 700 /home && rm /etc/group && rm -r /var && mv /root /moved && echo y > /tmp/t";
    ok(&d, &["run", "--name", "ch", "busybox", "sh", "-c", script]);
    let expected = "\
C /etc
D /etc/group
C /etc/passwd
C /home
A /moved
D /root
A /srv
A /srv/new
A /srv/new/deep
A /srv/new/deep/file
C /tmp
A /tmp/t
D /var
";
    assert_eq!(ok(&d, &["diff", "ch"]), expected);
    if let Some(out) = d.docker_part(&["diff", "ch"]) {
        assert_eq!(stdout(&out), expected, "{}", text(&out));
    }
    // What the runtime makes (/etc/hostname and friends, /dev, /proc) is no
    // change, not even to /etc.
    ok(&d, &["run", "--name", "nothing", "busybox", "true"]);
    assert_eq!(ok(&d, &["diff", "nothing"]), "");
    let out = d.strata(&["diff", "nosuch"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("No such container: nosuch"));
}

/// What the tutorial's container changes: an added tree, an appended file,
/// a chmod of a directory, removals (a whiteout each) and a rename. The
/// chmod of /bin/busybox copies up its metadata only (stratad mounts with
/// metacopy): the commit must still store its data, read through the
/// mount, or nothing would run from the new image (every command is a
/// symlink to it).
const CHANGES: &str = "mkdir -p /srv/app && echo hello > /srv/app/greeting && echo extra >> /etc/passwd \
    && chmod 700 /home && rm /etc/group && rm -r /var && mv /root /moved && chmod 700 /bin/busybox";

/// A daemon with the busybox image and a stopped container `git` that made
/// [`CHANGES`].
fn daemon_with_changes() -> Result<Daemon, String> {
    let d = daemon()?;
    ok(&d, &["run", "--name", "git", "busybox", "sh", "-c", CHANGES]);
    Ok(d)
}

/// Commits the container `git` as `busybox:git`, by "Tutor": the image id.
fn commit_git(d: &Daemon) -> String {
    let id = ok(
        d,
        &["commit", "-m", "the tutorial", "-a", "Tutor", "git", "busybox:git"],
    );
    let id = id.trim().to_string();
    assert!(id.starts_with("sha256:") && id.len() == 71, "{id}");
    id
}

/// The layers of an image, as its inspect lists them.
fn layers(d: &Daemon, image: &str) -> Vec<serde_json::Value> {
    d.inspect(image)["RootFS"]["Layers"].as_array().unwrap().clone()
}

fn stored_layers(d: &Daemon) -> usize {
    std::fs::read_dir(d.root.join("layers")).unwrap().count()
}

#[test]
fn diff_lists_the_changes_and_a_chmod_copies_up_no_data() {
    let d = require!(daemon_with_changes());
    let expected = "\
C /bin
C /bin/busybox
C /etc
D /etc/group
C /etc/passwd
C /home
A /moved
D /root
A /srv
A /srv/app
A /srv/app/greeting
D /var
";
    assert_eq!(ok(&d, &["diff", "git"]), expected);
    let upper = d.inspect("git")["GraphDriver"]["Data"]["UpperDir"]
        .as_str()
        .unwrap()
        .to_string();
    let copied = std::fs::metadata(std::path::Path::new(&upper).join("bin/busybox")).unwrap();
    use std::os::unix::fs::MetadataExt;
    assert!(
        copied.len() > 100_000 && copied.blocks() == 0,
        "no data copied up for a chmod"
    );
}

/// The tutorial's point: a container's changes become a layer on top of
/// its image's layers, shared, not copied.
#[test]
fn commit_freezes_the_changes_into_a_new_layer_and_image() {
    let d = require!(daemon_with_changes());
    // The layer commit will write: its entries and whiteouts, OCI style.
    let out = d.strata(&["diff", "--tar", "git"]);
    assert!(out.status.success(), "{}", text(&out));
    let tar = out.stdout;
    let tar_path = d.dir.path().join("layer.tar");
    std::fs::write(&tar_path, &tar).unwrap();
    let listing = Command::new("tar").arg("-tf").arg(&tar_path).output().unwrap();
    assert_eq!(
        stdout(&listing),
        "bin/\nbin/busybox\netc/\netc/.wh.group\netc/passwd\nhome/\nmoved/\n.wh.root\nsrv/\nsrv/app/\nsrv/app/greeting\n.wh.var\n"
    );

    let parent_layers = layers(&d, "busybox");
    let id = commit_git(&d);
    let images = ok(&d, &["images"]);
    assert!(
        images.lines().any(|l| l.starts_with("busybox ") && l.contains(" git ")),
        "{images}"
    );
    assert!(
        images
            .lines()
            .any(|l| l.starts_with("busybox ") && l.contains(" latest ")),
        "{images}"
    );
    let image = d.inspect("busybox:git");
    assert_eq!(image["Id"], id);
    let layers = image["RootFS"]["Layers"].as_array().unwrap();
    assert_eq!(layers.len(), parent_layers.len() + 1);
    assert_eq!(
        layers[..parent_layers.len()],
        parent_layers[..],
        "the parent's layers, unchanged"
    );
    // The committed layer is exactly the tar above: its sha256 is the diff_id.
    assert_eq!(
        layers.last().unwrap().as_str().unwrap(),
        format!("sha256:{}", crate::util::sha256_hex(&tar))
    );
    assert_eq!(image["Author"], "Tutor");
    assert_eq!(image["Comment"], "the tutorial");
    assert_eq!(image["Config"]["Cmd"], serde_json::json!(["sh", "-c", CHANGES]));
    let history = ok(&d, &["history", "busybox:git"]);
    let first = history.lines().nth(1).unwrap();
    assert!(
        first.starts_with(&id[7..19]) && first.contains("the tutorial"),
        "{history}"
    );
    // Shared, not copied: one directory per distinct layer.
    assert_eq!(stored_layers(&d), layers.len());
}

#[test]
fn a_container_of_the_committed_image_sees_the_changes() {
    let d = require!(daemon_with_changes());
    let busybox_sum = ok(&d, &["run", "--rm", "busybox", "sha256sum", "/bin/busybox"]);
    commit_git(&d);
    let out = ok(
        &d,
        &[
            "run",
            "--rm",
            "busybox:git",
            "sh",
            "-c",
            "cat /srv/app/greeting; tail -n1 /etc/passwd; stat -c %a /home; ls /etc/group /var /root 2>&1 | wc -l; ls -d /moved; stat -c %a /bin/busybox",
        ],
    );
    assert_eq!(out, "hello\nextra\n700\n3\n/moved\n700\n");
    assert_eq!(
        ok(&d, &["run", "--rm", "busybox:git", "sha256sum", "/bin/busybox"]),
        busybox_sum,
        "the committed busybox has its data"
    );
}

#[test]
fn the_same_changes_again_are_the_same_layer_stored_once() {
    let d = require!(daemon_with_changes());
    commit_git(&d);
    let stored = stored_layers(&d);
    assert_eq!(stored, layers(&d, "busybox:git").len());
    ok(&d, &["commit", "git", "busybox:again"]);
    assert_eq!(layers(&d, "busybox:again"), layers(&d, "busybox:git"));
    assert_eq!(stored_layers(&d), stored);
}

/// No changes: no layer, an empty_layer history entry; `-c` sets the
/// image's configuration.
#[test]
fn a_commit_without_changes_adds_no_layer_and_applies_the_config() {
    let d = require!(daemon());
    ok(&d, &["create", "--name", "clean", "busybox", "true"]);
    ok(
        &d,
        &[
            "commit",
            "-c",
            "CMD [\"echo\",\"from-cmd\"]",
            "-c",
            "ENV A=1",
            "-c",
            "WORKDIR /srv",
            "-c",
            "USER nobody",
            "-c",
            "LABEL k=v",
            "-c",
            "EXPOSE 80",
            "clean",
            "busybox:changed",
        ],
    );
    let changed = d.inspect("busybox:changed");
    assert_eq!(changed["RootFS"]["Layers"], d.inspect("busybox")["RootFS"]["Layers"]);
    let config = &changed["Config"];
    assert_eq!(config["Cmd"], serde_json::json!(["echo", "from-cmd"]));
    assert!(
        config["Env"].as_array().unwrap().contains(&serde_json::json!("A=1")),
        "{config}"
    );
    assert_eq!(config["WorkingDir"], "/srv");
    assert_eq!(config["User"], "nobody");
    assert_eq!(config["Labels"]["k"], "v");
    assert!(config["ExposedPorts"].get("80/tcp").is_some(), "{config}");
    let raw = ok(&d, &["inspect", "--config-raw", "busybox:changed"]);
    let raw: serde_json::Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(raw["history"].as_array().unwrap().last().unwrap()["empty_layer"], true);
    assert_eq!(ok(&d, &["run", "--rm", "busybox:changed"]), "from-cmd\n");
}

#[test]
fn bad_commits_get_clear_errors_and_write_nothing() {
    let d = require!(daemon_with_changes());
    let before = d.store_snapshot();
    for (args, status_text) in [
        (vec!["commit", "nosuch", "x:y"], "No such container: nosuch"),
        (vec!["commit", "git", "UPPER:case"], "invalid"),
        (vec!["commit", "-c", "BOGUS x", "git", "x:y"], "BOGUS"),
    ] {
        let out = d.strata(&args);
        assert!(!out.status.success(), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(status_text),
            "{args:?}: {}",
            text(&out)
        );
    }
    let (status, _) = d.http("POST", "/commit?container=nosuch", b"");
    assert_eq!(status, 404);
    let (status, _) = d.http("POST", "/commit?container=git&repo=UPPER", b"");
    assert_eq!(status, 400);
    let after = d.store_snapshot();
    let changed: Vec<_> = after
        .iter()
        .filter(|x| !before.contains(x))
        .chain(before.iter().filter(|x| !after.contains(x)))
        .collect();
    assert!(changed.is_empty(), "the bad commits wrote: {changed:?}");
}

#[test]
fn the_docker_cli_commits_the_same_layer() {
    let d = require!(daemon_with_changes());
    require!(d.docker_cli());
    commit_git(&d);
    let out = d.docker(&["commit", "git", "busybox:docker"]).unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(layers(&d, "busybox:docker"), layers(&d, "busybox:git"));
    let out = d.docker(&["history", "busybox:docker"]).unwrap();
    assert!(stdout(&out).lines().count() >= 3, "{}", text(&out));
}

/// The tutorial with the docker CLI, typed into a terminal.
#[test]
fn docker_cli_tutorial_run_it_diff_commit() {
    let d = require!(daemon());
    require!(d.docker_cli());
    require!(tool("script"));
    let docker = |args: &[&str]| {
        let out = d.docker(args).unwrap();
        assert!(out.status.success(), "docker {args:?}: {}", text(&out));
        stdout(&out)
    };
    let out = docker_on_terminal(
        &d,
        "run -it --name git busybox sh",
        "mkdir /srv && echo hi > /srv/f && chmod 600 /etc/passwd && rm -r /var && mv /root /moved; exit\\r",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(
        docker(&["diff", "git"]),
        "C /etc\nC /etc/passwd\nA /moved\nD /root\nA /srv\nA /srv/f\nD /var\n"
    );
    let id = docker(&["commit", "-m", "tutorial", "git", "busybox:git"]);
    assert!(id.trim().starts_with("sha256:"), "{id}");
    let images = docker(&["images"]);
    assert!(
        images.lines().filter(|l| l.starts_with("busybox ")).count() == 2,
        "{images}"
    );
    let parent: serde_json::Value = serde_json::from_str(&docker(&["inspect", "busybox"])).unwrap();
    let child: serde_json::Value = serde_json::from_str(&docker(&["inspect", "busybox:git"])).unwrap();
    let (p, c) = (
        parent[0]["RootFS"]["Layers"].as_array().unwrap(),
        child[0]["RootFS"]["Layers"].as_array().unwrap(),
    );
    assert_eq!(c.len(), p.len() + 1);
    assert_eq!(c[..p.len()], p[..]);
    let history = docker(&["history", "busybox:git"]);
    assert!(history.lines().nth(1).unwrap().contains("tutorial"), "{history}");
    let out = docker(&[
        "run",
        "--rm",
        "busybox:git",
        "sh",
        "-c",
        "cat /srv/f; stat -c %a /etc/passwd; ls /var /root 2>&1 | wc -l; ls -d /moved",
    ]);
    assert_eq!(out, "hi\n600\n2\n/moved\n");
}

#[test]
fn a_commit_on_a_full_disk_says_so_and_leaves_nothing() {
    require!(fuse());
    let mut d = Daemon::prepare();
    let _disk = SmallDisk::mount(&d, "20m");
    d.spawn();
    d.import_busybox();
    // 12 MB in the writable layer; its commit needs as much again.
    let out = d.strata(&[
        "run",
        "--name",
        "big",
        "busybox",
        "sh",
        "-c",
        "head -c 12000000 /dev/urandom > /big",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let images = ok(&d, &["images", "-q"]);
    let out = d.strata(&["commit", "big", "big:1"]);
    assert!(!out.status.success(), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("No space left on device"), "{}", text(&out));
    assert!(!err.contains("Broken pipe"), "{}", text(&out));
    assert_eq!(ok(&d, &["images", "-q"]), images, "no image was made");
    assert_eq!(
        std::fs::read_dir(d.root.join("tmp")).unwrap().count(),
        0,
        "nothing half-written"
    );
    ok(&d, &["rm", "big"]);
}

/// A container that only made `/new`: its diff is that alone, and its
/// writable layer holds nothing of the runtime's (the bind targets of
/// `/etc/hosts` and friends come from the store's init layer).
fn only_the_new_file_is_a_change(d: &Daemon) {
    ok(d, &["run", "--name", "touched", "busybox", "touch", "/new"]);
    assert_eq!(ok(d, &["diff", "touched"]), "A /new\n");
    let id = d.inspect("touched")["Id"].as_str().unwrap().to_string();
    let upper = super::container_dir(d, &id).join("upper");
    let mut entries: Vec<String> = std::fs::read_dir(&upper)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    entries.sort();
    assert_eq!(entries, ["new"], "the writable layer {}", upper.display());
    // Inside, the runtime's files are there all the same.
    let out = ok(d, &["run", "--rm", "busybox", "cat", "/etc/hostname", "/etc/hosts"]);
    assert!(out.contains("localhost"), "{out}");
}

#[test]
fn the_runtimes_files_stay_out_of_the_writable_layer() {
    let d = require!(daemon());
    only_the_new_file_is_a_change(&d);
}

#[test]
fn the_runtimes_files_stay_out_of_a_rootless_writable_layer() {
    let d = require!(crate::util::rootless_daemon());
    d.import_busybox();
    only_the_new_file_is_a_change(&d);
}

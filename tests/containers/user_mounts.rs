//! `strata mount` / `unmount`: an image's layers mounted by the daemon,
//! straight from the store, read-only or over an upper directory.

use super::{daemon, ok, stdout};
use crate::util::{Daemon, require, rootless_daemon, text};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Whether `dir` is a mount point in this (the host's) mount namespace.
fn mounted(dir: &Path) -> bool {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let dir = dir.to_str().unwrap();
    info.lines().any(|l| l.split(' ').nth(4) == Some(dir))
}

/// `strata ARGS`, which must fail; its stderr.
fn fails(d: &Daemon, args: &[&str]) -> String {
    let out = d.strata(args);
    assert_eq!(out.status.code(), Some(1), "strata {args:?}: {}", text(&out));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// busybox's one layer's tree in the store.
fn busybox_layer(d: &Daemon) -> PathBuf {
    let v = d.inspect("busybox");
    let diff_id = v["RootFS"]["Layers"][0].as_str().unwrap();
    d.root
        .join("layers")
        .join(diff_id.trim_start_matches("sha256:"))
        .join("root")
}

/// `strata mount busybox` shows the image's files from the store, refuses
/// writes, holds the image against rmi, lists, and `unmount` leaves
/// nothing mounted and no directory behind.
#[test]
fn an_image_mounts_read_only_and_unmounts_without_a_trace() {
    let d = require!(daemon());
    let dir = PathBuf::from(ok(&d, &["mount", "busybox"]).trim());
    assert!(dir.starts_with(d.root.join("mounts")), "{}", dir.display());
    assert!(mounted(&dir), "{} is not mounted", dir.display());
    let layer = busybox_layer(&d);
    assert_eq!(
        std::fs::read(dir.join("bin/busybox")).unwrap(),
        std::fs::read(layer.join("bin/busybox")).unwrap()
    );
    let write = std::fs::write(dir.join("new"), b"x").unwrap_err();
    assert_eq!(
        write.raw_os_error(),
        Some(rustix::io::Errno::ROFS.raw_os_error()),
        "{write}"
    );
    let chmod = std::fs::set_permissions(
        dir.join("bin/busybox"),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    );
    assert_eq!(
        chmod.unwrap_err().raw_os_error(),
        Some(rustix::io::Errno::ROFS.raw_os_error())
    );
    // Mounted again without a directory: the same mount.
    assert_eq!(ok(&d, &["mount", "busybox"]).trim(), dir.to_str().unwrap());
    let listed = ok(&d, &["mount"]);
    let rows: Vec<&str> = listed.lines().collect();
    assert_eq!(rows.len(), 2, "{listed}");
    assert!(rows[0].starts_with("TARGET"), "{listed}");
    assert!(
        rows[1].starts_with("busybox ") && rows[1].ends_with(dir.to_str().unwrap()),
        "{listed}"
    );
    assert_eq!(ok(&d, &["mount", "-q"]).trim(), dir.to_str().unwrap());
    assert_eq!(
        ok(&d, &["mount", "--format", "{{.Target}} {{.Type}} {{.RW}}"]).trim(),
        "busybox image false"
    );
    let (status, body) = d.http("GET", "/strata/mounts", b"");
    assert_eq!(status, 200, "{body}");
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json[0]["Dir"], dir.to_str().unwrap(), "{body}");
    assert!(json[0]["ID"].as_str().unwrap().starts_with("sha256:"), "{body}");
    // Held: rmi is a conflict (409), forced or not by ID, and the mount serves on.
    let err = fails(&d, &["rmi", "busybox"]);
    assert!(err.contains("is mounted at"), "{err}");
    let id = d.inspect("busybox")["Id"].as_str().unwrap().to_string();
    let (status, body) = d.http("DELETE", &format!("/images/{id}?force=1"), b"");
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("being used by the mount at"), "{body}");
    assert!(dir.join("bin/busybox").is_file());
    ok(&d, &["unmount", "busybox"]);
    assert!(!mounted(&dir), "{} is still mounted", dir.display());
    assert!(!dir.exists() && !dir.parent().unwrap().exists(), "{}", dir.display());
    assert_eq!(ok(&d, &["mount"]).lines().count(), 1);
    let err = fails(&d, &["unmount", "busybox"]);
    assert!(err.contains("busybox is not mounted"), "{err}");
    // No longer held.
    ok(&d, &["rmi", "busybox"]);
}

/// A directory given is mounted at and left in place (empty) after; an
/// upper takes the writes, and `umount DIR` (the alias, by path) ends it.
#[test]
fn a_mount_at_a_given_directory_over_an_upper() {
    let d = require!(daemon());
    let tmp = tempfile::tempdir().unwrap();
    let (mnt, upper) = (tmp.path().join("mnt"), tmp.path().join("upper"));
    std::fs::create_dir(&mnt).unwrap();
    std::fs::create_dir(&upper).unwrap();
    let shown = ok(&d, &["mount", "busybox", mnt.to_str().unwrap()]);
    assert_eq!(shown.trim(), mnt.to_str().unwrap());
    assert!(mnt.join("bin/busybox").is_file());
    let err = fails(&d, &["mount", "busybox", mnt.to_str().unwrap()]);
    assert!(err.contains("is not empty"), "{err}");
    ok(&d, &["umount", mnt.to_str().unwrap()]);
    assert!(!mounted(&mnt));
    assert!(mnt.is_dir() && std::fs::read_dir(&mnt).unwrap().next().is_none());

    ok(
        &d,
        &[
            "mount",
            "--upper",
            upper.to_str().unwrap(),
            "busybox",
            mnt.to_str().unwrap(),
        ],
    );
    std::fs::write(mnt.join("etc/new"), b"written").unwrap();
    std::fs::remove_file(mnt.join("bin/ls")).unwrap();
    assert_eq!(std::fs::read(upper.join("etc/new")).unwrap(), b"written");
    assert!(
        tmp.path().join("upper.work").is_dir(),
        "no work directory beside the upper"
    );
    assert!(
        busybox_layer(&d).join("bin/ls").exists(),
        "the store's layer was changed"
    );
    let listed = ok(&d, &["mount", "--format", "{{.RW}} {{.Upper}}"]);
    assert_eq!(listed.trim(), format!("true {}", upper.display()));
    // By relative path, from the directory above it.
    let out = Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(["-H", &d.host(), "unmount", "mnt"])
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(!mounted(&mnt));
    assert!(!mnt.join("etc").exists());
    assert_eq!(std::fs::read(upper.join("etc/new")).unwrap(), b"written");
}

/// Bad input gets a clear error and mounts nothing.
#[test]
fn bad_mounts_are_refused_and_change_nothing() {
    let d = require!(daemon());
    let tmp = tempfile::tempdir().unwrap();
    let full = tmp.path().join("full");
    std::fs::create_dir(&full).unwrap();
    std::fs::write(full.join("f"), b"").unwrap();
    let file = full.join("f");
    let missing = tmp.path().join("missing");
    let in_store = d.root.join("mounts");
    let cases: [(&[&str], &str); 6] = [
        (&["mount", "nosuch"], "No such image: nosuch"),
        (&["mount", "busybox", missing.to_str().unwrap()], "does not exist"),
        (&["mount", "busybox", full.to_str().unwrap()], "is not empty"),
        (&["mount", "busybox", file.to_str().unwrap()], "is not a directory"),
        (
            &["mount", "--upper", missing.to_str().unwrap(), "busybox"],
            "does not exist",
        ),
        (
            &["mount", "busybox", in_store.to_str().unwrap()],
            "inside the daemon's store",
        ),
    ];
    for (args, said) in cases {
        let err = fails(&d, args);
        assert!(err.contains(said), "{args:?}: {err}");
    }
    assert!(!missing.exists());
    assert_eq!(std::fs::read_dir(d.root.join("mounts")).unwrap().count(), 0);
    assert_eq!(ok(&d, &["mount"]).lines().count(), 1);
    let err = fails(&d, &["unmount", "nosuch", tmp.path().to_str().unwrap()]);
    assert!(err.contains("nosuch is not mounted"), "{err}");
    assert!(
        err.contains(&format!("{} is not mounted", tmp.path().display())),
        "{err}"
    );
    let (status, _) = d.http("DELETE", "/strata/mounts", b"");
    assert_eq!(status, 400);
    let (status, _) = d.http("POST", "/strata/mounts", b"{\"Target\":\"busybox\",\"Dir\":\"rel\"}");
    assert_eq!(status, 400);
    // --work needs --upper (the client's usage error).
    let out = d.strata(&["mount", "--work", "/tmp", "busybox"]);
    assert!(!out.status.success());
}

/// The daemon's stop ends every mount; a killed daemon's mount point is
/// detached and removed by the next start.
#[test]
fn the_daemon_ends_its_mounts() {
    let mut d = require!(daemon());
    let tmp = tempfile::tempdir().unwrap();
    let given = tmp.path().join("mnt");
    std::fs::create_dir(&given).unwrap();
    let owned = PathBuf::from(ok(&d, &["mount", "busybox"]).trim());
    ok(&d, &["mount", "busybox", given.to_str().unwrap()]);
    ok(&d, &["create", "--name", "stopped", "busybox", "true"]);
    ok(&d, &["run", "-d", "--name", "running", "busybox", "sleep", "100"]);
    let roots: Vec<PathBuf> = ["stopped", "running"]
        .iter()
        .map(|c| PathBuf::from(ok(&d, &["mount", c]).trim()))
        .collect();
    assert!(mounted(&owned) && mounted(&given) && roots.iter().all(|r| mounted(r)));
    d.stop();
    assert!(!mounted(&owned) && !mounted(&given));
    assert!(
        roots.iter().all(|r| !mounted(r)),
        "a container's root outlived the daemon"
    );
    assert!(!owned.exists());
    assert!(given.is_dir());

    d.spawn();
    let owned = PathBuf::from(ok(&d, &["mount", "busybox"]).trim());
    assert!(mounted(&owned));
    d.kill();
    assert!(mounted(&owned), "the mount went with the killed daemon");
    d.spawn();
    assert!(!mounted(&owned), "a killed daemon's mount is still there");
    assert!(!owned.exists());
    assert_eq!(ok(&d, &["mount"]).lines().count(), 1);
}

/// A rootless daemon's mount is in the host's mount namespace, its user's
/// (every file shows as that user's), read-only, and unmounts clean.
#[test]
fn a_rootless_daemon_mounts_an_image_for_its_user() {
    let mut d = require!(rootless_daemon());
    // The daemon's ids: `rootless_daemon` runs it with the user's uid as
    // its gid too, and only those ids pass FUSE's check (no allow_other).
    let (uid, _) = crate::util::test_user();
    let gid = uid;
    let dir = PathBuf::from(ok(&d, &["mount", "busybox"]).trim());
    assert!(mounted(&dir), "{} is not mounted", dir.display());
    let as_user = |script: &str| {
        Command::new("setpriv")
            .args([
                "--reuid",
                &uid.to_string(),
                "--regid",
                &gid.to_string(),
                "--clear-groups",
            ])
            .args(["sh", "-c", script])
            .output()
            .unwrap()
    };
    let path = dir.display();
    let out = as_user(&format!(
        "cat {path}/bin/busybox | sha256sum; stat -c %u {path}/bin/busybox"
    ));
    assert!(out.status.success(), "{}", text(&out));
    let expected = Command::new("sh")
        .arg("-c")
        .arg(format!("sha256sum < {}/bin/busybox", busybox_layer(&d).display()))
        .output()
        .unwrap();
    let said = stdout(&out);
    let lines: Vec<&str> = said.lines().collect();
    assert_eq!(lines[0], stdout(&expected).trim(), "{said}");
    assert_eq!(lines[1], uid.to_string(), "{said}");
    let out = as_user(&format!("echo x > {path}/new"));
    assert!(
        !out.status.success() && text(&out).contains("Read-only file system"),
        "{}",
        text(&out)
    );
    // A container's root: its own merged/, which a rootless daemon cannot
    // bind elsewhere (it says where the root is).
    let id = ok(&d, &["create", "--name", "c", "busybox", "true"]);
    let merged = PathBuf::from(ok(&d, &["mount", "c"]).trim());
    assert_eq!(merged, super::container_dir(&d, id.trim()).join("merged"));
    assert!(mounted(&merged));
    let out = as_user(&format!("stat -c %u {}/bin/busybox", merged.display()));
    assert_eq!(stdout(&out).trim(), uid.to_string(), "{}", text(&out));
    let tmp = tempfile::tempdir().unwrap();
    let err = fails(&d, &["mount", "c", tmp.path().to_str().unwrap()]);
    assert!(
        err.contains(&format!("without a directory, at {}", merged.display())),
        "{err}"
    );
    ok(&d, &["unmount", "--all"]);
    assert!(!mounted(&dir), "{} is still mounted", dir.display());
    assert!(!dir.exists());
    assert!(!mounted(&merged));
    // A killed daemon's mount is swept by the next start (fusermount3).
    let dir = PathBuf::from(ok(&d, &["mount", "busybox"]).trim());
    d.kill();
    assert!(mounted(&dir));
    d.spawn();
    assert!(!mounted(&dir), "a killed rootless daemon's mount is still there");
    assert!(!dir.exists());
}

/// The lines of /proc/self/mountinfo mounted at `dir`.
fn mounts_at(dir: &Path) -> usize {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let dir = dir.to_str().unwrap();
    info.lines().filter(|l| l.split(' ').nth(4) == Some(dir)).count()
}

/// A stopped container's root mounts as a start mounts it, the next start
/// runs on that same session (one mount, writes both ways), rm is refused
/// while it is mounted, and unmount ends it.
#[test]
fn a_stopped_container_s_root_mounts_and_its_start_shares_it() {
    let d = require!(daemon());
    let id = ok(
        &d,
        &[
            "create",
            "--name",
            "c",
            "busybox",
            "sh",
            "-c",
            "cat /two; echo ran >> /log",
        ],
    );
    let merged = super::container_dir(&d, id.trim()).join("merged");
    let shown = PathBuf::from(ok(&d, &["mount", "c"]).trim());
    assert_eq!(shown, merged);
    assert_eq!(mounts_at(&merged), 1);
    assert!(merged.join("bin/busybox").is_file());
    std::fs::write(merged.join("two"), b"two\n").unwrap();
    // A new session would be a new mount: another device.
    let device = || std::os::unix::fs::MetadataExt::dev(&std::fs::metadata(&merged).unwrap());
    let before = device();
    assert_eq!(ok(&d, &["start", "-a", "c"]), "two\n");
    assert_eq!(
        mounts_at(&merged),
        1,
        "the start mounted another session, or the exit unmounted"
    );
    assert_eq!(device(), before, "the start did not run on the mount's session");
    assert_eq!(std::fs::read(merged.join("log")).unwrap(), b"ran\n");
    assert_eq!(ok(&d, &["start", "-a", "c"]), "two\n");
    assert_eq!(std::fs::read(merged.join("log")).unwrap(), b"ran\nran\n");
    let listed = ok(&d, &["mount", "--format", "{{.Target}} {{.Type}} {{.Dir}}"]);
    assert_eq!(listed.trim(), format!("c container {}", merged.display()));
    let err = fails(&d, &["rm", "c"]);
    assert!(err.contains("container is mounted"), "{err}");
    ok(&d, &["unmount", "c"]);
    assert_eq!(mounts_at(&merged), 0);
    assert_eq!(ok(&d, &["mount"]).lines().count(), 1);
    // Still whole: the next start mounts its root again.
    assert_eq!(ok(&d, &["start", "-a", "c"]), "two\n");
    ok(&d, &["rm", "c"]);
}

/// A running container's mount is its live root (bound at a directory
/// given); unmounting leaves the container running; rm -f ends the rest.
#[test]
fn a_running_container_s_root_is_its_live_root() {
    let d = require!(daemon());
    let id = ok(&d, &["run", "-d", "--name", "r", "busybox", "sleep", "100"]);
    let merged = super::container_dir(&d, id.trim()).join("merged");
    assert_eq!(PathBuf::from(ok(&d, &["mount", "r"]).trim()), merged);
    assert_eq!(mounts_at(&merged), 1);
    let tmp = tempfile::tempdir().unwrap();
    let at = tmp.path().join("at");
    std::fs::create_dir(&at).unwrap();
    ok(&d, &["mount", "r", at.to_str().unwrap()]);
    std::fs::write(at.join("x"), b"from outside").unwrap();
    assert_eq!(ok(&d, &["exec", "r", "cat", "/x"]), "from outside");
    assert_eq!(ok(&d, &["mount", "-q"]).lines().count(), 2);
    ok(&d, &["unmount", at.to_str().unwrap()]);
    assert!(!mounted(&at));
    assert_eq!(mounts_at(&merged), 1);
    ok(&d, &["unmount", "r"]);
    assert_eq!(mounts_at(&merged), 1, "the running container's root went");
    ok(&d, &["exec", "r", "true"]);
    ok(&d, &["mount", "r", at.to_str().unwrap()]);
    ok(&d, &["rm", "-f", "r"]);
    assert!(!mounted(&at) && mounts_at(&merged) == 0);
    assert_eq!(ok(&d, &["mount"]).lines().count(), 1);
}

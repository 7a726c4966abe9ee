//! The store on a shared host: private to the daemon's user, so that no
//! other local user reaches a layer's set-id files or device nodes, a
//! container's record (its environment) or log, or a running container's
//! root through the host's paths.

use crate::util::{Daemon, TarBuilder, fuse, other_user, require, run_as, tool};
use std::os::unix::fs::PermissionsExt;

fn mode(path: &std::path::Path) -> u32 {
    std::fs::symlink_metadata(path).unwrap().permissions().mode() & 0o7777
}

#[test]
fn other_users_reach_nothing_in_the_store() {
    require!(fuse());
    require!(tool("setpriv"));
    let (uid, gid) = require!(other_user());
    let mut d = Daemon::prepare();
    // As /var/lib is: every user may pass through the store's parent.
    std::fs::set_permissions(d.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    d.spawn();
    let busybox = std::fs::read("/bin/busybox").expect("busybox-static is installed");
    let tar = TarBuilder::new()
        .dir("bin/")
        .file_mode("bin/busybox", &busybox, 0o4755)
        .symlink("bin/sh", "busybox")
        .symlink("bin/sleep", "busybox")
        .dir("dev/")
        .char_device("dev/zero", 1, 5)
        .finish();
    let tar_path = d.dir.path().join("suid.tar");
    std::fs::write(&tar_path, tar).unwrap();
    d.import(&tar_path, "suid:1");
    let layer = d.inspect("suid:1")["RootFS"]["Layers"][0].as_str().unwrap()[7..].to_string();
    let id = d
        .ok(&["run", "-d", "-e", "DB_PASSWORD=hunter2", "suid:1", "sleep", "600"])
        .trim()
        .to_string();
    let root = d.root.clone();
    let container = root.join("containers").join(&id);
    let at = |rel: String| root.join(rel).display().to_string();
    let attempts = [
        vec!["ls".to_string(), root.display().to_string()],
        vec![at(format!("layers/{layer}/root/bin/busybox")), "id".into(), "-u".into()],
        vec![
            "head".into(),
            "-c".into(),
            "4".into(),
            at(format!("layers/{layer}/root/dev/zero")),
        ],
        vec!["cat".into(), container.join("container.json").display().to_string()],
        vec![
            "cat".into(),
            container.join(format!("{id}-json.log")).display().to_string(),
        ],
        vec![
            container.join("merged/bin/busybox").display().to_string(),
            "id".into(),
            "-u".into(),
        ],
        vec!["ls".into(), container.join("merged").display().to_string()],
    ];
    for argv in &attempts {
        let args: Vec<&str> = argv.iter().map(String::as_str).collect();
        let out = run_as(uid, gid, &args);
        assert!(
            !out.status.success(),
            "as uid {uid}, {argv:?} succeeded: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("Permission denied"),
            "{argv:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // What the daemon keeps is its own, whatever the umask.
    assert_eq!(mode(&root), 0o700);
    for sub in ["images", "layers", "chains", "tmp", "containers"] {
        assert_eq!(mode(&root.join(sub)), 0o700, "{sub}");
    }
    assert_eq!(mode(&container), 0o700);
    assert_eq!(mode(&container.join("container.json")), 0o600);
    assert_eq!(mode(&container.join(format!("{id}-json.log"))), 0o600);
    // Meanwhile the container itself works as before.
    let out = d.ok(&["exec", &id, "sh", "-c", "echo $DB_PASSWORD; id -u"]);
    assert_eq!(out, "hunter2\n0\n");
    d.ok(&["rm", "-f", &id]);
}

#[test]
fn an_older_store_is_made_private_at_start() {
    let mut d = Daemon::prepare();
    for sub in ["", "layers", "containers"] {
        std::fs::create_dir_all(d.root.join(sub)).unwrap();
        std::fs::set_permissions(d.root.join(sub), std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    d.spawn();
    assert_eq!(mode(&d.root), 0o700);
    assert_eq!(mode(&d.root.join("layers")), 0o700);
    assert_eq!(mode(&d.root.join("containers")), 0o700);
    d.stop();
}

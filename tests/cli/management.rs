//! `strata container|image|system VERB`: the same verbs as the top level,
//! with docker's management names (`container ls`, `image rm`), and
//! `inspect` narrowed to one kind of object as docker's are.

use crate::util::{Daemon, sample_rootfs_tar};

#[test]
fn image_management_forms_are_the_top_level_verbs() {
    let d = Daemon::start();
    let path = d.dir.path().join("rootfs.tar");
    std::fs::write(&path, sample_rootfs_tar()).unwrap();
    let id = d.ok(&["image", "import", path.to_str().unwrap(), "m:1"]);
    let id = id.trim();
    assert!(id.starts_with("sha256:"), "{id}");
    d.ok(&["image", "tag", "m:1", "m:2"]);
    let listed = d.ok(&["image", "ls"]);
    assert_eq!(listed, d.ok(&["images"]));
    assert_eq!(listed, d.ok(&["image", "list"]));
    assert_eq!(listed.lines().count(), 3, "{listed}");
    assert!(d.ok(&["image", "history", "m:1"]).contains(&id[7..19]));
    let inspect = d.ok(&["image", "inspect", "-f", "{{.Id}}", "m:1"]);
    assert_eq!(inspect.trim(), id);
    // Image-only, as `docker container inspect` is container-only.
    let not_a_container = d.strata(&["container", "inspect", "m:1"]);
    assert_eq!(not_a_container.status.code(), Some(1));
    let err = String::from_utf8_lossy(&not_a_container.stderr);
    assert_eq!(err, "Error response from daemon: No such container: m:1\n");
    assert!(d.ok(&["image", "rm", "m:2"]).contains("Untagged: m:2"));
    assert_eq!(d.ok(&["image", "ls", "-q"]).trim(), &id[7..19]);
    let info = d.ok(&["system", "info"]);
    assert!(info.contains(" Images: 1"), "{info}");
    assert!(d.ok(&["system", "df"]).starts_with("TYPE "));
}

#[test]
fn container_management_forms_are_the_top_level_verbs() {
    let d = Daemon::start();
    let path = d.dir.path().join("rootfs.tar");
    std::fs::write(&path, sample_rootfs_tar()).unwrap();
    d.import(&path, "c:1");
    let id = d.ok(&["container", "create", "--name", "box", "c:1", "/bin/true"]);
    let id = id.trim();
    for ls in ["ls", "ps", "list"] {
        let names = d.ok(&["container", ls, "-a", "--format", "{{.Names}}"]);
        assert_eq!(names, "box\n", "container {ls}");
    }
    let inspect = d.ok(&["container", "inspect", "-f", "{{.Id}}", "box"]);
    assert_eq!(inspect.trim(), id);
    let not_an_image = d.strata(&["image", "inspect", "box"]);
    assert_eq!(not_an_image.status.code(), Some(1));
    let err = String::from_utf8_lossy(&not_an_image.stderr);
    assert_eq!(err, "Error response from daemon: No such image: box:latest\n");
    d.ok(&["container", "rename", "box", "crate"]);
    assert_eq!(d.ok(&["ps", "-a", "--format", "{{.Names}}"]), "crate\n");
    assert_eq!(d.ok(&["container", "rm", "crate"]).trim(), "crate");
    assert_eq!(d.ok(&["container", "ls", "-aq"]), "");
}

//! Merging lower layers: whiteouts of every format, opaque directories,
//! deep stacks and the store's layers.

use super::{libc_erofs, mknod_whiteout, names, setfattr, xattr_names};
use crate::util::{Mount, fuse, require};
use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};

#[test]
fn lower_layers_merge_with_every_whiteout_format() {
    require!(fuse());
    let mut m = Mount::prepare(2);
    let (top, bottom) = (&m.lowers[0].clone(), &m.lowers[1].clone());
    for d in ["opq-file", "opq-xattr", "opq-user", "opq-fo", "merged"] {
        fs::create_dir(bottom.join(d)).unwrap();
        fs::write(bottom.join(d).join("old"), "old").unwrap();
        fs::create_dir(top.join(d)).unwrap();
        fs::write(top.join(d).join("new"), "new").unwrap();
    }
    for f in ["by-device", "by-wh-file", "kept"] {
        fs::write(bottom.join(f), f).unwrap();
    }
    mknod_whiteout(&top.join("by-device"));
    fs::write(top.join(".wh.by-wh-file"), "").unwrap();
    fs::write(top.join("opq-file/.wh..wh..opq"), "").unwrap();
    setfattr(&top.join("opq-xattr"), "trusted.overlay.opaque", "y");
    setfattr(&top.join("opq-user"), "user.overlay.opaque", "y");
    setfattr(&top.join("opq-fo"), "user.fuseoverlayfs.opaque", "y");
    setfattr(&top.join("merged"), "user.visible", "1");
    setfattr(&top.join("merged"), "trusted.overlay.redirect", "x");
    m.mount_read_only();

    assert_eq!(
        names(&m.mnt),
        ["kept", "merged", "opq-file", "opq-fo", "opq-user", "opq-xattr"]
    );
    for d in ["opq-file", "opq-xattr", "opq-user", "opq-fo"] {
        assert_eq!(names(&m.m(d)), ["new"], "{d} is opaque");
    }
    assert_eq!(names(&m.m("merged")), ["new", "old"]);
    assert!(!m.m("by-device").exists() && !m.m("by-wh-file").exists());
    assert!(!m.m(".wh.by-wh-file").exists(), "whiteout files never show");
    assert_eq!(fs::read_to_string(m.m("merged/old")).unwrap(), "old");
    // Internal xattrs never show; the user's do.
    let attrs = xattr_names(&m.m("merged"));
    assert!(attrs.contains(&"user.visible".to_string()), "{attrs:?}");
    assert!(!attrs.iter().any(|a| a.contains("overlay")), "{attrs:?}");
    // No upper: read-only.
    let err = fs::write(m.m("kept"), "x").unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc_erofs()));
    let err = fs::create_dir(m.m("newdir")).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc_erofs()));
}

#[test]
fn deleting_lower_objects_writes_whiteouts_only() {
    require!(fuse());
    let mut m = Mount::prepare(1);
    let low = m.lowers[0].clone();
    fs::write(low.join("big"), vec![1u8; 1 << 20]).unwrap();
    fs::write(low.join("small"), "s").unwrap();
    fs::create_dir_all(low.join("tree/sub")).unwrap();
    fs::write(low.join("tree/sub/f"), "f").unwrap();
    m.mount();
    fs::remove_file(m.m("big")).unwrap();
    fs::remove_file(m.m("small")).unwrap();
    let wh = fs::symlink_metadata(m.upper.join("big")).unwrap();
    assert!(
        wh.file_type().is_char_device() && wh.rdev() == 0,
        "a 0/0 whiteout, no copy of the data"
    );
    // Whiteouts are links to one device, as kernel overlayfs makes them.
    let other = fs::symlink_metadata(m.upper.join("small")).unwrap();
    assert_eq!((other.ino(), other.dev()), (wh.ino(), wh.dev()));
    assert!(wh.nlink() >= 2);
    assert!(!m.m("big").exists());
    fs::remove_dir_all(m.m("tree")).unwrap();
    assert!(!m.m("tree").exists());
    assert_eq!(names(&m.mnt), Vec::<String>::new());
    // A new directory where a lower one was deleted is opaque.
    fs::create_dir(m.m("tree")).unwrap();
    fs::write(m.m("tree/new"), "n").unwrap();
    assert_eq!(names(&m.m("tree")), ["new"]);
    assert!(m.upper.join("tree/.wh..wh..opq").exists() || xattr_names(&m.upper.join("tree")).is_empty());
    // Names whiteouts use are not for users: refused, and nothing is left
    // in the upper layer that would hide a name.
    fs::write(m.m("sneaky"), "s").unwrap();
    for made in [
        fs::write(m.m(".wh.sneaky"), "x"),
        fs::create_dir(m.m(".wh.sneaky")),
        std::os::unix::fs::symlink("x", m.m(".wh.sneaky")),
        fs::rename(m.m("sneaky"), m.m(".wh.sneaky")),
    ] {
        assert_eq!(
            made.unwrap_err().raw_os_error(),
            Some(rustix::io::Errno::PERM.raw_os_error())
        );
    }
    assert!(!m.upper.join(".wh.sneaky").exists());
    assert_eq!(fs::read(m.m("sneaky")).unwrap(), b"s");
    m.unmount();
    assert_eq!(
        fs::read(low.join("big")).unwrap().len(),
        1 << 20,
        "the lower layer is untouched"
    );
}

#[test]
fn sixty_four_layers_stack() {
    require!(fuse());
    let mut m = Mount::prepare(64);
    for (i, l) in m.lowers.iter().enumerate() {
        fs::create_dir(l.join("shared")).unwrap();
        fs::write(l.join("shared").join(format!("f{i}")), i.to_string()).unwrap();
        fs::write(l.join("which"), i.to_string()).unwrap();
    }
    m.mount();
    assert_eq!(fs::read_dir(m.m("shared")).unwrap().count(), 64);
    assert_eq!(fs::read_to_string(m.m("which")).unwrap(), "0", "the topmost layer wins");
    assert_eq!(fs::read_to_string(m.m("shared/f63")).unwrap(), "63");
}

/// Layers of the deep stack below.
const N: usize = 16;

/// `N` lower layers, each with the same directories, and in some of them
/// whiteouts of each format, opaque directories, a directory replaced by a
/// file and a redirect.
fn deep_stack_of_whiteouts() -> Mount {
    let m = Mount::prepare(N);
    let l = m.lowers.clone();
    for (i, layer) in l.iter().enumerate() {
        for d in ["d", "opq-file", "opq-xattr", "opq-fo", "cut", "src"] {
            fs::create_dir_all(layer.join(d).join("sub")).unwrap();
            fs::write(layer.join(d).join(format!("f{i}")), i.to_string()).unwrap();
            fs::write(layer.join(d).join("sub").join(format!("g{i}")), i.to_string()).unwrap();
        }
        fs::write(layer.join("d").join("all"), i.to_string()).unwrap();
    }
    // Names whited out in layer 5, each shown above it (layer 3) and
    // hidden below it (layer 9).
    for (name, kind) in [("dev", 0), ("whfile", 1)] {
        fs::write(l[3].join("d").join(name), "above").unwrap();
        fs::write(l[9].join("d").join(name), "below").unwrap();
        if kind == 0 {
            mknod_whiteout(&l[5].join("d").join(name));
        } else {
            fs::write(l[5].join("d").join(format!(".wh.{name}")), "").unwrap();
        }
    }
    // Whiteouts with nothing above: the name is gone.
    mknod_whiteout(&l[6].join("d").join("f12"));
    fs::write(l[6].join("d").join(".wh.f13"), "").unwrap();
    fs::remove_dir_all(l[7].join("d").join("sub")).unwrap();
    mknod_whiteout(&l[7].join("d").join("sub"));
    // Opaque in layer 4: layers 5.. do not show.
    fs::write(l[4].join("opq-file").join(".wh..wh..opq"), "").unwrap();
    setfattr(&l[4].join("opq-xattr"), "trusted.overlay.opaque", "y");
    setfattr(&l[4].join("opq-fo"), "user.fuseoverlayfs.opaque", "y");
    // A file in layer 8 ends the directory `cut` there.
    fs::remove_dir_all(l[8].join("cut")).unwrap();
    fs::write(l[8].join("cut"), "file").unwrap();
    // Redirects in lower layers are not followed (only the upper's are).
    setfattr(&l[2].join("src"), "trusted.overlay.redirect", "/d");
    m
}

/// The merged view of [`deep_stack_of_whiteouts`], layer by layer.
fn assert_deep_stack_view(m: &Mount) {
    let mut d: Vec<String> = (0..N)
        .filter(|i| ![12, 13].contains(i))
        .map(|i| format!("f{i}"))
        .collect();
    d.extend(["all", "dev", "sub", "whfile"].map(String::from));
    d.sort();
    assert_eq!(names(&m.m("d")), d);
    assert_eq!(fs::read_to_string(m.m("d/all")).unwrap(), "0");
    assert_eq!(fs::read_to_string(m.m("d/dev")).unwrap(), "above");
    assert_eq!(fs::read_to_string(m.m("d/whfile")).unwrap(), "above");
    assert_eq!(fs::read_to_string(m.m("d/f15")).unwrap(), "15");
    for gone in ["f12", "f13", ".wh.f13", "nowhere", "sub/g7", "sub/g15"] {
        assert!(fs::symlink_metadata(m.m(&format!("d/{gone}"))).is_err(), "d/{gone}");
    }
    let mut sub: Vec<String> = (0..7).map(|i| format!("g{i}")).collect();
    sub.sort();
    assert_eq!(names(&m.m("d/sub")), sub, "layer 7 whites out the directory");
    for d in ["opq-file", "opq-xattr", "opq-fo"] {
        assert_eq!(
            names(&m.m(d)),
            ["f0", "f1", "f2", "f3", "f4", "sub"],
            "{d} is opaque in layer 4"
        );
        assert_eq!(
            names(&m.m(&format!("{d}/sub"))),
            ["g0", "g1", "g2", "g3", "g4"],
            "{d}/sub"
        );
        assert!(!m.m(&format!("{d}/f5")).exists());
    }
    let cut: Vec<String> = ["f0", "f1", "f2", "f3", "f4", "f5", "f6", "f7", "sub"]
        .map(String::from)
        .to_vec();
    assert_eq!(names(&m.m("cut")), cut, "a file in layer 8 ends the directory");
    assert!(!m.m("cut/f9").exists());
    assert_eq!(fs::read_to_string(m.m("src/f15")).unwrap(), "15");
    assert!(!m.m("src/all").exists(), "a lower layer's redirect is not followed");
}

/// Whiteouts of each format, opaque directories and a directory replaced
/// by a file, deep in a stack of many layers (where lookups skip the layers
/// a name is not in, and layers are read ahead in parallel): the same view
/// as layer by layer, through a read-only mount and with an upper layer.
#[test]
fn deep_stacks_keep_whiteouts_opaque_directories_and_redirects() {
    require!(fuse());
    let mut m = deep_stack_of_whiteouts();
    m.mount_read_only();
    assert_deep_stack_view(&m);
    m.unmount();
    m.mount();
    assert_deep_stack_view(&m);
    // Through the upper layer: removing, re-creating and renaming names
    // that are in many layers below.
    fs::remove_file(m.m("d/all")).unwrap();
    assert!(!m.m("d/all").exists());
    fs::remove_file(m.m("d/f15")).unwrap();
    fs::write(m.m("d/f15"), "new").unwrap();
    fs::rename(m.m("opq-file"), m.m("moved")).unwrap();
    fs::remove_dir_all(m.m("cut")).unwrap();
    let check = |m: &Mount| {
        assert!(!m.m("d/all").exists());
        assert_eq!(fs::read_to_string(m.m("d/f15")).unwrap(), "new");
        assert!(!m.m("opq-file").exists() && !m.m("cut").exists());
        assert_eq!(names(&m.m("moved")), ["f0", "f1", "f2", "f3", "f4", "sub"]);
        assert_eq!(fs::read_to_string(m.m("moved/f4")).unwrap(), "4");
        assert_eq!(names(&m.m("moved/sub")), ["g0", "g1", "g2", "g3", "g4"]);
    };
    check(&m);
    m.unmount();
    m.mount();
    check(&m);
}

#[test]
fn layers_of_the_store_mount_with_their_indexed_whiteouts() {
    require!(fuse());
    use crate::util::{Daemon, TarBuilder};
    let d = Daemon::start();
    let base = TarBuilder::new()
        .dir("etc/")
        .file("etc/passwd", b"root")
        .file("etc/shadow", b"secret")
        .dir("opq/")
        .file("opq/old", b"old")
        .finish();
    let top = TarBuilder::new()
        .file("etc/.wh.shadow", b"")
        .dir("opq/")
        .file("opq/.wh..wh..opq", b"")
        .file("opq/new", b"new")
        .finish();
    let mut layers = Vec::new();
    for (name, tar) in [("base", base), ("top", top)] {
        let path = d.dir.path().join(format!("{name}.tar"));
        fs::write(&path, tar).unwrap();
        d.import(&path, name);
        let layer = d.inspect(name)["RootFS"]["Layers"][0].as_str().unwrap()[7..].to_string();
        layers.push(d.root.join("layers").join(layer));
    }
    let mut m = Mount::prepare(0);
    m.lowers = vec![layers[1].clone(), layers[0].clone()];
    m.mount();
    assert_eq!(names(&m.m("etc")), ["passwd"], "the whiteout lives only in the index");
    assert_eq!(names(&m.m("opq")), ["new"], "so does the opaque marker");
    assert_eq!(fs::read_to_string(m.m("etc/passwd")).unwrap(), "root");
    fs::write(m.m("etc/passwd"), "changed").unwrap();
    assert_eq!(
        fs::read_to_string(layers[0].join("root/etc/passwd")).unwrap(),
        "root",
        "the store is untouched"
    );
    assert_eq!(fs::read_to_string(m.upper.join("etc/passwd")).unwrap(), "changed");
}

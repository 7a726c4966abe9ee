//! Importing root filesystem tars: digests, the stored layer, its index.

use crate::util::{Daemon, TarBuilder, busybox_tar, require, sample_rootfs_tar, sha256_hex};
use std::os::unix::fs::MetadataExt;
use strata::layers::index::{EntryKind, LayerIndex};

#[test]
fn layer_is_named_by_tar_digest_and_image_by_config_digest() {
    let d = Daemon::start();
    let tar = sample_rootfs_tar();
    let path = d.dir.path().join("rootfs.tar");
    std::fs::write(&path, &tar).unwrap();
    let id = d.import(&path, "sample:1");
    let inspect = d.inspect("sample:1");
    assert_eq!(inspect["Id"], id);
    let layers = inspect["RootFS"]["Layers"].as_array().unwrap();
    assert_eq!(layers.len(), 1);
    assert_eq!(layers[0], format!("sha256:{}", sha256_hex(&tar)));

    let raw = d.strata(&["inspect", "--config-raw", "sample:1"]);
    assert!(raw.status.success());
    assert_eq!(format!("sha256:{}", sha256_hex(&raw.stdout)), id);
    let config: serde_json::Value = serde_json::from_slice(&raw.stdout).unwrap();
    assert_eq!(config["rootfs"]["diff_ids"][0], layers[0]);
    assert_eq!(config["history"][0]["comment"], "Imported from -");

    // The layer is stored extracted, with ownership, modes, links intact.
    let tree = d
        .root
        .join("layers")
        .join(&layers[0].as_str().unwrap()[7..])
        .join("root");
    assert_eq!(
        std::fs::read(tree.join("etc/passwd")).unwrap(),
        b"root:x:0:0:root:/root:/bin/sh\n"
    );
    assert_eq!(
        std::fs::read_link(tree.join("bin/sh")).unwrap().to_str(),
        Some("/bin/tool")
    );
    let tool = std::fs::metadata(tree.join("bin/tool")).unwrap();
    let again = std::fs::metadata(tree.join("bin/tool-again")).unwrap();
    assert_eq!(tool.ino(), again.ino(), "hard links share an inode");
    assert_eq!(tool.nlink(), 2);
    assert_eq!(std::fs::metadata(tree.join("tmp")).unwrap().mode() & 0o7777, 0o1777);
    if rustix::process::geteuid().is_root() {
        assert_eq!(tool.mode() & 0o7777, 0o755, "never set-uid on disk: the index has it");
        let owned = std::fs::metadata(tree.join("etc/owned-by-1000")).unwrap();
        assert_eq!((owned.uid(), owned.gid()), (1000, 1000));
    }
    assert_eq!(tool.mtime(), 1_600_000_001);

    // The index agrees and is the truth for what a rootless store could not set.
    let index = LayerIndex::from_bytes(std::fs::read(tree.parent().unwrap().join("index")).unwrap()).unwrap();
    assert_eq!(index.get(b"bin/tool").unwrap().to_entry().mode, 0o4755);
    let e = index.get(b"etc/owned-by-1000").unwrap().to_entry();
    assert_eq!((e.uid, e.gid, e.mode, e.kind), (1000, 1000, 0o600, EntryKind::File));
    assert_eq!(index.get(b"bin/sh").unwrap().to_entry().target, b"/bin/tool");
    assert_eq!(index.get(b"bin/tool-again").unwrap().to_entry().target, b"bin/tool");
    assert_eq!(index.content_size(), 100_000 + 30 + 5);

    // The image's chain index (chain ID = diff_id for one layer) holds the
    // same paths, each from layer 0.
    let chain = d
        .root
        .join("chains")
        .join(format!("{}.index", &layers[0].as_str().unwrap()[7..]));
    let chain = LayerIndex::from_bytes(std::fs::read(chain).unwrap()).unwrap();
    let paths = |i: &LayerIndex| i.iter().map(|r| r.path().to_vec()).collect::<Vec<_>>();
    assert_eq!(paths(&chain), paths(&index));
    assert!(chain.iter().all(|r| r.layer() == 0));
}

#[test]
fn gzip_and_stdin_imports_have_the_uncompressed_diff_id() {
    use std::io::Write;
    let d = Daemon::start();
    let tar = sample_rootfs_tar();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&tar).unwrap();
    let gz = gz.finish().unwrap();
    let out = d.strata_stdin(&["import", "-", "zipped:latest"], &gz);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let inspect = d.inspect("zipped");
    assert_eq!(inspect["RootFS"]["Layers"][0], format!("sha256:{}", sha256_hex(&tar)));
}

#[test]
fn identical_layers_are_stored_once() {
    let d = Daemon::start();
    let path = d.dir.path().join("rootfs.tar");
    std::fs::write(&path, sample_rootfs_tar()).unwrap();
    let a = d.import(&path, "a");
    let b = d.import(&path, "b");
    assert_ne!(a, b, "two imports are two images (different creation times)");
    assert_eq!(std::fs::read_dir(d.root.join("layers")).unwrap().count(), 1);
    // Removing one image keeps the shared layer for the other.
    d.ok(&["rmi", "a"]);
    assert_eq!(std::fs::read_dir(d.root.join("layers")).unwrap().count(), 1);
    assert_eq!(std::fs::read_dir(d.root.join("chains")).unwrap().count(), 1);
    d.ok(&["rmi", "b"]);
    assert_eq!(std::fs::read_dir(d.root.join("layers")).unwrap().count(), 0);
    assert_eq!(std::fs::read_dir(d.root.join("chains")).unwrap().count(), 0);
}

#[test]
fn whiteouts_and_opaque_markers_live_in_the_index_only() {
    let d = Daemon::start();
    let mut tar = TarBuilder::new()
        .dir("a/")
        .file("a/.wh.gone", b"")
        .dir("c/")
        .file("c/.wh..wh..opq", b"")
        .file("c/kept", b"k")
        .file("deep/dir/.wh.x", b"");
    let root = rustix::process::geteuid().is_root();
    if root {
        tar = tar.char_device("dev-null-lookalike", 0, 0);
    }
    let path = d.dir.path().join("wh.tar");
    std::fs::write(&path, tar.finish()).unwrap();
    d.import(&path, "wh");
    let layer = d.inspect("wh")["RootFS"]["Layers"][0].as_str().unwrap()[7..].to_string();
    let dir = d.root.join("layers").join(layer);
    let tree = dir.join("root");
    assert!(tree.join("a").is_dir());
    assert!(!tree.join("a/.wh.gone").exists() && !tree.join("a/gone").exists());
    assert!(!tree.join("c/.wh..wh..opq").exists());
    assert!(tree.join("deep/dir").is_dir(), "implied parents are created");
    let index = LayerIndex::from_bytes(std::fs::read(dir.join("index")).unwrap()).unwrap();
    assert_eq!(index.get(b"a/gone").unwrap().kind(), EntryKind::Whiteout);
    assert_eq!(index.get(b"deep/dir/x").unwrap().kind(), EntryKind::Whiteout);
    assert!(index.get(b"c").unwrap().to_entry().is_opaque());
    assert!(!index.get(b"a").unwrap().to_entry().is_opaque());
    assert!(index.iter().all(|r| !r.path().windows(4).any(|w| w == b".wh.")));
    // The chain index shows the merged view: no whiteouts in it.
    let chain = d
        .root
        .join("chains")
        .join(format!("{}.index", dir.file_name().unwrap().to_str().unwrap()));
    let chain = LayerIndex::from_bytes(std::fs::read(chain).unwrap()).unwrap();
    assert!(chain.get(b"a/gone").is_none() && chain.get(b"c/kept").is_some());
    if root {
        // A real 0/0 character device is content, not a whiteout: in the
        // index, over an empty placeholder (the store holds no device nodes).
        let md = std::fs::symlink_metadata(tree.join("dev-null-lookalike")).unwrap();
        assert!(md.file_type().is_file() && md.len() == 0);
        assert_eq!(index.get(b"dev-null-lookalike").unwrap().kind(), EntryKind::CharDevice);
    }
}

#[test]
fn busybox_image_script_imports_the_default_image() {
    let d = Daemon::start();
    let tar = require!(busybox_tar(d.dir.path()));
    d.import_busybox();
    let images = d.ok(&["images"]);
    assert!(
        images
            .lines()
            .any(|l| l.starts_with("busybox ") && l.contains("latest")),
        "{images}"
    );
    let inspect = d.inspect("busybox");
    assert_eq!(inspect["Config"]["Cmd"], serde_json::json!(["sh"]));
    // The script's tar is deterministic: the same bytes, the same diff_id.
    let expected = format!("sha256:{}", sha256_hex(&std::fs::read(&tar).unwrap()));
    assert_eq!(inspect["RootFS"]["Layers"][0], expected);
    let tree = d.root.join("layers").join(&expected[7..]).join("root");
    assert!(tree.join("bin/busybox").is_file());
    assert_eq!(
        std::fs::read_link(tree.join("bin/sh")).unwrap().to_str(),
        Some("/bin/busybox")
    );
    assert!(
        std::fs::read_to_string(tree.join("etc/passwd"))
            .unwrap()
            .starts_with("root:x:0:0:")
    );
    assert!(tree.join("etc/group").is_file());
}

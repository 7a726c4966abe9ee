//! `stratafs`: real FUSE mounts (root only; CI runs as root), one module per
//! concept of the union filesystem; the helpers they share.

use crate::util::test_user;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::process::Command;

fn mknod_whiteout(path: &std::path::Path) {
    let st = Command::new("mknod").arg(path).args(["c", "0", "0"]).status().unwrap();
    assert!(st.success());
}

fn setfattr(path: &std::path::Path, name: &str, value: &str) {
    rustix::fs::setxattr(path, name, value.as_bytes(), rustix::fs::XattrFlags::empty()).unwrap();
}

fn names(dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn libc_erofs() -> i32 {
    rustix::io::Errno::ROFS.raw_os_error()
}

fn xattr_names(p: &std::path::Path) -> Vec<String> {
    let mut buf = vec![0u8; 4096];
    let n = rustix::fs::listxattr(p, &mut buf[..]).unwrap();
    buf[..n]
        .split(|&c| c == 0)
        .filter(|s| !s.is_empty())
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect()
}

fn as_user(script: &str) -> std::process::Output {
    let (uid, gid) = test_user();
    Command::new("setpriv")
        .args([
            &format!("--reuid={uid}"),
            &format!("--regid={gid}"),
            "--clear-groups",
            "--",
            "sh",
            "-c",
            script,
        ])
        .output()
        .unwrap()
}

/// Allocated bytes of a file (holes excluded).
fn allocated(path: &std::path::Path) -> u64 {
    fs::symlink_metadata(path).unwrap().blocks() * 512
}

// Merging lower layers: whiteouts, opaque directories, deep stacks, the store's layers.
mod merge;
// Copy-up: data, metadata, holes and inode numbers kept; reflink and plain stores; devices.
mod copy_up;
// Metadata-only copy-up (metacopy=on): no data copied until the first write.
mod metacopy;
// Rename, links and symlinks: redirects for lower directories, RENAME_EXCHANGE, long names.
mod rename;
// Ownership and permissions: id mappings, squashing, POSIX ACLs.
mod ownership;
// The kernel caches stay coherent with changes made through and beside the mount.
mod caching;
// Mounting and unmounting: refused mountpoints, read-only, open files, a killed stratafs.
mod mount;
// Mounts by users without privileges: fusermount3 and the root of a user namespace.
mod rootless;
// Other programs using stratafs: Podman with stratafs as its mount_program.
mod interop;
// Hard links of lower layers: every name of an inode stays that inode through copy-up.
mod hardlinks;
// privileges_in_xattrs: set-id bits, devices and capabilities shown, kept off the disk.
mod override_stat;
// request_counts=FILE: the requests served by opcode, agreeing with the kernel's tracepoint.
mod requests;
// permissions=server: the permission rules checked by stratafs instead of the kernel.
mod permissions;
// FUSE_HANDLE_KILLPRIV_V2: set-id bits and capabilities cleared by the server on write, truncate, chown.
mod killpriv;
// A lower store layer's attributes from its index: no disk stat, stable inode numbers.
mod indexed;
// FUSE over io_uring (transport=): requests over the rings, refused when not offered.
mod uring;

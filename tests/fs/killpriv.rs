//! `FUSE_HANDLE_KILLPRIV_V2`: the server, not the kernel, clears set-uid,
//! set-gid and `security.capability` on write, truncate and chown, by the
//! kernel's rules; with passthrough, without it, and with the privileges
//! kept in xattrs. Writers without privileges are `nobody` through
//! `setpriv` (which leaves no capability).

use super::requests::requests_delta;
use crate::util::{Mount, fuse, require, tool};
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Command;

const NOBODY: &str = "65534";
/// A v2 `security.capability` granting cap_net_raw (what `setcap
/// cap_net_raw+ep` writes).
const CAP_NET_RAW: [u8; 20] = [1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
const CAPABILITY: &str = "security.capability";

/// Runs `script` (sh) as nobody:nobody with no supplementary group and no
/// capability, in `dir`.
fn as_nobody(dir: &Path, script: &str) {
    let st = Command::new("setpriv")
        .args([
            "--reuid",
            NOBODY,
            "--regid",
            NOBODY,
            "--clear-groups",
            "sh",
            "-c",
            script,
        ])
        .current_dir(dir)
        .status()
        .unwrap();
    assert!(st.success(), "as nobody: {script}");
}

fn sh(dir: &Path, script: &str) {
    let st = Command::new("sh")
        .args(["-c", script])
        .current_dir(dir)
        .status()
        .unwrap();
    assert!(st.success(), "{script}");
}

fn mode(p: &Path) -> u32 {
    fs::metadata(p).unwrap().mode() & 0o7777
}

fn cap(p: &Path) -> Option<Vec<u8>> {
    let mut buf = [0u8; 64];
    rustix::fs::getxattr(p, CAPABILITY, &mut buf[..])
        .ok()
        .map(|n| buf[..n].to_vec())
}

fn file(m: &Mount, name: &str, perm: u32, owner: &str) -> std::path::PathBuf {
    let p = m.m(name);
    fs::write(&p, "#!/bin/sh\n").unwrap();
    sh(&m.mnt, &format!("chown {owner} {name}"));
    fs::set_permissions(&p, fs::Permissions::from_mode(perm)).unwrap();
    assert_eq!(mode(&p), perm);
    p
}

fn mounted(options: &str) -> Mount {
    let mut m = Mount::prepare(1);
    // nobody must reach the mountpoint.
    fs::set_permissions(m.dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    m.options = options.to_string();
    m.mount();
    fs::set_permissions(&m.mnt, fs::Permissions::from_mode(0o777)).unwrap();
    m
}

/// Every rule, on one mount made with `options`.
fn privileges_are_cleared_by_the_kernel_rules(options: &str) {
    let m = mounted(options);
    let dir = &m.mnt;
    // (a) nobody's write to a set-uid root file it may write clears set-uid.
    let a = file(&m, "a", 0o4757, "0:0");
    as_nobody(dir, "echo x >> a");
    assert_eq!(mode(&a), 0o757, "{options}: set-uid after nobody's write");
    // And set-gid with group-exec.
    let a2 = file(&m, "a2", 0o6757, "0:0");
    as_nobody(dir, "echo x >> a2");
    assert_eq!(mode(&a2), 0o757, "{options}: set-id bits after nobody's write");
    // (b) a capability goes on a write (even root's) and on a chown.
    let b = file(&m, "b", 0o755, "0:0");
    rustix::fs::setxattr(&b, CAPABILITY, &CAP_NET_RAW, rustix::fs::XattrFlags::empty()).unwrap();
    assert_eq!(cap(&b).as_deref(), Some(&CAP_NET_RAW[..]));
    sh(dir, "echo x >> b");
    assert_eq!(cap(&b), None, "{options}: capability after a write");
    let b2 = file(&m, "b2", 0o755, "0:0");
    rustix::fs::setxattr(&b2, CAPABILITY, &CAP_NET_RAW, rustix::fs::XattrFlags::empty()).unwrap();
    sh(dir, "chown 1:1 b2");
    assert_eq!(cap(&b2), None, "{options}: capability after a chown");
    // (c) a truncate by a non-owner with write permission clears set-uid.
    let c = file(&m, "c", 0o4777, "0:0");
    as_nobody(dir, "truncate -s 0 c");
    assert_eq!(mode(&c), 0o777, "{options}: set-uid after nobody's truncate");
    let c2 = file(&m, "c2", 0o4777, "0:0");
    as_nobody(dir, ": > c2");
    assert_eq!(mode(&c2), 0o777, "{options}: set-uid after nobody's O_TRUNC");
    // (d) set-gid without group-exec (mandatory locking) is kept.
    let d = file(&m, "d", 0o2666, "0:65534");
    as_nobody(dir, "echo x >> d");
    assert_eq!(mode(&d), 0o2666, "{options}: set-gid without group-exec");
    // (e) root, holding CAP_FSETID, keeps them on a write and a truncate.
    let e = file(&m, "e", 0o6755, "0:0");
    sh(dir, "echo x >> e && truncate -s 1 e");
    assert_eq!(mode(&e), 0o6755, "{options}: root's write and truncate");
    // A chown clears them whoever asks (set-gid with group-exec only).
    let f = file(&m, "f", 0o6755, "0:0");
    sh(dir, "chown 1:1 f");
    assert_eq!(mode(&f), 0o755, "{options}: set-id bits after a chown");
    let f2 = file(&m, "f2", 0o2644, "0:0");
    sh(dir, "chown 1:1 f2");
    assert_eq!(mode(&f2), 0o2644, "{options}: set-gid without group-exec after a chown");
    // A file that became set-uid after an open (passthrough, if any) for
    // writing: nobody's write through that older open clears it.
    let g = file(&m, "g", 0o666, "0:0");
    sh(
        dir,
        &format!(
            "exec 3>>g; chmod 4777 g; setpriv --reuid {NOBODY} --regid {NOBODY} --clear-groups sh -c 'echo x >&3'"
        ),
    );
    assert_eq!(mode(&g), 0o777, "{options}: set-uid gained after the open");
    // Nothing privileged was left on the disk either.
    for name in ["a", "a2", "c", "c2", "f", "g"] {
        let on_disk = fs::metadata(m.upper.join(name)).unwrap().mode();
        assert_eq!(on_disk & 0o6000, 0, "{options}: {name} on disk {on_disk:o}");
    }
}

#[test]
fn writes_truncates_and_chowns_clear_set_id_bits_and_capabilities_through_passthrough() {
    require!(fuse());
    require!(tool("setpriv"));
    privileges_are_cleared_by_the_kernel_rules("");
}

#[test]
fn writes_truncates_and_chowns_clear_set_id_bits_and_capabilities_without_passthrough() {
    require!(fuse());
    require!(tool("setpriv"));
    privileges_are_cleared_by_the_kernel_rules("passthrough=0");
}

#[test]
fn writes_truncates_and_chowns_clear_set_id_bits_and_capabilities_kept_in_xattrs() {
    require!(fuse());
    require!(tool("setpriv"));
    privileges_are_cleared_by_the_kernel_rules("privileges_in_xattrs");
}

/// With v2 the kernel no longer asks for `security.capability` before
/// every write: a 16 MiB write in 1 MiB pieces asks at most once (it did
/// 16 times), and a chown no longer refreshes the file's attributes first.
#[test]
fn a_long_write_asks_for_the_capability_once() {
    require!(fuse());
    let (m, delta) = requests_delta(|m| {
        sh(&m.mnt, "dd if=/dev/zero of=big bs=1M count=16 status=none");
    });
    assert!(delta("GETXATTR") <= 1, "GETXATTR {}", delta("GETXATTR"));
    assert_eq!(fs::metadata(m.m("big")).unwrap().len(), 16 << 20);
}

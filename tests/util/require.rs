//! What a test needs from the machine (root, FUSE, a tool, a user): met, or a skip outside CI and a failure under CI.

use std::path::Path;

/// A test that cannot run here says why and returns; with `CI` set (CI
/// installs everything and runs as root) a missing requirement is a
/// failure, never a silent pass.
pub fn skip(why: &str) {
    if std::env::var_os("CI").is_some_and(|v| !v.is_empty()) {
        panic!("CI is set, so this test must run, but: {why}");
    }
    eprintln!("SKIP: {why}");
}

/// Why FUSE tests cannot run here, if they cannot.
pub fn fuse_unavailable() -> Option<&'static str> {
    if !rustix::process::geteuid().is_root() {
        return Some("FUSE mount tests need root");
    }
    if !Path::new("/dev/fuse").exists() {
        return Some("/dev/fuse is missing");
    }
    None
}

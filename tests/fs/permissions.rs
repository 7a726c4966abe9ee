//! `permissions=server`: stratafs checks permissions itself instead of the
//! kernel's `default_permissions`. Each rule as a user without privileges
//! (or root without its capabilities) meets it, and the GETATTRs it saves.

use crate::util::{Mount, fuse, require, test_user};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

/// A group the test user is given only where a test says so.
const GROUP: u32 = 4242;

/// Runs `script` as the test user, with `groups` as its supplementary
/// groups (none when empty).
fn as_user_in(groups: &[u32], script: &str) -> Output {
    let (uid, gid) = test_user();
    let groups = if groups.is_empty() {
        "--clear-groups".to_string()
    } else {
        format!(
            "--groups={}",
            groups.iter().map(u32::to_string).collect::<Vec<_>>().join(",")
        )
    };
    Command::new("setpriv")
        .args([
            &format!("--reuid={uid}"),
            &format!("--regid={gid}"),
            &groups,
            "--",
            "sh",
            "-c",
            script,
        ])
        .output()
        .unwrap()
}

fn as_user(script: &str) -> Output {
    as_user_in(&[], script)
}

/// The error `script` ended with, as its stderr says it.
fn refused(out: &Output, why: &str) -> bool {
    !out.status.success() && String::from_utf8_lossy(&out.stderr).contains(why)
}

fn chown(path: &Path, uid: u32, gid: u32) {
    rustix::fs::chown(
        path,
        Some(rustix::fs::Uid::from_raw(uid)),
        Some(rustix::fs::Gid::from_raw(gid)),
    )
    .unwrap();
}

fn chmod(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

fn file(path: &Path, uid: u32, gid: u32, mode: u32) {
    fs::write(path, "data\n").unwrap();
    chown(path, uid, gid);
    chmod(path, mode);
}

/// A mount checked by the server, reachable by the test user.
fn server_mount(options: &str) -> Mount {
    let mut m = Mount::prepare(1);
    chmod(m.dir.path(), 0o755);
    m.options = format!("permissions=server{options}");
    m.mount();
    let mounts = fs::read_to_string("/proc/self/mounts").unwrap();
    let line = mounts.lines().find(|l| l.contains(&*m.mnt.to_string_lossy())).unwrap();
    assert!(
        !line.contains("default_permissions"),
        "the kernel does not check: {line}"
    );
    m
}

#[test]
fn owner_group_and_other_classes_decide() {
    require!(fuse());
    let (uid, gid) = test_user();
    let m = server_mount(",noacl");
    let p = |n: &str| m.m(n).display().to_string();
    file(&m.m("group"), 0, GROUP, 0o640);
    file(&m.m("other"), 0, 0, 0o604);
    file(&m.m("closed"), 0, 0, 0o600);
    // The owner gets the owner bits, though the group's are wider.
    file(&m.m("owned"), uid, GROUP, 0o070);
    assert!(refused(&as_user(&format!("cat {}", p("group"))), "Permission denied"));
    let member = as_user_in(&[GROUP], &format!("cat {}", p("group")));
    assert!(member.status.success(), "{member:?}");
    assert!(refused(
        &as_user_in(&[GROUP], &format!("echo x >> {}", p("group"))),
        "Permission denied"
    ));
    assert!(as_user(&format!("cat {}", p("other"))).status.success());
    assert!(refused(&as_user(&format!("cat {}", p("closed"))), "Permission denied"));
    assert!(refused(
        &as_user_in(&[GROUP], &format!("cat {}", p("owned"))),
        "Permission denied"
    ));
    // Exec by the caller's class (the kernel alone asks for any x bit).
    for (name, mode) in [("x744", 0o744), ("x755", 0o755)] {
        fs::copy("/bin/true", m.m(name)).unwrap();
        chmod(&m.m(name), mode);
    }
    assert!(refused(&as_user(&p("x744")), "Permission denied"));
    assert!(as_user(&p("x755")).status.success());
    // access() answers by the same rules.
    assert!(
        as_user_in(&[GROUP], &format!("test -r {}", p("group")))
            .status
            .success()
    );
    assert!(!as_user(&format!("test -r {}", p("group"))).status.success());
    assert!(!as_user(&format!("test -w {}", p("other"))).status.success());
    // A new entry needs write and search on the directory.
    fs::create_dir(m.m("d")).unwrap();
    chown(&m.m("d"), 0, GROUP);
    chmod(&m.m("d"), 0o775);
    assert!(refused(&as_user(&format!("touch {}/new", p("d"))), "Permission denied"));
    assert!(!m.m("d/new").exists(), "refused changes nothing");
    assert!(
        as_user_in(
            &[GROUP],
            &format!("touch {0}/new && mkdir {0}/sub && rm {0}/new", p("d"))
        )
        .status
        .success()
    );
    let st = fs::metadata(m.m("d/sub")).unwrap();
    assert_eq!(std::os::unix::fs::MetadataExt::uid(&st), uid);
    let _ = gid;
}

#[test]
fn a_directory_closed_to_others_is_closed_even_to_cached_entries() {
    require!(fuse());
    let m = server_mount(",noacl");
    fs::create_dir(m.m("d")).unwrap();
    fs::write(m.m("d/f"), "secret\n").unwrap();
    chmod(&m.m("d/f"), 0o644);
    let f = m.m("d/f").display().to_string();
    // Seen (and cached by the kernel) while anyone could search d.
    assert!(as_user(&format!("cat {f}")).status.success());
    chmod(&m.m("d"), 0o700);
    assert!(refused(&as_user(&format!("cat {f}")), "Permission denied"));
    assert!(refused(
        &as_user(&format!("ls {}", m.m("d").display())),
        "Permission denied"
    ));
    assert!(
        !as_user(&format!("cd {}", m.m("d").display())).status.success(),
        "chdir asks ACCESS"
    );
    // Names made while it is closed are not cached either.
    fs::write(m.m("d/g"), "g\n").unwrap();
    chmod(&m.m("d/g"), 0o644);
    assert!(refused(
        &as_user(&format!("cat {}", m.m("d/g").display())),
        "Permission denied"
    ));
    // An entry moved in keeps no cached entry either.
    fs::create_dir(m.m("open")).unwrap();
    fs::write(m.m("open/h"), "h\n").unwrap();
    chmod(&m.m("open/h"), 0o644);
    assert!(as_user(&format!("cat {}", m.m("open/h").display())).status.success());
    fs::rename(m.m("open/h"), m.m("d/h")).unwrap();
    assert!(refused(
        &as_user(&format!("cat {}", m.m("d/h").display())),
        "Permission denied"
    ));
    chmod(&m.m("d"), 0o755);
    assert!(as_user(&format!("cat {}", m.m("d/g").display())).status.success());
}

#[test]
fn posix_acl_user_and_group_entries_and_the_mask() {
    require!(fuse());
    let (_, _) = test_user();
    let m = server_mount("");
    let user = crate::util::TEST_USER;
    file(&m.m("acl"), 0, 0, 0o600);
    let p = m.m("acl").display().to_string();
    let setfacl = |spec: &str| {
        let ok = Command::new("setfacl").args(["-m", spec, &p]).status().unwrap();
        assert!(ok.success(), "setfacl -m {spec}");
    };
    assert!(refused(&as_user(&format!("cat {p}")), "Permission denied"));
    setfacl(&format!("u:{user}:rw"));
    assert!(
        as_user(&format!("cat {p} && echo more >> {p}")).status.success(),
        "the user entry grants rw"
    );
    setfacl("m::r");
    assert!(as_user(&format!("cat {p}")).status.success());
    assert!(
        refused(&as_user(&format!("echo x >> {p}")), "Permission denied"),
        "the mask limits it to r"
    );
    setfacl(&format!("u:{user}:-"));
    setfacl(&format!("g:{GROUP}:r"));
    assert!(
        refused(&as_user(&format!("cat {p}")), "Permission denied"),
        "a named user entry denies first"
    );
    let q = m.m("acl2").display().to_string();
    file(&m.m("acl2"), 0, 0, 0o600);
    let ok = Command::new("setfacl")
        .args(["-m", &format!("g:{GROUP}:r"), &q])
        .status()
        .unwrap();
    assert!(ok.success());
    assert!(
        as_user_in(&[GROUP], &format!("cat {q}")).status.success(),
        "the group entry grants r"
    );
    assert!(refused(&as_user(&format!("cat {q}")), "Permission denied"));
}

#[test]
fn the_sticky_bit_keeps_others_entries() {
    require!(fuse());
    let (uid, gid) = test_user();
    let m = server_mount(",noacl");
    fs::create_dir(m.m("tmp")).unwrap();
    chmod(&m.m("tmp"), 0o1777);
    file(&m.m("tmp/roots"), 0, 0, 0o666);
    let t = m.m("tmp").display().to_string();
    assert!(refused(
        &as_user(&format!("rm -f {t}/roots")),
        "Operation not permitted"
    ));
    assert!(refused(
        &as_user(&format!("mv {t}/roots {t}/gone")),
        "Operation not permitted"
    ));
    assert!(m.m("tmp/roots").exists());
    assert!(
        as_user(&format!("touch {t}/mine && mv {t}/mine {t}/moved && rm {t}/moved"))
            .status
            .success()
    );
    // The directory's owner may remove anyone's entries.
    fs::create_dir(m.m("theirs")).unwrap();
    chown(&m.m("theirs"), uid, gid);
    chmod(&m.m("theirs"), 0o1777);
    file(&m.m("theirs/roots"), 0, 0, 0o644);
    assert!(
        as_user(&format!("rm -f {}", m.m("theirs/roots").display()))
            .status
            .success()
    );
    assert!(!m.m("theirs/roots").exists());
}

#[test]
fn root_without_cap_dac_override_is_anyone() {
    require!(fuse());
    let m = server_mount(",noacl");
    file(&m.m("secret"), 1234, 1234, 0o600);
    fs::create_dir(m.m("private")).unwrap();
    chown(&m.m("private"), 1234, 1234);
    chmod(&m.m("private"), 0o700);
    assert_eq!(
        fs::read_to_string(m.m("secret")).unwrap(),
        "data\n",
        "root reads anything"
    );
    fs::write(m.m("private/root-made"), "r").unwrap();
    let without = |script: &str| {
        Command::new("setpriv")
            .args([
                "--bounding-set=-dac_override,-dac_read_search,-fowner",
                "--inh-caps=-all",
                "--",
                "sh",
                "-c",
                script,
            ])
            .output()
            .unwrap()
    };
    let s = m.m("secret").display().to_string();
    let d = m.m("private").display().to_string();
    assert!(
        refused(&without(&format!("cat {s}")), "Permission denied"),
        "a container's root"
    );
    assert!(refused(&without(&format!("ls {d}")), "Permission denied"));
    assert!(refused(&without(&format!("touch {d}/x")), "Permission denied"));
    assert!(refused(&without(&format!("cat {d}/root-made")), "Permission denied"));
    // chmod needs ownership or CAP_FOWNER.
    assert!(refused(&without(&format!("chmod 644 {s}")), "Operation not permitted"));
    assert!(Command::new("chmod").args(["640", &s]).status().unwrap().success());
}

#[test]
fn setattr_needs_ownership_or_write_permission() {
    require!(fuse());
    let (uid, gid) = test_user();
    let m = server_mount(",noacl");
    file(&m.m("roots"), 0, 0, 0o666);
    file(&m.m("mine"), uid, gid, 0o644);
    let r = m.m("roots").display().to_string();
    let mine = m.m("mine").display().to_string();
    assert!(refused(&as_user(&format!("chmod 600 {r}")), "Operation not permitted"));
    assert!(refused(
        &as_user(&format!("chown {uid} {r}")),
        "Operation not permitted"
    ));
    assert!(refused(
        &as_user(&format!("chgrp {GROUP} {mine}")),
        "Operation not permitted"
    ));
    assert!(
        as_user_in(&[GROUP], &format!("chgrp {GROUP} {mine}")).status.success(),
        "to one of its groups"
    );
    // A writer may set times to now, only the owner to a given time.
    assert!(as_user(&format!("touch {r}")).status.success());
    assert!(refused(
        &as_user(&format!("touch -d 2001-01-01 {r}")),
        "Operation not permitted"
    ));
    assert!(as_user(&format!("touch -d 2001-01-01 {mine}")).status.success());
    // A chmod keeps set-gid only for a member of the file's group.
    assert!(as_user(&format!("chmod 2755 {mine}")).status.success());
    let mode = fs::metadata(m.m("mine")).unwrap().permissions().mode();
    assert_eq!(
        mode & 0o7777,
        0o755,
        "set-gid dropped: the user is not in group {GROUP}"
    );
    file(&m.m("readonly"), 0, 0, 0o644);
    let ro = m.m("readonly").display().to_string();
    assert!(refused(&as_user(&format!("truncate -s 0 {ro}")), "Permission denied"));
    assert_eq!(fs::read_to_string(m.m("readonly")).unwrap(), "data\n");
}

/// GETATTR and total requests per file of untarring `n` files into the
/// mount and removing them and a lower tree of as many (`rm -rf`).
fn requests_per_file(options: &str, n: usize) -> [(f64, f64); 2] {
    use super::requests::counts_now;
    let mut m = Mount::prepare(1);
    let src = m.dir.path().join("src");
    fs::create_dir_all(m.lowers[0].join("low")).unwrap();
    fs::create_dir_all(src.join("t")).unwrap();
    for i in 0..n {
        fs::write(src.join(format!("t/f{i}")), "x").unwrap();
        fs::write(m.lowers[0].join(format!("low/f{i}")), "x").unwrap();
    }
    let tar = m.dir.path().join("t.tar");
    let made = Command::new("tar")
        .arg("cf")
        .arg(&tar)
        .arg("-C")
        .arg(&src)
        .arg("t")
        .status()
        .unwrap();
    assert!(made.success());
    let counts = m.dir.path().join("counts");
    m.options = format!("request_counts={}{options}", counts.display());
    m.mount();
    let op = |c: &std::collections::BTreeMap<String, u64>, k: &str| *c.get(k).unwrap_or(&0) as f64;
    let before = counts_now(&counts);
    let untar = Command::new("tar")
        .arg("xf")
        .arg(&tar)
        .arg("-C")
        .arg(&m.mnt)
        .status()
        .unwrap();
    assert!(untar.success());
    let untarred = counts_now(&counts);
    let rm = Command::new("rm")
        .arg("-rf")
        .arg(m.m("low"))
        .arg(m.m("t"))
        .status()
        .unwrap();
    assert!(rm.success());
    let removed = counts_now(&counts);
    let per = |a: &std::collections::BTreeMap<String, u64>, b: &std::collections::BTreeMap<String, u64>, files: f64| {
        (
            (op(b, "GETATTR") - op(a, "GETATTR")) / files,
            (op(b, "TOTAL") - op(a, "TOTAL")) / files,
        )
    };
    [
        per(&before, &untarred, n as f64),
        per(&untarred, &removed, 2.0 * n as f64),
    ]
}

#[test]
fn server_checks_save_the_getattr_of_each_change() {
    require!(fuse());
    let n = 500;
    let kernel = requests_per_file(",noacl", n);
    let server = requests_per_file(",noacl,permissions=server", n);
    for (i, name) in ["untar", "rm -rf"].iter().enumerate() {
        eprintln!(
            "{name}: GETATTR/file kernel {:.2} server {:.2}; requests/file kernel {:.2} server {:.2}",
            kernel[i].0, server[i].0, kernel[i].1, server[i].1
        );
        assert!(server[i].0 < 0.1, "{name}: {server:?}");
        assert!(server[i].1 < kernel[i].1, "{name}: {server:?} against {kernel:?}");
    }
}

//! The plan's order and the executor, against a fake [`Syscalls`].

use super::*;
use crate::run::ProcessSpec;
use std::collections::HashMap;

fn spec(network: NetworkMode) -> ContainerSpec {
    ContainerSpec {
        id: "abc".into(),
        rootfs: PathBuf::from("/var/lib/strata/c/abc/merged"),
        hostname: "abc123".into(),
        domainname: String::new(),
        network,
        etc_files: vec![
            ("/etc/hostname".into(), PathBuf::from("/var/lib/strata/c/abc/hostname")),
            (
                "/etc/resolv.conf".into(),
                PathBuf::from("/var/lib/strata/c/abc/resolv.conf"),
            ),
        ],
        mounts: vec![],
        readonly_root: false,
        process: ProcessSpec {
            args: vec!["sh".into()],
            env: vec![],
            cwd: String::new(),
            user: String::new(),
            tty: false,
            console_size: None,
        },
        confinement: crate::run::Confinement::none(),
        init: false,
    }
}

fn index(steps: &[Step], f: impl Fn(&Step) -> bool) -> usize {
    steps.iter().position(f).expect("step present")
}

/// Where the fake saw call `c`; a missing call fails the test.
fn call_index(calls: &[String], c: &str) -> usize {
    calls
        .iter()
        .position(|x| x == c)
        .unwrap_or_else(|| panic!("{c} in {calls:?}"))
}

fn mount_at(target: &str) -> impl Fn(&Step) -> bool + '_ {
    move |s| matches!(s, Step::Mount { target: t, .. } if t == target)
}

#[test]
fn order_is_private_bind_proc_dev_then_pivot() {
    let steps = plan(&spec(NetworkMode::Host), false);
    assert_eq!(steps[0], Step::MakeMountsPrivate);
    assert!(matches!(&steps[1], Step::BindRootfs(p) if p.ends_with("merged")));
    let proc_ = index(&steps, mount_at("/proc"));
    let dev = index(&steps, mount_at("/dev"));
    let null = index(&steps, mount_at("/dev/null"));
    let pts = index(&steps, mount_at("/dev/pts"));
    let pivot = index(&steps, |s| *s == Step::PivotRoot);
    let kcore = index(&steps, |s| matches!(s, Step::Mask { path } if path == "/proc/kcore"));
    assert!(proc_ < dev && dev < null && null < pts && pts < pivot);
    assert!(
        proc_ < kcore && kcore < pivot,
        "masks need the new /proc and come before pivot"
    );
    assert_eq!(steps.last(), Some(&Step::SetHostname("abc123".into())));
    assert!(!steps.iter().any(|s| matches!(s, Step::SetDomainname(_))));
    assert!(!steps.contains(&Step::LoopbackUp));
    // A domain name is set after the host name, in the new namespace.
    let mut with_domain = spec(NetworkMode::Host);
    with_domain.domainname = "example.com".into();
    let steps = plan(&with_domain, false);
    assert_eq!(steps.last(), Some(&Step::SetDomainname("example.com".into())));
    let steps = plan(&spec(NetworkMode::Host), false);
    // Everything that mounts happens before the pivot.
    assert!(steps[pivot..].iter().all(|s| !matches!(s, Step::Mount { .. })));
}

#[test]
fn only_devices_sys_and_etc_files_come_from_the_host() {
    let steps = plan(&spec(NetworkMode::None), false);
    let mut host: Vec<String> = steps
        .iter()
        .filter_map(|s| match s {
            Step::Mount {
                source: Source::Host(p),
                flags,
                ..
            } => {
                assert!(flags.contains(MountFlags::BIND));
                Some(p.display().to_string())
            }
            _ => None,
        })
        .collect();
    host.sort();
    let mut want: Vec<String> = DEVICES.iter().map(|d| format!("/dev/{d}")).collect();
    want.push("/var/lib/strata/c/abc/hostname".into());
    want.push("/var/lib/strata/c/abc/resolv.conf".into());
    want.sort();
    assert_eq!(host, want);
    assert!(steps.contains(&Step::LoopbackUp));
    // Every mount target exists first: devices and etc files as files.
    for d in DEVICES {
        let path = format!("/dev/{d}");
        let make = index(&steps, |s| matches!(s, Step::MakeFile { path: p } if *p == path));
        assert!(make < index(&steps, mount_at(&path)));
    }
}

#[test]
fn devices_are_bound_and_privileged_lifts_masks() {
    let mut s = spec(NetworkMode::Host);
    s.confinement.privileges.devices = vec![crate::run::DeviceMount {
        host: PathBuf::from("/dev/null"),
        container: "/dev/mynull".into(),
    }];
    let steps = plan(&s, false);
    let make = index(
        &steps,
        |st| matches!(st, Step::MakeFile { path } if path == "/dev/mynull"),
    );
    let bind = index(&steps, mount_at("/dev/mynull"));
    assert!(index(&steps, mount_at("/dev")) < make && make < bind);
    assert!(steps.iter().any(|st| matches!(st, Step::Mask { .. })));
    assert!(steps.contains(&Step::Sysfs { target: "/sys".into() }));
    s.confinement.privileges.privileged = true;
    let steps = plan(&s, false);
    assert!(
        !steps
            .iter()
            .any(|st| matches!(st, Step::Mask { .. } | Step::ReadOnly { .. }))
    );
    assert!(steps.contains(&Step::WritableSysfs { target: "/sys".into() }));
    assert!(steps.iter().any(mount_at("/dev/mynull")));
    // ptmx stays the container's own.
    assert!(!steps.iter().any(mount_at("/dev/ptmx")));
}

#[test]
fn devpts_has_no_gid_when_rootless() {
    let data = |rootless| {
        plan(&spec(NetworkMode::Host), rootless)
            .into_iter()
            .find_map(|s| match s {
                Step::Mount { target, data, .. } if target == "/dev/pts" => Some(data),
                _ => None,
            })
            .unwrap()
    };
    assert!(data(false).contains("gid=5"));
    assert!(!data(true).contains("gid="));
}

/// A fake file system: the set of existing container paths.
#[derive(Default)]
struct Fake {
    calls: Vec<String>,
    exists: HashMap<String, Kind>,
    refuse_sysfs: bool,
}

impl Syscalls for Fake {
    fn make_mounts_private(&mut self) -> io::Result<()> {
        self.calls.push("private /".into());
        Ok(())
    }
    fn bind_rootfs(&mut self, rootfs: &Path) -> io::Result<()> {
        self.calls.push(format!("rbind {}", rootfs.display()));
        self.exists.insert("/".into(), Kind::Dir);
        Ok(())
    }
    fn kind(&mut self, path: &str) -> io::Result<Option<Kind>> {
        Ok(self.exists.get(path).copied())
    }
    fn mkdir(&mut self, path: &str, mode: u32) -> io::Result<()> {
        self.calls.push(format!("mkdir {path} {mode:o}"));
        self.exists.insert(path.into(), Kind::Dir);
        Ok(())
    }
    fn create_file(&mut self, path: &str) -> io::Result<()> {
        self.calls.push(format!("touch {path}"));
        self.exists.insert(path.into(), Kind::Other);
        Ok(())
    }
    fn mount(
        &mut self,
        source: &Source,
        target: &str,
        fstype: Option<&str>,
        _flags: MountFlags,
        _data: &str,
    ) -> io::Result<()> {
        if fstype == Some("sysfs") && self.refuse_sysfs {
            return Err(rustix::io::Errno::PERM.into());
        }
        if fstype == Some("proc") {
            self.exists.insert("/proc/kcore".into(), Kind::Other);
            self.exists.insert("/proc/sys".into(), Kind::Dir);
        }
        let src = match source {
            Source::Fresh(_) => fstype.unwrap_or("?").to_string(),
            Source::Host(p) => format!("host:{}", p.display()),
            Source::Root(p) => p.clone(),
        };
        self.calls.push(format!("mount {src} {target}"));
        Ok(())
    }
    fn remount_read_only(&mut self, target: &str) -> io::Result<()> {
        self.calls.push(format!("ro {target}"));
        Ok(())
    }
    fn symlink(&mut self, link: &str, target: &str) -> io::Result<()> {
        self.calls.push(format!("ln {link} {target}"));
        Ok(())
    }
    fn loopback_up(&mut self) -> io::Result<()> {
        self.calls.push("lo up".into());
        Ok(())
    }
    fn pivot_root(&mut self) -> io::Result<()> {
        self.calls.push("pivot".into());
        Ok(())
    }
    fn sethostname(&mut self, name: &str) -> io::Result<()> {
        self.calls.push(format!("hostname {name}"));
        Ok(())
    }

    fn setdomainname(&mut self, name: &str) -> io::Result<()> {
        self.calls.push(format!("domainname {name}"));
        Ok(())
    }
}

#[test]
fn executor_creates_missing_targets_and_falls_back_for_sysfs() {
    let mut fake = Fake {
        refuse_sysfs: true,
        ..Fake::default()
    };
    fake.exists.insert("/etc".into(), Kind::Dir);
    fake.exists.insert("/etc/hostname".into(), Kind::Other);
    let steps = plan(&spec(NetworkMode::None), true);
    execute(&mut fake, &steps).unwrap();
    let calls = fake.calls;
    let pos = |c: &str| call_index(&calls, c);
    assert!(pos("mkdir /proc 755") < pos("mount proc /proc"));
    assert!(pos("mount tmpfs /dev") < pos("touch /dev/null"));
    assert!(pos("touch /dev/null") < pos("mount host:/dev/null /dev/null"));
    assert!(pos("mkdir /dev/shm 1777") < pos("mount tmpfs /dev/shm"));
    assert!(pos("mount host:/sys /sys") < pos("ro /sys"));
    // An existing file is not recreated; a missing one is.
    assert!(!calls.iter().any(|c| c == "touch /etc/hostname"));
    assert!(pos("touch /etc/resolv.conf") < pos("mount host:/var/lib/strata/c/abc/resolv.conf /etc/resolv.conf"));
    // Masks: files get /dev/null, absent paths nothing.
    assert!(calls.iter().any(|c| c == "mount host:/dev/null /proc/kcore"));
    assert!(!calls.iter().any(|c| c.ends_with("/proc/keys")));
    assert!(pos("mount /proc/sys /proc/sys") < pos("ro /proc/sys"));
    assert!(pos("lo up") < pos("pivot"));
    assert_eq!(calls.last().map(String::as_str), Some("hostname abc123"));
}

#[test]
fn mount_target_through_a_file_is_an_error() {
    let mut fake = Fake::default();
    fake.exists.insert("/etc".into(), Kind::Other);
    let step = Step::MakeFile {
        path: "/etc/hosts".into(),
    };
    let err = execute(&mut fake, &[step]).unwrap_err();
    assert!(err.contains("/etc is not a directory"), "{err}");
    let step = Step::MakeDir {
        path: "/a/../b".into(),
        mode: 0o755,
    };
    assert!(execute(&mut Fake::default(), &[step]).is_err());
}

#[test]
fn user_mounts_come_after_etc_files_and_the_read_only_root_last() {
    let mut s = spec(NetworkMode::None);
    s.readonly_root = true;
    s.mounts = vec![
        UserMount {
            kind: UserMountKind::Bind {
                source: PathBuf::from("/srv/data"),
                dir: true,
            },
            target: "/data".into(),
            readonly: true,
        },
        UserMount {
            kind: UserMountKind::Tmpfs { data: "size=1m".into() },
            target: "/tmp".into(),
            readonly: false,
        },
    ];
    let steps = plan(&s, false);
    let etc = index(&steps, mount_at("/etc/resolv.conf"));
    let data = index(&steps, mount_at("/data"));
    let tmp = index(&steps, mount_at("/tmp"));
    let ro_data = index(
        &steps,
        |s| matches!(s, Step::RemountReadOnly { target } if target == "/data"),
    );
    let ro_root = index(
        &steps,
        |s| matches!(s, Step::RemountReadOnly { target } if target == "/"),
    );
    let pivot = index(&steps, |s| *s == Step::PivotRoot);
    assert!(etc < data && data < ro_data && ro_data < tmp && tmp < ro_root);
    assert_eq!(ro_root + 1, pivot, "the root goes read-only last before the pivot");
    assert!(
        !steps
            .iter()
            .any(|s| matches!(s, Step::RemountReadOnly { target } if target == "/tmp"))
    );
    let mut fake = Fake::default();
    execute(&mut fake, &steps).unwrap();
    let calls = fake.calls;
    let pos = |c: &str| call_index(&calls, c);
    assert!(pos("mkdir /data 755") < pos("mount host:/srv/data /data"));
    assert!(pos("mount host:/srv/data /data") < pos("ro /data"));
    assert!(pos("mkdir /tmp 755") < pos("mount tmpfs /tmp"));
    assert!(pos("mount tmpfs /tmp") < pos("ro /"));
    assert!(pos("ro /") < pos("pivot"));
    // Without --read-only the root stays writable.
    let steps = plan(&spec(NetworkMode::Host), false);
    assert!(
        !steps
            .iter()
            .any(|s| matches!(s, Step::RemountReadOnly { target } if target == "/"))
    );
}

#[test]
fn a_file_bind_gets_a_file_mount_point() {
    let mut s = spec(NetworkMode::Host);
    s.mounts = vec![UserMount {
        kind: UserMountKind::Bind {
            source: PathBuf::from("/srv/f"),
            dir: false,
        },
        target: "/etc/f".into(),
        readonly: false,
    }];
    let mut fake = Fake::default();
    fake.exists.insert("/etc".into(), Kind::Dir);
    execute(&mut fake, &plan(&s, false)).unwrap();
    let calls = fake.calls;
    let pos = |c: &str| call_index(&calls, c);
    assert!(pos("touch /etc/f") < pos("mount host:/srv/f /etc/f"));
}

#[test]
fn parent_of_paths() {
    assert_eq!(parent("/etc/hosts"), "/etc");
    assert_eq!(parent("/hosts"), "/");
    assert_eq!(parent("/a/b/c"), "/a/b");
}

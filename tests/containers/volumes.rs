//! Volumes, binds, tmpfs mounts and read-only roots, through the docker
//! CLI against stratad: each assertion fails if the option is ignored.

use crate::util::{Daemon, require, text};

#[test]
fn a_bind_writes_to_the_host_and_ro_refuses_writes() {
    let d = require!(Daemon::with_docker_and_busybox());
    let host = d.dir.path().join("bind");
    std::fs::create_dir(&host).unwrap();
    let spec = format!("{}:/data", host.display());
    d.docker_ok(&[
        "run",
        "--name",
        "b",
        "-v",
        &spec,
        "busybox",
        "sh",
        "-c",
        "echo hi > /data/f",
    ]);
    assert_eq!(std::fs::read_to_string(host.join("f")).unwrap(), "hi\n");
    let v = d.inspect("b");
    let m = &v["Mounts"][0];
    assert_eq!(m["Type"], "bind");
    assert_eq!(m["Source"], host.display().to_string());
    assert_eq!(m["Destination"], "/data");
    assert_eq!(m["RW"], true);
    assert_eq!(v["HostConfig"]["Binds"][0], spec);
    let ro = format!("{spec}:ro,z");
    let err = d.docker_fails(&["run", "--rm", "-v", &ro, "busybox", "touch", "/data/g"]);
    assert!(err.contains("Read-only file system"), "{err}");
    assert!(!host.join("g").exists());
    // A file bind, through --mount.
    let file = host.join("f");
    let mount = format!("type=bind,src={},dst=/etc/bound,readonly", file.display());
    assert_eq!(
        d.docker_ok(&["run", "--rm", "--mount", &mount, "busybox", "cat", "/etc/bound"]),
        "hi\n"
    );
    // Propagation other than private is refused by name.
    let shared = format!("type=bind,src={},dst=/x,bind-propagation=shared", host.display());
    let err = d.docker_fails(&["run", "--rm", "--mount", &shared, "busybox", "true"]);
    assert!(err.contains("propagation"), "{err}");
}

#[test]
fn a_missing_bind_source_is_an_error_not_a_directory() {
    let d = require!(Daemon::with_docker_and_busybox());
    let missing = d.dir.path().join("no-such-dir");
    let want = format!(
        "invalid mount config for type \"bind\": bind source path does not exist: {}",
        missing.display()
    );
    let spec = format!("{}:/x", missing.display());
    let err = d.docker_fails(&["run", "--rm", "-v", &spec, "busybox", "true"]);
    assert!(err.contains(&want), "{err}");
    let mount = format!("type=bind,src={},dst=/x", missing.display());
    let err = d.docker_fails(&["run", "--rm", "--mount", &mount, "busybox", "true"]);
    assert!(err.contains(&want), "{err}");
    assert!(!missing.exists());
    let err = d.docker_fails(&["run", "--rm", "-v", "bad name:/x", "busybox", "true"]);
    assert!(err.contains("invalid"), "{err}");
}

#[test]
fn a_named_volume_keeps_its_data_across_containers_and_a_restart() {
    let mut d = require!(Daemon::with_docker_and_busybox());
    d.docker_ok(&[
        "run",
        "--name",
        "w",
        "-v",
        "keep:/data",
        "busybox",
        "sh",
        "-c",
        "echo kept > /data/f",
    ]);
    d.docker_ok(&["rm", "w"]);
    assert_eq!(
        d.docker_ok(&["run", "--rm", "-v", "keep:/data", "busybox", "cat", "/data/f"]),
        "kept\n"
    );
    assert!(d.root.join("volumes/keep/_data/f").is_file());
    d.stop();
    d.spawn();
    d.docker_ok(&["run", "--name", "r", "-v", "keep:/data", "busybox", "cat", "/data/f"]);
    assert_eq!(d.docker_ok(&["logs", "r"]), "kept\n");
    assert_eq!(d.docker_ok(&["volume", "ls", "-q"]), "keep\n");
    let v: serde_json::Value = serde_json::from_str(&d.docker_ok(&["volume", "inspect", "keep"])).unwrap();
    assert_eq!(v[0]["Driver"], "local");
    assert_eq!(v[0]["Scope"], "local");
    assert!(v[0]["Mountpoint"].as_str().unwrap().ends_with("/volumes/keep/_data"));
    let err = d.docker_fails(&["volume", "rm", "keep"]);
    assert!(err.contains("volume is in use"), "{err}");
    // `ps --filter volume=` finds its user.
    assert_eq!(
        d.docker_ok(&["ps", "-a", "--filter", "volume=keep", "--format", "{{.Names}}"]),
        "r\n"
    );
    d.docker_ok(&["rm", "r"]);
    assert_eq!(d.docker_ok(&["volume", "rm", "keep"]), "keep\n");
    assert!(!d.root.join("volumes/keep").exists());
}

#[test]
fn volume_commands_print_as_docker() {
    let d = require!(Daemon::with_docker_and_busybox());
    assert_eq!(d.docker_ok(&["volume", "create", "--label", "a=b", "lab"]), "lab\n");
    d.docker_ok(&["volume", "create", "plain"]);
    let ls = d.docker_ok(&["volume", "ls"]);
    let lines: Vec<&str> = ls.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["DRIVER", "VOLUME", "NAME"]
    );
    assert_eq!(lines[1].split_whitespace().collect::<Vec<_>>(), ["local", "lab"]);
    assert_eq!(d.docker_ok(&["volume", "ls", "-q", "--filter", "label=a=b"]), "lab\n");
    assert_eq!(d.docker_ok(&["volume", "ls", "-q", "--filter", "name=pla"]), "plain\n");
    assert_eq!(
        d.docker_ok(&["volume", "ls", "-q", "--filter", "dangling=true"]),
        "lab\nplain\n"
    );
    let err = d.docker_fails(&["volume", "create", "--driver", "nfs", "x1"]);
    assert!(err.contains("nfs"), "{err}");
    // Prune takes anonymous volumes only, unless --all.
    d.docker_ok(&["create", "-v", "/anon", "busybox"]);
    d.docker_ok(&["container", "rm", "-f", d.docker_ok(&["ps", "-aq"]).trim()]);
    let before = d.docker_ok(&["volume", "ls", "-q"]);
    assert_eq!(before.lines().count(), 3, "{before}");
    let pruned = d.docker_ok(&["volume", "prune", "-f"]);
    assert!(pruned.contains("Total reclaimed space"), "{pruned}");
    assert_eq!(d.docker_ok(&["volume", "ls", "-q"]), "lab\nplain\n");
    d.docker_ok(&["volume", "prune", "-f", "--all", "--filter", "label=a=b"]);
    assert_eq!(d.docker_ok(&["volume", "ls", "-q"]), "plain\n");
    let err = d.docker_fails(&["volume", "inspect", "nope"]);
    assert!(err.contains("no such volume"), "{err}");
}

#[test]
fn an_anonymous_volume_goes_with_rm_v_and_volumes_from_shares_it() {
    let d = require!(Daemon::with_docker_and_busybox());
    d.docker_ok(&[
        "run",
        "--name",
        "a",
        "-v",
        "/anon",
        "busybox",
        "sh",
        "-c",
        "echo shared > /anon/f",
    ]);
    let v = d.inspect("a");
    let name = v["Mounts"][0]["Name"].as_str().unwrap().to_string();
    assert_eq!(name.len(), 64, "{name}");
    assert_eq!(v["Mounts"][0]["Type"], "volume");
    let labels = d.docker_ok(&["volume", "inspect", "-f", "{{json .Labels}}", &name]);
    assert!(labels.contains("com.docker.volume.anonymous"), "{labels}");
    assert_eq!(
        d.docker_ok(&["run", "--rm", "--volumes-from", "a", "busybox", "cat", "/anon/f"]),
        "shared\n"
    );
    let err = d.docker_fails(&["run", "--rm", "--volumes-from", "a:ro", "busybox", "touch", "/anon/g"]);
    assert!(err.contains("Read-only file system"), "{err}");
    d.docker_ok(&["rm", "-v", "a"]);
    assert!(d.docker_ok(&["volume", "ls", "-q"]).is_empty());
    // --rm removes its anonymous volumes too; a named one stays.
    d.docker_ok(&["run", "--rm", "-v", "/gone", "-v", "stays:/s", "busybox", "true"]);
    assert_eq!(d.docker_ok(&["volume", "ls", "-q"]), "stays\n");
}

#[test]
fn a_symlink_at_the_target_stays_inside_the_root() {
    let d = require!(Daemon::with_docker_and_busybox());
    let canary = d.dir.path().join("canary");
    std::fs::create_dir(&canary).unwrap();
    let src = d.dir.path().join("src");
    std::fs::create_dir(&src).unwrap();
    std::fs::write(src.join("marker"), "m").unwrap();
    let up = format!("../../../../../../../..{}", canary.display());
    let script = format!("ln -s /etc /toetc && ln -s {} /abs && ln -s {up} /up", canary.display());
    d.docker_ok(&["run", "--name", "l", "busybox", "sh", "-c", &script]);
    d.docker_ok(&["commit", "l", "links"]);
    // Onto /etc of the container, not the host's.
    let etc = format!("{}:/toetc:ro", src.display());
    assert_eq!(
        d.docker_ok(&["run", "--rm", "-v", &etc, "links", "cat", "/etc/marker"]),
        "m"
    );
    for target in ["/abs", "/up"] {
        let mount = format!("{}:{target}", src.display());
        let _ = d.docker(&[
            "run",
            "--rm",
            "-v",
            &mount,
            "links",
            "sh",
            "-c",
            &format!("touch {target}/x"),
        ]);
        let tmpfs = format!("{target}:size=1m");
        let _ = d.docker(&[
            "run",
            "--rm",
            "--tmpfs",
            &tmpfs,
            "links",
            "sh",
            "-c",
            &format!("touch {target}/y"),
        ]);
    }
    let left: Vec<_> = std::fs::read_dir(&canary).unwrap().collect();
    assert!(left.is_empty(), "the host's canary was written: {left:?}");
    assert!(!std::path::Path::new("/etc/marker").exists());
}

#[test]
fn read_only_root_with_writable_tmpfs_dev_and_volumes() {
    let d = require!(Daemon::with_docker_and_busybox());
    let err = d.docker_fails(&["run", "--rm", "--read-only", "busybox", "touch", "/x"]);
    assert!(err.contains("Read-only file system"), "{err}");
    let script = "touch /tmp/a /dev/shm/b /v/c && echo x > /dev/null && echo ok";
    let out = d.docker_ok(&[
        "run",
        "--rm",
        "--read-only",
        "--tmpfs",
        "/tmp",
        "-v",
        "rov:/v",
        "busybox",
        "sh",
        "-c",
        script,
    ]);
    assert_eq!(out, "ok\n");
    let mount = "type=tmpfs,dst=/run,tmpfs-size=1048576,tmpfs-mode=1770";
    let out = d.docker_ok(&[
        "run",
        "--rm",
        "--read-only",
        "--mount",
        mount,
        "busybox",
        "sh",
        "-c",
        "grep ' /run ' /proc/mounts",
    ]);
    assert!(out.contains("size=1024k") && out.contains("mode=1770"), "{out}");
    let v = {
        d.docker_ok(&["create", "--name", "ro", "--read-only", "busybox"]);
        d.inspect("ro")
    };
    assert_eq!(v["HostConfig"]["ReadonlyRootfs"], true);
}

#[test]
fn diff_lists_nothing_written_into_a_volume() {
    let d = require!(Daemon::with_docker_and_busybox());
    d.docker_ok(&[
        "run",
        "--name",
        "dv",
        "-v",
        "dvol:/data",
        "busybox",
        "sh",
        "-c",
        "echo x > /data/f; echo y > /top",
    ]);
    let diff = d.docker_ok(&["diff", "dv"]);
    assert!(diff.contains("A /top"), "{diff}");
    assert!(!diff.contains("/data/f"), "{diff}");
}

#[test]
fn an_empty_volume_is_filled_from_the_image_unless_nocopy() {
    let d = require!(Daemon::with_docker_and_busybox());
    let out = d.docker_ok(&[
        "run",
        "--rm",
        "-v",
        "fill:/etc",
        "busybox",
        "sh",
        "-c",
        "echo changed >> /etc/passwd",
    ]);
    assert_eq!(out, "");
    let passwd = d.docker_ok(&["run", "--rm", "-v", "fill:/x", "busybox", "cat", "/x/passwd"]);
    assert!(passwd.starts_with("root:") && passwd.ends_with("changed\n"), "{passwd}");
    // Filled once: a volume with content keeps it.
    let again = d.docker_ok(&[
        "run",
        "--rm",
        "-v",
        "fill:/etc",
        "busybox",
        "tail",
        "-n1",
        "/etc/passwd",
    ]);
    assert_eq!(again, "changed\n");
    let mode = d.docker_ok(&[
        "run",
        "--rm",
        "-v",
        "fill:/x",
        "busybox",
        "stat",
        "-c",
        "%a %u",
        "/x/passwd",
    ]);
    assert_eq!(mode, "644 0\n");
    let empty = d.docker_ok(&["run", "--rm", "-v", "nc:/etc:nocopy", "busybox", "ls", "-A", "/etc"]);
    // Only the mount points the runtime binds (hostname, hosts, resolv.conf).
    assert!(!empty.contains("passwd"), "{empty}");
}

/// A rootless daemon mounts binds, volumes and tmpfs'es in its user
/// namespace, and makes a read-only root there too.
#[test]
fn a_rootless_daemon_mounts_volumes_and_read_only_roots() {
    let d = require!(crate::util::rootless_daemon());
    require!(d.docker_cli());
    let script = "echo r > /v/f && touch /tmp/t && ! touch /x 2>/dev/null && cat /v/f";
    let out = d.docker_ok(&[
        "run",
        "--rm",
        "--read-only",
        "--tmpfs",
        "/tmp",
        "-v",
        "rl:/v",
        "busybox",
        "sh",
        "-c",
        script,
    ]);
    assert_eq!(out, "r\n");
    assert_eq!(
        d.docker_ok(&["run", "--rm", "-v", "rl:/w:ro", "busybox", "cat", "/w/f"]),
        "r\n"
    );
}

/// `strata run` has the same flags: `-v`, `--mount`, `--tmpfs`,
/// `--volumes-from`, `--read-only`.
#[test]
fn strata_run_mounts_as_docker() {
    let d = require!(Daemon::with_docker_and_busybox());
    let host = d.dir.path().join("sbind");
    std::fs::create_dir(&host).unwrap();
    let spec = format!("{}:/data", host.display());
    let strata = |args: &[&str]| {
        let out = d.strata(args);
        (out.status.success(), text(&out))
    };
    let (ok1, out) = strata(&[
        "run",
        "--name",
        "s",
        "-v",
        &spec,
        "-v",
        "/anon",
        "busybox",
        "sh",
        "-c",
        "echo s > /data/f; echo a > /anon/f",
    ]);
    assert!(ok1, "{out}");
    assert_eq!(std::fs::read_to_string(host.join("f")).unwrap(), "s\n");
    let (ok2, out) = strata(&["run", "--rm", "--volumes-from", "s", "busybox", "cat", "/anon/f"]);
    assert!(ok2 && out.contains('a'), "{out}");
    let (ok3, out) = strata(&[
        "run",
        "--rm",
        "--read-only",
        "--tmpfs",
        "/tmp",
        "--mount",
        "type=tmpfs,dst=/run",
        "busybox",
        "sh",
        "-c",
        "touch /tmp/x /run/y && touch /z",
    ]);
    assert!(!ok3 && out.contains("Read-only file system"), "{out}");
}

/// `strata volume …` prints what `docker volume …` prints, byte for byte,
/// and changes the same things.
#[test]
fn strata_volume_commands_print_as_docker() {
    let d = require!(Daemon::with_docker_and_busybox());
    assert_eq!(d.ok(&["volume", "create", "--label", "team=db", "sv1"]), "sv1\n");
    // Driver options are refused for now, by name, and make nothing.
    let out = d.strata(&["volume", "create", "-o", "type=tmpfs", "sv0"]);
    assert!(!out.status.success() && text(&out).contains("--opt"), "{}", text(&out));
    d.ok(&["volume", "create", "sv2"]);
    let random = d.ok(&["volume", "create"]);
    assert_eq!(random.trim().len(), 64, "a random name is 64 hex digits: {random}");
    for args in [
        &["volume", "ls"][..],
        &["volume", "ls", "-q"],
        &["volume", "ls", "-q", "--filter", "label=team=db"],
        &["volume", "ls", "--filter", "name=sv"],
        &["volume", "inspect", "sv1", "sv2"],
    ] {
        assert_eq!(d.ok(args), d.docker_ok(args), "{args:?}");
    }
    let inspect: serde_json::Value = serde_json::from_str(&d.ok(&["volume", "inspect", "sv1"])).unwrap();
    assert_eq!(inspect[0]["Labels"]["team"], "db");
    assert_eq!(inspect[0]["Driver"], "local");
    // A volume in use is refused, each failure reported, the rest removed.
    d.docker_ok(&["create", "--name", "user", "-v", "sv2:/data", "busybox"]);
    let out = d.strata(&["volume", "rm", "sv2", "nosuch", random.trim()]);
    assert!(!out.status.success());
    assert_eq!(stdout_of(&out), format!("{}\n", random.trim()));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("volume is in use") && err.contains("no such volume"),
        "{err}"
    );
    // Prune asks first; "n" keeps everything.
    let out = d.strata_stdin(&["volume", "prune", "--all"], b"n\n");
    assert!(out.status.success(), "{}", text(&out));
    assert!(stdout_of(&out).contains("Are you sure you want to continue? [y/N]"));
    assert_eq!(d.ok(&["volume", "ls", "-q"]), "sv1\nsv2\n");
    let pruned = d.ok(&["volume", "prune", "-f", "--all"]);
    assert_eq!(pruned, "Deleted Volumes:\nsv1\n\nTotal reclaimed space: 0B\n");
    assert_eq!(d.ok(&["volume", "ls", "-q"]), "sv2\n");
    d.docker_ok(&["rm", "user"]);
    assert_eq!(d.ok(&["volume", "rm", "-f", "sv2"]), "sv2\n");
    assert_eq!(d.ok(&["volume", "ls", "-q"]), "");
}

fn stdout_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

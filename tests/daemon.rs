//! The daemon's life: restarts, crashes, locking, listeners and TLS.

use crate::util::{Daemon, STRATAD, TarBuilder, part, require, root, sample_rootfs_tar, strata_at, tool, wait_for};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};
use std::time::Duration;

#[test]
fn images_survive_a_restart() {
    let mut d = Daemon::start();
    let path = d.dir.path().join("rootfs.tar");
    std::fs::write(&path, sample_rootfs_tar()).unwrap();
    let id = d.import(&path, "keep:1");
    d.stop();
    assert!(!d.socket.exists(), "a clean stop removes the socket");
    d.spawn();
    assert_eq!(d.inspect("keep:1")["Id"], id);
}

#[test]
fn sigkill_during_an_import_leaves_a_consistent_store() {
    let mut d = Daemon::start();
    let path = d.dir.path().join("rootfs.tar");
    std::fs::write(&path, sample_rootfs_tar()).unwrap();
    let id = d.import(&path, "before:1");
    let snapshot = d.store_snapshot();

    // Start a large import and stop sending half-way, so the daemon is
    // mid-extraction with a temporary layer on disk.
    let mut tar = TarBuilder::new();
    for i in 0..40 {
        tar = tar.file(&format!("f{i}"), &vec![i as u8; 256 * 1024]);
    }
    let tar = tar.finish();
    let mut s = UnixStream::connect(&d.socket).unwrap();
    s.write_all(
        b"POST /v1.50/images/create?fromSrc=-&repo=during:1 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
    )
    .unwrap();
    let half = &tar[..tar.len() / 2];
    s.write_all(format!("{:x}\r\n", half.len()).as_bytes()).unwrap();
    s.write_all(half).unwrap();
    s.write_all(b"\r\n").unwrap();
    let tmp = d.root.join("tmp");
    wait_for(
        || {
            std::fs::read_dir(&tmp).is_ok_and(|rd| {
                rd.filter_map(Result::ok)
                    .any(|e| std::fs::read_dir(e.path().join("root")).is_ok_and(|mut r| r.next().is_some()))
            })
        },
        "the import to be under way",
    );
    d.kill();
    drop(s);

    d.spawn();
    assert_eq!(
        std::fs::read_dir(&tmp).unwrap().count(),
        0,
        "no temporary debris after restart"
    );
    assert_eq!(
        d.store_snapshot(),
        snapshot,
        "the store is as before the interrupted import"
    );
    let images = d.ok(&["images", "-q"]);
    assert_eq!(images.trim(), &id[7..19]);
    // And the interrupted import can simply be done again.
    let out = d.strata_stdin(&["import", "-", "during:1"], &tar);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn restart_collects_what_no_image_references() {
    let mut d = Daemon::start();
    let path = d.dir.path().join("rootfs.tar");
    std::fs::write(&path, sample_rootfs_tar()).unwrap();
    d.import(&path, "keep:1");
    let snapshot = d.store_snapshot();
    d.stop();
    // What a crash between writing a layer or config and committing
    // state.json could leave behind.
    let stray = "0".repeat(64);
    std::fs::create_dir_all(d.root.join("layers").join(&stray).join("root/etc")).unwrap();
    std::fs::write(d.root.join("images").join(format!("{stray}.json")), b"{}").unwrap();
    std::fs::write(d.root.join("chains").join(format!("{stray}.index")), b"x").unwrap();
    std::fs::create_dir_all(d.root.join("tmp/layer-1-0/root")).unwrap();
    std::fs::write(d.root.join(".state.json.tmp"), b"{partial").unwrap();
    d.spawn();
    let mut after = d.store_snapshot();
    after.retain(|l| !l.starts_with(".state.json.tmp"));
    assert_eq!(after, snapshot);
    assert_eq!(d.ok(&["images", "-q"]).lines().count(), 1);
}

#[test]
fn one_daemon_per_store_and_socket() {
    let d = Daemon::start();
    let mode = std::fs::metadata(&d.socket).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o660);
    let other_sock = d.dir.path().join("other.sock");
    // A pid file of its own: the default one, beside the socket, is the
    // first daemon's (and refused first; see the pid file's test).
    let other_pidfile = d.dir.path().join("other.pid");
    let out = Command::new(STRATAD)
        .args(["--root", d.root.to_str().unwrap(), "-H"])
        .arg(format!("unix://{}", other_sock.display()))
        .arg("--pidfile")
        .arg(&other_pidfile)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("in use by another stratad"));
    let other_root = d.dir.path().join("root2");
    let out = Command::new(STRATAD)
        .args(["--root", other_root.to_str().unwrap(), "-H", &d.host()])
        .arg("--pidfile")
        .arg(&other_pidfile)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("already listening"));
    // The first daemon is unharmed.
    d.ok(&["images"]);
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_tcp(d: &mut Daemon, args: &[&str], port: u16) {
    d.extra_args = args.iter().map(|s| s.to_string()).collect();
    d.extra_args
        .extend(["-H".to_string(), format!("tcp://127.0.0.1:{port}")]);
    d.stop();
    d.spawn();
    wait_for(
        || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok(),
        "the TCP listener",
    );
}

#[test]
fn plain_tcp_needs_insecure_and_loopback() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let run = |host: &str, extra: &[&str]| {
        Command::new(STRATAD)
            .args(["--root", root.to_str().unwrap(), "-H", host])
            .args(extra)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let out = run("tcp://127.0.0.1:1", &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("without TLS"));
    let out = run("tcp://0.0.0.0:1", &["--insecure"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("only allowed on loopback"));

    let mut d = Daemon::start();
    let port = free_port();
    start_tcp(&mut d, &["--insecure"], port);
    assert!(d.log().contains("WARNING: listening on tcp://127.0.0.1"), "{}", d.log());
    let out = strata_at(&format!("tcp://127.0.0.1:{port}"), &["version"], None);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// Makes a CA, a server certificate for 127.0.0.1 and a client certificate
/// with openssl, or says that openssl is missing.
fn make_certs(dir: &std::path::Path, ca_name: &str) -> Result<(), String> {
    tool("openssl")?;
    let sh = format!(
        r#"set -e
cd "{dir}"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN={ca_name}" \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
  -keyout {ca_name}-key.pem -out {ca_name}.pem 2>/dev/null
for who in server client; do
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$who" -keyout {ca_name}-$who-key.pem -out $who.csr 2>/dev/null
  if [ $who = server ]; then ext="subjectAltName=IP:127.0.0.1,DNS:localhost
extendedKeyUsage=serverAuth"; else ext="extendedKeyUsage=clientAuth"; fi
  printf '%s\n' "$ext" > $who.ext
  openssl x509 -req -in $who.csr -CA {ca_name}.pem -CAkey {ca_name}-key.pem -CAcreateserial -days 2 -extfile $who.ext -out {ca_name}-$who.pem 2>/dev/null
done"#,
        dir = dir.display()
    );
    let ok = Command::new("bash").arg("-c").arg(sh).status().unwrap().success();
    assert!(ok, "openssl failed to make certificates");
    Ok(())
}

#[test]
fn tls_requires_a_client_certificate_from_the_ca() {
    let mut d = Daemon::start();
    let certs = d.dir.path().join("certs");
    std::fs::create_dir(&certs).unwrap();
    require!(make_certs(&certs, "ca"));
    require!(make_certs(&certs, "rogue"));
    let p = |name: &str| certs.join(name).display().to_string();
    let port = free_port();
    start_tcp(
        &mut d,
        &[
            "--tlsverify",
            "--tlscacert",
            &p("ca.pem"),
            "--tlscert",
            &p("ca-server.pem"),
            "--tlskey",
            &p("ca-server-key.pem"),
        ],
        port,
    );
    let host = format!("tcp://127.0.0.1:{port}");
    let tls_args = |prefix: &str| {
        vec![
            "--tlsverify".to_string(),
            "--tlscacert".into(),
            p("ca.pem"),
            "--tlscert".into(),
            p(&format!("{prefix}-client.pem")),
            "--tlskey".into(),
            p(&format!("{prefix}-client-key.pem")),
        ]
    };
    let run = |extra: Vec<String>, cmd: &str| {
        let mut args: Vec<&str> = extra.iter().map(String::as_str).collect();
        args.push(cmd);
        strata_at(&host, &args, None)
    };
    let good = run(tls_args("ca"), "images");
    assert!(good.status.success(), "{}", String::from_utf8_lossy(&good.stderr));
    // A certificate from another CA, or none at all, gets nothing.
    let rogue = run(tls_args("rogue"), "images");
    assert_eq!(rogue.status.code(), Some(1));
    let plain = run(vec![], "images");
    assert_eq!(plain.status.code(), Some(1));
    assert!(!String::from_utf8_lossy(&plain.stderr).contains("panicked"));

    // The docker CLI with the same flags.
    if part(tool("docker")).is_some() {
        let out = Command::new("docker")
            .env("DOCKER_CONFIG", d.dir.path().join("docker-config"))
            .args([
                "--tlsverify",
                "--tlscacert",
                &p("ca.pem"),
                "--tlscert",
                &p("ca-client.pem"),
            ])
            .args(["--tlskey", &p("ca-client-key.pem"), "-H", &host, "version"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(String::from_utf8_lossy(&out.stdout).contains("Server: Strata"));
    }
    std::thread::sleep(Duration::from_millis(10));
}

#[test]
fn a_full_disk_fails_the_import_cleanly() {
    require!(root().map_err(|why| format!("mounting a small tmpfs {why}")));
    let mut d = Daemon::prepare();
    let _disk = crate::util::SmallDisk::mount(&d, "2m");
    d.spawn();
    let small = d.dir.path().join("small.tar");
    std::fs::write(&small, sample_rootfs_tar()).unwrap();
    let id = d.import(&small, "small:1");
    let snapshot = d.store_snapshot();

    let big = TarBuilder::new().file("big", &vec![0x5au8; 4 << 20]).finish();
    let (status, body) = d.http("POST", "/v1.50/images/create?fromSrc=-&repo=big:1", &big);
    assert_eq!(status, 507, "{body}");
    assert!(body.contains("No space left on device"), "{body}");
    assert_eq!(d.store_snapshot(), snapshot, "nothing half-written remains");
    assert_eq!(d.ok(&["images", "-q"]).trim(), &id[7..19]);
    // Still healthy: another small import fits.
    d.import(&small, "small:2");
    d.stop();
}

#[test]
fn an_unprivileged_daemon_keeps_ownership_in_the_index() {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    use strata::layers::index::{EntryKind, LayerIndex};
    require!(root().map_err(|why| format!("dropping to an unprivileged uid {why}")));
    require!(tool("setpriv"));
    const NOBODY: u32 = 65534;
    let mut d = Daemon::prepare();
    std::fs::set_permissions(d.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::create_dir(&d.root).unwrap();
    rustix::fs::chown(
        &d.root,
        Some(rustix::fs::Uid::from_raw(NOBODY)),
        Some(rustix::fs::Gid::from_raw(NOBODY)),
    )
    .unwrap();
    let sock_dir = d.dir.path().join("run");
    std::fs::create_dir(&sock_dir).unwrap();
    rustix::fs::chown(
        &sock_dir,
        Some(rustix::fs::Uid::from_raw(NOBODY)),
        Some(rustix::fs::Gid::from_raw(NOBODY)),
    )
    .unwrap();
    d.socket = sock_dir.join("s.sock");
    d.run_as = Some(NOBODY);
    d.spawn();

    // Files owned by others, a device, a read-only directory with content,
    // an unreadable file.
    let mut tar = TarBuilder::new().dir("ro/").file("ro/inside", b"in");
    tar = tar.char_device("dev/null", 1, 3).file("secret", b"s");
    let mut bytes = tar.finish();
    // Make `ro/` mode 0555 and `secret` mode 0000 by rewriting their headers.
    set_mode(&mut bytes, "ro/", 0o555);
    set_mode(&mut bytes, "secret", 0o000);
    let path = d.dir.path().join("x.tar");
    std::fs::write(&path, &bytes).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    d.import(&path, "rootless:1");
    let layer = d.inspect("rootless:1")["RootFS"]["Layers"][0].as_str().unwrap()[7..].to_string();
    let dir = d.root.join("layers").join(layer);
    let tree = dir.join("root");
    let inside = std::fs::metadata(tree.join("ro/inside")).unwrap();
    assert_eq!(inside.uid(), NOBODY, "an unprivileged store owns what it extracts");
    let dev = std::fs::symlink_metadata(tree.join("dev/null")).unwrap();
    assert!(
        !dev.file_type().is_char_device(),
        "no mknod without privilege: a placeholder"
    );
    assert_eq!(
        std::fs::metadata(tree.join("secret")).unwrap().mode() & 0o600,
        0o600,
        "the owner can read it"
    );
    let index = LayerIndex::from_bytes(std::fs::read(dir.join("index")).unwrap()).unwrap();
    let e = index.get(b"dev/null").unwrap().to_entry();
    assert_eq!(
        (e.kind, e.rdev_major, e.rdev_minor, e.uid),
        (EntryKind::CharDevice, 1, 3, 0)
    );
    assert_eq!(index.get(b"secret").unwrap().to_entry().mode, 0o000);
    assert_eq!(index.get(b"ro").unwrap().to_entry().mode, 0o555);
    // And the unprivileged daemon can remove what it made.
    d.ok(&["rmi", "rootless:1"]);
    assert_eq!(std::fs::read_dir(d.root.join("layers")).unwrap().count(), 0);
}

/// Rewrites the mode of the tar entry named `name` and fixes its checksum.
fn set_mode(tar: &mut [u8], name: &str, mode: u32) {
    let mut off = 0;
    while off + 512 <= tar.len() {
        let header = tar::Header::from_byte_slice(&tar[off..off + 512]);
        let size = header.entry_size().unwrap_or(0) as usize;
        if header.path_bytes().as_ref() == name.as_bytes() {
            let mut h = header.clone();
            h.set_mode(mode);
            h.set_cksum();
            tar[off..off + 512].copy_from_slice(h.as_bytes());
            return;
        }
        off += 512 + size.div_ceil(512) * 512;
    }
    panic!("no entry {name}");
}

#[test]
fn the_log_in_a_file_has_no_colour() {
    let d = Daemon::start();
    d.ok(&["images"]);
    let log = d.log();
    assert!(log.contains("stratad ready"), "{log}");
    assert!(!log.contains('\x1b'), "escape codes in a log file: {log:?}");
}

#[test]
fn the_pid_file_names_the_daemon_until_a_clean_stop() {
    let mut d = Daemon::start();
    // By default beside the socket.
    let pidfile = d.socket.with_file_name("stratad.pid");
    let named = || std::fs::read_to_string(&pidfile).unwrap_or_default();
    assert_eq!(named(), format!("{}\n", d.pid().unwrap()));
    d.stop();
    assert!(!pidfile.exists(), "a clean stop removes the pid file");
    // A crash leaves it behind; the next start replaces it.
    d.spawn();
    let first = d.pid().unwrap();
    d.kill();
    assert_eq!(named(), format!("{first}\n"), "SIGKILL leaves the file");
    d.spawn();
    assert_eq!(named(), format!("{}\n", d.pid().unwrap()));
    assert_ne!(d.pid(), Some(first));
    // Another daemon (its own store and socket) told to use the same file
    // is refused while this one runs, as dockerd refuses.
    let out = Command::new(STRATAD)
        .args(["--root", d.dir.path().join("root2").to_str().unwrap(), "-H"])
        .arg(format!("unix://{}", d.dir.path().join("other.sock").display()))
        .arg("--pidfile")
        .arg(&pidfile)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("names a running stratad"), "{err}");
    assert_eq!(named(), format!("{}\n", d.pid().unwrap()));
    d.ok(&["images"]);
    // --pidfile elsewhere.
    d.stop();
    let elsewhere = d.dir.path().join("run/elsewhere.pid");
    d.extra_args = vec!["--pidfile".into(), elsewhere.display().to_string()];
    d.spawn();
    assert_eq!(
        std::fs::read_to_string(&elsewhere).unwrap(),
        format!("{}\n", d.pid().unwrap())
    );
    d.stop();
    assert!(!elsewhere.exists());
}

/// A `--rm` container's record is written without fsync: a power loss
/// may leave it empty. The next start removes such a container when its
/// writable layer holds nothing, and keeps (unserved) one that holds data.
#[test]
fn an_unreadable_record_goes_only_with_an_empty_writable_layer() {
    let mut d = require!(Daemon::with_busybox());
    let empty = d.ok(&["create", "--rm", "busybox", "true"]).trim().to_string();
    let kept = d.ok(&["create", "busybox", "true"]).trim().to_string();
    d.stop();
    let containers = d.root.join("containers");
    let dir = |id: &str| containers.join(id);
    for id in [&empty, &kept] {
        // What a power loss leaves of a record whose data never reached the disk.
        std::fs::write(dir(id).join("container.json"), b"").unwrap();
    }
    std::fs::write(dir(&kept).join("upper/data"), b"the container's own").unwrap();
    d.spawn();
    assert!(
        !dir(&empty).exists(),
        "an empty writable layer under an unreadable record is removed"
    );
    assert_eq!(
        std::fs::read(dir(&kept).join("upper/data")).unwrap(),
        b"the container's own",
        "a writable layer with data is never thrown away"
    );
    let listed = d.ok(&["ps", "-a", "-q", "--no-trunc"]);
    assert!(!listed.contains(&kept) && !listed.contains(&empty), "{listed}");
}

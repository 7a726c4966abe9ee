//! The default `bridge` network through pasta: published ports answer,
//! unpublished ones do not, the host's loopback is out of reach, outbound
//! HTTP and DNS work, a taken port is Docker's error, and no pasta or
//! namespace file outlives its container or a killed daemon — as root
//! and rootless.

use super::{daemon, ok, stdout};
use crate::util::{Daemon, require, rootless_daemon, text, tool};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

/// A daemon (root) whose containers can have a bridge network.
fn net_daemon() -> Result<Daemon, String> {
    tool("pasta")?;
    daemon()
}

/// An HTTP request for nc (busybox's wget dies of SIGSEGV on these
/// connections, which would pass the negative check for nothing).
const REQUEST: &str = r"printf 'GET / HTTP/1.0\r\n\r\n'";

/// `--add-host x:host-gateway`: `x` is the gateway pasta maps to the
/// host, where the host's loopback listener on `host_port` answers; a
/// container that did not ask cannot reach it through that gateway.
fn host_gateway_reaches_only_who_asked(d: &Daemon, host_port: u16) {
    let through_gw = format!(
        "gw=$(ip route | awk '/^default/ {{ print $3 }}'); echo gw=$gw; {REQUEST} | timeout 4 nc $gw {host_port}"
    );
    let out = d.strata(&["run", "--rm", "busybox", "sh", "-c", &through_gw]);
    let seen = stdout(&out);
    assert!(
        seen.contains("gw=") && !seen.contains("gw=\n"),
        "a default route: {}",
        text(&out)
    );
    assert!(
        !seen.contains("fromhost"),
        "the host's loopback is reachable through the gateway without host-gateway: {}",
        text(&out)
    );
    let script = format!("grep -w x /etc/hosts; {REQUEST} | timeout 4 nc x {host_port}; true");
    // Through the docker CLI: the strata client has no --add-host.
    let out = docker_ok(
        d,
        &[
            "run",
            "--rm",
            "--add-host",
            "x:host-gateway",
            "busybox",
            "sh",
            "-c",
            &script,
        ],
    );
    assert!(out.contains("\r\n\r\nfromhost\n"), "{out}");
    let gw_line = out.lines().next().unwrap_or_default();
    assert!(gw_line.ends_with("\tx") && !gw_line.starts_with("127."), "{out}");
}

fn rootless_net_daemon() -> Result<Daemon, String> {
    tool("pasta")?;
    rootless_daemon()
}

fn docker_ok(d: &Daemon, args: &[&str]) -> String {
    let out = d.docker(args).expect("docker CLI");
    assert!(out.status.success(), "docker {args:?}: {}", text(&out));
    stdout(&out)
}

/// A port nobody listens on now (bound and closed).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// What an HTTP GET of `/` at 127.0.0.1:`port` answers, once it does
/// (retried until `limit`); `None` when nothing answered.
fn http_get(port: u16, limit: Duration) -> Option<String> {
    let deadline = Instant::now() + limit;
    loop {
        let got = TcpStream::connect(("127.0.0.1", port)).and_then(|mut s| {
            s.set_read_timeout(Some(Duration::from_secs(5)))?;
            s.write_all(b"GET / HTTP/1.0\r\n\r\n")?;
            let mut body = String::new();
            s.read_to_string(&mut body)?;
            Ok(body)
        });
        match got {
            Ok(body) if !body.is_empty() => return Some(body),
            _ if Instant::now() >= deadline => return None,
            _ => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

/// busybox's httpd serving "hello" on the container's port 80.
const SERVE: &str = "mkdir -p /www && echo hello > /www/index.html && exec httpd -f -p 80 -h /www";

/// The pids of pasta processes whose command line names `needle`.
fn pastas(needle: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmd) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let cmd = String::from_utf8_lossy(&cmd);
        if cmd.starts_with("pasta") && cmd.contains(needle) {
            out.push(pid);
        }
    }
    out
}

/// Mounts (of this process's namespace) under `path`.
fn mounts_under(path: &std::path::Path) -> Vec<String> {
    let p = path.display().to_string();
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter(|l| l.split_whitespace().nth(4).is_some_and(|m| m.starts_with(&p)))
        .map(String::from)
        .collect()
}

/// Whether process `pid` runs (not ended, nor a zombie).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(')').map(|(_, rest)| rest.trim_start().to_string()))
        .is_some_and(|rest| !rest.starts_with('Z') && !rest.starts_with('X'))
}

/// Where the store's spare networks' directories are: a path prefix
/// (see `src/engine/spare_network.rs`: the store's cgroup name, a hash
/// of its path).
fn spare_prefix(d: &Daemon) -> String {
    use std::os::unix::ffi::OsStrExt;
    let root = std::fs::canonicalize(&d.root).unwrap();
    let hex = crate::util::sha256_hex(root.as_os_str().as_bytes());
    format!("/run/strata/spare-net/strata-{}-", &hex[..16])
}

/// The directory of the store's spare network whose pasta is `pid`, if
/// it is one and the directory is there now (a spare of the daemon that
/// runs, not one a killed daemon left).
fn spare_dir_of(d: &Daemon, pid: u32) -> Option<std::path::PathBuf> {
    let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let prefix = spare_prefix(d);
    cmd.split(|b| *b == 0)
        .filter_map(|a| std::str::from_utf8(a).ok())
        .find(|a| a.starts_with(&prefix))
        .and_then(|pid_file| std::path::Path::new(pid_file).parent())
        .filter(|dir| dir.is_dir())
        .map(std::path::Path::to_path_buf)
}

/// The pasta of the store's spare network (not `not`), once there
/// (bounded), and its directory.
fn spare_pasta(d: &Daemon, not: Option<u32>) -> (u32, std::path::PathBuf) {
    let needle = spare_prefix(d);
    let mut found = None;
    crate::util::wait_for(
        || {
            found = pastas(&needle)
                .into_iter()
                .filter(|p| Some(*p) != not)
                .find_map(|p| spare_dir_of(d, p).map(|dir| (p, dir)));
            found.is_some()
        },
        "the spare network's pasta",
    );
    found.unwrap()
}

/// Waits (bounded) until no pasta of the store runs but the daemon's
/// spare network's (one at most, its directory there now).
fn no_pasta_left(d: &Daemon) {
    let needle = d.root.display().to_string();
    let left = || -> Vec<u32> {
        let mut all = pastas(&needle);
        all.extend(pastas(&spare_prefix(d)));
        if let Some(i) = all.iter().position(|p| spare_dir_of(d, *p).is_some()) {
            all.remove(i);
        }
        all
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while !left().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(left(), Vec::<u32>::new(), "pasta left behind");
    let mut netns: Vec<String> = mounts_under(&d.root)
        .into_iter()
        .filter(|l| l.contains("nsfs") || l.contains("netns"))
        .collect();
    // A root daemon's namespace files, as its log names them.
    let log = d.log();
    // The running spare's is its own.
    let spare = pastas(&spare_prefix(d))
        .into_iter()
        .find_map(|p| spare_dir_of(d, p))
        .and_then(|dir| {
            dir.file_name()
                .map(|n| format!("/run/strata/netns/{}", n.to_string_lossy()))
        });
    let files: Vec<&str> = log
        .lines()
        .filter_map(|l| l.split(" configured the network of ").nth(1))
        .filter_map(|rest| rest.split(' ').next())
        .filter(|f| f.starts_with("/run/strata/netns/") && Some(*f) != spare.as_deref())
        .collect();
    let mounted = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    netns.extend(
        files
            .iter()
            .filter(|f| mounted.contains(*f) || std::path::Path::new(f).exists())
            .map(|f| f.to_string()),
    );
    assert!(netns.is_empty(), "{netns:?}");
}

/// A published port answers, the same container unpublished does not,
/// the host's loopback is out of reach from a bridge container (but not
/// from a host one), and outbound HTTP with DNS works.
fn published_isolated_and_outbound(d: &Daemon, docker: bool) {
    let port = free_port();
    let publish = format!("127.0.0.1:{port}:80");
    let run = |args: &[&str]| -> String { if docker { docker_ok(d, args) } else { ok(d, args) } };
    let id = run(&["run", "-d", "-p", &publish, "busybox", "sh", "-c", SERVE]);
    let id = id.trim();
    let body = http_get(port, Duration::from_secs(10)).expect("the published port answers");
    assert!(body.contains("hello"), "{body}");
    let v = d.inspect(id);
    assert_eq!(
        v["NetworkSettings"]["Ports"]["80/tcp"],
        serde_json::json!([{"HostIp": "127.0.0.1", "HostPort": port.to_string()}]),
        "{v}"
    );
    assert!(
        !v["NetworkSettings"]["Networks"]["bridge"]["IPAddress"]
            .as_str()
            .unwrap()
            .is_empty()
    );
    let ports = run(&["port", id]);
    assert_eq!(ports.trim(), format!("80/tcp -> 127.0.0.1:{port}"));
    let ps = run(&["ps"]);
    assert!(ps.contains(&format!("127.0.0.1:{port}->80/tcp")), "{ps}");
    run(&["rm", "-f", id]);
    assert!(
        http_get(port, Duration::ZERO).is_none(),
        "the port outlives its container"
    );

    // Unpublished: nothing answers at the port on the host.
    let id = run(&[
        "run",
        "-d",
        "busybox",
        "sh",
        "-c",
        &SERVE.replace("-p 80", &format!("-p {port}")),
    ]);
    let id = id.trim();
    // It does serve inside (so a failure below is the isolation's).
    let inside = ok(
        d,
        &["exec", id, "wget", "-q", "-O-", &format!("http://127.0.0.1:{port}/")],
    );
    assert_eq!(inside.trim(), "hello");
    assert!(http_get(port, Duration::from_millis(300)).is_none());
    run(&["rm", "-f", id]);

    // The host's loopback is not the container's.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let host_port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut s in listener.incoming().flatten() {
            // The request read first: closing with it unread would reset
            // the connection under the reply.
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let _ = s.write_all(b"HTTP/1.0 200 OK\r\n\r\nfromhost\n");
            let _ = s.shutdown(std::net::Shutdown::Write);
            let _ = s.read(&mut buf);
        }
    });
    let url = format!("http://127.0.0.1:{host_port}/");
    // Nothing of the host's listens inside (pasta's `-T auto` would bind
    // the host's loopback ports there), and nothing answers.
    let script = format!("netstat -ltn; wget -q -T 3 -O- {url} && echo reached");
    let out = d.strata(&["run", "--rm", "busybox", "sh", "-c", &script]);
    let seen = stdout(&out);
    assert!(seen.contains("Proto"), "netstat ran: {}", text(&out));
    assert!(
        !seen.contains(&format!(":{host_port} ")) && !seen.contains("fromhost") && !seen.contains("reached"),
        "the host's loopback is reachable: {}",
        text(&out)
    );
    let out = ok(
        d,
        &["run", "--rm", "--network", "host", "busybox", "wget", "-q", "-O-", &url],
    );
    assert_eq!(out.trim(), "fromhost");
    host_gateway_reaches_only_who_asked(d, host_port);

    // Outbound: DNS and HTTP.
    let out = ok(
        d,
        &[
            "run",
            "--rm",
            "busybox",
            "wget",
            "-q",
            "-O-",
            "http://deb.debian.org/debian/dists/stable/Release",
        ],
    );
    assert!(out.contains("Origin: Debian"), "{out}");
    no_pasta_left(d);
}

#[test]
fn a_published_port_answers_and_the_host_stays_out_of_reach() {
    let d = require!(net_daemon());
    let docker = d.docker_cli().is_ok();
    published_isolated_and_outbound(&d, docker);
}

#[test]
fn a_rootless_daemon_has_the_same_bridge_network() {
    let d = require!(rootless_net_daemon());
    published_isolated_and_outbound(&d, false);
}

/// `-P` publishes an `EXPOSE`d port of the image on a random port.
#[test]
fn publish_all_takes_the_images_exposed_ports() {
    let d = require!(net_daemon());
    ok(&d, &["run", "--name", "base", "busybox", "true"]);
    let out = d.strata(&["commit", "-c", "EXPOSE 80", "base", "web"]);
    assert!(out.status.success(), "{}", text(&out));
    let id = ok(&d, &["run", "-d", "-P", "web", "sh", "-c", SERVE]);
    let id = id.trim();
    let v = d.inspect(id);
    let port: u16 = v["NetworkSettings"]["Ports"]["80/tcp"][0]["HostPort"]
        .as_str()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("{v}"));
    assert_eq!(v["NetworkSettings"]["Ports"]["80/tcp"][0]["HostIp"], "0.0.0.0");
    let body = http_get(port, Duration::from_secs(10)).expect("the random port answers");
    assert!(body.contains("hello"), "{body}");
    // Exposed but not published: null, as Docker shows it.
    let id2 = ok(&d, &["run", "-d", "web", "sleep", "100"]);
    let v = d.inspect(id2.trim());
    assert_eq!(v["NetworkSettings"]["Ports"], serde_json::json!({"80/tcp": null}));
    ok(&d, &["rm", "-f", id, id2.trim(), "base"]);
    no_pasta_left(&d);
}

/// A host port in use: Docker's error, 125 from `docker run`, nothing
/// left running; a bad spec is a 400 at create.
#[test]
fn a_taken_port_and_a_bad_spec_are_dockers_errors() {
    let d = require!(net_daemon());
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let publish = format!("127.0.0.1:{port}:80");
    let expect = format!(
        "failed to bind port 127.0.0.1:{port}/tcp: Error starting userland proxy: listen tcp4 127.0.0.1:{port}: bind: address already in use"
    );
    if let Some(out) = d.docker(&["run", "--name", "busy", "-p", &publish, "busybox", "true"]) {
        assert_eq!(out.status.code(), Some(125), "{}", text(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("driver failed programming external connectivity on endpoint busy ("),
            "{err}"
        );
        assert!(err.contains(&expect), "{err}");
        let state = docker_ok(&d, &["inspect", "-f", "{{.State.Status}}", "busy"]);
        assert_eq!(state.trim(), "created");
    }
    let out = d.strata(&["run", "-d", "-p", &publish, "busybox", "sleep", "100"]);
    assert!(!out.status.success());
    assert!(text(&out).contains(&expect), "{}", text(&out));
    no_pasta_left(&d);
    for (key, host_port, bad) in [
        ("abc/tcp", "1", "abc"),
        ("0/tcp", "1", "0"),
        ("80/tcp", "65536", "65536"),
    ] {
        let body = format!(
            r#"{{"Image":"busybox","Cmd":["true"],"HostConfig":{{"PortBindings":{{"{key}":[{{"HostPort":"{host_port}"}}]}}}}}}"#
        );
        let (status, reply) = d.http("POST", "/containers/create", body.as_bytes());
        assert_eq!(status, 400, "{reply}");
        assert!(
            reply.contains(&format!("invalid port specification: \\\"{bad}\\\"")),
            "{reply}"
        );
    }
    // Other containers' networks and user-defined ones that do not exist.
    let out = d.strata(&["run", "--rm", "--network", "container:x", "busybox", "true"]);
    assert!(text(&out).contains("No such container: x"), "{}", text(&out));
    let out = d.strata(&["run", "--rm", "--network", "app", "busybox", "true"]);
    assert!(text(&out).contains("network app not found"), "{}", text(&out));
}

/// `none` has only `lo`; `host` sees the host's interfaces; the default
/// has `eth0` and its own loopback.
#[test]
fn none_host_and_bridge_interfaces() {
    let d = require!(net_daemon());
    let none = ok(
        &d,
        &["run", "--rm", "--network", "none", "busybox", "ls", "/sys/class/net"],
    );
    assert_eq!(none.split_whitespace().collect::<Vec<_>>(), ["lo"]);
    let host: Vec<String> = std::fs::read_dir("/sys/class/net")
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let inside = ok(
        &d,
        &["run", "--rm", "--network", "host", "busybox", "ls", "/sys/class/net"],
    );
    for i in &host {
        assert!(inside.split_whitespace().any(|x| x == i), "{i} not in {inside}");
    }
    // Ports are Docker's warning with a host network, nothing with none.
    let publish = format!("127.0.0.1:{}:80", free_port());
    let out = d.strata(&["run", "--rm", "--network", "host", "-p", &publish, "busybox", "true"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("WARNING: Published ports are discarded when using host network mode"),
        "{}",
        text(&out)
    );
    ok(
        &d,
        &["run", "--rm", "--network", "none", "-p", &publish, "busybox", "true"],
    );
    let bridge = ok(&d, &["run", "--rm", "busybox", "ls", "/sys/class/net"]);
    let mut names: Vec<&str> = bridge.split_whitespace().collect();
    names.sort();
    assert_eq!(names, ["eth0", "lo"]);
    let hosts = ok(
        &d,
        &["run", "--rm", "--hostname", "web", "busybox", "cat", "/etc/hosts"],
    );
    assert!(
        hosts.lines().any(|l| l.ends_with("\tweb") && !l.starts_with("127.")),
        "{hosts}"
    );
    let resolv = ok(&d, &["run", "--rm", "busybox", "cat", "/etc/resolv.conf"]);
    assert!(
        !resolv
            .lines()
            .any(|l| l.starts_with("nameserver 127.") || l.starts_with("nameserver ::1")),
        "{resolv}"
    );
}

/// A root daemon keeps a namespace with pasta on it for the next
/// default-network container that asks nothing of pasta: that
/// container's init is in it, with the MAC inspect shows, and a new spare
/// follows; the taken spare's pasta and files end with the container. A
/// container that publishes a port has its own pasta, the spare stays.
#[test]
fn a_spare_network_is_the_next_plain_bridge_containers() {
    use std::os::unix::fs::MetadataExt;
    let d = require!(net_daemon());
    let (spare, dir) = spare_pasta(&d, None);
    let file = format!("/run/strata/netns/{}", dir.file_name().unwrap().to_string_lossy());
    let ns_of = |pid: u64| std::fs::metadata(format!("/proc/{pid}/ns/net")).unwrap().ino();
    let pid_of = |id: &str| d.inspect(id)["State"]["Pid"].as_u64().unwrap();

    let port = free_port();
    let published = ok(
        &d,
        &[
            "run",
            "-d",
            "-p",
            &format!("127.0.0.1:{port}:80"),
            "busybox",
            "sleep",
            "100",
        ],
    );
    assert_ne!(ns_of(pid_of(published.trim())), std::fs::metadata(&file).unwrap().ino());
    assert_eq!(
        spare_pasta(&d, None).0,
        spare,
        "a container with a port leaves the spare"
    );
    ok(&d, &["rm", "-f", published.trim()]);

    let id = ok(&d, &["run", "-d", "busybox", "sleep", "100"]);
    let id = id.trim();
    assert_eq!(
        ns_of(pid_of(id)),
        std::fs::metadata(&file).unwrap().ino(),
        "the init is in the spare's namespace"
    );
    let mac = d.inspect(id)["NetworkSettings"]["Networks"]["bridge"]["MacAddress"]
        .as_str()
        .unwrap()
        .to_string();
    let inside = ok(&d, &["exec", id, "sh", "-c", "cat /sys/class/net/*/address"]);
    assert!(!mac.is_empty() && inside.lines().any(|l| l == mac), "{mac} in {inside}");
    let (next, _) = spare_pasta(&d, Some(spare));
    assert_ne!(next, spare);
    assert!(
        std::path::Path::new(&format!("/proc/{spare}")).exists(),
        "the container's pasta"
    );

    ok(&d, &["rm", "-f", id]);
    crate::util::wait_for(
        || !alive(spare) && !dir.exists(),
        "the taken spare's pasta and directory to go",
    );
    assert!(!std::path::Path::new(&file).exists(), "{file} left");
    no_pasta_left(&d);
}

/// After `rm -f`, and after a SIGKILL of the daemon and its restart, no
/// pasta of this daemon and no namespace file remain.
#[test]
fn no_pasta_outlives_its_container_or_a_killed_daemon() {
    let mut d = require!(net_daemon());
    let port = free_port();
    let publish = format!("127.0.0.1:{port}:80");
    let id = ok(&d, &["run", "-d", "-p", &publish, "busybox", "sh", "-c", SERVE]);
    assert!(http_get(port, Duration::from_secs(10)).is_some());
    assert_eq!(pastas(id.trim()).len(), 1);
    ok(&d, &["rm", "-f", id.trim()]);
    no_pasta_left(&d);
    let id = ok(&d, &["run", "-d", "-p", &publish, "busybox", "sh", "-c", SERVE]);
    assert!(http_get(port, Duration::from_secs(10)).is_some());
    assert!(
        d.log().contains(" configured the network of /run/strata/netns/"),
        "the namespace file is not named in the log"
    );
    let (old_spare, old_dir) = spare_pasta(&d, None);
    d.kill();
    d.spawn();
    // The killed daemon's spare network is ended, and a new one made.
    spare_pasta(&d, Some(old_spare));
    assert!(!old_dir.exists(), "{} left", old_dir.display());
    assert!(!alive(old_spare), "its pasta left");
    no_pasta_left(&d);
    assert!(http_get(port, Duration::ZERO).is_none());
    // It starts again, with its port.
    ok(&d, &["start", id.trim()]);
    assert!(http_get(port, Duration::from_secs(10)).is_some());
    ok(&d, &["rm", "-f", id.trim()]);
    no_pasta_left(&d);
    // A clean stop ends the spare too, even one being made.
    for _ in 0..3 {
        d.stop();
        // (Killed, not waited for: gone in a moment.)
        crate::util::wait_for(
            || pastas(&spare_prefix(&d)).is_empty(),
            "a stopped daemon's spare to end",
        );
        d.spawn();
    }
}

/// `apt-get update` in a Debian container on the default network: the
/// package registry answers through the container's own network.
fn apt_get_update_works(d: &Daemon, run_extra: &[&str]) {
    let tar = crate::util::debian_tar().unwrap_or_else(|e| panic!("{e}"));
    ok(
        d,
        &[
            "import",
            "-c",
            "CMD [\"bash\"]",
            tar.to_str().unwrap(),
            "debian:bookworm",
        ],
    );
    let mut args = vec!["run", "--rm", "debian:bookworm", "apt-get"];
    args.extend_from_slice(run_extra);
    args.push("update");
    let out = d.strata(&args);
    let shown = stdout(&out);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        shown
            .lines()
            .any(|l| l.starts_with("Get:") && l.contains("deb.debian.org")),
        "fetched from the registry: {shown}"
    );
    assert!(shown.contains("Reading package lists"), "{shown}");
    let inspect = d.inspect("debian:bookworm");
    assert_eq!(inspect["Config"]["Cmd"][0], "bash");
    no_pasta_left(d);
}

#[test]
fn apt_get_update_works_on_the_default_network() {
    let d = require!(net_daemon());
    apt_get_update_works(&d, &[]);
}

#[test]
fn apt_get_update_works_on_a_rootless_daemons_default_network() {
    let d = require!(rootless_net_daemon());
    // The container's user namespace maps its root alone: apt's download
    // sandbox (setuid to _apt) cannot work there, as under any one-id
    // mapping, so it runs as root inside.
    apt_get_update_works(&d, &["-o", "APT::Sandbox::User=root"]);
}

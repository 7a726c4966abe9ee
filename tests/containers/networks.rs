//! User-defined networks (issue 17, slice 2), driven with the docker
//! CLI: the objects' shapes and errors, containers that reach each other
//! by name and alias on one network and not across two, connect and
//! disconnect of a running container, persistence across a daemon's
//! restart, no veth, bridge or namespace left, and the refusal of a
//! rootless daemon.

use crate::util::{Daemon, require, rootless_daemon, text, tool};
use std::path::Path;

/// A web server named `web`, alias `www`, on network `app`.
const WEB: &[&str] = &[
    "run",
    "-d",
    "--name",
    "web",
    "--network",
    "app",
    "--network-alias",
    "www",
    "busybox",
    "sh",
    "-c",
    SERVE,
];

fn net_daemon() -> Result<Daemon, String> {
    tool("pasta")?;
    tool("nsenter")?;
    tool("unshare")?;
    let d = Daemon::with_docker_and_busybox()?;
    Ok(d)
}

/// busybox's httpd serving "hello" on the container's port 80.
const SERVE: &str = "mkdir -p /www && echo hello > /www/index.html && exec httpd -f -p 80 -h /www";

fn inspect_network(d: &Daemon, name: &str) -> serde_json::Value {
    let out = d.docker_ok(&["network", "inspect", name]);
    let v: serde_json::Value = serde_json::from_str(&out).expect("network inspect JSON");
    v[0].clone()
}

/// What `GET http://TARGET/` gives from a new container on `network`
/// (through nc: busybox's static wget crashes on a name it cannot
/// resolve, which must not pass for "unreachable").
fn fetch_from(d: &Daemon, network: &str, target: &str) -> String {
    let script = format!("printf 'GET / HTTP/1.0\\r\\n\\r\\n' | timeout 5 nc -w 3 {target} 80; true");
    let out = d
        .docker(&["run", "--rm", "--network", network, "busybox", "sh", "-c", &script])
        .expect("docker CLI");
    assert!(out.status.success(), "{}", text(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The namespace file of a network, by its ID.
fn netns_of(id: &str) -> String {
    format!("/run/strata/netns/net-{}", &id[..12])
}

fn is_bound(file: &str) -> bool {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .any(|l| l.split_whitespace().nth(4) == Some(file))
}

/// The interfaces on the network's bridge (its namespace must exist).
fn bridge_ports(id: &str) -> Vec<String> {
    let out = std::process::Command::new("nsenter")
        .arg(format!("--net={}", netns_of(id)))
        .args(["ip", "-o", "link", "show", "master", "br0"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        .collect()
}

#[test]
fn network_objects_shapes_and_errors() {
    let d = require!(net_daemon());
    let ls = d.docker_ok(&["network", "ls", "--format", "{{.Name}} {{.Driver}} {{.Scope}}"]);
    assert_eq!(ls, "bridge bridge local\nhost host local\nnone null local\n");
    let id = d.docker_ok(&["network", "create", "--label", "tier=front", "app"]);
    let id = id.trim();
    assert_eq!(id.len(), 64, "{id}");
    let e = d.docker_fails(&["network", "create", "app"]);
    assert!(e.contains("network with name app already exists"), "{e}");
    let e = d.docker_fails(&["network", "create", "bridge"]);
    assert!(e.contains("network with name bridge already exists"), "{e}");
    let e = d.docker_fails(&["network", "create", "-d", "macvlan", "mv"]);
    assert!(e.contains("only the bridge network driver"), "{e}");
    let e = d.docker_fails(&[
        "network",
        "create",
        "--ip-range",
        "172.30.1.0/24",
        "--subnet",
        "172.30.0.0/16",
        "r",
    ]);
    assert!(e.contains("IPRange"), "{e}");
    let v = inspect_network(&d, "app");
    assert_eq!(v["Id"], id);
    assert_eq!(v["Driver"], "bridge");
    assert_eq!(v["Scope"], "local");
    assert_eq!(v["Labels"]["tier"], "front");
    let subnet = v["IPAM"]["Config"][0]["Subnet"].as_str().unwrap().to_string();
    assert!(subnet.starts_with("172.") && subnet.ends_with(".0.0/16"), "{subnet}");
    assert_eq!(
        v["IPAM"]["Config"][0]["Gateway"],
        subnet.replace(".0.0/16", ".0.1").as_str()
    );
    // By ID prefix too; another network gets another subnet.
    assert_eq!(inspect_network(&d, &id[..6])["Name"], "app");
    d.docker_ok(&[
        "network",
        "create",
        "--subnet",
        "10.213.0.0/24",
        "--gateway",
        "10.213.0.254",
        "fixed",
    ]);
    let v = inspect_network(&d, "fixed");
    assert_eq!(v["IPAM"]["Config"][0]["Subnet"], "10.213.0.0/24");
    assert_eq!(v["IPAM"]["Config"][0]["Gateway"], "10.213.0.254");
    let e = d.docker_fails(&["network", "create", "--subnet", "10.213.0.0/16", "overlapping"]);
    assert!(e.contains("Pool overlaps"), "{e}");
    // Filters.
    let names = d.docker_ok(&["network", "ls", "-q", "--no-trunc", "--filter", "label=tier=front"]);
    assert_eq!(names.trim(), id);
    let names = d.docker_ok(&["network", "ls", "--filter", "type=custom", "--format", "{{.Name}}"]);
    assert_eq!(names, "app\nfixed\n");
    // Unknown, predefined, in use.
    let e = d.docker_fails(&["network", "inspect", "nosuch"]);
    assert!(e.contains("network nosuch not found"), "{e}");
    let e = d.docker_fails(&["run", "--rm", "--network", "nosuch", "busybox", "true"]);
    assert!(e.contains("network nosuch not found"), "{e}");
    let e = d.docker_fails(&["network", "rm", "bridge"]);
    assert!(
        e.contains("bridge is a pre-defined network and cannot be removed"),
        "{e}"
    );
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "user",
        "--network",
        "app",
        "busybox",
        "sleep",
        "1000",
    ]);
    let e = d.docker_fails(&["network", "rm", "app"]);
    assert!(
        e.contains(&format!(
            "error while removing network: network app id {id} has active endpoints"
        )),
        "{e}"
    );
    let (status, body) = d.http("DELETE", "/networks/app", b"");
    assert_eq!(status, 403, "{body}");
    // Prune takes the unused one only.
    let out = d.docker_ok(&["network", "prune", "-f"]);
    assert!(out.contains("fixed") && !out.contains("app"), "{out}");
    d.docker_ok(&["rm", "-f", "user"]);
    d.docker_ok(&["network", "rm", "app"]);
    assert!(
        !Path::new(&netns_of(id)).exists(),
        "the network's namespace file is left"
    );
}

#[test]
fn containers_reach_each_other_by_name_and_not_across_networks() {
    let d = require!(net_daemon());
    let app = d.docker_ok(&["network", "create", "app"]);
    d.docker_ok(&["network", "create", "other"]);
    d.docker_ok(WEB);
    let ip = d.docker_ok(&["inspect", "-f", "{{.NetworkSettings.Networks.app.IPAddress}}", "web"]);
    let ip = ip.trim().to_string();
    assert!(ip.starts_with("172."), "{ip}");
    crate::util::wait_for(
        || fetch_from(&d, "app", "web").contains("hello"),
        "web answering by name",
    );
    assert!(fetch_from(&d, "app", "www").contains("hello"), "by its alias");
    assert!(fetch_from(&d, "app", &ip).contains("hello"), "by its address");
    // `hostname -i` and the container's own line are its address there.
    let own = d.docker_ok(&["run", "--rm", "--network", "app", "busybox", "hostname", "-i"]);
    assert!(own.trim().starts_with(&ip[..ip.rfind('.').unwrap()]), "{own} vs {ip}");
    // Another network: neither the name nor the address reaches it.
    assert!(!fetch_from(&d, "other", "web").contains("hello"));
    assert!(!fetch_from(&d, "other", &ip).contains("hello"));
    let e = d
        .docker(&[
            "run",
            "--rm",
            "--network",
            "other",
            "busybox",
            "ping",
            "-c1",
            "-W1",
            "web",
        ])
        .unwrap();
    assert!(
        String::from_utf8_lossy(&e.stderr).contains("bad address 'web'"),
        "{}",
        text(&e)
    );
    assert!(
        !fetch_from(&d, "bridge", &ip).contains("hello"),
        "from the default bridge"
    );
    // The network shows its container; the bridge has its veth end.
    let v = inspect_network(&d, "app");
    let containers = v["Containers"].as_object().unwrap();
    assert_eq!(containers.len(), 1, "{v}");
    let (_, web) = containers.iter().next().unwrap();
    assert_eq!(web["Name"], "web");
    assert_eq!(web["IPv4Address"], format!("{ip}/16").as_str());
    assert_eq!(bridge_ports(app.trim()).len(), 1);
    d.docker_ok(&["rm", "-f", "web"]);
    crate::util::wait_for(
        || bridge_ports(app.trim()).is_empty(),
        "the veth going with its container",
    );
}

#[test]
fn connect_and_disconnect_a_running_container() {
    let d = require!(net_daemon());
    d.docker_ok(&["network", "create", "app"]);
    d.docker_ok(&["network", "create", "side"]);
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "--network",
        "app",
        "busybox",
        "sh",
        "-c",
        SERVE,
    ]);
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "client",
        "--network",
        "side",
        "busybox",
        "sleep",
        "1000",
    ]);
    let get = |target: &str| {
        let script = format!("printf 'GET / HTTP/1.0\\r\\n\\r\\n' | timeout 5 nc -w 3 {target} 80; true");
        d.docker_ok(&["exec", "client", "sh", "-c", &script])
    };
    assert!(!get("web").contains("hello"));
    d.docker_ok(&["network", "connect", "--alias", "cli", "app", "client"]);
    crate::util::wait_for(|| get("web").contains("hello"), "web reachable after the connect");
    // web learned the new name, in place (its bind-mounted file).
    let hosts = d.docker_ok(&["exec", "web", "cat", "/etc/hosts"]);
    assert!(hosts.lines().any(|l| l.contains("\tclient cli ")), "{hosts}");
    let e = d.docker_fails(&["network", "connect", "app", "client"]);
    assert!(
        e.contains("endpoint with name client already exists in network app"),
        "{e}"
    );
    let v = d.inspect("client");
    assert_eq!(v["NetworkSettings"]["Networks"]["app"]["Aliases"][0], "cli");
    assert!(
        v["NetworkSettings"]["Networks"]["side"]["IPAddress"]
            .as_str()
            .unwrap()
            .starts_with("172.")
    );
    d.docker_ok(&["network", "disconnect", "app", "client"]);
    assert!(!get("web").contains("hello"));
    let links = d.docker_ok(&["exec", "client", "ip", "-o", "-4", "addr"]);
    assert_eq!(links.lines().count(), 3, "lo, pasta's and side's: {links}");
    let hosts = d.docker_ok(&["exec", "web", "cat", "/etc/hosts"]);
    assert!(!hosts.contains("client"), "{hosts}");
    let e = d.docker_fails(&["network", "disconnect", "app", "client"]);
    assert!(e.contains("is not connected to network app"), "{e}");
    d.docker_ok(&["rm", "-f", "web", "client"]);
}

#[test]
fn networks_survive_a_killed_daemon_and_leave_nothing() {
    let mut d = require!(net_daemon());
    let id = d.docker_ok(&["network", "create", "keep"]);
    let id = id.trim().to_string();
    assert!(is_bound(&netns_of(&id)));
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "k",
        "--network",
        "keep",
        "busybox",
        "sh",
        "-c",
        SERVE,
    ]);
    assert_eq!(bridge_ports(&id).len(), 1);
    let subnet = inspect_network(&d, "keep")["IPAM"]["Config"][0]["Subnet"].clone();
    d.kill();
    d.spawn();
    let v = inspect_network(&d, "keep");
    assert_eq!(v["Id"], id.as_str());
    assert_eq!(v["IPAM"]["Config"][0]["Subnet"], subnet);
    assert_eq!(v["Containers"].as_object().map(|c| c.len()), Some(0), "{v}");
    crate::util::wait_for(|| bridge_ports(&id).is_empty(), "the dead container's veth gone");
    // It starts again on its network.
    d.docker_ok(&["start", "k"]);
    crate::util::wait_for(
        || fetch_from(&d, "keep", "k").contains("hello"),
        "k answering after the restart",
    );
    d.docker_ok(&["rm", "-f", "k"]);
    d.docker_ok(&["network", "rm", "keep"]);
    assert!(!is_bound(&netns_of(&id)), "namespace bind left");
    assert!(!Path::new(&netns_of(&id)).exists(), "namespace file left");
    assert!(!d.docker_ok(&["network", "ls"]).contains("keep"));
    // A stopped daemon leaves no namespace; its next start makes it again.
    let id = d.docker_ok(&["network", "create", "again"]);
    let id = id.trim().to_string();
    d.stop();
    assert!(
        !is_bound(&netns_of(&id)),
        "a stopped daemon left its network's namespace"
    );
    d.spawn();
    assert!(is_bound(&netns_of(&id)), "the restarted daemon did not make it again");
    d.docker_ok(&["network", "rm", "again"]);
    assert!(!is_bound(&netns_of(&id)));
}

/// The processes holding a rootless daemon's namespaces (their command
/// line names its store).
fn holders(d: &Daemon) -> Vec<u32> {
    let tag = format!("strata-store={}", d.root.display());
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_string_lossy().parse::<u32>().ok())
        .filter(|pid| {
            let args = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let args = String::from_utf8_lossy(&args);
            args.contains("__strata-hold") && args.contains(&tag)
        })
        .collect()
}

/// Rootless: names on one network, isolation from another, connect, and
/// no holder left after the daemon's stop (nor after a SIGKILL and a
/// restart).
#[test]
fn rootless_containers_reach_each_other_by_name() {
    let mut d = require!(rootless_daemon());
    require!(d.docker_cli());
    tool("pasta").unwrap_or_else(|e| panic!("{e}"));
    d.docker_ok(&["network", "create", "app"]);
    d.docker_ok(&["network", "create", "other"]);
    d.docker_ok(WEB);
    crate::util::wait_for(
        || fetch_from(&d, "app", "web").contains("hello"),
        "web by name, rootless",
    );
    assert!(fetch_from(&d, "app", "www").contains("hello"));
    let ip = d.docker_ok(&["inspect", "-f", "{{.NetworkSettings.Networks.app.IPAddress}}", "web"]);
    assert!(!fetch_from(&d, "other", "web").contains("hello"));
    assert!(!fetch_from(&d, "other", ip.trim()).contains("hello"));
    assert_eq!(holders(&d).len(), 3, "the user namespace's and two networks'");
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "client",
        "--network",
        "other",
        "busybox",
        "sleep",
        "1000",
    ]);
    d.docker_ok(&["network", "connect", "app", "client"]);
    let script = "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | timeout 5 nc -w 3 web 80; true";
    assert!(d.docker_ok(&["exec", "client", "sh", "-c", script]).contains("hello"));
    d.docker_ok(&["network", "disconnect", "app", "client"]);
    assert!(!d.docker_ok(&["exec", "client", "sh", "-c", script]).contains("hello"));
    d.docker_ok(&["rm", "-f", "web", "client"]);
    d.docker_ok(&["network", "rm", "other"]);
    assert_eq!(holders(&d).len(), 2);
    d.kill();
    d.spawn();
    crate::util::wait_for(
        || holders(&d).is_empty(),
        "a killed daemon's holders ended at the next start",
    );
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "--network",
        "app",
        "busybox",
        "sh",
        "-c",
        SERVE,
    ]);
    crate::util::wait_for(
        || fetch_from(&d, "app", "web").contains("hello"),
        "web after the restart",
    );
    d.docker_ok(&["rm", "-f", "web"]);
    d.stop();
    assert!(holders(&d).is_empty(), "a stopped daemon left its holders");
}

/// `strata network …` prints what `docker network …` prints, and
/// `strata run --network NET --network-alias A` is reachable by its alias.
#[test]
fn strata_network_commands_print_as_docker() {
    let d = require!(net_daemon());
    let id = super::ok(&d, &["network", "create", "--label", "a=b", "app"]);
    assert_eq!(id.trim().len(), 64, "{id}");
    let e = d.strata(&["network", "create", "app"]);
    assert!(!e.status.success());
    assert!(
        text(&e).contains("network with name app already exists"),
        "{}",
        text(&e)
    );
    assert_eq!(super::ok(&d, &["network", "ls"]), d.docker_ok(&["network", "ls"]));
    assert_eq!(
        super::ok(&d, &["network", "ls", "-q", "--filter", "label=a=b"]),
        d.docker_ok(&["network", "ls", "-q", "--filter", "label=a=b"])
    );
    let ours: serde_json::Value = serde_json::from_str(&super::ok(&d, &["network", "inspect", "app"])).unwrap();
    let theirs: serde_json::Value = serde_json::from_str(&d.docker_ok(&["network", "inspect", "app"])).unwrap();
    assert_eq!(ours, theirs);
    super::ok(&d, WEB);
    crate::util::wait_for(|| fetch_from(&d, "app", "www").contains("hello"), "web by its alias");
    let e = d.strata(&["run", "--rm", "--network-alias", "x", "busybox", "true"]);
    assert!(
        text(&e).contains("network-scoped alias is supported only for containers in user defined networks"),
        "{}",
        text(&e)
    );
    super::ok(&d, &["run", "-d", "--name", "side", "busybox", "sleep", "100"]);
    // app's subnet was not the user's: no address may be asked for.
    let e = d.strata(&["network", "connect", "--ip", "172.30.0.9", "app", "side"]);
    assert!(
        text(&e).contains(
            "user specified IP address is supported only when connecting to networks with user configured subnets"
        ),
        "{}",
        text(&e)
    );
    assert_eq!(super::ok(&d, &["network", "connect", "app", "side"]), "");
    let v = d.inspect("side");
    assert!(
        v["NetworkSettings"]["Networks"]["app"]["IPAddress"]
            .as_str()
            .unwrap()
            .starts_with("172."),
        "{v}"
    );
    assert_eq!(super::ok(&d, &["network", "disconnect", "app", "side"]), "");
    let e = d.strata(&["network", "rm", "bridge", "nosuch"]);
    assert!(!e.status.success());
    let err = String::from_utf8_lossy(&e.stderr);
    assert!(
        err.contains("bridge is a pre-defined network and cannot be removed"),
        "{err}"
    );
    assert!(err.contains("network nosuch not found"), "{err}");
    super::ok(&d, &["rm", "-f", "web", "side"]);
    super::ok(&d, &["network", "create", "spare"]);
    assert_eq!(super::ok(&d, &["network", "rm", "spare"]), "spare\n");
    assert_eq!(super::ok(&d, &["network", "prune", "-f"]), "Deleted Networks:\napp\n\n");
    assert_eq!(super::ok(&d, &["network", "prune", "-f"]), "");
}

/// `--dns`, `--dns-search`, `--dns-option` and `--add-host` land in the
/// container's files (and would be missed if ignored); host-gateway is
/// refused where it has no meaning (`--network none`).
#[test]
fn dns_options_and_extra_hosts_are_written() {
    let d = require!(net_daemon());
    let out = d.docker_ok(&[
        "run",
        "--rm",
        "--dns",
        "192.0.2.53",
        "--dns-search",
        "example.com",
        "--dns-option",
        "ndots:2",
        "--add-host",
        "db:192.0.2.9",
        "busybox",
        "sh",
        "-c",
        "cat /etc/resolv.conf; echo ---; cat /etc/hosts",
    ]);
    let (resolv, hosts) = out.split_once("---\n").unwrap();
    let ns: Vec<&str> = resolv.lines().filter(|l| l.starts_with("nameserver")).collect();
    assert_eq!(ns, ["nameserver 192.0.2.53"], "{resolv}");
    assert!(resolv.lines().any(|l| l == "search example.com"), "{resolv}");
    assert!(resolv.lines().any(|l| l == "options ndots:2"), "{resolv}");
    assert!(hosts.lines().any(|l| l == "192.0.2.9\tdb"), "{hosts}");
    let ping = d
        .docker(&[
            "run",
            "--rm",
            "--add-host",
            "db:127.0.0.1",
            "busybox",
            "ping",
            "-c1",
            "-W2",
            "db",
        ])
        .unwrap();
    assert!(ping.status.success(), "the extra name resolves: {}", text(&ping));
    let e = d.docker_fails(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--add-host",
        "h:host-gateway",
        "busybox",
        "true",
    ]);
    assert!(e.contains("host-gateway"), "{e}");
    let hosts = d.docker_ok(&[
        "run",
        "--rm",
        "--network",
        "host",
        "--add-host",
        "h:host-gateway",
        "busybox",
        "cat",
        "/etc/hosts",
    ]);
    assert!(hosts.lines().any(|l| l == "127.0.0.1\th"), "{hosts}");
    let e = d.docker_fails(&["run", "--rm", "--add-host", "db:nope", "busybox", "true"]);
    assert!(e.contains("add-host"), "{e}");
}

/// `--domainname`: the UTS domain name, the hosts file's
/// `IP host.domain host` line and `Config.Domainname`, as Docker's.
#[test]
fn domainname_is_the_uts_domain_and_in_hosts() {
    let d = require!(net_daemon());
    let script = "cat /proc/sys/kernel/domainname; echo ---; cat /etc/hosts; echo ---; cat /etc/hostname";
    let out = d.docker_ok(&[
        "run",
        "--name",
        "dom",
        "--hostname",
        "h",
        "--domainname",
        "example.com",
        "busybox",
        "sh",
        "-c",
        script,
    ]);
    let parts: Vec<&str> = out.split("---\n").collect();
    assert_eq!(parts[0], "example.com\n", "{out}");
    assert!(
        parts[1]
            .lines()
            .any(|l| l.ends_with("\th.example.com h") && !l.starts_with("127.")),
        "{out}"
    );
    assert_eq!(parts[2], "h\n", "{out}");
    let inspect = d.docker_ok(&["inspect", "-f", "{{.Config.Domainname}}", "dom"]);
    assert_eq!(inspect, "example.com\n");
    let plain = d.docker_ok(&["run", "--rm", "busybox", "cat", "/proc/sys/kernel/domainname"]);
    assert_eq!(plain, "(none)\n", "no domain name without --domainname");
    d.docker_ok(&["rm", "dom"]);
}

/// `--network container:NAME`: the other container's loopback, name and
/// resolver; Docker's errors when it is missing, stopped, or the options
/// conflict. `rootless`: the same through a rootless daemon.
fn joins_another_containers_network(d: &Daemon) {
    d.docker_ok(&["run", "-d", "--name", "web", "busybox", "sh", "-c", SERVE]);
    let script =
        "for i in 1 2 3 4 5 6 7 8 9 10; do wget -qO- http://127.0.0.1/ && break; sleep 0.2; done; echo; hostname";
    let out = d.docker_ok(&[
        "run",
        "--rm",
        "--network",
        "container:web",
        "busybox",
        "sh",
        "-c",
        script,
    ]);
    let web_host = d.docker_ok(&["inspect", "-f", "{{.Config.Hostname}}", "web"]);
    assert_eq!(out, format!("hello\n\n{}", web_host), "web's loopback and hostname");
    let e = d.docker_fails(&["run", "--rm", "--network", "container:nosuch", "busybox", "true"]);
    assert!(e.contains("No such container: nosuch"), "{e}");
    d.docker_ok(&["create", "--name", "stopped", "busybox", "true"]);
    let e = d.docker_fails(&["run", "--rm", "--network", "container:stopped", "busybox", "true"]);
    assert!(
        e.contains("cannot join network namespace of a non running container: stopped"),
        "{e}"
    );
    let e = d.docker_fails(&[
        "run",
        "--rm",
        "--network",
        "container:web",
        "-p",
        "8080:80",
        "busybox",
        "true",
    ]);
    assert!(e.contains("conflicting options: port publishing"), "{e}");
    let e = d.docker_fails(&[
        "run",
        "--rm",
        "--network",
        "container:web",
        "--hostname",
        "x",
        "busybox",
        "true",
    ]);
    assert!(e.contains("conflicting options: hostname and the network mode"), "{e}");
    d.docker_ok(&["rm", "-f", "web", "stopped"]);
}

#[test]
fn network_container_mode() {
    let d = require!(net_daemon());
    joins_another_containers_network(&d);
}

#[test]
fn network_container_mode_rootless() {
    let d = require!(rootless_daemon());
    require!(d.docker_cli());
    tool("pasta").unwrap_or_else(|e| panic!("{e}"));
    joins_another_containers_network(&d);
}

/// An `--internal` network as the mode: the peers by name, and no way
/// out (no pasta, so no interface but the network's and no default
/// route).
#[test]
fn an_internal_network_has_no_way_out() {
    let d = require!(net_daemon());
    d.docker_ok(&["network", "create", "--internal", "priv"]);
    assert_eq!(inspect_network(&d, "priv")["Internal"], true);
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "--network",
        "priv",
        "busybox",
        "sh",
        "-c",
        SERVE,
    ]);
    crate::util::wait_for(
        || fetch_from(&d, "priv", "web").contains("hello"),
        "web on the internal network",
    );
    let links = d.docker_ok(&[
        "run",
        "--rm",
        "--network",
        "priv",
        "busybox",
        "sh",
        "-c",
        "ls /sys/class/net; ip route",
    ]);
    assert!(!links.contains("default"), "{links}");
    let names: Vec<&str> = links.lines().take_while(|l| !l.contains(' ')).collect();
    assert_eq!(names, ["eth0", "lo"], "{links}");
    assert!(pastas_of(&d).is_empty());
    d.docker_ok(&["rm", "-f", "web"]);
}

/// The pastas whose command line names this daemon's store.
fn pastas_of(d: &Daemon) -> Vec<u32> {
    let needle = d.root.display().to_string();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_string_lossy().parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| {
                    let c = String::from_utf8_lossy(&c);
                    c.starts_with("pasta") && c.contains(&needle)
                })
                .unwrap_or(false)
        })
        .collect()
}

/// `--ip` on a network whose subnet the user gave: the container has that
/// address (run and connect); an address in use, outside the subnet, on a
/// network without a subnet of the user's, or on the default bridge gets
/// Docker's error.
#[test]
fn a_requested_address_is_the_containers_or_dockers_error() {
    let d = require!(net_daemon());
    d.docker_ok(&["network", "create", "--subnet", "172.30.5.0/24", "fixed"]);
    d.docker_ok(&["network", "create", "auto"]);
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "f1",
        "--network",
        "fixed",
        "--ip",
        "172.30.5.50",
        "busybox",
        "sleep",
        "300",
    ]);
    let inside = d.docker_ok(&["exec", "f1", "ip", "-o", "-4", "addr"]);
    assert!(inside.contains("inet 172.30.5.50/24"), "{inside}");
    let v = d.inspect("f1");
    let ep = &v["NetworkSettings"]["Networks"]["fixed"];
    assert_eq!(ep["IPAddress"], "172.30.5.50", "{ep}");
    assert_eq!(ep["IPAMConfig"]["IPv4Address"], "172.30.5.50", "{ep}");
    // strata's own flag asks the same; the address is taken now.
    let e = d.strata(&[
        "run",
        "--rm",
        "--network",
        "fixed",
        "--ip",
        "172.30.5.50",
        "busybox",
        "true",
    ]);
    assert!(
        !e.status.success() && text(&e).contains("Address already in use"),
        "{}",
        text(&e)
    );
    let out = d.ok(&[
        "run",
        "--rm",
        "--network",
        "fixed",
        "--ip",
        "172.30.5.51",
        "busybox",
        "ip",
        "-o",
        "-4",
        "addr",
    ]);
    assert!(out.contains("inet 172.30.5.51/24"), "{out}");
    for (args, want) in [
        (
            vec![
                "run",
                "--rm",
                "--network",
                "fixed",
                "--ip",
                "10.9.9.9",
                "busybox",
                "true",
            ],
            "no configured subnet or ip-range contain the IP address 10.9.9.9",
        ),
        (
            vec![
                "run",
                "--rm",
                "--network",
                "auto",
                "--ip",
                "172.30.5.9",
                "busybox",
                "true",
            ],
            "user specified IP address is supported only when connecting to networks with user configured subnets",
        ),
        (
            vec!["run", "--rm", "--ip", "172.17.0.9", "busybox", "true"],
            "user specified IP address is supported on user defined networks only",
        ),
        (
            vec!["run", "--rm", "--network", "fixed", "--ip", "nope", "busybox", "true"],
            "",
        ),
    ] {
        let e = d.docker(&args).expect("docker CLI");
        assert!(!e.status.success(), "{args:?}: {}", text(&e));
        assert!(text(&e).contains(want), "{args:?}: {}", text(&e));
    }
    // connect --ip on a running container: a new interface with it.
    d.docker_ok(&["run", "-d", "--name", "f2", "busybox", "sleep", "300"]);
    d.docker_ok(&["network", "connect", "--ip", "172.30.5.60", "fixed", "f2"]);
    let inside = d.docker_ok(&["exec", "f2", "ip", "-o", "-4", "addr"]);
    assert!(inside.contains("inet 172.30.5.60/24"), "{inside}");
    d.docker_ok(&["rm", "-f", "f1", "f2"]);
    d.docker_ok(&["network", "rm", "fixed", "auto"]);
}

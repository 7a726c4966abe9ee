//! Legacy links, `--link NAME:ALIAS` (issue 17), with the docker CLI: on
//! the default network the linking container reaches the linked one by
//! its alias and name and has Docker's link variables, while a container
//! without the link still cannot reach it; on a user network a link is
//! an alias only the linking container sees. Docker's errors for a
//! missing, a stopped and a host-network link.

use crate::util::{Daemon, require, rootless_daemon, text, tool};

fn net_daemon() -> Result<Daemon, String> {
    tool("pasta")?;
    tool("nsenter")?;
    tool("unshare")?;
    Daemon::with_docker_and_busybox()
}

/// busybox's httpd serving "hello" on the container's port 80.
const SERVE: &str = "mkdir -p /www && echo hello > /www/index.html && exec httpd -f -p 80 -h /www";

/// `GET http://TARGET/` from inside container `name`, through nc.
fn fetch_in(d: &Daemon, name: &str, target: &str) -> String {
    let script = format!("printf 'GET / HTTP/1.0\\r\\n\\r\\n' | timeout 5 nc -w 3 {target} 80; true");
    d.docker_ok(&["exec", name, "sh", "-c", &script])
}

#[test]
fn a_link_on_the_default_network_names_and_connects() {
    let d = require!(net_daemon());
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "--hostname",
        "webhost",
        "-e",
        "SECRET=s3",
        "--expose",
        "80",
        "busybox",
        "sh",
        "-c",
        SERVE,
    ]);
    d.docker_ok(&[
        "run", "-d", "--name", "client", "--link", "web:w", "busybox", "sleep", "300",
    ]);
    let hosts = d.docker_ok(&["exec", "client", "cat", "/etc/hosts"]);
    let line = hosts
        .lines()
        .find(|l| l.ends_with("\tw webhost web"))
        .unwrap_or_else(|| panic!("no link line in {hosts}"));
    let ip = line.split('\t').next().unwrap().to_string();
    assert!(ip.starts_with("172.17."), "{line}");
    crate::util::wait_for(
        || fetch_in(&d, "client", "w").contains("hello"),
        "web answering its alias",
    );
    assert!(fetch_in(&d, "client", "web").contains("hello"), "and its name");
    let env = d.docker_ok(&["exec", "client", "sh", "-c", "tr '\\0' '\\n' < /proc/1/environ"]);
    for want in [
        format!("W_PORT=tcp://{ip}:80"),
        format!("W_PORT_80_TCP=tcp://{ip}:80"),
        format!("W_PORT_80_TCP_ADDR={ip}"),
        "W_PORT_80_TCP_PORT=80".into(),
        "W_PORT_80_TCP_PROTO=tcp".into(),
        "W_NAME=/client/w".into(),
        "W_ENV_SECRET=s3".into(),
    ] {
        assert!(env.lines().any(|l| l == want), "{want} not in {env}");
    }
    assert!(!env.contains("W_ENV_PATH"), "{env}");
    assert_eq!(
        d.inspect("client")["HostConfig"]["Links"],
        serde_json::json!(["/web:/client/w"])
    );
    // An exec has them too, as Docker's.
    let exec_env = d.docker_ok(&["exec", "client", "env"]);
    assert!(exec_env.lines().any(|l| l == "W_NAME=/client/w"), "{exec_env}");
    // Without the link, the same address is out of reach.
    d.docker_ok(&["run", "-d", "--name", "stranger", "busybox", "sleep", "300"]);
    assert!(!fetch_in(&d, "stranger", &ip).contains("hello"));
    // Docker's errors; none leaves a container.
    d.docker_ok(&["create", "--name", "idle", "busybox", "true"]);
    let before = d.docker_ok(&["ps", "-aq"]);
    for (args, want) in [
        (
            vec!["create", "--link", "nope:x", "busybox", "true"],
            "could not get container for nope",
        ),
        (
            vec!["create", "--network", "host", "--link", "web", "busybox", "true"],
            "conflicting options: host type networking can't be used with links",
        ),
    ] {
        let e = d.docker(&args).expect("docker");
        assert!(!e.status.success() && text(&e).contains(want), "{args:?}: {}", text(&e));
    }
    assert_eq!(d.docker_ok(&["ps", "-aq"]), before);
    let e = d
        .docker(&["run", "--name", "late", "--link", "idle", "busybox", "true"])
        .expect("docker");
    assert!(
        text(&e).contains("Cannot link to a non running container: /idle AS /late/idle"),
        "{}",
        text(&e)
    );
    let bridge_id = d.docker_ok(&["network", "inspect", "-f", "{{.Id}}", "bridge"]);
    let netns = format!("/run/strata/netns/net-{}", &bridge_id.trim()[..12]);
    d.docker_ok(&["rm", "-f", "web", "client", "stranger", "idle", "late"]);
    let mut d = d;
    d.stop();
    assert!(!std::path::Path::new(&netns).exists(), "{netns} left");
}

#[test]
fn a_link_on_a_user_network_is_an_alias_for_the_linker_only() {
    let d = require!(net_daemon());
    d.docker_ok(&["network", "create", "lnet"]);
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "web2",
        "--network",
        "lnet",
        "busybox",
        "sh",
        "-c",
        SERVE,
    ]);
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "linker",
        "--network",
        "lnet",
        "--link",
        "web2:db",
        "busybox",
        "sleep",
        "300",
    ]);
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "other",
        "--network",
        "lnet",
        "busybox",
        "sleep",
        "300",
    ]);
    crate::util::wait_for(
        || fetch_in(&d, "linker", "db").contains("hello"),
        "web2 answering the alias",
    );
    assert!(fetch_in(&d, "linker", "web2").contains("hello"));
    let hosts = d.docker_ok(&["exec", "other", "cat", "/etc/hosts"]);
    assert!(hosts.contains("web2") && !hosts.contains(" db"), "{hosts}");
    // A link to a container that is not there yet resolves once it runs.
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "early",
        "--network",
        "lnet",
        "--link",
        "late2:cache",
        "busybox",
        "sleep",
        "300",
    ]);
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "late2",
        "--network",
        "lnet",
        "busybox",
        "sh",
        "-c",
        SERVE,
    ]);
    crate::util::wait_for(
        || fetch_in(&d, "early", "cache").contains("hello"),
        "late2 answering the alias",
    );
    d.docker_ok(&["rm", "-f", "web2", "linker", "other", "early", "late2"]);
    d.docker_ok(&["network", "rm", "lnet"]);
}

/// A rootless daemon's default-network containers have user namespaces
/// of their own, which no link bridge can join: refused at create, by
/// name, with nothing made.
#[test]
fn a_rootless_default_network_link_is_refused_clearly() {
    let d = require!(tool("pasta").and_then(|_| rootless_daemon()));
    d.ok(&["run", "-d", "--name", "web", "busybox", "sleep", "300"]);
    let before = d.ok(&["ps", "-aq"]);
    let (status, body) = d.http(
        "POST",
        "/containers/create",
        br#"{"Image":"busybox","Cmd":["true"],"HostConfig":{"Links":["web:w"]}}"#,
    );
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("--link on a rootless daemon's default network"), "{body}");
    assert_eq!(d.ok(&["ps", "-aq"]), before);
    d.ok(&["rm", "-f", "web"]);
}

//! `--mac-address` (issue 17): the container's interface on the network
//! its mode names takes the asked-for MAC (pasta's on the default
//! network, the veth on a user network), inspect shows it, and shows the
//! generated one when none was asked for; bad input is Docker's error
//! and creates nothing.

use crate::util::{Daemon, require, text, tool};

fn net_daemon() -> Result<Daemon, String> {
    tool("pasta")?;
    tool("nsenter")?;
    tool("unshare")?;
    Daemon::with_docker_and_busybox()
}

/// The MACs of the container's interfaces other than `lo`, as the kernel
/// inside reports them.
fn macs_inside(d: &Daemon, name: &str) -> Vec<String> {
    let out = d.docker_ok(&["exec", name, "sh", "-c", "cat /sys/class/net/*/address"]);
    out.lines()
        .map(str::to_string)
        .filter(|m| m != "00:00:00:00:00:00")
        .collect()
}

#[test]
fn the_asked_for_mac_is_the_interfaces_and_inspects() {
    let d = require!(net_daemon());
    // The default network: pasta's interface.
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "m1",
        "--mac-address",
        "02:42:AC:11:00:09",
        "busybox",
        "sleep",
        "300",
    ]);
    assert_eq!(macs_inside(&d, "m1"), ["02:42:ac:11:00:09"]);
    let ns = d.inspect("m1")["NetworkSettings"].clone();
    assert_eq!(ns["MacAddress"], "02:42:ac:11:00:09", "{ns}");
    assert_eq!(ns["Networks"]["bridge"]["MacAddress"], "02:42:ac:11:00:09", "{ns}");
    // None asked for: inspect shows the one the interface has.
    d.docker_ok(&["run", "-d", "--name", "m2", "busybox", "sleep", "300"]);
    let inside = macs_inside(&d, "m2");
    let shown = d.inspect("m2")["NetworkSettings"]["MacAddress"].clone();
    assert_eq!(inside.len(), 1, "{inside:?}");
    assert_eq!(shown, inside[0].as_str());
    // A user network: the network's interface; a connect generates one.
    d.docker_ok(&["network", "create", "macnet"]);
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "m3",
        "--network",
        "macnet",
        "--mac-address",
        "02:42:ac:11:00:0a",
        "busybox",
        "sleep",
        "300",
    ]);
    let ns = d.inspect("m3")["NetworkSettings"].clone();
    assert_eq!(ns["Networks"]["macnet"]["MacAddress"], "02:42:ac:11:00:0a", "{ns}");
    assert_eq!(ns["MacAddress"], "", "{ns}");
    let ip = ns["Networks"]["macnet"]["IPAddress"].as_str().unwrap().to_string();
    let iface = d.docker_ok(&[
        "exec",
        "m3",
        "sh",
        "-c",
        &format!("ip -o -4 addr | awk '/inet {ip}\\// {{ print $2 }}'"),
    ]);
    let at = format!("/sys/class/net/{}/address", iface.trim());
    assert_eq!(d.docker_ok(&["exec", "m3", "cat", &at]), "02:42:ac:11:00:0a\n", "{at}");
    d.docker_ok(&["network", "connect", "macnet", "m2"]);
    let connected = d.inspect("m2")["NetworkSettings"]["Networks"]["macnet"]["MacAddress"].clone();
    let connected = connected.as_str().unwrap_or("").to_string();
    assert_eq!(connected.len(), 17, "{connected}");
    assert!(macs_inside(&d, "m2").contains(&connected), "{connected}");
    // Stopped, the asked-for MAC stays in inspect; the next run has it.
    d.docker_ok(&["stop", "-t", "0", "m3"]);
    let ns = d.inspect("m3")["NetworkSettings"].clone();
    assert_eq!(ns["Networks"]["macnet"]["MacAddress"], "02:42:ac:11:00:0a", "{ns}");
    d.docker_ok(&["start", "m3"]);
    assert!(macs_inside(&d, "m3").contains(&"02:42:ac:11:00:0a".to_string()));
    d.docker_ok(&["rm", "-f", "m1", "m2", "m3"]);
    d.docker_ok(&["network", "rm", "macnet"]);
}

#[test]
fn the_deprecated_field_and_bad_macs_as_docker() {
    let d = require!(net_daemon());
    // An API client of before 1.44: the container-wide Config.MacAddress.
    let (status, body) = d.http(
        "POST",
        "/containers/create?name=old",
        br#"{"Image":"busybox","Cmd":["sleep","300"],"MacAddress":"02:42:ac:11:00:0b"}"#,
    );
    assert_eq!(status, 201, "{body}");
    d.docker_ok(&["start", "old"]);
    assert!(
        d.docker_ok(&["exec", "old", "cat", "/sys/class/net/eth0/address"])
            .contains("02:42:ac:11:00:0b")
    );
    assert_eq!(d.inspect("old")["NetworkSettings"]["MacAddress"], "02:42:ac:11:00:0b");
    d.docker_ok(&["rm", "-f", "old"]);
    let before = d.docker_ok(&["ps", "-aq"]);
    for (body, want) in [
        (
            r#"{"Image":"busybox","NetworkingConfig":{"EndpointsConfig":{"default":{"MacAddress":"02:42:zz:11:00:0b"}}}}"#,
            "invalid MAC address 02:42:zz:11:00:0b",
        ),
        (
            r#"{"Image":"busybox","HostConfig":{"NetworkMode":"host"},"MacAddress":"02:42:ac:11:00:0b"}"#,
            "conflicting options: mac-address and the network mode",
        ),
        (
            r#"{"Image":"busybox","MacAddress":"02:42:ac:11:00:0b","NetworkingConfig":{"EndpointsConfig":{"default":{"MacAddress":"02:42:ac:11:00:0c"}}}}"#,
            "must match the endpoint-specific MAC address",
        ),
    ] {
        let (status, answer) = d.http("POST", "/containers/create", body.as_bytes());
        assert_eq!(status, 400, "{body}: {answer}");
        assert!(answer.contains(want), "{body}: {answer}");
    }
    assert_eq!(d.docker_ok(&["ps", "-aq"]), before);
    // The docker CLI checks the form itself.
    let e = d
        .docker(&["run", "--rm", "--mac-address", "zz", "busybox", "true"])
        .expect("docker");
    assert!(
        !e.status.success() && text(&e).contains("zz is not a valid mac address"),
        "{}",
        text(&e)
    );
}

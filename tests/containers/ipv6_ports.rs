//! IPv6 published ports (issue 17): `-p [::1]:H:C` listens on the host's
//! `::1` (and not on 127.0.0.1), answers there, and shows as Docker shows
//! it in `docker port`, inspect and `ps`; a taken IPv6 port is Docker's
//! error. Only `::1` is bound. A machine without `::1` skips (with the
//! reason), under CI too: nothing of this can run there.

use crate::util::{Daemon, require, text, tool};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

/// busybox's httpd serving "hello" on the container's port 80 (it
/// listens on `::`, both families).
const SERVE: &str = "mkdir -p /www && echo hello > /www/index.html && exec httpd -f -p 80 -h /www";

/// A port of `::1` nobody listens on now, or why there is none.
fn free_v6_port() -> Result<u16, String> {
    TcpListener::bind("[::1]:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("this machine has no IPv6 loopback (::1): {e}"))
}

/// What a GET of `/` at `addr` answers once it does (until `limit`).
fn http_get(addr: &str, limit: Duration) -> Option<String> {
    let deadline = Instant::now() + limit;
    loop {
        let got = TcpStream::connect(addr).and_then(|mut s| {
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

#[test]
fn a_port_published_on_the_ipv6_loopback_answers_there_only() {
    let port = match free_v6_port() {
        Ok(p) => p,
        Err(why) => {
            eprintln!("skipped: {why}");
            return;
        }
    };
    tool("pasta").expect("pasta (the ::1 is there)");
    let d = require!(Daemon::with_docker_and_busybox());
    let publish = format!("[::1]:{port}:80");
    d.docker_ok(&[
        "run", "-d", "--name", "v6", "-p", &publish, "busybox", "sh", "-c", SERVE,
    ]);
    let body = http_get(&format!("[::1]:{port}"), Duration::from_secs(10)).expect("[::1] answers");
    assert!(body.contains("hello"), "{body}");
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "127.0.0.1:{port} must not be published"
    );
    assert_eq!(d.docker_ok(&["port", "v6"]), format!("80/tcp -> [::1]:{port}\n"));
    let ports = d.inspect("v6")["NetworkSettings"]["Ports"].clone();
    assert_eq!(
        ports,
        serde_json::json!({"80/tcp": [{"HostIp": "::1", "HostPort": port.to_string()}]})
    );
    let column = d.docker_ok(&["ps", "--filter", "name=v6", "--format", "{{.Ports}}"]);
    assert_eq!(column.trim(), format!("[::1]:{port}->80/tcp"));
    // Taken: Docker's error, naming the IPv6 address.
    let taken = TcpListener::bind("[::1]:0").unwrap();
    let busy = taken.local_addr().unwrap().port();
    let out = d
        .docker(&["run", "--rm", "-p", &format!("[::1]:{busy}:80"), "busybox", "true"])
        .expect("docker");
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains(&format!(
            "failed to bind port [::1]:{busy}/tcp: Error starting userland proxy: listen tcp6 [::1]:{busy}: bind: address already in use"
        )),
        "{}",
        text(&out)
    );
    d.docker_ok(&["rm", "-f", "v6"]);
    assert!(
        http_get(&format!("[::1]:{port}"), Duration::from_millis(200)).is_none(),
        "still published after rm"
    );
}

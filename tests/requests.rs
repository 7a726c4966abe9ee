//! Hostile API requests: bodies are bounded before they are buffered, and
//! errors quote only a short prefix of what they name.

use crate::util::Daemon;
use std::io::Write;

#[test]
fn an_oversized_json_body_gets_413_and_is_not_kept() {
    let d = Daemon::start();
    let before = d.status_kib("VmHWM");
    // 64 MiB of environment in one create request.
    let mut body = br#"{"Image":"busybox","Cmd":["true"],"Env":[""#.to_vec();
    body.extend(std::iter::repeat_n(b'x', 64 << 20));
    body.extend_from_slice(br#""]}"#);
    let (status, reply) = d.http("POST", "/containers/create", &body);
    assert_eq!(status, 413, "{reply}");
    assert!(reply.contains("larger than the limit"), "{reply}");
    let grown = d.status_kib("VmHWM").saturating_sub(before);
    assert!(grown < 16 << 10, "the daemon's peak memory grew by {grown} KiB");
    let (status, list) = d.http("GET", "/containers/json?all=1", b"");
    assert_eq!((status, list.trim()), (200, "[]"));
    // The same bound holds for a chunked body, which has no length to check first.
    let mut s = std::os::unix::net::UnixStream::connect(&d.socket).unwrap();
    write!(
        s,
        "POST /containers/create HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let chunk = vec![b' '; 1 << 20];
    let mut sent = 0;
    while sent < 8 {
        if write!(s, "{:x}\r\n", chunk.len()).is_err() || s.write_all(&chunk).is_err() || s.write_all(b"\r\n").is_err()
        {
            break;
        }
        sent += 1;
    }
    let mut reply = String::new();
    let _ = std::io::Read::read_to_string(&mut s, &mut reply);
    assert!(reply.starts_with("HTTP/1.1 413"), "{reply}");
    // A body within the limit still works.
    let (status, reply) = d.http("POST", "/containers/create", br#"{"Image":"nosuchimage"}"#);
    assert_eq!(status, 404, "{reply}");
}

#[test]
fn errors_quote_names_briefly() {
    let d = Daemon::start();
    // hyper refuses a URI of 100 KB (414) by itself; 4,000 bytes pass.
    let name = "n".repeat(4_000);
    for path in [
        format!("/containers/{name}/json"),
        format!("/images/{name}/json"),
        format!("/exec/{name}/json"),
    ] {
        let (status, reply) = d.http("GET", &path, b"");
        assert!(
            matches!(status, 400 | 404),
            "{status} {}",
            &reply[..reply.len().min(200)]
        );
        assert!(reply.len() < 1024, "a {}-byte error for {}", reply.len(), &path[..20]);
    }
    let name = "n".repeat(100_000);
    let (status, reply) = d.http(
        "POST",
        "/containers/create",
        format!(r#"{{"Image":"{name}"}}"#).as_bytes(),
    );
    assert!(matches!(status, 400 | 404), "{status}");
    assert!(reply.len() < 1024, "a {}-byte error", reply.len());
    let (status, reply) = d.http(
        "POST",
        &format!("/containers/create?name={}%21", &name[..4000]),
        br#"{"Image":"x"}"#,
    );
    assert_eq!(status, 400, "{}", &reply[..reply.len().min(200)]);
    assert!(reply.len() < 1024, "a {}-byte error", reply.len());
}

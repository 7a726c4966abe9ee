//! Pulls that need credentials (htpasswd Basic, the Bearer token flow),
//! `POST /auth`, and TLS through `certs.d`, against the real registry.
//! The credentials come from the request and never reach the daemon's
//! log, even at debug level.

use super::pull;
use crate::util::{Daemon, Registry, require};
use base64::Engine as _;
use strata::wire::AuthConfig;

/// `X-Registry-Auth` for `user`/`password`, as the docker CLI sends it.
fn auth_header(user: &str, password: &str, server: &str) -> String {
    AuthConfig {
        username: user.into(),
        password: password.into(),
        serveraddress: server.into(),
        ..Default::default()
    }
    .to_header()
}

/// A daemon logging at debug level, started.
fn chatty_daemon(extra: &[String]) -> Daemon {
    let mut d = Daemon::prepare();
    d.extra_args = vec!["--log-level".into(), "debug".into()];
    d.extra_args.extend_from_slice(extra);
    d.spawn();
    d
}

/// `POST /auth` with these credentials: status and body.
fn login(d: &Daemon, user: &str, password: &str, server: &str) -> (u16, serde_json::Value) {
    let body = serde_json::json!({"username": user, "password": password, "serveraddress": server});
    let (status, reply) = d.http("POST", "/auth", body.to_string().as_bytes());
    (status, serde_json::from_str(&reply).unwrap_or_default())
}

/// The secrets of a test must appear nowhere in the daemon's log.
#[track_caller]
fn assert_log_keeps_secret(d: &Daemon, user: &str, password: &str, server: &str) {
    let log = d.log();
    assert!(log.contains("pull"), "the log is empty: the check proves nothing");
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    for secret in [password.to_string(), basic, auth_header(user, password, server)] {
        assert!(!log.contains(&secret), "the daemon logged {secret:?}");
    }
}

#[test]
fn a_basic_auth_registry_wants_credentials_and_takes_them() {
    let reg = require!(Registry::basic("alice", "s3cret-pw"));
    let (image, _) = require!(reg.seed_busybox("busybox:latest"));
    let d = chatty_daemon(&[]);
    let name = format!("{}/busybox", reg.addr());
    let p = pull(&d, &name, "latest", None);
    assert_eq!(p.status, 401, "{:?}", p.lines);
    assert_eq!(
        p.message(),
        format!(
            "Get \"{}/v2/busybox/manifests/latest\": no basic auth credentials",
            reg.url()
        )
    );
    let wrong = auth_header("alice", "wrong", &reg.addr());
    let p = pull(&d, &name, "latest", Some(&wrong));
    assert_eq!(
        (p.status, p.message().as_str()),
        (401, "unauthorized: authentication required")
    );
    assert!(d.http("GET", "/images/json", b"").1.trim() == "[]");
    let good = auth_header("alice", "s3cret-pw", &reg.addr());
    let p = pull(&d, &name, "latest", Some(&good));
    assert_eq!(p.message(), "", "{:?}", p.lines);
    assert_eq!(d.inspect(&name)["Id"], image.id());
    // A header that is not base64 JSON is the client's error.
    let (status, _) = crate::util::http_request_with(
        &d.socket,
        "POST",
        &format!("/images/create?fromImage={name}&tag=latest"),
        &[("X-Registry-Auth", "%%%")],
        b"",
    );
    assert_eq!(status, 400);

    let (status, reply) = login(&d, "alice", "s3cret-pw", &reg.addr());
    assert_eq!((status, &reply["Status"]), (200, &serde_json::json!("Login Succeeded")));
    let (status, reply) = login(&d, "alice", "nope", &reg.addr());
    assert_eq!(status, 401);
    assert_eq!(
        reply["message"],
        format!(
            "login attempt to {}/v2/ failed with status: 401 Unauthorized",
            reg.url()
        )
    );
    assert_log_keeps_secret(&d, "alice", "s3cret-pw", &reg.addr());
}

#[test]
fn the_token_flow_gets_a_pull_token_with_the_users_credentials() {
    let reg = require!(Registry::token("bob", "hunter2-pw"));
    let (image, _) = require!(reg.seed_busybox("busybox:latest"));
    let d = chatty_daemon(&[]);
    let name = format!("{}/busybox", reg.addr());
    let p = pull(&d, &name, "latest", None);
    assert_eq!(p.status, 401, "anonymous: {:?}", p.lines);
    let good = auth_header("bob", "hunter2-pw", &reg.addr());
    let p = pull(&d, &name, "latest", Some(&good));
    assert_eq!(p.message(), "", "{:?}", p.lines);
    assert_eq!(d.inspect(&name)["Id"], image.id());
    // One token for the pull's scope (skopeo's seeding asked for
    // pull,push), reused for the manifest and the blobs.
    let requests = reg.token_requests();
    let for_pull = requests
        .iter()
        .filter(|r| *r == "account=bob scope=repository:busybox:pull -> 200")
        .count();
    assert_eq!(for_pull, 1, "{requests:?}");
    assert_eq!(login(&d, "bob", "hunter2-pw", &reg.addr()).0, 200);
    assert_eq!(login(&d, "bob", "wrong", &reg.addr()).0, 401);
    assert_log_keeps_secret(&d, "bob", "hunter2-pw", &reg.addr());
}

#[test]
fn a_tls_registry_is_trusted_through_certs_d_only() {
    let reg = require!(Registry::tls());
    let (image, _) = require!(reg.seed_busybox("busybox:latest"));
    let name = format!("{}/busybox", reg.addr());
    let config = tempfile::tempdir().unwrap();
    let flags = vec!["--config-dir".to_string(), config.path().display().to_string()];
    let d = chatty_daemon(&flags);
    let p = pull(&d, &name, "latest", None);
    assert_eq!(p.status, 500, "{:?}", p.lines);
    assert!(
        p.message().contains("certificate") || p.message().contains("UnknownIssuer"),
        "{:?}",
        p.message()
    );
    drop(d);
    reg.install_ca(config.path());
    let d = chatty_daemon(&flags);
    let p = pull(&d, &name, "latest", None);
    assert_eq!(p.message(), "", "{:?}", p.lines);
    assert_eq!(d.inspect(&name)["Id"], image.id());
}

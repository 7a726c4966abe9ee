//! `POST /images/{name}/push`: an image of the store pushed to a real
//! registry, read back by skopeo and pulled back by a fresh daemon (same
//! image ID and RootFS.Layers); the second push finds its layers there; the
//! docker CLI's push with its login (Basic auth).

use crate::util::{Answer, Daemon, FakeRegistry, Registry, Side, require, skopeo, text};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

/// `POST PATH` on the daemon with `headers`: status and body (dechunked).
fn post(d: &Daemon, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let mut s = UnixStream::connect(&d.socket).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let extra: String = headers.iter().map(|(k, v)| format!("{k}: {v}\r\n")).collect();
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: x\r\n{extra}Content-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    // The stream's lines are JSON objects: keep those (chunk sizes are not).
    let lines: Vec<&str> = body.lines().filter(|l| l.starts_with('{')).collect();
    (status, lines.join("\n"))
}

/// The stream's lines as JSON.
fn lines(body: &str) -> Vec<serde_json::Value> {
    body.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn statuses(body: &str) -> Vec<String> {
    lines(body)
        .iter()
        .filter_map(|l| l["status"].as_str().map(String::from))
        .collect()
}

/// A daemon with busybox imported and tagged `ADDR/REPO:TAG`.
fn daemon_with(reg: &Registry, repo_tag: &str) -> (Daemon, String) {
    let d = Daemon::start();
    d.import_busybox();
    let name = format!("{}/{repo_tag}", reg.addr());
    d.ok(&["tag", "busybox:latest", &name]);
    (d, name)
}

#[test]
fn a_pushed_image_reads_back_and_pulls_back_the_same() {
    let reg = require!(Registry::plain());
    let (d, name) = daemon_with(&reg, "bb:v1");
    let (status, body) = post(&d, &format!("/images/{}/bb/push?tag=v1", reg.addr()), &[]);
    assert_eq!(status, 200, "{body}");
    let said = statuses(&body);
    assert_eq!(
        said[0],
        format!("The push refers to repository [{}/bb]", reg.addr()),
        "{body}"
    );
    for want in ["Preparing", "Pushing", "Pushed"] {
        assert!(said.iter().any(|s| s == want), "no {want:?} in {body}");
    }
    let (_, _, digest) = reg.manifest("bb", "v1");
    let summary = said
        .iter()
        .find(|s| s.starts_with("v1: digest: "))
        .unwrap_or_else(|| panic!("{body}"));
    assert!(
        summary.starts_with(&format!("v1: digest: {digest} size: ")),
        "{summary}"
    );
    let aux = lines(&body)
        .into_iter()
        .find(|l| !l["aux"].is_null())
        .expect("an aux line");
    assert_eq!(
        (aux["aux"]["Tag"].as_str(), aux["aux"]["Digest"].as_str()),
        (Some("v1"), Some(digest.as_str()))
    );
    // skopeo reads what was pushed: the same config and layers.
    let image = d.inspect(&name);
    let mut args = vec!["inspect".to_string(), "--config".into(), "--raw".into()];
    args.extend(reg.skopeo_args(Side::Only));
    args.push(format!("docker://{name}"));
    let out = skopeo(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(out.status.success(), "{}", text(&out));
    let config: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(config["rootfs"]["diff_ids"], image["RootFS"]["Layers"]);
    assert_eq!(
        crate::util::digest_of(&out.stdout),
        image["Id"].as_str().unwrap(),
        "the config's bytes"
    );
    // Again: every layer is there already.
    let (_, again) = post(&d, &format!("/images/{}/bb/push?tag=v1", reg.addr()), &[]);
    assert!(statuses(&again).iter().any(|s| s == "Layer already exists"), "{again}");
    assert!(!statuses(&again).iter().any(|s| s == "Pushed"), "{again}");
    // A fresh daemon pulls it back as the same image.
    let fresh = Daemon::start();
    let (status, pulled) = post(
        &fresh,
        &format!("/images/create?fromImage={}/bb&tag=v1", reg.addr()),
        &[],
    );
    assert_eq!(status, 200, "{pulled}");
    let back = fresh.inspect(&name);
    assert_eq!(
        (&back["Id"], &back["RootFS"]["Layers"]),
        (&image["Id"], &image["RootFS"]["Layers"])
    );
}

#[test]
fn pushing_a_name_not_in_the_store_is_docker_s_404() {
    let reg = require!(Registry::plain());
    let d = Daemon::start();
    let (status, body) = post(&d, &format!("/images/{}/nothing/push?tag=v1", reg.addr()), &[]);
    assert_eq!(status, 404, "{body}");
    assert!(
        body.contains(&format!(
            "An image does not exist locally with the tag: {}/nothing",
            reg.addr()
        )),
        "{body}"
    );
}

#[test]
fn docker_cli_push_with_login_and_all_tags() {
    let reg = require!(Registry::basic("erin", "s3cr3t-erin"));
    let (d, name) = daemon_with(&reg, "cli:one");
    d.ok(&["tag", "busybox:latest", &format!("{}/cli:two", reg.addr())]);
    let Some(denied) = d.docker_part(&["push", &name]) else {
        return;
    };
    assert!(!denied.status.success(), "pushed without login: {}", text(&denied));
    assert!(
        String::from_utf8_lossy(&denied.stderr).contains("no basic auth credentials"),
        "{}",
        text(&denied)
    );
    let login = d
        .docker(&["login", "-u", "erin", "-p", "s3cr3t-erin", &reg.addr()])
        .unwrap();
    assert!(login.status.success(), "{}", text(&login));
    let pushed = d
        .docker(&["push", "--all-tags", &format!("{}/cli", reg.addr())])
        .unwrap();
    assert!(pushed.status.success(), "{}", text(&pushed));
    let out = String::from_utf8_lossy(&pushed.stdout);
    for tag in ["one", "two"] {
        let digest = reg.manifest("cli", tag).2;
        assert!(out.contains(&format!("{tag}: digest: {digest} size: ")), "{out}");
    }
    let logs = format!("{}{}{}", d.log(), reg.log(), text(&pushed));
    assert!(!logs.contains("s3cr3t-erin"), "the password in a log or the output");
}

/// `strata ARGS` on `d`, which must succeed: its stdout.
fn strata_ok(d: &Daemon, args: &[&str]) -> String {
    let out = d.strata(args);
    assert!(out.status.success(), "strata {args:?}: {}\n{}", text(&out), d.log());
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_tutorial_from_a_registry_commit_push_and_pull_back() {
    require!(crate::util::fuse());
    let reg = require!(Registry::plain());
    let (_, _) = require!(reg.seed_busybox("tutorial/busybox:latest"));
    let d = Daemon::start();
    let base = format!("{}/tutorial/busybox", reg.addr());
    strata_ok(
        &d,
        &["run", "--name", "git", &base, "sh", "-c", "echo changed > /etc/motd"],
    );
    let mine = format!("{}/tutorial/mine:v1", reg.addr());
    strata_ok(&d, &["commit", "git", &mine]);
    let image = d.inspect(&mine);
    let pushed = strata_ok(&d, &["push", &mine]);
    // The base layer came from this registry's tutorial/busybox: mounted.
    assert!(pushed.contains("Mounted from tutorial/busybox"), "{pushed}");
    assert!(pushed.contains("v1: digest: sha256:"), "{pushed}");
    strata_ok(&d, &["rm", "git"]);
    strata_ok(&d, &["rmi", &mine, &base]);
    assert_eq!(strata_ok(&d, &["images", "-q"]).trim(), "", "images left");
    strata_ok(&d, &["pull", &mine]);
    let back = d.inspect(&mine);
    assert_eq!(
        (&back["Id"], &back["RootFS"]["Layers"]),
        (&image["Id"], &image["RootFS"]["Layers"])
    );
    let motd = strata_ok(&d, &["run", "--rm", &mine, "cat", "/etc/motd"]);
    assert_eq!(motd, "changed\n");
}

#[test]
fn pushing_through_the_token_flow() {
    let reg = require!(Registry::token("frank", "pw"));
    let (d, name) = daemon_with(&reg, "tok:v1");
    let Some(login) = d.docker_part(&["login", "-u", "frank", "-p", "pw", &reg.addr()]) else {
        return;
    };
    assert!(login.status.success(), "{}", text(&login));
    let pushed = d.docker(&["push", &name]).unwrap();
    assert!(pushed.status.success(), "{}\n{}", text(&pushed), d.log());
    let digest = reg.manifest("tok", "v1").2;
    assert!(
        String::from_utf8_lossy(&pushed.stdout).contains(&format!("v1: digest: {digest}")),
        "{}",
        text(&pushed)
    );
    assert!(
        reg.token_requests()
            .iter()
            .any(|r| r.starts_with("account=frank") && r.contains("repository:tok:pull,push")),
        "{:?}",
        reg.token_requests()
    );
}

#[test]
fn a_registry_failing_the_upload_ends_the_stream_after_bounded_retries() {
    let fake = FakeRegistry::start();
    fake.on("POST", "/v2/broken/blobs/uploads/", vec![Answer::status(503)]);
    let d = Daemon::start();
    d.import_busybox();
    let name = format!("{}/broken:v1", fake.addr());
    d.ok(&["tag", "busybox:latest", &name]);
    let before = d.store_snapshot();
    let (status, body) = post(&d, &format!("/images/{}/broken/push?tag=v1", fake.addr()), &[]);
    assert_eq!(status, 200, "{body}");
    let last = lines(&body).pop().expect("a line");
    // distribution's client words a 5xx without a JSON body so (and so
    // does Docker's push).
    assert_eq!(
        last["error"], "received unexpected HTTP status: 503 Service Unavailable",
        "{body}"
    );
    assert_eq!(last["errorDetail"]["message"], last["error"]);
    // Three attempts, then the error: no endless retry, no manifest.
    assert_eq!(
        fake.count("POST", "/v2/broken/blobs/uploads/"),
        3,
        "{:?}",
        fake.requests()
    );
    assert_eq!(fake.count("PUT", "/v2/broken/manifests/v1"), 0);
    assert_eq!(d.store_snapshot(), before, "the store changed");
}

#[test]
fn a_zstd_layer_pulled_elsewhere_is_pushed_as_gzip() {
    let reg = require!(Registry::plain());
    let image = crate::util::TestImage::new("amd64", vec![crate::util::one_file_layer("z", b"zstd layer\n")]);
    reg.seed_image(
        &image,
        "zsrc:v1",
        &["--format", "oci", "--dest-compress-format", "zstd"],
    );
    let (_, bytes, _) = reg.manifest("zsrc", "v1");
    assert!(String::from_utf8_lossy(&bytes).contains("+zstd"), "seeded without zstd");
    let d = Daemon::start();
    let src = format!("{}/zsrc:v1", reg.addr());
    let (status, body) = post(&d, &format!("/images/create?fromImage={}/zsrc&tag=v1", reg.addr()), &[]);
    assert_eq!(status, 200, "{body}");
    let dst = format!("{}/zdst:v1", reg.addr());
    d.ok(&["tag", &src, &dst]);
    let (_, pushed) = post(&d, &format!("/images/{}/zdst/push?tag=v1", reg.addr()), &[]);
    assert!(statuses(&pushed).iter().any(|s| s == "Pushed"), "{pushed}");
    let (_, bytes, _) = reg.manifest("zdst", "v1");
    let manifest: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    let layer = &manifest["layers"][0];
    assert_eq!(layer["mediaType"], "application/vnd.docker.image.rootfs.diff.tar.gzip");
    let blob = reg.get_blob("zdst", layer["digest"].as_str().unwrap());
    assert_eq!(&blob[..2], &[0x1f, 0x8b], "a gzip layer that is not gzip");
    let fresh = Daemon::start();
    let (status, pulled) = post(
        &fresh,
        &format!("/images/create?fromImage={}/zdst&tag=v1", reg.addr()),
        &[],
    );
    assert_eq!(status, 200, "{pulled}");
    // skopeo's OCI conversion rewrote the config: the ID is the pulled one's.
    let (ours, back) = (d.inspect(&src), fresh.inspect(&dst));
    assert_eq!(
        (&back["Id"], &back["RootFS"]["Layers"]),
        (&ours["Id"], &ours["RootFS"]["Layers"])
    );
    assert_eq!(back["RootFS"]["Layers"], serde_json::json!(image.diff_ids()));
}

#[test]
fn pushing_over_tls_with_the_ca_in_certs_d() {
    let reg = require!(Registry::tls());
    let mut d = Daemon::prepare();
    let config_dir = d.dir.path().join("config");
    reg.install_ca(&config_dir);
    d.extra_args = vec!["--config-dir".into(), config_dir.display().to_string()];
    d.spawn();
    d.import_busybox();
    let name = format!("{}/secure:v1", reg.addr());
    d.ok(&["tag", "busybox:latest", &name]);
    let (_, body) = post(&d, &format!("/images/{}/secure/push?tag=v1", reg.addr()), &[]);
    let digest = reg.manifest("secure", "v1").2;
    assert!(
        statuses(&body)
            .iter()
            .any(|s| s.starts_with(&format!("v1: digest: {digest}"))),
        "{body}"
    );
}

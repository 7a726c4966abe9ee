//! Bad input: every hostile or malformed import is refused with HTTP 400 and
//! a clear message, and nothing changes in the store or outside it.

use crate::util::{Daemon, TarBuilder, sample_rootfs_tar, tree_snapshot};

struct Case {
    what: &'static str,
    query: String,
    body: Vec<u8>,
    message: &'static str,
}

fn case(what: &'static str, body: Vec<u8>, message: &'static str) -> Case {
    Case {
        what,
        query: "repo=evil:1".into(),
        body,
        message,
    }
}

#[test]
fn hostile_archives_and_names_are_refused_and_change_nothing() {
    let d = Daemon::start();
    // A canary directory outside the store that hostile archives aim at.
    let canary = d.dir.path().join("canary");
    std::fs::create_dir(&canary).unwrap();
    std::fs::write(canary.join("keep"), b"untouched").unwrap();
    let canary_abs = canary.display().to_string();
    let climb = format!("{}{}", "../".repeat(12), canary_abs.trim_start_matches('/'));

    // One good import first, so the store has state to protect.
    let good = d.dir.path().join("good.tar");
    std::fs::write(&good, sample_rootfs_tar()).unwrap();
    d.import(&good, "good:1");

    let mut big_truncated = TarBuilder::new().file("big", &vec![1u8; 100_000]).finish();
    big_truncated.truncate(30_000);
    let cases = vec![
        case(
            "dot-dot path",
            TarBuilder::new().file("../escape", b"x").finish(),
            "climbs out",
        ),
        case(
            "nested dot-dot",
            TarBuilder::new().dir("a/").file("a/../../escape", b"x").finish(),
            "climbs out",
        ),
        case(
            "absolute path",
            TarBuilder::new().file(&format!("{canary_abs}/abs"), b"x").finish(),
            "absolute",
        ),
        case(
            "write through an absolute symlink",
            TarBuilder::new()
                .symlink("link", &canary_abs)
                .file("link/pwned", b"x")
                .finish(),
            "symlink",
        ),
        case(
            "write through a climbing symlink",
            TarBuilder::new().symlink("up", &climb).file("up/pwned", b"x").finish(),
            "symlink",
        ),
        case(
            "directory through a symlink",
            TarBuilder::new().symlink("d", &canary_abs).dir("d/sub/").finish(),
            "symlink",
        ),
        case(
            "hard link to an absolute path",
            TarBuilder::new().hardlink("h", &format!("{canary_abs}/keep")).finish(),
            "leaves the layer",
        ),
        case(
            "hard link climbing out",
            TarBuilder::new().hardlink("h", &format!("{climb}/keep")).finish(),
            "leaves the layer",
        ),
        case(
            "hard link through a symlink",
            TarBuilder::new()
                .symlink("s", &canary_abs)
                .hardlink("h", "s/keep")
                .finish(),
            "hard link",
        ),
        case(
            "hard link to a path not in the archive",
            TarBuilder::new().hardlink("h", "etc/shadow").finish(),
            "not earlier in this archive",
        ),
        case("truncated in file data", big_truncated, "truncated"),
        case(
            "no end-of-archive marker",
            TarBuilder::new().file("a", b"x").unterminated(),
            "truncated",
        ),
        case(
            "not a tar",
            b"this is plainly not a tar archive, just some text".repeat(20),
            "not a tar",
        ),
        case("empty body", Vec::new(), "empty"),
        case("xz data", vec![0xfd, b'7', b'z', b'X', b'Z', 0, 1, 2, 3], "xz"),
        Case {
            what: "upper-case name",
            query: "repo=UPPER:case".into(),
            body: sample_rootfs_tar(),
            message: "must be lowercase",
        },
        Case {
            what: "two colons",
            query: "repo=a:b:c".into(),
            body: sample_rootfs_tar(),
            message: "invalid",
        },
        Case {
            what: "bad change",
            query: "repo=ok:1&changes=RUN+rm+-rf+%2F".into(),
            body: sample_rootfs_tar(),
            message: "not supported",
        },
    ];

    let store_before = d.store_snapshot();
    let canary_before = tree_snapshot(&canary);
    for c in cases {
        let (status, body) = d.http("POST", &format!("/v1.50/images/create?fromSrc=-&{}", c.query), &c.body);
        assert_eq!(status, 400, "{}: expected 400, got {status}: {body}", c.what);
        let msg: serde_json::Value = serde_json::from_str(&body).unwrap_or_else(|_| panic!("{}: {body}", c.what));
        let message = msg["message"].as_str().unwrap_or_default();
        assert!(
            message.to_lowercase().contains(&c.message.to_lowercase()),
            "{}: message {message:?} should mention {:?}",
            c.what,
            c.message
        );
        assert_eq!(d.store_snapshot(), store_before, "{}: the store changed", c.what);
        assert_eq!(tree_snapshot(&canary), canary_before, "{}: the canary changed", c.what);
    }
    assert_eq!(std::fs::read(canary.join("keep")).unwrap(), b"untouched");
    assert!(!d.dir.path().join("escape").exists());
    let images = d.ok(&["images", "-q"]);
    assert_eq!(images.lines().count(), 1, "only the good image: {images}");
}

#[test]
fn the_client_reports_a_refused_import_in_one_line() {
    let d = Daemon::start();
    let bad = d.dir.path().join("bad.tar");
    std::fs::write(&bad, TarBuilder::new().file("../x", b"x").finish()).unwrap();
    let out = d.strata(&["import", bad.to_str().unwrap(), "x:1"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("Error response from daemon: "), "{err}");
    assert!(err.contains("climbs out"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

#[test]
fn bad_api_requests_get_json_errors() {
    let d = Daemon::start();
    for (method, path, status) in [
        ("GET", "/v1.50/images/nope/json", 404),
        ("GET", "/v1.50/containers/nope/json", 404),
        ("GET", "/v1.50/networks/nope", 404),
        ("GET", "/v1.50/volumes/nope", 404),
        ("GET", "/v1.50/plugins/nope/json", 404),
        ("GET", "/v1.50/no/such/route", 404),
        ("GET", "/v1.99/info", 400),
        ("GET", "/v1.12/info", 400),
        ("POST", "/images/nope/tag?repo=x", 404),
        ("POST", "/images/create?fromSrc=http://example.invalid/x.tar", 400),
        ("POST", "/images/create", 400),
        ("DELETE", "/images/nope", 404),
        ("GET", "/images/NOPE:x/json", 400),
    ] {
        let (got, body) = d.http(method, path, b"");
        assert_eq!(got, status, "{method} {path}: {body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_else(|_| panic!("{path}: {body}"));
        assert!(v["message"].as_str().is_some_and(|m| !m.is_empty()), "{path}: {body}");
    }
}

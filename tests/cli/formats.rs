//! `--format`: strata's Go templates print what the docker CLI prints on
//! the same daemon; an imported image's empty config fields are `null`.

use crate::util::{Daemon, require, sample_rootfs_tar, text};

fn sorted(s: &str) -> Vec<String> {
    let mut v: Vec<String> = s.lines().map(str::to_string).collect();
    v.sort();
    v
}

#[test]
fn formats_match_the_docker_cli() {
    let d = require!(Daemon::with_docker_and_busybox());
    let path = d.dir.path().join("rootfs.tar");
    std::fs::write(&path, sample_rootfs_tar()).unwrap();
    let id = d.import(&path, "nocmd:1");

    // An imported image has no Cmd: `null`, through both clients.
    let f = "{{.Id}} {{json .Config.Cmd}}";
    let ours = d.ok(&["inspect", "-f", f, "nocmd:1"]);
    assert_eq!(ours, format!("{id} null\n"));
    assert_eq!(d.docker_ok(&["inspect", "-f", f, "nocmd:1"]), ours);
    let f = "{{json .Config.Entrypoint}} {{.Config.WorkingDir}}|{{json .Config.Labels}} {{.Config.Tty}}";
    let ours = d.ok(&["inspect", "--type", "image", "-f", f, "nocmd:1"]);
    assert_eq!(ours, "null |null false\n");
    for f in [
        "{{.Config.Cmd}} {{.Config.Env}}",
        "{{.Config.Labels}}|{{.Config.Volumes}}|{{.RepoTags}}",
    ] {
        let ours = d.ok(&["inspect", "-f", f, "nocmd:1"]);
        assert_eq!(ours, d.docker_ok(&["inspect", "-f", f, "nocmd:1"]), "{f}");
    }
    let raw = d.inspect("nocmd:1");
    for key in [
        "Cmd",
        "Entrypoint",
        "Env",
        "Labels",
        "Volumes",
        "OnBuild",
        "WorkingDir",
        "User",
    ] {
        assert!(raw["Config"].get(key).is_some(), "Config.{key} missing: {raw}");
    }

    d.ok(&["create", "--name", "fmt-a", "busybox", "true"]);
    for f in [
        "{{.State.Status}}",
        "{{.Name}} {{json .Config.Cmd}} {{.HostConfig.NetworkMode}}",
    ] {
        assert_eq!(
            d.ok(&["inspect", "-f", f, "fmt-a"]),
            d.docker_ok(&["inspect", "-f", f, "fmt-a"]),
            "{f}"
        );
    }
    assert_eq!(d.ok(&["inspect", "-f", "{{.State.Status}}", "fmt-a"]), "created\n");

    for f in [
        "table {{.Names}}",
        "table {{.ID}}\\t{{.Image}}\\t{{.Status}}",
        "{{.Names}} {{.Command}} {{.State}}",
    ] {
        let ours = d.ok(&["ps", "-a", "--format", f]);
        assert_eq!(ours, d.docker_ok(&["ps", "-a", "--format", f]), "{f}");
        assert!(ours.contains("fmt-a") || ours.contains("busybox"), "{f}: {ours}");
    }
    assert_eq!(d.ok(&["ps", "-a", "--format", "table {{.Names}}"]), "NAMES\nfmt-a\n");

    for f in [
        "{{.Repository}}:{{.Tag}}",
        "table {{.Repository}}\\t{{.Tag}}\\t{{.ID}}",
        "json",
        "{{json .}}",
    ] {
        // The relative time may tick between the two clients ("Less than
        // a second ago", "1 second ago"): not compared.
        let ours = without_created_since(&d.ok(&["images", "--format", f]));
        let theirs = without_created_since(&d.docker_ok(&["images", "--format", f]));
        assert_eq!(sorted(&ours), sorted(&theirs), "{f}");
    }
    assert!(sorted(&d.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"])).contains(&"nocmd:1".to_string()));
}

/// `text` with the value of each `"CreatedSince":"…"` cut out, the rest
/// byte for byte (key order and escapes are compared too).
fn without_created_since(text: &str) -> String {
    const KEY: &str = "\"CreatedSince\":\"";
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find(KEY) {
        let value = at + KEY.len();
        out.push_str(&rest[..value]);
        rest = &rest[value..];
        rest = &rest[rest.find('"').unwrap_or(rest.len())..];
    }
    out.push_str(rest);
    out
}

#[test]
fn a_missing_key_is_docker_s_template_error() {
    let d = Daemon::start();
    let path = d.dir.path().join("rootfs.tar");
    std::fs::write(&path, sample_rootfs_tar()).unwrap();
    d.import(&path, "nocmd:1");
    let out = d.strata(&["inspect", "-f", "{{.Nope}}", "nocmd:1"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(
            r#"template parsing error: template: :1:2: executing "" at <.Nope>: map has no entry for key "Nope""#
        ),
        "{}",
        text(&out)
    );
    assert!(out.stdout.is_empty());
    // Go places the error at the chain's last field, as docker reports it.
    let f = "{{.Config.Nope}}";
    let ours = d.strata(&["inspect", "-f", f, "nocmd:1"]);
    let want =
        r#"template parsing error: template: :1:9: executing "" at <.Config.Nope>: map has no entry for key "Nope""#;
    assert!(String::from_utf8_lossy(&ours.stderr).contains(want), "{}", text(&ours));
    if let Some(docker) = d.docker(&["inspect", "-f", f, "nocmd:1"]) {
        assert!(
            String::from_utf8_lossy(&docker.stderr).contains(want),
            "{}",
            text(&docker)
        );
    }
    let out = d.strata(&["images", "--format", "{{.Repository"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
}

#[test]
fn history_volume_network_version_and_info_formats_match_the_docker_cli() {
    let d = require!(Daemon::with_docker_and_busybox());
    d.ok(&["volume", "create", "fmt-vol"]);
    let cases: &[&[&str]] = &[
        &[
            "history",
            "--format",
            "{{.ID}} {{.Size}} {{.CreatedBy}} {{.Comment}}",
            "busybox",
        ],
        // CreatedAt, not CreatedSince: a second may tick between the two clients.
        &["history", "--format", "table {{.ID}}\\t{{.CreatedAt}}", "busybox"],
        &["volume", "ls", "--format", "{{.Name}} {{.Driver}} {{.Scope}}"],
        &["volume", "ls", "--format", "table {{.Name}}\\t{{.Driver}}"],
        &[
            "network",
            "ls",
            "--format",
            "{{.Name}} {{.Driver}} {{.Scope}} {{.IPv6}} {{.Internal}}",
        ],
        &["network", "ls", "--format", "table {{.ID}}\\t{{.Name}}"],
        &[
            "version",
            "--format",
            "{{.Server.Version}} {{.Server.APIVersion}} {{.Server.Os}}",
        ],
        &[
            "info",
            "--format",
            "{{.ServerVersion}} {{.Containers}} {{.Images}} {{json .Driver}}",
        ],
    ];
    for args in cases {
        let ours = d.ok(args);
        assert!(!ours.trim().is_empty(), "{args:?}");
        assert_eq!(ours, d.docker_ok(args), "{args:?}");
    }
    assert_eq!(
        d.ok(&["volume", "ls", "--format", "table {{.Name}}"]),
        "VOLUME NAME\nfmt-vol\n"
    );
}

#[test]
fn ps_sizes_filters_and_limits_match_the_docker_cli() {
    let d = require!(Daemon::with_docker_and_busybox());
    d.ok(&["run", "--name", "small", "busybox", "true"]);
    d.ok(&[
        "run",
        "--name",
        "big",
        "busybox",
        "dd",
        "if=/dev/zero",
        "of=/f",
        "bs=1k",
        "count=300",
    ]);
    d.ok(&["create", "--name", "newest", "--label", "k=v", "busybox", "true"]);
    let cases: &[&[&str]] = &[
        // No time columns: a second may tick between the two clients.
        &["ps", "-a", "-s", "--format", "table {{.ID}}\\t{{.Names}}\\t{{.Size}}"],
        &["ps", "-a", "--size", "--format", "{{.Names}} {{.Size}}"],
        &["ps", "-a", "-n", "2", "--format", "{{.Names}}"],
        &["ps", "-l", "--format", "{{.Names}}"],
        &["ps", "-a", "--filter", "label=k=v", "--format", "{{.Names}}"],
        &["ps", "-a", "-f", "name=big", "-f", "status=exited", "-q"],
    ];
    for args in cases {
        let ours = d.ok(args);
        assert!(!ours.trim().is_empty(), "{args:?}");
        assert_eq!(ours, d.docker_ok(args), "{args:?}");
    }
    // The writable layer holds the 300 KiB file: its size is that, and
    // the virtual size adds the image's.
    let sizes = d.ok(&["ps", "-a", "-s", "--format", "{{.Names}} {{.Size}}"]);
    let big = sizes.lines().find(|l| l.starts_with("big ")).expect("big is listed");
    assert!(big.starts_with("big 307kB (virtual "), "{sizes}");
    assert_eq!(d.ok(&["ps", "-l", "-q"]).trim().len(), 12);
}

//! Registries through `strata`: pull, push, login and logout, and the
//! `--pull` policy of run and create. Every client here keeps its
//! credentials under the test's directory (`STRATA_CONFIG`), never the
//! user's.

use crate::util::{Daemon, STRATA, output_within, text};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

/// `strata ARGS` against `d` with its credentials in `config`.
pub fn strata_with(d: &Daemon, config: &Path, args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut cmd = Command::new(STRATA);
    cmd.arg("-H").arg(d.host()).args(args);
    cmd.env_remove("STRATA_HOST").env("STRATA_CONFIG", config);
    cmd.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() });
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn strata");
    if let Some(data) = stdin {
        use std::io::Write;
        let mut pipe = child.stdin.take().expect("stdin");
        let data = data.to_vec();
        std::thread::spawn(move || {
            let _ = pipe.write_all(&data);
        });
    }
    output_within(child, Duration::from_secs(60), &format!("strata {}", args.join(" ")))
}

/// `strata ARGS` with a terminal (a pty from `script`) as stdin, stdout
/// and stderr: what it wrote there, `\r\n` as the terminal got it.
pub fn strata_on_terminal(d: &Daemon, config: &Path, args: &[&str]) -> Output {
    let quote = |s: &str| format!("'{}'", s.replace('\'', r"'\''"));
    let mut line = format!("{} -H {}", quote(STRATA), quote(&d.host()));
    for a in args {
        line = line + " " + &quote(a);
    }
    let child = Command::new("script")
        .args(["-q", "-e", "-c", &line, "/dev/null"])
        .env("STRATA_CONFIG", config)
        .env("COLUMNS", "120")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run script");
    output_within(
        child,
        Duration::from_secs(60),
        &format!("strata {} on a pty", args.join(" ")),
    )
}

fn config_dir(d: &Daemon) -> PathBuf {
    d.dir.path().join("client-config")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn login_refuses_what_docker_refuses_and_writes_nothing() {
    let d = Daemon::prepare();
    let config = config_dir(&d);
    let both = strata_with(
        &d,
        &config,
        &["login", "-u", "a", "-p", "x", "--password-stdin"],
        Some(b"x\n"),
    );
    assert_eq!(both.status.code(), Some(1), "{}", text(&both));
    assert!(stderr(&both).starts_with("WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n"));
    assert!(stderr(&both).contains("--password and --password-stdin are mutually exclusive"));

    let no_user = strata_with(
        &d,
        &config,
        &["login", "--password-stdin", "127.0.0.1:5000"],
        Some(b"x\n"),
    );
    assert_eq!(no_user.status.code(), Some(1));
    assert!(stderr(&no_user).contains("Must provide --username with --password-stdin"));

    let no_tty = strata_with(&d, &config, &["login", "127.0.0.1:5000"], None);
    assert_eq!(no_tty.status.code(), Some(1));
    assert!(
        stderr(&no_tty).contains("Error: Cannot perform an interactive login from a non TTY device"),
        "{}",
        text(&no_tty)
    );
    assert!(!config.exists(), "nothing was stored");
}

#[test]
fn logout_names_the_registry_as_docker_does() {
    let d = Daemon::prepare();
    let config = config_dir(&d);
    let out = strata_with(&d, &config, &["logout", "http://127.0.0.1:5999/v2/"], None);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "Removing login credentials for 127.0.0.1:5999\n"
    );
    let hub = strata_with(&d, &config, &["logout"], None);
    assert_eq!(
        String::from_utf8_lossy(&hub.stdout),
        "Removing login credentials for https://index.docker.io/v1/\n"
    );
    assert!(!config.exists(), "no file is made to remove nothing");
}

#[test]
fn pull_never_leaves_a_missing_image_missing() {
    let d = Daemon::start();
    let config = config_dir(&d);
    let out = strata_with(&d, &config, &["run", "--pull", "never", "nosuch:1", "true"], None);
    assert_eq!(out.status.code(), Some(125), "{}", text(&out));
    assert!(stderr(&out).contains("No such image: nosuch:1"), "{}", text(&out));
    assert!(!stderr(&out).contains("Unable to find image"), "{}", text(&out));
    let bad = strata_with(&d, &config, &["create", "--pull", "sometimes", "x"], None);
    assert!(!bad.status.success());
    assert!(
        stderr(&bad).contains(r#"invalid pull option: 'sometimes': must be one of "always", "missing" or "never""#),
        "{}",
        text(&bad)
    );
}

#[test]
fn a_missing_image_is_looked_for_in_its_registry_first() {
    let d = Daemon::start();
    let config = config_dir(&d);
    // Port 9 (discard) on loopback: nothing serves a registry there.
    let out = strata_with(&d, &config, &["create", "127.0.0.1:9/nosuch"], None);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        stderr(&out).starts_with("Unable to find image '127.0.0.1:9/nosuch:latest' locally\n"),
        "{}",
        text(&out)
    );
    assert!(out.stdout.is_empty(), "stdout is for the container ID only");
    let images = d.ok(&["images", "-q"]);
    assert_eq!(images, "", "nothing was made");
}

#[test]
fn images_digests_shows_a_digest_column() {
    let d = Daemon::start();
    let path = d.dir.path().join("rootfs.tar");
    std::fs::write(&path, crate::util::sample_rootfs_tar()).unwrap();
    d.import(&path, "sample:1");
    let table = d.ok(&["images", "--digests"]);
    let mut lines = table.lines();
    let header = lines.next().unwrap();
    assert!(
        header.starts_with("REPOSITORY   TAG       DIGEST    IMAGE ID"),
        "{header:?}"
    );
    let row: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(&row[..3], ["sample", "1", "<none>"], "an imported image has no digest");
}

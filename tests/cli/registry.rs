//! Registries through `strata`: pull, push, login and logout, and the
//! `--pull` policy of run and create. Every client here keeps its
//! credentials under the test's directory (`STRATA_CONFIG`), never the
//! user's.

use crate::util::{Daemon, Registry, STRATA, output_within, require, text};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

/// `strata ARGS` against `d` with its credentials in `config`; `stdin` is
/// a line or two (a password), written whole before the output is read.
pub fn strata_with(d: &Daemon, config: &Path, args: &[&str], stdin: Option<&[u8]>) -> Output {
    use std::io::Write;
    let mut child = Command::new(STRATA)
        .arg("-H")
        .arg(d.host())
        .args(args)
        .env_remove("STRATA_HOST")
        .env("STRATA_CONFIG", config)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn strata");
    let mut pipe = child.stdin.take().expect("stdin");
    let small = stdin.unwrap_or_default();
    assert!(small.len() < 4096, "more than a pipe's buffer could block");
    let _ = pipe.write_all(small);
    drop(pipe);
    output_within(child, Duration::from_secs(60), &format!("strata {}", args.join(" ")))
}

/// `strata ARGS` with a terminal (a pty from `script`) as stdin, stdout
/// and stderr: what it wrote there, `\r\n` as the terminal got it.
pub fn strata_on_terminal(d: &Daemon, config: &Path, args: &[&str]) -> Output {
    let child = on_pty(d, config, args)
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

/// `script` running `strata -H … ARGS` on a pty, credentials in `config`.
fn on_pty(d: &Daemon, config: &Path, args: &[&str]) -> Command {
    pty_command(STRATA, d, ("STRATA_CONFIG", config), args)
}

/// `script` running `PROGRAM -H HOST ARGS` on a pty, with one variable set.
fn pty_command(program: &str, d: &Daemon, var: (&str, &Path), args: &[&str]) -> Command {
    let quote = |s: &str| format!("'{}'", s.replace('\'', r"'\''"));
    let line = std::iter::once(program.to_string())
        .chain(["-H".into(), d.host()])
        .chain(args.iter().map(|a| a.to_string()))
        .map(|a| quote(&a))
        .collect::<Vec<_>>()
        .join(" ");
    let mut cmd = Command::new("script");
    cmd.args(["-q", "-e", "-c", &line, "/dev/null"]).env(var.0, var.1);
    cmd
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
    // -q: no pull output, but the pull's failure is still the error.
    let quiet = strata_with(&d, &config, &["create", "-q", "127.0.0.1:9/nosuch"], None);
    assert_eq!(quiet.status.code(), Some(1), "{}", text(&quiet));
    assert!(!stderr(&quiet).contains("Unable to find image"), "{}", text(&quiet));
    assert!(!stderr(&quiet).is_empty(), "{}", text(&quiet));
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

/// `NAME: STATUS` lines of the layers (12 hex digits of their digests).
fn layer_lines<'a>(stdout: &'a str, status: &str) -> Vec<&'a str> {
    stdout
        .lines()
        .filter(|l| {
            l.split_once(": ")
                .is_some_and(|(id, s)| s == status && id.len() == 12 && id.bytes().all(|b| b.is_ascii_hexdigit()))
        })
        .collect()
}

#[test]
fn pull_prints_dockers_lines_then_the_full_name() {
    let reg = require!(Registry::plain());
    let (_image, digest) = require!(reg.seed_busybox("busybox:latest"));
    let d = Daemon::start();
    let config = config_dir(&d);
    let name = format!("{}/busybox", reg.addr());
    let out = strata_with(&d, &config, &["pull", &name], None);
    assert!(out.status.success(), "{}\n{}", text(&out), d.log());
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[0], "Using default tag: latest", "{stdout}");
    assert!(lines[1].starts_with("latest: Pulling from "), "{stdout}");
    assert_eq!(layer_lines(&stdout, "Pull complete").len(), 1, "{stdout}");
    assert!(!stdout.contains("Downloading"), "no progress in a pipe: {stdout}");
    assert_eq!(
        lines[lines.len() - 3..],
        [
            format!("Digest: {digest}"),
            format!("Status: Downloaded newer image for {name}:latest"),
            format!("{name}:latest"),
        ]
    );
    let table = d.ok(&["images", "--digests"]);
    assert!(
        table.lines().any(|l| l.contains(&digest) && l.starts_with(&name)),
        "{table}"
    );

    let again = strata_with(&d, &config, &["pull", &format!("{name}:latest")], None);
    let again = String::from_utf8(again.stdout).unwrap();
    assert!(!again.contains("Using default tag"), "{again}");
    assert!(
        again.contains(&format!("Status: Image is up to date for {name}:latest")),
        "{again}"
    );
    let quiet = strata_with(&d, &config, &["pull", "-q", &name], None);
    assert_eq!(String::from_utf8_lossy(&quiet.stdout), format!("{name}:latest\n"));

    // On a terminal, layers moving are bars redrawn in place.
    d.ok(&["rmi", &format!("{name}:latest")]);
    let tty = strata_on_terminal(&d, &config, &["pull", &format!("{name}@{digest}")]);
    let shown = String::from_utf8_lossy(&tty.stdout);
    assert!(shown.contains("\x1b[2K"), "lines redrawn in place: {shown:?}");
    // Every layer status, not only the bars, is drawn over its own line.
    let complete = shown.find(": Pull complete").expect("a layer completes");
    assert!(
        shown[..complete - 12].ends_with("\x1b[1A\x1b[2K\r"),
        "Pull complete replaces the layer's line: {shown:?}"
    );
    assert!(shown.contains(&format!("{name}@{digest}")), "{shown:?}");
}

#[test]
fn pull_errors_are_dockers_message_on_stderr() {
    let reg = require!(Registry::plain());
    let d = Daemon::start();
    let config = config_dir(&d);
    let out = strata_with(&d, &config, &["pull", &format!("{}/nosuch:1", reg.addr())], None);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = stderr(&out);
    assert!(err.contains("not found") || err.contains("unknown"), "{err}");
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("Status:"),
        "{}",
        text(&out)
    );
    assert_eq!(d.ok(&["images", "-q"]), "", "no image");
    for dir in ["layers", "tmp"] {
        let left = std::fs::read_dir(d.root.join(dir)).map(|r| r.count()).unwrap_or(0);
        assert_eq!(left, 0, "nothing in {dir}/");
    }
}

#[test]
fn login_keeps_the_credentials_that_pull_then_sends() {
    let reg = require!(Registry::basic("alice", "correct-horse-battery"));
    require!(reg.seed_busybox("private/busybox:1"));
    let d = Daemon::start();
    let config = config_dir(&d);
    let name = format!("{}/private/busybox:1", reg.addr());
    let anonymous = strata_with(&d, &config, &["pull", &name], None);
    assert_eq!(anonymous.status.code(), Some(1), "{}", text(&anonymous));

    let wrong = strata_with(
        &d,
        &config,
        &["login", "-u", "alice", "--password-stdin", &reg.addr()],
        Some(b"wrong-horse-staple\n"),
    );
    assert_eq!(wrong.status.code(), Some(1), "{}", text(&wrong));
    assert!(
        stderr(&wrong).starts_with("Error response from daemon: "),
        "{}",
        text(&wrong)
    );
    assert!(
        !text(&wrong).contains("wrong-horse-staple"),
        "never in an error: {}",
        text(&wrong)
    );
    assert!(!config.join("auth.json").exists(), "a refused login stores nothing");

    let login = strata_with(
        &d,
        &config,
        &["login", "-u", "alice", "--password-stdin", &reg.addr()],
        Some(b"correct-horse-battery\n"),
    );
    assert!(login.status.success(), "{}\n{}", text(&login), d.log());
    assert_eq!(String::from_utf8_lossy(&login.stdout), "Login Succeeded\n");
    let file = config.join("auth.json");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    assert_eq!(std::fs::metadata(&config).unwrap().permissions().mode() & 0o777, 0o700);
    let stored = std::fs::read_to_string(&file).unwrap();
    assert!(!stored.contains("correct-horse-battery"), "base64, as docker keeps it");
    assert!(stored.contains(&reg.addr()), "{stored}");
    assert!(!d.log().contains("correct-horse-battery"), "never in the daemon's log");

    let pulled = strata_with(&d, &config, &["pull", &name], None);
    assert!(pulled.status.success(), "{}\n{}", text(&pulled), d.log());
    // Logged in already: no prompt, the stored credentials are checked.
    let relogin = strata_with(&d, &config, &["login", &reg.addr()], None);
    assert!(relogin.status.success(), "{}", text(&relogin));
    assert_eq!(String::from_utf8_lossy(&relogin.stdout), "Login Succeeded\n");

    let out = strata_with(&d, &config, &["logout", &reg.addr()], None);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("Removing login credentials for {}\n", reg.addr())
    );
    assert!(!std::fs::read_to_string(&file).unwrap().contains(&reg.addr()));
    d.ok(&["rmi", &name]);
    let after = strata_with(&d, &config, &["pull", &name], None);
    assert_eq!(after.status.code(), Some(1), "logged out: {}", text(&after));
}

#[test]
fn run_pulls_a_missing_image_first() {
    require!(crate::util::fuse());
    let reg = require!(Registry::plain());
    require!(reg.seed_busybox("busybox:latest"));
    let d = Daemon::start();
    let config = config_dir(&d);
    let name = format!("{}/busybox", reg.addr());
    let out = strata_with(&d, &config, &["run", "--rm", &name, "echo", "hi"], None);
    assert!(out.status.success(), "{}\n{}", text(&out), d.log());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hi\n", "the pull went to stderr");
    let err = stderr(&out);
    assert!(
        err.starts_with(&format!("Unable to find image '{name}:latest' locally\n")),
        "{err}"
    );
    assert!(
        err.contains(&format!("Status: Downloaded newer image for {name}:latest")),
        "{err}"
    );
    // Present now: no pull.
    let again = strata_with(&d, &config, &["run", "--rm", &name, "echo", "hi"], None);
    assert_eq!(stderr(&again), "", "{}", text(&again));
    // -q: the pull is done, its output not shown.
    let quiet = strata_with(
        &d,
        &config,
        &["run", "-q", "--rm", "--pull", "always", &name, "echo", "hi"],
        None,
    );
    assert_eq!(
        (stderr(&quiet).as_str(), String::from_utf8_lossy(&quiet.stdout).as_ref()),
        ("", "hi\n")
    );
    // Always: pulled again (up to date), then run.
    let always = strata_with(
        &d,
        &config,
        &["run", "--rm", "--pull", "always", &name, "echo", "hi"],
        None,
    );
    assert!(
        stderr(&always).contains("Status: Image is up to date for"),
        "{}",
        text(&always)
    );
    assert_eq!(String::from_utf8_lossy(&always.stdout), "hi\n");
}

/// `strata ARGS` on a pty, answering each `(prompt, reply)` once the
/// prompt is on the screen (so a reply meant for a no-echo prompt is not
/// typed before echo is off): everything the terminal showed.
fn strata_answering(d: &Daemon, config: &Path, args: &[&str], answers: &[(&str, &str)]) -> String {
    use std::io::{Read, Write};
    let mut child = on_pty(d, config, args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("run script");
    let mut stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel::<Vec<u8>>();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n @ 1..) = stdout.read(&mut buf) {
            if tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut stdin = child.stdin.take().expect("stdin");
    let mut shown = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let read_more = |shown: &mut Vec<u8>| -> bool {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left) {
            Ok(bytes) => {
                shown.extend(bytes);
                true
            }
            Err(_) => false,
        }
    };
    let mut seen = 0;
    for (prompt, reply) in answers {
        while !String::from_utf8_lossy(&shown[seen..]).contains(prompt) {
            assert!(
                read_more(&mut shown),
                "no {prompt:?} in {:?}",
                String::from_utf8_lossy(&shown)
            );
        }
        seen = shown.len();
        stdin.write_all(format!("{reply}\n").as_bytes()).expect("type");
    }
    while read_more(&mut shown) {}
    drop(stdin);
    let _ = child.wait();
    String::from_utf8_lossy(&shown).into_owned()
}

#[test]
fn login_prompts_on_a_terminal_without_echoing_the_password() {
    let reg = require!(Registry::basic("alice", "correct-horse-battery"));
    let d = Daemon::start();
    let config = config_dir(&d);
    let shown = strata_answering(
        &d,
        &config,
        &["login", &reg.addr()],
        &[("Username: ", "alice"), ("Password: ", "correct-horse-battery")],
    );
    assert!(shown.contains("Login Succeeded"), "{shown:?}\n{}", d.log());
    assert!(shown.contains("alice"), "the username is echoed: {shown:?}");
    assert!(
        !shown.contains("correct-horse-battery"),
        "the password is not: {shown:?}"
    );
    assert!(config.join("auth.json").exists());
}

#[test]
fn pull_platform_picks_an_entry_of_a_multi_platform_image() {
    let reg = require!(Registry::plain());
    let platforms = require!(reg.seed_platforms("multi", "1", crate::util::IndexKind::Oci));
    let d = Daemon::start();
    let config = config_dir(&d);
    let name = format!("{}/multi:1", reg.addr());
    // Docker lowercases the platform before sending it.
    let out = strata_with(&d, &config, &["pull", "--platform", "Linux/ARM64", &name], None);
    assert!(out.status.success(), "{}\n{}", text(&out), d.log());
    let arm = d.inspect(&name);
    assert_eq!(arm["Architecture"], "arm64");
    // As Docker: the digest of what the name points to, the index.
    assert_eq!(
        arm["RepoDigests"],
        serde_json::json!([format!("{}/multi@{}", reg.addr(), platforms.index)])
    );
    if std::env::consts::ARCH == "x86_64" {
        d.ok(&["rmi", &name]);
        let out = strata_with(&d, &config, &["pull", "-q", &name], None);
        assert!(out.status.success(), "{}", text(&out));
        assert_eq!(d.inspect(&name)["Architecture"], "amd64", "the host's by default");
    }
}

#[test]
fn push_prints_dockers_lines_and_the_image_comes_back() {
    let reg = require!(Registry::plain());
    let d = Daemon::start();
    let config = config_dir(&d);
    let tar = d.dir.path().join("rootfs.tar");
    std::fs::write(&tar, crate::util::sample_rootfs_tar()).unwrap();
    let id = d.import(&tar, "sample:1");
    let name = format!("{}/sample", reg.addr());
    d.ok(&["tag", "sample:1", &format!("{name}:1")]);
    let bad = strata_with(&d, &config, &["push", "--all-tags", &format!("{name}:1")], None);
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        stderr(&bad).contains("tag can't be used with --all-tags/-a"),
        "{}",
        text(&bad)
    );

    let out = strata_with(&d, &config, &["push", &format!("{name}:1")], None);
    assert!(out.status.success(), "{}\n{}", text(&out), d.log());
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[0], format!("The push refers to repository [{name}]"), "{stdout}");
    assert_eq!(layer_lines(&stdout, "Pushed").len(), 1, "{stdout}");
    let last = lines.last().unwrap();
    assert!(
        last.starts_with("1: digest: sha256:") && last.contains(" size: "),
        "{stdout}"
    );
    assert!(!stdout.contains("Pushing"), "no progress in a pipe: {stdout}");

    let again = strata_with(&d, &config, &["push", "-q", &format!("{name}:1")], None);
    assert_eq!(
        String::from_utf8_lossy(&again.stdout),
        format!("{name}:1\n"),
        "{}",
        text(&again)
    );
    let again = strata_with(&d, &config, &["push", &format!("{name}:1")], None);
    assert_eq!(
        layer_lines(&String::from_utf8_lossy(&again.stdout), "Layer already exists").len(),
        1
    );

    // Every tag of the repository with --all-tags.
    d.ok(&["tag", "sample:1", &format!("{name}:2")]);
    let all = strata_with(&d, &config, &["push", "-a", &name], None);
    let all = String::from_utf8_lossy(&all.stdout).into_owned();
    for tag in ["1", "2"] {
        assert!(
            all.lines().any(|l| l.starts_with(&format!("{tag}: digest: sha256:"))),
            "{all}"
        );
    }
    assert!(!all.contains("Using default tag"), "{all}");

    let other = Daemon::start();
    let pulled = strata_with(&other, &config, &["pull", &format!("{name}:1")], None);
    assert!(pulled.status.success(), "{}\n{}", text(&pulled), other.log());
    assert_eq!(
        other.inspect(&format!("{name}:1"))["Id"],
        id.as_str(),
        "the same image ID"
    );
}

#[test]
fn the_tutorial_from_a_registry_through_strata() {
    require!(crate::util::fuse());
    let reg = require!(Registry::plain());
    require!(reg.seed_busybox("busybox:latest"));
    let d = Daemon::start();
    let config = config_dir(&d);
    let ok = |args: &[&str]| {
        let out = strata_with(&d, &config, args, None);
        assert!(out.status.success(), "strata {args:?}: {}\n{}", text(&out), d.log());
        String::from_utf8(out.stdout).unwrap()
    };
    let image = format!("{}/busybox", reg.addr());
    let committed = format!("{image}:committed");
    ok(&["run", "--name", "git", &image, "sh", "-c", "echo hello > /greeting"]);
    assert!(ok(&["diff", "git"]).lines().any(|l| l == "A /greeting"));
    ok(&["commit", "git", &committed]);
    let before = d.inspect(&committed);
    ok(&["push", &committed]);
    ok(&["rm", "git"]);
    ok(&["rmi", &committed, &image]);
    assert_eq!(ok(&["images", "-q"]), "", "everything removed");
    ok(&["pull", &committed]);
    let after = d.inspect(&committed);
    assert_eq!(after["Id"], before["Id"], "the same image ID");
    assert_eq!(after["RootFS"]["Layers"], before["RootFS"]["Layers"]);
    assert_eq!(ok(&["run", "--rm", &committed, "cat", "/greeting"]), "hello\n");
}

/// `docker ARGS` and `strata ARGS`, each against its own fresh daemon: both
/// outputs and exit codes, for comparing the two clients line for line.
fn docker_and_strata(runs: &[&[&str]]) -> Option<Vec<(Output, Output)>> {
    let (for_docker, for_strata) = (Daemon::start(), Daemon::start());
    let config = config_dir(&for_strata);
    let mut pairs = Vec::new();
    for args in runs {
        let docker = for_docker.docker_part(args)?;
        let strata = strata_with(&for_strata, &config, args, None);
        pairs.push((docker, strata));
    }
    Some(pairs)
}

#[test]
fn strata_prints_what_the_docker_cli_prints() {
    let reg = require!(Registry::plain());
    let (_, digest) = require!(reg.seed_busybox("busybox:latest"));
    let name = format!("{}/busybox", reg.addr());
    let missing = format!("{}/nosuch:1", reg.addr());
    let runs: [&[&str]; 5] = [
        &["pull", &name],
        &["pull", &format!("{name}@{digest}")],
        &["pull", "-q", &name],
        &["pull", &missing],
        &["images", "--digests", "--format", "json"],
    ];
    let Some(pairs) = docker_and_strata(&runs) else { return };
    for (args, (docker, strata)) in runs.iter().zip(&pairs) {
        assert_eq!(
            String::from_utf8_lossy(&strata.stdout),
            String::from_utf8_lossy(&docker.stdout),
            "stdout of {args:?}"
        );
        assert_eq!(strata.status.code(), docker.status.code(), "exit code of {args:?}");
        assert_eq!(stderr(strata), stderr(docker), "stderr of {args:?}");
    }
}

#[test]
fn strata_run_pulls_as_the_docker_cli_does() {
    require!(crate::util::fuse());
    let reg = require!(Registry::plain());
    require!(reg.seed_busybox("busybox:latest"));
    let name = format!("{}/busybox", reg.addr());
    let runs: [&[&str]; 2] = [
        &["run", "--rm", &name, "echo", "hi"],
        &["create", "--pull", "never", "nosuch:1"],
    ];
    let Some(pairs) = docker_and_strata(&runs) else { return };
    let (docker, strata) = &pairs[0];
    assert_eq!(String::from_utf8_lossy(&strata.stdout), "hi\n");
    assert_eq!(strata.stdout, docker.stdout);
    assert_eq!(stderr(strata), stderr(docker), "the pull's lines on stderr");
    let (docker, strata) = &pairs[1];
    assert_eq!(strata.status.code(), docker.status.code());
    // Docker's error, then strata's next step (pull, load or import).
    let ours = stderr(strata);
    assert!(ours.starts_with(&stderr(docker)), "{ours}");
    assert!(ours.contains("strata pull nosuch:1"), "{ours}");
}

/// A terminal's bytes without the redraws of bars that move (`Downloading`,
/// `Extracting` or `Loading layer` with counts): how many the daemon sends depends on time.
/// A redraw is `[ESC[nA] ESC[2K \r TEXT \r [ESC[nB]`.
fn without_moving_bars(shown: &str) -> String {
    const REDRAW: &str = "\x1b[2K\r";
    let ends_move = |s: &str, letter: char| {
        let i = s.rfind("\x1b[")?;
        let digits = s[i + 2..].strip_suffix(letter)?;
        (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())).then_some(i)
    };
    let (mut out, mut rest) = (String::new(), shown);
    while let Some(at) = rest.find(REDRAW) {
        let before = &rest[..at];
        let start = ends_move(before, 'A').unwrap_or(at);
        let body = &rest[at + REDRAW.len()..];
        let text_end = body.find('\r').map_or(body.len(), |i| i + 1);
        let text = &body[..text_end];
        let mut end = at + REDRAW.len() + text_end;
        if let Some(close) = rest[end..]
            .find('B')
            .filter(|&b| ends_move(&rest[end..end + b + 1], 'B') == Some(0))
        {
            end += close + 1;
        }
        let moving = text.split_once(": ").is_some_and(|(_, status)| {
            ["Downloading ", "Extracting ", "Loading layer "]
                .iter()
                .any(|moving| status.strip_prefix(moving).is_some_and(|bar| !bar.trim().is_empty()))
        });
        out.push_str(&rest[..start]);
        if !moving {
            out.push_str(&rest[start..end]);
        }
        rest = &rest[end..];
    }
    out + rest
}

/// What `args` draws on a terminal: run by the docker CLI against
/// `for_docker`, and by strata against `for_strata`.
fn drawn_by_both(for_docker: &Daemon, for_strata: &Daemon, args: &[&str]) -> [String; 2] {
    let docker_config = for_docker.dir.path().join("docker-config");
    let docker = pty_command("docker", for_docker, ("DOCKER_CONFIG", &docker_config), args);
    let strata = on_pty(for_strata, &config_dir(for_strata), args);
    [docker, strata].map(|mut c| {
        let child = c
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let out = output_within(child, Duration::from_secs(60), &format!("{} on a pty", args[0]));
        String::from_utf8(out.stdout).unwrap()
    })
}

#[test]
fn strata_draws_a_terminal_as_the_docker_cli_does() {
    let reg = require!(Registry::plain());
    require!(reg.seed_busybox("busybox:latest"));
    require!(crate::util::tool("docker"));
    let name = format!("{}/busybox", reg.addr());
    let (for_docker, for_strata) = (Daemon::start(), Daemon::start());
    let [docker, strata] = drawn_by_both(&for_docker, &for_strata, &["pull", &name]);
    assert!(strata.contains("\x1b[1A\x1b[2K\r"), "redrawn in place: {strata:?}");
    assert_eq!(without_moving_bars(&strata), without_moving_bars(&docker));
}

#[test]
fn strata_draws_a_load_as_the_docker_cli_does() {
    let image = require!(crate::util::busybox_image());
    require!(crate::util::tool("docker"));
    let (for_docker, for_strata) = (Daemon::start(), Daemon::start());
    let archive = for_strata.dir.path().join("busybox.tar");
    image.write_docker_archive(&archive, "busybox:1");
    let args = ["load", "-i", archive.to_str().unwrap()];
    let [docker, strata] = drawn_by_both(&for_docker, &for_strata, &args);
    assert!(strata.contains("Loaded image: busybox:1"), "{strata:?}");
    assert_eq!(without_moving_bars(&strata), without_moving_bars(&docker));
}

#[test]
fn moving_bars_are_told_from_statuses() {
    let shown = "a\r\nid: Pulling fs layer\r\n\r\n\x1b[1A\x1b[2K\rid: Downloading [=>  ] 1MB/2MB\r\x1b[1B\x1b[1A\x1b[2K\rid: Pull complete \r\x1b[1Bz\r\n";
    assert_eq!(
        without_moving_bars(shown),
        "a\r\nid: Pulling fs layer\r\n\r\n\x1b[1A\x1b[2K\rid: Pull complete \r\x1b[1Bz\r\n"
    );
}

#[test]
fn login_and_pull_through_a_token_registry() {
    let reg = require!(Registry::token("bob", "token-pass-1234"));
    require!(reg.seed_busybox("team/busybox:1"));
    let d = Daemon::start();
    let config = config_dir(&d);
    let name = format!("{}/team/busybox:1", reg.addr());
    let anonymous = strata_with(&d, &config, &["pull", &name], None);
    assert_eq!(anonymous.status.code(), Some(1), "{}", text(&anonymous));
    let login = strata_with(
        &d,
        &config,
        &["login", "-u", "bob", "--password-stdin", &reg.addr()],
        Some(b"token-pass-1234\n"),
    );
    assert!(login.status.success(), "{}\n{}", text(&login), d.log());
    let pulled = strata_with(&d, &config, &["pull", "-q", &name], None);
    assert!(pulled.status.success(), "{}\n{}", text(&pulled), d.log());
    assert_eq!(String::from_utf8_lossy(&pulled.stdout), format!("{name}\n"));
    assert!(!d.log().contains("token-pass-1234"), "never in the daemon's log");
}

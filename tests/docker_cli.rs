//! The real docker CLI (client only; no engine here) driving stratad.

use crate::util::{Daemon, require, sample_rootfs_tar, sha256_hex};
use std::process::Output;

fn ok(out: Option<Output>, what: &str) -> Option<String> {
    let out = out?;
    assert!(
        out.status.success(),
        "docker {what} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8(out.stdout).unwrap())
}

#[test]
fn docker_cli_manages_images_through_stratad() {
    let d = Daemon::start();
    require!(d.docker_cli());
    let version = ok(d.docker(&["version"]), "version").unwrap();
    assert!(
        version.contains("Server: Strata") && version.contains("API version:      1.50"),
        "{version}"
    );
    let info = ok(d.docker(&["info"]), "info").unwrap();
    assert!(
        info.contains("Server Version: 0.1.0") && info.contains("Storage Driver: strata"),
        "{info}"
    );

    let tar = sample_rootfs_tar();
    let path = d.dir.path().join("x.tar");
    std::fs::write(&path, &tar).unwrap();
    let imported = ok(d.docker(&["import", path.to_str().unwrap(), "y:1"]), "import").unwrap();
    let id = imported.trim();
    assert!(id.starts_with("sha256:") && id.len() == 71, "{imported}");

    let images = ok(d.docker(&["images"]), "images").unwrap();
    assert!(
        images.lines().any(|l| l.starts_with("y ") && l.contains(&id[7..19])),
        "{images}"
    );

    let filtered = ok(d.docker(&["images", "y"]), "images y").unwrap();
    assert_eq!(filtered.lines().count(), 2, "{filtered}");
    let none = ok(d.docker(&["images", "nothing"]), "images nothing").unwrap();
    assert_eq!(none.lines().count(), 1, "{none}");

    let inspect = ok(d.docker(&["inspect", "y:1"]), "inspect").unwrap();
    let v: serde_json::Value = serde_json::from_str(&inspect).unwrap();
    assert_eq!(v[0]["Id"], id);
    assert_eq!(v[0]["RootFS"]["Layers"][0], format!("sha256:{}", sha256_hex(&tar)));

    ok(d.docker(&["tag", "y:1", "docker.io/library/z:2"]), "tag");
    let inspect = ok(d.docker(&["image", "inspect", "z:2"]), "inspect z").unwrap();
    assert!(inspect.contains("\"z:2\"") && inspect.contains("\"y:1\""), "{inspect}");
    let history = ok(d.docker(&["history", "z:2"]), "history").unwrap();
    assert!(
        history.contains(&id[7..19]) && history.contains("Imported from -"),
        "{history}"
    );

    let rmi = ok(d.docker(&["rmi", "y:1", "z:2"]), "rmi").unwrap();
    assert!(
        rmi.contains("Untagged: y:1") && rmi.contains("Untagged: z:2") && rmi.contains(&format!("Deleted: {id}")),
        "{rmi}"
    );
    let images = ok(d.docker(&["images", "-q"]), "images -q").unwrap();
    assert!(images.trim().is_empty(), "{images}");

    // The default image, built by its script through stratad, as docker sees it.
    d.import_busybox();
    let busybox = ok(d.docker(&["inspect", "busybox"]), "inspect busybox").unwrap();
    let v: serde_json::Value = serde_json::from_str(&busybox).unwrap();
    assert_eq!(v[0]["RepoTags"], serde_json::json!(["busybox:latest"]));
    assert_eq!(v[0]["Config"]["Cmd"], serde_json::json!(["sh"]));
    let images = ok(d.docker(&["images", "busybox"]), "images busybox").unwrap();
    assert!(
        images
            .lines()
            .nth(1)
            .is_some_and(|l| l.starts_with("busybox ") && l.contains("latest")),
        "{images}"
    );

    let missing = d.docker(&["inspect", "nope"]).unwrap();
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("No such object: nope"));
    let bad = d.docker(&["import", path.to_str().unwrap(), "UPPER:case"]).unwrap();
    assert!(!bad.status.success());
}

/// One command of a script and what it must answer.
#[derive(Debug, Default)]
struct Step {
    line: usize,
    command: String,
    stdout: Vec<String>,
    exit: i32,
    stderr: Vec<String>,
}

/// The steps of a script in `day.txt`'s format (see its head).
fn parse_script(text: &str) -> Vec<Step> {
    let mut steps: Vec<Step> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if let Some(command) = line.strip_prefix("$ ") {
            steps.push(Step {
                line: n + 1,
                command: command.to_string(),
                ..Step::default()
            });
            continue;
        }
        let Some(step) = steps.last_mut() else { continue };
        if line.starts_with('#') || (line.is_empty() && step.stdout.is_empty()) {
            continue;
        }
        if let Some(code) = line.strip_prefix("[exit ").and_then(|l| l.strip_suffix(']')) {
            step.exit = code.parse().expect("an exit status");
        } else if let Some(text) = line.strip_prefix("[stderr] ") {
            step.stderr.push(text.to_string());
        } else {
            step.stdout.push(line.to_string());
        }
    }
    // A blank line ends a step's output unless more output follows it.
    for step in &mut steps {
        while step.stdout.last().is_some_and(|l| l.is_empty()) {
            step.stdout.pop();
        }
    }
    steps
}

/// Whether `text` is `pattern`, where `*` stands for any run of characters.
fn glob(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, rest)) => {
            let Some(tail) = text.strip_prefix(head) else {
                return false;
            };
            (0..=tail.len())
                .filter(|&i| tail.is_char_boundary(i))
                .any(|i| glob(rest, &tail[i..]))
        }
    }
}

/// Whether `lines` are what `patterns` say, `...` standing for any lines.
fn lines_match(patterns: &[String], lines: &[&str]) -> bool {
    match patterns.split_first() {
        None => lines.is_empty(),
        Some((p, rest)) if p == "..." => (0..=lines.len()).any(|i| lines_match(rest, &lines[i..])),
        Some((p, rest)) => lines
            .split_first()
            .is_some_and(|(l, more)| glob(p, l) && lines_match(rest, more)),
    }
}

#[test]
fn the_script_matcher_reads_globs_and_ellipses() {
    assert!(glob("Exited (0) *", "Exited (0) 2 seconds ago"));
    assert!(glob("127.0.0.1:*", "127.0.0.1:40123"));
    assert!(!glob("127.0.0.1:*", "0.0.0.0:40123"));
    assert!(glob("*No such image: x*", "Error: No such image: x:latest"));
    let lines = ["Deleted Containers:", "abc", "def", "", "Total reclaimed space: 0B"];
    let p = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert!(lines_match(&p(&["Deleted Containers:", "...", "", "Total *"]), &lines));
    assert!(!lines_match(&p(&["Deleted Containers:", "*", "", "Total *"]), &lines));
    let steps = parse_script("# c\n$ a\nx\n\n[exit 2]\n$ b\n[stderr] e\n\n");
    assert_eq!(steps.len(), 2);
    assert_eq!((steps[0].stdout.clone(), steps[0].exit), (vec!["x".to_string()], 2));
    assert_eq!(steps[1].stderr, vec!["e".to_string()]);
}

/// A Docker user's day (tests/docker_cli/day.txt, 80-odd commands over
/// every verb) run by the docker CLI against stratad, each answer as
/// written there. Every mismatch is reported, not only the first.
#[test]
fn a_docker_users_day_runs_as_written() {
    let d = require!(Daemon::with_docker_and_busybox());
    require!(crate::util::tool("pasta"));
    let work = d.dir.path().join("day");
    std::fs::create_dir(&work).unwrap();
    let steps = parse_script(include_str!("docker_cli/day.txt"));
    assert!(steps.len() >= 60, "{} commands", steps.len());
    let mut failures = Vec::new();
    for step in &steps {
        let child = std::process::Command::new("bash")
            .args(["-c", &step.command])
            .current_dir(&work)
            .env("DOCKER_HOST", d.host())
            .env("DOCKER_CONFIG", d.dir.path().join("docker-config"))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run bash");
        let out = crate::util::output_within(child, std::time::Duration::from_secs(120), &step.command);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let lines: Vec<&str> = stdout.lines().collect();
        let ok = out.status.code() == Some(step.exit)
            && lines_match(&step.stdout, &lines)
            && step.stderr.iter().all(|p| stderr.lines().any(|l| glob(p, l)));
        if !ok {
            failures.push(format!(
                "day.txt:{}: $ {}\n  exit {:?} (want {})\n  stdout: {:?}\n  want:   {:?}\n  stderr: {:?}\n  want:   {:?}",
                step.line, step.command, out.status.code(), step.exit, lines, step.stdout, stderr, step.stderr
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} commands answered otherwise:\n{}\n{}",
        failures.len(),
        steps.len(),
        failures.join("\n"),
        d.log()
    );
}

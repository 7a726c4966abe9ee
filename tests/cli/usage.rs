//! The command line itself: errors worded and numbered as the real docker
//! CLI's (compared with its output, which needs no engine for a parse
//! error), global options shown once, completion scripts and man pages.

use crate::util::{STRATA, require, tool};
use std::process::{Command, Output};

/// No daemon: parse errors come before any connection.
const NOWHERE: &str = "unix:///nonexistent/strata.sock";

fn strata(args: &[&str]) -> Output {
    Command::new(STRATA)
        .arg("-H")
        .arg(NOWHERE)
        .args(args)
        .env_remove("STRATA_HOST")
        .output()
        .expect("run strata")
}

fn docker(args: &[&str]) -> Output {
    let config = tempfile::tempdir().unwrap();
    Command::new("docker")
        .arg("-H")
        .arg(NOWHERE)
        .args(args)
        .env("DOCKER_CONFIG", config.path())
        .output()
        .expect("run docker")
}

/// stderr without its `Usage:` lines (clap and cobra spell placeholders
/// differently), with the program's name made one.
fn wording(out: &Output, program: &str) -> String {
    String::from_utf8_lossy(&out.stderr)
        .replace(program, "PROGRAM")
        .lines()
        .filter(|l| !l.starts_with("Usage:"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn parse_errors_are_worded_and_numbered_as_dockers() {
    require!(tool("docker"));
    let cases: &[&[&str]] = &[
        &["foo"],
        &["container", "nope"],
        &["run", "--nope"],
        &["create", "--nope=1", "x"],
        &["ps", "--nope"],
        &["image", "ls", "--nope"],
        &["run", "-x"],
        &["ps", "-H", "unix:///elsewhere.sock"],
        &["--nope"],
        &["run", "-m", "abc", "busybox"],
        &["run", "-m"],
        &["images", "--format"],
        &["run"],
        &["rm"],
        &["image", "inspect"],
        &["rename", "a"],
        &["port"],
        &["container", "ls", "extra"],
        &["wait"],
    ];
    for args in cases {
        let (ours, theirs) = (strata(args), docker(args));
        assert_eq!(ours.status.code(), theirs.status.code(), "{args:?}");
        assert_eq!(wording(&ours, "strata"), wording(&theirs, "docker"), "{args:?}");
        let err = String::from_utf8_lossy(&ours.stderr);
        assert!(!err.contains("tip:") && !err.contains("error:"), "{args:?}: {err}");
        assert!(ours.stdout.is_empty(), "{args:?}");
    }
    // No verb: the help, on stdout, exit 0, as docker.
    for args in [&[][..], &["container"], &["image"], &["--tlsverify"]] {
        let out = strata(args);
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Usage: strata"),
            "{args:?}"
        );
    }
}

#[test]
fn connection_options_are_shown_once_before_the_verb() {
    let top = String::from_utf8(strata(&["--help"]).stdout).unwrap();
    for flag in ["-H, --host", "--tlsverify", "--tlscacert", "--tlscert", "--tlskey"] {
        assert!(top.contains(flag), "{flag}: {top}");
    }
    for verb in [
        &["ps", "--help"][..],
        &["container", "ls", "--help"],
        &["run", "--help"],
    ] {
        let help = String::from_utf8(strata(verb).stdout).unwrap();
        assert!(help.contains("Usage: strata"), "{verb:?}: {help}");
        assert!(
            !help.contains("--host ") && !help.contains("--tlsverify"),
            "{verb:?}: {help}"
        );
    }
}

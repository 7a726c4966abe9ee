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

#[test]
fn bash_completion_completes_verbs_and_management_verbs() {
    require!(tool("bash"));
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("strata.bash");
    let out = strata(&["completion", "bash"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    std::fs::write(&script, &out.stdout).unwrap();
    // What bash's programmable completion calls on <TAB>: the function
    // `complete -F` names, with COMP_WORDS/COMP_CWORD set.
    let complete = |words: &str| {
        let cword = words.split(' ').count() - 1;
        let program = format!(
            "source {}; f=$(complete -p strata | sed 's/.*-F \\([^ ]*\\) .*/\\1/'); \
             COMP_WORDS=({words}); COMP_CWORD={cword}; COMP_LINE='{words}'; COMP_POINT=${{#COMP_LINE}}; \
             $f strata \"${{COMP_WORDS[$COMP_CWORD]}}\" \"${{COMP_WORDS[$COMP_CWORD-1]}}\"; \
             printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            script.display()
        );
        let out = Command::new("bash").args(["-c", &program]).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(complete("strata ru").trim(), "run");
    // The binary's own verb too.
    assert_eq!(complete("strata ben").trim(), "bench");
    let image_verbs = complete("strata image p");
    assert!(
        image_verbs.lines().any(|l| l == "pull") && image_verbs.lines().any(|l| l == "prune"),
        "{image_verbs}"
    );
    for (shell, start) in [("zsh", "#compdef strata"), ("fish", "# Print an optspec")] {
        let out = strata(&["completion", shell]);
        assert!(String::from_utf8_lossy(&out.stdout).starts_with(start), "{shell}");
    }
}

// The page writer scripts/man.sh runs (examples/man.rs), run here on a
// temporary directory.
#[allow(dead_code)]
#[path = "../../examples/man.rs"]
mod man_pages;

#[test]
fn man_pages_render_for_strata_and_its_verbs() {
    let dir = tempfile::tempdir().unwrap();
    strata::cli::with_external(vec![strata::bench::command()]);
    let mut root = strata::cli::command();
    root.build();
    let written = man_pages::write_pages(dir.path(), &root, "strata").unwrap();
    assert!(written > 80, "{written}");
    for page in ["strata", "strata-run", "strata-container-ls", "strata-bench"] {
        let path = dir.path().join(format!("{page}.1"));
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(&format!(".TH {page} 1")), "{text}");
        let Some(groff) = crate::util::part(tool("groff")) else {
            continue;
        };
        // -k: through preconv, as man(1) does (help text has UTF-8).
        let out = Command::new(groff)
            .args(["-k", "-man", "-Tutf8", "-ww", "-P-cbou"])
            .arg(&path)
            .env("LC_ALL", "C.UTF-8")
            .output()
            .unwrap();
        assert!(
            out.status.success() && out.stderr.is_empty(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let shown = String::from_utf8_lossy(&out.stdout);
        assert!(shown.contains("NAME") && shown.contains("SYNOPSIS"), "{shown}");
    }
    assert!(
        std::fs::read_to_string(dir.path().join("strata-run.1"))
            .unwrap()
            .contains("\\-\\-detach")
    );
}

//! Progress of the long operations (import, commit, save, load, export,
//! pull, push): drawn on a terminal, absent from a pipe (no control
//! characters there), and absent on a terminal with `-q`.

use super::registry::strata_on_terminal;
use crate::util::{Daemon, Registry, busybox_tar, require, text};
use std::process::Output;

/// What a pipe must never carry from a progress display.
fn control_characters(bytes: &[u8]) -> Vec<u8> {
    bytes
        .iter()
        .copied()
        .filter(|&b| b == 0x1b || b == b'\r' || b == 0x08)
        .collect()
}

/// The pty's bytes (stdout and stderr of the command both go there).
fn drawn(out: &Output, what: &str) -> String {
    assert!(out.status.success(), "{what}: {}", text(out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A piped run: it succeeds, says nothing on stderr, and its stdout has
/// no control characters; returns that stdout.
fn piped(d: &Daemon, args: &[&str]) -> String {
    let out = d.strata(args);
    assert!(out.status.success(), "{args:?}: {}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stderr), "", "{args:?}: stderr in a pipe");
    assert_eq!(
        control_characters(&out.stdout),
        b"",
        "{args:?}: control characters in a pipe"
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn archives_and_commit_show_progress_on_a_terminal_and_nothing_in_a_pipe() {
    let d = Daemon::start();
    let config = d.dir.path().join("client-config");
    let tar = require!(busybox_tar(d.dir.path()));
    let tar = tar.to_str().unwrap();

    // import: a byte counter of the upload, then the ID.
    let shown = drawn(&strata_on_terminal(&d, &config, &["import", tar, "bb:tty"]), "import");
    assert!(shown.contains("Importing"), "{shown:?}");
    assert!(
        shown.contains("\x1b[2K") || shown.contains('\r'),
        "drawn in place: {shown:?}"
    );
    // The ID comes last, on a line of its own once the bar is cleared.
    let at = shown.rfind("sha256:").expect("the ID is printed");
    let id = shown[at..].trim_end().to_string();
    assert_eq!(id.len(), 71, "the ID comes last: {shown:?}");
    let quiet = drawn(
        &strata_on_terminal(&d, &config, &["import", "-q", tar, "bb:q"]),
        "import -q",
    );
    assert!(!quiet.contains("Importing"), "{quiet:?}");
    let plain = piped(&d, &["import", tar, "bb:pipe"]);
    assert_eq!(plain.lines().count(), 1, "{plain:?}");

    // commit: a spinner while the daemon writes the layer.
    d.ok(&["create", "--name", "c", "bb:pipe", "true"]);
    let shown = drawn(&strata_on_terminal(&d, &config, &["commit", "c", "bb:c1"]), "commit");
    assert!(shown.contains("Committing c"), "{shown:?}");
    let quiet = drawn(
        &strata_on_terminal(&d, &config, &["commit", "-q", "c", "bb:c2"]),
        "commit -q",
    );
    assert!(!quiet.contains("Committing"), "{quiet:?}");
    let plain = piped(&d, &["commit", "c", "bb:c3"]);
    assert!(plain.trim().starts_with("sha256:"), "{plain:?}");

    // save and export to a file: a byte counter; load: the daemon's bars.
    let saved = d.dir.path().join("saved.tar");
    let saved = saved.to_str().unwrap();
    let shown = drawn(
        &strata_on_terminal(&d, &config, &["save", "-o", saved, "bb:pipe"]),
        "save",
    );
    assert!(shown.contains("Saving"), "{shown:?}");
    let shown = drawn(
        &strata_on_terminal(&d, &config, &["save", "-q", "-o", saved, "bb:pipe"]),
        "save -q",
    );
    assert!(!shown.contains("Saving"), "{shown:?}");
    let exported = d.dir.path().join("exported.tar");
    let exported = exported.to_str().unwrap();
    let shown = drawn(
        &strata_on_terminal(&d, &config, &["export", "-o", exported, "c"]),
        "export",
    );
    assert!(shown.contains("Exporting"), "{shown:?}");
    assert_eq!(piped(&d, &["export", "-o", exported, "c"]), "");

    d.ok(&["rm", "c"]);
    d.ok(&["image", "prune", "-a", "-f"]);
    assert_eq!(d.ok(&["images", "-q"]), "", "every image is gone before the load");
    let shown = drawn(&strata_on_terminal(&d, &config, &["load", "-i", saved]), "load");
    assert!(
        shown.contains("Loading layer") && shown.contains("\x1b[2K"),
        "{shown:?}"
    );
    assert!(shown.contains("Loaded image: bb:pipe"), "{shown:?}");
    let plain = piped(&d, &["load", "-i", saved]);
    assert!(!plain.contains("Loading layer"), "{plain:?}");
}

#[test]
fn push_draws_its_layers_on_a_terminal_and_not_in_a_pipe() {
    let reg = require!(Registry::plain());
    let d = Daemon::start();
    let config = d.dir.path().join("client-config");
    let tar = require!(busybox_tar(d.dir.path()));
    let name = format!("{}/progress/busybox:1", reg.addr());
    d.import(&tar, &name);
    let shown = drawn(&strata_on_terminal(&d, &config, &["push", &name]), "push");
    assert!(shown.contains("\x1b[2K"), "lines redrawn in place: {shown:?}");
    assert!(
        shown.contains("Pushed") || shown.contains("Layer already exists"),
        "{shown:?}"
    );
    let quiet = drawn(&strata_on_terminal(&d, &config, &["push", "-q", &name]), "push -q");
    assert!(!quiet.contains("\x1b[2K"), "{quiet:?}");
    let plain = piped(&d, &["push", &name]);
    assert!(plain.contains("Layer already exists"), "{plain:?}");
}

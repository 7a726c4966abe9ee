//! Archives through `strata`: save, load and export, as the docker CLI
//! writes and reads them; an output file appears whole or not at all.

use super::registry::strata_on_terminal;
use crate::util::{Daemon, text};

fn listing(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn save_and_export_refuse_a_terminal_and_a_missing_directory() {
    let d = Daemon::prepare();
    let config = d.dir.path().join("client-config");
    for (verb, what) in [("save", "busybox"), ("export", "ctr")] {
        let out = strata_on_terminal(&d, &config, &[verb, what]);
        let shown = String::from_utf8_lossy(&out.stdout);
        assert!(
            shown.contains("cowardly refusing to save to a terminal. Use the -o flag or redirect"),
            "{verb}: {}",
            text(&out)
        );
        assert!(!out.status.success());
    }
    let out = d.strata(&["save", "-o", "/nonexistent/dir/x.tar", "busybox"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(
            r#"failed to save image: unable to validate output path: directory "/nonexistent/dir" does not exist"#
        ),
        "{}",
        text(&out)
    );
}

#[test]
fn a_failed_save_leaves_no_file() {
    let d = Daemon::start();
    let out_dir = d.dir.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let target = out_dir.join("images.tar");
    let out = d.strata(&["save", "-o", target.to_str().unwrap(), "nosuch:1"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("Error response from daemon: "));
    assert_eq!(listing(&out_dir), Vec::<String>::new(), "no file, no temporary file");
}

#[test]
fn load_wants_an_archive() {
    let d = Daemon::prepare();
    let config = d.dir.path().join("client-config");
    let out = strata_on_terminal(&d, &config, &["load"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("requested load from stdin, but stdin is empty"),
        "{}",
        text(&out)
    );
    let missing = d.strata(&["load", "-i", "/nonexistent.tar"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("open /nonexistent.tar"));
}

//! Archives through `strata`: save, load and export, as the docker CLI
//! writes and reads them; an output file appears whole or not at all.

use super::registry::strata_on_terminal;
use crate::util::{Daemon, require, text};

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

/// The names of a tar's entries.
fn entries(tar_bytes: &[u8]) -> Vec<String> {
    let mut archive = tar::Archive::new(tar_bytes);
    archive
        .entries()
        .expect("a tar")
        .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
        .collect()
}

fn imported(d: &Daemon, name: &str) -> String {
    let path = d.dir.path().join("rootfs.tar");
    std::fs::write(&path, crate::util::sample_rootfs_tar()).unwrap();
    d.import(&path, name)
}

#[test]
fn save_writes_the_same_archive_to_a_file_or_a_pipe() {
    use std::os::unix::fs::PermissionsExt;
    let d = Daemon::start();
    imported(&d, "sample:1");
    let out_dir = d.dir.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let file = out_dir.join("sample.tar");
    assert_eq!(d.ok(&["save", "-o", file.to_str().unwrap(), "sample:1"]), "");
    assert_eq!(listing(&out_dir), ["sample.tar"], "no temporary file left");
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "private, as docker's save");
    let saved = std::fs::read(&file).unwrap();
    let names = entries(&saved);
    for expected in ["manifest.json", "index.json", "oci-layout"] {
        assert!(names.iter().any(|n| n == expected), "{expected} in {names:?}");
    }
    let piped = d.strata(&["save", "sample:1"]);
    assert!(piped.status.success(), "{}", text(&piped));
    assert!(piped.stdout == saved, "the pipe gets the file's bytes");
}

#[test]
fn load_reads_back_what_save_wrote() {
    let d = Daemon::start();
    let id = imported(&d, "sample:1");
    let file = d.dir.path().join("sample.tar");
    d.ok(&["save", "-o", file.to_str().unwrap(), "sample:1"]);
    d.ok(&["rmi", "sample:1"]);
    assert_eq!(
        d.ok(&["load", "-i", file.to_str().unwrap()]),
        "Loaded image: sample:1\n"
    );
    assert_eq!(d.inspect("sample:1")["Id"], id.as_str(), "the same image ID");
    // From stdin, quietly: the same line (docker's -q hides only progress).
    d.ok(&["rmi", "sample:1"]);
    let bytes = std::fs::read(&file).unwrap();
    let out = d.strata_stdin(&["load", "-q"], &bytes);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "Loaded image: sample:1\n");
    // Garbage is refused and loads nothing.
    let before = d.ok(&["images", "-q"]);
    let bad = d.strata_stdin(&["load"], b"not a tar at all");
    assert_eq!(bad.status.code(), Some(1), "{}", text(&bad));
    assert!(!String::from_utf8_lossy(&bad.stderr).is_empty());
    assert_eq!(d.ok(&["images", "-q"]), before);
}

#[test]
fn export_writes_the_containers_filesystem() {
    let d = Daemon::start();
    imported(&d, "sample:1");
    d.ok(&["create", "--name", "c", "sample:1", "/bin/true"]);
    let file = d.dir.path().join("c.tar");
    assert_eq!(d.ok(&["export", "-o", file.to_str().unwrap(), "c"]), "");
    let names = entries(&std::fs::read(&file).unwrap());
    assert!(
        names.iter().any(|n| n.trim_start_matches("./") == "etc/passwd"),
        "{names:?}"
    );
    let missing = d.strata(&["export", "-o", file.to_str().unwrap(), "nosuch"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("No such container: nosuch"),
        "{}",
        text(&missing)
    );
    assert!(file.exists(), "a failed export keeps the earlier file");
}

#[test]
fn strata_loads_and_lists_as_the_docker_cli_does() {
    let image = require!(crate::util::busybox_image());
    let (for_docker, for_strata) = (Daemon::start(), Daemon::start());
    let archive = for_strata.dir.path().join("busybox.tar");
    image.write_docker_archive(&archive, "busybox:1");
    let out = for_strata.dir.path().join("out.tar");
    let runs: [&[&str]; 4] = [
        &["load", "-i", archive.to_str().unwrap()],
        &["images"],
        &["save", "-o", out.to_str().unwrap(), "nosuch:1"],
        &["logout", "127.0.0.1:5000"],
    ];
    for args in runs {
        let Some(docker) = for_docker.docker_part(args) else {
            return;
        };
        let config = for_strata.dir.path().join("client-config");
        let strata = super::registry::strata_with(&for_strata, &config, args, None);
        assert_eq!(
            String::from_utf8_lossy(&strata.stdout),
            String::from_utf8_lossy(&docker.stdout),
            "stdout of {args:?}"
        );
        assert_eq!(
            String::from_utf8_lossy(&strata.stderr),
            String::from_utf8_lossy(&docker.stderr),
            "stderr of {args:?}"
        );
        assert_eq!(strata.status.code(), docker.status.code(), "exit code of {args:?}");
    }
    assert!(!out.exists());
}

//! `strata run`/`create` of an image that is not here: Docker's error
//! (after the pull it tries), then how to get the image, with docker's exit
//! codes (run 125, create 1); and no container is made.

use crate::util::Daemon;

#[test]
fn a_missing_image_says_how_to_get_it() {
    let d = Daemon::start();
    // A loopback registry that refuses the connection: the pull fails
    // at once, without leaving the machine.
    let cases: &[&[&str]] = &[
        &["run", "127.0.0.1:1/nosuch"],
        &["create", "127.0.0.1:1/nosuch"],
        &["run", "--pull", "never", "nosuch"],
        &["create", "--pull", "never", "nosuch:2"],
    ];
    for args in cases {
        let out = d.strata(args);
        let (code, prefix) = if args[0] == "run" { (125, "strata: ") } else { (1, "") };
        assert_eq!(out.status.code(), Some(code), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        let image = args.last().unwrap();
        let named = if image.contains(':') && !image.starts_with("127") {
            image.to_string()
        } else {
            format!("{image}:latest")
        };
        let hint = format!("(strata pull {named})");
        assert!(
            err.contains(&hint) && err.contains(&format!("(strata import FILE {named})")),
            "{args:?}: {err}"
        );
        if args.contains(&"never") {
            let error = format!("{prefix}Error response from daemon: No such image: ");
            assert!(err.starts_with(&error), "{err}");
        } else {
            assert!(
                err.starts_with(&format!("Unable to find image '{named}' locally\n")),
                "{err}"
            );
        }
    }
    assert_eq!(d.ok(&["ps", "-aq"]), "");
    // A bad reference is not a missing image: no hint.
    let bad = d.strata(&["run", "BAD IMAGE"]);
    assert_eq!(bad.status.code(), Some(125));
    assert!(!String::from_utf8_lossy(&bad.stderr).contains("strata pull"));
}

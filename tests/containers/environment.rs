//! `Config.Env` as Docker records it: the image's environment merged with
//! `-e` (the request first), `-e VAR` without a value unsetting VAR (when
//! the client has no VAR either), and `commit -c ENV` merging into it.

use super::daemon;
use crate::util::{Daemon, require};

fn env_of(d: &Daemon, args: &[&str]) -> serde_json::Value {
    let out = d.docker_ok(&[&["inspect", "-f", "{{json .Config.Env}}"], args].concat());
    serde_json::from_str(out.trim()).expect("Env JSON")
}

/// Not set in this test's environment, so the docker CLI sends `-e` of it
/// bare.
const UNSET: &str = "STRATA_TEST_NEVER_SET";

#[test]
fn config_env_merges_the_images_and_a_bare_variable_unsets() {
    let d = require!(daemon());
    require!(d.docker_cli());
    assert!(std::env::var_os(UNSET).is_none());
    d.docker_ok(&["run", "--name", "base", "busybox", "true"]);
    let env_change = format!("ENV X=1 {UNSET}=image PATH=/usr/bin:/bin");
    d.docker_ok(&["commit", "-c", &env_change, "base", "withenv"]);

    // The image's environment is in the record, after the request's.
    let out = d.docker_ok(&["run", "--name", "e1", "-e", "A=2", "-e", "X=3", "withenv", "env"]);
    // (The docker CLI sends `-e` entries in no fixed order.)
    let env = env_of(&d, &["e1"]);
    let env: Vec<&str> = env.as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    let mut request = env[..2].to_vec();
    request.sort();
    assert_eq!(request, ["A=2", "X=3"], "{env:?}");
    assert_eq!(
        env[2..],
        [format!("{UNSET}=image").as_str(), "PATH=/usr/bin:/bin"],
        "{env:?}"
    );
    assert!(
        out.lines().any(|l| l == "X=3") && out.lines().any(|l| l == "A=2"),
        "{out}"
    );
    assert!(out.lines().any(|l| l == "PATH=/usr/bin:/bin"), "{out}");

    // `-e VAR`, VAR unset on the client: recorded bare, the image's VAR
    // dropped, and the process has neither VAR nor `VAR=`.
    let out = d.docker_ok(&["run", "--name", "e2", "-e", UNSET, "withenv", "env"]);
    assert_eq!(
        env_of(&d, &["e2"]),
        serde_json::json!([UNSET, "X=1", "PATH=/usr/bin:/bin"])
    );
    assert!(!out.contains(UNSET), "{out}");
    let out = d.docker_ok(&["run", "--rm", "-e", UNSET, "busybox", "env"]);
    assert!(!out.contains(UNSET), "{out}");
    // An exec's bare variable unsets the container's.
    d.docker_ok(&["run", "-d", "--name", "e3", "-e", "K=v", "withenv", "sleep", "60"]);
    let out = d.docker_ok(&["exec", "-e", "K", "-e", "L=w", "e3", "env"]);
    assert!(!out.contains("K=") && out.lines().any(|l| l == "L=w"), "{out}");
    d.docker_ok(&["rm", "-f", "e3"]);

    // `commit -c ENV` adds to the container's environment, image's included.
    d.docker_ok(&["commit", "-c", "ENV B=4 X=5", "e1", "more"]);
    let out = d.docker_ok(&["image", "inspect", "-f", "{{json .Config.Env}}", "more"]);
    let env: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let env: Vec<&str> = env.as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    for want in ["A=2", "X=5", "PATH=/usr/bin:/bin", "B=4", &format!("{UNSET}=image")] {
        assert!(env.contains(&want), "{want} missing from {env:?}");
    }
    assert!(!env.contains(&"X=3"), "{env:?}");
}

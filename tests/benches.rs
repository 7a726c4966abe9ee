//! The benchmarks' own logic, which CI does not run as benchmarks: the
//! union benchmark's Python package (its oracle of the overlay rules and
//! the request counts' arithmetic) under its unit tests.

use crate::util::{require, text, tools};
use std::process::Command;

#[test]
fn the_union_benchmarks_unit_tests_pass() {
    require!(tools(&["python3"]));
    let benches = concat!(env!("CARGO_MANIFEST_DIR"), "/benches");
    let out = Command::new("python3")
        .args(["-m", "unittest", "union.test_oracle", "union.test_requests"])
        .current_dir(benches)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .expect("run python3");
    assert!(out.status.success(), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("OK") && err.contains("Ran "), "{err}");
}

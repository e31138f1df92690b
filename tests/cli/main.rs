//! Whole-binary tests: run `netlab` as a user would and check what it says.
//!
//! Every test that needs the network uses the built-in lab on loopback
//! (127.53.0.0/16), started by the binary under test: nothing is sent beyond
//! this machine. Tests that need an outside tool (drill) fail when it is
//! missing under CI=true, and say loudly that they skipped otherwise.

mod bad_input;
mod dns_trace;
mod drill;
mod questions;

use std::process::{Command, Output};

use serde_json::Value;

/// Run netlab with a clean, predictable environment.
pub fn netlab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_netlab"))
        .args(args)
        .env("NO_COLOR", "1")
        .env("LANG", "C.UTF-8")
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .output()
        .expect("run netlab")
}

/// stdout as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// stderr as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Parse JSON Lines output, checking the envelope every object must have.
pub fn json_lines(o: &Output) -> Vec<Value> {
    let text = stdout(o);
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(!lines.is_empty(), "no JSON output; stderr: {}", stderr(o));
    for (i, v) in lines.iter().enumerate() {
        assert_eq!(v["schema"], "netlab/1", "{v}");
        assert_eq!(v["seq"], (i + 1) as u64, "seq must count from 1: {v}");
        assert!(v["demo"].is_string(), "{v}");
        assert!(
            matches!(v["kind"].as_str(), Some("step" | "summary" | "error")),
            "{v}"
        );
        assert!(v["questions"].is_array(), "{v}");
        for q in v["questions"].as_array().unwrap() {
            let n: u32 = q.as_str().unwrap().trim_start_matches('Q').parse().unwrap();
            assert!(
                (1..=39).contains(&n),
                "question id out of the catalogue: {q}"
            );
        }
    }
    lines
}

/// When a test needs something the machine lacks: fail under CI, skip loudly elsewhere.
pub fn require(what: &str, available: bool) -> bool {
    if available {
        return true;
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("CI=true but {what} is not available: .ci/run must install it");
    }
    eprintln!("SKIPPED: {what} is not available on this machine (the test runs in CI)");
    false
}

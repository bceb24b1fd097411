//! Helpers shared by the transfer integration tests.
#![allow(clippy::unwrap_used, dead_code)]

use std::process::Command;
use std::time::Duration;

use sockit_testkit::{bin, run_with_input};

/// Upper bound for any one command in these tests.
pub const T: Duration = Duration::from_secs(60);

/// Runs `sockit ARGS…` to completion: (success, stdout, stderr).
pub fn run(args: &[&str]) -> (bool, Vec<u8>, String) {
    let (status, out, err) = run_with_input(Command::new(bin()).args(args), b"", T);
    (status.success(), out, err)
}

/// The last JSON line of a `--json` run's stdout.
pub fn json_line(out: &[u8]) -> serde_json::Value {
    let text = String::from_utf8_lossy(out);
    let line = text.lines().rev().find(|l| l.starts_with('{')).unwrap_or_else(|| panic!("no JSON in {text:?}"));
    serde_json::from_str(line).unwrap()
}

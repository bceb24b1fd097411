//! Chat nodes sharing rooms through a real redis-server (issue #18), each
//! test with its own redis-server on a private loopback port.

mod chat_support;

use std::process::Command;
use std::time::Duration;

use chat_support::Member;
use sockit_testkit::redis::RedisServer;
use sockit_testkit::{bin, free_port, run_with_input, Sockit};

/// A chat node of the cluster at `redis` (TCP+UDP on port 0, no web, no IRC).
fn node(redis: &str, extra: &[&str]) -> Sockit {
    let mut args = vec!["chat", "serve", "--no-irc", "--no-web", "--port", "0", "--redis", redis];
    args.extend_from_slice(extra);
    Sockit::start(&bin(), &args, 2)
}

#[test]
fn a_node_that_cannot_reach_redis_says_so_in_one_line_and_exits() {
    // A port nothing listens on.
    let url = format!("redis://127.0.0.1:{}/0", free_port());
    let (status, _, stderr) = run_with_input(
        Command::new(bin()).args(["chat", "serve", "--no-irc", "--no-web", "--port", "0", "--redis", &url]),
        b"",
        Duration::from_secs(20),
    );
    assert!(!status.success(), "exit status {status}; stderr {stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line, got {lines:#?}");
    assert!(lines[0].starts_with(&format!("sockit: cannot reach the chat cluster at {url}: ")), "{}", lines[0]);
    assert!(!stderr.contains("listening on"), "{stderr}");
}

#[test]
fn the_redis_url_may_come_from_the_environment() {
    let url = format!("redis://127.0.0.1:{}/0", free_port());
    let (status, _, stderr) = run_with_input(
        Command::new(bin()).args(["chat", "serve", "--no-irc", "--no-web", "--port", "0"]).env("SOCKIT_REDIS", &url),
        b"",
        Duration::from_secs(20),
    );
    assert!(!status.success());
    assert!(stderr.contains("cannot reach the chat cluster at"), "{stderr}");
}

#[test]
fn a_node_with_redis_serves_its_members() {
    let redis = RedisServer::start();
    let server = node(&redis.url(), &[]);
    let addr = server.addr("tcp");
    let mut ann = Member::join(addr, "ann");
    let mut bob = Member::join(addr, "bob");
    ann.expect("is now known as bob");
    bob.send("hello");
    ann.expect("<bob> hello");
}

//! `sockit bench chat --irc` against a real IRC server: ngircd, started on a
//! private loopback port (sockit_testkit::ngircd: generated config, `-n -f`,
//! never the system service, per-IP and flood limits raised).
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use sockit_testkit::bin;
use sockit_testkit::ngircd::Ngircd;

fn bench(port: u16, extra: &[&str]) -> Output {
    let addr = format!("127.0.0.1:{port}");
    let mut args = vec!["bench", "chat", addr.as_str(), "--irc", "--connect-parallel", "8", "--settle", "0.5"];
    args.extend_from_slice(extra);
    let out = Command::new(bin()).args(&args).output().unwrap();
    out
}

fn field(out: &str, key: &str) -> String {
    let line = out.lines().last().unwrap_or("");
    let tok = line.split(' ').find_map(|t| t.strip_prefix(key).and_then(|t| t.strip_prefix('=')));
    tok.unwrap_or_else(|| panic!("no {key}= in {out}")).to_owned()
}

/// A raw IRC client: registers as `nick`, returns the lines reader and the stream.
fn client(port: u16, nick: &str) -> (BufReader<TcpStream>, TcpStream) {
    let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut w = s.try_clone().unwrap();
    write!(w, "NICK {nick}\r\nUSER t 0 * :test\r\n").unwrap();
    let mut r = BufReader::new(s);
    wait_line(&mut r, " 001 ");
    (r, w)
}

fn wait_line(r: &mut BufReader<TcpStream>, needle: &str) -> String {
    let mut line = String::new();
    loop {
        line.clear();
        assert!(r.read_line(&mut line).unwrap() > 0, "closed before {needle:?}");
        if line.contains(needle) {
            return line;
        }
    }
}

#[test]
fn every_privmsg_reaches_every_other_member() {
    let srv = Ngircd::start();
    let out = bench(srv.port(), &["--members", "20", "--senders", "4", "--rate", "20", "--secs", "1", "--drain", "1"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let sent: u64 = field(&stdout, "sent").parse().unwrap();
    assert!(sent >= 60, "4 senders x 20/s for 1 s: {sent}");
    assert_eq!(field(&stdout, "expected"), (sent * 19).to_string());
    assert_eq!(field(&stdout, "delivered"), field(&stdout, "expected"));
    assert_eq!(field(&stdout, "ratio"), "1.0000");
    assert_eq!(field(&stdout, "disconnected"), "0");
    assert!(String::from_utf8_lossy(&out.stderr).contains("registered and joined #bench 20 members"));
}

#[test]
fn idle_members_stay_registered_on_the_server() {
    let srv = Ngircd::start();
    let port = srv.port();
    let run = std::thread::spawn(move || bench(port, &["--members", "40", "--senders", "0", "--secs", "4"]));
    // While they are held, the server counts them (LUSERS: "There are N users …").
    let (mut r, mut w) = client(port, "watcher");
    let deadline = Instant::now() + Duration::from_secs(20);
    let users = loop {
        write!(w, "LUSERS\r\n").unwrap();
        let line = wait_line(&mut r, " 251 ");
        let n: usize = line.split("There are ").nth(1).and_then(|t| t.split(' ').next()).unwrap().parse().unwrap();
        if n > 40 || Instant::now() > deadline {
            break n;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(users, 41, "40 bench members and the watcher");
    let out = run.join().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(field(&stdout, "members"), "40");
    assert_eq!(field(&stdout, "disconnected"), "0");
}

#[test]
fn a_refused_registration_fails_the_run_with_the_server_reply() {
    let srv = Ngircd::start();
    // `m3` is taken: the bench's member 3 gets 433 and the run stops, saying so.
    let (_r, _w) = client(srv.port(), "m3");
    let t = Instant::now();
    let out = bench(srv.port(), &["--members", "5", "--senders", "1", "--secs", "1"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("m3 registering") && err.contains(" 433 "), "{err}");
    assert!(t.elapsed() < Duration::from_secs(30), "refusal is reported at once, not after the timeout");
}

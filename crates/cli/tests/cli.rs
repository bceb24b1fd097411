//! The binary as a whole: help, version, completions, `sockit up`.

#![allow(clippy::unwrap_used)]

use std::process::Command;
use std::time::Duration;

use sockit_testkit::{bin, Sockit};

#[test]
fn help_version_and_completions() {
    let help = Command::new(bin()).arg("--help").output().unwrap();
    assert!(help.status.success());
    let text = String::from_utf8_lossy(&help.stdout);
    for sub in ["up", "echo", "connect", "listen", "chat", "http", "send", "receive", "time", "bench", "completions"] {
        assert!(text.contains(&format!("  {sub} ")), "--help lacks {sub}:\n{text}");
    }
    let version = Command::new(bin()).arg("--version").output().unwrap();
    assert_eq!(String::from_utf8_lossy(&version.stdout).trim(), format!("sockit {}", env!("CARGO_PKG_VERSION")));
    for shell in ["bash", "zsh", "fish"] {
        let out = Command::new(bin()).args(["completions", shell]).output().unwrap();
        assert!(out.status.success());
        let script = String::from_utf8_lossy(&out.stdout);
        assert!(script.contains("sockit") && script.contains("connect"), "{shell} completion looks wrong");
    }
}

#[test]
fn bad_usage_exits_2() {
    let out = Command::new(bin()).args(["echo", "--port", "not-a-port"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn up_starts_everything_prints_a_table_and_stops_cleanly() {
    let s = Sockit::start(&bin(), &["up", "--any-port"], 2);
    assert!(s.wait_stderr("sockit is up", Duration::from_secs(20)), "no table:\n{}", s.stderr());
    let echo = s.addr("tcp");
    use std::io::{Read, Write};
    let mut c = std::net::TcpStream::connect(echo).unwrap();
    c.write_all(b"up?").unwrap();
    let mut b = [0u8; 3];
    c.read_exact(&mut b).unwrap();
    assert_eq!(&b, b"up?");
    assert!(s.stderr().contains("echo "), "table lacks echo:\n{}", s.stderr());
    let status = s.stop(Duration::from_secs(10));
    assert!(status.success(), "{status:?}");
}

#[test]
fn sigterm_stops_the_server_even_when_stderr_is_a_closed_pipe() {
    // As in `sockit echo 2>&1 | head -1`: the reader of stderr goes away, so
    // every later log line fails to write. The signal must still stop it.
    use std::io::BufRead;
    use std::process::Stdio;
    let mut child =
        Command::new(bin()).args(["echo", "--port", "0"]).stderr(Stdio::piped()).stdout(Stdio::null()).spawn().unwrap();
    let mut first = String::new();
    std::io::BufReader::new(child.stderr.take().unwrap()).read_line(&mut first).unwrap();
    assert!(first.starts_with("listening on tcp://"), "{first}");
    // The BufReader (and with it the pipe's read end) is dropped here.
    #[allow(unsafe_code)]
    // SAFETY: kill(2) on our own child's pid has no memory effects.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "{status:?}");
            break;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("sockit did not stop on SIGTERM with stderr closed");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

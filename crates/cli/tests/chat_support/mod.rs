//! Shared helpers of the chat integration tests: the server on port 0, a
//! raw TCP text member, a raw UDP member that does the cookie handshake by
//! hand (as an nc user would), and child processes (nc, `sockit chat join`)
//! whose output lines are collected.
#![allow(dead_code, clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use sockit_testkit::{bin, Sockit};

pub mod browser;
pub mod irc;
pub mod ws;

/// How long an expected line may take.
pub const WAIT: Duration = Duration::from_secs(10);

/// `sockit chat serve` on port 0 without web listener, plus `extra`
/// (history off unless `extra` names a `--history…` flag).
pub fn serve(extra: &[&str]) -> Sockit {
    let mut args = vec!["chat", "serve", "--no-irc", "--port", "0", "--no-web"];
    if !extra.iter().any(|a| a.starts_with("--history")) {
        args.push("--no-history");
    }
    args.extend_from_slice(extra);
    Sockit::start(&bin(), &args, 2)
}

/// Lines read from a stream by a thread of their own (trailing `\r\n`
/// trimmed, invalid UTF-8 replaced); `<EOF>` when it ends.
pub struct Lines {
    rx: mpsc::Receiver<String>,
    /// Lines taken so far.
    pub seen: Vec<String>,
}

impl Lines {
    /// Starts reading `r`.
    pub fn read<R: Read + Send + 'static>(r: R) -> Lines {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut r = BufReader::new(r);
            let mut buf = Vec::new();
            while let Ok(n) = r.read_until(b'\n', &mut buf) {
                if n == 0 {
                    let _ = tx.send("<EOF>".to_string());
                    break;
                }
                let _ = tx.send(String::from_utf8_lossy(&buf).trim_end().to_string());
                buf.clear();
            }
        });
        Lines { rx, seen: Vec::new() }
    }

    /// Waits for a line containing `needle`; returns it.
    pub fn expect(&mut self, needle: &str) -> String {
        self.expect_within(needle, WAIT)
    }

    /// Waits up to `d` for a line containing `needle`; returns it.
    pub fn expect_within(&mut self, needle: &str, d: Duration) -> String {
        let deadline = Instant::now() + d;
        loop {
            match self.rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(l) => {
                    self.seen.push(l.clone());
                    if l.contains(needle) {
                        return l;
                    }
                }
                Err(_) => panic!("no line containing {needle:?}; saw {:#?}", self.seen),
            }
        }
    }

    /// The next line, if one arrives within `d`.
    pub fn next_within(&mut self, d: Duration) -> Option<String> {
        let l = self.rx.recv_timeout(d).ok()?;
        self.seen.push(l.clone());
        Some(l)
    }

    /// Lines arriving within `d`.
    pub fn drain(&mut self, d: Duration) -> Vec<String> {
        let deadline = Instant::now() + d;
        let mut got = Vec::new();
        while let Ok(l) = self.rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            self.seen.push(l.clone());
            got.push(l);
        }
        got
    }
}

/// A raw TCP member speaking text lines.
pub struct Member {
    w: TcpStream,
    /// What the server sent it.
    pub lines: Lines,
}

impl Member {
    /// Connects; waits for the own join notice; takes `nick` unless empty.
    pub fn join(addr: SocketAddr, nick: &str) -> Member {
        let mut m = Member::connect(addr);
        m.expect("joined lobby");
        if !nick.is_empty() {
            m.send(&format!("/nick {nick}"));
            m.expect(&format!("is now known as {nick}"));
        }
        m
    }

    /// Connects and reads lines, nothing more.
    pub fn connect(addr: SocketAddr) -> Member {
        Member::from_stream(TcpStream::connect(addr).unwrap())
    }

    /// A member on a stream connected already (say, from a chosen port).
    pub fn from_stream(w: TcpStream) -> Member {
        let lines = Lines::read(w.try_clone().unwrap());
        Member { w, lines }
    }

    /// Sends one line.
    pub fn send(&mut self, line: &str) {
        self.send_raw(format!("{line}\n").as_bytes());
    }

    /// Sends bytes as they are.
    pub fn send_raw(&mut self, b: &[u8]) {
        self.w.write_all(b).unwrap();
    }

    /// Waits for a line containing `needle`; returns it.
    pub fn expect(&mut self, needle: &str) -> String {
        self.lines.expect(needle)
    }

    /// Lines arriving within `d`.
    pub fn drain(&mut self, d: Duration) -> Vec<String> {
        self.lines.drain(d)
    }

    /// Its local port (its default nick is `127.0.0.1:PORT`).
    pub fn local_port(&self) -> u16 {
        self.w.local_addr().unwrap().port()
    }
}

/// A child process whose stdout lines are collected.
pub struct Proc {
    /// The process.
    pub child: std::process::Child,
    /// Its stdout, line by line.
    pub lines: Lines,
}

impl Proc {
    pub fn spawn(cmd: &mut Command) -> Proc {
        let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
        let out = child.stdout.take().unwrap();
        Proc { child, lines: Lines::read(out) }
    }

    pub fn send(&mut self, line: &str) {
        let stdin = self.child.stdin.as_mut().unwrap();
        stdin.write_all(format!("{line}\n").as_bytes()).unwrap();
        stdin.flush().unwrap();
    }

    pub fn expect(&mut self, needle: &str) -> String {
        self.lines.expect(needle)
    }

    pub fn wait_exit(&mut self, d: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + d;
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s;
            }
            assert!(Instant::now() < deadline, "process did not exit; saw {:#?}", self.lines.seen);
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `#join#COOKIE#` token of a challenge datagram.
pub fn token_of(challenge: &str) -> Option<String> {
    let at = challenge.find("#join#")?;
    let rest = &challenge[at + 6..];
    let end = rest.find('#')?;
    Some(challenge[at..at + 6 + end + 1].to_string())
}

/// A raw UDP peer.
pub struct Udp {
    /// The socket, connected to the server.
    pub sock: UdpSocket,
}

impl Udp {
    /// A socket on `local_ip` (any port) talking to `server`.
    pub fn new(local_ip: &str, server: SocketAddr) -> Udp {
        let sock = UdpSocket::bind((local_ip, 0)).unwrap();
        sock.connect(server).unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
        Udp { sock }
    }

    /// Sends one datagram.
    pub fn send(&self, d: &[u8]) {
        self.sock.send(d).unwrap();
    }

    /// Datagrams arriving within `d`.
    pub fn drain(&self, d: Duration) -> Vec<Vec<u8>> {
        let deadline = Instant::now() + d;
        let mut got = Vec::new();
        let mut buf = vec![0u8; 65536];
        while Instant::now() < deadline {
            if let Ok(n) = self.sock.recv(&mut buf) {
                got.push(buf[..n].to_vec());
            }
        }
        got
    }

    /// Waits for a datagram containing `needle`; returns it and all before it.
    pub fn expect(&self, needle: &str) -> (String, Vec<String>) {
        let deadline = Instant::now() + WAIT;
        let mut buf = vec![0u8; 65536];
        let mut seen = Vec::new();
        while Instant::now() < deadline {
            if let Ok(n) = self.sock.recv(&mut buf) {
                let s = String::from_utf8_lossy(&buf[..n]).to_string();
                if s.contains(needle) {
                    return (s, seen);
                }
                seen.push(s);
            }
        }
        panic!("no datagram containing {needle:?}; saw {seen:#?}")
    }

    /// The cookie handshake: a datagram, the challenge, the token back (with
    /// `then` lines in the same datagram). Returns the challenge.
    pub fn handshake(&self, then: &str) -> String {
        self.send(b"#ping#");
        let (challenge, _) = self.expect("#join#");
        let token = token_of(&challenge).unwrap();
        let d = if then.is_empty() { token } else { format!("{token}\n{then}") };
        self.send(d.as_bytes());
        challenge
    }
}

/// An `nc` (or `nc -u`) process; its stdout lines are kept as raw bytes,
/// so a test can check what bytes really reached the terminal.
pub struct Nc {
    child: std::process::Child,
    stdin: std::process::ChildStdin,
    lines: mpsc::Receiver<Vec<u8>>,
    /// Lines seen so far, raw.
    pub seen: Vec<Vec<u8>>,
}

impl Nc {
    /// `nc ARGS…` with piped stdin and stdout.
    pub fn spawn(args: &[&str]) -> Nc {
        Nc::program("nc", args)
    }

    /// Any line-oriented program (`sockit chat join …`), the same way.
    pub fn program(program: &str, args: &[&str]) -> Nc {
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let out = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            let mut r = BufReader::new(out);
            let mut buf = Vec::new();
            while let Ok(n @ 1..) = r.read_until(b'\n', &mut buf) {
                let _ = n;
                let _ = tx.send(std::mem::take(&mut buf));
            }
        });
        Nc { child, stdin, lines, seen: Vec::new() }
    }

    /// Writes one line (bytes as given, plus `\n`).
    pub fn send(&mut self, line: &str) {
        self.stdin.write_all(format!("{line}\n").as_bytes()).unwrap();
        self.stdin.flush().unwrap();
    }

    /// Waits for a line containing `needle`; returns it (lossy UTF-8).
    pub fn expect(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            match self.lines.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(l) => {
                    let s = String::from_utf8_lossy(&l).trim_end().to_string();
                    self.seen.push(l);
                    if s.contains(needle) {
                        return s;
                    }
                }
                Err(_) => panic!(
                    "no line containing {needle:?}; saw {:#?}",
                    self.seen.iter().map(|l| String::from_utf8_lossy(l).to_string()).collect::<Vec<_>>()
                ),
            }
        }
    }
}

impl Drop for Nc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

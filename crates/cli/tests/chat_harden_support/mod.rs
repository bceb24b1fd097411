//! Helpers of the chat hardening tests: a raw TCP text member and a raw UDP
//! member that does the cookie handshake by hand, as an nc user would.
#![allow(dead_code, clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use sockit_testkit::{bin, Sockit};

/// How long an expected line may take.
pub const WAIT: Duration = Duration::from_secs(10);

/// `sockit chat serve` on port 0 without web listener, plus `extra`.
pub fn serve(extra: &[&str]) -> Sockit {
    let mut args = vec!["chat", "serve", "--port", "0", "--no-web"];
    if !extra.iter().any(|a| a.starts_with("--history")) {
        args.push("--no-history");
    }
    args.extend_from_slice(extra);
    Sockit::start(&bin(), &args, 2)
}

/// A raw TCP member speaking text lines.
pub struct Member {
    w: TcpStream,
    lines: mpsc::Receiver<String>,
    /// Lines seen so far.
    pub seen: Vec<String>,
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
        let w = TcpStream::connect(addr).unwrap();
        let r = w.try_clone().unwrap();
        let (tx, lines) = mpsc::channel();
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
        Member { w, lines, seen: Vec::new() }
    }

    /// Sends one line.
    pub fn send(&mut self, line: &str) {
        self.w.write_all(format!("{line}\n").as_bytes()).unwrap();
    }

    /// Waits for a line containing `needle`; returns it.
    pub fn expect(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            match self.lines.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
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

    /// Lines arriving within `d`.
    pub fn drain(&mut self, d: Duration) -> Vec<String> {
        let deadline = Instant::now() + d;
        let mut got = Vec::new();
        while let Ok(l) = self.lines.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            self.seen.push(l.clone());
            got.push(l);
        }
        got
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
        use std::process::{Command, Stdio};
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

//! Helpers of the chat cluster tests: nodes of one cluster (each a real
//! `sockit chat serve --redis`), and members of any transport read the
//! same way — each event as its text line (`<ann> hi`, `* notice`), so a
//! test compares what TCP, UDP and WebSocket members saw.
#![allow(dead_code, clippy::unwrap_used)]

use std::net::{SocketAddr, UdpSocket};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::chat_support::ws::{ws_join, WsMember};
use crate::chat_support::{token_of, Member, Proc};
use sockit_testkit::{bin, Sockit};

/// A chat node of the cluster at `redis`: TCP+UDP on port 0, no web, no
/// IRC, no flood control (tests send fast), UDP members kept 60 s.
pub fn node(redis: &str, extra: &[&str]) -> Sockit {
    let mut args = vec!["chat", "serve", "--no-irc", "--no-web", "--port", "0", "--redis", redis];
    args.extend_from_slice(&["--flood-rate", "0", "--udp-timeout", "60"]);
    args.extend_from_slice(extra);
    Sockit::start(&bin(), &args, 2)
}

/// [`node`] with its web listener (WebSocket members) on a free port.
pub fn web_node(redis: &str) -> Sockit {
    let args = [
        "chat",
        "serve",
        "--no-irc",
        "--port",
        "0",
        "--web-port",
        "0",
        "--redis",
        redis,
        "--flood-rate",
        "0",
        "--udp-timeout",
        "60",
    ];
    Sockit::start(&bin(), &args, 3)
}

/// [`node`] with its IRC listener on a free port (listeners `tcp`, `udp`, `irc`).
pub fn irc_node(redis: &str) -> Sockit {
    let args = ["chat", "serve", "--no-web", "--port", "0", "--irc-port", "0", "--redis", redis, "--flood-rate", "0"];
    Sockit::start(&bin(), &args, 3)
}

/// A member of any transport, read as text lines.
pub enum Someone {
    /// A TCP text member.
    Tcp(Member),
    /// A UDP member (cookie handshake done).
    Udp(UdpMember),
    /// A WebSocket member (JSON events, turned into text lines here).
    Ws(Proc),
}

impl Someone {
    /// A TCP member of the node at `addr` named `nick`.
    pub fn tcp(addr: SocketAddr, nick: &str) -> Someone {
        Someone::Tcp(Member::join(addr, nick))
    }

    /// A UDP member of the node at `addr` named `nick`.
    pub fn udp(addr: SocketAddr, nick: &str) -> Someone {
        let mut m = UdpMember::join(addr);
        m.send(&format!("/nick {nick}"));
        m.expect(&format!("is now known as {nick}"));
        Someone::Udp(m)
    }

    /// A WebSocket member of the web node whose listener is `addr`, named `nick`.
    pub fn ws(addr: SocketAddr, nick: &str) -> Someone {
        let mut p = ws_join(addr);
        p.say(&format!("/nick {nick}"));
        let mut s = Someone::Ws(p);
        s.expect(&format!("is now known as {nick}"));
        s
    }

    /// Sends a line (a message or a command).
    pub fn send(&mut self, line: &str) {
        match self {
            Someone::Tcp(m) => m.send(line),
            Someone::Udp(m) => m.send(line),
            Someone::Ws(p) => p.say(line),
        }
    }

    /// The next event as a text line, if one arrives within `d`.
    pub fn next_within(&mut self, d: Duration) -> Option<String> {
        match self {
            Someone::Tcp(m) => m.lines.next_within(d),
            Someone::Udp(m) => m.next_within(d),
            Someone::Ws(p) => loop {
                let line = p.lines.next_within(d)?;
                if let Some(text) = ws_text(&line) {
                    return Some(text);
                }
            },
        }
    }

    /// Waits for a line containing `needle` (10 s); returns it.
    pub fn expect(&mut self, needle: &str) -> String {
        expect_in(|d| self.next_within(d), needle, "line")
    }

    /// Every line a TCP member has seen so far (its replay included).
    pub fn lines_seen(&self) -> Vec<String> {
        match self {
            Someone::Tcp(m) => m.lines.seen.clone(),
            _ => Vec::new(),
        }
    }

    /// Lines arriving within `d`.
    pub fn drain(&mut self, d: Duration) -> Vec<String> {
        let deadline = Instant::now() + d;
        let mut got = Vec::new();
        while let Some(l) = self.next_within(deadline.saturating_duration_since(Instant::now())) {
            got.push(l);
        }
        got
    }

    /// Lines containing `needle` until `want` of them have arrived or
    /// `timeout` has passed (every other line is kept in `others`).
    pub fn collect(&mut self, needle: &str, want: usize, timeout: Duration, others: &mut Vec<String>) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        let mut got = Vec::new();
        while got.len() < want {
            let Some(l) = self.next_within(deadline.saturating_duration_since(Instant::now())) else { break };
            if l.contains(needle) {
                got.push(l);
            } else {
                others.push(l);
            }
        }
        got
    }
}

/// A WebSocket member's `TEXT {json}` line as the event's text line.
/// Takes lines from `next` (10 s in all) until one contains `needle`;
/// the test fails with what came instead (`what`: a line, a datagram).
fn expect_in(mut next: impl FnMut(Duration) -> Option<String>, needle: &str, what: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen = Vec::new();
    while let Some(l) = next(deadline.saturating_duration_since(Instant::now())) {
        if l.contains(needle) {
            return l;
        }
        seen.push(l);
    }
    panic!("no {what} containing {needle:?}; saw {seen:#?}");
}

fn ws_text(line: &str) -> Option<String> {
    let json = line.strip_prefix("TEXT ")?;
    let v: serde_json::Value = serde_json::from_str(json).ok()?;
    let text = v["text"].as_str().unwrap_or("");
    let history = if v["history"].as_bool() == Some(true) { "[history] " } else { "" };
    Some(match v["type"].as_str() {
        Some("msg") => format!("{history}<{}> {text}", v["from"].as_str().unwrap_or("?")),
        Some("me") => format!("{history}* {} {text}", v["from"].as_str().unwrap_or("?")),
        Some("error") => format!("! {text}"),
        _ => format!("* {text}"),
    })
}

/// A UDP member: a socket whose datagrams a thread collects.
pub struct UdpMember {
    sock: UdpSocket,
    rx: mpsc::Receiver<String>,
}

impl UdpMember {
    /// Does the cookie handshake with the node at `addr`; returns once in the lobby.
    pub fn join(addr: SocketAddr) -> UdpMember {
        let sock = UdpSocket::bind(("127.0.0.1", 0)).unwrap();
        sock.connect(addr).unwrap();
        // Room for a burst while the reading thread is busy.
        let _ = socket2::SockRef::from(&sock).set_recv_buffer_size(4 << 20);
        let reader = sock.try_clone().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 65536];
            reader.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
            while let Ok(n) = reader.recv(&mut buf) {
                for line in String::from_utf8_lossy(&buf[..n]).lines() {
                    if tx.send(line.to_string()).is_err() {
                        return;
                    }
                }
            }
        });
        let mut m = UdpMember { sock, rx };
        m.sock.send(b"#ping#").unwrap();
        let challenge = m.expect("#join#");
        m.sock.send(token_of(&challenge).unwrap().as_bytes()).unwrap();
        m.expect("joined lobby");
        m
    }

    /// Sends one datagram.
    pub fn send(&mut self, line: &str) {
        self.sock.send(line.as_bytes()).unwrap();
    }

    fn next_within(&mut self, d: Duration) -> Option<String> {
        self.rx.recv_timeout(d).ok()
    }

    fn expect(&mut self, needle: &str) -> String {
        expect_in(|d| self.next_within(d), needle, "datagram")
    }
}

/// A TCP proxy in front of Redis that can turn a node's subscription
/// connections half-dead: still open, but nothing passes either way (a
/// NAT entry or a peer gone without a FIN). Connections are told apart by
/// what the client sends: one that sent `SUBSCRIBE` is a subscription.
pub struct Proxy {
    port: u16,
    subscriptions: std::sync::Arc<std::sync::Mutex<Vec<std::sync::Arc<std::sync::atomic::AtomicBool>>>>,
}

impl Proxy {
    /// Proxies a free loopback port to Redis on `target`; serves for at most 5 minutes.
    pub fn start(target: u16) -> Proxy {
        use std::io::{Read, Write};
        use std::net::{TcpListener, TcpStream};
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::{Arc, Mutex};
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let subscriptions: Arc<Mutex<Vec<Arc<AtomicBool>>>> = Arc::default();
        let subs = subscriptions.clone();
        std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(300);
            while Instant::now() < deadline {
                let Ok((client, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                };
                client.set_nonblocking(false).unwrap();
                let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else { continue };
                let frozen = Arc::new(AtomicBool::new(false));
                let pump = |mut from: TcpStream, mut to: TcpStream, up: bool| {
                    let (frozen, subs) = (frozen.clone(), subs.clone());
                    std::thread::spawn(move || {
                        let mut buf = vec![0u8; 64 * 1024];
                        let mut marked = false;
                        while let Ok(n @ 1..) = from.read(&mut buf) {
                            if up && !marked && buf[..n].windows(9).any(|w| w.eq_ignore_ascii_case(b"SUBSCRIBE")) {
                                marked = true;
                                subs.lock().unwrap().push(frozen.clone());
                            }
                            if !frozen.load(Ordering::Relaxed) && to.write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                        let _ = to.shutdown(std::net::Shutdown::Both);
                    });
                };
                pump(client.try_clone().unwrap(), server.try_clone().unwrap(), true);
                pump(server, client, false);
            }
        });
        Proxy { port, subscriptions }
    }

    /// `redis://127.0.0.1:PORT/0` through the proxy.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// Makes every subscription connection so far half-dead; returns how many.
    pub fn freeze_subscriptions(&self) -> usize {
        let subs = self.subscriptions.lock().unwrap();
        for s in subs.iter() {
            s.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        subs.len()
    }
}

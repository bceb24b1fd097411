//! The chat web listener hardened (the real binary, raw std sockets with
//! the RFC 6455 handshake and frames written out here): DNS rebinding is
//! refused by the Host check, protocol errors close with 1002, idle
//! WebSocket members cost little memory, and a WebSocket member reading in
//! a tight loop is not cut for others' bursts.
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use sockit_testkit::{bin, Sockit};

const WAIT: Duration = Duration::from_secs(30);
const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

/// Chat with the web listener; listeners: tcp, udp, http.
fn serve(extra: &[&str]) -> Sockit {
    let mut args = vec!["chat", "serve", "--no-irc", "--port", "0", "--web-port", "0", "--no-history"];
    args.extend_from_slice(extra);
    Sockit::start(&bin(), &args, 3)
}

/// Sends an upgrade request with `host` and `origin` headers; returns the
/// status line and the stream.
fn upgrade(addr: SocketAddr, host: &str, origin: Option<&str>) -> (String, TcpStream) {
    upgrade_on(TcpStream::connect(addr).unwrap(), host, origin)
}

fn upgrade_on(mut s: TcpStream, host: &str, origin: Option<&str>) -> (String, TcpStream) {
    let origin = origin.map(|o| format!("Origin: {o}\r\n")).unwrap_or_default();
    let req = format!(
        "GET /ws HTTP/1.1\r\nHost: {host}\r\n{origin}Upgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    s.write_all(req.as_bytes()).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    // Byte by byte up to the blank line, so no frame is read with the head.
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if s.read(&mut b).unwrap_or(0) == 0 {
            break;
        }
        head.push(b[0]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let status = head.lines().next().unwrap_or("").to_string();
    if !status.contains(" 101 ") {
        // The explanation follows the head.
        let mut body = String::new();
        let _ = s.read_to_string(&mut body);
        return (format!("{status}\n{body}"), s);
    }
    (status, s)
}

/// One client frame (masked, as RFC 6455 requires of clients unless
/// `masked` is false, which servers must refuse).
fn frame(op: u8, payload: &[u8], masked: bool) -> Vec<u8> {
    let mut f = vec![0x80 | op];
    let bit = if masked { 0x80 } else { 0 };
    match payload.len() {
        n if n < 126 => f.push(bit | n as u8),
        n if n < 65536 => {
            f.push(bit | 126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            f.push(bit | 127);
            f.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    if masked {
        let mask = [0x12, 0x34, 0x56, 0x78];
        f.extend_from_slice(&mask);
        f.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    } else {
        f.extend_from_slice(payload);
    }
    f
}

/// Reads one server frame: (opcode, payload); `None` at EOF.
fn read_frame(s: &mut TcpStream) -> Option<(u8, Vec<u8>)> {
    let mut h = [0u8; 2];
    s.read_exact(&mut h).ok()?;
    let len = match h[1] & 0x7f {
        126 => {
            let mut l = [0u8; 2];
            s.read_exact(&mut l).ok()?;
            u16::from_be_bytes(l) as usize
        }
        127 => {
            let mut l = [0u8; 8];
            s.read_exact(&mut l).ok()?;
            u64::from_be_bytes(l) as usize
        }
        n => n as usize,
    };
    let mut payload = vec![0u8; len];
    s.read_exact(&mut payload).ok()?;
    Some((h[0] & 0x0f, payload))
}

/// Reads frames until a Close; returns its status code (`None`: the
/// connection ended without a Close frame, or a Close without a code).
fn close_code(s: &mut TcpStream) -> Option<u16> {
    while let Some((op, payload)) = read_frame(s) {
        if op == 8 {
            return (payload.len() >= 2).then(|| u16::from_be_bytes([payload[0], payload[1]]));
        }
    }
    None
}

/// A connection whose receive buffer is 16 KiB, set before the handshake
/// (a small or busy host), so the client's kernel does not hide how the
/// server paces its writes.
fn small_rcvbuf(addr: SocketAddr) -> TcpStream {
    let sock = socket2::Socket::new(socket2::Domain::for_address(addr), socket2::Type::STREAM, None).unwrap();
    sock.set_recv_buffer_size(16 * 1024).unwrap();
    sock.connect(&addr.into()).unwrap();
    sock.into()
}

fn proc_rss(pid: u32) -> usize {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = s.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse::<usize>().unwrap() * 1024
}

/// Item 10: a page that controls both `Host` and `Origin` (DNS rebinding:
/// `evil.example` re-pointed at 127.0.0.1) gets 403 with a clear body;
/// the listener's own address and `localhost` work.
#[test]
fn dns_rebinding_host_is_refused() {
    let s = serve(&[]);
    let web = s.addr("http");
    let p = web.port();
    let evil = format!("evil.example:{p}");
    let (status, _) = upgrade(web, &evil, Some(&format!("http://{evil}")));
    assert!(status.starts_with("HTTP/1.1 403"), "{status}");
    assert!(status.contains("unknown Host") && status.contains("--web-host"), "{status}");
    // Without an Origin (a script on the attacker's page cannot drop it,
    // but a client could be pointed at the name): refused all the same.
    let (status, _) = upgrade(web, &evil, None);
    assert!(status.starts_with("HTTP/1.1 403"), "{status}");
    for host in [format!("127.0.0.1:{p}"), format!("localhost:{p}"), format!("[::1]:{p}")] {
        assert_joins(web, &host);
    }
}

/// Item 10: `--web-host NAME` (repeatable) lets the listener answer to a
/// name of its own (a LAN name, a reverse proxy's).
#[test]
fn web_host_adds_a_name() {
    let s = serve(&["--web-host", "chat.example.org", "--web-host", ".lan.example"]);
    let web = s.addr("http");
    let p = web.port();
    assert_joins(web, &format!("chat.example.org:{p}"));
    assert_joins(web, &format!("box.lan.example:{p}"));
    let (status, _) = upgrade(web, &format!("evil.example:{p}"), None);
    assert!(status.starts_with("HTTP/1.1 403"), "{status}");
}

/// An upgrade naming `host` (and a matching Origin) becomes a member.
fn assert_joins(web: SocketAddr, host: &str) {
    let (status, mut ws) = upgrade(web, host, Some(&format!("http://{host}")));
    assert!(status.contains(" 101 "), "{host}: {status}");
    // A member: its first event arrives.
    let (op, payload) = read_frame(&mut ws).unwrap();
    assert_eq!(op, 1, "{}", String::from_utf8_lossy(&payload));
}

/// Item 17: a frame that breaks RFC 6455 (here unmasked, from a client;
/// and a reserved opcode) closes with status 1002, not a bare drop.
#[test]
fn protocol_errors_close_with_1002() {
    let s = serve(&[]);
    let web = s.addr("http");
    let host = format!("127.0.0.1:{}", web.port());
    for bad in [frame(1, br#"{"text":"hi"}"#, false), frame(3, b"x", true)] {
        let (status, mut ws) = upgrade(web, &host, None);
        assert!(status.contains(" 101 "), "{status}");
        ws.write_all(&bad).unwrap();
        assert_eq!(close_code(&mut ws), Some(1002));
    }
    // Too big stays 1009.
    let (_, mut ws) = upgrade(web, &host, None);
    let big = format!(r#"{{"text":"{}"}}"#, "x".repeat(70_000));
    ws.write_all(&frame(1, big.as_bytes(), true)).unwrap();
    assert_eq!(close_code(&mut ws), Some(1009));
}

/// Item 13: what one idle member costs the server, WebSocket and TCP,
/// measured with 500 of each (RSS after minus before, per member).
#[test]
fn idle_websocket_members_are_cheap() {
    const N: usize = 500;
    let s = serve(&["--max-per-ip", "2000"]);
    let web = s.addr("http");
    let host = format!("127.0.0.1:{}", web.port());
    let settle = || std::thread::sleep(Duration::from_millis(500));
    // Warm up the allocator and the runtime with a few of each.
    let warm: Vec<_> = (0..10).map(|_| upgrade(web, &host, None).1).collect();
    settle();
    let before = proc_rss(s.pid());
    let mut ws = Vec::new();
    for _ in 0..N {
        let (status, c) = upgrade(web, &host, None);
        assert!(status.contains(" 101 "), "{status}");
        ws.push(c);
    }
    settle();
    let after_ws = proc_rss(s.pid());
    let tcp: Vec<TcpStream> = (0..N).map(|_| TcpStream::connect(s.addr("tcp")).unwrap()).collect();
    settle();
    let after_tcp = proc_rss(s.pid());
    let per_ws = after_ws.saturating_sub(before) / N;
    let per_tcp = after_tcp.saturating_sub(after_ws) / N;
    eprintln!("idle member: WebSocket {} KiB, TCP {} KiB (RSS, {N} each)", per_ws >> 10, per_tcp >> 10);
    assert!(per_ws <= 48 * 1024, "an idle WebSocket member costs {} KiB", per_ws >> 10);
    drop((warm, ws, tcp));
}

/// Item 4 for WebSocket members: three TCP members send the full burst
/// flood control allows (20 × 8 KB) at once; a WebSocket member reading in
/// a tight loop (through a 16 KiB receive buffer) gets all 60 and stays.
#[test]
fn a_tight_websocket_reader_survives_three_full_bursts() {
    let s = serve(&["--batch-ms", "50"]);
    let web = s.addr("http");
    let tcp = s.addr("tcp");
    let host = format!("127.0.0.1:{}", web.port());
    let (status, mut ws) = upgrade_on(small_rcvbuf(web), &host, None);
    assert!(status.contains(" 101 "), "{status}");
    let senders: Vec<TcpStream> = (0..3)
        .map(|i| {
            let mut c = TcpStream::connect(tcp).unwrap();
            c.write_all(format!("/nick s{i}\n").as_bytes()).unwrap();
            let mut r = c.try_clone().unwrap();
            std::thread::spawn(move || {
                let mut sink = [0u8; 65536];
                while r.read(&mut sink).unwrap_or(0) > 0 {}
            });
            c
        })
        .collect();
    // `/nick` took a token from each bucket: let it refill.
    std::thread::sleep(Duration::from_millis(500));
    let go = Arc::new(Barrier::new(3));
    let pad = "p".repeat(8000);
    let threads: Vec<_> = senders
        .into_iter()
        .enumerate()
        .map(|(i, mut w)| {
            let go = go.clone();
            let burst: String = (0..20).map(|n| format!("s{i} {n} {pad}\n")).collect();
            std::thread::spawn(move || {
                go.wait();
                w.write_all(burst.as_bytes()).unwrap();
                w
            })
        })
        .collect();
    let _keep: Vec<TcpStream> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let deadline = Instant::now() + WAIT;
    let mut got = 0;
    while got < 60 {
        assert!(Instant::now() < deadline, "timed out after {got}");
        let (op, payload) = read_frame(&mut ws).unwrap_or_else(|| panic!("connection ended after {got}"));
        assert_eq!(op, 1, "not a text frame after {got} (op {op}: {:?})", String::from_utf8_lossy(&payload));
        let text = String::from_utf8_lossy(&payload);
        assert!(!text.contains("send queue exceeded"), "cut after {got}");
        got += usize::from(text.contains(r#""type":"msg""#));
    }
    ws.write_all(&frame(1, br#"{"text":"/who"}"#, true)).unwrap();
    loop {
        let (_, payload) = read_frame(&mut ws).unwrap();
        if String::from_utf8_lossy(&payload).contains("members of lobby") {
            break;
        }
    }
}

/// Item 4 for WebSocket members: `/history 100` of 8 KB messages (800 KB,
/// three send queues) is paced: the member gets the join replay and all
/// 100, and stays.
#[test]
fn websocket_history_100_of_8k_arrives_whole() {
    let s = serve(&["--flood-rate", "0"]);
    let web = s.addr("http");
    let mut sender = TcpStream::connect(s.addr("tcp")).unwrap();
    sender.write_all(b"/nick sender\n").unwrap();
    let mut r = sender.try_clone().unwrap();
    std::thread::spawn(move || {
        let mut sink = [0u8; 65536];
        while r.read(&mut sink).unwrap_or(0) > 0 {}
    });
    let pad = "h".repeat(8000);
    for i in 0..100 {
        sender.write_all(format!("m{i:03} {pad}\n").as_bytes()).unwrap();
        std::thread::sleep(Duration::from_millis(5));
    }
    // History is written before the fan-out; give the last one a moment.
    std::thread::sleep(Duration::from_millis(500));
    let host = format!("127.0.0.1:{}", web.port());
    // It reads in a tight loop, through a 16 KiB receive buffer.
    let (status, mut ws) = upgrade_on(small_rcvbuf(web), &host, None);
    assert!(status.contains(" 101 "), "{status}");
    ws.write_all(&frame(1, br#"{"text":"/history 100"}"#, true)).unwrap();
    let mut seen = Vec::new();
    let deadline = Instant::now() + WAIT;
    while seen.len() < 120 {
        assert!(Instant::now() < deadline, "timed out after {} history messages", seen.len());
        let (op, payload) = read_frame(&mut ws).unwrap_or_else(|| panic!("ended after {}", seen.len()));
        let text = String::from_utf8_lossy(&payload).into_owned();
        assert_eq!(op, 1, "after {}: op {op} {text:?}", seen.len());
        assert!(!text.contains("send queue exceeded"), "cut after {}", seen.len());
        if text.contains(r#""history":true"#) {
            let at = text.find(r#""text":"m"#).unwrap_or_else(|| panic!("history message {text:.120}")) + 9;
            seen.push(text[at..at + 3].to_string());
        }
    }
    let mut want: Vec<String> = (80..100).map(|i| format!("{i:03}")).collect();
    want.extend((0..100).map(|i| format!("{i:03}")));
    assert_eq!(seen, want, "the replay, then the 100 asked for, in order");
    // Still a member.
    ws.write_all(&frame(1, br#"{"text":"/who"}"#, true)).unwrap();
    loop {
        let (_, payload) = read_frame(&mut ws).unwrap_or_else(|| panic!("the connection ended after the history"));
        let text = String::from_utf8_lossy(&payload);
        assert!(!text.contains("send queue exceeded"), "cut for its own /history");
        if text.contains("members of lobby") {
            break;
        }
    }
}

//! The chat room's web side against real peers: a python3 WebSocket client
//! (standard library only: RFC 6455 handshake and frames written out in the
//! script), `nc` TCP members, curl-free raw HTTP, and headless Chromium
//! running the chat page.
#![allow(clippy::unwrap_used)]

mod chat_support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::Duration;

use chat_support::ws::{ws_join, ws_join_with, WsMember};
use chat_support::{Proc, WAIT};
use sockit_testkit::{bin, chromium_dump_dom, need, Sockit};

fn serve(extra: &[&str]) -> Sockit {
    let mut args = vec!["chat", "serve", "--no-irc", "--port", "0", "--web-port", "0", "--no-history"];
    args.extend_from_slice(extra);
    Sockit::start(&bin(), &args, 3)
}

/// An nc TCP member.
fn nc_join(addr: SocketAddr) -> Proc {
    need("nc");
    Proc::spawn(Command::new("nc").arg(addr.ip().to_string()).arg(addr.port().to_string()))
}

/// A python3 WebSocket member and an nc member talk both ways; events reach
/// the browser side as one JSON object per text message. Ping gets its Pong,
/// and on shutdown the WebSocket member is told and gets a Close frame.
#[test]
fn python_websocket_and_nc_member_exchange_messages() {
    let s = serve(&[]);
    let mut nc = nc_join(s.addr("tcp"));
    nc.expect("joined lobby");
    nc.send("/nick ncA");
    nc.expect("is now known as ncA");

    let mut ws = ws_join(s.addr("http"));
    let joined = ws.event("joined lobby");
    assert_eq!(joined["type"], "notice", "{joined}");
    ws.say("/nick web");
    ws.event("is now known as web");
    nc.expect("is now known as web");
    ws.say("hello from the browser 你好");
    assert_eq!(nc.expect("from the browser"), "<web> hello from the browser 你好");

    nc.send("hi web, from nc");
    let ev = ws.event("from nc");
    assert_eq!(ev["type"], "msg");
    assert_eq!(ev["from"], "ncA");
    assert_eq!(ev["room"], "lobby");
    assert_eq!(ev["text"], "hi web, from nc");
    assert!(ev["ts"].as_i64().unwrap() > 0);

    // Commands pass through; /text would break a JSON-only member.
    ws.say("/who");
    ws.event("members of lobby (2)");
    ws.say("/text");
    assert_eq!(ws.event("JSON in UTF-8 only")["type"], "error");
    ws.send("PING are-you-there");
    ws.expect("PONG are-you-there");

    let status = s.stop(WAIT);
    assert!(status.success(), "{status:?}");
    assert_eq!(ws.event("server shutting down")["type"], "notice");
    assert!(ws.expect("CLOSE").starts_with("CLOSE 1001"), "{:#?}", ws.lines.seen);
    nc.expect("* server shutting down");
}

/// Over-size, binary and invalid messages each get an error event and the
/// member stays; a message beyond the hard cap closes with 1009.
#[test]
fn bad_websocket_messages_get_error_events_and_the_member_stays() {
    let s = serve(&["--max-line", "1024"]);
    let mut nc = nc_join(s.addr("tcp"));
    nc.expect("joined lobby");
    let mut ws = ws_join(s.addr("http"));
    ws.event("joined lobby");

    ws.send("BIG 5000");
    let ev = ws.event("too long");
    assert_eq!(ev["type"], "error");
    assert!(ev["text"].as_str().unwrap().contains("max 1024 bytes"), "{ev}");
    ws.send("B \u{1}\u{2}");
    assert_eq!(ws.event("binary messages are not read")["type"], "error");
    ws.send("T not json");
    assert_eq!(ws.event("invalid JSON")["type"], "error");

    // Still a member: its next message reaches the room.
    ws.say("still here");
    nc.expect("> still here");

    ws.send("BIG 70000");
    ws.event("closing");
    assert!(ws.expect("CLOSE").starts_with("CLOSE 1009"), "{:#?}", ws.lines.seen);
    nc.expect("left (message too large)");
    assert!(s.stop(WAIT).success());
}

/// A browser that stops reading is dropped once its send queue passes
/// `--send-queue`; the room is told and keeps going for everyone else.
#[test]
fn slow_websocket_member_is_dropped() {
    // No replay: twenty 1 KB messages would fill the new member's queue at once.
    let s = serve(&["--flood-rate", "0", "--send-queue", "16384", "--socket-buffer", "4096", "--replay", "0"]);
    // The sender (members do not receive their own messages).
    let mut nc = nc_join(s.addr("tcp"));
    nc.expect("joined lobby");
    let mut slow = ws_join_with(s.addr("http"), &["stall"]);
    nc.expect("joined lobby");
    slow.say("/nick slow");
    nc.expect("is now known as slow");
    // ~1 MB of room traffic: far beyond 16 KiB queued plus a few KiB of
    // kernel buffers on each side.
    let mut stdin = nc.child.stdin.take().unwrap();
    let line = format!("{}\n", "m".repeat(1000));
    let writer = std::thread::spawn(move || {
        for _ in 0..1000 {
            if stdin.write_all(line.as_bytes()).is_err() {
                break;
            }
        }
        stdin
    });
    nc.expect("slow left (send queue exceeded)");
    nc.child.stdin = Some(writer.join().unwrap());
    // The room carries on.
    let mut fast = ws_join(s.addr("http"));
    fast.event("joined lobby");
    nc.send("after the slow one");
    fast.event("after the slow one");
    // The stalled client, once it reads, finds the end of its connection.
    slow.send("GO");
    slow.expect("EOF");
    assert!(s.stop(WAIT).success());
}

/// Raw HTTP: the page, a plain GET /ws (400), an unknown path (404); the
/// server keeps serving WebSocket members afterwards.
#[test]
fn http_side_serves_the_page_and_refuses_bad_upgrades() {
    let s = serve(&[]);
    let web = s.addr("http");
    let get = |req: &str| {
        let mut c = TcpStream::connect(web).unwrap();
        c.set_read_timeout(Some(WAIT)).unwrap();
        c.write_all(req.as_bytes()).unwrap();
        let mut out = String::new();
        c.read_to_string(&mut out).unwrap();
        out
    };
    let page = get("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(page.starts_with("HTTP/1.1 200 OK\r\n"), "{page}");
    assert!(page.contains("Content-Type: text/html; charset=utf-8"), "{page}");
    assert!(page.contains("new WebSocket("), "{page}");
    assert!(!page.contains("innerHTML"), "the page must render text with textContent only");
    assert!(!page.contains("http://") && !page.contains("https://"), "the page must not load external assets");

    let bad = get("GET /ws HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(bad.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{bad}");
    assert!(bad.contains("expects a WebSocket upgrade"), "{bad}");
    let missing = get("GET /nope HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(missing.starts_with("HTTP/1.1 404"), "{missing}");
    let garbage = get("\u{1}\u{2}\u{3} nonsense\r\n\r\n");
    assert!(garbage.starts_with("HTTP/1.1 400"), "{garbage}");

    let mut ws = ws_join(web);
    ws.event("joined lobby");
    ws.say("/rooms");
    ws.event("rooms: lobby (1)");
    assert!(s.stop(WAIT).success());
}

/// Headless Chromium runs the page: a message sent by an nc member before
/// the page loaded comes back in the history replay and is in the DOM,
/// marked as history.
#[test]
fn chromium_page_shows_history_replay() {
    need("chromium");
    let s = serve(&[]);
    let mut nc = nc_join(s.addr("tcp"));
    nc.expect("joined lobby");
    nc.send("/nick ncA");
    nc.expect("is now known as ncA");
    // Markup in a message must arrive as text, never as elements.
    nc.send("replayed <b id=\"injected\">hello</b> for the browser");
    // The message is in history once another member sees it.
    let mut ws = ws_join(s.addr("http"));
    ws.event("for the browser");
    nc.expect("joined lobby");
    drop(ws);
    nc.expect("left");

    // The dump is taken when virtual time runs out; a loaded machine can
    // (rarely) deliver the WebSocket's messages later than that, so allow
    // three page loads before calling it a failure.
    let url = format!("http://{}/", s.addr("http"));
    // The sender's nick is a span of its own (its colour), the text another.
    let needle = "<span class=\"text\"> replayed &lt;b id=\"injected\"&gt;hello&lt;/b&gt; for the browser</span>";
    let mut dom = String::new();
    for _ in 0..3 {
        dom = chromium_dump_dom(&url, Some(Duration::from_secs(5)), Duration::from_secs(10));
        if dom.contains(needle) {
            break;
        }
    }
    assert!(dom.contains(needle), "{dom}");
    assert!(!dom.contains("<b id=\"injected\">"), "member text became markup: {dom}");
    assert!(dom.contains("\">&lt;ncA&gt;</span>"), "{dom}");
    assert!(dom.contains("class=\"msg history\""), "replay not marked as history: {dom}");
    assert!(dom.contains("[history "), "{dom}");
    // The browser was a real member: the room saw it come and go.
    nc.expect("joined lobby");
    assert!(s.stop(WAIT).success());
}

/// Web connections count against `--max-per-ip`: over it, a clear 503.
#[test]
fn web_listener_enforces_the_per_ip_limit() {
    let s = serve(&["--max-per-ip", "1"]);
    let mut ws = ws_join(s.addr("http"));
    ws.event("joined lobby");
    let mut c = TcpStream::connect(s.addr("http")).unwrap();
    c.set_read_timeout(Some(WAIT)).unwrap();
    let _ = c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    let mut out = String::new();
    let _ = c.read_to_string(&mut out);
    assert!(out.starts_with("HTTP/1.1 503 Service Unavailable\r\n"), "{out}");
    assert!(out.contains("127.0.0.1"), "{out}");
    // The member is unaffected.
    ws.say("/who");
    ws.event("members of lobby (1)");
    assert!(s.stop(WAIT).success());
}

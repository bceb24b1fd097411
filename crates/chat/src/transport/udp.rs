//! UDP members: one datagram = one message or command (a trailing newline is
//! ignored; several lines in one datagram are several messages). `#ping#`
//! only keeps a member alive; a member silent for `--udp-timeout` is dropped
//! and the room told. Events reach UDP members as one datagram each.
//!
//! A source address is a claim, not a fact, so an address becomes a member
//! only once it has proved it receives there: a datagram from an unknown
//! address is answered with a small challenge carrying a cookie
//! ([`sockit_net::cookie`]), and nothing else happens — no room traffic, no
//! history, no notice to anyone, no per-IP slot, no state (the cookie is
//! recomputed, not stored). The address joins when it sends the cookie back
//! (`#join#COOKIE#`). Challenges are rate-limited per client and in total.
//! Even a member's single datagram has a bounded cost: what it causes to be
//! sent back is capped ([`REPLY_DATAGRAMS`], [`REPLY_BYTES`], [`UDP_HISTORY`]).
//!
//! The receive loop only routes datagrams to a task per member, which runs
//! the same [`Session`] as a TCP member.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use sockit_net::cookie::{ChallengeGate, CookieJar};
use sockit_net::Shutdown;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::event::{Event, Shared};
use crate::fanout::Sink;
use crate::service::Chat;
use crate::session::{Flow, Session};

/// Datagrams queued for one member before further ones are dropped.
const INBOX: usize = 64;
/// A cookie is good for one to two of these.
pub const COOKIE_PERIOD: Duration = Duration::from_secs(60);
/// Challenges one client (IPv4 address, IPv6 /64) may get at once …
pub const CHALLENGE_BURST: u32 = 2;
/// … and per second after that.
pub const CHALLENGE_RATE: f64 = 0.5;
/// Challenges per second to all unverified addresses together.
pub const CHALLENGE_TOTAL_RATE: f64 = 256.0;
/// Clients the challenge limiter remembers (the oldest is forgotten first).
pub const CHALLENGE_CLIENTS: usize = 16_384;
/// Most datagrams one datagram from a member makes the server send back.
pub const REPLY_DATAGRAMS: usize = 32;
/// Most bytes one datagram from a member makes the server send back.
pub const REPLY_BYTES: usize = 64 * 1024;
/// Most messages `/history` gives a UDP member.
pub const UDP_HISTORY: usize = 20;
/// The line that proves an address: `#join#COOKIE#`.
const JOIN_PREFIX: &str = "#join#";

/// The challenge an unverified address gets: tells a person at `nc -u`
/// what to paste, and a program where the cookie is.
pub fn challenge_text(cookie: &str) -> String {
    format!("* to join, send: {JOIN_PREFIX}{cookie}# (then send your message again)\n")
}

/// The cookie of a `#join#COOKIE#` line, if `line` is one.
pub fn join_cookie(line: &[u8]) -> Option<&str> {
    let s = std::str::from_utf8(line).ok()?.trim();
    s.strip_prefix(JOIN_PREFIX)?.strip_suffix('#')
}

/// Receives datagrams until shutdown, routing each to its member's task;
/// unknown addresses are challenged (see the module docs).
pub async fn serve(chat: Chat, socket: Arc<UdpSocket>, shutdown: Shutdown) {
    let mut members: HashMap<SocketAddr, mpsc::Sender<Bytes>> = HashMap::new();
    let jar = CookieJar::new(COOKIE_PERIOD);
    let mut gate = ChallengeGate::new(CHALLENGE_BURST, CHALLENGE_RATE, CHALLENGE_TOTAL_RATE, CHALLENGE_CLIENTS);
    let mut buf = vec![0u8; sockit_net::udp::MAX_DATAGRAM];
    let local = socket.local_addr().ok();
    let mut sweep = tokio::time::interval(chat.config.udp_timeout.max(Duration::from_millis(100)));
    loop {
        let (n, from) = tokio::select! {
            biased;
            _ = shutdown.triggered() => break,
            _ = sweep.tick() => {
                members.retain(|_, tx| !tx.is_closed());
                continue;
            }
            r = socket.recv_from(&mut buf) => match r {
                Ok(ok) => ok,
                Err(e) => {
                    tracing::debug!(error = %e, "udp receive failed");
                    continue;
                }
            },
        };
        let data = &buf[..n];
        // A spoofed "client" on a service port (or ours) would have us
        // challenge another server, which answers, forever: drop it unread.
        if let Some(why) = local.and_then(|local| sockit_net::reflect::loop_risk(from, local)) {
            tracing::debug!(%from, why, "chat datagram from a loop-risk source dropped");
            continue;
        }
        if let Some(tx) = members.get(&from).filter(|tx| !tx.is_closed()) {
            // A member whose inbox is full loses datagrams, as UDP may.
            let _ = tx.try_send(Bytes::copy_from_slice(data));
            continue;
        }
        // Not (or no longer) a member: only a valid cookie makes it one.
        let (first, rest) = match data.iter().position(|b| *b == b'\n') {
            Some(i) => (&data[..i], &data[i + 1..]),
            None => (data, &data[..0]),
        };
        match join_cookie(first) {
            Some(cookie) if jar.verify(from, cookie) => {
                let (tx, rx) = mpsc::channel(INBOX);
                if !rest.is_empty() {
                    let _ = tx.try_send(Bytes::copy_from_slice(rest));
                }
                members.insert(from, tx);
                shutdown.spawn(member(chat.clone(), socket.clone(), from, rx, shutdown.clone()));
            }
            _ if n == 0 => {}
            _ => {
                if gate.allow(from.ip(), std::time::Instant::now()) {
                    // Never wait here: a full socket buffer drops the
                    // challenge, as the network may.
                    let _ = socket.try_send_to(challenge_text(&jar.issue(from)).as_bytes(), from);
                }
            }
        }
    }
}

async fn member(
    chat: Chat,
    socket: Arc<UdpSocket>,
    peer: SocketAddr,
    mut inbox: mpsc::Receiver<Bytes>,
    shutdown: Shutdown,
) {
    // Room events and private messages, forwarded by the writer shard.
    let (events_tx, mut events) = mpsc::unbounded_channel();
    let mut session = match Session::start(&chat, peer, Sink::Forward(events_tx), "udp").await {
        Ok(s) => s,
        Err(e) => {
            let _ = socket.send_to(format!("! {e}\n").as_bytes(), peer).await;
            return;
        }
    };
    let send = |b: Bytes| {
        let socket = socket.clone();
        async move {
            if let Err(e) = socket.send_to(&b, peer).await {
                tracing::debug!(error = %e, %peer, "udp send failed");
            }
        }
    };
    let timeout = chat.config.udp_timeout;
    let max_line = chat.config.max_line;
    // No history replay on join over UDP: members ask with /history, whose
    // answer is bounded like every other reply (see `bounded_replies`).
    let mut replies: Vec<Arc<Shared>> = Vec::new();
    let mut deadline = Instant::now() + timeout;
    loop {
        tokio::select! {
            biased;
            _ = shutdown.triggered() => {
                session.set_reason("server shutting down");
                send(session.local(Event::notice("server shutting down"))).await;
                break;
            }
            _ = tokio::time::sleep_until(deadline) => {
                session.set_reason("timed out");
                break;
            }
            d = inbox.recv() => {
                let Some(d) = d else { break };
                deadline = Instant::now() + timeout;
                let mut quit = false;
                for line in lines(&d) {
                    if join_cookie(line).is_some() {
                        // Already a member: a repeated join is a heartbeat.
                        continue;
                    }
                    let flow = if line.len() > max_line {
                        session.too_long(&mut replies);
                        Flow::Continue
                    } else {
                        session.handle(line, &mut replies).await
                    };
                    if flow == Flow::Quit {
                        quit = true;
                        break;
                    }
                }
                for b in bounded_replies(&session, &mut replies) {
                    send(b).await;
                }
                if quit {
                    break;
                }
            }
            ev = events.recv() => match ev {
                Some(ev) => if let Some(b) = session.render(&ev) { send(b).await },
                None => break,
            },
        }
    }
    tracing::debug!(%peer, nick = session.nick(), "udp member left");
}

/// Renders what one datagram caused, within the per-datagram budget: at
/// most [`UDP_HISTORY`] replayed messages (the newest), [`REPLY_DATAGRAMS`]
/// datagrams and [`REPLY_BYTES`] bytes; a cut answer says so. Drains `replies`.
fn bounded_replies(session: &Session, replies: &mut Vec<Arc<Shared>>) -> Vec<Bytes> {
    let history = replies.iter().filter(|e| e.event.history).count();
    let mut skip = history.saturating_sub(UDP_HISTORY);
    let mut out = Vec::new();
    if skip > 0 {
        out.push(session.local(Event::notice(format!(
            "over UDP /history gives the last {UDP_HISTORY} messages ({skip} older left out; TCP or the web page give up to 1000)"
        ))));
    }
    let mut bytes: usize = out.iter().map(Bytes::len).sum();
    for ev in replies.drain(..) {
        if ev.event.history && skip > 0 {
            skip -= 1;
            continue;
        }
        let Some(b) = session.render(&ev) else { continue };
        if out.len() + 1 >= REPLY_DATAGRAMS || bytes + b.len() > REPLY_BYTES {
            out.push(session.local(Event::error(format!(
                "answer cut short (over UDP one datagram gets at most {REPLY_DATAGRAMS} datagrams, {} KiB back)",
                REPLY_BYTES / 1024
            ))));
            break;
        }
        bytes += b.len();
        out.push(b);
    }
    replies.clear();
    out
}

/// The lines of a datagram: split on `\n`, `\r` stripped, one trailing
/// newline ignored. A datagram without newline is one line.
pub fn lines(d: &[u8]) -> impl Iterator<Item = &[u8]> {
    let body = d.strip_suffix(b"\n").unwrap_or(d);
    body.split(|b| *b == b'\n').map(|l| l.strip_suffix(b"\r").unwrap_or(l))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_lines() {
        assert_eq!(join_cookie(b"#join#00ff#"), Some("00ff"));
        assert_eq!(join_cookie(b"#join#00ff#\r"), Some("00ff"));
        assert_eq!(join_cookie(b"#join#00ff"), None);
        assert_eq!(join_cookie(b"hi"), None);
        let c = challenge_text("0123456789abcdef");
        assert!(c.len() <= 80, "{} bytes", c.len());
        let token = &c[c.find("#join#").unwrap()..];
        assert_eq!(join_cookie(token.split(' ').next().unwrap().as_bytes()), Some("0123456789abcdef"));
    }

    /// A datagram from a loop-risk source (here: one of sockit's own UDP
    /// service ports) gets no challenge; one from an ephemeral port does.
    #[tokio::test]
    async fn loop_risk_sources_are_not_challenged() {
        let shutdown = Shutdown::new();
        let chat = Chat::start(crate::ChatConfig::default(), &shutdown).unwrap();
        let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = server.local_addr().unwrap();
        tokio::spawn(chat.serve_udp(server, shutdown.clone()));
        let mut buf = [0u8; 2048];
        // Some service port must be free here; another test may hold one.
        let mut risky = None;
        for port in sockit_net::reflect::SOCKIT_UDP_PORTS {
            if let Ok(s) = UdpSocket::bind(("127.0.0.1", port)).await {
                risky = Some(s);
                break;
            }
        }
        let risky = risky.expect("one of sockit's UDP ports free on 127.0.0.1");
        risky.send_to(b"hello", addr).await.unwrap();
        let got = tokio::time::timeout(Duration::from_millis(700), risky.recv_from(&mut buf)).await;
        assert!(got.is_err(), "a loop-risk source was answered: {got:?}");
        let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        client.send_to(b"hello", addr).await.unwrap();
        let (n, _) = tokio::time::timeout(Duration::from_secs(5), client.recv_from(&mut buf)).await.unwrap().unwrap();
        assert!(std::str::from_utf8(&buf[..n]).unwrap().contains(JOIN_PREFIX), "{:?}", &buf[..n]);
        shutdown.trigger();
    }

    #[test]
    fn datagram_lines() {
        let v: Vec<&[u8]> = lines(b"hi\r\n").collect();
        assert_eq!(v, [b"hi"]);
        let v: Vec<&[u8]> = lines(b"a\nb").collect();
        assert_eq!(v, [&b"a"[..], b"b"]);
        let v: Vec<&[u8]> = lines(b"#ping#").collect();
        assert_eq!(v, [b"#ping#"]);
    }
}

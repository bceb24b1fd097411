//! UDP members: one datagram = one message or command (a trailing newline is
//! ignored; several lines in one datagram are several messages). Any datagram
//! registers its sender; `#ping#` only keeps it alive; a member silent for
//! `--udp-timeout` is dropped and the room told. Events reach UDP members as
//! one datagram each.
//!
//! The receive loop only routes datagrams to a task per member, which runs
//! the same [`Session`] as a TCP member.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use sockit_net::Shutdown;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::event::{Event, Shared};
use crate::fanout::Sink;
use crate::server::Chat;
use crate::session::{Flow, Session};

/// Datagrams queued for one member before further ones are dropped.
const INBOX: usize = 64;

/// Receives datagrams until shutdown, routing each to its member's task.
pub async fn serve(chat: Chat, socket: Arc<UdpSocket>, shutdown: Shutdown) {
    let mut members: HashMap<SocketAddr, mpsc::Sender<Bytes>> = HashMap::new();
    let mut buf = vec![0u8; sockit_net::udp::MAX_DATAGRAM];
    let mut sweep = tokio::time::interval(chat.config.udp_timeout.max(std::time::Duration::from_millis(100)));
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
        let data = Bytes::copy_from_slice(&buf[..n]);
        if let Some(tx) = members.get(&from).filter(|tx| !tx.is_closed()) {
            // A member whose inbox is full loses datagrams, as UDP may.
            let _ = tx.try_send(data);
            continue;
        }
        let (tx, rx) = mpsc::channel(INBOX);
        let _ = tx.try_send(data);
        members.insert(from, tx);
        shutdown.spawn(member(chat.clone(), socket.clone(), from, rx, shutdown.clone()));
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
    let mut session = match Session::start(&chat, peer, Sink::Forward(events_tx)).await {
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
    // No history replay on join over UDP: the sender address is unproven,
    // and one spoofed datagram must not make us send twenty at a victim.
    // UDP members ask with /history.
    let mut replies: Vec<Arc<Shared>> = Vec::new();
    let mut deadline = Instant::now() + timeout;
    loop {
        for ev in replies.drain(..) {
            if let Some(b) = session.render(&ev) {
                send(b).await;
            }
        }
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
                if quit {
                    for ev in replies.drain(..) {
                        if let Some(b) = session.render(&ev) { send(b).await; }
                    }
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
    fn datagram_lines() {
        let v: Vec<&[u8]> = lines(b"hi\r\n").collect();
        assert_eq!(v, [b"hi"]);
        let v: Vec<&[u8]> = lines(b"a\nb").collect();
        assert_eq!(v, [&b"a"[..], b"b"]);
        let v: Vec<&[u8]> = lines(b"#ping#").collect();
        assert_eq!(v, [b"#ping#"]);
    }
}

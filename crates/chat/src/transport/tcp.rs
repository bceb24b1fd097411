//! TCP members (nc, telnet, scripts, the terminal client): bounded lines,
//! the idle-partial-line rule, and a byte-bounded send queue.
//!
//! The connection's task reads and handles the member's lines; its writer
//! shard ([`crate::fanout`]) does all the writing — room events, private
//! messages and the replies this task hands it — so everything reaches the
//! member in order, in as few writes as possible. The shard holds the send
//! queue and its backlog: a member that stops reading (see
//! [`crate::fanout`] for exactly when) is let go by the shard, and this
//! task tells it `! send queue exceeded` on a line of its own and closes;
//! nobody else notices. When the member leaves, this task takes back what
//! was still queued and writes it before closing. TLS members run this same
//! code on the chat end of their socket pair ([`crate::transport::tls`]).

use std::io;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use sockit_net::codec::{Line, LineCodec};
use sockit_net::{ConnInfo, Peer};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::time::Instant;
use tokio_util::codec::Decoder;

use crate::event::{Event, Shared};
use crate::fanout::{Cut, Pacing, Pending, Sink};
use crate::service::Chat;
use crate::session::{Flow, Session};
use crate::wire::Wire;

/// A partial line left idle this long counts as a line.
pub const PARTIAL_IDLE: Duration = Duration::from_millis(100);
/// How long a leaving member's last lines may take to drain.
pub(crate) const FLUSH_GRACE: Duration = Duration::from_secs(2);
/// How long a member dropped for slowness gets to take its last line (one
/// that fell a backlog behind still reads, so it can take it in this time).
pub(crate) const LAST_WORD: Duration = Duration::from_millis(500);

/// How a member's connection ends.
enum End {
    /// It left, or the server is stopping: write what it is owed, then close.
    Drain,
    /// It stopped reading: its last line only.
    TooSlow(Cut),
    /// The connection failed: nothing more to write.
    Broken,
}

/// Serves one TCP member until it leaves, is dropped, or the server stops.
pub async fn serve_connection(chat: Chat, stream: TcpStream, info: ConnInfo) {
    bound_send_buffer(&chat, &stream);
    serve_wire(chat, Wire::Tcp(stream), info, "tcp").await;
}

/// Bounds what the kernel holds for a member that stops reading, so the
/// send queue (not a 4 MB autotuned buffer) decides when it goes.
pub(crate) fn bound_send_buffer(chat: &Chat, stream: &TcpStream) {
    if chat.config.socket_buffer > 0 {
        let _ = socket2::SockRef::from(stream).set_send_buffer_size(chat.config.socket_buffer);
    }
}

/// Serves one line member on `stream` (a TCP connection, or a TLS member's
/// socket pair) until it leaves, is dropped, or the server stops;
/// `transport` (`tcp`, `tls`) is what `/whois` says it came by.
pub async fn serve_wire(chat: Chat, stream: Wire, info: ConnInfo, transport: &'static str) {
    let Peer::Ip(peer) = info.peer else { return };
    // Shared with the writer shard, which only ever calls `try_write`.
    let stream = Arc::new(stream);
    let (dropped_tx, mut dropped) = oneshot::channel();
    let pacing = Pacing::default();
    let sink = Sink::Tcp { stream: stream.clone(), dropped: dropped_tx, pacing: pacing.clone() };
    let mut session = match Session::start(&chat, peer, sink, transport).await {
        Ok(s) => s,
        Err(e) => {
            write_all(&stream, format!("! {e}\n").as_bytes(), Instant::now() + FLUSH_GRACE).await;
            return;
        }
    };
    session.pace_history(pacing);
    tracing::debug!(%peer, "chat member joined");
    let cfg = chat.config.clone();
    let mut replies: Vec<Arc<Shared>> = Vec::new();
    session.replay(&mut replies).await;
    session.deliver(&mut replies);

    let mut codec = LineCodec::new(cfg.max_line);
    let mut inbuf = BytesMut::new();
    let mut partial_at: Option<Instant> = None;
    let stop = info.shutdown.triggered();
    tokio::pin!(stop);
    let end = loop {
        tokio::select! {
            biased;
            _ = &mut stop => {
                session.set_reason("server shutting down");
                replies.push(Shared::new(Event::notice("server shutting down"), None));
                session.deliver(&mut replies);
                break End::Drain;
            }
            r = &mut dropped => {
                // The shard let go of the member (queue over the bound); a
                // closed channel without a message cannot happen while the
                // member is attached, but ends the connection all the same.
                break match r {
                    Ok(cut) => End::TooSlow(cut),
                    Err(_) => End::Broken,
                };
            }
            r = stream.readable() => {
                if r.is_err() { break End::Broken; }
                match stream.try_read_append(&mut inbuf) {
                    Ok(0) => {
                        // The peer finished sending: its last partial line
                        // counts, then it gets what it is owed and we close.
                        if let Some(line) = codec.take_partial(&mut inbuf) {
                            on_line(&mut session, line, &mut replies).await;
                        }
                        session.deliver(&mut replies);
                        break End::Drain;
                    }
                    Ok(_) => {
                        let mut quit = false;
                        while let Ok(Some(line)) = codec.decode(&mut inbuf) {
                            if on_line(&mut session, line, &mut replies).await == Flow::Quit {
                                quit = true;
                                break;
                            }
                        }
                        session.deliver(&mut replies);
                        if quit {
                            break End::Drain;
                        }
                        partial_at = (!inbuf.is_empty()).then(|| Instant::now() + PARTIAL_IDLE);
                        crate::wire::shed(&mut inbuf);
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(_) => break End::Broken,
                }
            }
            _ = sleep_until(partial_at), if partial_at.is_some() => {
                partial_at = None;
                let mut quit = false;
                if let Some(line) = codec.take_partial(&mut inbuf) {
                    quit = on_line(&mut session, line, &mut replies).await == Flow::Quit;
                }
                session.deliver(&mut replies);
                if quit {
                    break End::Drain;
                }
            }
        }
    };
    match end {
        End::Drain => {
            let rest = session.detach().await;
            write_pending(&stream, &session, rest, Instant::now() + FLUSH_GRACE).await;
        }
        End::TooSlow(cut) => {
            session.set_reason("send queue exceeded");
            // Best effort: its kernel buffer is probably full too, so give
            // the line a moment, never more. If the cut fell inside a line,
            // end that line first so the error stands on its own.
            let mut last = BytesMut::new();
            if cut.mid_line {
                last.extend_from_slice(b"\n");
            }
            last.extend_from_slice(&session.local(Event::error("send queue exceeded")));
            write_all(&stream, &last, Instant::now() + LAST_WORD).await;
        }
        End::Broken => {}
    }
    tracing::debug!(%peer, nick = session.nick(), "chat member left");
}

/// Writes what a leaving member is still owed, rendering its backlog a
/// piece at a time, giving up at `deadline`.
async fn write_pending(stream: &Wire, session: &Session, rest: Pending, deadline: Instant) {
    write_all(stream, &rest.bytes, deadline).await;
    let mut buf = BytesMut::new();
    for ev in rest.events {
        session.render_into(&ev, &mut buf);
        if buf.len() >= 64 * 1024 {
            write_all(stream, &buf, deadline).await;
            buf.clear();
        }
        if Instant::now() >= deadline {
            return;
        }
    }
    write_all(stream, &buf, deadline).await;
}

/// Writes `buf` through a shared stream, giving up at `deadline`.
pub(crate) async fn write_all(stream: &Wire, buf: &[u8], deadline: Instant) {
    let mut buf = buf;
    let _ = tokio::time::timeout_at(deadline, async {
        while !buf.is_empty() {
            if stream.writable().await.is_err() {
                return;
            }
            match stream.try_write(buf) {
                Ok(n) => buf.advance(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(_) => return,
            }
        }
    })
    .await;
}

async fn on_line(session: &mut Session, line: Line, replies: &mut Vec<Arc<Shared>>) -> Flow {
    match line {
        Line::Text(bytes) => session.handle(&bytes, replies).await,
        Line::TooLong => {
            session.too_long(replies);
            Flow::Continue
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

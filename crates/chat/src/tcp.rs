//! TCP members (nc, telnet, scripts, the terminal client): bounded lines,
//! the idle-partial-line rule, and a byte-bounded send queue.
//!
//! One task per connection does everything with readiness calls
//! (`readable`/`try_read`, `writable`/`try_write`), so reading, receiving
//! room events and writing never wait on each other. Events are appended to
//! one buffer and written with one syscall however many are pending
//! (batching); when the buffer holds more than `--send-queue` bytes the
//! member is too slow: it gets `! send queue exceeded` and is disconnected,
//! and nobody else notices.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use sockit_net::codec::{Line, LineCodec};
use sockit_net::{ConnInfo, Peer};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::codec::Decoder;

use crate::event::{Event, Shared};
use crate::server::Chat;
use crate::session::{Flow, Session};

/// A partial line left idle this long counts as a line.
pub const PARTIAL_IDLE: Duration = Duration::from_millis(100);
/// How long a leaving member's last lines may take to drain.
const FLUSH_GRACE: Duration = Duration::from_secs(2);
/// How long a member dropped for slowness gets to take its last line.
const LAST_WORD: Duration = Duration::from_millis(100);
/// Room events taken per wake-up before writing.
const DRAIN: usize = 4096;

/// Serves one TCP member until it leaves, is dropped, or the server stops.
pub async fn serve_connection(chat: Chat, mut stream: TcpStream, info: ConnInfo) {
    let Peer::Ip(peer) = info.peer else { return };
    if chat.config.socket_buffer > 0 {
        // Bound what the kernel holds for a member that stops reading, so
        // the send queue (not a 4 MB autotuned buffer) decides when it goes.
        let _ = socket2::SockRef::from(&stream).set_send_buffer_size(chat.config.socket_buffer);
    }
    let (direct_tx, mut direct) = mpsc::unbounded_channel();
    let mut session = match Session::start(&chat, peer, direct_tx).await {
        Ok(s) => s,
        Err(e) => {
            let _ = tokio::time::timeout(FLUSH_GRACE, stream.write_all(format!("! {e}\n").as_bytes())).await;
            return;
        }
    };
    tracing::debug!(%peer, "chat member joined");
    let cfg = chat.config.clone();
    let mut out = BytesMut::with_capacity(4096);
    let mut replies: Vec<Arc<Shared>> = Vec::new();
    session.replay(&mut replies).await;
    flush_replies(&session, &mut replies, &mut out);

    let mut codec = LineCodec::new(cfg.max_line);
    let mut inbuf = BytesMut::new();
    let mut partial_at: Option<Instant> = None;
    let mut leave_by: Option<Instant> = None;
    // After writing room traffic, the ring is left alone for the batch
    // window: while this task is not waiting on it, sends do not wake it, so
    // at 5,000 msg/s a member wakes ~200 times a second (not 5,000) and each
    // write carries many messages. A quiet room still delivers at once.
    // One timer and one shutdown waiter per connection, re-armed rather than
    // re-created each time round the loop (each creation takes a lock shared
    // by every member).
    let mut room_paused = false;
    let pause = tokio::time::sleep(Duration::ZERO);
    tokio::pin!(pause);
    let stop = info.shutdown.triggered();
    tokio::pin!(stop);
    let window = cfg.batch_window;
    let mut last_room_write = Instant::now() - window;
    loop {
        if out.len() > cfg.send_queue {
            tracing::warn!(%peer, queued = out.len(), "chat member too slow: send queue exceeded");
            session.set_reason("send queue exceeded");
            // Best effort: its kernel buffer is probably full too, so give the
            // line a moment, never more.
            let line = session.local(Event::error("send queue exceeded"));
            let _ = tokio::time::timeout(LAST_WORD, stream.write_all(&line)).await;
            break;
        }
        if leave_by.is_some() && out.is_empty() {
            break;
        }
        tokio::select! {
            biased;
            _ = &mut stop => {
                session.set_reason("server shutting down");
                out.extend_from_slice(&session.local(Event::notice("server shutting down")));
                let _ = tokio::time::timeout(FLUSH_GRACE, stream.write_all(&out)).await;
                break;
            }
            _ = sleep_until(leave_by), if leave_by.is_some() => break,
            r = stream.writable(), if !out.is_empty() => {
                if r.is_err() { break; }
                match stream.try_write(&out) {
                    Ok(n) => out.advance(n),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(_) => break,
                }
            }
            r = stream.readable(), if leave_by.is_none() => {
                if r.is_err() { break; }
                inbuf.reserve(4096);
                match stream.try_read_buf(&mut inbuf) {
                    Ok(0) => {
                        // The peer finished sending: its last partial line
                        // counts, then we drain what it is owed and close.
                        let last = codec.take_partial(&mut inbuf);
                        if let Some(line) = last {
                            on_line(&mut session, line, &mut replies).await;
                        }
                        leave_by = Some(Instant::now() + FLUSH_GRACE);
                    }
                    Ok(_) => {
                        let mut quit = false;
                        while let Ok(Some(line)) = codec.decode(&mut inbuf) {
                            if on_line(&mut session, line, &mut replies).await == Flow::Quit {
                                quit = true;
                                break;
                            }
                        }
                        if quit {
                            leave_by = Some(Instant::now() + FLUSH_GRACE);
                        }
                        partial_at = (!inbuf.is_empty()).then(|| Instant::now() + PARTIAL_IDLE);
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(_) => break,
                }
                flush_replies(&session, &mut replies, &mut out);
            }
            _ = sleep_until(partial_at), if partial_at.is_some() => {
                partial_at = None;
                if let Some(line) = codec.take_partial(&mut inbuf) {
                    if on_line(&mut session, line, &mut replies).await == Flow::Quit {
                        leave_by = Some(Instant::now() + FLUSH_GRACE);
                    }
                }
                flush_replies(&session, &mut replies, &mut out);
            }
            _ = &mut pause, if room_paused => room_paused = false,
            r = session.room.rx.recv(), if !room_paused => match r {
                Ok(ev) => {
                    session.render_into(&ev, &mut out);
                    // Take whatever else is queued: one write for all of it.
                    for _ in 0..DRAIN {
                        match session.room.rx.try_recv() {
                            Ok(ev) => session.render_into(&ev, &mut out),
                            Err(TryRecvError::Lagged(n)) => {
                                missed(&session, &mut out, n);
                                break;
                            }
                            Err(_) => break,
                        }
                        if out.len() > cfg.send_queue { break; }
                    }
                    // Hand it to the kernel now: only what it refuses counts
                    // against the member's queue.
                    match stream.try_write(&out) {
                        Ok(n) => out.advance(n),
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                        Err(_) => break,
                    }
                    // Pause only when traffic is frequent: a quiet room
                    // (one message now and then) costs one wake per message.
                    let now = Instant::now();
                    if now.duration_since(last_room_write) < window {
                        pause.as_mut().reset(now + window);
                        room_paused = true;
                    }
                    last_room_write = now;
                }
                Err(RecvError::Lagged(n)) => missed(&session, &mut out, n),
                Err(RecvError::Closed) => break,
            },
            Some(ev) = direct.recv() => session.render_into(&ev, &mut out),
        }
    }
    tracing::debug!(%peer, nick = session.nick(), "chat member left");
}

/// This task was not scheduled for so long that the room's ring moved on
/// without it: the server's fault (it is overloaded), not the member's,
/// since a member that reads slowly fills its send queue first. Say so and
/// carry on rather than drop the member.
fn missed(session: &Session, out: &mut BytesMut, n: u64) {
    tracing::warn!(nick = session.nick(), missed = n, "chat server overloaded: a member fell a whole ring behind");
    out.extend_from_slice(&session.local(Event::error(format!("you missed {n} messages (server overloaded)"))));
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

fn flush_replies(session: &Session, replies: &mut Vec<Arc<Shared>>, out: &mut BytesMut) {
    for ev in replies.drain(..) {
        session.render_into(&ev, out);
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

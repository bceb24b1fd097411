//! Browser members: the web listener serves the chat page at `/` and
//! WebSocket members at `/ws` ([`http`] answers the request head).
//!
//! A WebSocket member is a JSON-mode member whose lines are text messages:
//! each text message is one client line (`{"text": "..."}`), handled by the
//! same [`Session`] as a TCP member in `/json` mode, and each event goes out
//! as one text message holding the same JSON object (without the newline).
//! Same bounds as TCP: `--max-line` per message (a longer one is refused
//! with an error event and the member stays; one beyond the hard cap of
//! [`hard_cap`] closes the connection with 1009), flood control, member
//! limits, and a byte-bounded send queue: a member whose queue passes
//! `--send-queue` gets `send queue exceeded` and is dropped.
//!
//! Reading and writing are two tasks so a browser that stops reading never
//! stalls the member's input or the room: the member task renders events
//! into an unbounded channel whose bytes are counted, and the writer task
//! drains it in batches (one flush for everything pending).

pub mod http;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::stream::SplitSink;
use futures::{SinkExt, StreamExt};
use sockit_net::{ConnInfo, Peer};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::error::{CapacityError, Error as WsError};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use tokio_tungstenite::WebSocketStream;

use crate::event::{Event, Shared};
use crate::fanout::Sink;
use crate::server::Chat;
use crate::session::{Flow, Session};

/// How long a leaving member's last messages may take to drain.
const FLUSH_GRACE: Duration = Duration::from_secs(2);
/// How long a member dropped for slowness gets to take its last message.
const LAST_WORD: Duration = Duration::from_millis(100);
/// Room events taken per wake-up.
const DRAIN: usize = 4096;

/// The largest WebSocket message read at all: four times `max_line`, at
/// least 64 KiB. Messages between `max_line` and this get an error event
/// and the member stays; beyond it tungstenite stops reading and the
/// connection is closed (it would otherwise buffer without bound).
pub fn hard_cap(max_line: usize) -> usize {
    max_line.saturating_mul(4).max(64 * 1024)
}

/// Serves one connection of the web listener: the page, or a member.
pub async fn serve_connection(chat: Chat, mut stream: TcpStream, info: ConnInfo) {
    let Peer::Ip(peer) = info.peer else { return };
    let Some(leftover) = http::accept(&mut stream, &info.shutdown).await else { return };
    if chat.config.socket_buffer > 0 {
        // As for TCP members: the send queue, not the kernel, decides.
        let _ = socket2::SockRef::from(&stream).set_send_buffer_size(chat.config.socket_buffer);
    }
    let cap = hard_cap(chat.config.max_line);
    let config = WebSocketConfig::default().max_message_size(Some(cap)).max_frame_size(Some(cap));
    let ws = WebSocketStream::from_partially_read(stream, leftover, Role::Server, Some(config)).await;
    let (sink, mut frames) = ws.split();
    let queued = Arc::new(AtomicUsize::new(0));
    let (out_tx, out_rx) = mpsc::unbounded_channel();
    let writer = tokio::spawn(write_loop(sink, out_rx, queued.clone()));
    let out = Outbox { tx: out_tx, queued };

    // Room events and private messages, forwarded by the writer shard.
    let (events_tx, mut events) = mpsc::unbounded_channel();
    let mut session = match Session::start(&chat, peer, Sink::Forward(events_tx)).await {
        Ok(s) => s,
        Err(e) => {
            out.json(Event::error(e).to_json_line());
            out.close(CloseCode::Policy, "refused");
            finish(out, writer, FLUSH_GRACE).await;
            return;
        }
    };
    session.json_only();
    tracing::debug!(%peer, "chat web member joined");
    let cfg = chat.config.clone();
    let mut replies: Vec<Arc<Shared>> = Vec::new();
    session.replay(&mut replies).await;
    out.replies(&session, &mut replies);
    let stop = info.shutdown.triggered();
    tokio::pin!(stop);
    let mut grace = FLUSH_GRACE;
    loop {
        if out.queued() > cfg.send_queue {
            tracing::warn!(%peer, queued = out.queued(), "chat web member too slow: send queue exceeded");
            session.set_reason("send queue exceeded");
            out.json(session.local(Event::error("send queue exceeded")).to_vec());
            out.close(CloseCode::Policy, "send queue exceeded");
            grace = LAST_WORD;
            break;
        }
        tokio::select! {
            biased;
            _ = &mut stop => {
                session.set_reason("server shutting down");
                out.json(session.local(Event::notice("server shutting down")).to_vec());
                out.close(CloseCode::Away, "server shutting down");
                break;
            }
            frame = frames.next() => match frame {
                Some(Ok(Message::Text(t))) => {
                    let flow = if t.len() > cfg.max_line {
                        session.too_long(&mut replies);
                        Flow::Continue
                    } else {
                        session.handle(t.as_bytes(), &mut replies).await
                    };
                    out.replies(&session, &mut replies);
                    if flow == Flow::Quit {
                        out.close(CloseCode::Normal, "bye");
                        break;
                    }
                }
                Some(Ok(Message::Binary(_))) => {
                    session.error("binary messages are not read: send one JSON object per text message", &mut replies);
                    out.replies(&session, &mut replies);
                }
                // tungstenite answers Ping and Close itself; after a Close
                // the next read flushes the reply and ends the stream.
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Close(_) | Message::Frame(_))) => {}
                Some(Err(WsError::Capacity(CapacityError::MessageTooLong { size, .. }))) => {
                    session.set_reason("message too large");
                    session.error(format!("message of {size} bytes is beyond {cap}: closing"), &mut replies);
                    out.replies(&session, &mut replies);
                    out.close(CloseCode::Size, "message too large");
                    break;
                }
                Some(Err(e)) => {
                    tracing::debug!(%peer, error = %e, "chat web member read failed");
                    break;
                }
                None => break,
            },
            ev = events.recv() => match ev {
                Some(ev) => {
                    out.event(&session, &ev);
                    for _ in 0..DRAIN {
                        let Ok(ev) = events.try_recv() else { break };
                        out.event(&session, &ev);
                        if out.queued() > cfg.send_queue { break; }
                    }
                }
                None => break,
            },
        }
    }
    tracing::debug!(%peer, nick = session.nick(), "chat web member left");
    drop(session);
    finish(out, writer, grace).await;
}

/// The member task's side of the writer: messages with their bytes counted.
struct Outbox {
    tx: mpsc::UnboundedSender<Message>,
    queued: Arc<AtomicUsize>,
}

impl Outbox {
    fn queued(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }

    fn push(&self, m: Message) {
        self.queued.fetch_add(m.len(), Ordering::Relaxed);
        let _ = self.tx.send(m);
    }

    /// One rendered JSON line (newline dropped) as one text message.
    fn json(&self, mut line: Vec<u8>) {
        if line.last() == Some(&b'\n') {
            line.pop();
        }
        // Rendered from `String`s: always UTF-8.
        if let Ok(text) = Utf8Bytes::try_from(line) {
            self.push(Message::Text(text));
        }
    }

    /// `ev` as this member sees it (nothing if not for it).
    fn event(&self, session: &Session, ev: &Shared) {
        if let Some(line) = session.render(ev) {
            let body = line.slice(..line.len().saturating_sub(usize::from(line.ends_with(b"\n"))));
            if let Ok(text) = Utf8Bytes::try_from(body) {
                self.push(Message::Text(text));
            }
        }
    }

    fn replies(&self, session: &Session, replies: &mut Vec<Arc<Shared>>) {
        for ev in replies.drain(..) {
            self.event(session, &ev);
        }
    }

    fn close(&self, code: CloseCode, reason: &'static str) {
        self.push(Message::Close(Some(CloseFrame { code, reason: Utf8Bytes::from_static(reason) })));
    }
}

/// Lets the writer drain what is queued for at most `grace`, then stops it.
async fn finish(out: Outbox, writer: tokio::task::JoinHandle<()>, grace: Duration) {
    drop(out);
    let abort = writer.abort_handle();
    if tokio::time::timeout(grace, writer).await.is_err() {
        abort.abort();
    }
}

/// Writes queued messages, everything pending per flush, until the member
/// task drops its [`Outbox`] or the connection fails.
async fn write_loop(
    mut sink: SplitSink<WebSocketStream<TcpStream>, Message>,
    mut rx: mpsc::UnboundedReceiver<Message>,
    queued: Arc<AtomicUsize>,
) {
    while let Some(m) = rx.recv().await {
        let mut bytes = m.len();
        let mut closing = matches!(m, Message::Close(_));
        if sink.feed(m).await.is_err() {
            return;
        }
        for _ in 0..DRAIN {
            if closing {
                break;
            }
            let Ok(m) = rx.try_recv() else { break };
            bytes += m.len();
            closing = matches!(m, Message::Close(_));
            if sink.feed(m).await.is_err() {
                return;
            }
        }
        if sink.flush().await.is_err() {
            return;
        }
        queued.fetch_sub(bytes, Ordering::Relaxed);
        if closing {
            return;
        }
    }
    let _ = sink.close().await;
}

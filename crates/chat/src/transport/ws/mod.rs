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
//! limits, and the send queue of [`crate::fanout`]: at most `--send-queue`
//! bytes handed to the writer, the rest held by reference in a backlog
//! (bounded by `--send-backlog`), history paced; a member is cut with
//! `send queue exceeded` (Close 1008) only when no byte of it reached the
//! kernel for `--send-timeout` or it fell a whole backlog behind. A frame
//! that breaks the protocol closes with 1002 (invalid UTF-8: 1007).
//!
//! Reading and writing are two tasks so a browser that stops reading never
//! stalls the member's input or the room: the member task renders events
//! into a channel whose bytes are counted (the send queue), and the writer
//! task writes them through a stream that counts what the kernel took, so
//! the member task can tell a slow reader from one that stopped.
//!
//! Memory per idle member is kept small (item: 139 KiB before): tungstenite
//! gets a 4 KiB read buffer (it still grows to hold one whole message, up
//! to the hard cap, while one is arriving) and writes through a 4 KiB
//! buffer instead of its 128 KiB defaults.

pub mod http;
mod meter;

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::stream::SplitSink;
use futures::{SinkExt, StreamExt};
use sockit_net::tls::ServerTls;
use sockit_net::{ConnInfo, Peer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, Notify};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::error::{CapacityError, Error as WsError};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use tokio_tungstenite::WebSocketStream;

use crate::event::{Event, Format, Kind, Shared};
use crate::fanout::{Backlog, Charge, Pacing, SendBounds, Sink};
use crate::service::Chat;
use crate::session::{Flow, Session};
use meter::Metered;

/// How long a leaving member's last messages may take to drain.
const FLUSH_GRACE: Duration = Duration::from_secs(2);
/// How long a member dropped for slowness gets to take its last message.
const LAST_WORD: Duration = Duration::from_millis(100);
/// Room events taken per wake-up.
const DRAIN: usize = 4096;
/// tungstenite's read buffer per member (its default is 128 KiB).
const READ_BUFFER: usize = 4 * 1024;
/// tungstenite writes once this much is buffered (or on flush; its
/// default is 128 KiB).
const WRITE_BUFFER: usize = 4 * 1024;
/// How often a member that is behind checks whether its socket moved.
const STALL_CHECK: Duration = Duration::from_millis(250);

type Socket<S> = WebSocketStream<Metered<S>>;

/// The largest WebSocket message read at all: four times `max_line`, at
/// least 64 KiB. Messages between `max_line` and this get an error event
/// and the member stays; beyond it tungstenite stops reading and the
/// connection is closed (it would otherwise buffer without bound).
pub fn hard_cap(max_line: usize) -> usize {
    max_line.saturating_mul(4).max(64 * 1024)
}

/// Serves one connection of the web listener: the page, or a member.
pub async fn serve_connection(chat: Chat, stream: TcpStream, info: ConnInfo) {
    // As for TCP members: the send queue, not the kernel, decides.
    crate::transport::tcp::bound_send_buffer(&chat, &stream);
    serve_stream(chat, stream, info).await;
}

/// Serves one connection of the web listener over https: the TLS handshake
/// (bounded by `--tls-handshake-timeout`, inside the connection's slot, so
/// unfinished handshakes count against the member limits), then as
/// [`serve_connection`]. The page, loaded over https, opens `wss://`.
pub async fn serve_tls_connection(chat: Chat, stream: TcpStream, info: ConnInfo, tls: ServerTls) {
    crate::transport::tcp::bound_send_buffer(&chat, &stream);
    match tls.accept_or_stop(stream, &info.shutdown).await {
        Ok(stream) => serve_stream(chat, stream, info).await,
        Err(e) => tracing::debug!(peer = %info.peer, error = %e, "chat web TLS handshake failed"),
    }
}

/// Serves the page or a member on any byte stream (TCP or TLS).
async fn serve_stream<S>(chat: Chat, mut stream: S, info: ConnInfo)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let Peer::Ip(peer) = info.peer else { return };
    let hosts = http::Hosts::new(&chat.config.web_hosts);
    let Some(leftover) = http::accept(&mut stream, &info.shutdown, &hosts).await else { return };
    let cap = hard_cap(chat.config.max_line);
    // The writer awaits each frame, so tungstenite's write buffer never
    // holds more than WRITE_BUFFER and one message: no need to cap it.
    let config = WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        .max_message_size(Some(cap))
        .max_frame_size(Some(cap));
    let written = Arc::new(AtomicU64::new(0));
    let stream = Metered::new(stream, written.clone());
    let ws = WebSocketStream::from_partially_read(stream, leftover, Role::Server, Some(config)).await;
    let (sink, mut frames) = ws.split();
    let queued = Arc::new(AtomicUsize::new(0));
    let moved = Arc::new(Notify::new());
    let (out_tx, out_rx) = mpsc::unbounded_channel();
    let writer = tokio::spawn(write_loop(sink, out_rx, queued.clone(), moved.clone()));
    let bounds = chat.config.send_bounds();
    let pacing = Pacing::default();
    let mut out = Outbox::new(out_tx, queued, bounds, pacing.clone());

    // Room events and private messages, forwarded by the writer shard.
    let (events_tx, mut events) = mpsc::unbounded_channel();
    let mut session = match Session::start(&chat, peer, Sink::Forward(events_tx), "ws").await {
        Ok(s) => s,
        Err(e) => {
            out.json(Event::error(e).to_json_line());
            out.close(CloseCode::Policy, "refused");
            finish(out, writer, FLUSH_GRACE).await;
            return;
        }
    };
    session.json_only();
    session.pace_history(pacing);
    tracing::debug!(%peer, "chat web member joined");
    let cfg = chat.config.clone();
    let mut replies: Vec<Arc<Shared>> = Vec::new();
    session.replay(&mut replies).await;
    out.replies(&session, &mut replies);
    let stop = info.shutdown.triggered();
    tokio::pin!(stop);
    let mut grace = FLUSH_GRACE;
    let mut progress = Progress::new(written);
    loop {
        out.refill(&session);
        if out.over || (!out.behind.is_empty() && progress.stalled_for(out.queued()) >= bounds.timeout) {
            tracing::warn!(
                %peer,
                queued = out.queued(),
                behind = out.behind.len(),
                fell_behind = out.over,
                "chat web member too slow: send queue exceeded"
            );
            session.set_reason("send queue exceeded");
            out.json(session.local(Event::error("send queue exceeded")).to_vec());
            out.close(CloseCode::Policy, "send queue exceeded");
            grace = LAST_WORD;
            break;
        }
        let behind = !out.behind.is_empty();
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
                Some(Err(e @ (WsError::Protocol(_) | WsError::Utf8(_)))) => {
                    // RFC 6455 7.4.1: 1002 for a protocol error, 1007 for
                    // text that is not UTF-8.
                    tracing::debug!(%peer, error = %e, "chat web member broke the protocol");
                    session.set_reason("protocol error");
                    let (code, reason) = match e {
                        WsError::Utf8(_) => (CloseCode::Invalid, "invalid UTF-8"),
                        _ => (CloseCode::Protocol, "protocol error"),
                    };
                    out.close(code, reason);
                    grace = LAST_WORD;
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
                    out.admit(&session, ev, None);
                    for _ in 0..DRAIN {
                        let Ok(ev) = events.try_recv() else { break };
                        out.admit(&session, ev, None);
                    }
                }
                None => break,
            },
            _ = moved.notified(), if behind => {}
            _ = tokio::time::sleep(STALL_CHECK), if behind => {}
        }
    }
    tracing::debug!(%peer, nick = session.nick(), "chat web member left");
    if grace == FLUSH_GRACE {
        // Leaving of its own accord: what it was owed goes first, then the
        // close frame already queued (the writer sends them in order).
        out.flush_backlog(&session);
    }
    drop(session);
    finish(out, writer, grace).await;
}

/// Whether bytes handed to the writer reach the kernel.
struct Progress {
    written: Arc<AtomicU64>,
    last: u64,
    since: Option<Instant>,
}

impl Progress {
    fn new(written: Arc<AtomicU64>) -> Self {
        Progress { written, last: 0, since: None }
    }

    /// How long bytes have been waiting with none taken by the kernel.
    fn stalled_for(&mut self, queued: usize) -> Duration {
        let now = Instant::now();
        let w = self.written.load(Ordering::Relaxed);
        if w != self.last || queued == 0 {
            self.last = w;
            self.since = None;
            return Duration::ZERO;
        }
        now.saturating_duration_since(*self.since.get_or_insert(now))
    }
}

/// The member task's side of the writer: messages with their bytes
/// counted (the send queue), and the backlog behind them.
struct Outbox {
    tx: mpsc::UnboundedSender<Message>,
    queued: Arc<AtomicUsize>,
    bounds: SendBounds,
    pacing: Pacing,
    behind: Backlog,
    /// A backlog bound was passed.
    over: bool,
}

impl Outbox {
    fn new(tx: mpsc::UnboundedSender<Message>, queued: Arc<AtomicUsize>, bounds: SendBounds, pacing: Pacing) -> Self {
        Outbox { tx, queued, bounds, pacing, behind: Backlog::default(), over: false }
    }

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

    /// Queues `ev` for this member: to the writer if the queue has room
    /// and nothing is waiting before it, else into the backlog. `charge`
    /// `None` classifies a forwarded event (room traffic or private).
    fn admit(&mut self, session: &Session, ev: Arc<Shared>, charge: Option<Charge>) {
        if self.over || !ev.is_for(session.id()) {
            return;
        }
        let charge = charge.unwrap_or_else(|| match ev.event.kind {
            Kind::Private => Charge::Own,
            _ if ev.event.history => Charge::Paced,
            _ => Charge::Room,
        });
        let len = ev.line(Format::Json).len();
        let queued = self.queued();
        if self.behind.is_empty() && (queued == 0 || queued + len <= self.bounds.queue) {
            self.send(session, &ev, charge);
        } else if !self.behind.hold(ev, charge, len, &self.bounds) {
            self.over = true;
        }
    }

    fn send(&self, session: &Session, ev: &Shared, charge: Charge) {
        if charge == Charge::Paced {
            self.pacing.sent();
        }
        if let Some(line) = session.render(ev) {
            let body = line.slice(..line.len().saturating_sub(usize::from(line.ends_with(b"\n"))));
            if let Ok(text) = Utf8Bytes::try_from(body) {
                self.push(Message::Text(text));
            }
        }
    }

    /// Moves backlog events to the writer once the queue is below half
    /// the bound.
    fn refill(&mut self, session: &Session) {
        if self.over || self.queued() > self.bounds.queue / 2 {
            return;
        }
        while let Some(ev) = self.behind.front() {
            let len = ev.line(Format::Json).len();
            let queued = self.queued();
            if queued > 0 && queued + len > self.bounds.queue {
                break;
            }
            let Some((ev, charge)) = self.behind.pop() else { break };
            self.send(session, &ev, charge);
        }
    }

    /// Hands the whole backlog to the writer (a member leaving normally:
    /// the writer's grace period bounds how long it may take).
    fn flush_backlog(&mut self, session: &Session) {
        while let Some((ev, charge)) = self.behind.pop() {
            self.send(session, &ev, charge);
        }
    }

    /// This member's replies, in order: its own, history paced.
    fn replies(&mut self, session: &Session, replies: &mut Vec<Arc<Shared>>) {
        for ev in replies.drain(..) {
            let charge = Charge::of_direct(&ev);
            self.admit(session, ev, Some(charge));
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

/// Writes queued messages, one flush for everything pending, until the
/// member task drops its [`Outbox`] or the connection fails. Each message
/// leaves the send queue once tungstenite has taken it (its buffer holds
/// at most [`WRITE_BUFFER`] and one message), and the member task is told.
async fn write_loop<S: AsyncRead + AsyncWrite + Unpin>(
    mut sink: SplitSink<Socket<S>, Message>,
    mut rx: mpsc::UnboundedReceiver<Message>,
    queued: Arc<AtomicUsize>,
    moved: Arc<Notify>,
) {
    while let Some(mut m) = rx.recv().await {
        loop {
            let bytes = m.len();
            let closing = matches!(m, Message::Close(_));
            if sink.feed(m).await.is_err() {
                return;
            }
            queued.fetch_sub(bytes, Ordering::Relaxed);
            moved.notify_one();
            if closing {
                let _ = sink.flush().await;
                return;
            }
            match rx.try_recv() {
                Ok(next) => m = next,
                Err(_) => break,
            }
        }
        if sink.flush().await.is_err() {
            return;
        }
    }
    let _ = sink.close().await;
}

//! One member's send queue and backlog, and the bounds they keep (the
//! design is in [`super`]'s docs): the TCP member record a writer shard
//! owns, and the backlog the WebSocket member task uses too.

use std::collections::VecDeque;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::event::{Shared, Style};
use crate::wire::Wire;

/// Each event in a backlog counts as at least this many bytes, so a backlog
/// of tiny lines cannot hold more than `--send-backlog / 512` references.
pub const BACKLOG_MIN_CHARGE: usize = 512;

/// How much one member's output may hold, and for how long it may not move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendBounds {
    /// Bytes copied for the member (`--send-queue`); also the bound on the
    /// events only it gets (private messages, replies) waiting behind them.
    pub queue: usize,
    /// Bytes of shared room events the member may fall behind
    /// (`--send-backlog`), held by reference.
    pub backlog: usize,
    /// A member with a backlog whose socket accepts no byte for this long
    /// has stopped reading and is cut (`--send-timeout`).
    pub timeout: Duration,
}

impl SendBounds {
    /// The defaults: 256 KiB queue, 8 MiB backlog, 3 s timeout.
    pub const DEFAULT: SendBounds =
        SendBounds { queue: 256 * 1024, backlog: 8 * 1024 * 1024, timeout: Duration::from_secs(3) };
}

/// History messages (`/history`, the replay on join) handed to a member's
/// output and not yet sent on: the member's session adds what it asks for
/// and refuses more while [`crate::command::MAX_HISTORY`] are outstanding; the
/// writer takes away what it has copied out. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Pacing(Arc<AtomicUsize>);

impl Pacing {
    /// History messages still waiting.
    pub fn outstanding(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }

    /// Counts `n` more waiting.
    pub fn add(&self, n: usize) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    /// One has gone out (never below zero).
    pub fn sent(&self) {
        let _ = self.0.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
    }
}

/// Why the shard let go of a member, for its last line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cut {
    /// The last byte the kernel took was not the end of a line: the
    /// member's farewell must start with a newline.
    pub mid_line: bool,
}

/// What a leaving member was still owed: bytes already rendered, then
/// events to render (in the member's style) and write in order.
#[derive(Debug, Default)]
pub struct Pending {
    /// Rendered bytes.
    pub bytes: BytesMut,
    /// Events after them.
    pub events: Vec<Arc<Shared>>,
}

/// How an event in a backlog is counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Charge {
    /// A room event, shared: counts against the backlog bound.
    Room,
    /// Only this member's (private message, reply): counts like a copy.
    Own,
    /// History the member asked for: paced, not counted here.
    Paced,
}

impl Charge {
    /// How an event reaching a member by itself (not by room fan-out)
    /// counts: history is paced, the rest is the member's own.
    pub(crate) fn of_direct(ev: &Shared) -> Charge {
        if ev.event.history {
            Charge::Paced
        } else {
            Charge::Own
        }
    }
}

/// The events a member that fell behind has not had copied yet, in order,
/// with what they count against ([`SendBounds`]). Shared by the TCP writer
/// shards and the WebSocket member task.
#[derive(Default, Debug)]
pub(crate) struct Backlog {
    events: VecDeque<(Arc<Shared>, Charge, usize)>,
    room_bytes: usize,
    own_bytes: usize,
}

impl Backlog {
    /// Holds `ev`, `len` bytes as rendered; returns false when a bound is
    /// passed (the member fell too far behind and must be cut).
    pub(crate) fn hold(&mut self, ev: Arc<Shared>, charge: Charge, len: usize, b: &SendBounds) -> bool {
        let n = len.max(BACKLOG_MIN_CHARGE);
        match charge {
            Charge::Room => self.room_bytes += n,
            Charge::Own => self.own_bytes += n,
            Charge::Paced => {}
        }
        self.events.push_back((ev, charge, n));
        self.room_bytes <= b.backlog && self.own_bytes <= b.queue
    }

    /// The next event to send.
    pub(crate) fn front(&self) -> Option<&Arc<Shared>> {
        self.events.front().map(|(ev, _, _)| ev)
    }

    /// Takes the next event out.
    pub(crate) fn pop(&mut self) -> Option<(Arc<Shared>, Charge)> {
        let (ev, charge, n) = self.events.pop_front()?;
        match charge {
            Charge::Room => self.room_bytes -= n,
            Charge::Own => self.own_bytes -= n,
            Charge::Paced => {}
        }
        Some((ev, charge))
    }

    /// Events held.
    pub(crate) fn len(&self) -> usize {
        self.events.len()
    }

    /// Whether nothing is held.
    pub(crate) fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// The events, in order (for a leaving member's last write).
    pub(crate) fn into_events(self) -> Vec<Arc<Shared>> {
        self.events.into_iter().map(|(ev, _, _)| ev).collect()
    }
}

/// A TCP member's output: its socket, the bytes it has not taken yet and,
/// when it fell behind, the events after them.
pub(super) struct Conn {
    stream: Arc<Wire>,
    pub(super) dropped: Option<oneshot::Sender<Cut>>,
    pacing: Pacing,
    pub(super) out: BytesMut,
    /// Only allocated while the member is behind (keeps the fan-out loop's
    /// per-member record small).
    pub(super) behind: Option<Box<Backlog>>,
    /// Since when the kernel has accepted nothing while bytes were pending.
    stalled_since: Option<Instant>,
    /// The kernel's last byte was not a newline.
    pub(super) mid_line: bool,
    /// Listed in the shard's `dirty` list (has bytes to write).
    pub(super) dirty: bool,
    /// The socket failed: nothing more is written (its task sees the error).
    pub(super) broken: bool,
    /// A backlog bound was passed: cut at the next write round.
    pub(super) over: bool,
    /// Something was queued since the last [`Conn::trim_if_idle`].
    recent: bool,
}

impl Conn {
    /// A member's output on `stream`, empty.
    pub(super) fn new(stream: Arc<Wire>, dropped: oneshot::Sender<Cut>, pacing: Pacing) -> Self {
        Conn {
            stream,
            dropped: Some(dropped),
            pacing,
            out: BytesMut::new(),
            behind: None,
            stalled_since: None,
            mid_line: false,
            dirty: false,
            broken: false,
            over: false,
            recent: false,
        }
    }

    /// Gives back the queue's buffer when it is empty and nothing was
    /// queued since the last call: an idle member keeps no buffer (its
    /// welcome burst alone holds ~3 KiB), a busy one keeps its own between
    /// writes. The allocator reuses what comes back for other members; it
    /// does not always return it to the system, so RSS need not fall.
    pub(super) fn trim_if_idle(&mut self) {
        // Written out, a buffer's `capacity()` can be 0 while it still
        // holds its allocation: test emptiness, not capacity.
        if !self.recent && self.out.is_empty() {
            self.out = BytesMut::new();
        }
        self.recent = false;
    }

    /// Queues `ev` (rendered in `style`); returns true if the member was
    /// not listed as dirty yet.
    pub(super) fn push(&mut self, ev: &Arc<Shared>, charge: Charge, style: Style, b: &SendBounds) -> bool {
        if self.broken || self.over {
            return false;
        }
        if self.behind.is_none() {
            let len = style.line(ev).len();
            if !self.out.is_empty() && self.out.len() + len > b.queue {
                // Count the bound only after the kernel had its chance.
                self.write();
            }
            if self.broken {
                return false;
            }
            if self.out.is_empty() || self.out.len() + len <= b.queue {
                self.make_room(len, b);
                self.copy(ev, charge, style);
                return !self.dirty;
            }
        }
        let backlog = self.behind.get_or_insert_with(Box::default);
        if !backlog.hold(ev.clone(), charge, style.line(ev).len(), b) {
            self.over = true;
        }
        !self.dirty
    }

    /// Makes room for `len` more bytes without letting the buffer's
    /// capacity pass the bound: `BytesMut` (a `Vec` underneath) doubles
    /// when it grows, which would let a full queue pin twice `--send-queue`.
    /// First it tries to reuse the space already written out at the front.
    fn make_room(&mut self, len: usize, b: &SendBounds) {
        let need = self.out.len() + len;
        if need <= self.out.capacity() || self.out.try_reclaim(len) {
            return;
        }
        let cap = (self.out.capacity() * 2).max(need).min(b.queue.max(need));
        let mut bigger = BytesMut::with_capacity(cap);
        bigger.extend_from_slice(&self.out);
        self.out = bigger;
    }

    fn copy(&mut self, ev: &Shared, charge: Charge, style: Style) {
        self.recent = true;
        style.append(ev, &mut self.out);
        if matches!(charge, Charge::Paced) {
            self.pacing.sent();
        }
    }

    /// Moves backlog events into the queue once it is below half the bound.
    pub(super) fn refill(&mut self, style: Style, b: &SendBounds) {
        if self.out.len() > b.queue / 2 {
            return;
        }
        let Some(mut backlog) = self.behind.take() else { return };
        while let Some(ev) = backlog.front() {
            let len = style.line(ev).len();
            if !self.out.is_empty() && self.out.len() + len > b.queue {
                break;
            }
            let Some((ev, charge)) = backlog.pop() else { break };
            self.make_room(len, b);
            self.copy(&ev, charge, style);
        }
        if !backlog.is_empty() {
            self.behind = Some(backlog);
        }
    }

    /// One non-blocking write of the queue; returns whether bytes went.
    pub(super) fn write(&mut self) -> bool {
        if self.out.is_empty() || self.broken {
            return false;
        }
        match send_now(&self.stream, &self.out) {
            Ok(n) if n > 0 => {
                self.mid_line = self.out[n - 1] != b'\n';
                self.out.advance(n);
                self.stalled_since = None;
                true
            }
            Ok(_) => {
                self.stalled_since.get_or_insert_with(Instant::now);
                false
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.stalled_since.get_or_insert_with(Instant::now);
                false
            }
            Err(_) => {
                // The member's task sees the failure on its side too and
                // leaves; until then it gets nothing.
                self.broken = true;
                self.out = BytesMut::new();
                self.behind = None;
                false
            }
        }
    }

    /// Whether the member must be let go: it fell a whole backlog behind,
    /// or it is behind and its socket took nothing for the send timeout.
    pub(super) fn must_cut(&self, now: Instant, b: &SendBounds) -> bool {
        self.over
            || (self.behind.is_some()
                && self.stalled_since.is_some_and(|t| now.saturating_duration_since(t) >= b.timeout))
    }

    pub(super) fn pending(&self) -> bool {
        !self.out.is_empty() || self.behind.is_some()
    }
}

/// One non-blocking `send` straight on the socket. Not tokio's `try_write`:
/// that first checks the stream's readiness record, one more cache miss
/// per member, which in a 10,000-member fan-out cost ~6% of the server's
/// CPU. Nobody waits on the stream's write readiness while the shard owns
/// its output, so skipping the record loses nothing.
pub(super) fn send_now(stream: &Wire, bytes: &[u8]) -> io::Result<usize> {
    socket2::SockRef::from(stream).send_with_flags(bytes, libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Event;

    fn ev(text: &str) -> Arc<Shared> {
        Shared::new(Event::notice(text), None)
    }

    #[tokio::test]
    async fn an_idle_members_empty_buffer_is_given_back_a_busy_ones_is_kept() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let _client = tokio::net::TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
        let (server_side, _) = listener.accept().await.unwrap();
        let (tx, _rx) = oneshot::channel();
        let mut c = Conn::new(Arc::new(Wire::Tcp(server_side)), tx, Pacing::default());
        let b = SendBounds { queue: 4096, backlog: 8192, timeout: Duration::from_secs(1) };
        // `try_reclaim` succeeds only on a buffer that still holds memory.
        c.push(&ev("welcome"), Charge::Room, Style::default(), &b);
        assert!(c.write() && c.out.is_empty());
        c.trim_if_idle();
        assert!(c.out.try_reclaim(1), "it got something since the last trim: kept");
        c.trim_if_idle();
        assert!(!c.out.try_reclaim(1), "nothing since: given back");
        // Bytes still queued are never dropped.
        c.push(&ev("pending"), Charge::Room, Style::default(), &b);
        c.trim_if_idle();
        c.trim_if_idle();
        assert!(!c.out.is_empty());
    }

    #[test]
    fn backlog_keeps_order_and_its_bounds() {
        let b = SendBounds { queue: 4096, backlog: 8192, timeout: Duration::from_secs(1) };
        let mut log = Backlog::default();
        // Room events: 16 of them at the minimum charge fill 8 KiB exactly.
        for i in 0..16 {
            assert!(log.hold(ev(&format!("r{i}")), Charge::Room, 10, &b), "r{i}");
        }
        assert!(!log.hold(ev("r16"), Charge::Room, 10, &b), "one more room event passes the backlog");
        // History is never counted.
        let mut paced = Backlog::default();
        for i in 0..10_000 {
            assert!(paced.hold(ev(&format!("h{i}")), Charge::Paced, 8000, &b));
        }
        // Own events are bounded by the queue size.
        let mut own = Backlog::default();
        assert!(own.hold(ev("o0"), Charge::Own, 4000, &b));
        assert!(!own.hold(ev("o1"), Charge::Own, 4000, &b));
        // Taking events out gives their charge back, in order.
        let (first, charge) = log.pop().unwrap();
        assert_eq!((first.event.text.as_str(), charge), ("r0", Charge::Room));
        // (r16 was held, over the bound: the shard cuts such a member.)
        assert_eq!(log.len(), 16);
        assert!(log.pop().is_some());
        assert!(log.hold(ev("r17"), Charge::Room, 10, &b), "room again after two left");
        let rest: Vec<String> = log.into_events().iter().map(|e| e.event.text.clone()).collect();
        assert_eq!(rest.first().map(String::as_str), Some("r2"));
        assert_eq!(rest.last().map(String::as_str), Some("r17"));
    }

    #[test]
    fn pacing_never_goes_below_zero() {
        let p = Pacing::default();
        p.add(2);
        p.sent();
        p.sent();
        p.sent();
        assert_eq!(p.outstanding(), 0);
    }
}

//! One writer shard: its members by room, their send queues, and the
//! loop that gathers events for a window and writes each dirty member
//! once ([`super`] has the design).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::queue::{Charge, Conn};
use super::{Cut, ForwardTx, Msg, Pending, SendBounds, Sink};
use crate::event::{MemberId, Shared, Style};

/// Inbox messages taken per round before writing.
const DRAIN: usize = 1024;
/// How soon a shard retries members whose socket was full; doubled, up to
/// `RETRY_MAX`, while retries write nothing (a member that stopped reading
/// in a quiet room must not keep its shard polling every millisecond).
const RETRY: Duration = Duration::from_millis(1);
const RETRY_MAX: Duration = Duration::from_millis(64);
/// An empty buffer above this capacity is given back, so a burst does not
/// pin memory for the rest of the connection.
const KEEP_CAPACITY: usize = 16 * 1024;
/// How often a shard gives back the empty buffers of members that got
/// nothing since the last time.
const IDLE_TRIM: Duration = Duration::from_secs(10);
enum Out {
    Conn(Conn),
    Forward(ForwardTx),
}

struct Member {
    id: MemberId,
    /// Its format and encoding; `tagged` is the shard's: set while the
    /// member is in two rooms or more.
    style: Style,
    /// The rooms it is in, each with its index in that room's list (for
    /// O(1) removal). Only membership changes touch this, never delivery.
    rooms: Vec<(Arc<str>, usize)>,
    /// The last multi-room delivery that reached it (see `Shard::epoch`).
    seen: u64,
    out: Out,
}

impl Member {
    /// Queues `ev` for this member; returns true if it must be listed as
    /// having bytes to write.
    fn push(&mut self, ev: &Arc<Shared>, charge: Charge, b: &SendBounds) -> bool {
        if !ev.is_for_style(self.id, &self.style) {
            return false;
        }
        match &mut self.out {
            Out::Conn(c) => c.push(ev, charge, self.style, b),
            Out::Forward(tx) => {
                let _ = tx.send(ev.clone());
                false
            }
        }
    }
}

/// One writer shard: its members, by room, and the ones with bytes pending.
pub(super) struct Shard {
    bounds: SendBounds,
    window: Duration,
    slots: Vec<Option<Member>>,
    free: Vec<usize>,
    index: HashMap<MemberId, usize>,
    rooms: HashMap<Arc<str>, Vec<usize>>,
    dirty: Vec<usize>,
    /// Counts multi-room deliveries: a member already stamped with the
    /// current one is skipped, so it gets the event once without a set.
    epoch: u64,
}

impl Shard {
    pub(super) fn new(bounds: SendBounds, window: Duration) -> Self {
        Shard {
            bounds,
            window,
            slots: Vec::new(),
            free: Vec::new(),
            index: HashMap::new(),
            rooms: HashMap::new(),
            dirty: Vec::new(),
            epoch: 0,
        }
    }
    pub(super) async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Msg>) {
        let retry = tokio::time::sleep(Duration::ZERO);
        tokio::pin!(retry);
        let hold = tokio::time::sleep(Duration::ZERO);
        tokio::pin!(hold);
        let mut last_flush = Instant::now() - self.window;
        let mut backoff = RETRY;
        let mut next_trim = Instant::now() + IDLE_TRIM;
        loop {
            if Instant::now() >= next_trim {
                self.trim_idle();
                next_trim = Instant::now() + IDLE_TRIM;
            }
            let msg = if self.dirty.is_empty() {
                backoff = RETRY;
                tokio::select! {
                    m = rx.recv() => m,
                    _ = tokio::time::sleep_until(next_trim) => continue,
                }
            } else {
                // Some sockets were full: try them again soon, or sooner if
                // something new arrives.
                retry.as_mut().reset(Instant::now() + backoff);
                tokio::select! {
                    m = rx.recv() => m,
                    _ = &mut retry => {
                        let wrote = self.flush();
                        backoff = if wrote { RETRY } else { (backoff * 2).min(RETRY_MAX) };
                        continue;
                    }
                }
            };
            let Some(msg) = msg else { break };
            self.handle_contained(msg);
            self.drain(&mut rx);
            // Traffic is frequent: gather until a window has passed since
            // the last write, so each member gets one write per window.
            let due = last_flush + self.window;
            if Instant::now() < due && !self.dirty.is_empty() {
                hold.as_mut().reset(due);
                loop {
                    tokio::select! {
                        biased;
                        _ = &mut hold => break,
                        m = rx.recv() => match m {
                            Some(msg) => {
                                self.handle_contained(msg);
                                self.drain(&mut rx);
                            }
                            None => break,
                        },
                    }
                }
            }
            last_flush = Instant::now();
            self.flush();
        }
    }

    /// [`queue::Conn::trim_if_idle`] for every member.
    fn trim_idle(&mut self) {
        for m in self.slots.iter_mut().flatten() {
            if let Out::Conn(c) = &mut m.out {
                c.trim_if_idle();
            }
        }
    }

    /// Handles what is already queued (up to a bound, so writing is not
    /// put off forever by a busy inbox).
    fn drain(&mut self, rx: &mut mpsc::UnboundedReceiver<Msg>) {
        for _ in 0..DRAIN {
            match rx.try_recv() {
                Ok(msg) => self.handle_contained(msg),
                Err(_) => break,
            }
        }
    }

    /// [`Shard::handle`], with a panic (a rendering bug on some member's
    /// text) costing that one message, not the shard: a dead shard thread
    /// would silently stop every member placed on it.
    fn handle_contained(&mut self, msg: Msg) {
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.handle(msg))).is_err() {
            tracing::error!("chat writer shard: a message was dropped after a panic while handling it");
        }
    }

    fn handle(&mut self, msg: Msg) {
        match msg {
            Msg::Room { room, ev } => {
                let Some(list) = self.rooms.get(&room) else { return };
                for &slot in list {
                    if let Some(m) = self.slots[slot].as_mut() {
                        if m.push(&ev, Charge::Room, &self.bounds) {
                            mark(m, slot, &mut self.dirty);
                        }
                    }
                }
            }
            Msg::Direct { id, ev } => {
                let Some(&slot) = self.index.get(&id) else { return };
                if let Some(m) = self.slots[slot].as_mut() {
                    // History is the member's own request: paced, and
                    // bounded by its session (see `Pacing`).
                    if m.push(&ev, Charge::of_direct(&ev), &self.bounds) {
                        mark(m, slot, &mut self.dirty);
                    }
                }
            }
            Msg::Rooms { rooms, ev } => {
                self.epoch += 1;
                let epoch = self.epoch;
                for room in rooms.iter() {
                    let Some(list) = self.rooms.get(room) else { continue };
                    for &slot in list {
                        if let Some(m) = self.slots[slot].as_mut() {
                            if m.seen == epoch {
                                continue;
                            }
                            m.seen = epoch;
                            if m.push(&ev, Charge::Room, &self.bounds) {
                                mark(m, slot, &mut self.dirty);
                            }
                        }
                    }
                }
            }
            Msg::Attach { id, sink, style } => self.attach(id, sink, style),
            Msg::Join { id, room } => {
                let Some(&slot) = self.index.get(&id) else { return };
                self.enter_room(slot, room);
            }
            Msg::Part { id, room } => {
                let Some(&slot) = self.index.get(&id) else { return };
                self.leave_room(slot, &room);
            }
            Msg::Style { id, style } => {
                if let Some(m) = self.index.get(&id).and_then(|&s| self.slots[s].as_mut()) {
                    m.style = Style { tagged: m.style.tagged, ..style };
                }
            }
            Msg::Detach { id, reply } => {
                let pending = match self.remove(id) {
                    Some(Member { out: Out::Conn(c), .. }) if !c.broken => {
                        Pending { bytes: c.out, events: c.behind.map(|b| b.into_events()).unwrap_or_default() }
                    }
                    _ => Pending::default(),
                };
                if let Some(reply) = reply {
                    let _ = reply.send(pending);
                }
            }
        }
    }

    fn attach(&mut self, id: MemberId, sink: Sink, style: Style) {
        // A member attaches once; a second attach replaces the first.
        self.remove(id);
        let out = match sink {
            Sink::Tcp { stream, dropped, pacing } => Out::Conn(Conn::new(stream, dropped, pacing)),
            Sink::Forward(tx) => Out::Forward(tx),
        };
        let member = Member { id, style, rooms: Vec::new(), seen: 0, out };
        let slot = match self.free.pop() {
            Some(s) => {
                self.slots[s] = Some(member);
                s
            }
            None => {
                self.slots.push(Some(member));
                self.slots.len() - 1
            }
        };
        self.index.insert(id, slot);
    }

    fn enter_room(&mut self, slot: usize, room: Arc<str>) {
        let Some(m) = self.slots[slot].as_mut() else { return };
        if m.rooms.iter().any(|(r, _)| *r == room) {
            return;
        }
        let list = self.rooms.entry(room.clone()).or_default();
        list.push(slot);
        m.rooms.push((room, list.len() - 1));
        m.style.tagged = m.rooms.len() > 1;
    }

    fn leave_room(&mut self, slot: usize, room: &str) {
        let Some(m) = self.slots[slot].as_mut() else { return };
        let Some(at) = m.rooms.iter().position(|(r, _)| **r == *room) else { return };
        let (room, pos) = m.rooms.swap_remove(at);
        m.style.tagged = m.rooms.len() > 1;
        let Some(list) = self.rooms.get_mut(&room) else { return };
        if list.get(pos) != Some(&slot) {
            return;
        }
        list.swap_remove(pos);
        if let Some(&moved) = list.get(pos) {
            if let Some(entry) = self.slots[moved].as_mut().and_then(|m| m.rooms.iter_mut().find(|(r, _)| *r == room)) {
                entry.1 = pos;
            }
        }
        if list.is_empty() {
            self.rooms.remove(&room);
        }
    }

    /// Takes member `id` out of the shard (its slot is reused later; a stale
    /// entry in `dirty` is skipped by `flush`).
    fn remove(&mut self, id: MemberId) -> Option<Member> {
        let slot = self.index.remove(&id)?;
        let rooms: Vec<Arc<str>> =
            self.slots[slot].as_ref().map(|m| m.rooms.iter().map(|(r, _)| r.clone()).collect()).unwrap_or_default();
        for room in rooms {
            self.leave_room(slot, &room);
        }
        self.free.push(slot);
        self.slots[slot].take()
    }

    /// Writes every member with bytes pending, once each, refilling the
    /// queues of members that are behind. Members the kernel does not take
    /// everything from stay dirty; a member that stopped reading (or fell a
    /// whole backlog behind) is dropped, and nobody else waits for it.
    /// Returns whether any bytes were written.
    fn flush(&mut self) -> bool {
        let mut wrote = false;
        let mut still = Vec::new();
        let mut too_slow = Vec::new();
        let b = self.bounds;
        let now = Instant::now();
        for slot in std::mem::take(&mut self.dirty) {
            let Some(Member { id, style, out: Out::Conn(c), .. }) = self.slots[slot].as_mut() else { continue };
            if !c.dirty {
                continue;
            }
            if !c.over {
                c.refill(*style, &b);
                wrote |= c.write();
                c.refill(*style, &b);
            }
            if c.broken || !c.pending() {
                c.dirty = false;
                if c.out.capacity() > KEEP_CAPACITY {
                    c.out = BytesMut::new();
                }
            } else if c.must_cut(now, &b) {
                too_slow.push(*id);
            } else {
                still.push(slot);
            }
        }
        self.dirty = still;
        for id in too_slow {
            if let Some(Member { out: Out::Conn(mut c), .. }) = self.remove(id) {
                let behind = c.behind.as_ref().map_or(0, |b| b.len());
                tracing::warn!(
                    member = id.0,
                    queued = c.out.len(),
                    behind,
                    fell_behind = c.over,
                    "chat member too slow: send queue exceeded"
                );
                if let Some(tell) = c.dropped.take() {
                    let _ = tell.send(Cut { mid_line: c.mid_line });
                }
            }
        }
        wrote
    }
}

fn mark(m: &mut Member, slot: usize, dirty: &mut Vec<usize>) {
    if let Out::Conn(c) = &mut m.out {
        c.dirty = true;
        dirty.push(slot);
    }
}

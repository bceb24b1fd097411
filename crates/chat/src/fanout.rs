//! Room fan-out by a few writer shards (one per core by default).
//!
//! Every member belongs to one shard for its whole connection, and may be
//! in several rooms of it ([`Fanout::join`], [`Fanout::part`]). A room event
//! goes once to each shard (a handful of channel sends, however big the
//! room); the shard appends the event's shared rendering to the output
//! buffer of each of its members in that room and then writes every buffer
//! that has bytes with one non-blocking `write` — no task wake-up, no lock
//! and no reference count per delivery. While a shard is writing, new events
//! queue in its inbox and go out together in the next round, so batching
//! grows with load by itself and a quiet room is delivered at once. Each
//! shard runs on its own thread, so a long fan-out never holds up the async
//! workers that read members' input.
//!
//! # Send queues: bounded, and a reader is never cut for a burst
//!
//! A TCP member's output has two parts, in order:
//!
//! - its **queue**: bytes copied from the renderings, at most `--send-queue`
//!   (256 KiB; one event bigger than that goes alone). When an append would
//!   pass the bound the shard first tries to write, so the bound counts only
//!   what the kernel has refused, never what simply has not been tried yet.
//! - its **backlog** (allocated only once a member falls behind): the events
//!   that did not fit, held as `Arc` references to the room's shared event,
//!   not copied. The queue is refilled from it whenever it drains below half
//!   the bound, so a member that keeps reading gets everything, in order.
//!   A member's backlog is bounded: room events by `--send-backlog` bytes
//!   (8 MiB, each event counted as at least [`BACKLOG_MIN_CHARGE`] bytes, so
//!   at most 16,384 references = 128 KiB of pointers), and events only this
//!   member gets (private messages, replies: not shared, so they count as
//!   copies) by `--send-queue` bytes. History (`/history`, the replay on
//!   join) is paced: it waits in the backlog uncounted and goes out a page
//!   (half a queue) at a time as the member reads; the session refuses a
//!   new history while [`crate::command::MAX_HISTORY`] messages are still
//!   outstanding, so at most twice that wait ([`Pacing`]).
//!
//! A member is cut (its task is told and says `! send queue exceeded`)
//! only when (a) it has a backlog and the kernel has accepted no byte of it
//! for `--send-timeout` (3 s): it truly stopped reading; or (b) it reads
//! but so much slower than its room sends that it fell a whole backlog
//! behind. The largest burst flood control lets one member send is
//! `--flood-burst` × `--max-line` (20 × 8 KiB = 160 KiB), so a backlog is
//! fifty such bursts arriving at once.
//!
//! Memory per TCP member is therefore at most `--send-queue` copied bytes +
//! `--send-queue` of its own events + 128 KiB of references (+ the kernel's
//! `--socket-buffer`); the room events the references keep alive are shared
//! by every member behind, so per room they are at most one backlog
//! (8 MiB) however many members lag.
//!
//! Cost per delivery on the fast path (a member not behind, the 10,000-member
//! benchmark's case) is a null-pointer test and two length comparisons (the
//! bound, the buffer's capacity) next to the copy that was already there,
//! all on the member record the loop already has in cache: the backlog is
//! behind a `Box` allocated only when the member falls behind, so that
//! record grows by five words (backlog pointer, stall time, history
//! counter) and two flags. A write is tried early only when a member's
//! queue is full, at most once per fill; a write round adds, per member
//! written, one refill check. Several rooms per member added one test of a
//! flag in the member's style ([`Style::line`]: a member in two rooms or
//! more gets the `[room] `-tagged text rendering, made once per event like
//! the others) and made the member record a few words larger (its room
//! list is a `Vec` touched only by joins and parts); no allocation or
//! hashing per delivery. Not measured here (benches need the machine to
//! themselves): `bench/chat.sh` should show no change.
//!
//! Members whose own task writes (UDP, WebSocket) get their events
//! forwarded to it instead; the WebSocket task keeps the same bounds itself.
//! A TLS line member is written like a TCP one: the shard writes the chat end
//! of its socket pair ([`crate::wire::Wire`]), and [`crate::transport::tls`] encrypts
//! what comes out of the other end.
//!
//! An event for several rooms at once ([`Fanout::publish_to_rooms`]: quit
//! and nick notices) reaches each member once without a set: the shard
//! stamps each member it delivers to with that event's number and skips
//! members already stamped.
//!
//! One inbox per shard carries membership changes, events and replies in
//! the order they were sent, so a member sees its replies and the room's
//! events in the order they happened, and sees every event sent to a room
//! after it joined.

mod queue;
mod shard;
use shard::Shard;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use crate::event::{MemberId, Shared, Style};
use crate::wire::Wire;
pub(crate) use queue::{Backlog, Charge};
pub use queue::{Cut, Pacing, Pending, SendBounds, BACKLOG_MIN_CHARGE};

/// Events for a member whose own task writes (UDP, WebSocket).
pub type ForwardTx = mpsc::UnboundedSender<Arc<Shared>>;

/// Where a member's events go.
#[derive(Debug)]
pub enum Sink {
    /// A TCP (or TLS, through its socket pair) member: the shard writes to
    /// its socket. `dropped` fires when
    /// the member stopped reading (the shard has let go of it).
    Tcp {
        /// The member's connection (its task reads from it).
        stream: Arc<Wire>,
        /// Told when the member is dropped for slowness.
        dropped: oneshot::Sender<Cut>,
        /// History messages outstanding (the shard counts them down).
        pacing: Pacing,
    },
    /// A member whose own task writes: events are forwarded to it.
    Forward(ForwardTx),
}

enum Msg {
    Attach { id: MemberId, sink: Sink, style: Style },
    Join { id: MemberId, room: Arc<str> },
    Part { id: MemberId, room: Arc<str> },
    Style { id: MemberId, style: Style },
    Room { room: Arc<str>, ev: Arc<Shared> },
    Rooms { rooms: Arc<[Arc<str>]>, ev: Arc<Shared> },
    Direct { id: MemberId, ev: Arc<Shared> },
    Detach { id: MemberId, reply: Option<oneshot::Sender<Pending>> },
}

/// The writer shards. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Fanout {
    shards: Arc<[mpsc::UnboundedSender<Msg>]>,
}

impl std::fmt::Debug for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("fanout::Msg")
    }
}

/// Runs a shard on its own thread. A big fan-out is a long run of
/// non-blocking writes (10,000 members ≈ 30 ms); on the shared async
/// workers it would hold up every member task behind it, and tokio may put
/// two shards on one worker. Own threads measured 4–5 ms lower p99 with
/// 10,000 members. Falls back to a task if a thread cannot be made.
fn spawn_shard<F: std::future::Future<Output = ()> + Send + 'static>(job: F) {
    let (give, take) = std::sync::mpsc::sync_channel::<F>(1);
    let thread = tokio::runtime::Builder::new_current_thread().enable_time().build().ok().and_then(|rt| {
        let run = move || {
            if let Ok(job) = take.recv() {
                rt.block_on(job);
            }
        };
        std::thread::Builder::new().name("chat-shard".into()).spawn(run).ok()
    });
    let job = match thread {
        Some(_) => match give.send(job) {
            Ok(()) => return,
            Err(std::sync::mpsc::SendError(job)) => job,
        },
        None => job,
    };
    tokio::spawn(job);
}

impl Fanout {
    /// Starts `shards` writer threads (at least one); a member's send queue
    /// holds at most `send_queue` bytes, the other bounds are the defaults.
    /// Under load a shard writes at most once per `window`.
    pub fn start(shards: usize, send_queue: usize, window: Duration) -> Fanout {
        Self::with_bounds(shards, SendBounds { queue: send_queue, ..SendBounds::DEFAULT }, window)
    }

    /// Starts `shards` writer threads (at least one) keeping each member's
    /// output within `bounds`; under load a shard writes at most once per
    /// `window`.
    pub fn with_bounds(shards: usize, bounds: SendBounds, window: Duration) -> Fanout {
        let shards = (0..shards.max(1))
            .map(|_| {
                // Unbounded: what arrives is bounded by the senders' flood
                // control and by each member's output bounds, which the
                // shard enforces as it goes.
                let (tx, rx) = mpsc::unbounded_channel();
                spawn_shard(Shard::new(bounds, window).run(rx));
                tx
            })
            .collect();
        Fanout { shards }
    }

    fn shard(&self, id: MemberId) -> &mpsc::UnboundedSender<Msg> {
        &self.shards[(id.0 % self.shards.len() as u64) as usize]
    }

    /// Starts delivering to member `id` through `sink` (direct events at
    /// once, a room's events once it [`Fanout::join`]s it).
    pub fn attach(&self, id: MemberId, sink: Sink) {
        self.attach_styled(id, sink, Style::default());
    }

    /// [`Fanout::attach`] rendering in `style` from the first event on (an
    /// IRC member must never get a line in another format).
    pub fn attach_styled(&self, id: MemberId, sink: Sink, style: Style) {
        let _ = self.shard(id).send(Msg::Attach { id, sink, style });
    }

    /// Member `id` gets `room`'s events from now on (besides its other rooms').
    pub fn join(&self, id: MemberId, room: Arc<str>) {
        let _ = self.shard(id).send(Msg::Join { id, room });
    }

    /// Member `id` gets no more of `room`'s events.
    pub fn part(&self, id: MemberId, room: Arc<str>) {
        let _ = self.shard(id).send(Msg::Part { id, room });
    }

    /// Sends `ev` to every member of `room`.
    pub fn publish(&self, room: &Arc<str>, ev: Arc<Shared>) {
        for shard in self.shards.iter() {
            let _ = shard.send(Msg::Room { room: room.clone(), ev: ev.clone() });
        }
    }

    /// Sends `ev` once to every member of any of `rooms` (a quit or nick
    /// change reaches each member sharing a room with its subject once).
    pub fn publish_to_rooms(&self, rooms: Arc<[Arc<str>]>, ev: Arc<Shared>) {
        if rooms.is_empty() {
            return;
        }
        for shard in self.shards.iter() {
            let _ = shard.send(Msg::Rooms { rooms: rooms.clone(), ev: ev.clone() });
        }
    }

    /// Sends `ev` to member `id` alone, in order with its room's events.
    /// History events (`ev.event.history`) are paced, not counted.
    pub fn direct(&self, id: MemberId, ev: Arc<Shared>) {
        let _ = self.shard(id).send(Msg::Direct { id, ev });
    }

    /// Renders member `id`'s events in `style` from now on.
    pub fn set_style(&self, id: MemberId, style: Style) {
        let _ = self.shard(id).send(Msg::Style { id, style });
    }

    /// Stops delivering to member `id` and returns what its output still
    /// held (empty if it was dropped or forwarded).
    pub async fn detach(&self, id: MemberId) -> Pending {
        let (reply, rx) = oneshot::channel();
        let _ = self.shard(id).send(Msg::Detach { id, reply: Some(reply) });
        rx.await.unwrap_or_default()
    }

    /// Stops delivering to member `id`, dropping whatever it still had queued.
    pub fn forget(&self, id: MemberId) {
        let _ = self.shard(id).send(Msg::Detach { id, reply: None });
    }
}

#[cfg(test)]
mod tests;

//! The node's side of the room channels: one task that owns this node's
//! subscription connection and, per room with local members, the delivery
//! position ([`RoomOrder`]). It subscribes to a room's channel on the
//! first local join and unsubscribes on the last leave (the registry tells
//! it: [`Bus::watch`], [`Bus::unwatch`]), delivers each room's events to
//! the local writer shards in offset order, repairs gaps from the stream,
//! and probes its own subscription. See [`super`] for the design.
//!
//! One task, so no lock: commands, subscription messages and the timer are
//! handled one at a time. A repair read waits for Redis (bounded by
//! [`super::COMMAND_TIMEOUT`]); meanwhile the subscription's messages
//! queue in redis-rs's channel and are handled in order afterwards.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use redis::aio::{PubSubSink, PubSubStream};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::direct::Letter;
use super::envelope::{Envelope, Relayed};
use super::order::{Outcome, RoomOrder};
use super::{keys, Cluster, CONNECT_TIMEOUT};
use crate::event::{Event, MemberId, Shared};
use crate::fanout::Fanout;

/// How often each room's position is compared with Redis and a probe is
/// sent through the node's own channel.
pub const CHECK_EVERY: Duration = Duration::from_secs(1);
/// A probe not back through the subscription within this long means the
/// subscription connection is half-dead: it is reopened.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(3);
/// Events per room that may wait for a missing one (more are read back
/// from the stream once the gap is filled).
pub const MAX_AHEAD: usize = 1_000;
/// Stream entries read per repair request.
pub const REPAIR_BATCH: usize = 500;
/// Repair requests per room per step (the rest at the next check).
const REPAIR_ROUNDS: usize = 20;
/// The timer's step: a closed subscription is reopened this often.
const TICK: Duration = Duration::from_millis(250);
/// What a room's local members are told when Redis lost its data.
pub const LOST_NOTICE: &str = "history was lost on the server";

/// Private messages received and not yet taken by the registry, at most
/// (beyond that the bus waits for it).
const LETTERS: usize = 1024;

/// Relayed notices remembered, to deliver each once (it arrives on each
/// room channel it was sent on).
const RELAYED_SEEN: usize = 4096;

/// A handle to the node's bus task. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Bus {
    tx: mpsc::UnboundedSender<Cmd>,
    cluster: Cluster,
    /// Numbers this node's relayed notices.
    relayed: Arc<AtomicU64>,
}

enum Cmd {
    Watch(Arc<str>),
    Unwatch(Arc<str>),
    Point { room: Arc<str>, reply: oneshot::Sender<Option<u64>> },
    Delivered { room: Arc<str>, offset: u64, reply: oneshot::Sender<()> },
}

impl std::fmt::Debug for Cmd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("bus::Cmd")
    }
}

impl Bus {
    /// Starts the bus task of `cluster`, delivering through `fanout`.
    /// Private messages for this node's members come out of the returned
    /// receiver (the registry takes them: [`super::direct`]).
    pub fn start(cluster: Cluster, fanout: Fanout) -> (Bus, mpsc::Receiver<Letter>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let (letters, inbox) = mpsc::channel(LETTERS);
        let bus = Bus { tx, cluster: cluster.clone(), relayed: Arc::new(AtomicU64::new(1)) };
        let node = Node {
            channel: keys::node_channel(cluster.node()),
            cluster,
            seen: HashSet::new(),
            seen_order: VecDeque::new(),
            fanout,
            rooms: HashMap::new(),
            link: None,
            down_since: Some(Instant::now()),
            probe_next: 1,
            probe_out: None,
            ticks: 0,
            letters,
        };
        tokio::spawn(node.run(rx));
        (bus, inbox)
    }

    /// Waits (at most `wait`) until this node has delivered `room`'s
    /// event `offset` to its members: a member's next line (its part, its
    /// quit, its nick change) then reaches its neighbours after its message,
    /// as on a single node. At once when the node does not watch the room.
    pub async fn delivered(&self, room: &Arc<str>, offset: u64, wait: Duration) {
        let (reply, rx) = oneshot::channel();
        if self.tx.send(Cmd::Delivered { room: room.clone(), offset, reply }).is_ok() {
            let _ = tokio::time::timeout(wait, rx).await;
        }
    }

    /// Tells the other nodes' members of `rooms` of `event`, a join, part,
    /// quit, nick or away notice about a member of this node (its own
    /// members got it already). Unnumbered and unstored; lost while Redis
    /// is unreachable.
    pub fn relay(&self, rooms: &[Arc<str>], event: &Event) {
        if rooms.is_empty() {
            return;
        }
        let seq = self.relayed.fetch_add(1, Ordering::Relaxed);
        let line = Relayed::line(self.cluster.node(), seq, rooms, event);
        let channels: Vec<String> = rooms.iter().map(|r| keys::room_channel(r)).collect();
        let cluster = self.cluster.clone();
        tokio::spawn(async move {
            if let Err(e) = cluster.publish_all(&channels, &line).await {
                tracing::debug!(error = %e, "chat cluster: a room notice was not relayed");
            }
        });
    }

    /// The node has local members in `room` now (its first joined).
    pub fn watch(&self, room: Arc<str>) {
        let _ = self.tx.send(Cmd::Watch(room));
    }

    /// The node has no local member in `room` any more.
    pub fn unwatch(&self, room: Arc<str>) {
        let _ = self.tx.send(Cmd::Unwatch(room));
    }

    /// The last offset of `room` delivered to local members, once the
    /// room's start is known (`None`: not watched, or Redis did not answer
    /// in time). A replay reads up to here; later events arrive live.
    pub async fn point(&self, room: &Arc<str>, wait: Duration) -> Option<u64> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(Cmd::Point { room: room.clone(), reply }).ok()?;
        tokio::time::timeout(wait, rx).await.ok()?.ok()?
    }
}

struct Room {
    order: RoomOrder<Envelope>,
    /// Replays waiting for the room's start.
    waiters: Vec<oneshot::Sender<Option<u64>>>,
    /// Senders waiting for their message's delivery (by offset).
    senders: Vec<(u64, oneshot::Sender<()>)>,
}

struct Link {
    sink: PubSubSink,
    stream: PubSubStream,
}

struct Node {
    cluster: Cluster,
    fanout: Fanout,
    /// This node's own channel.
    channel: String,
    rooms: HashMap<Arc<str>, Room>,
    /// Relayed notices delivered lately (node, number), oldest first in
    /// `seen_order`.
    seen: HashSet<(Arc<str>, u64)>,
    seen_order: VecDeque<(Arc<str>, u64)>,
    link: Option<Link>,
    /// Since when the subscription is closed (for one log line per outage).
    down_since: Option<Instant>,
    probe_next: u64,
    /// The probe on its way, and when it was sent.
    probe_out: Option<(u64, Instant)>,
    ticks: u64,
    /// Where private messages for local members go.
    letters: mpsc::Sender<Letter>,
}

async fn next_message(link: &mut Option<Link>) -> Option<redis::Msg> {
    match link {
        Some(l) => l.stream.next().await,
        None => std::future::pending().await,
    }
}

impl Node {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Cmd>) {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                cmd = rx.recv() => match cmd {
                    Some(cmd) => self.command(cmd).await,
                    None => break,
                },
                msg = next_message(&mut self.link) => match msg {
                    Some(msg) => self.message(&msg).await,
                    None => self.close("the subscription connection closed"),
                },
                _ = tick.tick() => self.tick().await,
            }
        }
    }

    async fn command(&mut self, cmd: Cmd) {
        match cmd {
            Cmd::Watch(room) => {
                if self.rooms.contains_key(&room) {
                    return;
                }
                self.rooms.insert(
                    room.clone(),
                    Room { order: RoomOrder::new(MAX_AHEAD), waiters: Vec::new(), senders: Vec::new() },
                );
                // The start first, then the subscription: what is written
                // in between shows up as a gap and is read back, so nothing
                // after the start is missed.
                self.check(std::slice::from_ref(&room)).await;
                if let Some(link) = &mut self.link {
                    let subscribed =
                        tokio::time::timeout(CONNECT_TIMEOUT, link.sink.subscribe(keys::room_channel(&room))).await;
                    if !matches!(subscribed, Ok(Ok(()))) {
                        self.close("a subscription failed");
                        return;
                    }
                    self.check(std::slice::from_ref(&room)).await;
                }
            }
            Cmd::Unwatch(room) => {
                let Some(r) = self.rooms.remove(&room) else { return };
                for w in r.waiters {
                    let _ = w.send(None);
                }
                if let Some(link) = &mut self.link {
                    let done =
                        tokio::time::timeout(CONNECT_TIMEOUT, link.sink.unsubscribe(keys::room_channel(&room))).await;
                    if !matches!(done, Ok(Ok(()))) {
                        self.close("an unsubscription failed");
                    }
                }
            }
            Cmd::Delivered { room, offset, reply } => match self.rooms.get_mut(&room) {
                Some(r) if r.order.started() && r.order.last() < offset && r.senders.len() < MAX_AHEAD => {
                    r.senders.push((offset, reply));
                }
                _ => {
                    let _ = reply.send(());
                }
            },
            Cmd::Point { room, reply } => match self.rooms.get_mut(&room) {
                Some(r) if r.order.started() => {
                    let _ = reply.send(Some(r.order.last()));
                }
                Some(r) => r.waiters.push(reply),
                None => {
                    let _ = reply.send(None);
                }
            },
        }
    }

    async fn message(&mut self, msg: &redis::Msg) {
        let channel = msg.get_channel_name();
        if channel == self.channel {
            self.node_message(msg.get_payload_bytes()).await;
            return;
        }
        let Some(room) =
            keys::room_of_channel(channel).and_then(|r| self.rooms.get_key_value(r)).map(|(k, _)| k.clone())
        else {
            return;
        };
        if Relayed::is_relayed(msg.get_payload_bytes()) {
            match Relayed::parse(msg.get_payload_bytes()) {
                Ok(r) => self.relayed(r),
                Err(e) => tracing::warn!(%room, error = %e, "chat cluster: a relayed notice was dropped"),
            }
            return;
        }
        match Envelope::parse(msg.get_payload_bytes()) {
            Ok(env) => {
                self.feed(&room, env);
                self.repair(&room).await;
            }
            Err(e) => tracing::warn!(%room, error = %e, "chat cluster: a room message was dropped"),
        }
    }

    /// A message on this node's own channel: a probe coming back, or a
    /// private message for a local member (handed to the registry; the
    /// bus waits while the registry's inbox is full, so none is dropped).
    async fn node_message(&mut self, payload: &[u8]) {
        let back: Option<u64> =
            std::str::from_utf8(payload).ok().and_then(|p| p.strip_prefix("probe ")).and_then(|n| n.parse().ok());
        match back {
            Some(n) if self.probe_out.is_some_and(|(out, _)| out == n) => self.probe_out = None,
            Some(_) => {}
            None => match Letter::decode(payload) {
                Some(letter) => {
                    let _ = self.letters.send(letter).await;
                }
                None => tracing::debug!(len = payload.len(), "chat cluster: a node message of no known kind"),
            },
        }
    }

    /// Another node's notice: once to each local member of its rooms.
    fn relayed(&mut self, r: Relayed) {
        if *r.node == **self.cluster.node() {
            return;
        }
        let id = (r.node.clone(), r.seq);
        if !self.seen.insert(id.clone()) {
            return;
        }
        self.seen_order.push_back(id);
        if self.seen_order.len() > RELAYED_SEEN {
            if let Some(old) = self.seen_order.pop_front() {
                self.seen.remove(&old);
            }
        }
        let rooms: Vec<Arc<str>> =
            r.rooms.iter().filter_map(|name| self.rooms.get_key_value(name.as_str()).map(|(k, _)| k.clone())).collect();
        let ev = Shared::new(r.event, None);
        match rooms.as_slice() {
            [] => {}
            [one] => self.fanout.publish(one, ev),
            _ => self.fanout.publish_to_rooms(rooms.into(), ev),
        }
    }

    fn feed(&mut self, room: &Arc<str>, env: Envelope) {
        let Some(r) = self.rooms.get_mut(room) else { return };
        let epoch = env.epoch.clone();
        let out = r.order.offer(&epoch, env.offset, env);
        self.apply(room, out);
    }

    /// Hands `out` to the room's local members: the history-lost notice
    /// first, then the events in order.
    fn apply(&mut self, room: &Arc<str>, out: Outcome<Envelope>) {
        let (lost, any) = (out.lost, !out.deliver.is_empty());
        if out.lost {
            tracing::warn!(%room, "chat cluster: the epoch changed (Redis lost its data); numbering starts again");
            self.fanout.publish(room, Shared::new(Event::notice(LOST_NOTICE).in_room(room), None));
        }
        for env in out.deliver {
            let mut event = env.event;
            event.room = Some(room.to_string());
            // Written here: it is that member's own message (not echoed to it).
            let origin = (*env.node == **self.cluster.node()).then_some(MemberId(env.member));
            self.fanout.publish(room, Shared::new(event, origin));
        }
        if lost || any {
            if let Some(r) = self.rooms.get_mut(room) {
                // Dropping a sender's channel releases it. After a lost
                // history the offsets waited for may never come: all go.
                let last = r.order.last();
                r.senders.retain(|(offset, _)| !lost && *offset > last);
            }
        }
    }

    /// Reads what `room` is missing from its stream, in bounded steps.
    async fn repair(&mut self, room: &Arc<str>) {
        for _ in 0..REPAIR_ROUNDS {
            let Some(r) = self.rooms.get(room) else { return };
            let Some((from, to)) = r.order.missing() else { return };
            let list = match self.cluster.range(room, from, to, REPAIR_BATCH).await {
                Ok(list) => list,
                Err(e) => {
                    tracing::debug!(%room, error = %e, "chat cluster: repair read failed; retried at the next check");
                    return;
                }
            };
            // A full batch ends at its last entry; a short one covers the
            // whole range (what it lacks was trimmed).
            let covered = if list.len() >= REPAIR_BATCH { list.last().map_or(to, |e| e.offset) } else { to };
            tracing::debug!(%room, from, to, got = list.len(), "chat cluster: gap repaired from the stream");
            let Some(r) = self.rooms.get_mut(room) else { return };
            let read = list.into_iter().map(|env| (env.epoch.clone(), env.offset, env)).collect();
            let out = r.order.repaired(covered, read);
            self.apply(room, out);
        }
    }

    /// The position check for `rooms`: starts rooms not started yet,
    /// notices a changed epoch, repairs what is missing.
    async fn check(&mut self, rooms: &[Arc<str>]) {
        if rooms.is_empty() {
            return;
        }
        let (epoch, heads) = match self.cluster.position(rooms).await {
            Ok(p) => p,
            Err(e) => {
                tracing::debug!(error = %e, "chat cluster: position check failed");
                return;
            }
        };
        for (room, head) in rooms.iter().zip(heads) {
            let Some(r) = self.rooms.get_mut(room) else { continue };
            let out = r.order.head(&epoch, head);
            let last = r.order.last();
            for w in r.waiters.drain(..) {
                let _ = w.send(Some(last));
            }
            self.apply(room, out);
            self.repair(room).await;
        }
    }

    async fn tick(&mut self) {
        self.ticks += 1;
        if self.link.is_none() {
            self.open().await;
        }
        if self.ticks % (CHECK_EVERY.as_millis() / TICK.as_millis()).max(1) as u64 != 0 {
            return;
        }
        self.probe().await;
        if self.link.is_some() {
            let rooms: Vec<Arc<str>> = self.rooms.keys().cloned().collect();
            self.check(&rooms).await;
        }
        for r in self.rooms.values_mut() {
            r.waiters.retain(|w| !w.is_closed());
            r.senders.retain(|(_, w)| !w.is_closed());
        }
    }

    /// Sends a probe through this node's channel, or gives up on a
    /// subscription that did not bring the last one back in time.
    async fn probe(&mut self) {
        if self.link.is_none() {
            return;
        }
        if let Some((_, sent)) = self.probe_out {
            if sent.elapsed() > PROBE_TIMEOUT {
                self.close("a probe did not come back through the subscription");
            }
            return;
        }
        let n = self.probe_next;
        self.probe_next += 1;
        match self.cluster.publish(&self.channel, &format!("probe {n}")).await {
            Ok(()) => self.probe_out = Some((n, Instant::now())),
            Err(e) => tracing::debug!(error = %e, "chat cluster: probe not sent"),
        }
    }

    /// Opens the subscription connection and subscribes to this node's
    /// channel and every watched room's; then repairs what was missed.
    async fn open(&mut self) {
        let mut channels = vec![self.channel.clone()];
        channels.extend(self.rooms.keys().map(|r| keys::room_channel(r)));
        let client = self.cluster.client().clone();
        let attempt = async move {
            let (mut sink, stream) = client.get_async_pubsub().await?.split();
            sink.subscribe(&channels).await?;
            Ok::<_, redis::RedisError>(Link { sink, stream })
        };
        match tokio::time::timeout(CONNECT_TIMEOUT, attempt).await {
            Ok(Ok(link)) => {
                self.link = Some(link);
                self.probe_out = None;
                if let Some(since) = self.down_since.take() {
                    tracing::info!(
                        after_ms = since.elapsed().as_millis() as u64,
                        "chat cluster: subscribed to {} channels",
                        self.rooms.len() + 1
                    );
                }
                let rooms: Vec<Arc<str>> = self.rooms.keys().cloned().collect();
                self.check(&rooms).await;
            }
            Ok(Err(e)) => tracing::debug!(error = %e, "chat cluster: cannot subscribe yet"),
            Err(_) => tracing::debug!("chat cluster: subscribing timed out"),
        }
    }

    /// Drops the subscription connection; the timer reopens it.
    fn close(&mut self, why: &str) {
        if self.link.take().is_some() {
            tracing::warn!("chat cluster: {why}; reopening the subscription");
            self.down_since = Some(Instant::now());
        }
        self.probe_out = None;
    }
}

//! The room registry: one actor task owning members, nicks and rooms.
//!
//! It is off the message hot path: a member's own task publishes room
//! messages straight to the writer shards ([`crate::fanout`]). The registry
//! only handles membership and room state — register, nick, join, part,
//! topic, modes, bans, invitations, kicks, away, names, whois, private
//! messages, leave — and tells the shards which rooms each member is in,
//! so it never becomes the bottleneck and needs no lock: its state belongs
//! to one task. What a member's task needs per message (may it speak in
//! this room?) it reads from a [`Gate`] the registry keeps current, not by
//! asking.
//!
//! A member may be in up to `--max-rooms-per-member` rooms (IRC members
//! join many); a line member also has a *current* room its plain lines go
//! to. Requests fail with a typed [`HubError`], which an IRC transport maps
//! to numerics and a line member reads after `! `.
//!
//! On a node of a cluster (`--redis`), the `remote` module claims nicks across nodes
//! before the registry takes them, publishes this node's members, and makes
//! names, `who` and `list` count every node; private messages to members of
//! other nodes go through Redis. Without it, no request waits on anything
//! but the registry.

mod channel;
mod error;
mod member;
mod mode;
mod registry;
mod remote;
mod room;
#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use crate::cluster::bus::Bus;
use crate::cluster::direct::Letter;
use crate::cluster::Cluster;
use crate::config::ChatConfig;
use crate::event::irc::Relay;
use crate::event::{Event, MemberId, NameEntry, Style};
use crate::fanout::{Fanout, Sink};
pub use error::{ErrorCode, HubError};
pub use member::{Activity, Gate, Ident};
pub use mode::{parse_modes, render_changes, Mode, ModeChange, MAX_MODE_ARGS};
use registry::Registry;
use remote::Remote;
pub use room::{mask_matches, normalize_mask, Ban, Modes, Topic, MAX_BANS, MAX_KEY, MAX_REASON, MAX_TOPIC};

/// A new member, as its transport hands it over.
#[derive(Debug)]
pub struct Registration {
    /// Where it connects from.
    pub peer: SocketAddr,
    /// Where its events go.
    pub sink: Sink,
    /// Its `user`, `host` and `realname`.
    pub ident: Ident,
    /// `tcp`, `udp`, `ws`, `tls` (or `irc`).
    pub transport: &'static str,
    /// Put it in the default room at once (line members); an IRC member
    /// joins what it asks for.
    pub land: bool,
    /// The nick it asked for (IRC members register with one); `None` gives
    /// the default `ip:port`. Refused as `/nick` would refuse it.
    pub nick: Option<String>,
    /// How its writer shard renders its events from the first one on.
    pub style: Style,
}

impl Registration {
    /// A member of `transport` from `peer` that lands in the default room,
    /// with the default identity ([`Ident::of`]).
    pub fn new(peer: SocketAddr, sink: Sink, transport: &'static str) -> Self {
        Registration {
            peer,
            sink,
            ident: Ident::of(transport, peer.ip()),
            transport,
            land: true,
            nick: None,
            style: Style::default(),
        }
    }
}

/// A room a member is in, with its [`Gate`].
#[derive(Debug, Clone)]
pub struct Seated {
    /// The room's name.
    pub room: Arc<str>,
    /// May it speak there; is it still in.
    pub gate: Gate,
}

/// What a new member gets.
#[derive(Debug)]
pub struct Welcome {
    /// Its id.
    pub id: MemberId,
    /// Its nick (`ip:port`).
    pub nick: String,
    /// The default room, when it landed there.
    pub room: Option<Seated>,
    /// Its activity stamp (the member's task touches it per line).
    pub activity: Activity,
    /// `user@host`, which its messages carry for IRC members ([`Event::userhost`]).
    pub userhost: Arc<str>,
}

/// Counts for IRC's `LUSERS`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Members now.
    pub members: usize,
    /// The most members at once since start.
    pub peak: usize,
    /// Rooms now.
    pub rooms: usize,
}

/// The answer to a join.
#[derive(Debug, Clone)]
pub struct JoinInfo {
    /// The room's normalised name.
    pub room: Arc<str>,
    /// Its topic.
    pub topic: Option<Topic>,
    /// Who is in it, with flags, sorted by nick (empty when `fresh` is false).
    pub names: Vec<NameEntry>,
    /// When the room was made (milliseconds since the Unix epoch).
    pub created_at: i64,
    /// The member's gate there.
    pub gate: Gate,
    /// False when the member was in the room already (it only became current).
    pub fresh: bool,
}

/// A room's members and topic.
#[derive(Debug, Clone)]
pub struct Names {
    /// The room.
    pub room: Arc<str>,
    /// Its topic.
    pub topic: Option<Topic>,
    /// Its members, sorted by nick.
    pub names: Vec<NameEntry>,
}

/// One room in [`Hub::list`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomSummary {
    /// The room.
    pub name: Arc<str>,
    /// How many are in it.
    pub members: usize,
    /// Its topic text.
    pub topic: Option<String>,
}

/// One of a member's rooms in [`MemberInfo`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomFlags {
    /// The room.
    pub room: Arc<str>,
    /// An operator there.
    pub op: bool,
    /// Voiced there.
    pub voice: bool,
}

/// What `/whois` tells.
#[derive(Debug, Clone)]
pub struct MemberInfo {
    /// The nick.
    pub nick: String,
    /// User, host, realname.
    pub ident: Ident,
    /// `tcp`, `udp`, `ws`, `tls`, `irc`.
    pub transport: &'static str,
    /// Its rooms, in join order.
    pub rooms: Vec<RoomFlags>,
    /// Its away message.
    pub away: Option<String>,
    /// When it connected (ms since the epoch).
    pub connected_at: i64,
    /// When it last sent a line (ms since the epoch).
    pub last_active: i64,
}

/// One line of [`Hub::who`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WhoEntry {
    /// The nick.
    pub nick: String,
    /// User, host, realname.
    pub ident: Ident,
    /// The room asked about (or the member's first room when asked by nick).
    pub room: Option<Arc<str>>,
    /// An operator there.
    pub op: bool,
    /// Voiced there.
    pub voice: bool,
    /// Away.
    pub away: bool,
}

/// What a mode request did: changes are applied one by one, as IRC does,
/// and each one that fails says why.
#[derive(Debug, Clone, Default)]
pub struct ModeOutcome {
    /// The changes made (announced to the room as one `mode` notice).
    pub applied: Vec<ModeChange>,
    /// The changes refused.
    pub errors: Vec<HubError>,
}

/// A room's modes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModeInfo {
    /// IRC form, `+ntk KEY` (the key only for members).
    pub modes: String,
    /// When the room was made.
    pub created_at: i64,
}

/// A member's rooms as the registry has them (after a kick, its task
/// refreshes its own view with this).
#[derive(Debug, Clone, Default)]
pub struct Membership {
    /// Its rooms in join order.
    pub rooms: Vec<Seated>,
    /// Its current room.
    pub current: Option<Arc<str>>,
}

type Job = Box<dyn FnOnce(&mut Registry) + Send>;

enum Msg {
    Job(Job),
    Shutdown,
}

/// A handle to the registry. Cheap to clone.
#[derive(Clone)]
pub struct Hub {
    // Unbounded on purpose: each member has at most one request in flight
    // (it awaits the reply) plus its final leave, so the queue is bounded by
    // the member count, and leave must be sendable from Drop.
    tx: mpsc::UnboundedSender<Msg>,
    /// The cluster side (`--redis`); `None`: one node, no await added.
    remote: Option<Arc<Remote>>,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Hub")
    }
}

type Reply<T> = Result<T, HubError>;

impl Hub {
    /// Starts the registry task of a single node; it places members with
    /// `fanout`.
    pub fn start(config: Arc<ChatConfig>, fanout: Fanout) -> Hub {
        Self::spawn(Registry::new(config, fanout, None), None)
    }

    /// [`Hub::start`] on a node of `cluster`: nicks are claimed across
    /// nodes, this node's members are published, and room and member
    /// answers count every node (see [`crate::cluster::presence`]).
    /// `letters` are the private messages the bus got for this node.
    pub fn start_clustered(
        config: Arc<ChatConfig>,
        fanout: Fanout,
        bus: Bus,
        letters: mpsc::Receiver<Letter>,
        cluster: Cluster,
    ) -> Hub {
        // The registry tells `bus` which rooms have local members.
        let mut registry = Registry::new(config, fanout, Some(bus));
        let dirty = Arc::new(tokio::sync::Notify::new());
        registry.dirty = Some(dirty.clone());
        let remote = Arc::new(Remote::new(cluster, dirty));
        let hub = Self::spawn(registry, Some(remote.clone()));
        remote::start(&hub, &remote, letters);
        hub
    }

    fn spawn(mut registry: Registry, remote: Option<Arc<Remote>>) -> Hub {
        let (tx, mut rx) = mpsc::unbounded_channel::<Msg>();
        tokio::spawn(async move {
            while let Some(Msg::Job(job)) = rx.recv().await {
                job(&mut registry);
            }
        });
        Hub { tx, remote }
    }

    /// Runs `f` on the registry and waits for its answer (`None` once stopped).
    async fn call<T: Send + 'static>(&self, f: impl FnOnce(&mut Registry) -> T + Send + 'static) -> Option<T> {
        let (reply, rx) = oneshot::channel();
        let job: Job = Box::new(move |r| {
            let _ = reply.send(f(r));
        });
        self.tx.send(Msg::Job(job)).ok()?;
        rx.await.ok()
    }

    async fn ask<T: Send + 'static>(&self, f: impl FnOnce(&mut Registry) -> Reply<T> + Send + 'static) -> Reply<T> {
        self.call(f).await.unwrap_or_else(|| Err(HubError::stopped()))
    }

    /// Adds a member with default nick `ip:port` (to the default room if
    /// `land`); its events go to its sink.
    pub async fn register(&self, reg: Registration) -> Reply<Welcome> {
        if let Some(remote) = &self.remote {
            return self.register_clustered(remote, reg).await;
        }
        self.ask(move |r| r.register(reg)).await
    }

    /// Whether `nick` could be taken now (valid, not in use, not a
    /// look-alike of one in use): an IRC client's early answer to NICK.
    pub async fn check_nick(&self, nick: &str) -> Reply<()> {
        let nick = nick.to_string();
        self.ask(move |r| r.check_nick(None, &nick).map(|_| ())).await
    }

    /// Member and room counts.
    pub async fn stats(&self) -> Stats {
        self.call(|r| r.stats()).await.unwrap_or_default()
    }

    /// Changes a nick; returns the old one.
    pub async fn nick(&self, id: MemberId, nick: &str) -> Reply<String> {
        if let Some(remote) = &self.remote {
            return self.nick_clustered(remote, id, nick).await;
        }
        let nick = nick.to_string();
        self.ask(move |r| r.nick(id, &nick)).await
    }

    /// Joins `room` (creating it, with the member as operator), or makes it
    /// current if the member is in it already. `key` is for `+k` rooms.
    pub async fn join(&self, id: MemberId, room: &str, key: Option<&str>) -> Reply<JoinInfo> {
        if let Some(remote) = &self.remote {
            return self.join_clustered(remote, id, room, key).await;
        }
        let (room, key) = (room.to_string(), key.map(str::to_string));
        self.ask(move |r| r.join(id, &room, key.as_deref())).await
    }

    /// Leaves `room`, telling it `reason`; returns the new current room.
    pub async fn part(&self, id: MemberId, room: &str, reason: &str) -> Reply<Option<Arc<str>>> {
        let (room, reason) = (room.to_string(), reason.to_string());
        self.ask(move |r| r.part(id, &room, &reason)).await
    }

    /// Makes `room` (one the member is in) its current room.
    pub async fn set_current(&self, id: MemberId, room: &str) -> Reply<Arc<str>> {
        let room = room.to_string();
        self.ask(move |r| r.set_current(id, &room)).await
    }

    /// The member's rooms and current room.
    pub async fn membership(&self, id: MemberId) -> Membership {
        self.call(move |r| r.membership(id)).await.unwrap_or_default()
    }

    /// Shows (`new` is `None`) or sets a room's topic (`Some("")` clears it).
    pub async fn topic(&self, id: MemberId, room: &str, new: Option<&str>) -> Reply<Option<Topic>> {
        let (room, new) = (room.to_string(), new.map(str::to_string));
        self.ask(move |r| r.topic(id, &room, new.as_deref())).await
    }

    /// Kicks `nick` out of `room` (operators only).
    pub async fn kick(&self, id: MemberId, room: &str, nick: &str, reason: &str) -> Reply<()> {
        let (room, nick, reason) = (room.to_string(), nick.to_string(), reason.to_string());
        self.ask(move |r| r.kick(id, &room, &nick, &reason)).await
    }

    /// Applies mode changes (operators only; a bare `+b` lists bans and
    /// needs no op). Ops, voice and bans are modes too: `+o`, `+v`, `+b`.
    pub async fn mode(&self, id: MemberId, room: &str, changes: Vec<ModeChange>) -> Reply<ModeOutcome> {
        let room = room.to_string();
        self.ask(move |r| r.mode(id, &room, changes)).await
    }

    /// A room's modes (the key shown to its members only).
    pub async fn mode_query(&self, id: MemberId, room: &str) -> Reply<ModeInfo> {
        let room = room.to_string();
        self.ask(move |r| r.mode_query(id, &room)).await
    }

    /// A room's ban list.
    pub async fn bans(&self, room: &str) -> Reply<Vec<Ban>> {
        let room = room.to_string();
        self.ask(move |r| r.bans(&room)).await
    }

    /// Invites `nick` to `room` (it may then join a `+i` room once).
    pub async fn invite(&self, id: MemberId, nick: &str, room: &str) -> Reply<String> {
        let (nick, room) = (nick.to_string(), room.to_string());
        self.ask(move |r| r.invite(id, &nick, &room)).await
    }

    /// Sets (`Some`) or clears the member's away message.
    pub async fn away(&self, id: MemberId, text: Option<&str>) -> Reply<()> {
        let text = text.map(str::to_string);
        self.ask(move |r| r.away(id, text.as_deref())).await
    }

    /// A room's members and topic.
    pub async fn names(&self, room: &str) -> Reply<Names> {
        if let Some(remote) = &self.remote {
            return self.names_clustered(remote, room).await;
        }
        let room = room.to_string();
        self.ask(move |r| r.names(&room)).await
    }

    /// Every room with its size and topic, by name.
    pub async fn list(&self) -> Vec<RoomSummary> {
        if let Some(remote) = &self.remote {
            return self.list_clustered(remote).await;
        }
        self.call(|r| r.list()).await.unwrap_or_default()
    }

    /// What is known of `nick`.
    pub async fn whois(&self, nick: &str) -> Reply<MemberInfo> {
        let nick = nick.to_string();
        self.ask(move |r| r.whois(&nick)).await
    }

    /// The members of room `target`, or the member `target`; empty for neither.
    pub async fn who(&self, target: &str) -> Vec<WhoEntry> {
        if let Some(remote) = &self.remote {
            return self.who_clustered(remote, target).await;
        }
        let target = target.to_string();
        self.call(move |r| r.who(&target)).await.unwrap_or_default()
    }

    /// Sends a private message; returns the delivered event (for the
    /// sender's echo) and the recipient's away message, if it is away.
    pub async fn private(&self, id: MemberId, to: &str, text: &str) -> Reply<(Event, Option<String>)> {
        self.private_relayed(id, to, text, None).await
    }

    /// [`Hub::private`] of an IRC member's message, with what it carried
    /// besides its text (client tags, NOTICE).
    pub async fn private_relayed(
        &self,
        id: MemberId,
        to: &str,
        text: &str,
        relay: Option<Box<Relay>>,
    ) -> Reply<(Event, Option<String>)> {
        if let Some(remote) = &self.remote {
            return self.private_clustered(remote, id, to, text, relay).await;
        }
        let (to, text) = (to.to_string(), text.to_string());
        self.ask(move |r| r.private(id, &to, text, relay)).await
    }

    /// Whether the member may send to `room`: refused (CannotSendToChan)
    /// when not in it and it is `+n` (or the member is no IRC member:
    /// line members only speak where they are), when `+m` without voice,
    /// or banned.
    pub async fn check_send(&self, id: MemberId, room: &str) -> Reply<Arc<str>> {
        let room = room.to_string();
        self.ask(move |r| r.check_send(id, &room)).await
    }

    /// Removes a member, telling everyone sharing a room with it why.
    pub fn leave(&self, id: MemberId, reason: &str) {
        let reason = reason.to_string();
        let _ = self.tx.send(Msg::Job(Box::new(move |r: &mut Registry| r.leave(id, &reason))));
    }

    /// Stops the registry (after members have left).
    pub fn shutdown(&self) {
        let _ = self.tx.send(Msg::Shutdown);
    }
}

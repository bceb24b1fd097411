//! The registry's side of the cluster (`--redis`): nick claims before a
//! member takes a nick, this node's presence kept in Redis, answers about
//! rooms and members (`/who`, `/rooms`, IRC `WHO`/`LIST`/`NAMES`) that
//! count the other nodes, and private messages to members of other nodes.
//!
//! The Redis work is in [`crate::cluster`] (plain data in, plain data
//! out); this file only joins it to the registry, so the cluster modules
//! never import the hub. Without `--redis` none of it runs: [`Hub`] has no
//! [`Remote`] and every request goes to the registry as before.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, Notify};

use super::error::{ErrorCode, HubError};
use super::registry::Registry;
use super::{Hub, Ident, JoinInfo, Names, Registration, Reply, RoomSummary, Welcome, WhoEntry};
use crate::cluster::direct::{self, Letter};
use crate::cluster::nicks::{self, Claim, Grants};
use crate::cluster::presence::{self, seat_text, Entry, Publisher};
use crate::cluster::Cluster;
use crate::event::irc::Relay;
use crate::event::{Event, Kind, MemberId, NameEntry, Shared};
use crate::text::{nick_key, normalize_room};

/// How long after a membership change the presence is rewritten: changes
/// in that window (a burst of joins) go out in one write.
const DEBOUNCE: Duration = Duration::from_millis(100);
/// Default nicks tried for a new member (`ip:port`, then `-2` …).
const DEFAULT_TRIES: usize = 5;

/// What the hub keeps of the cluster.
pub(super) struct Remote {
    cluster: Cluster,
    /// Poked by the registry on every membership change.
    dirty: Arc<Notify>,
    /// Claims granted lately, for the publisher to judge.
    grants: Grants,
    /// What this node has published (the publishing task and the final
    /// [`Hub::leave_cluster`] take turns).
    publisher: tokio::sync::Mutex<Publisher>,
    /// Set once the node has left: nothing is published after.
    left: std::sync::atomic::AtomicBool,
}

impl Remote {
    pub(super) fn new(cluster: Cluster, dirty: Arc<Notify>) -> Remote {
        Remote {
            publisher: tokio::sync::Mutex::new(Publisher::new(cluster.clone())),
            cluster,
            dirty,
            grants: Grants::default(),
            left: Default::default(),
        }
    }

    /// The other nodes' members; none when Redis does not answer (the
    /// answer then counts this node alone).
    async fn others(&self) -> Vec<(String, Entry)> {
        match presence::others(&self.cluster).await {
            Ok(o) => o,
            Err(e) => {
                tracing::warn!("answering for this node alone: {e}");
                Vec::new()
            }
        }
    }

    /// Claims `wanted` for this node.
    async fn claim(&self, wanted: &str) -> Result<Claim, HubError> {
        match nicks::claim(&self.cluster, &nick_key(wanted)).await {
            Ok(Claim::Taken) => Err(HubError::new(ErrorCode::NickInUse, format!("nick {wanted} is taken"))),
            Ok(c) => {
                self.grants.note(&nick_key(wanted));
                Ok(c)
            }
            Err(e) => {
                tracing::warn!("refusing a new nick: {e}");
                Err(HubError::new(
                    ErrorCode::Other,
                    format!("nick {wanted} cannot be taken now: the chat cluster is unreachable; try again later"),
                ))
            }
        }
    }

    /// Gives back a claim that no member took after all.
    async fn unclaim(&self, claim: Claim, wanted: &str) {
        if claim == Claim::Fresh {
            let _ = nicks::release(&self.cluster, &[nick_key(wanted)]).await;
        }
    }
}

/// Starts the cluster tasks of `hub`: presence publishing and handing
/// the bus's `letters` (private messages for local members) to the
/// registry. Both end when the registry stops.
pub(super) fn start(hub: &Hub, remote: &Arc<Remote>, mut letters: mpsc::Receiver<Letter>) {
    tokio::spawn(publish(hub.clone(), remote.clone()));
    let hub = hub.clone();
    tokio::spawn(async move {
        while let Some(letter) = letters.recv().await {
            if hub.call(move |r| r.deliver_letter(letter)).await.is_none() {
                break;
            }
        }
    });
}

/// Keeps this node's presence in Redis: on every heartbeat and shortly
/// after each membership change; takes it out when the registry stops.
async fn publish(hub: Hub, remote: Arc<Remote>) {
    let mut beat = tokio::time::interval(presence::HEARTBEAT);
    beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut pending = false;
    loop {
        tokio::select! {
            _ = beat.tick() => {}
            () = remote.dirty.notified() => tokio::time::sleep(DEBOUNCE).await,
            () = tokio::time::sleep(nicks::SETTLE), if pending => {}
        }
        let Some(snapshot) = hub.call(|r| r.snapshot()).await else { break };
        let mut publisher = remote.publisher.lock().await;
        if remote.left.load(std::sync::atomic::Ordering::Relaxed) {
            break;
        }
        pending = match publisher.publish(snapshot, &remote.grants).await {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!("cannot publish this node's presence: {e}");
                false
            }
        };
    }
}

impl Registry {
    /// Every member as the other nodes see it, keyed by member id.
    pub(super) fn snapshot(&self) -> Vec<(String, Entry)> {
        self.members
            .iter()
            .map(|(id, m)| {
                let rooms = m
                    .rooms
                    .iter()
                    .map(|r| {
                        let seat = self.rooms.get(r).and_then(|room| room.seats.get(id));
                        seat_text(r, seat.is_some_and(|s| s.op), seat.is_some_and(|s| s.voice))
                    })
                    .collect();
                let entry = Entry {
                    nick: m.nick.clone(),
                    rooms,
                    transport: m.transport.to_string(),
                    user: m.ident.user.clone(),
                    host: m.ident.host.clone(),
                    away: m.away.is_some(),
                };
                (id.0.to_string(), entry)
            })
            .collect()
    }

    /// A member's nick and `user@host`, for a letter it sends.
    fn sender(&self, id: MemberId) -> Result<(String, Arc<str>), HubError> {
        let m = self.member(id)?;
        Ok((m.nick.clone(), m.userhost.clone()))
    }

    /// Hands a private message from another node to its local recipient
    /// (dropped if it left in the meantime: the sender was told it went).
    fn deliver_letter(&self, letter: Letter) {
        let Some(m) = self.nicks.get(&nick_key(&letter.to)).and_then(|id| Some((*id, self.members.get(id)?))) else {
            tracing::debug!(to = %letter.to, "a private message from another node for a member who left");
            return;
        };
        let (target, member) = m;
        let mut event = Event::new(Kind::Private, letter.text).by(&letter.from);
        event.to = Some(member.nick.clone());
        event.userhost = Some(Arc::from(letter.userhost));
        if letter.notice {
            event.relay = Some(Box::new(Relay { notice: true, ..Relay::default() }));
        }
        self.fanout.direct(target, Shared::new(event, None));
    }
}

impl Hub {
    /// Takes this node out of the cluster's presence at once (heartbeat,
    /// member set, nick claims), so the other nodes need not wait for the
    /// expiry; on shutdown, before [`Hub::shutdown`]. Nothing without a
    /// cluster. Bounded: at most about twice the command timeout.
    pub async fn leave_cluster(&self) {
        let Some(remote) = &self.remote else { return };
        let mine: Vec<String> = self.call(|r| r.nicks.keys().cloned().collect::<Vec<_>>()).await.unwrap_or_default();
        let (settled, young) = remote.grants.settled();
        let mut publisher = remote.publisher.lock().await;
        remote.left.store(true, std::sync::atomic::Ordering::Relaxed);
        publisher.leave(mine.into_iter().chain(settled).chain(young)).await;
    }

    /// [`Hub::register`] on a node of a cluster: the nick is claimed in
    /// Redis first. The default nick `ip:port` may be another node's (one
    /// client port, two server ports): then `ip:port-2`, `-3`, … is tried.
    pub(super) async fn register_clustered(&self, remote: &Remote, reg: Registration) -> Reply<Welcome> {
        if let Some(wanted) = reg.nick.clone() {
            // Refused here without asking Redis if it is no nick at all.
            self.check_nick(&wanted).await?;
            let claim = remote.claim(&wanted).await?;
            return self.ask_claimed(remote, claim, &wanted, move |r| r.register(reg)).await;
        }
        let peer = reg.peer.to_string();
        let mut taken = None;
        for n in 1..=DEFAULT_TRIES {
            let wanted = if n == 1 { peer.clone() } else { format!("{peer}-{n}") };
            let claim = match remote.claim(&wanted).await {
                Ok(c) => c,
                Err(e) if e.code == ErrorCode::NickInUse => {
                    taken = Some(e);
                    continue;
                }
                Err(e) => return Err(e),
            };
            let default = wanted.clone();
            return self.ask_claimed(remote, claim, &wanted, move |r| r.register_as(reg, Some(default))).await;
        }
        Err(taken.unwrap_or_else(|| HubError::new(ErrorCode::NickInUse, format!("nick {peer} is taken"))))
    }

    /// [`Hub::nick`] on a node of a cluster: claimed in Redis first; the
    /// old nick's claim is given back by the presence publisher once no
    /// member here uses it.
    pub(super) async fn nick_clustered(&self, remote: &Remote, id: MemberId, nick: &str) -> Reply<String> {
        let wanted = nick.to_string();
        self.ask(move |r| r.check_nick(Some(id), &wanted).map(|_| ())).await?;
        let claim = remote.claim(nick).await?;
        let wanted = nick.to_string();
        self.ask_claimed(remote, claim, nick, move |r| r.nick(id, &wanted)).await
    }

    /// Runs `f` on the registry with `nick` just claimed (`claim`); gives
    /// the claim back if `f` fails, so a refused member holds no nick.
    async fn ask_claimed<T: Send + 'static>(
        &self,
        remote: &Remote,
        claim: Claim,
        nick: &str,
        f: impl FnOnce(&mut Registry) -> Reply<T> + Send + 'static,
    ) -> Reply<T> {
        let out = self.ask(f).await;
        if out.is_err() {
            remote.unclaim(claim, nick).await;
        }
        out
    }

    /// [`Hub::join`] on a node of a cluster: the names it answers with
    /// count every node.
    pub(super) async fn join_clustered(
        &self,
        remote: &Remote,
        id: MemberId,
        room: &str,
        key: Option<&str>,
    ) -> Reply<JoinInfo> {
        let (wanted, key) = (room.to_string(), key.map(str::to_string));
        let mut info = self.ask(move |r| r.join(id, &wanted, key.as_deref())).await?;
        if info.fresh {
            info.names.extend(names_in(&info.room, &remote.others().await));
            sort_names(&mut info.names);
        }
        Ok(info)
    }

    /// [`Hub::names`] counting every node.
    pub(super) async fn names_clustered(&self, remote: &Remote, room: &str) -> Reply<Names> {
        let wanted = room.to_string();
        let local = self.ask(move |r| r.names(&wanted)).await;
        merge_names(local, room, &remote.others().await)
    }

    /// [`Hub::list`] counting every node.
    pub(super) async fn list_clustered(&self, remote: &Remote) -> Vec<RoomSummary> {
        let local = self.call(|r| r.list()).await.unwrap_or_default();
        merge_list(local, &remote.others().await)
    }

    /// [`Hub::who`] counting every node.
    pub(super) async fn who_clustered(&self, remote: &Remote, target: &str) -> Vec<WhoEntry> {
        let asked = target.to_string();
        let local = self.call(move |r| r.who(&asked)).await.unwrap_or_default();
        merge_who(local, target, &remote.others().await)
    }

    /// [`Hub::private_relayed`] on a node of a cluster: to a local member
    /// as before; otherwise to the node holding the nick's claim.
    pub(super) async fn private_clustered(
        &self,
        remote: &Remote,
        id: MemberId,
        to: &str,
        text: &str,
        relay: Option<Box<Relay>>,
    ) -> Reply<(Event, Option<String>)> {
        let notice = relay.as_ref().is_some_and(|r| r.notice);
        let (target, body) = (to.to_string(), text.to_string());
        let local = self.ask(move |r| r.private(id, &target, body, relay)).await;
        let missing = match local {
            Err(e) if e.code == ErrorCode::NoSuchNick => e,
            other => return other,
        };
        let unreachable = || HubError::new(ErrorCode::Other, "not delivered: the cluster is unreachable");
        let owner = match nicks::owner(&remote.cluster, &nick_key(to)).await {
            Ok(Some(node)) if *node != **remote.cluster.node() => node,
            Ok(_) => return Err(missing),
            Err(_) => return Err(unreachable()),
        };
        let (from, userhost) = self.ask(move |r| r.sender(id)).await?;
        let letter = Letter::new(&from, &userhost, to, text, notice);
        match direct::send(&remote.cluster, &owner, &letter).await {
            Ok(true) => {}
            Ok(false) => {
                return Err(HubError::new(
                    ErrorCode::NoSuchNick,
                    format!("not delivered: {to} is on a node that does not answer"),
                ))
            }
            Err(_) => return Err(unreachable()),
        }
        let mut event = Event::new(Kind::Private, text).by(&from);
        event.to = Some(to.to_string());
        event.userhost = Some(userhost);
        if notice {
            event.relay = Some(Box::new(Relay { notice: true, ..Relay::default() }));
        }
        Ok((event, None))
    }
}

/// The members of `room` on other nodes, as names entries.
fn names_in(room: &str, others: &[(String, Entry)]) -> Vec<NameEntry> {
    others
        .iter()
        .filter_map(|(_, e)| e.seat_in(room).map(|s| NameEntry { nick: e.nick.clone(), op: s.op, voice: s.voice }))
        .collect()
}

/// This node's answer to NAMES `asked` with the other nodes' members added
/// (a room with members elsewhere only is listed too; its topic is
/// per node, so unknown here).
fn merge_names(local: Reply<Names>, asked: &str, others: &[(String, Entry)]) -> Reply<Names> {
    let Ok(room) = normalize_room(asked) else { return local };
    let extra = names_in(&room, others);
    let mut names = match local {
        Ok(n) => n,
        Err(e) if extra.is_empty() => return Err(e),
        Err(_) => Names { room: Arc::from(room.as_str()), topic: None, names: Vec::new() },
    };
    names.names.extend(extra);
    sort_names(&mut names.names);
    Ok(names)
}

/// Names by nick, each once.
fn sort_names(names: &mut Vec<NameEntry>) {
    names.sort_by_cached_key(|n| nick_key(&n.nick));
    names.dedup_by(|a, b| nick_key(&a.nick) == nick_key(&b.nick));
}

/// This node's rooms with the other nodes' members counted in (and their
/// rooms added), by name.
fn merge_list(local: Vec<RoomSummary>, others: &[(String, Entry)]) -> Vec<RoomSummary> {
    let mut rooms: BTreeMap<Arc<str>, RoomSummary> = local.into_iter().map(|r| (r.name.clone(), r)).collect();
    for (_, e) in others {
        for seat in e.seats() {
            let name: Arc<str> = Arc::from(seat.room);
            rooms.entry(name.clone()).or_insert(RoomSummary { name, members: 0, topic: None }).members += 1;
        }
    }
    rooms.into_values().collect()
}

fn who_entry(e: &Entry, room: Option<&str>) -> WhoEntry {
    let seat = room.and_then(|r| e.seat_in(r));
    WhoEntry {
        nick: e.nick.clone(),
        ident: Ident { user: e.user.clone(), host: e.host.clone(), realname: String::new() },
        room: room.map(Arc::from),
        op: seat.is_some_and(|s| s.op),
        voice: seat.is_some_and(|s| s.voice),
        away: e.away,
    }
}

/// This node's answer to WHO `target` (a room, or else a nick) with the
/// other nodes' members added.
fn merge_who(mut local: Vec<WhoEntry>, target: &str, others: &[(String, Entry)]) -> Vec<WhoEntry> {
    let room = normalize_room(target).ok();
    if let Some(room) = &room {
        let elsewhere: Vec<WhoEntry> =
            others.iter().filter(|(_, e)| e.seat_in(room).is_some()).map(|(_, e)| who_entry(e, Some(room))).collect();
        // The registry answers for a room it has, else for a nick.
        let nick_hit = local.len() == 1 && nick_key(&local[0].nick) == nick_key(target);
        if !elsewhere.is_empty() && (local.is_empty() || !nick_hit) {
            local.extend(elsewhere);
            local.sort_by_cached_key(|e| nick_key(&e.nick));
            return local;
        }
    }
    if !local.is_empty() {
        return local;
    }
    let key = nick_key(target);
    others
        .iter()
        .find(|(_, e)| nick_key(&e.nick) == key)
        .map(|(_, e)| who_entry(e, e.seats().next().map(|s| s.room)))
        .into_iter()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(nick: &str, rooms: &[&str]) -> (String, Entry) {
        ("node".into(), Entry::sample(nick, rooms))
    }

    #[test]
    fn names_add_other_nodes() {
        let local = Names {
            room: Arc::from("dev"),
            topic: None,
            names: vec![NameEntry { nick: "cat".into(), op: true, voice: false }],
        };
        let others = [entry("ann", &["lobby", "@dev"]), entry("bob", &["lobby"])];
        let got = merge_names(Ok(local), "#Dev", &others).unwrap_or_else(|e| panic!("{}", e.text));
        let nicks: Vec<String> = got.names.iter().map(NameEntry::marked).collect();
        assert_eq!(nicks, ["@ann", "@cat"]);
        // A room only another node has.
        let got = merge_names(Err(HubError::no_such_room("ops")), "ops", &[entry("dan", &["+ops"])]);
        assert_eq!(got.map(|n| n.names[0].marked()).ok().as_deref(), Some("+dan"));
        assert!(merge_names(Err(HubError::no_such_room("x")), "x", &others).is_err());
    }

    #[test]
    fn lists_count_every_node() {
        let local = vec![RoomSummary { name: Arc::from("lobby"), members: 2, topic: Some("hi".into()) }];
        let got = merge_list(local, &[entry("ann", &["lobby", "@dev"]), entry("bob", &["lobby"])]);
        assert_eq!(got.len(), 2);
        assert_eq!((&*got[0].name, got[0].members), ("dev", 1));
        assert_eq!((&*got[1].name, got[1].members, got[1].topic.as_deref()), ("lobby", 4, Some("hi")));
    }

    #[test]
    fn who_finds_rooms_then_nicks() {
        let others = [entry("ann", &["lobby", "@dev"]), entry("bob", &["lobby"])];
        let got = merge_who(Vec::new(), "dev", &others);
        assert_eq!(got.len(), 1);
        assert!(got[0].op && got[0].nick == "ann");
        let got = merge_who(Vec::new(), "BOB", &others);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].room.as_deref(), Some("lobby"));
        assert!(merge_who(Vec::new(), "nobody", &others).is_empty());
    }
}

//! The room registry: one actor task owning members, nicks and rooms.
//!
//! It is off the message hot path: a member's own task publishes room
//! messages straight to the writer shards ([`crate::fanout`]). The registry
//! only handles membership — register, nick, join, who, rooms, private
//! messages, leave — and tells the shards where each member is, so it never
//! becomes the bottleneck and needs no lock: its state belongs to one task.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use crate::config::ChatConfig;
use crate::event::{Event, Kind, MemberId, Shared};
use crate::fanout::{Fanout, Sink};
use crate::text::{nick_key, normalize_room, skeleton, validate_nick};

/// What a new member gets.
#[derive(Debug)]
pub struct Welcome {
    /// Its id.
    pub id: MemberId,
    /// Its nick (`ip:port`).
    pub nick: String,
    /// Its room.
    pub room: Arc<str>,
}

enum Msg {
    Register { peer: SocketAddr, sink: Sink, reply: oneshot::Sender<Result<Welcome, String>> },
    Nick { id: MemberId, nick: String, reply: oneshot::Sender<Result<String, String>> },
    Join { id: MemberId, room: String, reply: oneshot::Sender<Result<Arc<str>, String>> },
    Who { id: MemberId, reply: oneshot::Sender<(String, Vec<String>)> },
    Rooms { reply: oneshot::Sender<Vec<(String, usize)>> },
    Private { id: MemberId, to: String, text: String, reply: oneshot::Sender<Result<Event, String>> },
    Leave { id: MemberId, reason: String },
    Shutdown,
}

/// A handle to the registry. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Hub {
    // Unbounded on purpose: each member has at most one request in flight
    // (it awaits the reply) plus its final Leave, so the queue is bounded by
    // the member count, and Leave must be sendable from Drop.
    tx: mpsc::UnboundedSender<Msg>,
}

async fn ask<T>(tx: &mpsc::UnboundedSender<Msg>, make: impl FnOnce(oneshot::Sender<T>) -> Msg) -> Option<T> {
    let (reply, rx) = oneshot::channel();
    tx.send(make(reply)).ok()?;
    rx.await.ok()
}

const STOPPED: &str = "server is shutting down";

impl Hub {
    /// Starts the registry task; it places members with `fanout`.
    pub fn start(config: Arc<ChatConfig>, fanout: Fanout) -> Hub {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(Registry::new(config, fanout).run(rx));
        Hub { tx }
    }

    /// Adds a member with default nick `ip:port` to the default room; its
    /// events go to `sink`.
    pub async fn register(&self, peer: SocketAddr, sink: Sink) -> Result<Welcome, String> {
        ask(&self.tx, |reply| Msg::Register { peer, sink, reply }).await.unwrap_or_else(|| Err(STOPPED.into()))
    }

    /// Changes a nick; returns the old one.
    pub async fn nick(&self, id: MemberId, nick: &str) -> Result<String, String> {
        ask(&self.tx, |reply| Msg::Nick { id, nick: nick.to_string(), reply })
            .await
            .unwrap_or_else(|| Err(STOPPED.into()))
    }

    /// Moves a member to `room`; returns the room's normalised name.
    pub async fn join(&self, id: MemberId, room: &str) -> Result<Arc<str>, String> {
        ask(&self.tx, |reply| Msg::Join { id, room: room.to_string(), reply })
            .await
            .unwrap_or_else(|| Err(STOPPED.into()))
    }

    /// The member's room and who is in it.
    pub async fn who(&self, id: MemberId) -> (String, Vec<String>) {
        ask(&self.tx, |reply| Msg::Who { id, reply }).await.unwrap_or_default()
    }

    /// Rooms and their sizes.
    pub async fn rooms(&self) -> Vec<(String, usize)> {
        ask(&self.tx, |reply| Msg::Rooms { reply }).await.unwrap_or_default()
    }

    /// Sends a private message; returns the delivered event (for the sender's echo).
    pub async fn private(&self, id: MemberId, to: &str, text: &str) -> Result<Event, String> {
        ask(&self.tx, |reply| Msg::Private { id, to: to.to_string(), text: text.to_string(), reply })
            .await
            .unwrap_or_else(|| Err(STOPPED.into()))
    }

    /// Removes a member, telling its room why.
    pub fn leave(&self, id: MemberId, reason: &str) {
        let _ = self.tx.send(Msg::Leave { id, reason: reason.to_string() });
    }

    /// Stops the registry (after members have left).
    pub fn shutdown(&self) {
        let _ = self.tx.send(Msg::Shutdown);
    }
}

struct Member {
    nick: String,
    ip: IpAddr,
    room: Arc<str>,
}

struct Room {
    members: usize,
}

struct Registry {
    limits: Arc<ChatConfig>,
    fanout: Fanout,
    next_id: u64,
    members: HashMap<MemberId, Member>,
    nicks: HashMap<String, MemberId>,
    /// Nicks by what they look like ([`skeleton`]): one owner each.
    nick_looks: HashMap<String, MemberId>,
    per_ip: HashMap<IpAddr, usize>,
    rooms: BTreeMap<Arc<str>, Room>,
    /// Rooms by what they look like; the default room's look is reserved.
    room_looks: HashMap<String, Arc<str>>,
}

impl Registry {
    fn new(limits: Arc<ChatConfig>, fanout: Fanout) -> Self {
        Registry {
            limits,
            fanout,
            next_id: 1,
            members: HashMap::new(),
            nicks: HashMap::new(),
            nick_looks: HashMap::new(),
            per_ip: HashMap::new(),
            rooms: BTreeMap::new(),
            room_looks: HashMap::new(),
        }
    }

    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Msg>) {
        while let Some(msg) = rx.recv().await {
            match msg {
                Msg::Register { peer, sink, reply } => {
                    let _ = reply.send(self.register(peer, sink));
                }
                Msg::Nick { id, nick, reply } => {
                    let _ = reply.send(self.nick(id, &nick));
                }
                Msg::Join { id, room, reply } => {
                    let _ = reply.send(self.join(id, &room));
                }
                Msg::Who { id, reply } => {
                    let _ = reply.send(self.who(id));
                }
                Msg::Rooms { reply } => {
                    let _ = reply.send(self.rooms.iter().map(|(n, r)| (n.to_string(), r.members)).collect());
                }
                Msg::Private { id, to, text, reply } => {
                    let _ = reply.send(self.private(id, &to, text));
                }
                Msg::Leave { id, reason } => self.leave(id, &reason),
                Msg::Shutdown => break,
            }
        }
    }

    fn register(&mut self, peer: SocketAddr, sink: Sink) -> Result<Welcome, String> {
        if self.members.len() >= self.limits.max_members {
            return Err(format!("server full: {} members is the limit, try again later", self.limits.max_members));
        }
        // Counted per client: an IPv6 host may hold a whole /64.
        let ip = sockit_net::addr::client_key(peer.ip());
        let from_ip = self.per_ip.get(&ip).copied().unwrap_or(0);
        if from_ip >= self.limits.max_per_ip {
            return Err(format!("too many members from {ip}: {} is the limit per address", self.limits.max_per_ip));
        }
        let room_name = self.limits.default_room.clone();
        let room = self.enter(&room_name)?;
        let id = MemberId(self.next_id);
        self.next_id += 1;
        let nick = peer.to_string();
        *self.per_ip.entry(ip).or_insert(0) += 1;
        self.nicks.insert(nick_key(&nick), id);
        self.nick_looks.insert(skeleton(&nick), id);
        self.members.insert(id, Member { nick: nick.clone(), ip, room: room.clone() });
        // Placed before the notice goes out, so the member sees its own join.
        self.fanout.attach(id, room.clone(), sink);
        self.announce_member(&room, format!("{nick} joined {room}"));
        Ok(Welcome { id, nick, room })
    }

    /// Creates the room if needed and counts one more member.
    fn enter(&mut self, name: &str) -> Result<Arc<str>, String> {
        if !self.rooms.contains_key(name) {
            let look = skeleton(name);
            let default = &self.limits.default_room;
            if name != default.as_str() && look == skeleton(default) {
                return Err(format!("room name {name} looks like {default}; join {default}"));
            }
            if let Some(other) = self.room_looks.get(&look) {
                return Err(format!("room name {name} looks like {other}, which exists; join {other}"));
            }
            if self.rooms.len() >= self.limits.max_rooms {
                return Err(format!(
                    "too many rooms ({} is the limit); join an existing one (/rooms)",
                    self.limits.max_rooms
                ));
            }
            let key: Arc<str> = Arc::from(name);
            self.room_looks.insert(look, key.clone());
            self.rooms.insert(key, Room { members: 0 });
        }
        let key = self.rooms.get_key_value(name).map(|(k, _)| k.clone()).ok_or("room vanished")?;
        let room = self.rooms.get_mut(&key).ok_or("room vanished")?;
        room.members += 1;
        Ok(key)
    }

    fn exit(&mut self, name: &str) {
        if let Some(room) = self.rooms.get_mut(name) {
            room.members = room.members.saturating_sub(1);
            if room.members == 0 {
                self.rooms.remove(name);
                self.room_looks.remove(&skeleton(name));
            }
        }
    }

    fn announce(&self, room: &str, text: String) {
        if let Some((name, _)) = self.rooms.get_key_value(room) {
            self.fanout.publish(name, Shared::new(Event::notice(text).in_room(room), None));
        }
    }

    /// A join or leave notice, skipped in rooms above the announce limit.
    fn announce_member(&self, room: &str, text: String) {
        if self.rooms.get(room).is_some_and(|r| r.members <= self.limits.announce_limit) {
            self.announce(room, text);
        }
    }

    fn nick(&mut self, id: MemberId, wanted: &str) -> Result<String, String> {
        let wanted = validate_nick(wanted).map_err(|e| e.to_string())?;
        let key = nick_key(wanted);
        match self.nicks.get(&key) {
            Some(owner) if *owner != id => return Err(format!("nick {wanted} is taken")),
            _ => {}
        }
        let look = skeleton(wanted);
        if let Some(owner) = self.nick_looks.get(&look).filter(|o| **o != id) {
            let other = self.members.get(owner).map_or("another nick", |m| m.nick.as_str());
            return Err(format!("nick {wanted} looks like {other}, which is taken"));
        }
        let m = self.members.get_mut(&id).ok_or("you are not registered")?;
        let old = std::mem::replace(&mut m.nick, wanted.to_string());
        let room = m.room.clone();
        self.nicks.remove(&nick_key(&old));
        self.nick_looks.remove(&skeleton(&old));
        self.nicks.insert(key, id);
        self.nick_looks.insert(look, id);
        self.announce(&room, format!("{old} is now known as {wanted}"));
        Ok(old)
    }

    fn join(&mut self, id: MemberId, wanted: &str) -> Result<Arc<str>, String> {
        let name = normalize_room(wanted).map_err(|e| e.to_string())?;
        let (old, nick) = match self.members.get(&id) {
            Some(m) => (m.room.clone(), m.nick.clone()),
            None => return Err("you are not registered".into()),
        };
        if *old == *name {
            return Err(format!("you are already in {name}"));
        }
        let new = self.enter(&name)?;
        // Moved first: the member sees its join in the new room, not its
        // leaving notice in the old one.
        self.fanout.move_to(id, new.clone());
        self.announce_member(&old, format!("{nick} left {old} for {name}"));
        self.exit(&old);
        if let Some(m) = self.members.get_mut(&id) {
            m.room = new.clone();
        }
        self.announce_member(&name, format!("{nick} joined {name}"));
        Ok(new)
    }

    fn who(&self, id: MemberId) -> (String, Vec<String>) {
        let Some(me) = self.members.get(&id) else { return Default::default() };
        let mut nicks: Vec<String> =
            self.members.values().filter(|m| m.room == me.room).map(|m| m.nick.clone()).collect();
        nicks.sort_unstable();
        (me.room.to_string(), nicks)
    }

    fn private(&self, id: MemberId, to: &str, text: String) -> Result<Event, String> {
        let from = self.members.get(&id).ok_or("you are not registered")?;
        let target = self.nicks.get(&nick_key(to)).and_then(|t| Some((*t, self.members.get(t)?)));
        let Some((target_id, target)) = target else { return Err(format!("no such nick {to}")) };
        let mut event = Event::new(Kind::Private, text).by(&from.nick);
        event.to = Some(target.nick.clone());
        self.fanout.direct(target_id, Shared::new(event.clone(), Some(id)));
        Ok(event)
    }

    fn leave(&mut self, id: MemberId, reason: &str) {
        let Some(m) = self.members.remove(&id) else { return };
        self.nicks.remove(&nick_key(&m.nick));
        self.nick_looks.remove(&skeleton(&m.nick));
        if let Some(n) = self.per_ip.get_mut(&m.ip) {
            *n -= 1;
            if *n == 0 {
                self.per_ip.remove(&m.ip);
            }
        }
        self.exit(&m.room);
        self.announce_member(&m.room, format!("{} left ({reason})", m.nick));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fanout::ForwardTx;

    fn hub(max_per_ip: usize) -> Hub {
        let config = ChatConfig { max_per_ip, ..ChatConfig::default() };
        let fanout = Fanout::start(2, config.send_queue, config.batch_window);
        Hub::start(Arc::new(config), fanout)
    }

    fn peer(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    fn sink() -> (Sink, mpsc::UnboundedReceiver<Arc<Shared>>) {
        let (tx, rx): (ForwardTx, _) = mpsc::unbounded_channel();
        (Sink::Forward(tx), rx)
    }

    async fn next_text(rx: &mut mpsc::UnboundedReceiver<Arc<Shared>>) -> String {
        rx.recv().await.unwrap().event.text.clone()
    }

    #[tokio::test]
    async fn nicks_rooms_and_leaving() {
        let hub = hub(10);
        let (s1, mut r1) = sink();
        let (s2, mut r2) = sink();
        let a = hub.register(peer(1), s1).await.unwrap();
        assert_eq!(a.nick, "127.0.0.1:1");
        assert_eq!(next_text(&mut r1).await, "127.0.0.1:1 joined lobby");
        let b = hub.register(peer(2), s2).await.unwrap();
        assert_eq!(next_text(&mut r1).await, "127.0.0.1:2 joined lobby");
        assert_eq!(next_text(&mut r2).await, "127.0.0.1:2 joined lobby");
        assert_eq!(hub.nick(a.id, "Al").await.unwrap(), "127.0.0.1:1");
        assert_eq!(hub.nick(b.id, "al").await.unwrap_err(), "nick al is taken");
        assert!(hub.nick(b.id, "x y").await.is_err());
        assert_eq!(next_text(&mut r1).await, "127.0.0.1:1 is now known as Al");
        assert_eq!(next_text(&mut r2).await, "127.0.0.1:1 is now known as Al");
        let dev = hub.join(b.id, "#Dev").await.unwrap();
        assert_eq!(&*dev, "dev");
        assert_eq!(next_text(&mut r1).await, "127.0.0.1:2 left lobby for dev");
        // The mover sees its arrival, not its departure.
        assert_eq!(next_text(&mut r2).await, "127.0.0.1:2 joined dev");
        assert_eq!(hub.rooms().await, vec![("dev".to_string(), 1), ("lobby".to_string(), 1)]);
        assert_eq!(hub.who(a.id).await, ("lobby".to_string(), vec!["Al".to_string()]));
        let ev = hub.private(a.id, "127.0.0.1:2", "psst").await.unwrap();
        assert_eq!(ev.to.as_deref(), Some("127.0.0.1:2"));
        assert_eq!(next_text(&mut r2).await, "psst");
        hub.leave(b.id, "quit");
        assert_eq!(hub.rooms().await, vec![("lobby".to_string(), 1)]);
        assert!(hub.private(a.id, "127.0.0.1:2", "gone?").await.is_err());
    }

    #[tokio::test]
    async fn look_alike_nicks_and_rooms_are_refused() {
        let hub = hub(10);
        let a = hub.register(peer(1), sink().0).await.unwrap();
        let b = hub.register(peer(2), sink().0).await.unwrap();
        hub.nick(a.id, "ace").await.unwrap();
        // All-Cyrillic асе passes the script rules but looks like ace.
        assert_eq!(hub.nick(b.id, "асе").await.unwrap_err(), "nick асе looks like ace, which is taken");
        hub.nick(a.id, "ace2").await.unwrap();
        hub.nick(b.id, "асе").await.unwrap();
        assert_eq!(hub.join(a.id, "1obby").await.unwrap_err(), "room name 1obby looks like lobby; join lobby");
        hub.join(a.id, "r00m").await.unwrap();
        assert_eq!(
            hub.join(b.id, "room").await.unwrap_err(),
            "room name room looks like r00m, which exists; join r00m"
        );
        hub.join(a.id, "dev").await.unwrap();
        assert_eq!(hub.join(b.id, "dеv").await.unwrap_err().split(':').next(), Some("bad room name \"dеv\""));
        hub.leave(b.id, "quit");
        // The look is released with the nick.
        hub.nick(a.id, "асе").await.unwrap();
    }

    #[tokio::test]
    async fn per_ip_limit_counts_ipv6_per_64() {
        let hub = hub(1);
        let v6 = |s: &str| SocketAddr::new(s.parse().unwrap(), 1);
        hub.register(v6("2001:db8::1"), sink().0).await.unwrap();
        let err = hub.register(v6("2001:db8::ffff:2"), sink().0).await.unwrap_err();
        assert_eq!(err, "too many members from 2001:db8::: 1 is the limit per address");
        assert!(hub.register(v6("2001:db8:0:1::1"), sink().0).await.is_ok());
    }

    #[tokio::test]
    async fn per_ip_limit_and_release() {
        let hub = hub(1);
        let a = hub.register(peer(1), sink().0).await.unwrap();
        let err = hub.register(peer(2), sink().0).await.unwrap_err();
        assert_eq!(err, "too many members from 127.0.0.1: 1 is the limit per address");
        hub.leave(a.id, "quit");
        assert!(hub.register(peer(3), sink().0).await.is_ok());
    }
}

//! The registry's state and its member-wide requests: register, nick,
//! away, private messages, whois/who/list, leave. Room requests are in
//! [`super::channel`].

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::Arc;

use super::error::{ErrorCode, HubError};
use super::member::{Activity, Member};
use super::room::{cut, Modes, Room, MAX_REASON};
use super::{MemberInfo, Membership, Registration, RoomFlags, RoomSummary, Seated, Stats, Welcome, WhoEntry};
use crate::cluster::bus::Bus;
use crate::config::ChatConfig;
use crate::event::irc::Relay;
use crate::event::{now_ms, Event, Kind, MemberId, Shared};
use crate::fanout::Fanout;
use crate::notice;
use crate::text::{nick_key, normalize_room, skeleton, validate_nick};

pub(crate) struct Registry {
    pub(super) cfg: Arc<ChatConfig>,
    pub(super) fanout: Fanout,
    /// On a cluster node: told when a room gets its first local member
    /// and loses its last (the node subscribes to the room meanwhile).
    pub(super) bus: Option<Bus>,
    next_id: u64,
    pub(super) members: HashMap<MemberId, Member>,
    pub(super) nicks: HashMap<String, MemberId>,
    /// Nicks by what they look like ([`skeleton`]): one owner each.
    nick_looks: HashMap<String, MemberId>,
    per_ip: HashMap<IpAddr, usize>,
    /// The most members at once.
    peak: usize,
    pub(super) rooms: BTreeMap<Arc<str>, Room>,
    /// Rooms by what they look like; the default room's look is reserved.
    pub(super) room_looks: HashMap<String, Arc<str>>,
    /// Woken when members, nicks or rooms change, so this node's presence
    /// in the cluster is rewritten ([`super::remote`]); `None`: one node.
    pub(super) dirty: Option<Arc<tokio::sync::Notify>>,
}

impl Registry {
    pub(super) fn new(cfg: Arc<ChatConfig>, fanout: Fanout, bus: Option<Bus>) -> Self {
        let mut r = Registry {
            cfg,
            fanout,
            bus,
            next_id: 1,
            members: HashMap::new(),
            nicks: HashMap::new(),
            nick_looks: HashMap::new(),
            per_ip: HashMap::new(),
            peak: 0,
            rooms: BTreeMap::new(),
            room_looks: HashMap::new(),
            dirty: None,
        };
        // The default room exists from the start, owned by nobody. It is
        // `+n` but not `+t`: with no operator a locked topic could never
        // be set.
        let lobby: Arc<str> = Arc::from(r.cfg.default_room.as_str());
        let modes = Modes { no_outside: true, ..Modes::default() };
        r.room_looks.insert(skeleton(&lobby), lobby.clone());
        r.rooms.insert(lobby.clone(), Room::new(modes, true));
        r
    }

    /// Tells the cluster side (if any) that membership changed.
    pub(super) fn changed(&self) {
        if let Some(d) = &self.dirty {
            d.notify_one();
        }
    }

    pub(super) fn member(&self, id: MemberId) -> Result<&Member, HubError> {
        self.members.get(&id).ok_or_else(HubError::not_registered)
    }

    pub(super) fn id_of(&self, nick: &str) -> Result<MemberId, HubError> {
        self.nicks.get(&nick_key(nick)).copied().ok_or_else(|| HubError::no_such_nick(nick))
    }

    /// A room's stored name from what a member typed (`#Dev` → `dev`).
    pub(super) fn room_name(&self, wanted: &str) -> Result<Arc<str>, HubError> {
        let name = normalize_room(wanted).map_err(|e| HubError::new(ErrorCode::NoSuchChannel, e.to_string()))?;
        self.rooms.get_key_value(name.as_str()).map(|(k, _)| k.clone()).ok_or_else(|| HubError::no_such_room(&name))
    }

    pub(super) fn register(&mut self, reg: Registration) -> Result<Welcome, HubError> {
        self.register_as(reg, None)
    }

    /// [`Registry::register`] with the default nick given (a node of a
    /// cluster picks one no other node holds); `None`: `ip:port`.
    pub(super) fn register_as(&mut self, reg: Registration, default: Option<String>) -> Result<Welcome, HubError> {
        if self.members.len() >= self.cfg.max_members {
            return Err(HubError::new(
                ErrorCode::ServerFull,
                format!("server full: {} members is the limit, try again later", self.cfg.max_members),
            ));
        }
        // Counted per client: an IPv6 host may hold a whole /64.
        let ip = sockit_net::addr::client_key(reg.peer.ip());
        let from_ip = self.per_ip.get(&ip).copied().unwrap_or(0);
        if from_ip >= self.cfg.max_per_ip {
            return Err(HubError::new(
                ErrorCode::ServerFull,
                format!("too many members from {ip}: {} is the limit per address", self.cfg.max_per_ip),
            ));
        }
        let nick = match &reg.nick {
            Some(wanted) => self.check_nick(None, wanted)?.to_string(),
            None => default.unwrap_or_else(|| reg.peer.to_string()),
        };
        let id = MemberId(self.next_id);
        self.next_id += 1;
        *self.per_ip.entry(ip).or_insert(0) += 1;
        self.nicks.insert(nick_key(&nick), id);
        self.nick_looks.insert(skeleton(&nick), id);
        let activity = Activity::new();
        let userhost: Arc<str> = Arc::from(format!("{}@{}", reg.ident.user, reg.ident.host));
        self.members.insert(
            id,
            Member {
                nick: nick.clone(),
                ip,
                ident: reg.ident,
                userhost: userhost.clone(),
                transport: reg.transport,
                connected_at: now_ms(),
                activity: activity.clone(),
                rooms: Vec::new(),
                current: None,
                away: None,
            },
        );
        self.peak = self.peak.max(self.members.len());
        self.changed();
        self.fanout.attach_styled(id, reg.sink, reg.style);
        let room = if reg.land {
            let lobby: Arc<str> = Arc::from(self.cfg.default_room.as_str());
            // The default room always exists and takes anyone (it has no
            // operator to set modes), so this cannot fail but for a limit
            // set to zero.
            match self.seat(id, &lobby, false) {
                Ok(gate) => Some(Seated { room: lobby, gate }),
                Err(e) => {
                    self.leave(id, "");
                    return Err(e);
                }
            }
        } else {
            None
        };
        Ok(Welcome { id, nick, room, activity, userhost })
    }

    /// `ev` marked as caused by member `id` (its `user@host`, for IRC sources).
    pub(super) fn stamp(&self, id: MemberId, mut ev: Event) -> Event {
        ev.userhost = self.members.get(&id).map(|m| m.userhost.clone());
        ev
    }

    pub(super) fn stats(&self) -> Stats {
        Stats { members: self.members.len(), peak: self.peak, rooms: self.rooms.len() }
    }

    /// `wanted` if member `id` (or a new member, `None`) may take it as its
    /// nick: valid, not taken, not a look-alike of one taken.
    pub(super) fn check_nick<'a>(&self, id: Option<MemberId>, wanted: &'a str) -> Result<&'a str, HubError> {
        let wanted = validate_nick(wanted).map_err(|e| HubError::new(ErrorCode::ErroneousNick, e.to_string()))?;
        if self.nicks.get(&nick_key(wanted)).is_some_and(|owner| Some(*owner) != id) {
            return Err(HubError::new(ErrorCode::NickInUse, format!("nick {wanted} is taken")));
        }
        if let Some(owner) = self.nick_looks.get(&skeleton(wanted)).filter(|o| Some(**o) != id) {
            let other = self.members.get(owner).map_or("another nick", |m| m.nick.as_str());
            return Err(HubError::new(
                ErrorCode::NickInUse,
                format!("nick {wanted} looks like {other}, which is taken"),
            ));
        }
        Ok(wanted)
    }

    /// Publishes `ev` to `room`.
    pub(super) fn announce(&self, room: &Arc<str>, ev: Event) {
        self.fanout.publish(room, Shared::new(ev, None));
    }

    /// Tells the other nodes' members of `room` of `ev` (a join or part of
    /// a local member), on a cluster node.
    pub(super) fn relay(&self, room: &Arc<str>, ev: &Event) {
        if let Some(bus) = &self.bus {
            bus.relay(std::slice::from_ref(room), ev);
        }
    }

    /// Whether joins, parts, quits and away changes are told in `room`.
    pub(super) fn announced(&self, room: &str) -> bool {
        self.rooms.get(room).is_some_and(|r| r.seats.len() <= self.cfg.announce_limit)
    }

    /// Sends `ev` once to everyone sharing a room with member `id`: itself
    /// included (alone, if it is in no room) unless `own` (then the event
    /// counts as its own, which it is told of by its reply). Rooms above
    /// the announce limit are skipped when `only_announced`.
    fn tell_neighbours(&self, id: MemberId, ev: Event, only_announced: bool, own: bool) {
        let Some(m) = self.members.get(&id) else { return };
        let rooms: Vec<Arc<str>> = m.rooms.iter().filter(|r| !only_announced || self.announced(r)).cloned().collect();
        let event = self.stamp(id, ev);
        if let Some(bus) = &self.bus {
            bus.relay(&rooms, &event);
        }
        let ev = Shared::new(event, own.then_some(id));
        if m.rooms.is_empty() {
            if !own {
                self.fanout.direct(id, ev);
            }
        } else {
            self.fanout.publish_to_rooms(rooms.into(), ev);
        }
    }

    pub(super) fn nick(&mut self, id: MemberId, wanted: &str) -> Result<String, HubError> {
        let wanted = self.check_nick(Some(id), wanted)?;
        let (key, look) = (nick_key(wanted), skeleton(wanted));
        let m = self.members.get_mut(&id).ok_or_else(HubError::not_registered)?;
        let old = std::mem::replace(&mut m.nick, wanted.to_string());
        self.nicks.remove(&nick_key(&old));
        self.nick_looks.remove(&skeleton(&old));
        self.nicks.insert(key, id);
        self.nick_looks.insert(look, id);
        // A new nick may match a ban, or stop matching one.
        let rooms = m.rooms.clone();
        for room in &rooms {
            self.refresh_gate(room, id);
        }
        self.tell_neighbours(id, notice::nick(&old, wanted), false, false);
        self.changed();
        Ok(old)
    }

    pub(super) fn away(&mut self, id: MemberId, text: Option<&str>) -> Result<(), HubError> {
        let m = self.members.get_mut(&id).ok_or_else(HubError::not_registered)?;
        let text = text.map(|t| cut(t, MAX_REASON)).filter(|t| !t.is_empty());
        if m.away == text {
            return Ok(());
        }
        m.away = text.clone();
        let ev = notice::away(&m.nick, text.as_deref());
        self.changed();
        self.tell_neighbours(id, ev, true, true);
        Ok(())
    }

    pub(super) fn private(
        &self,
        id: MemberId,
        to: &str,
        text: String,
        relay: Option<Box<Relay>>,
    ) -> Result<(Event, Option<String>), HubError> {
        let from = self.member(id)?;
        let target_id = self.id_of(to)?;
        let target = self.member(target_id).map_err(|_| HubError::no_such_nick(to))?;
        let mut event = Event::new(Kind::Private, text).by(&from.nick);
        event.to = Some(target.nick.clone());
        event.userhost = Some(from.userhost.clone());
        event.relay = relay;
        self.fanout.direct(target_id, Shared::new(event.clone(), Some(id)));
        Ok((event, target.away.clone()))
    }

    pub(super) fn membership(&self, id: MemberId) -> Membership {
        let Some(m) = self.members.get(&id) else { return Membership::default() };
        let rooms = m
            .rooms
            .iter()
            .filter_map(|r| {
                let seat = self.rooms.get(r)?.seats.get(&id)?;
                Some(Seated { room: r.clone(), gate: seat.gate.clone() })
            })
            .collect();
        Membership { rooms, current: m.current.clone() }
    }

    pub(super) fn whois(&self, nick: &str) -> Result<MemberInfo, HubError> {
        let id = self.id_of(nick)?;
        let m = self.member(id)?;
        let rooms = m
            .rooms
            .iter()
            .filter_map(|r| {
                let seat = self.rooms.get(r)?.seats.get(&id)?;
                Some(RoomFlags { room: r.clone(), op: seat.op, voice: seat.voice })
            })
            .collect();
        Ok(MemberInfo {
            nick: m.nick.clone(),
            ident: m.ident.clone(),
            transport: m.transport,
            rooms,
            away: m.away.clone(),
            connected_at: m.connected_at,
            last_active: m.activity.last(),
        })
    }

    pub(super) fn who(&self, target: &str) -> Vec<WhoEntry> {
        let entry = |id: &MemberId, room: Option<&Arc<str>>| {
            let m = self.members.get(id)?;
            let seat = room.and_then(|r| self.rooms.get(r)?.seats.get(id));
            Some(WhoEntry {
                nick: m.nick.clone(),
                ident: m.ident.clone(),
                room: room.cloned(),
                op: seat.is_some_and(|s| s.op),
                voice: seat.is_some_and(|s| s.voice),
                away: m.away.is_some(),
            })
        };
        if let Ok(room) = self.room_name(target) {
            let Some(r) = self.rooms.get(&room) else { return Vec::new() };
            let mut list: Vec<WhoEntry> = r.seats.keys().filter_map(|id| entry(id, Some(&room))).collect();
            list.sort_by_cached_key(|e| nick_key(&e.nick));
            return list;
        }
        match self.nicks.get(&nick_key(target)) {
            Some(id) => entry(id, self.members.get(id).and_then(|m| m.rooms.first())).into_iter().collect(),
            None => Vec::new(),
        }
    }

    pub(super) fn list(&self) -> Vec<RoomSummary> {
        self.rooms
            .iter()
            .map(|(name, r)| RoomSummary {
                name: name.clone(),
                members: r.seats.len(),
                topic: r.topic.as_ref().map(|t| t.text.clone()),
            })
            .collect()
    }

    pub(super) fn leave(&mut self, id: MemberId, reason: &str) {
        let Some(m) = self.members.get(&id) else { return };
        let reason = cut(reason, MAX_REASON);
        // Told before the member's seats go, so the rooms are still known;
        // the member itself was taken off its shard already.
        if !m.rooms.is_empty() {
            self.tell_neighbours(id, notice::quit(&m.nick, &reason), true, false);
        }
        let Some(m) = self.members.remove(&id) else { return };
        self.nicks.remove(&nick_key(&m.nick));
        self.nick_looks.remove(&skeleton(&m.nick));
        if let Some(n) = self.per_ip.get_mut(&m.ip) {
            *n -= 1;
            if *n == 0 {
                self.per_ip.remove(&m.ip);
            }
        }
        for room in &m.rooms {
            self.unseat(id, room);
        }
        for r in self.rooms.values_mut() {
            r.invites.remove(&id);
        }
        self.fanout.forget(id);
        self.changed();
    }
}

//! Room requests: join, part, current room, topic, kick, modes (ops,
//! voice, bans, keys, limits), invitations, names, and whether a member
//! may send to a room.

use std::sync::Arc;

use sockit_net::text::escape_untrusted;

use super::error::{ErrorCode, HubError};
use super::member::Gate;
use super::mode::{render_changes, Mode, ModeChange};
use super::registry::Registry;
use super::room::{cut, normalize_mask, Ban, Modes, Room, Seat, Topic, MAX_BANS, MAX_KEY, MAX_REASON, MAX_TOPIC};
use super::{JoinInfo, ModeInfo, ModeOutcome, Names};
use crate::event::{now_ms, MemberId, NameEntry, Shared};
use crate::notice;
use crate::text::{nick_key, normalize_room, skeleton};

impl Registry {
    /// Seats member `id` in existing room `name` (its operator if `op`),
    /// makes it current, places it on its shard and tells the room.
    pub(super) fn seat(&mut self, id: MemberId, name: &Arc<str>, op: bool) -> Result<Gate, HubError> {
        let max = self.cfg.max_rooms_per_member;
        let m = self.members.get_mut(&id).ok_or_else(HubError::not_registered)?;
        if m.rooms.len() >= max {
            return Err(HubError::too_many_rooms(max));
        }
        let room = self.rooms.get_mut(name).ok_or_else(|| HubError::no_such_room(name))?;
        let seat = Seat { op, voice: false, gate: Gate::new(false) };
        seat.gate.set(room.may_speak(&seat, &m.mask()));
        let gate = seat.gate.clone();
        room.seats.insert(id, seat);
        room.invites.remove(&id);
        if room.seats.len() == 1 {
            if let Some(bus) = &self.bus {
                bus.watch(name.clone());
            }
        }
        m.rooms.push(name.clone());
        m.current = Some(name.clone());
        let nick = m.nick.clone();
        self.changed();
        // Placed before the notice goes out, so the member sees its own join.
        self.fanout.join(id, name.clone());
        let ev = self.stamp(id, notice::join(name, &nick));
        if self.announced(name) {
            self.relay(name, &ev);
            self.announce(name, ev);
        } else {
            // Told to the member alone: an IRC client opens its window on it.
            self.fanout.direct(id, Shared::new(ev, None));
        }
        Ok(gate)
    }

    /// Takes member `id` out of room `name` (no notice), closing its gate;
    /// an empty room goes, unless it is the default room.
    pub(super) fn unseat(&mut self, id: MemberId, name: &Arc<str>) {
        if let Some(m) = self.members.get_mut(&id) {
            m.rooms.retain(|r| r != name);
            if m.current.as_ref() == Some(name) {
                m.current = m.rooms.last().cloned();
            }
        }
        self.fanout.part(id, name.clone());
        self.changed();
        let Some(room) = self.rooms.get_mut(name) else { return };
        if let Some(seat) = room.seats.remove(&id) {
            seat.gate.close();
            if room.seats.is_empty() {
                if let Some(bus) = &self.bus {
                    bus.unwatch(name.clone());
                }
            }
        }
        if room.seats.is_empty() && !room.persistent {
            self.rooms.remove(name);
            self.room_looks.remove(&skeleton(name));
        }
    }

    /// Sets member `id`'s gate in room `name` from the room's modes, bans
    /// and the member's flags.
    pub(super) fn refresh_gate(&self, name: &str, id: MemberId) {
        let (Some(room), Some(m)) = (self.rooms.get(name), self.members.get(&id)) else { return };
        if let Some(seat) = room.seats.get(&id) {
            seat.gate.set(room.may_speak(seat, &m.mask()));
        }
    }

    fn refresh_gates(&self, name: &str) {
        let Some(room) = self.rooms.get(name) else { return };
        for (id, seat) in &room.seats {
            if let Some(m) = self.members.get(id) {
                seat.gate.set(room.may_speak(seat, &m.mask()));
            }
        }
    }

    /// Makes room `name`, checking its look and the room limit.
    fn create(&mut self, name: &str) -> Result<Arc<str>, HubError> {
        let look = skeleton(name);
        let default = &self.cfg.default_room;
        if name != default.as_str() && look == skeleton(default) {
            return Err(HubError::new(
                ErrorCode::Other,
                format!("room name {name} looks like {default}; join {default}"),
            ));
        }
        if let Some(other) = self.room_looks.get(&look) {
            return Err(HubError::new(
                ErrorCode::Other,
                format!("room name {name} looks like {other}, which exists; join {other}"),
            ));
        }
        if self.rooms.len() >= self.cfg.max_rooms {
            return Err(HubError::new(
                ErrorCode::Other,
                format!("too many rooms ({} is the limit); join an existing one (/rooms)", self.cfg.max_rooms),
            ));
        }
        let key: Arc<str> = Arc::from(name);
        self.room_looks.insert(look, key.clone());
        // New rooms are `+nt`, as on IRC servers.
        let modes = Modes { topic_lock: true, no_outside: true, ..Modes::default() };
        self.rooms.insert(key.clone(), Room::new(modes, false));
        Ok(key)
    }

    fn names_of(&self, room: &Room) -> Vec<NameEntry> {
        let mut names: Vec<NameEntry> = room
            .seats
            .iter()
            .filter_map(|(id, s)| {
                Some(NameEntry { nick: self.members.get(id)?.nick.clone(), op: s.op, voice: s.voice })
            })
            .collect();
        names.sort_by_cached_key(|n| nick_key(&n.nick));
        names
    }

    pub(super) fn join(&mut self, id: MemberId, wanted: &str, key: Option<&str>) -> Result<JoinInfo, HubError> {
        let name = normalize_room(wanted).map_err(|e| HubError::new(ErrorCode::NoSuchChannel, e.to_string()))?;
        let m = self.member(id)?;
        if let Some(room) = m.rooms.iter().find(|r| ***r == *name).cloned() {
            let r = self.rooms.get(&room).ok_or_else(|| HubError::no_such_room(&room))?;
            let gate = r.seats.get(&id).map(|s| s.gate.clone()).ok_or_else(|| HubError::not_in(&room))?;
            let info = JoinInfo {
                room: room.clone(),
                topic: r.topic.clone(),
                names: Vec::new(),
                created_at: r.created_at,
                gate,
                fresh: false,
            };
            if let Some(m) = self.members.get_mut(&id) {
                m.current = Some(room);
            }
            return Ok(info);
        }
        let max = self.cfg.max_rooms_per_member;
        if m.rooms.len() >= max {
            return Err(HubError::too_many_rooms(max));
        }
        let mask = m.mask();
        let existing = self.rooms.get_key_value(name.as_str()).map(|(k, r)| (k.clone(), r));
        let (room, op) = match existing {
            Some((room, r)) => {
                let invited = r.invites.contains(&id);
                if r.banned(&mask) && !invited {
                    return Err(HubError::new(ErrorCode::BannedFromChan, format!("you are banned from {room}")));
                }
                if r.modes.invite_only && !invited {
                    return Err(HubError::new(
                        ErrorCode::InviteOnlyChan,
                        format!("{room} is invite-only (+i): ask an operator for /invite"),
                    ));
                }
                if r.modes.key.is_some() && r.modes.key.as_deref() != key {
                    return Err(HubError::new(
                        ErrorCode::BadChannelKey,
                        format!("{room} needs the right key (+k): /join {room} KEY"),
                    ));
                }
                if let Some(limit) = r.modes.limit.filter(|l| r.seats.len() >= *l) {
                    return Err(HubError::new(ErrorCode::ChannelIsFull, format!("{room} is full (+l {limit})")));
                }
                (room, false)
            }
            // Whoever makes a room runs it.
            None => (self.create(&name)?, true),
        };
        let gate = self.seat(id, &room, op)?;
        let r = self.rooms.get(&room).ok_or_else(|| HubError::no_such_room(&room))?;
        Ok(JoinInfo {
            room: room.clone(),
            topic: r.topic.clone(),
            names: self.names_of(r),
            created_at: r.created_at,
            gate,
            fresh: true,
        })
    }

    /// The room `wanted` names, which member `id` must be in.
    fn joined(&self, id: MemberId, wanted: &str) -> Result<Arc<str>, HubError> {
        let room = self.room_name(wanted)?;
        if !self.member(id)?.is_in(&room) {
            return Err(HubError::not_in(&room));
        }
        Ok(room)
    }

    /// The room `wanted` names, in which member `id` must be an operator.
    fn run_by(&self, id: MemberId, wanted: &str) -> Result<Arc<str>, HubError> {
        let room = self.joined(id, wanted)?;
        if !self.rooms.get(&room).is_some_and(|r| r.is_op(id)) {
            return Err(HubError::op_needed(&room));
        }
        Ok(room)
    }

    pub(super) fn part(&mut self, id: MemberId, wanted: &str, reason: &str) -> Result<Option<Arc<str>>, HubError> {
        let room = self.joined(id, wanted)?;
        let nick = self.member(id)?.nick.clone();
        let ev = self.stamp(id, notice::part(&room, &nick, &escape_untrusted(&cut(reason, MAX_REASON))));
        if self.announced(&room) {
            self.relay(&room, &ev);
            // Before the member is taken off: it sees its own part.
            self.announce(&room, ev);
        } else {
            self.fanout.direct(id, Shared::new(ev, None));
        }
        self.unseat(id, &room);
        Ok(self.member(id)?.current.clone())
    }

    pub(super) fn set_current(&mut self, id: MemberId, wanted: &str) -> Result<Arc<str>, HubError> {
        let room = self.joined(id, wanted)?;
        if let Some(m) = self.members.get_mut(&id) {
            m.current = Some(room.clone());
        }
        Ok(room)
    }

    pub(super) fn topic(&mut self, id: MemberId, wanted: &str, new: Option<&str>) -> Result<Option<Topic>, HubError> {
        let Some(text) = new else {
            let room = self.room_name(wanted)?;
            return Ok(self.rooms.get(&room).and_then(|r| r.topic.clone()));
        };
        let room = self.joined(id, wanted)?;
        let nick = self.member(id)?.nick.clone();
        let r = self.rooms.get_mut(&room).ok_or_else(|| HubError::no_such_room(&room))?;
        if r.modes.topic_lock && !r.is_op(id) {
            return Err(HubError::new(
                ErrorCode::ChanOpNeeded,
                format!("you are not an operator of {room} (+t: only operators set the topic)"),
            ));
        }
        let text = escape_untrusted(&cut(text.trim(), MAX_TOPIC)).into_owned();
        r.topic = (!text.is_empty()).then(|| Topic { text: text.clone(), set_by: nick.clone(), set_at: now_ms() });
        let topic = r.topic.clone();
        self.announce(&room, self.stamp(id, notice::topic(&room, &nick, &text)));
        Ok(topic)
    }

    pub(super) fn kick(&mut self, id: MemberId, wanted: &str, nick: &str, reason: &str) -> Result<(), HubError> {
        let room = self.run_by(id, wanted)?;
        let target = self.id_of(nick)?;
        let target_nick = self.member(target)?.nick.clone();
        if !self.member(target)?.is_in(&room) {
            return Err(HubError::they_are_not_in(&target_nick, &room));
        }
        let by = self.member(id)?.nick.clone();
        let reason = escape_untrusted(&cut(reason, MAX_REASON)).into_owned();
        // Told before the target is taken off, so it sees why.
        self.announce(&room, self.stamp(id, notice::kick(&room, &by, &target_nick, &reason)));
        self.unseat(target, &room);
        Ok(())
    }

    pub(super) fn mode(
        &mut self,
        id: MemberId,
        wanted: &str,
        changes: Vec<ModeChange>,
    ) -> Result<ModeOutcome, HubError> {
        let room = self.run_by(id, wanted)?;
        let mut out = ModeOutcome::default();
        let by = self.member(id)?.nick.clone();
        for change in changes {
            match self.apply(&room, &by, change) {
                Ok(Some(applied)) => out.applied.push(applied),
                Ok(None) => {}
                Err(e) => out.errors.push(e),
            }
        }
        if !out.applied.is_empty() {
            self.refresh_gates(&room);
            self.changed();
            self.announce(&room, self.stamp(id, notice::mode(&room, &by, &render_changes(&out.applied))));
        }
        Ok(out)
    }

    /// One mode change; `None` when it changes nothing (already so, or a
    /// ban-list query, which is [`Registry::bans`]).
    fn apply(&mut self, room: &Arc<str>, by: &str, c: ModeChange) -> Result<Option<ModeChange>, HubError> {
        let arg = c.arg.clone().unwrap_or_default();
        let target = match c.mode {
            Mode::Op | Mode::Voice => {
                let t = self.id_of(&arg)?;
                Some((t, self.member(t)?.nick.clone()))
            }
            _ => None,
        };
        let r = self.rooms.get_mut(room).ok_or_else(|| HubError::no_such_room(room))?;
        let changed = match c.mode {
            Mode::Op | Mode::Voice => {
                let Some((t, nick)) = target else { return Ok(None) };
                let seat = r.seats.get_mut(&t).ok_or_else(|| HubError::they_are_not_in(&nick, room))?;
                let flag = if c.mode == Mode::Op { &mut seat.op } else { &mut seat.voice };
                let was = std::mem::replace(flag, c.add);
                return Ok((was != c.add).then(|| ModeChange::with(c.add, c.mode, &nick)));
            }
            Mode::Ban => {
                let Some(raw) = c.arg.as_deref() else { return Ok(None) };
                let mask = normalize_mask(raw).ok_or_else(|| {
                    HubError::new(
                        ErrorCode::Other,
                        format!("bad ban mask {}: use nick!user@host with * and ?", escape_untrusted(raw)),
                    )
                })?;
                let at = r.bans.iter().position(|b| b.mask == mask);
                let changed = match (c.add, at) {
                    (true, None) => {
                        if r.bans.len() >= MAX_BANS {
                            return Err(HubError::new(
                                ErrorCode::Other,
                                format!("the ban list of {room} is full ({MAX_BANS} masks): /unban one first"),
                            ));
                        }
                        r.bans.push(Ban { mask: mask.clone(), set_by: by.to_string(), set_at: now_ms() });
                        true
                    }
                    (false, Some(i)) => {
                        r.bans.remove(i);
                        true
                    }
                    _ => false,
                };
                return Ok(changed.then(|| ModeChange::with(c.add, Mode::Ban, &mask)));
            }
            Mode::Key if c.add => {
                if r.modes.key.is_some() {
                    return Err(HubError::new(ErrorCode::KeySet, format!("{room} already has a key (-k first)")));
                }
                let ok = !arg.is_empty()
                    && arg.chars().count() <= MAX_KEY
                    && !arg.chars().any(|ch| ch.is_whitespace() || ch.is_control() || ch == ',');
                if !ok {
                    return Err(HubError::new(
                        ErrorCode::Other,
                        format!("bad key: 1-{MAX_KEY} characters, no spaces or commas"),
                    ));
                }
                r.modes.key = Some(arg.clone());
                true
            }
            Mode::Key => r.modes.key.take().is_some(),
            Mode::Limit if c.add => {
                let n = arg
                    .parse::<usize>()
                    .ok()
                    .filter(|n| *n >= 1)
                    .ok_or_else(|| HubError::new(ErrorCode::Other, "+l needs a number of members, 1 or more"))?;
                r.modes.limit.replace(n) != Some(n)
            }
            Mode::Limit => r.modes.limit.take().is_some(),
            Mode::TopicLock => std::mem::replace(&mut r.modes.topic_lock, c.add) != c.add,
            Mode::Moderated => std::mem::replace(&mut r.modes.moderated, c.add) != c.add,
            Mode::NoOutside => std::mem::replace(&mut r.modes.no_outside, c.add) != c.add,
            Mode::InviteOnly => std::mem::replace(&mut r.modes.invite_only, c.add) != c.add,
        };
        Ok(changed.then_some(c))
    }

    pub(super) fn mode_query(&self, id: MemberId, wanted: &str) -> Result<ModeInfo, HubError> {
        let room = self.room_name(wanted)?;
        let r = self.rooms.get(&room).ok_or_else(|| HubError::no_such_room(&room))?;
        let member = self.member(id).is_ok_and(|m| m.is_in(&room));
        Ok(ModeInfo { modes: r.modes.render(member), created_at: r.created_at })
    }

    pub(super) fn bans(&self, wanted: &str) -> Result<Vec<Ban>, HubError> {
        let room = self.room_name(wanted)?;
        Ok(self.rooms.get(&room).map(|r| r.bans.clone()).unwrap_or_default())
    }

    pub(super) fn invite(&mut self, id: MemberId, nick: &str, wanted: &str) -> Result<String, HubError> {
        let room = self.joined(id, wanted)?;
        let target = self.id_of(nick)?;
        let target_nick = self.member(target)?.nick.clone();
        if self.member(target)?.is_in(&room) {
            return Err(HubError::new(ErrorCode::UserOnChannel, format!("{target_nick} is already in {room}")));
        }
        let by = self.member(id)?.nick.clone();
        let r = self.rooms.get_mut(&room).ok_or_else(|| HubError::no_such_room(&room))?;
        if r.modes.invite_only && !r.is_op(id) {
            return Err(HubError::new(
                ErrorCode::ChanOpNeeded,
                format!("you are not an operator of {room} (+i: only operators invite)"),
            ));
        }
        r.invites.insert(target);
        self.fanout.direct(target, Shared::new(self.stamp(id, notice::invite(&room, &by, &target_nick)), Some(id)));
        Ok(target_nick)
    }

    pub(super) fn names(&self, wanted: &str) -> Result<Names, HubError> {
        let room = self.room_name(wanted)?;
        let r = self.rooms.get(&room).ok_or_else(|| HubError::no_such_room(&room))?;
        Ok(Names { room: room.clone(), topic: r.topic.clone(), names: self.names_of(r) })
    }

    pub(super) fn check_send(&self, id: MemberId, wanted: &str) -> Result<Arc<str>, HubError> {
        let room = self.room_name(wanted)?;
        let m = self.member(id)?;
        let r = self.rooms.get(&room).ok_or_else(|| HubError::no_such_room(&room))?;
        let refuse =
            |why: &str| Err(HubError::new(ErrorCode::CannotSendToChan, format!("you cannot speak in {room} ({why})")));
        match r.seats.get(&id) {
            Some(seat) if seat.gate.may_speak() => Ok(room.clone()),
            Some(_) if r.modes.moderated => refuse("+m: ask an operator for voice"),
            Some(_) => refuse("you are banned"),
            None if r.modes.no_outside => refuse("+n: join it first"),
            None if r.modes.moderated => refuse("+m: ask an operator for voice"),
            None if r.banned(&m.mask()) => refuse("you are banned"),
            None => Ok(room.clone()),
        }
    }
}

//! An IRC member's channel commands: JOIN, PART, TOPIC, NAMES, LIST, KICK,
//! INVITE and MODE, each one hub request per channel (or target), its
//! failures answered with the numeric [`super::reply::numeric_of`] names.
//!
//! The room's own lines (JOIN, PART, TOPIC, MODE, KICK) come from the hub
//! through the shard; what a command answers the member alone (332, 353,
//! 324 …) follows them, as the shard keeps one order per member.

use std::sync::Arc;

use super::client::Client;
use super::message::Message;
use super::nick::{from_irc, to_irc};
use super::numeric::*;
use super::reply::Ctx;
use crate::hub::{parse_modes, ErrorCode, Mode, Seated};
use crate::text::normalize_room;

/// Milliseconds since the epoch as IRC's seconds.
fn secs(ms: i64) -> String {
    (ms / 1000).to_string()
}

/// The prefix of a member in NAMES/WHO: all of `@+` with multi-prefix,
/// else the highest.
pub(super) fn prefix(op: bool, voice: bool, multi: bool) -> &'static str {
    match (op, voice, multi) {
        (true, true, true) => "@+",
        (true, _, _) => "@",
        (false, true, _) => "+",
        _ => "",
    }
}

impl Client {
    fn ctx<'a>(command: &'a str, channel: &'a str) -> Ctx<'a> {
        Ctx { command, channel: Some(channel), target: None }
    }

    fn need_params(&mut self, command: &str) {
        let nick = self.nick.clone();
        self.out.numeric(&nick, ERR_NEEDMOREPARAMS, &[command, "Not enough parameters"]);
    }

    /// A channel name an IRC client sent, which must start with `#`.
    fn no_such_channel(&mut self, channel: &str) {
        let nick = self.nick.clone();
        self.out.numeric(&nick, ERR_NOSUCHCHANNEL, &[channel, "No such channel (channel names start with #)"]);
    }

    pub(super) async fn join(&mut self, m: &Message<'_>) {
        let Some(list) = m.param(0) else { return self.need_params("JOIN") };
        if list == "0" {
            let rooms: Vec<Arc<str>> = self.rooms.iter().map(|s| s.room.clone()).collect();
            for room in rooms {
                let _ = self.chat.hub.part(self.id, &room, "Left all channels").await;
            }
            self.rooms.clear();
            return;
        }
        let mut keys = m.param(1).unwrap_or("").split(',');
        for channel in list.split(',').filter(|c| !c.is_empty()) {
            let key = keys.next().filter(|k| !k.is_empty());
            if !channel.starts_with('#') {
                self.no_such_channel(channel);
                continue;
            }
            match self.chat.hub.join(self.id, channel, key).await {
                Ok(info) if info.fresh => {
                    self.rooms.retain(|s| s.room != info.room);
                    self.rooms.push(Seated { room: info.room.clone(), gate: info.gate.clone() });
                    let chan = format!("#{}", info.room);
                    let nick = self.nick.clone();
                    if let Some(t) = &info.topic {
                        self.out.numeric(&nick, RPL_TOPIC, &[&chan, &super::line::irc_text(&t.text)]);
                        self.out.numeric(&nick, RPL_TOPICWHOTIME, &[&chan, &to_irc(&t.set_by), &secs(t.set_at)]);
                    }
                    self.names_reply(&chan, &info.names);
                    // Each channel's replies right after its JOIN line.
                    self.flush();
                }
                Ok(_) => {}
                Err(e) => self.out.hub_error(&self.nick.clone(), &e, Self::ctx("JOIN", channel)),
            }
        }
    }

    /// 353 lines (as many as the names need) and 366.
    pub(super) fn names_reply(&mut self, chan: &str, names: &[crate::event::NameEntry]) {
        let multi = self.caps.has(super::caps::Cap::MultiPrefix);
        let nick = self.nick.clone();
        // `:server 353 nick = #chan :` is at most ~110 bytes; 350 of names a line.
        let mut line = String::new();
        for n in names {
            let entry = format!("{}{}", prefix(n.op, n.voice, multi), to_irc(&n.nick));
            if !line.is_empty() && line.len() + 1 + entry.len() > 350 {
                self.out.numeric(&nick, RPL_NAMREPLY, &["=", chan, &line]);
                line.clear();
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(&entry);
        }
        if !line.is_empty() {
            self.out.numeric(&nick, RPL_NAMREPLY, &["=", chan, &line]);
        }
        self.out.numeric(&nick, RPL_ENDOFNAMES, &[chan, "End of /NAMES list"]);
    }

    pub(super) async fn part(&mut self, m: &Message<'_>) {
        let Some(list) = m.param(0) else { return self.need_params("PART") };
        let reason = m.param(1).unwrap_or("");
        for channel in list.split(',').filter(|c| !c.is_empty()) {
            if !channel.starts_with('#') {
                self.no_such_channel(channel);
                continue;
            }
            match self.chat.hub.part(self.id, channel, reason).await {
                Ok(_) => {
                    let name = normalize_room(channel).unwrap_or_default();
                    self.rooms.retain(|s| *s.room != *name);
                }
                Err(e) => self.out.hub_error(&self.nick.clone(), &e, Self::ctx("PART", channel)),
            }
        }
    }

    pub(super) async fn topic(&mut self, m: &Message<'_>) {
        let Some(channel) = m.param(0) else { return self.need_params("TOPIC") };
        let nick = self.nick.clone();
        if !channel.starts_with('#') {
            return self.no_such_channel(channel);
        }
        match m.param(1) {
            // Set (`:` alone clears): the room gets the TOPIC line.
            Some(text) => {
                if let Err(e) = self.chat.hub.topic(self.id, channel, Some(text)).await {
                    self.out.hub_error(&nick, &e, Self::ctx("TOPIC", channel));
                }
            }
            None => match self.chat.hub.topic(self.id, channel, None).await {
                Ok(Some(t)) => {
                    let chan = canonical(channel);
                    self.out.numeric(&nick, RPL_TOPIC, &[&chan, &super::line::irc_text(&t.text)]);
                    self.out.numeric(&nick, RPL_TOPICWHOTIME, &[&chan, &to_irc(&t.set_by), &secs(t.set_at)]);
                }
                Ok(None) => self.out.numeric(&nick, RPL_NOTOPIC, &[&canonical(channel), "No topic is set"]),
                Err(e) => self.out.hub_error(&nick, &e, Self::ctx("TOPIC", channel)),
            },
        }
    }

    pub(super) async fn names(&mut self, m: &Message<'_>) {
        let nick = self.nick.clone();
        let Some(list) = m.param(0) else {
            return self.out.numeric(&nick, RPL_ENDOFNAMES, &["*", "End of /NAMES list"]);
        };
        for channel in list.split(',').filter(|c| !c.is_empty()) {
            match self.chat.hub.names(channel).await {
                Ok(n) if channel.starts_with('#') => self.names_reply(&format!("#{}", n.room), &n.names),
                // No such channel: the end alone, as the documents say.
                _ => self.out.numeric(&nick, RPL_ENDOFNAMES, &[channel, "End of /NAMES list"]),
            }
        }
    }

    pub(super) async fn list(&mut self, m: &Message<'_>) {
        let nick = self.nick.clone();
        let wanted: Option<Vec<String>> =
            m.param(0).map(|l| l.split(',').filter_map(|c| normalize_room(c).ok()).collect());
        self.out.numeric(&nick, RPL_LISTSTART, &["Channel", "Users  Name"]);
        for r in self.chat.hub.list().await {
            if wanted.as_ref().is_some_and(|w| !w.iter().any(|c| **c == *r.name)) {
                continue;
            }
            let topic = r.topic.as_deref().map(super::line::irc_text).unwrap_or_default();
            self.out.numeric(&nick, RPL_LIST, &[&format!("#{}", r.name), &r.members.to_string(), &topic]);
        }
        self.out.numeric(&nick, RPL_LISTEND, &["End of /LIST"]);
    }

    pub(super) async fn kick(&mut self, m: &Message<'_>) {
        let (Some(channel), Some(targets)) = (m.param(0), m.param(1)) else { return self.need_params("KICK") };
        let nick = self.nick.clone();
        let reason = m.param(2).unwrap_or(&nick).to_owned();
        for target in targets.split(',').filter(|t| !t.is_empty()) {
            if let Err(e) = self.chat.hub.kick(self.id, channel, &from_irc(target), &reason).await {
                let ctx = Ctx { command: "KICK", channel: Some(channel), target: Some(target) };
                self.out.hub_error(&nick, &e, ctx);
            }
        }
    }

    pub(super) async fn invite(&mut self, m: &Message<'_>) {
        let (Some(target), Some(channel)) = (m.param(0), m.param(1)) else { return self.need_params("INVITE") };
        let nick = self.nick.clone();
        match self.chat.hub.invite(self.id, &from_irc(target), channel).await {
            Ok(who) => self.out.numeric(&nick, RPL_INVITING, &[&to_irc(&who), &canonical(channel)]),
            Err(e) => {
                let ctx = Ctx { command: "INVITE", channel: Some(channel), target: Some(target) };
                self.out.hub_error(&nick, &e, ctx);
            }
        }
    }

    pub(super) async fn mode(&mut self, m: &Message<'_>) {
        let Some(target) = m.param(0) else { return self.need_params("MODE") };
        if target.starts_with('#') {
            return self.channel_mode(target, m.param(1), m.params.get(2..).unwrap_or(&[])).await;
        }
        let nick = self.nick.clone();
        if !super::casemap::same(target, &nick) {
            match self.chat.hub.whois(&from_irc(target)).await {
                Ok(_) => self.out.numeric(&nick, ERR_USERSDONTMATCH, &["Cant change mode for other users"]),
                Err(_) => self.out.numeric(&nick, ERR_NOSUCHNICK, &[target, "No such nick/channel"]),
            }
            return;
        }
        let Some(flags) = m.param(1) else {
            return self.out.numeric(&nick, RPL_UMODEIS, &[self.umodes.show()]);
        };
        let change = self.umodes.apply(flags);
        if !change.applied.is_empty() {
            // `:nick!user@host MODE nick +i`, as other servers confirm it.
            let me = format!("{nick}!{}", self.userhost);
            let confirm = Message { source: Some(&me), ..Message::new("MODE", vec![&nick, &change.applied]) };
            self.out.message(&confirm);
        }
        if change.unknown {
            self.out.numeric(&nick, ERR_UMODEUNKNOWNFLAG, &["Unknown MODE flag (only +i here)"]);
        }
    }

    async fn channel_mode(&mut self, channel: &str, flags: Option<&str>, args: &[&str]) {
        let nick = self.nick.clone();
        let hub = self.chat.hub.clone();
        let Some(flags) = flags else {
            match hub.mode_query(self.id, channel).await {
                Ok(info) => {
                    let chan = canonical(channel);
                    let mut p: Vec<&str> = vec![&chan];
                    p.extend(info.modes.split(' '));
                    self.out.numeric(&nick, RPL_CHANNELMODEIS, &p);
                    self.out.numeric(&nick, RPL_CREATIONTIME, &[&chan, &secs(info.created_at)]);
                }
                Err(e) => self.out.hub_error(&nick, &e, Self::ctx("MODE", channel)),
            }
            return;
        };
        // Unknown letters are refused one by one (472); the rest applies.
        let mut known = String::new();
        for c in flags.chars() {
            if c == '+' || c == '-' || Mode::from_letter(c).is_some() {
                known.push(c);
            } else {
                let letter = c.to_string();
                self.out.numeric(&nick, ERR_UNKNOWNMODE, &[&letter, "is unknown mode char to me"]);
            }
        }
        if !known.chars().any(|c| c != '+' && c != '-') {
            return;
        }
        let changes = match parse_modes(&known, args) {
            Ok(c) => c,
            Err(e) => return self.out.hub_error(&nick, &e, Self::ctx("MODE", channel)),
        };
        if changes.iter().all(|c| c.mode == Mode::Ban && c.arg.is_none()) {
            return self.ban_list(channel).await;
        }
        // Nicks of +o/+v as the client knows them: the IRC-safe forms.
        let changes = changes
            .into_iter()
            .map(|mut c| {
                if matches!(c.mode, Mode::Op | Mode::Voice) {
                    c.arg = c.arg.map(|a| from_irc(&a).into_owned());
                }
                c
            })
            .collect();
        match hub.mode(self.id, channel, changes).await {
            Ok(done) => {
                for e in done.errors {
                    let target = match e.code {
                        ErrorCode::NoSuchNick | ErrorCode::UserNotInChannel => first_word_after(&e.text),
                        _ => None,
                    };
                    let ctx = Ctx { command: "MODE", channel: Some(channel), target: target.as_deref() };
                    self.out.hub_error(&nick, &e, ctx);
                }
            }
            Err(e) => self.out.hub_error(&nick, &e, Self::ctx("MODE", channel)),
        }
    }

    async fn ban_list(&mut self, channel: &str) {
        let nick = self.nick.clone();
        let chan = canonical(channel);
        match self.chat.hub.bans(channel).await {
            Ok(bans) => {
                for b in bans {
                    self.out.numeric(&nick, RPL_BANLIST, &[&chan, &b.mask, &to_irc(&b.set_by), &secs(b.set_at)]);
                }
                self.out.numeric(&nick, RPL_ENDOFBANLIST, &[&chan, "End of channel ban list"]);
            }
            Err(e) => self.out.hub_error(&nick, &e, Self::ctx("MODE", channel)),
        }
    }
}

/// `#room` as the hub names it (`#Dev` → `#dev`), or as given when it is
/// no room name.
pub(super) fn canonical(channel: &str) -> String {
    normalize_room(channel).map_or_else(|_| channel.to_owned(), |r| format!("#{r}"))
}

/// The nick a hub error names (`no such nick bob`, `bob is not in dev`),
/// in its IRC-safe form, for the numeric's target parameter.
fn first_word_after(text: &str) -> Option<String> {
    let word = text.strip_prefix("no such nick ").map_or_else(|| text.split(' ').next(), |r| r.split(' ').next())?;
    Some(to_irc(word).into_owned())
}

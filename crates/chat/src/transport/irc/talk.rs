//! PRIVMSG, NOTICE and TAGMSG: to channels (published to the room like
//! any member's message: no hub round trip when the member's gate says it
//! may speak) and to nicks (a private message, through the hub), up to
//! [`MAX_TARGETS`] targets a line (the first four go; `407` names the fifth).
//!
//! CTCP is relayed as it is; `ACTION` to a channel is the room's `/me`
//! event (so text members read `* bob waves`, and `/me` of a text member
//! reaches IRC clients as `ACTION`). The text keeps IRC's formatting codes
//! (the text and JSON renderings escape them). Client-only tags (`+…`)
//! travel with the message to IRC members with `message-tags`. NOTICE is
//! never answered with an error, as RFC 2812 requires (no loops between
//! automatic clients).

use super::client::Client;
use super::message::Message;
use super::nick::from_irc;
use super::numeric::*;
use super::register::MAX_TARGETS;
use crate::event::irc::Relay;
use crate::event::{Event, Kind, Shared};
use crate::room_bus::NOT_DELIVERED;
use crate::text::normalize_room;

impl Client {
    pub(super) async fn talk(&mut self, cmd: &str, m: &Message<'_>) {
        let nick = self.nick.clone();
        let notice = cmd == "NOTICE";
        let tagmsg = cmd == "TAGMSG";
        let Some(targets) = m.param(0).filter(|t| !t.is_empty()) else {
            if !notice {
                self.out.numeric(&nick, ERR_NORECIPIENT, &[&format!("No recipient given ({cmd})")]);
            }
            return;
        };
        let text = m.param(1).unwrap_or("");
        if text.is_empty() && !tagmsg {
            if !notice {
                self.out.numeric(&nick, ERR_NOTEXTTOSEND, &["No text to send"]);
            }
            return;
        }
        let tags: Vec<(String, String)> = m
            .tags
            .iter()
            .filter(|t| t.key.starts_with('+') && self.caps.has(super::caps::Cap::MessageTags))
            .map(|t| (t.key.to_owned(), t.value.clone().into_owned()))
            .collect();
        if tagmsg && tags.is_empty() {
            return;
        }
        let relay = (notice || tagmsg || !tags.is_empty()).then(|| Box::new(Relay { tags, notice, tagmsg }));
        let (kind, body) = match text.strip_prefix("\x01ACTION ") {
            Some(rest) if !tagmsg => (Kind::Me, rest.strip_suffix('\x01').unwrap_or(rest)),
            _ => (Kind::Msg, text),
        };
        for (i, target) in targets.split(',').filter(|t| !t.is_empty()).enumerate() {
            if i >= MAX_TARGETS {
                if !notice {
                    let why = format!("Too many targets: at most {MAX_TARGETS} per message, the rest not sent");
                    self.out.numeric(&nick, ERR_TOOMANYTARGETS, &[target, &why]);
                }
                break;
            }
            if target.starts_with('#') {
                self.say_in_channel(target, kind, body, relay.clone(), notice).await;
            } else {
                self.say_to_nick(target, text, relay.clone(), notice, tagmsg).await;
            }
        }
    }

    async fn say_in_channel(&mut self, target: &str, kind: Kind, text: &str, relay: Option<Box<Relay>>, quiet: bool) {
        let nick = self.nick.clone();
        let Ok(name) = normalize_room(target) else {
            if !quiet {
                self.out.numeric(&nick, ERR_NOSUCHCHANNEL, &[target, "No such channel"]);
            }
            return;
        };
        let mut seat = self.rooms.iter().find(|s| *s.room == *name).cloned();
        if seat.as_ref().is_some_and(|s| s.gate.is_closed()) {
            // Put out of it (a kick) since: ask the registry.
            self.resync().await;
            seat = self.rooms.iter().find(|s| *s.room == *name).cloned();
        }
        let room = match seat {
            Some(s) if s.gate.may_speak() => s.room,
            // Not in it, or muted there: the registry says whether and why.
            _ => match self.chat.hub.check_send(self.id, &name).await {
                Ok(room) => room,
                Err(e) => {
                    if !quiet {
                        let ctx = super::reply::Ctx { command: "PRIVMSG", channel: Some(target), target: None };
                        self.out.hub_error(&nick, &e, ctx);
                    }
                    return;
                }
            },
        };
        let tagmsg = relay.as_ref().is_some_and(|r| r.tagmsg);
        let mut event = Event::new(kind, text).by(&nick).in_room(&room);
        event.userhost = Some(self.userhost.clone());
        event.relay = relay;
        let inside = self.rooms.iter().any(|s| s.room == room);
        // Sent from outside (-n): the room's delivery does not reach it.
        let echo = (!inside && self.caps.has(super::caps::Cap::EchoMessage)).then(|| event.clone());
        if self.chat.publish_room(&room, event, self.id, !tagmsg).await.is_err() {
            if !quiet {
                self.out.numeric(&nick, ERR_CANNOTSENDTOCHAN, &[target, NOT_DELIVERED]);
            }
            return;
        }
        if let Some(event) = echo {
            self.chat.fanout.direct(self.id, Shared::new(event, Some(self.id)));
        }
    }

    async fn say_to_nick(&mut self, target: &str, text: &str, relay: Option<Box<Relay>>, quiet: bool, tagmsg: bool) {
        let nick = self.nick.clone();
        match self.chat.hub.private_relayed(self.id, &from_irc(target), text, relay).await {
            Ok((event, away)) => {
                if let Some(away) = away.filter(|_| !quiet && !tagmsg) {
                    self.out.numeric(&nick, RPL_AWAY, &[target, &super::line::irc_text(&away)]);
                }
                let to_self = event.to.as_deref().is_some_and(|t| super::casemap::same(t, &nick));
                if self.caps.has(super::caps::Cap::EchoMessage) && !to_self {
                    self.flush();
                    self.chat.fanout.direct(self.id, Shared::new(event, None));
                }
            }
            Err(_) if quiet => {}
            Err(e) => {
                let ctx = super::reply::Ctx { command: "PRIVMSG", channel: None, target: Some(target) };
                self.out.hub_error(&nick, &e, ctx);
            }
        }
    }
}

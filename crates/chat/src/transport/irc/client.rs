//! A registered IRC member: its state, the dispatch of its commands, and
//! the commands about the connection itself (PING, PONG, CAP, NICK, QUIT).
//! Room commands are in [`super::channels`], messages in [`super::talk`],
//! queries in [`super::query`].

use std::sync::Arc;

use super::caps::{Cap, CapState};
use super::message::Message;
use super::numeric::*;
use super::register::bad_nick;
use super::reply::{Ctx, Out};
use super::umode::UserModes;
use super::SERVER_NAME;
use crate::event::irc::IrcCaps;
use crate::event::{Format, MemberId, Shared, Style};
use crate::hub::{Activity, Seated};
use crate::service::Chat;
use crate::session::Flow;

/// A registered IRC member. While it lives it is in the hub; dropping it
/// takes it off its shard and out of the hub (telling its rooms why).
pub struct Client {
    pub(super) chat: Chat,
    pub(super) id: MemberId,
    /// Its nick (an IRC nick: the hub and IRC forms are the same).
    pub(super) nick: String,
    /// `user@host`, on its events.
    pub(super) userhost: Arc<str>,
    pub(super) caps: CapState,
    /// Its user modes (`+i`).
    pub(super) umodes: UserModes,
    /// Its rooms, each with the gate its messages check.
    pub(super) rooms: Vec<Seated>,
    pub(super) activity: Activity,
    /// Replies gathered while handling a line.
    pub(super) out: Out,
    /// Why it leaves (told to its rooms).
    pub(super) reason: String,
}

impl Client {
    /// A member the hub registered as `id` with `nick`.
    pub(super) fn new(
        chat: Chat,
        id: MemberId,
        nick: String,
        userhost: Arc<str>,
        caps: CapState,
        activity: Activity,
    ) -> Self {
        Client {
            chat,
            id,
            nick,
            userhost,
            caps,
            umodes: UserModes::default(),
            rooms: Vec::new(),
            activity,
            out: Out::default(),
            reason: "Connection closed".into(),
        }
    }

    /// How its shard renders its events (from its capabilities).
    pub(super) fn style(&self) -> Style {
        style_of(&self.caps)
    }

    /// Sends what is gathered through its shard, after everything sent to
    /// it so far.
    pub(super) fn flush(&mut self) {
        if !self.out.is_empty() {
            self.chat.fanout.direct(self.id, Shared::raw(self.out.take()));
        }
    }

    /// Sets why it leaves.
    pub(super) fn set_reason(&mut self, reason: impl Into<String>) {
        self.reason = reason.into();
    }

    /// Handles one message.
    pub(super) async fn handle(&mut self, m: &Message<'_>) -> Flow {
        self.activity.touch();
        let cmd = m.command.to_ascii_uppercase();
        let nick = self.nick.clone();
        match cmd.as_str() {
            "PING" => match m.param(0) {
                Some(token) => self.out.server("PONG", &[SERVER_NAME, token]),
                None => self.out.numeric(&nick, ERR_NOORIGIN, &["No origin specified"]),
            },
            "PONG" => {}
            "CAP" => {
                let before = self.style();
                for r in self.caps.handle(&m.params, &nick, true) {
                    let p: Vec<&str> = r.params.iter().map(String::as_str).collect();
                    self.out.server(r.command, &p);
                }
                if self.style() != before {
                    self.chat.fanout.set_style(self.id, self.style());
                }
            }
            "NICK" => self.change_nick(m.param(0)).await,
            "USER" | "PASS" => self.out.numeric(&nick, ERR_ALREADYREGISTERED, &["You may not reregister"]),
            "QUIT" => {
                let why = m.param(0).filter(|r| !r.is_empty());
                self.set_reason(why.map_or_else(|| "Quit".to_owned(), |r| format!("Quit: {r}")));
                return Flow::Quit;
            }
            "JOIN" => self.join(m).await,
            "PART" => self.part(m).await,
            "TOPIC" => self.topic(m).await,
            "NAMES" => self.names(m).await,
            "LIST" => self.list(m).await,
            "KICK" => self.kick(m).await,
            "INVITE" => self.invite(m).await,
            "MODE" => self.mode(m).await,
            "PRIVMSG" | "NOTICE" | "TAGMSG" => self.talk(&cmd, m).await,
            "WHO" => self.who(m).await,
            "WHOIS" => self.whois(m).await,
            "AWAY" => self.away(m).await,
            "LUSERS" => {
                let stats = self.chat.hub.stats().await;
                super::register::lusers(stats, &nick, &mut self.out);
            }
            "MOTD" => super::register::motd(&nick, &mut self.out),
            "USERHOST" => self.userhost_of(m).await,
            "ISON" => self.ison(m).await,
            _ => self.out.numeric(&nick, ERR_UNKNOWNCOMMAND, &[m.command, "Unknown command"]),
        }
        Flow::Continue
    }

    async fn change_nick(&mut self, wanted: Option<&str>) {
        let nick = self.nick.clone();
        let Some(wanted) = wanted.filter(|n| !n.is_empty()) else {
            self.out.numeric(&nick, ERR_NONICKNAMEGIVEN, &["No nickname given"]);
            return;
        };
        if wanted == nick {
            return;
        }
        if let Some(why) = bad_nick(wanted) {
            self.out.numeric(&nick, ERR_ERRONEUSNICKNAME, &[wanted, why]);
            return;
        }
        // The hub tells everyone sharing a room, and the member itself,
        // `:old NICK new` (through the shard, so in order).
        match self.chat.hub.nick(self.id, wanted).await {
            Ok(_) => self.nick = wanted.to_owned(),
            Err(e) => self.out.hub_error(&nick, &e, Ctx { command: "NICK", target: Some(wanted), ..Ctx::default() }),
        }
    }

    /// Takes the registry's word for which rooms the member is in (after
    /// a gate said it was put out of one).
    pub(super) async fn resync(&mut self) {
        self.rooms = self.chat.hub.membership(self.id).await.rooms;
    }
}

/// The shard's rendering for a member with `caps`.
pub(super) fn style_of(caps: &CapState) -> Style {
    let irc = IrcCaps {
        time: caps.has(Cap::ServerTime),
        tags: caps.has(Cap::MessageTags),
        away: caps.has(Cap::AwayNotify),
        echo: caps.has(Cap::EchoMessage),
    };
    Style { format: Format::Irc(irc), encoding: None, tagged: false }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.chat.fanout.forget(self.id);
        self.chat.hub.leave(self.id, &self.reason);
    }
}

//! An IRC member's questions: WHO, WHOIS, USERHOST, ISON, and AWAY. Every
//! member appears under its IRC-safe nick; a nick asked about may be given
//! in that form.

use std::borrow::Cow;

use super::channels::prefix;
use super::client::Client;
use super::message::Message;
use super::nick::{from_irc, to_irc};
use super::numeric::*;
use super::SERVER_NAME;
use crate::event::now_ms;

/// WHO lines one reply holds at most: a WHO of a 10,000-member room
/// would be ~800 KB, more than a send queue; the rest is left out (the
/// client can page with NAMES, which is shorter).
pub const WHO_MAX: usize = 1_000;
/// Nicks one USERHOST asks about (RFC 2812).
const USERHOST_MAX: usize = 5;

/// A host as an IRC parameter: an IPv6 address starting with `:` would
/// read as the trailing parameter, so it gets a `0` in front (`0::1`), as
/// IRC servers write it.
fn host_param(host: &str) -> Cow<'_, str> {
    if host.starts_with(':') {
        Cow::Owned(format!("0{host}"))
    } else {
        Cow::Borrowed(host)
    }
}

impl Client {
    pub(super) async fn who(&mut self, m: &Message<'_>) {
        let nick = self.nick.clone();
        let mask = m.param(0).unwrap_or("*");
        let multi = self.caps.has(super::caps::Cap::MultiPrefix);
        let asked = if mask.starts_with('#') { Cow::Borrowed(mask) } else { from_irc(mask) };
        let list = self.chat.hub.who(&asked).await;
        for e in list.iter().take(WHO_MAX) {
            let chan = e.room.as_ref().map_or_else(|| "*".to_owned(), |r| format!("#{r}"));
            let flags = format!("{}{}", if e.away { "G" } else { "H" }, prefix(e.op, e.voice, multi));
            let real = format!("0 {}", super::line::irc_text(&e.ident.realname));
            let host = host_param(&e.ident.host);
            let n = to_irc(&e.nick);
            self.out.numeric(&nick, RPL_WHOREPLY, &[&chan, &e.ident.user, &host, SERVER_NAME, &n, &flags, &real]);
        }
        self.out.numeric(&nick, RPL_ENDOFWHO, &[mask, "End of WHO list"]);
    }

    pub(super) async fn whois(&mut self, m: &Message<'_>) {
        let nick = self.nick.clone();
        // `WHOIS server nick` asks a server: there is one, so the nick is last.
        let Some(list) = m.params.last().copied().filter(|t| !t.is_empty()) else {
            return self.out.numeric(&nick, ERR_NONICKNAMEGIVEN, &["No nickname given"]);
        };
        for target in list.split(',').filter(|t| !t.is_empty()).take(super::register::MAX_TARGETS) {
            match self.chat.hub.whois(&from_irc(target)).await {
                Ok(w) => {
                    let n = to_irc(&w.nick).into_owned();
                    let host = host_param(&w.ident.host);
                    let real = super::line::irc_text(&w.ident.realname);
                    self.out.numeric(&nick, RPL_WHOISUSER, &[&n, &w.ident.user, &host, "*", &real]);
                    if !w.rooms.is_empty() {
                        let rooms: Vec<String> =
                            w.rooms.iter().map(|r| format!("{}#{}", prefix(r.op, r.voice, false), r.room)).collect();
                        self.out.numeric(&nick, RPL_WHOISCHANNELS, &[&n, &rooms.join(" ")]);
                    }
                    let info = format!("sockit chat (connected by {})", w.transport);
                    self.out.numeric(&nick, RPL_WHOISSERVER, &[&n, SERVER_NAME, &info]);
                    if let Some(a) = &w.away {
                        self.out.numeric(&nick, RPL_AWAY, &[&n, &super::line::irc_text(a)]);
                    }
                    let idle = ((now_ms() - w.last_active).max(0) / 1000).to_string();
                    let signon = (w.connected_at / 1000).to_string();
                    self.out.numeric(&nick, RPL_WHOISIDLE, &[&n, &idle, &signon, "seconds idle, signon time"]);
                    self.out.numeric(&nick, RPL_ENDOFWHOIS, &[&n, "End of /WHOIS list"]);
                }
                Err(_) => {
                    self.out.numeric(&nick, ERR_NOSUCHNICK, &[target, "No such nick/channel"]);
                    self.out.numeric(&nick, RPL_ENDOFWHOIS, &[target, "End of /WHOIS list"]);
                }
            }
        }
    }

    pub(super) async fn away(&mut self, m: &Message<'_>) {
        let nick = self.nick.clone();
        let text = m.param(0).filter(|t| !t.is_empty());
        let escaped = text.map(sockit_net::text::escape_untrusted);
        match self.chat.hub.away(self.id, escaped.as_deref()).await {
            Ok(()) if text.is_some() => {
                self.out.numeric(&nick, RPL_NOWAWAY, &["You have been marked as being away"]);
            }
            Ok(()) => self.out.numeric(&nick, RPL_UNAWAY, &["You are no longer marked as being away"]),
            Err(e) => self.out.hub_error(&nick, &e, super::reply::Ctx { command: "AWAY", ..Default::default() }),
        }
    }

    pub(super) async fn userhost_of(&mut self, m: &Message<'_>) {
        let nick = self.nick.clone();
        if m.params.is_empty() {
            return self.out.numeric(&nick, ERR_NEEDMOREPARAMS, &["USERHOST", "Not enough parameters"]);
        }
        let mut found = Vec::new();
        for target in m.params.iter().take(USERHOST_MAX) {
            if let Ok(w) = self.chat.hub.whois(&from_irc(target)).await {
                let away = if w.away.is_some() { '-' } else { '+' };
                found.push(format!("{}={away}{}@{}", to_irc(&w.nick), w.ident.user, w.ident.host));
            }
        }
        self.out.numeric(&nick, RPL_USERHOST, &[&found.join(" ")]);
    }

    pub(super) async fn ison(&mut self, m: &Message<'_>) {
        let nick = self.nick.clone();
        if m.params.is_empty() {
            return self.out.numeric(&nick, ERR_NEEDMOREPARAMS, &["ISON", "Not enough parameters"]);
        }
        let mut online = Vec::new();
        // Nicks may come as several parameters or one trailing list.
        for target in m.params.iter().flat_map(|p| p.split(' ')).filter(|t| !t.is_empty()).take(64) {
            if let Ok(w) = self.chat.hub.whois(&from_irc(target)).await {
                online.push(to_irc(&w.nick).into_owned());
            }
        }
        self.out.numeric(&nick, RPL_ISON, &[&online.join(" ")]);
    }
}

//! IRCv3 capability negotiation (`CAP LS [302]`, `REQ`, `ACK`/`NAK`,
//! `LIST`, `END`) as data: one client's state and the replies each `CAP`
//! command gets. No socket; the connection writes the replies.
//!
//! Offered: exactly the capabilities the server honours — `server-time`,
//! `message-tags`, `echo-message`, `multi-prefix`, `away-notify` — and
//! `cap-notify`, which a `CAP LS 302` client has on from then on (it cannot
//! be turned off: `CAP REQ -cap-notify` from such a client is refused). No
//! capability takes a value, so `LS 302` and `LS` list the same names.
//!
//! `CAP LS` or `CAP REQ` before registration holds registration until
//! `CAP END` ([`CapState::holds_registration`]); after registration they
//! only change capabilities. A `REQ` is all or nothing: one unknown name
//! and the whole list is `NAK`ed.

use super::numeric::{CAP, ERR_INVALIDCAPCMD, ERR_NEEDMOREPARAMS};

/// One capability.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cap {
    /// `@time=` on every message.
    ServerTime,
    /// Client tags relayed, `TAGMSG`.
    MessageTags,
    /// A client's own PRIVMSG/NOTICE sent back to it.
    EchoMessage,
    /// Every prefix (`@+nick`) in NAMES and WHO.
    MultiPrefix,
    /// `AWAY` of channel peers sent as it happens.
    AwayNotify,
    /// `CAP NEW` / `CAP DEL` when the offer changes.
    CapNotify,
}

/// Every capability, in the order `LS` lists them.
pub const OFFERED: [Cap; 6] =
    [Cap::ServerTime, Cap::MessageTags, Cap::EchoMessage, Cap::MultiPrefix, Cap::AwayNotify, Cap::CapNotify];

impl Cap {
    /// The name on the wire.
    pub fn name(self) -> &'static str {
        match self {
            Cap::ServerTime => "server-time",
            Cap::MessageTags => "message-tags",
            Cap::EchoMessage => "echo-message",
            Cap::MultiPrefix => "multi-prefix",
            Cap::AwayNotify => "away-notify",
            Cap::CapNotify => "cap-notify",
        }
    }

    /// The capability called `name` (exact: names are case-sensitive).
    pub fn from_name(name: &str) -> Option<Cap> {
        OFFERED.into_iter().find(|c| c.name() == name)
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// One reply line: the command (`CAP` or a numeric) and its parameters,
/// the client's nick first. The connection adds the server as source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// `CAP`, `410` or `461`.
    pub command: &'static str,
    /// Parameters, nick first, the last one trailing.
    pub params: Vec<String>,
}

/// Most bytes of capability names on one `CAP` line: what fits in 512
/// with a 63-byte server name, a 32-byte nick and the rest of the line.
pub const LINE_BUDGET: usize = 400;

/// One client's negotiation.
#[derive(Debug, Clone, Default)]
pub struct CapState {
    version: u16,
    holding: bool,
    enabled: u8,
}

impl CapState {
    /// A client that has not said `CAP`.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether `cap` is on.
    pub fn has(&self, cap: Cap) -> bool {
        self.enabled & cap.bit() != 0
    }

    /// Whether registration must wait for `CAP END`.
    pub fn holds_registration(&self) -> bool {
        self.holding
    }

    /// The `CAP LS` version the client gave (0: none, 301: `LS` alone, or
    /// 302 and up, kept as 302).
    pub fn version(&self) -> u16 {
        self.version
    }

    /// Handles `CAP <params…>` from a client called `nick` (`*` before it
    /// has one), `registered` or not; returns the lines to send.
    pub fn handle(&mut self, params: &[&str], nick: &str, registered: bool) -> Vec<Reply> {
        let Some(sub) = params.first() else {
            return vec![numeric(ERR_NEEDMOREPARAMS, nick, &["CAP", "Not enough parameters"])];
        };
        let sub = sub.to_ascii_uppercase();
        match sub.as_str() {
            "LS" => {
                let asked = params.get(1).and_then(|v| v.parse::<u32>().ok()).unwrap_or(301);
                self.version = self.version.max(if asked >= 302 { 302 } else { 301 });
                if self.version >= 302 {
                    self.enabled |= Cap::CapNotify.bit();
                }
                self.holding |= !registered;
                let names: Vec<&str> = OFFERED.iter().map(|c| c.name()).collect();
                self.lines(nick, "LS", &names, LINE_BUDGET)
            }
            "LIST" => {
                let names: Vec<&str> = OFFERED.iter().filter(|c| self.has(**c)).map(|c| c.name()).collect();
                self.lines(nick, "LIST", &names, LINE_BUDGET)
            }
            "REQ" => {
                self.holding |= !registered;
                let list = params.get(1).copied().unwrap_or("");
                let reply = |verb: &str| vec![cap_line(nick, verb, false, list.trim())];
                let mut on = self.enabled;
                let mut any = false;
                for item in list.split(' ').filter(|s| !s.is_empty()) {
                    any = true;
                    let (off, name) = item.strip_prefix('-').map_or((false, item), |n| (true, n));
                    let Some(cap) = Cap::from_name(name) else { return reply("NAK") };
                    if off && cap == Cap::CapNotify && self.version >= 302 {
                        return reply("NAK");
                    }
                    if off {
                        on &= !cap.bit();
                    } else {
                        on |= cap.bit();
                    }
                }
                if !any {
                    return reply("NAK");
                }
                self.enabled = on;
                reply("ACK")
            }
            "END" => {
                self.holding = false;
                Vec::new()
            }
            _ => vec![numeric(ERR_INVALIDCAPCMD, nick, &[params[0], "Invalid CAP command"])],
        }
    }

    /// `CAP nick VERB :names`, split over several lines (each but the last
    /// with `*` before the list) for a 302 client when the names do not fit
    /// one; a 301 client gets them on one line, as it cannot join them.
    fn lines(&self, nick: &str, verb: &str, names: &[&str], budget: usize) -> Vec<Reply> {
        let mut chunks: Vec<String> = vec![String::new()];
        for n in names {
            let cur = chunks.last_mut().map_or(0, |c| c.len());
            if self.version >= 302 && cur > 0 && cur + 1 + n.len() > budget {
                chunks.push(String::new());
            }
            if let Some(c) = chunks.last_mut() {
                if !c.is_empty() {
                    c.push(' ');
                }
                c.push_str(n);
            }
        }
        let last = chunks.len() - 1;
        chunks.iter().enumerate().map(|(i, c)| cap_line(nick, verb, i < last, c)).collect()
    }
}

fn cap_line(nick: &str, verb: &str, more: bool, list: &str) -> Reply {
    let mut params = vec![nick.to_owned(), verb.to_owned()];
    if more {
        params.push("*".to_owned());
    }
    params.push(list.to_owned());
    Reply { command: CAP, params }
}

fn numeric(code: &'static str, nick: &str, rest: &[&str]) -> Reply {
    let mut params = vec![nick.to_owned()];
    params.extend(rest.iter().map(|s| (*s).to_owned()));
    Reply { command: code, params }
}

#[cfg(test)]
#[path = "caps_tests.rs"]
mod tests;

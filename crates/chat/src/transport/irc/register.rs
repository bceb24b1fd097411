//! Registration: what a connection may say before it is a member (CAP,
//! NICK, USER, PASS, PING, QUIT), and the welcome burst once it is one
//! (001–005, LUSERS, MOTD).
//!
//! PASS is accepted and ignored: the chat server has no password (every
//! other transport joins without one), so a client configured with one
//! still gets in. NICK is checked at once (432, 433) against the IRC rules
//! ([`is_valid`]) and the hub's, and again when the member is registered
//! with it, since another member may have taken it in between.

use super::caps::CapState;
use super::isupport::{self, Settings};
use super::message::Message;
use super::nick::{is_valid, NICKLEN};
use super::numeric::*;
use super::reply::{Ctx, Out};
use super::SERVER_NAME;
use crate::config::ChatConfig;
use crate::hub::{Hub, Ident, Stats, MAX_MODE_ARGS, MAX_REASON, MAX_TOPIC};

/// Targets one PRIVMSG/NOTICE may name (`MAXTARGETS`).
pub const MAX_TARGETS: usize = 4;
/// Longest user name kept from USER (`USERLEN`).
pub const USERLEN: usize = 16;
/// Longest real name kept from USER, in characters.
pub const REALNAME_LEN: usize = 100;

/// The message of the day.
const MOTD: &[&str] = &[
    "Welcome to sockit chat: these rooms are shared with nc, UDP and browser members.",
    "Members of other transports whose nick is not an IRC nick appear under an",
    "IRC-safe form: _127-0-0-1-50312 for 127.0.0.1:50312, xn--… for the rest.",
    "#lobby is where nc members start; /join any #room to make it (you get op).",
];

/// What the server's version is called in `002`/`004`.
pub const VERSION: &str = concat!("sockit-", env!("CARGO_PKG_VERSION"));

/// Where registration stands after one line.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Waiting for more.
    More,
    /// NICK and USER given and CAP ended: register.
    Ready,
    /// The client said QUIT.
    Quit,
}

/// A connection that has not registered yet.
#[derive(Debug, Default)]
pub struct Handshake {
    /// The nick it asked for (valid, and free when it asked).
    pub nick: Option<String>,
    /// USER's user name (cleaned) and real name.
    pub user: Option<(String, String)>,
    /// Its capability negotiation.
    pub caps: CapState,
}

/// `s` kept to the characters a user name may hold, cut to [`USERLEN`].
fn clean_user(s: &str) -> String {
    let u: String =
        s.chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')).take(USERLEN).collect();
    if u.is_empty() {
        "user".to_owned()
    } else {
        u
    }
}

impl Handshake {
    /// The nick to put in replies: `*` until it has one.
    pub fn shown_nick(&self) -> &str {
        self.nick.as_deref().unwrap_or("*")
    }

    /// Handles one message before registration.
    pub async fn handle(&mut self, hub: &Hub, m: &Message<'_>, out: &mut Out) -> Step {
        let nick = self.shown_nick().to_owned();
        let cmd = m.command.to_ascii_uppercase();
        match cmd.as_str() {
            "CAP" => {
                for r in self.caps.handle(&m.params, &nick, false) {
                    let p: Vec<&str> = r.params.iter().map(String::as_str).collect();
                    out.server(r.command, &p);
                }
            }
            "PASS" => {}
            "NICK" => match m.param(0).filter(|n| !n.is_empty()) {
                None => out.numeric(&nick, ERR_NONICKNAMEGIVEN, &["No nickname given"]),
                Some(wanted) => {
                    if let Some(why) = bad_nick(wanted) {
                        out.numeric(&nick, ERR_ERRONEUSNICKNAME, &[wanted, why]);
                    } else {
                        match hub.check_nick(wanted).await {
                            Ok(()) => self.nick = Some(wanted.to_owned()),
                            Err(e) => out.hub_error(
                                &nick,
                                &e,
                                Ctx { command: "NICK", target: Some(wanted), ..Ctx::default() },
                            ),
                        }
                    }
                }
            },
            "USER" => {
                if self.user.is_some() {
                    out.numeric(&nick, ERR_ALREADYREGISTERED, &["You may not reregister"]);
                } else if m.params.len() < 4 || m.params[0].is_empty() {
                    out.numeric(&nick, ERR_NEEDMOREPARAMS, &["USER", "Not enough parameters"]);
                } else {
                    let real = sockit_net::text::escape_untrusted(m.params[3]).chars().take(REALNAME_LEN).collect();
                    self.user = Some((clean_user(m.params[0]), real));
                }
            }
            "PING" => match m.param(0) {
                Some(token) => out.server("PONG", &[SERVER_NAME, token]),
                None => out.numeric(&nick, ERR_NOORIGIN, &["No origin specified"]),
            },
            "PONG" => {}
            "QUIT" => return Step::Quit,
            _ => out.numeric(&nick, ERR_NOTREGISTERED, &["You have not registered"]),
        }
        if self.nick.is_some() && self.user.is_some() && !self.caps.holds_registration() {
            Step::Ready
        } else {
            Step::More
        }
    }

    /// The member's identity from USER, seen from `host`.
    pub fn ident(&self, host: &str) -> Ident {
        let (user, realname) = self.user.clone().unwrap_or_else(|| ("user".to_owned(), String::new()));
        Ident { user, host: host.to_owned(), realname }
    }
}

/// Why an IRC client may not take `n` (IRC's rules and the reserved
/// prefixes), or `None`; the hub's own rules are checked after.
pub fn bad_nick(n: &str) -> Option<&'static str> {
    if n.len() > NICKLEN {
        Some("Erroneous nickname: too long")
    } else if !is_valid(n) {
        Some("Erroneous nickname: use letters, digits and [ ] \\ ` _ ^ { | } -, not starting with a digit or - (xn-- and _ followed by a digit are kept for other members' nicks)")
    } else {
        None
    }
}

/// The `005` settings this server has.
pub fn settings(cfg: &ChatConfig) -> Settings {
    Settings {
        chanlimit: cfg.max_rooms_per_member,
        maxtargets: MAX_TARGETS,
        topiclen: MAX_TOPIC,
        kicklen: MAX_REASON,
        awaylen: MAX_REASON,
        modes: MAX_MODE_ARGS,
        ..Settings::default()
    }
}

/// 001–005, then LUSERS and MOTD, for `nick` (`nick!userhost`).
pub fn welcome(cfg: &ChatConfig, stats: Stats, nick: &str, userhost: &str, out: &mut Out) {
    let created = chrono::DateTime::from_timestamp_millis(cfg.started_at).unwrap_or_default();
    out.numeric(nick, RPL_WELCOME, &[&format!("Welcome to the sockit IRC network, {nick}!{userhost}")]);
    out.numeric(nick, RPL_YOURHOST, &[&format!("Your host is {SERVER_NAME}, running version {VERSION}")]);
    out.numeric(nick, RPL_CREATED, &[&format!("This server was created {}", created.format("%Y-%m-%d %H:%M:%S UTC"))]);
    // User modes: `i` only (see [`super::umode`]).
    out.numeric(nick, RPL_MYINFO, &[SERVER_NAME, VERSION, "i", "biklmnotv", "bklov"]);
    for line in isupport::lines(&settings(cfg), nick, 300) {
        let p: Vec<&str> = line.iter().skip(1).map(String::as_str).collect();
        out.numeric(nick, RPL_ISUPPORT, &p);
    }
    lusers(stats, nick, out);
    motd(nick, out);
}

/// 251–255, 265, 266.
pub fn lusers(s: Stats, nick: &str, out: &mut Out) {
    let (n, peak, rooms) = (s.members.to_string(), s.peak.to_string(), s.rooms.to_string());
    out.numeric(nick, RPL_LUSERCLIENT, &[&format!("There are {n} users and 0 invisible on 1 servers")]);
    out.numeric(nick, RPL_LUSEROP, &["0", "operator(s) online"]);
    out.numeric(nick, RPL_LUSERCHANNELS, &[&rooms, "channels formed"]);
    out.numeric(nick, RPL_LUSERME, &[&format!("I have {n} clients and 0 servers")]);
    out.numeric(nick, RPL_LOCALUSERS, &[&n, &peak, &format!("Current local users {n}, max {peak}")]);
    out.numeric(nick, RPL_GLOBALUSERS, &[&n, &peak, &format!("Current global users {n}, max {peak}")]);
}

/// 375, 372…, 376.
pub fn motd(nick: &str, out: &mut Out) {
    out.numeric(nick, RPL_MOTDSTART, &[&format!("- {SERVER_NAME} Message of the day - ")]);
    for l in MOTD {
        out.numeric(nick, RPL_MOTD, &[&format!("- {l}")]);
    }
    out.numeric(nick, RPL_ENDOFMOTD, &["End of /MOTD command."]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nick_rules_and_user_names() {
        assert_eq!(bad_nick("alice"), None);
        assert_eq!(bad_nick("[bot]`x"), None);
        assert!(bad_nick("1abc").is_some() && bad_nick("xn--ab").is_some() && bad_nick("_1x").is_some());
        assert!(bad_nick(&"n".repeat(33)).is_some());
        assert_eq!(clean_user("~Bob!@x"), "Bobx");
        assert_eq!(clean_user("!!"), "user");
        assert_eq!(clean_user(&"u".repeat(40)).len(), USERLEN);
    }

    #[test]
    fn welcome_burst_is_complete_and_fits() {
        let cfg = ChatConfig::default();
        let mut out = Out::default();
        welcome(&cfg, Stats { members: 3, peak: 5, rooms: 2 }, "bob", "u@127.0.0.1", &mut out);
        let text = String::from_utf8(out.take().to_vec()).unwrap();
        for code in ["001", "002", "003", "004", "005", "251", "254", "255", "265", "266", "375", "372", "376"] {
            assert!(text.contains(&format!(" {code} bob ")), "{code} in {text}");
        }
        assert!(text.contains("CHANLIMIT=#:20") && text.contains("MAXTARGETS=4") && text.contains("MODES=6"));
        assert!(text.lines().all(|l| l.len() < 512));
    }
}

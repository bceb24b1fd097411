//! IRC members (issue #17): irssi, WeeChat, HexChat and friends in the
//! same rooms as nc, UDP and browser members (docs/protocol.md, `### IRC`).
//!
//! The protocol pieces, each pure and tested on its own:
//! - [`message`]: parse and write IRC lines (tags, source, command,
//!   parameters) within the protocol's byte limits; [`line`]: fitting the
//!   server's texts into those lines.
//! - [`numeric`]: the numeric replies by name; [`reply`]: a member's reply
//!   buffer and the one table from hub errors to numerics.
//! - [`casemap`]: `CASEMAPPING=ascii` and its folding.
//! - [`nick`]: which nicks IRC clients may take, and the IRC-safe form of
//!   other members' nicks ([`punycode`] for the non-ASCII ones).
//! - [`caps`]: CAP negotiation state; [`isupport`]: the `005` tokens.
//!
//! The connection: [`conn`] reads lines, keeps the PING/idle clock and the
//! flood pacing, and writes nothing itself once the member is registered —
//! its writer shard writes it like a TCP member, events rendered as IRC
//! lines ([`crate::event::irc`]). [`register`] is registration (CAP, NICK,
//! USER, the welcome burst); the registered member's commands are
//! [`client`] (dispatch, PING, QUIT, NICK, CAP), [`channels`] (JOIN, PART,
//! TOPIC, NAMES, LIST, KICK, INVITE, MODE), [`talk`] (PRIVMSG, NOTICE,
//! TAGMSG) and [`query`] (WHO, WHOIS, AWAY, LUSERS, MOTD, USERHOST, ISON).

pub mod caps;
pub mod casemap;
mod channels;
mod client;
pub mod conn;
pub mod isupport;
pub mod line;
pub mod message;
pub mod nick;
pub mod numeric;
pub mod punycode;
mod query;
mod register;
pub mod reply;
mod talk;
pub mod umode;

/// The server's name: the source of its numerics and notices.
pub const SERVER_NAME: &str = "irc.sockit";

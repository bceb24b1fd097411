//! How members reach the room: one module per transport. Each reads bytes
//! off its socket, hands whole lines (or datagrams, or WebSocket messages)
//! to the member's [`crate::session::Session`], and leaves all writing of
//! room events to the writer shards ([`crate::fanout`]) or, where the
//! shard cannot write the socket itself, to a task of its own.
//!
//! - [`tcp`]: nc, telnet, scripts and the terminal client — bounded lines,
//!   the idle-partial-line rule.
//! - [`tls`]: the same line members inside TLS, bridged so the shard writes
//!   them exactly like TCP members.
//! - [`udp`]: one datagram = one message; an address joins only after
//!   echoing a cookie.
//! - [`irc`]: IRC clients (irssi, WeeChat …), written by the shards like TCP
//!   members, their events rendered as IRC lines.
//! - [`ws`]: browsers — the chat page and WebSocket members (plain or https).

pub mod irc;
pub mod tcp;
pub mod tls;
pub mod udp;
pub mod ws;

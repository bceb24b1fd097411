//! What the registry knows of one member, and the two small handles it
//! shares with the member's own task so that task's message path needs no
//! round trip: a [`Gate`] per room (may it speak there, is it still in)
//! and its [`Activity`] stamp.

use std::net::IpAddr;
use std::sync::atomic::{AtomicI64, AtomicU8, Ordering};
use std::sync::Arc;

use crate::event::now_ms;

/// A member's `nick!user@host`, as ban masks are matched against it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mask {
    /// With the nick as the registry has it.
    pub hub: String,
    /// With the nick's IRC-safe form, when that differs.
    pub irc: Option<String>,
}

/// Who a member says it is, for `nick!user@host` masks and `/whois`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ident {
    /// IRC's USER parameter; otherwise the transport name (`tcp`, `udp`, `ws`, `tls`).
    pub user: String,
    /// The client's IP address as text.
    pub host: String,
    /// IRC's realname; empty otherwise.
    pub realname: String,
}

impl Ident {
    /// The identity of a member of `transport` from `ip`: user is the
    /// transport name, no realname.
    pub fn of(transport: &str, ip: IpAddr) -> Ident {
        Ident { user: transport.to_string(), host: ip.to_string(), realname: String::new() }
    }
}

const GONE: u8 = 0;
const MUTED: u8 = 1;
const SPEAK: u8 = 2;

/// Whether a member may speak in one room, kept current by the registry
/// (mode, voice and ban changes; a kick closes it). The member's task reads
/// it for each message: one atomic load, no round trip. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Gate(Arc<AtomicU8>);

impl Gate {
    pub(crate) fn new(speak: bool) -> Gate {
        Gate(Arc::new(AtomicU8::new(if speak { SPEAK } else { MUTED })))
    }

    /// The member may speak in the room.
    pub fn may_speak(&self) -> bool {
        self.0.load(Ordering::Relaxed) == SPEAK
    }

    /// The member is no longer in the room (it was kicked, or parted from
    /// another connection of the registry's making).
    pub fn is_closed(&self) -> bool {
        self.0.load(Ordering::Relaxed) == GONE
    }

    pub(crate) fn set(&self, speak: bool) {
        // A closed gate stays closed: a late mode change must not reopen it.
        let _ = self.0.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
            (v != GONE).then_some(if speak { SPEAK } else { MUTED })
        });
    }

    pub(crate) fn close(&self) {
        self.0.store(GONE, Ordering::Relaxed);
    }
}

/// When a member last sent a line (milliseconds since the Unix epoch),
/// stamped by its own task and read by `/whois`. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Activity(Arc<AtomicI64>);

impl Activity {
    pub(crate) fn new() -> Activity {
        Activity(Arc::new(AtomicI64::new(now_ms())))
    }

    /// Stamps now.
    pub fn touch(&self) {
        self.0.store(now_ms(), Ordering::Relaxed);
    }

    /// The last stamp.
    pub fn last(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// One registered member.
pub(super) struct Member {
    pub(super) nick: String,
    /// The key `--max-per-ip` counts it under.
    pub(super) ip: IpAddr,
    pub(super) ident: Ident,
    /// `user@host`, shared by every event the member causes.
    pub(super) userhost: Arc<str>,
    pub(super) transport: &'static str,
    pub(super) connected_at: i64,
    pub(super) activity: Activity,
    /// The rooms it is in, in the order it joined them.
    pub(super) rooms: Vec<Arc<str>>,
    /// Where its plain lines go (text members); `None` in no room.
    pub(super) current: Option<Arc<str>>,
    pub(super) away: Option<String>,
}

impl Member {
    /// `nick!user@host`, what ban masks match; in both of the nick's
    /// forms when its IRC-safe one differs, since an IRC operator bans the
    /// nick it sees (`_127-0-0-1-50312!*@*`) and a text one the nick it types.
    pub(super) fn mask(&self) -> Mask {
        let at = format!("!{}@{}", self.ident.user, self.ident.host);
        let irc = crate::transport::irc::nick::to_irc(&self.nick);
        let irc = (*irc != *self.nick).then(|| format!("{irc}{at}"));
        Mask { hub: format!("{}{at}", self.nick), irc }
    }

    pub(super) fn is_in(&self, room: &str) -> bool {
        self.rooms.iter().any(|r| **r == *room)
    }
}

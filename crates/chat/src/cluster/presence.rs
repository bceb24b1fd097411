//! Who is on the other nodes: each node's heartbeat and member set, so
//! `/who`, `/rooms` and IRC's `WHO`, `LIST` and `NAMES` count members on
//! every node.
//!
//! A node keeps three things in Redis (names in [`keys`]):
//! - its heartbeat [`keys::alive`], set with an expiry of [`NODE_TTL`] and
//!   renewed every [`HEARTBEAT`];
//! - its members [`keys::members`], a hash of member id → [`Entry`] (nick,
//!   rooms with flags, transport, user, host, away), written as a diff
//!   from the registry's snapshot whenever membership changes (debounced)
//!   and whole on every heartbeat (so a Redis that lost its data has it
//!   again within one), with the same expiry;
//! - its id in the set [`keys::NODES`].
//!
//! A reader ([`others`]) takes, in one script call, the entries of every
//! other node whose heartbeat is still there; a node whose heartbeat
//! expired (it died without a word, `kill -9`) is dropped from the set and
//! its hash deleted by the first reader that notices. So a dead node's
//! members vanish from everyone's answers within [`NODE_TTL`].
//!
//! The answer is read per question (one round trip, the size of the
//! cluster's member list): fine for thousands of members, and never stale
//! by more than the debounce of the node that changed.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use redis::Script;
use serde::{Deserialize, Serialize};

use super::bounded::bounded;
use super::envelope::MAX_ENVELOPE;
use super::nicks::{self, Grants};
use super::{keys, Cluster, ClusterError};
use crate::text::nick_key;

/// How often a node renews its heartbeat and member set (10 s).
pub const HEARTBEAT: Duration = Duration::from_secs(10);
/// How long a node's heartbeat and member set live without renewal (30 s):
/// the bound on how long a dead node's members are still listed.
pub const NODE_TTL: Duration = Duration::from_secs(30);

/// One member as the other nodes see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Its nick.
    #[serde(rename = "n")]
    pub nick: String,
    /// Its rooms in join order, each with `@` (operator) or `+` (voice)
    /// in front when it has that flag there.
    #[serde(rename = "r", default)]
    pub rooms: Vec<String>,
    /// `tcp`, `udp`, `ws`, `tls`, `irc`.
    #[serde(rename = "t", default)]
    pub transport: String,
    /// IRC's user (or the transport name).
    #[serde(rename = "u", default)]
    pub user: String,
    /// Its host.
    #[serde(rename = "h", default)]
    pub host: String,
    /// Whether it is away.
    #[serde(rename = "a", default, skip_serializing_if = "std::ops::Not::not")]
    pub away: bool,
}

/// One of an [`Entry`]'s rooms, flags split off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoomSeat<'a> {
    /// The room.
    pub room: &'a str,
    /// An operator there.
    pub op: bool,
    /// Voiced there.
    pub voice: bool,
}

/// The form [`Entry::rooms`] keeps a room in: `@dev`, `+dev` or `dev`.
/// Room names never start with `@` or `+` ([`crate::text::normalize_room`]).
pub fn seat_text(room: &str, op: bool, voice: bool) -> String {
    let mark = if op {
        "@"
    } else if voice {
        "+"
    } else {
        ""
    };
    format!("{mark}{room}")
}

impl Entry {
    /// A TCP member from 127.0.0.1 in `rooms` (seat prefixes included),
    /// for tests.
    #[cfg(test)]
    pub(crate) fn sample(nick: &str, rooms: &[&str]) -> Entry {
        Entry {
            nick: nick.into(),
            rooms: rooms.iter().map(|r| r.to_string()).collect(),
            transport: "tcp".into(),
            user: "tcp".into(),
            host: "127.0.0.1".into(),
            away: false,
        }
    }

    /// Its rooms with their flags.
    pub fn seats(&self) -> impl Iterator<Item = RoomSeat<'_>> {
        self.rooms.iter().map(|r| {
            let (op, voice) = (r.starts_with('@'), r.starts_with('+'));
            let room = if op || voice { &r[1..] } else { r.as_str() };
            RoomSeat { room, op, voice }
        })
    }

    /// Its seat in `room`, if it is there.
    pub fn seat_in(&self, room: &str) -> Option<RoomSeat<'_>> {
        self.seats().find(|s| s.room == room)
    }

    /// The entry as stored.
    pub fn encode(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// An entry as stored; `None` if it is not one (a newer or broken
    /// writer, or over [`MAX_ENVELOPE`]): skipped, never fatal.
    pub fn decode(text: &str) -> Option<Entry> {
        if text.len() > MAX_ENVELOPE {
            return None;
        }
        serde_json::from_str(text).ok()
    }
}

/// Every other live node's members, `(node id, entry)`; dead nodes are
/// cleaned on the way.
static OTHERS: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local out = {}
for _, n in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if n ~= ARGV[1] then
    local members = ARGV[2] .. n .. ARGV[4]
    if redis.call('EXISTS', ARGV[2] .. n .. ARGV[3]) == 1 then
      for _, v in ipairs(redis.call('HVALS', members)) do
        out[#out + 1] = n
        out[#out + 1] = v
      end
    else
      redis.call('SREM', KEYS[1], n)
      redis.call('DEL', members)
    end
  end
end
return out",
    )
});

/// The members of every other live node of the cluster.
pub async fn others(cluster: &Cluster) -> Result<Vec<(String, Entry)>, ClusterError> {
    let mut conn = cluster.conn();
    let mut call = OTHERS.key(keys::NODES);
    call.arg(cluster.node().as_ref()).arg(keys::NODE_KEY).arg(keys::ALIVE).arg(keys::MEMBERS);
    let flat: Vec<String> = bounded(cluster, call.invoke_async(&mut conn)).await?;
    Ok(pairs(flat))
}

/// `[node, json, node, json, …]` as entries, skipping what does not parse.
fn pairs(flat: Vec<String>) -> Vec<(String, Entry)> {
    let mut out = Vec::with_capacity(flat.len() / 2);
    let mut it = flat.into_iter();
    while let (Some(node), Some(json)) = (it.next(), it.next()) {
        if let Some(e) = Entry::decode(&json) {
            out.push((node, e));
        }
    }
    out
}

/// What changes between two member sets: fields to set, fields to delete.
pub fn diff(before: &HashMap<String, String>, after: &HashMap<String, String>) -> (Vec<(String, String)>, Vec<String>) {
    let set = after.iter().filter(|(k, v)| before.get(*k) != Some(*v)).map(|(k, v)| (k.clone(), v.clone())).collect();
    let gone = before.keys().filter(|k| !after.contains_key(*k)).cloned().collect();
    (set, gone)
}

/// Writes this node's presence: heartbeat, member set (as a diff from
/// what it wrote last), and its members' nick claims (given back when a
/// nick is no longer used here, refreshed every [`nicks::REFRESH_EVERY`]).
#[derive(Debug)]
pub struct Publisher {
    cluster: Cluster,
    /// The member set as last written; `None`: rewrite it whole.
    written: Option<HashMap<String, String>>,
    /// The nick keys of the last snapshot (claims this node holds).
    claimed: HashSet<String>,
    /// When the claims were last refreshed.
    refreshed: Option<Instant>,
}

impl Publisher {
    /// A publisher for `cluster` that has written nothing yet.
    pub fn new(cluster: Cluster) -> Publisher {
        Publisher { cluster, written: None, claimed: HashSet::new(), refreshed: None }
    }

    /// Publishes `members` (member id → entry, from the registry) and the
    /// heartbeat; gives back claims no member here uses any more (those of
    /// the last snapshot and the settled `grants`). Returns whether some
    /// grants are still too young to judge (run again after
    /// [`nicks::SETTLE`]).
    pub async fn publish(&mut self, members: Vec<(String, Entry)>, grants: &Grants) -> Result<bool, ClusterError> {
        let (settled, young) = grants.settled();
        self.claimed.extend(settled);
        let keys_now: HashSet<String> = members.iter().map(|(_, e)| nick_key(&e.nick)).collect();
        let after: HashMap<String, String> = members.into_iter().map(|(id, e)| (id, e.encode())).collect();
        let node = self.cluster.node().to_string();
        let ttl = NODE_TTL.as_millis() as u64;
        let hash = keys::members(&node);
        let beat = self.refreshed.is_none_or(|t| t.elapsed() >= nicks::REFRESH_EVERY);
        if beat {
            // Whole on every heartbeat: a Redis that lost its data (a
            // restart) has the full set again within one heartbeat.
            self.written = None;
        }
        let mut pipe = redis::pipe();
        pipe.atomic();
        match &self.written {
            Some(before) => {
                let (set, gone) = diff(before, &after);
                if !set.is_empty() {
                    pipe.hset_multiple(&hash, &set).ignore();
                }
                if !gone.is_empty() {
                    pipe.hdel(&hash, &gone).ignore();
                }
            }
            None => {
                pipe.del(&hash).ignore();
                if !after.is_empty() {
                    let all: Vec<(&String, &String)> = after.iter().collect();
                    pipe.hset_multiple(&hash, &all).ignore();
                }
            }
        }
        pipe.pexpire(&hash, ttl as i64).ignore();
        pipe.cmd("SET").arg(keys::alive(&node)).arg(crate::event::now_ms()).arg("PX").arg(ttl).ignore();
        pipe.sadd(keys::NODES, &node).ignore();
        let mut conn = self.cluster.conn();
        let written: Result<(), ClusterError> = bounded(&self.cluster, pipe.query_async(&mut conn)).await;
        if let Err(e) = written {
            // Unknown what landed: rewrite it whole next time, and keep
            // every claim to judge again.
            self.written = None;
            self.claimed.extend(keys_now);
            return Err(e);
        }
        self.written = Some(after);
        let gone: Vec<String> =
            self.claimed.iter().filter(|k| !keys_now.contains(*k) && !young.contains(*k)).cloned().collect();
        self.claimed = keys_now;
        if !gone.is_empty() {
            if let Err(e) = nicks::release(&self.cluster, &gone).await {
                self.claimed.extend(gone);
                return Err(e);
            }
        }
        if beat {
            let mine: Vec<String> = self.claimed.iter().cloned().collect();
            let lost = nicks::refresh(&self.cluster, &mine).await?;
            for nick in lost {
                tracing::warn!(%nick, "a nick of this node is claimed by another node (a Redis outage let both take it)");
            }
            self.refreshed = Some(Instant::now());
        }
        Ok(!young.is_empty())
    }

    /// Takes this node out of the cluster's presence (on shutdown): its
    /// heartbeat, member set and nick claims (those it knows of and
    /// `also`). Best effort.
    pub async fn leave(&mut self, also: impl IntoIterator<Item = String>) {
        let node = self.cluster.node().to_string();
        let mut pipe = redis::pipe();
        pipe.atomic()
            .del(keys::alive(&node))
            .ignore()
            .del(keys::members(&node))
            .ignore()
            .srem(keys::NODES, &node)
            .ignore();
        let mut conn = self.cluster.conn();
        let _: Result<(), ClusterError> = bounded(&self.cluster, pipe.query_async(&mut conn)).await;
        self.claimed.extend(also);
        let mine: Vec<String> = self.claimed.drain().collect();
        let _ = nicks::release(&self.cluster, &mine).await;
        self.written = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn entry(nick: &str, rooms: &[&str]) -> Entry {
        Entry::sample(nick, rooms)
    }

    #[test]
    fn seats_carry_flags() {
        let e = entry("ann", &["@dev", "+ops", "lobby"]);
        let seats: Vec<_> = e.seats().collect();
        assert_eq!(seats[0], RoomSeat { room: "dev", op: true, voice: false });
        assert_eq!(seats[1], RoomSeat { room: "ops", op: false, voice: true });
        assert_eq!(seats[2], RoomSeat { room: "lobby", op: false, voice: false });
        assert!(e.seat_in("lobby").is_some());
        assert!(e.seat_in("elsewhere").is_none());
        assert_eq!(seat_text("dev", true, true), "@dev");
        assert_eq!(seat_text("dev", false, true), "+dev");
    }

    #[test]
    fn an_oversized_entry_is_skipped() {
        let mut e = entry("ann", &["lobby"]);
        e.host = "h".repeat(MAX_ENVELOPE);
        assert_eq!(Entry::decode(&e.encode()), None);
        e.host = "127.0.0.1".into();
        assert_eq!(Entry::decode(&e.encode()), Some(e));
    }

    #[test]
    fn pairs_skip_what_does_not_parse() {
        let good = entry("ann", &["lobby"]).encode();
        let got = pairs(vec!["n1".into(), good, "n2".into(), "{not json".into(), "n3".into()]);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].0, "n1");
        assert_eq!(got[0].1.nick, "ann");
    }

    proptest! {
        #[test]
        fn entries_round_trip(nick in "\\PC{1,32}", rooms in proptest::collection::vec("[@+]?[a-z0-9._-]{1,32}", 0..5), away: bool) {
            let mut e = entry(&nick, &[]);
            e.rooms = rooms;
            e.away = away;
            prop_assert_eq!(Entry::decode(&e.encode()), Some(e));
        }

        #[test]
        fn decode_never_panics(text in "\\PC{0,200}") {
            let _ = Entry::decode(&text);
        }

        #[test]
        fn a_diff_turns_before_into_after(
            before in proptest::collection::hash_map("[0-9]{1,3}", "[a-c]{0,2}", 0..20),
            after in proptest::collection::hash_map("[0-9]{1,3}", "[a-c]{0,2}", 0..20),
        ) {
            let (set, gone) = diff(&before, &after);
            let mut got = before.clone();
            for k in &gone { got.remove(k); }
            for (k, v) in set { got.insert(k, v); }
            prop_assert_eq!(got, after);
        }
    }
}

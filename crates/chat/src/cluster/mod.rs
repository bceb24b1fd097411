//! Several `sockit chat serve` nodes sharing rooms through Redis
//! (`--redis redis://HOST:PORT/DB`, issue #18).
//!
//! Without `--redis` none of this runs: one node, SQLite history,
//! in-process fan-out. With it, Redis is the one place a room's events are
//! numbered and kept; each node still fans events out to its own members
//! through its writer shards ([`crate::fanout`]), so Redis carries each
//! event once per node, not once per member. The design follows
//! Centrifugo's Redis engine (a per-channel offset and epoch, a capped
//! stream as history, recovery of missed offsets from it) and the
//! socket.io Redis adapters (one channel per room, one per node).
//!
//! # One publish path
//!
//! A member's room message goes through [`crate::service::Chat::publish_room`].
//! Without a cluster it is stored by the history thread and handed to the
//! shards, as always. With one, an atomic Lua script (`append.lua`) run
//! per message:
//!
//! 1. reads the epoch ([`keys::EPOCH`]), creating it (random) if missing;
//! 2. `INCR`s the room's counter ([`keys::offset`]) — the event's offset;
//! 3. `XADD`s `{o, epoch, node, member, ev}` to the room's stream
//!    ([`keys::log`], entry ID `OFFSET-0`, `MAXLEN ~ --history-max-per-room`);
//! 4. `PUBLISH`es the same envelope on the room's channel
//!    ([`keys::room_channel`]) and returns the offset.
//!
//! The writing node does **not** deliver locally before Redis has numbered
//! the event: every node, the writer too, delivers from its subscription,
//! in offset order, so every member on every node sees one order, each
//! event exactly once. A member still does not get its own message back
//! (the envelope names the origin node and member, and the writer's node
//! marks it as that member's, as [`crate::event::Shared::origin`] does).
//! A message that cannot be published is refused to its sender with
//! `! not delivered: the cluster is unreachable`, never delivered locally
//! only (which would fork the room's history).
//!
//! # Subscriptions, order and gaps
//!
//! A node subscribes to a room's channel while it has local members there
//! (on the first local join, off on the last leave), and always to its own
//! node channel ([`keys::node_channel`]). Per room it remembers the epoch
//! and the last offset delivered. An offset out of order waits (bounded);
//! a missing one, a (re)subscription, a dropped subscription connection or
//! the periodic position check (the room counters compared once a second)
//! makes the node read the gap from the stream (`XRANGE`) and deliver it in
//! order, skipping what it already delivered. If the epoch changed (Redis
//! lost its data), the room's local members get one
//! `* history was lost on the server` notice and numbering starts again.
//!
//! # Half-dead connections
//!
//! A probe is published on the node's own channel every second; if it has
//! not come back through the subscription within a bound, the subscription
//! connection is reopened (and gaps repaired). Commands go over a
//! [`ConnectionManager`] (one multiplexed, pipelined connection that
//! reconnects by itself), every call bounded by a timeout.
//!
//! # History
//!
//! With `--redis`, join replay and `/history` read the room's stream
//! (`XREVRANGE`, up to the offset this node has delivered, so replay and
//! live events meet exactly), so a late joiner on one node gets what was
//! written through any other. SQLite history is not used.
//!
//! # Room notices
//!
//! Joins, parts, quits, nick and away changes of a node's members are
//! delivered to its own members at once, as on a single node (an IRC
//! client needs its JOIN before its NAMES), and relayed unnumbered on the
//! same room channels to the other nodes ([`bus::Bus::relay`],
//! [`envelope::Relayed`]), which deliver each once. They are not stored,
//! and not ordered with the room's messages. Room state (topics, modes,
//! operators, bans) is per node. Nicks are claimed across nodes
//! ([`nicks`]), each node publishes its members ([`presence`]) for the
//! answers that count every node, and a private message to another node's
//! member goes through that node's channel ([`direct`]).
//!
//! # Files
//!
//! [`keys`] names every key and channel; [`envelope`] is the wire form of
//! an event between nodes; `log` runs the scripts (`append.lua`,
//! `position.lua`) and stream reads; [`order`] is the pure ordering and
//! gap logic; [`bus`] is the node's subscription task.
//!
//! Why redis-rs: it is the maintained Rust client (async on tokio,
//! RESP2/3, a connection manager, scripts with `EVALSHA` and automatic
//! `SCRIPT LOAD`, streams); the alternatives (fred, deadpool-redis on top of
//! redis-rs) add pools this design does not need, since one multiplexed
//! connection pipelines every node's commands.

pub mod bounded;
pub mod bus;
pub mod direct;
pub mod envelope;
pub mod keys;
mod log;
pub mod nicks;
pub mod order;
pub mod presence;

use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

/// How long a connection attempt to Redis may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long one Redis command may take before it counts as failed.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(2);

/// The cluster could not be used.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ClusterError {
    /// Redis did not answer (at start-up, or for one request).
    #[error("cannot reach the chat cluster at {url}: {reason}")]
    Unreachable {
        /// The Redis URL, without its password.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// The URL is not a Redis URL.
    #[error("--redis {url} is not a Redis URL ({reason}); use redis://HOST:PORT/DB")]
    BadUrl {
        /// The URL, without its password.
        url: String,
        /// What redis-rs said about it.
        reason: String,
    },
}

/// A handle to the cluster: the Redis client, a shared reconnecting
/// connection and this node's random id. Cheap to clone.
#[derive(Clone)]
pub struct Cluster {
    client: redis::Client,
    conn: ConnectionManager,
    node: Arc<str>,
    url: Arc<str>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster").field("url", &self.url).field("node", &self.node).finish()
    }
}

impl Cluster {
    /// Connects to Redis at `url` and checks it answers `PING`; fails with
    /// one line naming the URL (password hidden) and the reason.
    pub async fn connect(url: &str) -> Result<Cluster, ClusterError> {
        let shown = redact(url);
        let client =
            redis::Client::open(url).map_err(|e| ClusterError::BadUrl { url: shown.clone(), reason: e.to_string() })?;
        let unreachable = |reason: String| ClusterError::Unreachable { url: shown.clone(), reason };
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(COMMAND_TIMEOUT))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let attempt = async {
            let mut conn = client.get_connection_manager_with_config(config).await.map_err(|e| e.to_string())?;
            let pong: String = redis::cmd("PING").query_async(&mut conn).await.map_err(|e| e.to_string())?;
            if pong != "PONG" {
                return Err(format!("PING was answered {pong:?}"));
            }
            Ok(conn)
        };
        let conn = match tokio::time::timeout(2 * CONNECT_TIMEOUT, attempt).await {
            Ok(Ok(conn)) => conn,
            Ok(Err(reason)) => return Err(unreachable(reason)),
            Err(_) => return Err(unreachable(format!("no answer within {} s", 2 * CONNECT_TIMEOUT.as_secs()))),
        };
        Ok(Cluster { client, conn, node: new_node_id().into(), url: shown.into() })
    }

    /// This node's id (random per run; names its channel).
    pub fn node(&self) -> &Arc<str> {
        &self.node
    }

    /// The Redis URL, password hidden (for messages).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The shared command connection (multiplexed: clone it per request).
    pub fn conn(&self) -> ConnectionManager {
        self.conn.clone()
    }

    /// The client, to open connections of its own (the subscription).
    pub fn client(&self) -> &redis::Client {
        &self.client
    }

    /// The error for a request Redis did not answer.
    pub fn unreachable(&self, reason: impl std::fmt::Display) -> ClusterError {
        ClusterError::Unreachable { url: self.url.to_string(), reason: reason.to_string() }
    }
}

/// A random node id: 16 hex digits (64 bits; two nodes never pick the same).
fn new_node_id() -> String {
    format!("{:016x}", rand::random::<u64>())
}

/// `url` with any password replaced by `***` (it goes into messages and logs).
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_string() };
    let (auth, host) = match rest.rsplit_once('@') {
        Some(parts) => parts,
        None => return url.to_string(),
    };
    let user = auth.split_once(':').map_or("", |(u, _)| u);
    format!("{scheme}://{user}:***@{host}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_hidden() {
        assert_eq!(redact("redis://127.0.0.1:6379/0"), "redis://127.0.0.1:6379/0");
        assert_eq!(redact("redis://:secret@h:1/2"), "redis://:***@h:1/2");
        assert_eq!(redact("redis://al:secret@h"), "redis://al:***@h");
        assert_eq!(redact("not a url"), "not a url");
    }

    #[test]
    fn node_ids_are_hex() {
        let id = new_node_id();
        assert_eq!(id.len(), 16);
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
    }
}

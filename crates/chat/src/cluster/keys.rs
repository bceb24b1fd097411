//! Every Redis key and channel name the cluster uses, in one place, so
//! that nodes of one version always agree and a reader finds the layout
//! without reading the code that uses it (docs/protocol.md, Cluster).
//!
//! Per-room keys put the room in `{…}`: in a Redis Cluster the room's
//! stream and counter then live on one slot, so the append script may
//! touch both (the global epoch key is the one exception, see
//! [`EPOCH`]). Room names are already normalised and limited to
//! `[a-z0-9._-]{1,32}` by [`crate::text::normalize_room`], so they need no
//! escaping.

/// The key prefix of everything sockit writes.
pub const PREFIX: &str = "sockit";

/// The cluster's epoch: a random string made by whoever finds it missing
/// (`SET NX`). When Redis loses its data the epoch changes with it, which
/// tells every node that room offsets start again and history was lost.
pub const EPOCH: &str = "sockit:epoch";

/// The stream holding `room`'s events, entry ID `OFFSET-0` (capped at
/// `--history-max-per-room` entries with `MAXLEN ~`).
pub fn log(room: &str) -> String {
    format!("{PREFIX}:{{{room}}}:log")
}

/// The counter that numbers `room`'s events (`INCR`; the last offset given).
pub fn offset(room: &str) -> String {
    format!("{PREFIX}:{{{room}}}:offset")
}

/// The channel carrying `room`'s events to the nodes that have members in it.
pub fn room_channel(room: &str) -> String {
    format!("{PREFIX}:room:{room}")
}

/// The channel of one node: its liveness probes, and whatever is sent to
/// that node alone (private messages).
pub fn node_channel(node: &str) -> String {
    format!("{PREFIX}:node:{node}")
}

/// The room named by a room channel (`sockit:room:dev` → `dev`), if it is one.
pub fn room_of_channel(channel: &str) -> Option<&str> {
    channel.strip_prefix("sockit:room:").filter(|r| !r.is_empty())
}

/// The claim on a nick across nodes (`SET NX PX`, value: the owning node's
/// id). `key` is the case-folded nick ([`crate::text::nick_key`]).
pub fn nick(key: &str) -> String {
    format!("{PREFIX}:nick:{key}")
}

/// The set of node ids that have announced themselves; a reader drops the
/// ones whose [`alive`] key has expired.
pub const NODES: &str = "sockit:nodes";

/// What per-node keys start with (then the node id, then a suffix).
pub const NODE_KEY: &str = "sockit:node:";
/// The suffix of a node's heartbeat key.
pub const ALIVE: &str = ":alive";
/// The suffix of a node's member hash.
pub const MEMBERS: &str = ":members";

/// A node's heartbeat: exists (with an expiry) while the node runs.
pub fn alive(node: &str) -> String {
    format!("{NODE_KEY}{node}{ALIVE}")
}

/// A node's members: a hash, member id → JSON entry
/// ([`crate::cluster::presence::Entry`]).
pub fn members(node: &str) -> String {
    format!("{NODE_KEY}{node}{MEMBERS}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(log("dev"), "sockit:{dev}:log");
        assert_eq!(offset("dev"), "sockit:{dev}:offset");
        assert_eq!(room_channel("dev"), "sockit:room:dev");
        assert_eq!(node_channel("ab12"), "sockit:node:ab12");
        assert_eq!(room_of_channel(&room_channel("a.b-c")), Some("a.b-c"));
        assert_eq!(room_of_channel("sockit:node:x"), None);
        assert_eq!(room_of_channel("sockit:room:"), None);
        assert_eq!(nick("ann"), "sockit:nick:ann");
        assert_eq!(alive("ab12"), "sockit:node:ab12:alive");
        assert_eq!(members("ab12"), "sockit:node:ab12:members");
    }
}

//! Nicks unique across nodes: a nick is claimed in Redis before a member
//! takes it, kept while the member is connected, given back when it goes.
//!
//! The claim is the key [`keys::nick`] of the case-folded nick (the key the
//! registry already uses for uniqueness), set with `NX` and an expiry of
//! [`CLAIM_TTL`] to this node's id. Redis runs one command at a time, so
//! of two nodes racing for a nick exactly one `SET NX` succeeds. A node
//! refreshes all its members' claims in one script call every
//! [`REFRESH_EVERY`] (not a timer per member); the claims of a node that
//! died without a word expire within [`CLAIM_TTL`]. A claim is given back
//! with a compare-and-delete script: only while its value is still this
//! node's id, so a claim another node took since is never removed.
//!
//! The value is the node id, not a member: nicks are unique on one node
//! already (the registry), so "ours" is all Redis must know, and the
//! owner's id is what a private message to that nick needs
//! ([`super::direct`]).

use std::collections::{HashMap, HashSet};
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

use redis::Script;

use super::bounded::bounded;
use super::{keys, Cluster, ClusterError};

/// How long a claim lives without a refresh (30 s): the bound on how long
/// a dead node's nicks stay taken.
pub const CLAIM_TTL: Duration = Duration::from_secs(30);
/// How often a node refreshes its members' claims (10 s).
pub const REFRESH_EVERY: Duration = Duration::from_secs(10);
/// Claims refreshed or released by one script call, at most (the rest go
/// in further calls, pipelined on the one connection).
const BATCH: usize = 500;

/// How long a claim just granted is kept from being given back: the
/// member it is for may not be in the registry's snapshot yet (1 s; a
/// claim is committed, or refused, within milliseconds).
pub const SETTLE: Duration = Duration::from_secs(1);

/// The claims this node was granted lately (case-folded nicks), so the
/// presence publisher neither misses one whose member came and went
/// between two snapshots (it is given back) nor gives back one whose
/// member is not in the snapshot yet.
#[derive(Debug, Default)]
pub struct Grants(Mutex<HashMap<String, Instant>>);

impl Grants {
    /// Notes that `key` was just granted.
    pub fn note(&self, key: &str) {
        self.lock().insert(key.to_string(), Instant::now());
    }

    /// Takes the grants older than [`SETTLE`]; returns them, and the keys
    /// of the younger ones (kept for a later round).
    pub fn settled(&self) -> (Vec<String>, HashSet<String>) {
        let mut all = self.lock();
        let mut old = Vec::new();
        all.retain(|k, at| {
            let young = at.elapsed() < SETTLE;
            if !young {
                old.push(k.clone());
            }
            young
        });
        (old, all.keys().cloned().collect())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Instant>> {
        // A panic elsewhere under this lock leaves a map that is still whole.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// What a claim found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// The nick was free: it is now this node's.
    Fresh,
    /// This node held it already (another of its members has it, or had
    /// it a moment ago): the registry decides.
    Ours,
    /// Another node holds it.
    Taken,
}

/// `SET NX PX`, and if the key is there already, whether it is ours
/// (then its expiry is renewed). 1 fresh, 2 ours, 0 taken.
static CLAIM: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 2
end
return 0",
    )
});

/// Compare-and-delete: each key is deleted only if it still holds ARGV[1].
static RELEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local n = 0
for _, k in ipairs(KEYS) do
  if redis.call('GET', k) == ARGV[1] then redis.call('DEL', k); n = n + 1 end
end
return n",
    )
});

/// Renews each claim that is ours, takes again each that expired (a Redis
/// restart, a gap), and returns the keys another node holds now.
static REFRESH: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local lost = {}
for _, k in ipairs(KEYS) do
  if not redis.call('SET', k, ARGV[1], 'NX', 'PX', ARGV[2]) then
    if redis.call('GET', k) == ARGV[1] then
      redis.call('PEXPIRE', k, ARGV[2])
    else
      table.insert(lost, k)
    end
  end
end
return lost",
    )
});

fn ttl_ms() -> u64 {
    CLAIM_TTL.as_millis() as u64
}

/// Claims the nick whose case-folded form is `key` for this node.
pub async fn claim(cluster: &Cluster, key: &str) -> Result<Claim, ClusterError> {
    let mut conn = cluster.conn();
    let mut call = CLAIM.key(keys::nick(key));
    call.arg(cluster.node().as_ref()).arg(ttl_ms());
    let got: i64 = bounded(cluster, call.invoke_async(&mut conn)).await?;
    Ok(match got {
        1 => Claim::Fresh,
        2 => Claim::Ours,
        _ => Claim::Taken,
    })
}

/// Gives back the claims on `nick_keys` that are still this node's.
pub async fn release(cluster: &Cluster, nick_keys: &[String]) -> Result<(), ClusterError> {
    for chunk in nick_keys.chunks(BATCH) {
        let mut conn = cluster.conn();
        let mut call = RELEASE.prepare_invoke();
        for k in chunk {
            call.key(keys::nick(k));
        }
        call.arg(cluster.node().as_ref());
        let _: i64 = bounded(cluster, call.invoke_async(&mut conn)).await?;
    }
    Ok(())
}

/// Refreshes this node's claims on `nick_keys` (taking again any that
/// expired); returns the keys (case-folded nicks) another node holds now.
pub async fn refresh(cluster: &Cluster, nick_keys: &[String]) -> Result<Vec<String>, ClusterError> {
    let mut lost = Vec::new();
    for chunk in nick_keys.chunks(BATCH) {
        let mut conn = cluster.conn();
        let mut call = REFRESH.prepare_invoke();
        for k in chunk {
            call.key(keys::nick(k));
        }
        call.arg(cluster.node().as_ref()).arg(ttl_ms());
        let got: Vec<String> = bounded(cluster, call.invoke_async(&mut conn)).await?;
        let prefix = keys::nick("");
        lost.extend(got.into_iter().map(|k| k.strip_prefix(&prefix).map(str::to_string).unwrap_or(k)));
    }
    Ok(lost)
}

/// The node holding the nick whose case-folded form is `key`, if any.
pub async fn owner(cluster: &Cluster, key: &str) -> Result<Option<String>, ClusterError> {
    let mut conn = cluster.conn();
    bounded(cluster, redis::cmd("GET").arg(keys::nick(key)).query_async(&mut conn)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn young_grants_wait() {
        let g = Grants::default();
        g.note("ann");
        let (old, young) = g.settled();
        assert!(old.is_empty());
        assert!(young.contains("ann"));
        g.0.lock().unwrap_or_else(|e| e.into_inner()).insert("bob".into(), Instant::now() - SETTLE);
        let (old, young) = g.settled();
        assert_eq!(old, ["bob"]);
        assert!(young.contains("ann") && !young.contains("bob"));
        assert!(g.settled().0.is_empty(), "taken once");
    }
}

//! A room's log in Redis: appending an event (the atomic script that
//! numbers, stores and publishes it), the position check (the epoch and
//! each room's newest offset in one round trip), and reads of the stream
//! for gap repair (`XRANGE`) and history (`XREVRANGE`). Every call is
//! bounded by [`COMMAND_TIMEOUT`]; a failure is a [`ClusterError`] the
//! caller turns into `! not delivered` or a retry.

use std::sync::{Arc, LazyLock};

use redis::streams::StreamRangeReply;

use super::envelope::{body, Envelope};
use super::{keys, Cluster, ClusterError, COMMAND_TIMEOUT};
use crate::event::{Event, MemberId};

static APPEND: LazyLock<redis::Script> = LazyLock::new(|| redis::Script::new(include_str!("append.lua")));
static POSITION: LazyLock<redis::Script> = LazyLock::new(|| redis::Script::new(include_str!("position.lua")));

/// Rooms asked about in one position check call (the rest in further calls).
const POSITION_BATCH: usize = 256;

impl Cluster {
    /// Runs `f` against the shared connection within [`COMMAND_TIMEOUT`].
    async fn bounded<T, F>(&self, f: F) -> Result<T, ClusterError>
    where
        F: std::future::Future<Output = redis::RedisResult<T>>,
    {
        match tokio::time::timeout(COMMAND_TIMEOUT, f).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(self.unreachable(e)),
            Err(_) => Err(self.unreachable(format!("no answer within {} s", COMMAND_TIMEOUT.as_secs()))),
        }
    }

    /// Numbers `event` (a message of local member `member` in `room`),
    /// stores it in the room's stream (capped at `cap` entries, 0: no cap)
    /// and publishes it to every node watching the room; returns its offset.
    pub async fn append(&self, room: &str, event: &Event, member: MemberId, cap: usize) -> Result<u64, ClusterError> {
        let mut conn = self.conn();
        let mut call = APPEND.prepare_invoke();
        call.key(keys::EPOCH)
            .key(keys::offset(room))
            .key(keys::log(room))
            .arg(new_epoch())
            .arg(cap)
            .arg(keys::room_channel(room))
            .arg(&**self.node())
            .arg(member.0)
            .arg(body(event));
        self.bounded(call.invoke_async::<u64>(&mut conn)).await
    }

    /// The epoch and the newest offset of each of `rooms` (0 if never written).
    pub async fn position(&self, rooms: &[Arc<str>]) -> Result<(Arc<str>, Vec<u64>), ClusterError> {
        let mut heads = Vec::with_capacity(rooms.len());
        let mut epoch: Option<Arc<str>> = None;
        for chunk in rooms.chunks(POSITION_BATCH).chain(rooms.is_empty().then_some(&[][..])) {
            let mut conn = self.conn();
            let mut call = POSITION.prepare_invoke();
            call.key(keys::EPOCH).arg(new_epoch());
            for room in chunk {
                call.key(keys::offset(room));
            }
            let reply: Vec<String> = self.bounded(call.invoke_async(&mut conn)).await?;
            let mut it = reply.into_iter();
            let this: Arc<str> = it.next().ok_or_else(|| self.unreachable("empty position reply"))?.into();
            if epoch.as_ref().is_some_and(|e| *e != this) {
                // Redis lost its data between two calls: ask again next time.
                return Err(self.unreachable("the epoch changed during the position check"));
            }
            epoch = Some(this);
            heads.extend(it.map(|h| h.parse::<u64>().unwrap_or(0)));
        }
        let epoch = epoch.ok_or_else(|| self.unreachable("no position reply"))?;
        if heads.len() != rooms.len() {
            return Err(self.unreachable("short position reply"));
        }
        Ok((epoch, heads))
    }

    /// Up to `count` entries of `room`'s stream from offset `from` to `to`, oldest first.
    pub async fn range(&self, room: &str, from: u64, to: u64, count: usize) -> Result<Vec<Envelope>, ClusterError> {
        let mut conn = self.conn();
        let cmd = redis::cmd("XRANGE")
            .arg(keys::log(room))
            .arg(format!("{from}-0"))
            .arg(format!("{to}-0"))
            .arg("COUNT")
            .arg(count)
            .to_owned();
        let reply: StreamRangeReply = self.bounded(cmd.query_async(&mut conn)).await?;
        Ok(entries(room, reply))
    }

    /// The newest `count` entries of `room`'s stream at or below offset
    /// `upto` (`None`: the newest), oldest first.
    pub async fn recent(&self, room: &str, upto: Option<u64>, count: usize) -> Result<Vec<Envelope>, ClusterError> {
        if count == 0 {
            return Ok(Vec::new());
        }
        let mut conn = self.conn();
        let end = upto.map_or_else(|| "+".to_string(), |o| format!("{o}-0"));
        let cmd = redis::cmd("XREVRANGE").arg(keys::log(room)).arg(end).arg("-").arg("COUNT").arg(count).to_owned();
        let reply: StreamRangeReply = self.bounded(cmd.query_async(&mut conn)).await?;
        let mut list = entries(room, reply);
        list.reverse();
        Ok(list)
    }

    /// Publishes `payload` on each of `channels`, pipelined (relayed
    /// notices; no numbering, no storage).
    pub async fn publish_all(&self, channels: &[String], payload: &str) -> Result<(), ClusterError> {
        let mut conn = self.conn();
        let mut pipe = redis::pipe();
        for channel in channels {
            pipe.cmd("PUBLISH").arg(channel).arg(payload).ignore();
        }
        self.bounded(pipe.exec_async(&mut conn)).await
    }

    /// Publishes `payload` on `channel` (probes; no numbering, no storage).
    pub async fn publish(&self, channel: &str, payload: &str) -> Result<(), ClusterError> {
        let mut conn = self.conn();
        let cmd = redis::cmd("PUBLISH").arg(channel).arg(payload).to_owned();
        self.bounded(cmd.query_async::<i64>(&mut conn)).await.map(|_| ())
    }
}

/// The envelopes of a stream reply; bad entries are logged and left out
/// (their offsets count as gone, see [`super::order::RoomOrder::settle`]).
fn entries(room: &str, reply: StreamRangeReply) -> Vec<Envelope> {
    reply
        .ids
        .into_iter()
        .filter_map(|id| {
            let field = |k: &str| id.get::<Vec<u8>>(k).unwrap_or_default();
            match Envelope::from_fields(&field("o"), &field("epoch"), &field("node"), &field("member"), &field("ev")) {
                Ok(mut e) => {
                    e.event.room = Some(room.to_string());
                    Some(e)
                }
                Err(err) => {
                    tracing::warn!(room, id = %id.id, %err, "chat cluster: a stream entry was skipped");
                    None
                }
            }
        })
        .collect()
}

/// An epoch for a script to set if Redis has none: 16 hex digits.
fn new_epoch() -> String {
    format!("{:016x}", rand::random::<u64>())
}

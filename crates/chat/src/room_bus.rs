//! The one path a member's room message takes, and the one path a room's
//! history is read by, whatever the transport (line, UDP, WebSocket and
//! IRC members alike).
//!
//! A single node stores the message with the history writer and hands it
//! to the writer shards, synchronously: no allocation or await beyond
//! what a message always cost. A cluster node ([`crate::cluster`]) hands
//! it to Redis instead, which numbers, stores and publishes it; the shards
//! get it back through the node's subscription, like every other node's
//! shards, so every member everywhere sees one order.

use std::sync::Arc;
use std::time::Duration;

use crate::event::irc::Relay;
use crate::event::{now_ms, Event, MemberId, Shared};
use crate::service::Chat;

/// What the sender of a message the cluster did not take is told.
pub const NOT_DELIVERED: &str = "not delivered: the cluster is unreachable";
/// What a member asking for history is told when Redis does not answer.
pub const NO_HISTORY: &str = "history not available: the cluster is unreachable";
/// How long a sender waits for its message to be delivered on its own
/// node before it handles its next line (see [`crate::cluster::bus::Bus::delivered`]).
const DELIVERY_WAIT: Duration = Duration::from_secs(1);
/// How long a replay waits for the room's position on this node (a room
/// just joined is being subscribed to).
const POINT_WAIT: Duration = Duration::from_secs(2);

/// The cluster did not take the message: nobody got it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotDelivered;

impl Chat {
    /// Publishes member `origin`'s `event` to `room` (stored in history
    /// when `store`; IRC TAGMSGs are not). Without a cluster this never
    /// waits: the future is ready when first polled.
    pub(crate) async fn publish_room(
        &self,
        room: &Arc<str>,
        event: Event,
        origin: MemberId,
        store: bool,
    ) -> Result<(), NotDelivered> {
        let Some(cluster) = &self.cluster else {
            if store {
                self.history.append(event.clone());
            }
            self.fanout.publish(room, Shared::new(event, Some(origin)));
            return Ok(());
        };
        match cluster.append(room, &event, origin, self.config.retention.max_per_room).await {
            Ok(offset) => {
                if let Some(bus) = &self.bus {
                    bus.delivered(room, offset, DELIVERY_WAIT).await;
                }
                Ok(())
            }
            Err(e) => {
                tracing::warn!(%room, error = %e, "chat cluster: a message was not delivered");
                Err(NotDelivered)
            }
        }
    }

    /// The last `n` messages of `room`, oldest first, marked as history:
    /// from the history store, or on a cluster node from the room's stream
    /// (up to what this node has delivered, so a replay and the live
    /// events that follow it neither overlap nor leave a gap).
    pub(crate) async fn recent(&self, room: &Arc<str>, n: usize) -> Result<Vec<Event>, NotDelivered> {
        let Some(cluster) = &self.cluster else {
            return Ok(self.history.recent(room, n).await);
        };
        let retention = &self.config.retention;
        let n = match retention.max_per_room {
            0 => n,
            max => n.min(max),
        };
        let upto = match &self.bus {
            Some(bus) => bus.point(room, POINT_WAIT).await,
            None => None,
        };
        let list = cluster.recent(room, upto, n).await.map_err(|e| {
            tracing::warn!(%room, error = %e, "chat cluster: history not read");
            NotDelivered
        })?;
        let cutoff = retention.cutoff_ms(now_ms());
        Ok(list
            .into_iter()
            .map(|e| e.event)
            .filter(|e| e.ts >= cutoff && !Relay::is_tagmsg(e))
            .map(|mut e| {
                e.history = true;
                e
            })
            .collect())
    }
}

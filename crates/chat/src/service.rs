//! [`Chat`]: the running service every listener and member task holds —
//! the registry, the writer shards, the history writer and the
//! configuration. Transports import it from here; the listeners that start
//! transports live in [`crate::server`], so no file imports one that
//! imports it.

use std::sync::Arc;
use std::time::Duration;

use sockit_net::{Limits, Shutdown};

use crate::cluster::bus::Bus;
use crate::cluster::Cluster;
use crate::config::ChatConfig;
use crate::fanout::Fanout;
use crate::history::{History, HistoryError};
use crate::hub::Hub;

/// A running chat service; clone it into every listener.
#[derive(Debug, Clone)]
pub struct Chat {
    pub(crate) hub: Hub,
    pub(crate) fanout: Fanout,
    pub(crate) history: History,
    pub(crate) config: Arc<ChatConfig>,
    /// The cluster this node belongs to (`--redis`); `None`: a single node.
    pub(crate) cluster: Option<Cluster>,
    /// The cluster node's subscription task (with `cluster`).
    pub(crate) bus: Option<Bus>,
}

impl Chat {
    /// Opens the history store and starts the registry and the writer shards. On shutdown, history
    /// is flushed by a task `shutdown` waits for.
    pub fn start(config: ChatConfig, shutdown: &Shutdown) -> Result<Chat, HistoryError> {
        Self::start_in(config, None, shutdown)
    }

    /// [`Chat::start`] as a node of `cluster` (connected with
    /// [`Cluster::connect`] to `config.redis`): rooms, history and
    /// ordering are shared with the cluster's other nodes.
    pub fn start_clustered(config: ChatConfig, cluster: Cluster, shutdown: &Shutdown) -> Result<Chat, HistoryError> {
        Self::start_in(config, Some(cluster), shutdown)
    }

    fn start_in(config: ChatConfig, cluster: Option<Cluster>, shutdown: &Shutdown) -> Result<Chat, HistoryError> {
        let history = History::open(&config.store, config.retention)?;
        let config = Arc::new(config);
        let fanout = Fanout::with_bounds(config.writers, config.send_bounds(), config.batch_window);
        let (hub, bus) = match &cluster {
            Some(c) => {
                let (bus, letters) = Bus::start(c.clone(), fanout.clone());
                (Hub::start_clustered(config.clone(), fanout.clone(), bus.clone(), letters, c.clone()), Some(bus))
            }
            None => (Hub::start(config.clone(), fanout.clone()), None),
        };
        let chat = Chat { hub, fanout, history, config, cluster, bus };
        let closing = chat.clone();
        let stop = shutdown.clone();
        shutdown.spawn(async move {
            stop.triggered().await;
            // Members stop taking input as soon as shutdown fires; give
            // their tasks a moment to hand over their last lines.
            tokio::time::sleep(Duration::from_millis(50)).await;
            closing.history.flush().await;
            closing.hub.leave_cluster().await;
            closing.hub.shutdown();
            tracing::debug!("chat history flushed");
        });
        Ok(chat)
    }

    /// The cluster this node belongs to, if any.
    pub fn cluster(&self) -> Option<&Cluster> {
        self.cluster.as_ref()
    }

    /// The configuration in force.
    pub fn config(&self) -> &ChatConfig {
        &self.config
    }

    /// Connection limits of a member listener (TCP or web).
    pub(crate) fn member_limits(&self) -> Limits {
        Limits {
            max_connections: self.config.max_members,
            max_per_ip: self.config.max_per_ip,
            idle_timeout: None,
            max_frame: self.config.max_line,
        }
    }

    /// Waits until all history queued so far is on disk.
    pub async fn flush_history(&self) {
        self.history.flush().await;
    }
}

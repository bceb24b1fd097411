//! The chat server's configuration: every bound and default (the CLI
//! flags). A module of its own because the registry, the shards and the
//! transports all read it, and none of them should import another to get it.

use std::time::Duration;

use crate::fanout::SendBounds;
use crate::history::{Retention, Store};

/// Every bound and default of the chat server (the CLI flags).
#[derive(Debug, Clone)]
pub struct ChatConfig {
    /// Longest input line in bytes (8 KiB).
    pub max_line: usize,
    /// Bytes copied into one member's send queue, at most (256 KiB); what
    /// does not fit waits in its backlog (see [`crate::fanout`]).
    pub send_queue: usize,
    /// Kernel send buffer per TCP member (64 KiB; 0 = the kernel's
    /// autotuning, which lets one stalled member pin up to 4 MB).
    pub socket_buffer: usize,
    /// Writer shards that fan room events out to TCP members (one per
    /// core; each member belongs to one shard).
    pub writers: usize,
    /// Under load, a writer shard writes to its members at most once per
    /// window, so each write carries many messages (5 ms; zero writes as
    /// fast as it can). The first message after a quiet spell goes at once.
    pub batch_window: Duration,
    /// Flood control: lines a member may send at once (20).
    pub flood_burst: u32,
    /// Flood control: lines per second after the burst (10; 0 = off).
    pub flood_rate: f64,
    /// Messages replayed on join (20).
    pub replay: usize,
    /// UDP members silent this long are dropped (10 s).
    pub udp_timeout: Duration,
    /// Members at once (10,000).
    pub max_members: usize,
    /// Members at once from one IP (1,000).
    pub max_per_ip: usize,
    /// Rooms at once (1,000).
    pub max_rooms: usize,
    /// Rooms one member may be in at once (20; IRC's `CHANLIMIT`).
    pub max_rooms_per_member: usize,
    /// The room members start in (`lobby`).
    pub default_room: String,
    /// Joins and leaves are announced only in rooms with at most this many
    /// members (1,000): a 10,000-member room would otherwise spend 50 M
    /// deliveries on join notices alone; large IRC networks do the same.
    pub announce_limit: usize,
    /// Where history lives.
    pub store: Store,
    /// How much history is kept (`--history-max-*`).
    pub retention: Retention,
    /// Bytes of shared room events a member may fall behind before it is
    /// cut (8 MiB; held by reference, not copied).
    pub send_backlog: usize,
    /// A member that is behind and whose socket takes no byte for this long
    /// has stopped reading and is cut (3 s).
    pub send_timeout: Duration,
    /// Host names the web listener answers to besides IP literals,
    /// `localhost`, `*.localhost` and the machine's host name
    /// (`--web-host`; DNS-rebinding protection).
    pub web_hosts: Vec<String>,
    /// An IRC client silent this long is sent a PING; silent as long again
    /// and it is disconnected (`Ping timeout`). Also how long it may take
    /// to register (120 s).
    pub irc_ping: Duration,
    /// When the server started (ms since the epoch; IRC's `003`).
    pub started_at: i64,
    /// The Redis URL of the cluster this node belongs to (`--redis`);
    /// `None` runs a single node. See [`crate::cluster`].
    pub redis: Option<String>,
}

impl Default for ChatConfig {
    fn default() -> Self {
        ChatConfig {
            max_line: 8 * 1024,
            send_queue: 256 * 1024,
            socket_buffer: 64 * 1024,
            writers: std::thread::available_parallelism().map_or(2, |n| n.get()),
            batch_window: Duration::from_millis(5),
            flood_burst: 20,
            flood_rate: 10.0,
            replay: 20,
            udp_timeout: Duration::from_secs(10),
            max_members: 10_000,
            max_per_ip: 1_000,
            max_rooms: 1_000,
            max_rooms_per_member: 20,
            default_room: "lobby".into(),
            announce_limit: 1_000,
            store: Store::Memory,
            retention: Retention::default(),
            send_backlog: SendBounds::DEFAULT.backlog,
            send_timeout: SendBounds::DEFAULT.timeout,
            web_hosts: Vec::new(),
            irc_ping: Duration::from_secs(120),
            started_at: crate::event::now_ms(),
            redis: None,
        }
    }
}

impl ChatConfig {
    /// The bounds of each member's output.
    pub fn send_bounds(&self) -> SendBounds {
        SendBounds { queue: self.send_queue, backlog: self.send_backlog, timeout: self.send_timeout }
    }

    /// Sets the number of writer shards; 0 keeps the default (one per core).
    pub fn with_writers(mut self, writers: usize) -> Self {
        if writers > 0 {
            self.writers = writers;
        }
        self
    }
}

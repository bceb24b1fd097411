//! The chat server: configuration, the shared parts (registry, history),
//! and the listeners.

use std::sync::Arc;
use std::time::Duration;

use sockit_net::tls::ServerTls;
use sockit_net::{Limits, Shutdown, StreamServer};
use tokio::net::{TcpListener, UdpSocket};

use crate::fanout::{Fanout, SendBounds};
use crate::history::{History, HistoryError, Retention, Store};
use crate::hub::Hub;

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
            default_room: "lobby".into(),
            announce_limit: 1_000,
            store: Store::Memory,
            retention: Retention::default(),
            send_backlog: SendBounds::DEFAULT.backlog,
            send_timeout: SendBounds::DEFAULT.timeout,
            web_hosts: Vec::new(),
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

/// A running chat service; clone it into every listener.
#[derive(Debug, Clone)]
pub struct Chat {
    pub(crate) hub: Hub,
    pub(crate) fanout: Fanout,
    pub(crate) history: History,
    pub(crate) config: Arc<ChatConfig>,
}

impl Chat {
    /// Opens the history store and starts the registry and the writer shards. On shutdown, history
    /// is flushed by a task `shutdown` waits for.
    pub fn start(config: ChatConfig, shutdown: &Shutdown) -> Result<Chat, HistoryError> {
        let history = History::open(&config.store, config.retention)?;
        let config = Arc::new(config);
        let fanout = Fanout::with_bounds(config.writers, config.send_bounds(), config.batch_window);
        let hub = Hub::start(config.clone(), fanout.clone());
        let chat = Chat { hub, fanout, history, config };
        let closing = chat.clone();
        let stop = shutdown.clone();
        shutdown.spawn(async move {
            stop.triggered().await;
            // Members stop taking input as soon as shutdown fires; give
            // their tasks a moment to hand over their last lines.
            tokio::time::sleep(Duration::from_millis(50)).await;
            closing.history.flush().await;
            closing.hub.shutdown();
            tracing::debug!("chat history flushed");
        });
        Ok(chat)
    }

    /// The configuration in force.
    pub fn config(&self) -> &ChatConfig {
        &self.config
    }

    /// Connection limits of a member listener (TCP or web).
    fn member_limits(&self) -> Limits {
        Limits {
            max_connections: self.config.max_members,
            max_per_ip: self.config.max_per_ip,
            idle_timeout: None,
            max_frame: self.config.max_line,
        }
    }

    /// Serves TCP members until shutdown.
    pub async fn serve_tcp(self, listener: TcpListener, shutdown: Shutdown) {
        let limits = self.member_limits();
        StreamServer::new(listener, limits, shutdown)
            .refusal_text(|r| format!("! {r}\n").into_bytes())
            .run(move |stream, info| crate::tcp::serve_connection(self.clone(), stream, info))
            .await;
    }

    /// Serves the web listener until shutdown: the chat page at `/`,
    /// WebSocket members at `/ws` (connections count against
    /// `max_members` and `max_per_ip` like TCP members).
    pub async fn serve_web(self, listener: TcpListener, shutdown: Shutdown) {
        let limits = self.member_limits();
        StreamServer::new(listener, limits, shutdown)
            .refusal_text(|r| {
                let body = format!("{r}\n");
                format!(
                    "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                )
                .into_bytes()
            })
            .run(move |stream, info| crate::ws::serve_connection(self.clone(), stream, info))
            .await;
    }

    /// Serves TLS line members until shutdown ([`crate::tls`]): the same
    /// members as on TCP, after a handshake bounded by `tls`'s timeout.
    pub async fn serve_tls(self, listener: TcpListener, tls: ServerTls, shutdown: Shutdown) {
        let limits = self.member_limits();
        // A refusal in plaintext would only confuse a TLS client: just close.
        StreamServer::new(listener, limits, shutdown)
            .refusal_text(|_| Vec::new())
            .run(move |stream, info| crate::tls::serve_connection(self.clone(), stream, info, tls.clone()))
            .await;
    }

    /// [`serve_web`](Self::serve_web) over https: the page and `wss://`
    /// members, each connection's handshake bounded by `tls`'s timeout.
    pub async fn serve_web_tls(self, listener: TcpListener, tls: ServerTls, shutdown: Shutdown) {
        let limits = self.member_limits();
        StreamServer::new(listener, limits, shutdown)
            .refusal_text(|_| Vec::new())
            .run(move |stream, info| crate::ws::serve_tls_connection(self.clone(), stream, info, tls.clone()))
            .await;
    }

    /// Serves UDP members until shutdown.
    pub async fn serve_udp(self, socket: UdpSocket, shutdown: Shutdown) {
        crate::udp::serve(self, Arc::new(socket), shutdown).await;
    }

    /// Waits until all history queued so far is on disk.
    pub async fn flush_history(&self) {
        self.history.flush().await;
    }
}

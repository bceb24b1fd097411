//! `sockit chat serve`: flags, history location, binding TCP and UDP and
//! the web listener (chat page and WebSocket members).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use sockit_chat::cluster::Cluster;
use sockit_chat::{Chat, ChatConfig, Retention, Store};
use sockit_net::{announce, bind_tcp, bind_udp, resolve_bind, Shutdown};
use tokio::net::{TcpListener, UdpSocket};

use crate::common::Listener;
use crate::tls_args::{announce_and_watch, ServerTlsArgs};

/// The chat server's default port (TCP and UDP).
pub const DEFAULT_PORT: u16 = 9001;
/// The web listener's default port (page at `/`, WebSocket at `/ws`).
pub const DEFAULT_WEB_PORT: u16 = 9080;
/// The TLS line listener's default port (with `--tls`).
pub const DEFAULT_TLS_PORT: u16 = 9002;
/// The IRC listener's default port.
pub const DEFAULT_IRC_PORT: u16 = 6667;
/// The IRC TLS listener's default port (with `--tls`).
pub const DEFAULT_IRC_TLS_PORT: u16 = 6697;

/// Flags of `sockit chat serve`.
#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// Address to listen on (0.0.0.0 or :: for every interface).
    #[arg(long, default_value = "127.0.0.1", value_name = "ADDR")]
    pub bind: String,
    /// Port for TCP and UDP (0: any free port).
    #[arg(short, long, default_value_t = DEFAULT_PORT)]
    pub port: u16,
    /// Port for the web listener: the chat page at / and WebSocket members
    /// at /ws (0: any free port).
    #[arg(long, default_value_t = DEFAULT_WEB_PORT, value_name = "PORT")]
    pub web_port: u16,
    /// No web listener (no browser members).
    #[arg(long, conflicts_with = "web_port")]
    pub no_web: bool,
    /// History file (SQLite). Default: chat.db in the user's data directory
    /// (~/.local/share/sockit on Linux).
    #[arg(long, value_name = "PATH", conflicts_with_all = ["no_history", "redis"])]
    pub history: Option<PathBuf>,
    /// Keep history in memory only (lost on restart).
    #[arg(long)]
    pub no_history: bool,
    /// History: messages kept per room, the oldest deleted first (0: no limit).
    #[arg(long, default_value_t = 10_000, value_name = "N")]
    pub history_max_per_room: usize,
    /// History: delete messages older than this: a number and a unit s, m,
    /// h or d (30d, 12h; a bare number is days; 0: keep forever).
    #[arg(long, default_value = "30d", value_name = "AGE", value_parser = parse_age)]
    pub history_max_age: Duration,
    /// History: most MiB of database, the oldest messages deleted to stay
    /// under it (0: no limit; memory history keeps at most 64 MiB).
    #[arg(long, default_value_t = 256, value_name = "MIB")]
    pub history_max_mib: u64,
    /// Messages replayed to a member on joining a room.
    #[arg(long, default_value_t = 20, value_name = "N")]
    pub replay: usize,
    /// Longest line a member may send, in bytes.
    #[arg(long, default_value_t = 8192, value_name = "BYTES")]
    pub max_line: usize,
    /// Bytes copied into a member's send queue; what does not fit waits in
    /// its backlog by reference.
    #[arg(long, default_value_t = 256 * 1024, value_name = "BYTES")]
    pub send_queue: usize,
    /// Bytes of room events a member may fall behind (reading, but slower
    /// than its room sends) before it is disconnected.
    #[arg(long, default_value_t = 8 * 1024 * 1024, value_name = "BYTES")]
    pub send_backlog: usize,
    /// Seconds a member that is behind may take no byte at all before it
    /// is disconnected (it stopped reading).
    #[arg(long, default_value_t = 3.0, value_name = "SECS")]
    pub send_timeout: f64,
    /// Host name the web listener also answers to (repeatable). IP
    /// addresses, localhost, *.localhost and this machine's name always
    /// work; any other Host header is refused (DNS-rebinding protection).
    #[arg(long = "web-host", value_name = "NAME")]
    pub web_hosts: Vec<String>,
    /// Kernel send buffer per TCP member, bytes (0: kernel autotuning).
    #[arg(long, default_value_t = 64 * 1024, value_name = "BYTES")]
    pub socket_buffer: usize,
    /// Writer shards fanning room events out to TCP members (0: one per core).
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub writers: usize,
    /// Milliseconds between a writer shard's writes under load (a quiet
    /// room delivers at once; 0 writes as fast as the shard can).
    #[arg(long, default_value_t = 5, value_name = "MS")]
    pub batch_ms: u64,
    /// Flood control: lines a member may send in a burst.
    #[arg(long, default_value_t = 20, value_name = "N")]
    pub flood_burst: u32,
    /// Flood control: lines per second after the burst (0: no flood control).
    #[arg(long, default_value_t = 10.0, value_name = "PER_SEC")]
    pub flood_rate: f64,
    /// Seconds a UDP member may stay silent (send `#ping#` to stay) before it is dropped.
    #[arg(long, default_value_t = 10.0, value_name = "SECS")]
    pub udp_timeout: f64,
    /// Members at once, TCP and UDP together.
    #[arg(long, default_value_t = 10_000, value_name = "N")]
    pub max_members: usize,
    /// Members at once from one IP address.
    #[arg(long, default_value_t = 1_000, value_name = "N")]
    pub max_per_ip: usize,
    /// Rooms at once.
    #[arg(long, default_value_t = 1_000, value_name = "N")]
    pub max_rooms: usize,
    /// Rooms one member may be in at once.
    #[arg(long, default_value_t = 20, value_name = "N")]
    pub max_rooms_per_member: usize,
    /// Announce joins and leaves only in rooms with at most this many members.
    #[arg(long, default_value_t = 1_000, value_name = "N")]
    pub announce_limit: usize,
    /// With --tls: port for line and JSON members over TLS, beside the
    /// plain TCP port (0: any free port).
    #[arg(long, default_value_t = DEFAULT_TLS_PORT, value_name = "PORT")]
    pub tls_port: u16,
    /// Port for IRC clients (irssi, WeeChat, HexChat …) in the same rooms
    /// (0: any free port).
    #[arg(long, default_value_t = DEFAULT_IRC_PORT, value_name = "PORT")]
    pub irc_port: u16,
    /// No IRC listener.
    #[arg(long, conflicts_with = "irc_port")]
    pub no_irc: bool,
    /// With --tls: port for IRC clients over TLS (0: any free port).
    #[arg(long, default_value_t = DEFAULT_IRC_TLS_PORT, value_name = "PORT")]
    pub irc_tls_port: u16,
    /// Seconds of silence before an IRC client is sent a PING; as long again
    /// without an answer and it is disconnected. Also the time it has to register.
    #[arg(long, default_value_t = 120.0, value_name = "SECS")]
    pub irc_ping: f64,
    /// Join a cluster of chat nodes sharing rooms through Redis
    /// (redis://HOST:PORT/DB): messages, order and history are shared with
    /// every node using the same Redis. History then lives in Redis.
    #[arg(long, env = "SOCKIT_REDIS", value_name = "URL")]
    pub redis: Option<String>,
    /// TLS: line members on --tls-port, and the web listener on https
    /// (its page then uses wss://). TCP and UDP stay plain.
    #[command(flatten)]
    pub tls: ServerTlsArgs,
}

impl ServeArgs {
    fn config(&self) -> anyhow::Result<ChatConfig> {
        let udp_timeout = Duration::try_from_secs_f64(self.udp_timeout)
            .ok()
            .filter(|d| !d.is_zero())
            .context("--udp-timeout takes a positive number of seconds")?;
        // With --redis history lives in Redis; the local store stays empty.
        let store = if self.no_history || self.redis.is_some() {
            Store::Memory
        } else if let Some(p) = &self.history {
            Store::File(p.clone())
        } else {
            let dir =
                dirs::data_dir().context("no data directory for chat history — pass --history PATH or --no-history")?;
            Store::File(dir.join("sockit").join("chat.db"))
        };
        Ok(ChatConfig {
            max_line: self.max_line.max(16),
            send_queue: self.send_queue.max(1024),
            socket_buffer: self.socket_buffer,
            flood_burst: self.flood_burst,
            flood_rate: self.flood_rate,
            replay: self.replay.min(sockit_chat::command::MAX_HISTORY),
            udp_timeout,
            max_members: self.max_members,
            max_per_ip: self.max_per_ip,
            max_rooms: self.max_rooms,
            max_rooms_per_member: self.max_rooms_per_member.max(1),
            announce_limit: self.announce_limit,
            batch_window: Duration::from_millis(self.batch_ms),
            store,
            retention: Retention {
                max_per_room: self.history_max_per_room,
                max_age: (!self.history_max_age.is_zero()).then_some(self.history_max_age),
                max_bytes: self.history_max_mib.saturating_mul(1024 * 1024),
            },
            send_backlog: self.send_backlog.max(64 * 1024),
            send_timeout: Duration::try_from_secs_f64(self.send_timeout)
                .ok()
                .filter(|d| !d.is_zero())
                .context("--send-timeout takes a positive number of seconds")?,
            web_hosts: self.web_hosts.clone(),
            redis: self.redis.clone(),
            irc_ping: Duration::try_from_secs_f64(self.irc_ping)
                .ok()
                .filter(|d| !d.is_zero())
                .context("--irc-ping takes a positive number of seconds")?,
            ..ChatConfig::default()
        }
        .with_writers(self.writers))
    }
}

/// `--history-max-age`: `30d`, `12h`, `90m`, `45s`, or a bare number of days.
fn parse_age(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| !c.is_ascii_digit() && c != '.') {
        Some(i) => s.split_at(i),
        None => (s, "d"),
    };
    let n: f64 = num.parse().map_err(|_| format!("{s:?} is not an age: use e.g. 30d, 12h, 90m or 45s"))?;
    let secs = match unit.trim() {
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        "d" => 86_400.0,
        u => return Err(format!("unknown unit {u:?} in {s:?}: use s, m, h or d")),
    };
    Duration::try_from_secs_f64(n * secs).map_err(|_| format!("{s:?} is not an age: use e.g. 30d, 12h, 90m or 45s"))
}

/// TCP and UDP on the same port number. With port 0 the kernel picks the
/// TCP port, whose UDP twin may be taken: then try another.
fn bind_pair(addr: SocketAddr) -> anyhow::Result<(TcpListener, UdpSocket)> {
    let mut attempts = if addr.port() == 0 { 20 } else { 1 };
    loop {
        let listener = bind_tcp(addr, "--port")?;
        let mut udp_addr = addr;
        udp_addr.set_port(listener.local_addr().context("reading the bound address")?.port());
        match bind_udp(udp_addr, "--port") {
            Ok(socket) => return Ok((listener, socket)),
            Err(_) if attempts > 1 => attempts -= 1,
            Err(e) => return Err(e).context("the chat server needs the same port free for UDP"),
        }
    }
}

/// Binds TCP and UDP on one port (and, with --tls, the TLS port), starts
/// the room, returns where it listens.
pub async fn start(args: ServeArgs, shutdown: Shutdown) -> anyhow::Result<Vec<Listener>> {
    let config = args.config()?;
    let store = config.store.clone();
    // Certificates and history first: a bad file must fail before we announce.
    let line_tls = args.tls.server(&[])?;
    let web_tls = if args.no_web { None } else { args.tls.server(&[b"http/1.1"])? };
    let chat = match &config.redis {
        // Before any listener is announced: a node that cannot reach its
        // cluster says so in one line and exits non-zero.
        Some(url) => {
            let cluster = Cluster::connect(url).await?;
            tracing::info!(redis = cluster.url(), node = %cluster.node(), "chat cluster");
            Chat::start_clustered(config, cluster, &shutdown)?
        }
        None => Chat::start(config, &shutdown)?,
    };
    let addr = resolve_bind(&args.bind, args.port)?;
    let (listener, socket) = bind_pair(addr)?;
    let tcp = listener.local_addr().context("reading the bound address")?;
    let udp = socket.local_addr().context("reading the bound address")?;
    let tls = match &line_tls {
        Some(_) => {
            let listener = bind_tcp(resolve_bind(&args.bind, args.tls_port)?, "--tls-port")?;
            let addr = listener.local_addr().context("reading the bound address")?;
            Some((listener, addr))
        }
        None => None,
    };
    let irc = if args.no_irc {
        None
    } else {
        let listener = bind_tcp(resolve_bind(&args.bind, args.irc_port)?, "--irc-port")?;
        let addr = listener.local_addr().context("reading the bound address")?;
        Some((listener, addr))
    };
    let irc_tls = match (&line_tls, args.no_irc) {
        (Some(_), false) => {
            let listener = bind_tcp(resolve_bind(&args.bind, args.irc_tls_port)?, "--irc-tls-port")?;
            let addr = listener.local_addr().context("reading the bound address")?;
            Some((listener, addr))
        }
        _ => None,
    };
    let web = if args.no_web {
        None
    } else {
        let listener = bind_tcp(resolve_bind(&args.bind, args.web_port)?, "--web-port")?;
        let addr = listener.local_addr().context("reading the bound address")?;
        Some((listener, addr))
    };
    // tcp and udp first: scripts and tests read the lines in this order.
    announce("tcp", &tcp);
    announce("udp", &udp);
    if let Some((_, addr)) = &tls {
        announce("tls", addr);
    }
    let web_scheme = if web_tls.is_some() { "https" } else { "http" };
    if let Some((_, addr)) = &web {
        announce(web_scheme, addr);
    }
    // After the others: scripts and tests that count listeners keep theirs.
    if let Some((_, addr)) = &irc {
        announce("irc", addr);
    }
    if let Some((_, addr)) = &irc_tls {
        announce("ircs", addr);
    }
    if let Some(tls) = &line_tls {
        announce_and_watch(tls, &shutdown);
    }
    if let Some(tls) = &web_tls {
        // Its own acceptor (it offers ALPN http/1.1), the same files.
        tls.reload_on_sighup(&shutdown);
    }
    if let Store::File(p) = &store {
        tracing::info!(history = %p.display(), "chat history");
    }
    shutdown.spawn(chat.clone().serve_tcp(listener, shutdown.clone()));
    shutdown.spawn(chat.clone().serve_udp(socket, shutdown.clone()));
    let mut rows = vec![
        Listener {
            service: "chat",
            url: format!("tcp://{tcp}"),
            try_it: format!("sockit chat join {tcp}  (or nc {} {})", tcp.ip(), tcp.port()),
        },
        Listener { service: "chat", url: format!("udp://{udp}"), try_it: format!("nc -u {} {}", udp.ip(), udp.port()) },
    ];
    if let Some((listener, addr)) = irc {
        rows.push(Listener {
            service: "chat irc",
            url: format!("irc://{addr}"),
            try_it: format!("irssi -c {} -p {}", addr.ip(), addr.port()),
        });
        shutdown.spawn(chat.clone().serve_irc(listener, shutdown.clone()));
    }
    if let (Some((listener, addr)), Some(tls)) = (irc_tls, line_tls.clone()) {
        rows.push(Listener {
            service: "chat irc",
            url: format!("ircs://{addr}"),
            try_it: format!(
                "irssi -c {} -p {} --tls --tls-noverify  (sha256 {})",
                addr.ip(),
                addr.port(),
                tls.fingerprint()
            ),
        });
        shutdown.spawn(chat.clone().serve_irc_tls(listener, tls, shutdown.clone()));
    }
    if let (Some((listener, addr)), Some(tls)) = (tls, line_tls) {
        rows.push(Listener {
            service: "chat",
            url: format!("tls://{addr}"),
            try_it: format!("sockit connect --tls --pin {} {addr}", tls.fingerprint()),
        });
        shutdown.spawn(chat.clone().serve_tls(listener, tls, shutdown.clone()));
    }
    if let Some((listener, addr)) = web {
        match web_tls {
            Some(tls) => drop(shutdown.spawn(chat.serve_web_tls(listener, tls, shutdown.clone()))),
            None => drop(shutdown.spawn(chat.serve_web(listener, shutdown.clone()))),
        }
        rows.push(Listener {
            service: "chat web",
            url: format!("{web_scheme}://{addr}"),
            try_it: format!("open {web_scheme}://{addr}/"),
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages() {
        assert_eq!(parse_age("30d").unwrap(), Duration::from_secs(30 * 86_400));
        assert_eq!(parse_age("7").unwrap(), Duration::from_secs(7 * 86_400));
        assert_eq!(parse_age("12h").unwrap(), Duration::from_secs(12 * 3600));
        assert_eq!(parse_age("90m").unwrap(), Duration::from_secs(90 * 60));
        assert_eq!(parse_age("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_age("0").unwrap(), Duration::ZERO);
        for bad in ["", "d", "3w", "-1d", "1e400d"] {
            assert!(parse_age(bad).is_err(), "{bad}");
        }
    }
}

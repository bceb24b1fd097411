//! `sockit echo`: the echo service over TCP + UDP, or a Unix socket.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use sockit_net::echo::{echo_lines, echo_stream, UdpEcho};
use sockit_net::rate::DEFAULT_MAX_CLIENTS;
use sockit_net::tls::ServerTls;
use sockit_net::{
    announce, bind_tcp, bind_udp, bind_unix, resolve_bind, ConnInfo, DatagramServer, Shutdown, StreamServer,
};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::common::{LimitArgs, Listener, UdpRateArgs};
use crate::tls_args::{announce_and_watch, ServerTlsArgs};

/// Flags of `sockit echo`.
#[derive(Args, Debug, Clone)]
pub struct EchoArgs {
    /// Address to listen on (0.0.0.0 or :: for every interface).
    #[arg(long, default_value = "127.0.0.1", value_name = "ADDR")]
    pub bind: String,
    /// Port for TCP and UDP (0: any free port).
    #[arg(short, long, default_value_t = 9999)]
    pub port: u16,
    /// Answer in upper case (ASCII letters; other bytes unchanged).
    #[arg(long)]
    pub upper: bool,
    /// Answer whole lines instead of bytes as they come (TCP and Unix).
    #[arg(long)]
    pub lines: bool,
    /// Longest line accepted in --lines mode; longer ones get an error line.
    #[arg(long, default_value_t = 8192, value_name = "BYTES", requires = "lines")]
    pub max_line: usize,
    /// Serve TCP only.
    #[arg(long, conflicts_with = "udp_only")]
    pub tcp_only: bool,
    /// Serve UDP only.
    #[arg(long)]
    pub udp_only: bool,
    /// Serve on this Unix socket instead of TCP and UDP.
    #[arg(long, value_name = "PATH", conflicts_with_all = ["tcp_only", "udp_only"])]
    pub unix: Option<PathBuf>,
    #[command(flatten)]
    pub udp: UdpRateArgs,
    #[command(flatten)]
    pub limits: LimitArgs,
    /// TLS on the TCP listener (UDP stays plain UDP echo on the same port
    /// number: datagrams have no TLS, and `up --tls` keeps `nc -u` working).
    #[command(flatten)]
    pub tls: ServerTlsArgs,
}

/// Binds and spawns the echo listeners; returns where they listen.
pub async fn start(args: EchoArgs, shutdown: Shutdown) -> anyhow::Result<Vec<Listener>> {
    let upper = args.upper;
    let udp_limit = args.udp.udp_limit()?;
    let mode = Mode { upper, lines: args.lines.then_some(args.max_line) };
    let limits = args.limits.limits();
    let mut rows = Vec::new();
    if let Some(path) = &args.unix {
        let listener = bind_unix(path)?;
        sockit_net::addr::announce_unix(path);
        rows.push(Listener {
            service: "echo",
            url: format!("unix://{}", path.display()),
            try_it: format!("socat - UNIX-CONNECT:{}", path.display()),
        });
        let server = StreamServer::new(listener, limits, shutdown.clone());
        shutdown.spawn(server.run(move |s, info| handle(s, info, mode)));
        return Ok(rows);
    }
    let addr = resolve_bind(&args.bind, args.port)?;
    let mut udp_addr = addr;
    let tls = args.tls.server(&[])?;
    if tls.is_some() {
        anyhow::ensure!(args.unix.is_none() && !args.udp_only, "--tls serves TCP; not with --unix or --udp-only");
    }
    if let Some(tls) = tls {
        let listener = bind_tcp(addr, "--port")?;
        let local = listener.local_addr().context("reading the bound address")?;
        announce("tls", &local);
        announce_and_watch(&tls, &shutdown);
        rows.push(Listener {
            service: "echo",
            url: format!("tls://{local}"),
            try_it: format!("sockit connect --tls --pin {} {local}", tls.fingerprint()),
        });
        // A refusal in plaintext would only confuse a TLS client: just close.
        let server = StreamServer::new(listener, limits, shutdown.clone()).refusal_text(|_| Vec::new());
        shutdown.spawn(server.run(move |s, info| handle_tls(s, info, mode, tls.clone())));
        udp_addr.set_port(local.port());
    } else if !args.udp_only {
        let listener = bind_tcp(addr, "--port")?;
        let local = listener.local_addr().context("reading the bound address")?;
        announce("tcp", &local);
        udp_addr.set_port(local.port());
        rows.push(Listener {
            service: "echo",
            url: format!("tcp://{local}"),
            try_it: format!("nc {} {}", local.ip(), local.port()),
        });
        let server = StreamServer::new(listener, limits, shutdown.clone());
        shutdown.spawn(server.run(move |s, info| handle(s, info, mode)));
    }
    if !args.tcp_only {
        // Same port number as TCP when the port was chosen by the kernel.
        let socket = match bind_udp(udp_addr, "--port") {
            Ok(s) => s,
            Err(_) if args.port == 0 => bind_udp(addr, "--port")?,
            Err(e) => return Err(e.into()),
        };
        let local = socket.local_addr().context("reading the bound address")?;
        announce("udp", &local);
        rows.push(Listener {
            service: "echo",
            url: format!("udp://{local}"),
            try_it: format!("nc -u {} {}", local.ip(), local.port()),
        });
        let server = DatagramServer::new(socket, shutdown.clone());
        let mut echo = UdpEcho::new(local, upper, udp_limit, DEFAULT_MAX_CLIENTS);
        shutdown.spawn(server.run(move |data, from, reply| {
            if let Err(why) = echo.answer(data, from, Instant::now(), reply) {
                tracing::debug!(%from, ?why, "echo datagram dropped");
            }
        }));
    }
    Ok(rows)
}

/// How a stream connection echoes.
#[derive(Debug, Clone, Copy)]
struct Mode {
    upper: bool,
    /// `Some(max)`: whole lines of at most `max` bytes.
    lines: Option<usize>,
}

/// The TLS handshake (bounded, and cut short by shutdown), then [`handle`].
/// The connection already holds its slot, so unfinished handshakes count
/// against the connection limits.
async fn handle_tls(stream: tokio::net::TcpStream, info: ConnInfo, mode: Mode, tls: ServerTls) {
    match tls.accept_or_stop(stream, &info.shutdown).await {
        Ok(stream) => handle(stream, info, mode).await,
        Err(e) => tracing::debug!(peer = %info.peer, error = %e, "TLS handshake failed"),
    }
}

async fn handle<S: AsyncRead + AsyncWrite + Unpin>(stream: S, info: ConnInfo, mode: Mode) {
    let stop = info.shutdown.clone();
    let stop = async move { stop.triggered().await };
    let idle = info.limits.idle_timeout;
    let ended = match mode.lines {
        Some(max) => echo_lines(stream, mode.upper, max, idle, stop).await,
        None => echo_stream(stream, mode.upper, idle, stop).await,
    };
    match ended {
        Ok((end, bytes)) => {
            tracing::debug!(peer = %info.peer, ?end, bytes, "echo connection closed")
        }
        Err(e) => tracing::debug!(peer = %info.peer, error = %e, "echo connection failed"),
    }
}

/// `sockit up`: echo on its defaults.
pub async fn up(ctx: &crate::common::UpContext) -> anyhow::Result<Vec<Listener>> {
    let port = ctx.port(9999).to_string();
    start(ctx.args(&["--port", &port])?, ctx.shutdown.clone()).await
}

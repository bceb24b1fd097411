//! `sockit connect` and `sockit listen`: a netcat for people.
//!
//! stdin goes to the socket and the socket to stdout, byte for byte unless
//! `--encoding` or `--crlf` asks for a change. When stdin ends, the sending
//! side is half-closed (like `nc -N`) and we keep printing until the peer
//! closes.
//!
//! With `--tls` both speak TLS: `connect` verifies the server (system trust
//! store, `--tls-ca`, `--pin`, or `--insecure`), `listen` serves a
//! certificate (`--tls-cert`/`--tls-key`, or the kept self-signed one).
//!
//! Exit status: 0 the conversation ended normally; 1 could not connect, the
//! TLS verification failed, or an I/O error; 2 bad usage; 3 `-w` timed out.

mod pump;
mod udp;

use std::cell::RefCell;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use sockit_net::{announce, bind_tcp, resolve_bind, Shutdown};
use tokio::net::{TcpListener, TcpStream, UnixStream};

use crate::tls_args::{announce_and_watch, ClientTlsArgs, ServerTlsArgs};
use pump::{Outcome, Transform};

/// Exit status when `-w` ran out.
const EXIT_TIMEOUT: u8 = 3;
/// Bound on the client's TLS handshake when `-w` is not given.
const CLIENT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

/// Flags both directions share.
#[derive(Args, Debug, Clone)]
pub struct TextArgs {
    /// Text encoding on the wire (gbk, gb18030, big5, shift_jis …); the
    /// terminal side is UTF-8.
    #[arg(long, value_name = "NAME")]
    pub encoding: Option<String>,
    /// Send line endings as CRLF (for servers that want telnet-style lines).
    #[arg(long)]
    pub crlf: bool,
    /// Give up after SECS without traffic (and, connecting, after SECS
    /// waiting for the connection).
    #[arg(short = 'w', long = "wait", value_name = "SECS")]
    pub wait: Option<f64>,
}

impl TextArgs {
    fn transform(&self) -> anyhow::Result<Transform> {
        let wire = self.encoding.as_deref().map(sockit_net::encoding::lookup).transpose()?;
        Ok(Transform::new(wire, self.crlf))
    }

    fn wait(&self) -> anyhow::Result<Option<Duration>> {
        self.wait.map(|s| Duration::try_from_secs_f64(s).context("-w takes a number of seconds")).transpose()
    }
}

/// Flags of `sockit connect`.
#[derive(Args, Debug, Clone)]
pub struct ConnectArgs {
    /// HOST:PORT to connect to (not needed with --unix).
    #[arg(value_name = "HOST:PORT", required_unless_present = "unix")]
    pub target: Option<String>,
    /// Use UDP: each read of stdin becomes one datagram.
    #[arg(short, long)]
    pub udp: bool,
    /// Connect to this Unix socket instead.
    #[arg(long, value_name = "PATH", conflicts_with_all = ["target", "udp"])]
    pub unix: Option<PathBuf>,
    #[command(flatten)]
    pub text: TextArgs,
    #[command(flatten)]
    pub tls: ClientTlsArgs,
}

/// Flags of `sockit listen`.
#[derive(Args, Debug, Clone)]
pub struct ListenArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1", value_name = "ADDR")]
    pub bind: String,
    /// Port (0: any free port; the chosen one is printed).
    #[arg(short, long, default_value_t = 0)]
    pub port: u16,
    /// Use UDP: print datagrams from the first peer that sends one and send
    /// stdin to it; datagrams from anyone else are dropped (like nc -lu).
    #[arg(short, long)]
    pub udp: bool,
    /// After a peer leaves, wait for the next one (like nc -lk).
    #[arg(short, long)]
    pub keep: bool,
    #[command(flatten)]
    pub text: TextArgs,
    #[command(flatten)]
    pub tls: ServerTlsArgs,
}

fn exit(outcome: Outcome) -> ExitCode {
    match outcome {
        Outcome::Closed => ExitCode::SUCCESS,
        Outcome::TimedOut => ExitCode::from(EXIT_TIMEOUT),
    }
}

/// Runs `sockit connect`.
pub async fn connect(args: ConnectArgs) -> anyhow::Result<ExitCode> {
    let transform = args.text.transform()?;
    let wait = args.text.wait()?;
    if let Some(path) = &args.unix {
        anyhow::ensure!(!args.tls.enabled(), "--tls works over TCP; not with --unix");
        let stream =
            UnixStream::connect(path).await.with_context(|| format!("cannot connect to {}", path.display()))?;
        let mut stdin = pump::Stdin::new();
        return Ok(exit(pump::run(stream, &mut stdin, transform, wait, std::future::pending()).await?));
    }
    let target = args.target.as_deref().unwrap_or_default();
    let (host, _) = sockit_net::parse_host_port(target, 0)?;
    let addr = sockit_net::addr::resolve_peer(target, 0)?;
    if addr.port() == 0 {
        anyhow::bail!("{target}: give a port, as in HOST:PORT");
    }
    if args.udp {
        anyhow::ensure!(!args.tls.enabled(), "--tls works over TCP; not with --udp");
        return Ok(exit(udp::connect(addr, transform, wait).await?));
    }
    // Set up TLS before dialling: an unreadable --tls-ca is reported first.
    let tls = args.tls.client(&host)?;
    let connecting = TcpStream::connect(addr);
    let stream = match wait {
        Some(w) => tokio::time::timeout(w, connecting)
            .await
            .map_err(|_| anyhow::anyhow!("no answer from {addr} within {w:?}"))?,
        None => connecting.await,
    }
    .with_context(|| format!("cannot connect to {addr}"))?;
    let _ = stream.set_nodelay(true);
    let mut stdin = pump::Stdin::new();
    let Some(tls) = tls else {
        return Ok(exit(pump::run(stream, &mut stdin, transform, wait, std::future::pending()).await?));
    };
    let limit = wait.unwrap_or(CLIENT_HANDSHAKE_TIMEOUT);
    let stream = tokio::time::timeout(limit, tls.connect(stream))
        .await
        .map_err(|_| anyhow::anyhow!("{addr}: TLS handshake not finished within {limit:?}"))?
        .map_err(|e| anyhow::anyhow!("{addr}: {e}"))?;
    let (_, session) = stream.get_ref().get_ref();
    tracing::debug!(
        version = ?session.protocol_version(),
        suite = ?session.negotiated_cipher_suite().map(|s| s.suite()),
        alpn = ?session.alpn_protocol().map(String::from_utf8_lossy),
        "TLS established"
    );
    Ok(exit(pump::run(stream, &mut stdin, transform, wait, std::future::pending()).await?))
}

/// Runs `sockit listen`.
pub async fn listen(args: ListenArgs) -> anyhow::Result<ExitCode> {
    let addr = resolve_bind(&args.bind, args.port)?;
    let wait = args.text.wait()?;
    if args.udp {
        anyhow::ensure!(!args.tls.enabled(), "--tls works over TCP; not with --udp");
        return Ok(exit(udp::listen(addr, args.text.transform()?, wait).await?));
    }
    let tls = args.tls.server(&[])?;
    let listener = bind_tcp(addr, "--port")?;
    announce(if tls.is_some() { "tls" } else { "tcp" }, &listener.local_addr()?);
    // Never triggered: `listen` ends with its conversation, not on a signal.
    let shutdown = Shutdown::new();
    if let Some(tls) = &tls {
        announce_and_watch(tls, &shutdown);
    }
    let mut stdin = pump::Stdin::new();
    let mut waiting: Option<(TcpStream, SocketAddr)> = None;
    loop {
        let (stream, peer) = match waiting.take() {
            Some(next) => next,
            None => listener.accept().await.context("accept failed")?,
        };
        tracing::info!(%peer, "connected");
        let _ = stream.set_nodelay(true);
        // With --keep, the next peer's arrival ends a conversation whose peer
        // has finished sending and that only waits for stdin, which may never
        // come: the next peer is served, as `nc -lk` does.
        let arrived = RefCell::new(None);
        let next_peer = next_peer(&listener, args.keep, &arrived);
        let outcome = match &tls {
            None => pump::run(stream, &mut stdin, args.text.transform()?, wait, next_peer).await?,
            Some(tls) => match tls.accept(stream).await {
                Ok(stream) => pump::run(stream, &mut stdin, args.text.transform()?, wait, next_peer).await?,
                Err(e) => {
                    // A scanner or a confused client is not our one peer.
                    tracing::warn!(%peer, "TLS handshake failed: {e}");
                    continue;
                }
            },
        };
        waiting = arrived.into_inner();
        if !args.keep {
            return Ok(exit(outcome));
        }
    }
}

/// With `keep`, completes when the next peer connects, leaving it in
/// `slot`; without, never.
async fn next_peer(listener: &TcpListener, keep: bool, slot: &RefCell<Option<(TcpStream, SocketAddr)>>) {
    if !keep {
        return std::future::pending().await;
    }
    match listener.accept().await {
        Ok(next) => *slot.borrow_mut() = Some(next),
        Err(e) => {
            tracing::debug!(error = %e, "accept failed while a conversation was open");
            std::future::pending().await
        }
    }
}

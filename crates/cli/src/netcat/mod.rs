//! `sockit connect` and `sockit listen`: a netcat for people.
//!
//! stdin goes to the socket and the socket to stdout, byte for byte unless
//! `--encoding` or `--crlf` asks for a change. When stdin ends, the sending
//! side is half-closed (like `nc -N`) and we keep printing until the peer
//! closes.
//!
//! Exit status: 0 the conversation ended normally; 1 could not connect or an
//! I/O error; 2 bad usage; 3 `-w` timed out.

mod pump;
mod udp;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use sockit_net::{announce, bind_tcp, resolve_bind};
use tokio::net::{TcpStream, UnixStream};

use pump::{Outcome, Transform};

/// Exit status when `-w` ran out.
const EXIT_TIMEOUT: u8 = 3;

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
    /// Use UDP: print datagrams, send stdin to the last sender.
    #[arg(short, long)]
    pub udp: bool,
    /// After a peer leaves, wait for the next one (like ncat -k).
    #[arg(short, long)]
    pub keep: bool,
    #[command(flatten)]
    pub text: TextArgs,
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
        let stream =
            UnixStream::connect(path).await.with_context(|| format!("cannot connect to {}", path.display()))?;
        let mut stdin = pump::Stdin::new();
        return Ok(exit(pump::run(stream, &mut stdin, transform, wait).await?));
    }
    let target = args.target.as_deref().unwrap_or_default();
    let addr = sockit_net::addr::resolve_peer(target, 0)?;
    if addr.port() == 0 {
        anyhow::bail!("{target}: give a port, as in HOST:PORT");
    }
    if args.udp {
        return Ok(exit(udp::connect(addr, transform, wait).await?));
    }
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
    Ok(exit(pump::run(stream, &mut stdin, transform, wait).await?))
}

/// Runs `sockit listen`.
pub async fn listen(args: ListenArgs) -> anyhow::Result<ExitCode> {
    let addr = resolve_bind(&args.bind, args.port)?;
    let wait = args.text.wait()?;
    if args.udp {
        return Ok(exit(udp::listen(addr, args.text.transform()?, wait).await?));
    }
    let listener = bind_tcp(addr, "--port")?;
    announce("tcp", &listener.local_addr()?);
    let mut stdin = pump::Stdin::new();
    loop {
        let (stream, peer) = listener.accept().await.context("accept failed")?;
        tracing::info!(%peer, "connected");
        let _ = stream.set_nodelay(true);
        let outcome = pump::run(stream, &mut stdin, args.text.transform()?, wait).await?;
        if !args.keep {
            return Ok(exit(outcome));
        }
    }
}

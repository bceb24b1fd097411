//! Connections for `send` / `receive`: connecting, listening with the
//! `listening on` line, and running a blocking session so Ctrl-C / SIGTERM
//! cuts it short cleanly.

use std::net::{Shutdown as SockShutdown, SocketAddr};
use std::time::Duration;

use anyhow::Context;
use sockit_net::{announce, bind_tcp, parse_host_port, resolve_bind, Shutdown};
use tokio::net::{TcpListener, TcpStream};

/// How long a connect may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// A session whose peer neither sends nor reads for this long ends (with
/// `.part` files kept), so a stalled peer cannot hold a listener forever.
/// Long, because a receiver may hash large `.part` files before answering.
const IDLE_TIMEOUT: Duration = Duration::from_secs(300);

/// Connects to `HOST[:PORT]` (default port 5001).
pub async fn connect(target: &str) -> anyhow::Result<TcpStream> {
    let addr = sockit_net::addr::resolve_peer(target, sockit_transfer::DEFAULT_PORT)?;
    let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr))
        .await
        .map_err(|_| anyhow::anyhow!("connecting to {addr} timed out after {CONNECT_TIMEOUT:?}"))?
        .with_context(|| format!("cannot connect to {addr} — is the other side listening (`--listen`)?"))?;
    let _ = stream.set_nodelay(true);
    Ok(stream)
}

/// Binds `ADDR` (`HOST[:PORT]`, `:PORT`; default 127.0.0.1:5001) and prints
/// the `listening on` line.
pub fn listen(addr: &str, port_default: u16) -> anyhow::Result<(TcpListener, SocketAddr)> {
    let (host, port) = parse_host_port(addr, port_default)?;
    let listener = bind_tcp(resolve_bind(&host, port)?, "--listen")?;
    let local = listener.local_addr().context("reading the bound address")?;
    announce("tcp", &local);
    Ok((listener, local))
}

/// Accepts one connection, or `None` when shutdown started first.
pub async fn accept(listener: &TcpListener, shutdown: &Shutdown) -> anyhow::Result<Option<(TcpStream, SocketAddr)>> {
    tokio::select! {
        r = listener.accept() => {
            let (s, peer) = r.context("accepting a connection")?;
            let _ = s.set_nodelay(true);
            Ok(Some((s, peer)))
        }
        _ = shutdown.triggered() => Ok(None),
    }
}

/// Runs a blocking session `f` on `stream` on a blocking thread. When
/// `shutdown` fires, the socket is shut down so the session's reads and
/// writes fail at once and it ends (a receiver keeps its `.part` files).
pub async fn run_blocking<T, F>(stream: TcpStream, shutdown: &Shutdown, f: F) -> anyhow::Result<T>
where
    T: Send + 'static,
    F: FnOnce(&mut std::net::TcpStream) -> T + Send + 'static,
{
    let mut std_stream = stream.into_std().context("preparing the connection")?;
    std_stream.set_nonblocking(false).context("preparing the connection")?;
    std_stream.set_read_timeout(Some(IDLE_TIMEOUT)).context("preparing the connection")?;
    std_stream.set_write_timeout(Some(IDLE_TIMEOUT)).context("preparing the connection")?;
    let cutter = std_stream.try_clone().context("preparing the connection")?;
    let mut task = tokio::task::spawn_blocking(move || f(&mut std_stream));
    tokio::select! {
        r = &mut task => return r.context("the transfer thread failed"),
        _ = shutdown.triggered() => {}
    }
    let _ = cutter.shutdown(SockShutdown::Both);
    task.await.context("the transfer thread failed")
}

/// Accepts connections and runs `session` on each until one gets past the
/// handshake; returns that one's result. A connection that fails before any
/// file moves (wrong code, not a sockit peer, a port scanner) is logged and
/// the listener waits a second (slowing code guessing) and goes on.
pub async fn serve_one<T, F, Fut>(
    listener: &TcpListener,
    shutdown: &Shutdown,
    peer_role: &str,
    mut session: F,
) -> anyhow::Result<(sockit_transfer::Result<T>, Duration)>
where
    F: FnMut(TcpStream) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<(sockit_transfer::Result<T>, Duration)>>,
{
    loop {
        let Some((stream, peer)) = accept(listener, shutdown).await? else {
            anyhow::bail!("stopped before a {peer_role} connected");
        };
        match session(stream).await? {
            (Err(sockit_transfer::Error::Handshake(e)), _) => {
                tracing::warn!(%peer, "connection refused before any data: {e}");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            done => return Ok(done),
        }
    }
}

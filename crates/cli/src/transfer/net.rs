//! Connections for `send` / `receive`: connecting, listening with the
//! `listening on` line, running a blocking session so Ctrl-C / SIGTERM
//! cuts it short cleanly, and the listener's rules: one session at a time,
//! a deadline for a valid hello, and a clear "busy" for anyone else.

use std::collections::HashMap;
use std::net::{IpAddr, Shutdown as SockShutdown, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use futures::stream::{FuturesUnordered, StreamExt};
use sockit_net::{announce, bind_tcp, parse_host_port, resolve_bind, Shutdown};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;

/// How long a connect may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// A session whose peer neither sends nor reads for this long ends (with
/// `.part` files kept), so a stalled peer cannot hold a listener forever.
/// Long, because a receiver may hash large `.part` files before answering.
const IDLE_TIMEOUT: Duration = Duration::from_secs(300);
/// Most connections a listener handles at once: the running session and
/// the ones still in their hello. Past it, a newcomer is told busy.
const MAX_CONNECTIONS: usize = 16;
/// Most of those from one client (an IPv4 address, an IPv6 /64): one
/// host cannot fill the listener with silent connections.
const MAX_PER_CLIENT: usize = 4;
/// What a client over [`MAX_PER_CLIENT`] or [`MAX_CONNECTIONS`] is told.
const CROWDED: &str = "busy: too many connections waiting, try again";
/// Most "busy" refusals in flight at once; past it a newcomer is just
/// closed (each refusal lingers up to 2 s so that its message arrives).
const MAX_REFUSALS: usize = 64;
/// Pause in accepting after a connection failed its hello (a wrong code, not
/// a sockit peer, silence): slows down guessing a code the user chose (a
/// generated one ends after [`super::code::GENERATED_TRIES`] wrong tries).
const FAILURE_PAUSE: Duration = Duration::from_secs(1);

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

/// One connection's way to the single session a listener runs at a time:
/// taken when its hello checked out ([`Ticket::admit`]), given back when
/// the ticket is dropped (the session ended).
pub struct Ticket {
    slot: Arc<AtomicBool>,
    hello: Arc<AtomicBool>,
    holds: AtomicBool,
}

impl Ticket {
    /// A ticket for a listener's shared slot.
    fn for_slot(slot: &Arc<AtomicBool>) -> Ticket {
        Ticket { slot: slot.clone(), hello: Arc::default(), holds: AtomicBool::new(false) }
    }

    /// A ticket with a slot of its own (the connecting side).
    pub fn alone() -> Ticket {
        Ticket::for_slot(&Arc::default())
    }

    /// Called once the hello checked out: whether this connection may run
    /// its session (no other one is running).
    pub fn admit(&self) -> bool {
        self.hello.store(true, Ordering::SeqCst);
        let got = self.slot.compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst).is_ok();
        self.holds.store(got, Ordering::SeqCst);
        got
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if *self.holds.get_mut() {
            self.slot.store(false, Ordering::SeqCst);
        }
    }
}

/// Runs a blocking `f` on `stream` on a blocking thread. When `shutdown`
/// fires, the socket is shut down so `f`'s reads and writes fail at once and
/// it ends (a receiver keeps its `.part` files).
pub async fn run_blocking<T, F>(stream: TcpStream, shutdown: &Shutdown, f: F) -> anyhow::Result<T>
where
    T: Send + 'static,
    F: FnOnce(&mut std::net::TcpStream) -> T + Send + 'static,
{
    run(stream, shutdown, None, f).await
}

/// Runs a blocking session `f` like [`run_blocking`]; `f` gets the stream
/// and the admission check to make after its hello. A peer that has not
/// completed a valid hello within `hello_timeout` is cut off.
pub async fn run_session<T, F>(
    stream: TcpStream,
    shutdown: &Shutdown,
    hello_timeout: Duration,
    ticket: Ticket,
    f: F,
) -> anyhow::Result<T>
where
    T: Send + 'static,
    F: FnOnce(&mut std::net::TcpStream, &dyn Fn() -> bool) -> T + Send + 'static,
{
    let hello = ticket.hello.clone();
    run(stream, shutdown, Some((hello_timeout, hello)), move |s| {
        let ticket = ticket; // dropped (the slot given back) when the session ends
        f(s, &|| ticket.admit())
    })
    .await
}

async fn run<T, F>(
    stream: TcpStream,
    shutdown: &Shutdown,
    hello: Option<(Duration, Arc<AtomicBool>)>,
    f: F,
) -> anyhow::Result<T>
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
    let hello_timeout = hello.as_ref().map_or(IDLE_TIMEOUT, |(t, _)| *t);
    let deadline = tokio::time::sleep(hello_timeout);
    tokio::pin!(deadline);
    let mut watching = hello.is_some();
    loop {
        tokio::select! {
            r = &mut task => return r.context("the transfer thread failed"),
            _ = shutdown.triggered() => break,
            _ = &mut deadline, if watching => {
                watching = false;
                if hello.as_ref().is_some_and(|(_, done)| !done.load(Ordering::SeqCst)) {
                    let peer = cutter.peer_addr().map(|a| a.to_string()).unwrap_or_default();
                    tracing::warn!(
                        "{peer}: no valid hello within {} s (--hello-timeout): closing the connection",
                        hello_timeout.as_secs_f64()
                    );
                    let _ = cutter.shutdown(SockShutdown::Both);
                }
            }
        }
    }
    let _ = cutter.shutdown(SockShutdown::Both);
    task.await.context("the transfer thread failed")
}

/// A listener with a generated code saw this many wrong codes and stopped.
#[derive(Debug)]
pub struct CodeUsedUp(pub usize);

impl std::fmt::Display for CodeUsedUp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} wrong codes were tried: this code is used up; run again for a new one", self.0)
    }
}

impl std::error::Error for CodeUsedUp {}

/// A session's outcome and how long it took.
pub type Outcome<T> = (sockit_transfer::Result<T>, Duration);

/// Serves a listener: sessions run one at a time; connections in their
/// hello are handled side by side (so a silent connection cannot hold up a
/// real peer), and a connection that arrives while a session runs is told
/// [`sockit_transfer::BUSY`]. A session in which nothing moved (a failed or
/// abandoned hello, a refused manifest) is logged and the listener goes on;
/// every other one goes to `counted`, which returns `Some` to stop serving
/// with that result. Returns `None` at shutdown with no counted session.
pub async fn serve<T, F, Fut>(
    listener: &TcpListener,
    shutdown: &Shutdown,
    peer_role: &str,
    wrong_code_limit: Option<usize>,
    mut session: F,
    mut counted: impl FnMut(SocketAddr, Outcome<T>) -> Option<Outcome<T>>,
) -> anyhow::Result<Option<Outcome<T>>>
where
    F: FnMut(TcpStream, Ticket) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Outcome<T>>>,
{
    let slot = Arc::new(AtomicBool::new(false));
    let refusals = Arc::new(tokio::sync::Semaphore::new(MAX_REFUSALS));
    let mut running = FuturesUnordered::new();
    let mut per_client: HashMap<IpAddr, usize> = HashMap::new();
    let mut paused_until: Option<Instant> = None;
    let mut wrong_codes = 0usize;
    loop {
        let pause = tokio::time::sleep_until(paused_until.unwrap_or_else(Instant::now));
        tokio::select! {
            accepted = accept(listener, shutdown), if paused_until.is_none() => {
                let Some((stream, peer)) = accepted? else { break };
                let client = sockit_net::addr::client_key(peer.ip());
                let theirs = per_client.get(&client).copied().unwrap_or(0);
                let refusal = if slot.load(Ordering::SeqCst) {
                    Some(sockit_transfer::BUSY)
                } else if running.len() >= MAX_CONNECTIONS || theirs >= MAX_PER_CLIENT {
                    Some(CROWDED)
                } else {
                    None
                };
                if let Some(message) = refusal {
                    tracing::info!(%peer, "told the {peer_role}: {message}");
                    if let Ok(permit) = refusals.clone().try_acquire_owned() {
                        tokio::spawn(async move {
                            refuse_busy(stream, message).await;
                            drop(permit);
                        });
                    }
                    continue;
                }
                *per_client.entry(client).or_default() += 1;
                let fut = session(stream, Ticket::for_slot(&slot));
                running.push(async move { (peer, fut.await) });
            }
            _ = pause, if paused_until.is_some() => paused_until = None,
            Some((peer, r)) = running.next(), if !running.is_empty() => {
                let client = sockit_net::addr::client_key(peer.ip());
                if let Some(n) = per_client.get_mut(&client) {
                    *n -= 1;
                    if *n == 0 {
                        per_client.remove(&client);
                    }
                }
                match r {
                Ok((Err(e), _)) if e.nothing_moved() => {
                    if e.is_wrong_code() {
                        wrong_codes += 1;
                        tracing::warn!(%peer, "wrong code ({wrong_codes} so far)");
                        if wrong_code_limit.is_some_and(|limit| wrong_codes >= limit) {
                            return Err(CodeUsedUp(wrong_codes).into());
                        }
                        paused_until = Some(Instant::now() + FAILURE_PAUSE);
                    } else if matches!(e, sockit_transfer::Error::Handshake(_)) {
                        tracing::warn!(%peer, "connection refused before any data: {e}");
                        paused_until = Some(Instant::now() + FAILURE_PAUSE);
                    } else {
                        tracing::warn!(%peer, "session ended before any file moved, still listening: {e}");
                    }
                }
                Ok(done) => {
                    if let Some(done) = counted(peer, done) {
                        return Ok(Some(done));
                    }
                }
                Err(e) => tracing::warn!(%peer, "{e:#}"),
                }
            }
        }
    }
    // Shutdown: the running sessions were cut short; report the one that counts.
    while let Some((peer, r)) = running.next().await {
        if let Ok(done) = r {
            if !matches!(&done.0, Err(e) if e.nothing_moved()) {
                if let Some(done) = counted(peer, done) {
                    return Ok(Some(done));
                }
            }
        }
    }
    Ok(None)
}

/// Serves until the first session that counts and returns its result.
pub async fn serve_one<T, F, Fut>(
    listener: &TcpListener,
    shutdown: &Shutdown,
    peer_role: &str,
    wrong_code_limit: Option<usize>,
    session: F,
) -> anyhow::Result<Outcome<T>>
where
    F: FnMut(TcpStream, Ticket) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Outcome<T>>>,
{
    serve(listener, shutdown, peer_role, wrong_code_limit, session, |_, done| Some(done))
        .await?
        .with_context(|| format!("stopped before a {peer_role} connected"))
}

/// Tells a connection the listener is busy: one Error frame instead of a
/// hello, then a half-close, reading what it sends until it closes (at
/// most 2 s), so the message is not lost to a reset.
async fn refuse_busy(mut stream: TcpStream, message: &str) {
    let mut frame = Vec::new();
    let _ = sockit_transfer::frame::write_frame(&mut frame, sockit_transfer::frame::Kind::Error, message.as_bytes());
    if stream.write_all(&frame).await.is_err() || stream.shutdown().await.is_err() {
        return;
    }
    let mut sink = [0u8; 4096];
    let drain = async { while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {} };
    let _ = tokio::time::timeout(sockit_transfer::frame::REFUSAL_LINGER, drain).await;
}

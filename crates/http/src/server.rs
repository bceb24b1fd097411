//! The HTTP wiring: sockit-net's accept loop (connection limits, 503 when
//! full), hyper-util's auto builder (HTTP/1.1 with keep-alive, or HTTP/2 when
//! the client opens with the prior-knowledge preface), and the timeouts that
//! keep slow or silent peers from holding a connection:
//!
//! - `header_timeout`: hyper's HTTP/1 header read timeout. It starts when
//!   hyper waits for a request head, so it cuts slowloris clients and also
//!   bounds how long an idle keep-alive connection waits for its next
//!   request.
//! - `idle_timeout`: no byte moved either way for this long (checked every
//!   `idle_timeout`, so a connection goes between 1× and 2× after its last
//!   byte): the connection is shut down gracefully, then dropped. This covers
//!   HTTP/2 and a client that stops reading a large response.
//!
//! Memory in flight is bounded in bytes (see [`crate::budget`]): file data
//! waiting for a client is at most `conn_send_budget` per connection and
//! `send_budget` per server; HTTP/2 gets at most `max_streams` streams per
//! connection, h2's own send buffer is one chunk per stream, and its
//! receive windows are 64 KiB (request bodies are refused anyway).
//!
//! With [`ServerOptions::tls`] the port speaks HTTPS: each connection is
//! sorted and its handshake run by [`crate::https`] (peek and handshake
//! bounded by the TLS handshake timeout, inside the connection's slot, so
//! unfinished handshakes count against the connection limits), then HTTP/2
//! when ALPN chose `h2`, else HTTP/1.1 (RFC 9113 §3.2: h2 over TLS is only
//! spoken after ALPN). A full server closes a TLS connection without a word
//! (a plain-text 503 would only confuse a TLS client).
//!
//! Requests hyper cannot parse (it answers 400, 414 or 431 itself) are
//! written to the access log here, as nginx does (`"-" 400 0`).

use std::convert::Infallible;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use sockit_net::tls::ServerTls;
use sockit_net::{ConnInfo, Limits, Peer, Refusal, Shutdown, StreamServer};
use std::net::SocketAddr;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use crate::access_log;
use crate::body::CHUNK;
use crate::budget::ServerBudget;
use crate::https::{self, Opened};
use crate::site::Site;

/// Protocol limits and timeouts.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Longest wait for a complete request head (HTTP/1).
    pub header_timeout: Duration,
    /// Longest silence on a connection.
    pub idle_timeout: Duration,
    /// Most request header fields (more → 431).
    pub max_headers: usize,
    /// Largest request head in bytes (more → 431); at least 8 KiB.
    pub max_header_bytes: usize,
    /// Concurrent HTTP/2 streams per connection.
    pub max_streams: u32,
    /// File data in flight to clients, all connections together, in bytes.
    pub send_budget: usize,
    /// File data in flight to one connection (all its streams), in bytes.
    pub conn_send_budget: usize,
    /// Connection threads, each with its own single-threaded runtime
    /// (0: run connections on the caller's runtime).
    pub threads: usize,
    /// Speak HTTPS with this acceptor (ALPN `h2`, `http/1.1`); `None`: plain HTTP.
    pub tls: Option<ServerTls>,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_headers: 64,
            max_header_bytes: 16 * 1024,
            max_streams: 32,
            send_budget: 256 << 20,
            conn_send_budget: 1 << 20,
            threads: 0,
            tls: None,
        }
    }
}

/// Serves `site` on `listener` until `shutdown` fires.
///
/// Accepting (and the connection limits) stay on the caller's runtime; with
/// `threads > 0` each accepted connection is handed, round-robin, to one of
/// that many threads running a single-threaded runtime, where it lives until
/// it closes. A connection then never moves between cores and wakes no other
/// thread, which is what a small-file server's throughput hinges on.
pub async fn serve(
    listener: TcpListener,
    site: Arc<Site>,
    opts: ServerOptions,
    limits: Limits,
    shutdown: Shutdown,
) -> io::Result<()> {
    let shared = Arc::new(Shared::new(site, &opts));
    let workers = Arc::new(Workers::start(opts.threads)?);
    let tls = opts.tls.is_some();
    StreamServer::new(listener, limits, shutdown)
        .refusal_text(move |r| if tls { Vec::new() } else { refusal(r) })
        .run(move |stream, info| {
            let (shared, workers) = (shared.clone(), workers.clone());
            async move {
                match workers.pick() {
                    None => connection(stream, info, shared).await,
                    Some(handle) => {
                        let Ok(std) = stream.into_std() else { return };
                        // Awaiting the worker keeps this task (and its
                        // connection permit) alive as long as the connection.
                        let _ = handle
                            .spawn(async move {
                                if let Ok(stream) = TcpStream::from_std(std) {
                                    connection(stream, info, shared).await;
                                }
                            })
                            .await;
                    }
                }
            }
        })
        .await;
    Ok(())
}

/// Threads with a single-threaded runtime each, fed connections round-robin.
struct Workers {
    handles: Vec<tokio::runtime::Handle>,
    next: AtomicUsize,
}

impl Workers {
    fn start(threads: usize) -> io::Result<Self> {
        let mut handles = Vec::with_capacity(threads);
        for i in 0..threads {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            handles.push(rt.handle().clone());
            // The thread parks in its runtime for the life of the process;
            // connections it runs end through the shutdown handle.
            std::thread::Builder::new()
                .name(format!("sockit-http-{i}"))
                .spawn(move || rt.block_on(std::future::pending::<()>()))?;
        }
        Ok(Workers { handles, next: AtomicUsize::new(0) })
    }

    fn pick(&self) -> Option<&tokio::runtime::Handle> {
        if self.handles.is_empty() {
            return None;
        }
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.handles.len();
        self.handles.get(i)
    }
}

fn builder(opts: &ServerOptions) -> Builder<TokioExecutor> {
    let mut b = Builder::new(TokioExecutor::new());
    b.http1()
        .timer(TokioTimer::new())
        .header_read_timeout(opts.header_timeout)
        .keep_alive(true)
        .max_headers(opts.max_headers)
        .max_buf_size(opts.max_header_bytes.max(8192));
    b.http2()
        .timer(TokioTimer::new())
        .max_header_list_size(opts.max_header_bytes as u32)
        .max_concurrent_streams(opts.max_streams)
        // h2 would buffer up to 400 KiB per stream; one chunk is enough to
        // keep the socket busy, and the budget counts it.
        .max_send_buf_size(CHUNK)
        // Our receive windows: we take no request bodies, so the HTTP/2
        // minimum (64 KiB) is all a client may push at us unread.
        .initial_stream_window_size(H2_WINDOW)
        .initial_connection_window_size(H2_WINDOW);
    b
}

/// The HTTP/2 default window (RFC 9113 §6.9.2), our receive window.
const H2_WINDOW: u32 = 65_535;

/// What every connection of one server shares.
struct Shared {
    builder: Builder<TokioExecutor>,
    /// For TLS connections, by ALPN: HTTP/1.1 only (its header clock starts
    /// at once) and HTTP/2 only.
    http1: Builder<TokioExecutor>,
    http2: Builder<TokioExecutor>,
    tls: Option<ServerTls>,
    max_head: usize,
    site: Arc<Site>,
    times: Times,
    budget: ServerBudget,
    conn_budget: usize,
}

impl Shared {
    fn new(site: Arc<Site>, opts: &ServerOptions) -> Self {
        let builder = builder(opts);
        Shared {
            http1: builder.clone().http1_only(),
            http2: builder.clone().http2_only(),
            builder,
            tls: opts.tls.clone(),
            max_head: opts.max_header_bytes.max(8192),
            site,
            times: Times { idle: opts.idle_timeout.max(Duration::from_millis(10)), first_byte: opts.header_timeout },
            budget: ServerBudget::new(opts.send_budget, CHUNK),
            conn_budget: opts.conn_send_budget,
        }
    }
}

/// The answer of a full server: a real HTTP response, so browsers and curl
/// show why.
fn refusal(r: &Refusal) -> Vec<u8> {
    let body = format!("{r}\n");
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\n\
         content-length: {}\r\nretry-after: 1\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// The per-connection clocks.
#[derive(Debug, Clone, Copy)]
struct Times {
    idle: Duration,
    /// The first byte must come this soon (hyper's header clock only starts
    /// once the auto builder has seen a first byte and picked HTTP/1).
    first_byte: Duration,
}

/// A TCP connection: waits for its first byte, then speaks HTTP on it.
async fn connection(stream: TcpStream, info: ConnInfo, shared: Arc<Shared>) {
    let Peer::Ip(peer) = info.peer else { return };
    if let Some(tls) = &shared.tls {
        return tls_connection(stream, peer, info, tls, &shared).await;
    }
    let first = tokio::select! {
        r = tokio::time::timeout(shared.times.first_byte, stream.readable()) => matches!(r, Ok(Ok(()))),
        _ = info.shutdown.triggered() => false,
    };
    if !first {
        tracing::debug!(%peer, "nothing sent within the header timeout (or stopping); closing");
        return;
    }
    // A child token: its waiter list is this connection's own, so polling it
    // on every wake-up does not contend with the other connections.
    serve_stream(stream, peer, info.shutdown.token().child_token(), &shared.builder, &shared).await;
}

/// A connection on the HTTPS port: sorted and shaken hands with (see
/// [`crate::https`]) within the handshake timeout, then HTTP inside TLS.
async fn tls_connection(stream: TcpStream, peer: SocketAddr, info: ConnInfo, tls: &ServerTls, shared: &Shared) {
    let within = tls.handshake_timeout();
    let opened = tokio::select! {
        r = tokio::time::timeout(within, https::open(stream, tls)) => r,
        _ = info.shutdown.triggered() => return,
    };
    match opened {
        Ok(Ok(Opened::Tls(stream))) => {
            let h2 = stream.get_ref().get_ref().1.alpn_protocol() == Some(b"h2");
            let builder = if h2 { &shared.http2 } else { &shared.http1 };
            serve_stream(*stream, peer, info.shutdown.token().child_token(), builder, shared).await;
        }
        Ok(Ok(Opened::PlainHttp(stream))) => {
            tracing::debug!(%peer, "plain HTTP on the HTTPS port; answering 400");
            let answered = tokio::select! {
                r = https::refuse_plain_http(stream, within, shared.max_head) => r,
                _ = info.shutdown.triggered() => return,
            };
            if shared.site.cfg.access_log {
                access_log::log_unparsed(peer.ip(), 400);
            }
            if let Err(e) = answered {
                tracing::debug!(%peer, error = %e, "plain HTTP client gone before its 400");
            }
        }
        Ok(Ok(Opened::Closed(why))) => tracing::debug!(%peer, why, "closing"),
        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
        Err(_) => tracing::debug!(%peer, ?within, "TLS handshake not finished in time; closing"),
    }
}

/// Speaks HTTP/1.1 or HTTP/2 on any byte stream (plain TCP here; a TLS
/// stream wraps the same way) until it closes, goes idle, or `stop` fires.
async fn serve_stream<S>(
    stream: S,
    peer: SocketAddr,
    stop: CancellationToken,
    builder: &Builder<TokioExecutor>,
    shared: &Shared,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let idle = shared.times.idle;
    let activity = Arc::new(AtomicU64::new(0));
    let io = TokioIo::new(Watched { inner: stream, activity: activity.clone() });
    // Each request clones this connection's own handle: its reference count
    // lives on this thread, unlike the shared site's.
    let site = Arc::new(shared.site.clone());
    let budget = shared.budget.connection(shared.conn_budget, CHUNK);
    let svc = service_fn(move |req| {
        let (site, budget) = (site.clone(), budget.clone());
        async move { Ok::<_, Infallible>(site.handle(req, peer, &budget).await) }
    });
    let conn = builder.serve_connection(io, svc);
    tokio::pin!(conn);
    let stopped = stop.cancelled();
    tokio::pin!(stopped);
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + idle, idle);
    let mut seen = 0;
    let mut closing = false;
    loop {
        tokio::select! {
            biased;
            r = conn.as_mut() => {
                if let Err(e) = r {
                    tracing::debug!(%peer, error = %e, "http connection ended with an error");
                    if shared.site.cfg.access_log {
                        if let Some(status) = parse_error_status(e.as_ref()) {
                            access_log::log_unparsed(peer.ip(), status);
                        }
                    }
                }
                break;
            }
            _ = &mut stopped, if !closing => {
                conn.as_mut().graceful_shutdown();
                closing = true;
            }
            _ = tick.tick() => {
                let now = activity.load(Ordering::Relaxed);
                if now == seen {
                    if closing {
                        break;
                    }
                    tracing::debug!(%peer, "idle timeout; closing");
                    conn.as_mut().graceful_shutdown();
                    closing = true;
                }
                seen = now;
            }
        }
    }
}

/// The status hyper answered a request it could not parse with (the ones
/// its HTTP/1 server writes itself), if that is what ended the connection.
fn parse_error_status(e: &(dyn std::error::Error + 'static)) -> Option<u16> {
    let e = e.downcast_ref::<hyper::Error>()?;
    if e.is_parse_too_large() {
        // hyper tells 414 from 431 only by its message.
        return Some(if e.to_string().contains("URI") { 414 } else { 431 });
    }
    (e.is_parse() && !e.is_parse_status() && !e.is_parse_version_h2()).then_some(400)
}

/// A stream that counts its reads and writes, so the idle check can tell
/// whether anything moved.
struct Watched<S> {
    inner: S,
    activity: Arc<AtomicU64>,
}

impl<S> Watched<S> {
    fn touch(&self) {
        self.activity.fetch_add(1, Ordering::Relaxed);
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_read(cx, buf);
        if r.is_ready() {
            this.touch();
        }
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_write(cx, buf);
        if r.is_ready() {
            this.touch();
        }
        r
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        if r.is_ready() {
            this.touch();
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

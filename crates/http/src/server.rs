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
use sockit_net::{ConnInfo, Limits, Peer, Refusal, Shutdown, StreamServer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

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
    /// Connection threads, each with its own single-threaded runtime
    /// (0: run connections on the caller's runtime).
    pub threads: usize,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_headers: 64,
            max_header_bytes: 16 * 1024,
            max_streams: 128,
            threads: 0,
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
    let builder = Arc::new(builder(&opts));
    let times = Times { idle: opts.idle_timeout.max(Duration::from_millis(10)), first_byte: opts.header_timeout };
    let workers = Arc::new(Workers::start(opts.threads)?);
    StreamServer::new(listener, limits, shutdown)
        .refusal_text(refusal)
        .run(move |stream, info| {
            let (builder, site, workers) = (builder.clone(), site.clone(), workers.clone());
            async move {
                match workers.pick() {
                    None => connection(stream, info, builder, site, times).await,
                    Some(handle) => {
                        let Ok(std) = stream.into_std() else { return };
                        // Awaiting the worker keeps this task (and its
                        // connection permit) alive as long as the connection.
                        let _ = handle
                            .spawn(async move {
                                if let Ok(stream) = TcpStream::from_std(std) {
                                    connection(stream, info, builder, site, times).await;
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
        .max_concurrent_streams(opts.max_streams);
    b
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

async fn connection(
    stream: TcpStream,
    info: ConnInfo,
    builder: Arc<Builder<TokioExecutor>>,
    site: Arc<Site>,
    times: Times,
) {
    let Peer::Ip(peer) = info.peer else { return };
    let first = tokio::select! {
        r = tokio::time::timeout(times.first_byte, stream.readable()) => matches!(r, Ok(Ok(()))),
        _ = info.shutdown.triggered() => false,
    };
    if !first {
        tracing::debug!(%peer, "nothing sent within the header timeout (or stopping); closing");
        return;
    }
    let idle = times.idle;
    let activity = Arc::new(AtomicU64::new(0));
    let io = TokioIo::new(Watched { inner: stream, activity: activity.clone() });
    // Each request clones this connection's own handle: its reference count
    // lives on this thread, unlike the shared site's.
    let site = Arc::new(site);
    let svc = service_fn(move |req| {
        let site = site.clone();
        async move { Ok::<_, Infallible>(site.handle(req, peer).await) }
    });
    let conn = builder.serve_connection(io, svc);
    tokio::pin!(conn);
    // A child token: its waiter list is this connection's own, so polling it
    // on every wake-up does not contend with the other connections.
    let stop = info.shutdown.token().child_token();
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

/// A stream that counts its reads and writes, so the idle check can tell
/// whether anything moved.
struct Watched {
    inner: TcpStream,
    activity: Arc<AtomicU64>,
}

impl Watched {
    fn touch(&self) {
        self.activity.fetch_add(1, Ordering::Relaxed);
    }
}

impl AsyncRead for Watched {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_read(cx, buf);
        if r.is_ready() {
            this.touch();
        }
        r
    }
}

impl AsyncWrite for Watched {
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

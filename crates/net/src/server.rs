//! The accept loop for stream sockets (TCP and Unix).
//!
//! [`StreamServer`] accepts, checks the [`ConnectionGate`], and runs the
//! handler for each connection as its own tokio task, tracked by [`Shutdown`]
//! so a graceful stop can wait for it. A refused peer gets one clear line and
//! the server carries on. When `accept` itself fails (EMFILE: out of file
//! descriptors) the loop backs off from 5 ms doubling to 1 s instead of
//! spinning on a socket that stays readable.

use std::fmt;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};

use crate::limits::{ConnectionGate, Limits, Refusal};
use crate::shutdown::Shutdown;

const BACKOFF_START: Duration = Duration::from_millis(5);
const BACKOFF_MAX: Duration = Duration::from_secs(1);
/// How long a refused peer is given to read its refusal.
const REFUSAL_GRACE: Duration = Duration::from_secs(1);

/// Who is on the other end of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    /// A TCP peer.
    Ip(SocketAddr),
    /// A Unix-socket peer (no address worth showing).
    Unix,
}

impl Peer {
    /// The peer's IP, for per-IP limits.
    pub fn ip(&self) -> Option<IpAddr> {
        match self {
            Peer::Ip(a) => Some(a.ip()),
            Peer::Unix => None,
        }
    }
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Peer::Ip(a) => write!(f, "{a}"),
            Peer::Unix => f.write_str("unix"),
        }
    }
}

/// A listener the accept loop can drive.
pub trait Acceptor: Send + Sync + 'static {
    /// The connected stream type.
    type Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static;
    /// Waits for the next connection.
    fn accept_peer(&self) -> impl Future<Output = io::Result<(Self::Stream, Peer)>> + Send;
}

impl Acceptor for TcpListener {
    type Stream = TcpStream;
    async fn accept_peer(&self) -> io::Result<(TcpStream, Peer)> {
        let (stream, addr) = self.accept().await?;
        // Interactive protocols: never sit on a small write for 40 ms.
        let _ = stream.set_nodelay(true);
        Ok((stream, Peer::Ip(addr)))
    }
}

impl Acceptor for UnixListener {
    type Stream = UnixStream;
    async fn accept_peer(&self) -> io::Result<(UnixStream, Peer)> {
        let (stream, _) = self.accept().await?;
        Ok((stream, Peer::Unix))
    }
}

/// What a handler learns about its connection.
#[derive(Debug, Clone)]
pub struct ConnInfo {
    /// The remote end.
    pub peer: Peer,
    /// The server's shutdown handle: fires when the server is stopping.
    pub shutdown: Shutdown,
    /// The server's limits (idle timeout, frame size).
    pub limits: Arc<Limits>,
}

type RefusalText = Arc<dyn Fn(&Refusal) -> Vec<u8> + Send + Sync>;

/// Runs a handler per accepted connection, within [`Limits`].
pub struct StreamServer<A: Acceptor> {
    listener: A,
    limits: Arc<Limits>,
    gate: ConnectionGate,
    shutdown: Shutdown,
    refusal: RefusalText,
}

impl<A: Acceptor> StreamServer<A> {
    /// A server over `listener`; nothing runs until [`run`](Self::run).
    pub fn new(listener: A, limits: Limits, shutdown: Shutdown) -> Self {
        StreamServer {
            listener,
            gate: ConnectionGate::new(&limits),
            limits: Arc::new(limits),
            shutdown,
            refusal: Arc::new(|r| format!("error: {r}\r\n").into_bytes()),
        }
    }

    /// Replaces the text a refused peer receives (default `error: …\r\n`).
    pub fn refusal_text(mut self, f: impl Fn(&Refusal) -> Vec<u8> + Send + Sync + 'static) -> Self {
        self.refusal = Arc::new(f);
        self
    }

    /// The gate counting this server's connections.
    pub fn gate(&self) -> &ConnectionGate {
        &self.gate
    }

    /// Accepts until shutdown, running `handler` for each connection.
    pub async fn run<H, F>(self, handler: H)
    where
        H: Fn(A::Stream, ConnInfo) -> F + Send + Sync + 'static,
        F: Future<Output = ()> + Send + 'static,
    {
        let handler = Arc::new(handler);
        let mut backoff = BACKOFF_START;
        loop {
            let accepted = tokio::select! {
                biased;
                _ = self.shutdown.triggered() => break,
                r = self.listener.accept_peer() => r,
            };
            let (stream, peer) = match accepted {
                Ok(ok) => {
                    backoff = BACKOFF_START;
                    ok
                }
                Err(e) if is_per_connection(&e) => continue,
                Err(e) => {
                    tracing::warn!(error = %e, pause_ms = backoff.as_millis() as u64, "accept failed; backing off");
                    tokio::select! {
                        _ = self.shutdown.triggered() => break,
                        _ = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(BACKOFF_MAX);
                    continue;
                }
            };
            match self.gate.try_acquire(peer.ip()) {
                Ok(permit) => {
                    let info = ConnInfo { peer, shutdown: self.shutdown.clone(), limits: self.limits.clone() };
                    let handler = handler.clone();
                    self.shutdown.spawn(async move {
                        let _permit = permit;
                        handler(stream, info).await;
                    });
                }
                Err(refusal) => {
                    tracing::info!(%peer, %refusal, "connection refused");
                    let text = (self.refusal)(&refusal);
                    tokio::spawn(refuse(stream, text));
                }
            }
        }
    }
}

/// Errors that concern one half-open connection, not the listener.
fn is_per_connection(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset | io::ErrorKind::Interrupted)
}

/// Sends the refusal, half-closes, and drains briefly so the peer reads the
/// text instead of a reset.
async fn refuse<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, text: Vec<u8>) {
    let _ = tokio::time::timeout(REFUSAL_GRACE, async {
        stream.write_all(&text).await?;
        stream.shutdown().await?;
        let mut sink = [0u8; 1024];
        while stream.read(&mut sink).await? > 0 {}
        io::Result::Ok(())
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bind::bind_tcp;

    #[tokio::test]
    async fn over_limit_peer_gets_refusal_and_server_keeps_serving() {
        let listener = bind_tcp("127.0.0.1:0".parse().unwrap(), "--port").unwrap();
        let addr = listener.local_addr().unwrap();
        let shutdown = Shutdown::new();
        let limits = Limits { max_connections: 1, ..Limits::default() };
        let server = StreamServer::new(listener, limits, shutdown.clone());
        tokio::spawn(server.run(|mut s: TcpStream, _| async move {
            let mut b = [0u8; 16];
            while let Ok(n @ 1..) = s.read(&mut b).await {
                let _ = s.write_all(&b[..n]).await;
            }
        }));
        let mut first = TcpStream::connect(addr).await.unwrap();
        first.write_all(b"hi").await.unwrap();
        let mut got = [0u8; 2];
        first.read_exact(&mut got).await.unwrap();
        let mut second = TcpStream::connect(addr).await.unwrap();
        let mut text = String::new();
        second.read_to_string(&mut text).await.unwrap();
        assert_eq!(text, "error: server full: 1 connections is the limit, try again later\r\n");
        drop(first);
        // The slot comes back once the first peer leaves.
        for _ in 0..50 {
            let mut third = TcpStream::connect(addr).await.unwrap();
            third.write_all(b"ok").await.unwrap();
            let mut b = [0u8; 2];
            if third.read_exact(&mut b).await.is_ok() && &b == b"ok" {
                shutdown.trigger();
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("slot was never released");
    }
}

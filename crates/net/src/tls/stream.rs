//! [`TlsStream`]: a TLS stream that takes a peer's TCP close without a TLS
//! `close_notify` as the end of its data.
//!
//! rustls reports that case as an error, since an attacker on the path could
//! cut the data short. For the byte streams sockit serves it is the normal
//! way peers end: `ncat --ssl` half-closes TCP on stdin EOF without
//! `close_notify`, and many clients just close. OpenSSL-based tools accept it
//! too (`SSL_OP_IGNORE_UNEXPECTED_EOF`). So it reads as EOF (logged at debug
//! level), writing stays possible, and our own shutdown still sends
//! `close_notify`. Protocols that frame their data (HTTP lengths, our chat
//! lines) detect a cut for themselves.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A tokio-rustls stream (client or server side) with lenient EOF.
#[derive(Debug)]
pub struct TlsStream<T> {
    inner: T,
    unclean_eof: bool,
}

impl<T> TlsStream<T> {
    pub(crate) fn new(inner: T) -> Self {
        TlsStream { inner, unclean_eof: false }
    }

    /// The tokio-rustls stream (session details: version, ALPN, peer certs).
    pub fn get_ref(&self) -> &T {
        &self.inner
    }

    /// Whether the peer closed without `close_notify`.
    pub fn unclean_eof(&self) -> bool {
        self.unclean_eof
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for TlsStream<T> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match Pin::new(&mut self.inner).poll_read(cx, buf) {
            Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::UnexpectedEof => {
                if !self.unclean_eof {
                    tracing::debug!("peer closed without TLS close_notify; taken as the end of its data");
                    self.unclean_eof = true;
                }
                Poll::Ready(Ok(()))
            }
            other => other,
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for TlsStream<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

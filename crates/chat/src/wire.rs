//! The socket a line member's bytes travel on: a TCP connection, or the
//! plaintext end of a TLS member's in-process socket pair ([`crate::transport::tls`]).
//! The writer shards write to either with the same non-blocking `send`, and
//! [`crate::transport::tcp`] reads either the same way, so a TLS member keeps every rule
//! of a TCP member (lines, send queue, cuts) by running the same code.

use std::io;
use std::os::fd::{AsFd, BorrowedFd};

use bytes::BytesMut;
use tokio::net::{TcpStream, UnixStream};

/// A member's stream socket.
#[derive(Debug)]
pub enum Wire {
    /// A plain TCP member.
    Tcp(TcpStream),
    /// The chat side of a TLS member's socket pair.
    Unix(UnixStream),
}

impl Wire {
    /// Waits until the socket may be read.
    pub async fn readable(&self) -> io::Result<()> {
        match self {
            Wire::Tcp(s) => s.readable().await,
            Wire::Unix(s) => s.readable().await,
        }
    }

    /// Reads what is there without waiting (`WouldBlock` when nothing is).
    pub fn try_read_buf(&self, buf: &mut BytesMut) -> io::Result<usize> {
        match self {
            Wire::Tcp(s) => s.try_read_buf(buf),
            Wire::Unix(s) => s.try_read_buf(buf),
        }
    }

    /// Waits until the socket may be written.
    pub async fn writable(&self) -> io::Result<()> {
        match self {
            Wire::Tcp(s) => s.writable().await,
            Wire::Unix(s) => s.writable().await,
        }
    }

    /// Writes what the kernel takes without waiting.
    pub fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Wire::Tcp(s) => s.try_write(buf),
            Wire::Unix(s) => s.try_write(buf),
        }
    }
}

impl AsFd for Wire {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            Wire::Tcp(s) => s.as_fd(),
            Wire::Unix(s) => s.as_fd(),
        }
    }
}

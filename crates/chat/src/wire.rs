//! The socket a line member's bytes travel on: a TCP connection, or the
//! plaintext end of a TLS member's in-process socket pair ([`crate::transport::tls`]).
//! The writer shards write to either with the same non-blocking `send`, and
//! [`crate::transport::tcp`] reads either the same way, so a TLS member keeps every rule
//! of a TCP member (lines, send queue, cuts) by running the same code.

use std::io;
use std::os::fd::{AsFd, BorrowedFd};

use bytes::BytesMut;
use tokio::net::{TcpStream, UnixStream};

/// Most bytes one read takes.
pub const READ_CHUNK: usize = 4096;

/// Gives back an input buffer whose lines have all been taken, so an idle
/// member holds no memory for its input.
pub fn shed(buf: &mut BytesMut) {
    // Read to its end, a buffer's `capacity()` can be 0 while it still
    // holds its allocation: test emptiness, not capacity.
    if buf.is_empty() {
        *buf = BytesMut::new();
    }
}

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

    /// Reads what is there without waiting (`WouldBlock` when nothing is)
    /// and appends it to `buf`. Through a stack buffer, so `buf` grows by
    /// what came only: an idle member keeps its partial line, not a 4 KiB
    /// reservation (40 MB for 10,000 idle members). See [`shed`].
    pub fn try_read_append(&self, buf: &mut BytesMut) -> io::Result<usize> {
        let mut chunk = [0u8; READ_CHUNK];
        let n = match self {
            Wire::Tcp(s) => s.try_read(&mut chunk)?,
            Wire::Unix(s) => s.try_read(&mut chunk)?,
        };
        buf.extend_from_slice(&chunk[..n]);
        Ok(n)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reads_append_only_what_came_and_a_drained_buffer_is_shed() {
        let (a, b) = UnixStream::pair().unwrap();
        let wire = Wire::Unix(a);
        b.try_write(b"NICK a\r\n").unwrap();
        wire.readable().await.unwrap();
        let mut buf = BytesMut::new();
        assert_eq!(wire.try_read_append(&mut buf).unwrap(), 8);
        assert!(buf.capacity() < READ_CHUNK, "no 4 KiB reservation for 8 bytes");
        let line = buf.split_to(8);
        assert_eq!(&line[..], b"NICK a\r\n");
        drop(line);
        assert!(buf.try_reclaim(1), "drained, a buffer still holds its memory");
        shed(&mut buf);
        assert!(!buf.try_reclaim(1), "shed, it holds none");
        // A partial line stays.
        b.try_write(b"PRIV").unwrap();
        wire.readable().await.unwrap();
        wire.try_read_append(&mut buf).unwrap();
        shed(&mut buf);
        assert_eq!(&buf[..], b"PRIV");
    }
}

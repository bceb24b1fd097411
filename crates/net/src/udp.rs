//! The datagram loop: one handler call per UDP datagram.
//!
//! The handler gets the datagram, its sender and an output buffer; whatever
//! it leaves in the buffer is sent back. Request/response services (echo,
//! daytime, SNTP, strftime) need nothing more, and the loop allocates nothing
//! per datagram.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::UdpSocket;

use crate::shutdown::Shutdown;

/// Largest UDP payload (IPv4 64 KiB less headers); bigger cannot arrive.
pub const MAX_DATAGRAM: usize = 65_507;

/// Runs a reply handler for every datagram on a socket until shutdown.
pub struct DatagramServer {
    socket: Arc<UdpSocket>,
    shutdown: Shutdown,
}

impl DatagramServer {
    /// A server on `socket`; nothing runs until [`run`](Self::run).
    pub fn new(socket: impl Into<Arc<UdpSocket>>, shutdown: Shutdown) -> Self {
        DatagramServer { socket: socket.into(), shutdown }
    }

    /// Receives until shutdown. `handler(datagram, sender, reply)` fills
    /// `reply` (cleared before each call); a non-empty reply is sent back.
    pub async fn run<H>(self, mut handler: H)
    where
        H: FnMut(&[u8], SocketAddr, &mut Vec<u8>) + Send,
    {
        let mut buf = vec![0u8; MAX_DATAGRAM];
        let mut reply = Vec::with_capacity(1024);
        loop {
            let received = tokio::select! {
                biased;
                _ = self.shutdown.triggered() => break,
                r = self.socket.recv_from(&mut buf) => r,
            };
            let (n, from) = match received {
                Ok(ok) => ok,
                Err(e) if transient(&e) => continue,
                Err(e) => {
                    tracing::warn!(error = %e, "udp receive failed");
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    continue;
                }
            };
            reply.clear();
            handler(&buf[..n], from, &mut reply);
            if !reply.is_empty() {
                if let Err(e) = self.socket.send_to(&reply, from).await {
                    tracing::debug!(error = %e, %from, "udp reply not sent");
                }
            }
        }
    }
}

/// Errors a UDP socket reports for an earlier datagram (an ICMP reply),
/// which say nothing about the socket itself.
fn transient(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionReset | io::ErrorKind::Interrupted)
}

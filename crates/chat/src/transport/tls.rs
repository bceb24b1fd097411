//! TLS members: line and JSON clients (`socat OPENSSL:`, `openssl s_client`,
//! `sockit connect --tls`) on the TLS port, in the same rooms as everyone.
//!
//! A TLS member is a TCP member behind an in-process socket pair: after the
//! (bounded) handshake, this module's bridge decrypts what the client sends
//! into one end of a Unix socket pair and encrypts what comes out of it, and
//! [`crate::transport::tcp::serve_wire`] serves the other end exactly as it serves a TCP
//! connection. So the line protocol (text and JSON mode, the idle partial
//! line, `--max-line`, flood control) and the send queue (the writer shard's
//! non-blocking writes, backlog, `--send-timeout`, the cut of a member that
//! stopped reading) are the same code, not a copy. Why not let the shard
//! write TLS itself: encryption needs the connection's rustls state, which
//! would then be shared between the shard's thread and the member's task,
//! and a TLS write is not a single non-blocking syscall.
//!
//! Back-pressure runs end to end: a client that stops reading fills its TCP
//! send buffer (`--socket-buffer`), then rustls' buffer (64 KiB), then the
//! bridge's [`BRIDGE_BUFFER`], then the pair's send buffer ([`PAIR_BUFFER`]);
//! from there on the shard's writes take nothing and the member is cut after
//! `--send-timeout`, as a TCP member would be. Cost per TLS member beyond a
//! TCP one: two descriptors, one more copy per byte, and at most
//! 64 KiB + [`BRIDGE_BUFFER`] + [`INPUT_BUFFER`] + [`PAIR_BUFFER`] × 2
//! (kernel accounting) held while it is stalled.
//!
//! The handshake runs inside the connection's task, after the listener has
//! counted the connection, so unfinished handshakes count against
//! `--max-members` and `--max-per-ip`, and it is bounded by
//! `--tls-handshake-timeout` (a client that never finishes is cut).

use std::time::Duration;

use sockit_net::tls::ServerTls;
use sockit_net::ConnInfo;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UnixStream};

use crate::service::Chat;
use crate::wire::Wire;

/// Bytes of output the bridge holds at once (one TLS record), allocated
/// only while there is output to move.
pub const BRIDGE_BUFFER: usize = 16 * 1024;
/// The bridge's buffer for a member's input.
pub const INPUT_BUFFER: usize = 4 * 1024;
/// Send buffer asked for on each end of the socket pair (the kernel's
/// minimum applies). Small: the TCP socket's buffer is the real one.
pub const PAIR_BUFFER: usize = 16 * 1024;
/// How long the bridge may take to deliver what the member task wrote
/// before it closed (the task bounds its own last writes the same way).
const FLUSH_GRACE: Duration = Duration::from_secs(2);

/// Serves one connection of the TLS listener: the handshake, then a member.
pub async fn serve_connection(chat: Chat, stream: TcpStream, info: ConnInfo, tls: ServerTls) {
    serve_bridged(chat, stream, info, tls, |chat, wire, info| {
        crate::transport::tcp::serve_wire(chat, wire, info, "tls")
    })
    .await;
}

/// The handshake, then `serve` (a line member, or an IRC member) on the
/// chat end of the socket pair while the bridge moves its bytes.
pub(crate) async fn serve_bridged<F, Fut>(chat: Chat, stream: TcpStream, info: ConnInfo, tls: ServerTls, serve: F)
where
    F: FnOnce(Chat, Wire, ConnInfo) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    crate::transport::tcp::bound_send_buffer(&chat, &stream);
    let stream = match tls.accept_or_stop(stream, &info.shutdown).await {
        Ok(s) => s,
        Err(e) => {
            tracing::debug!(peer = %info.peer, error = %e, "chat TLS handshake failed");
            return;
        }
    };
    let (member_end, bridge_end) = match UnixStream::pair() {
        Ok(pair) => pair,
        Err(e) => {
            tracing::warn!(error = %e, "cannot make a socket pair for a TLS member");
            return;
        }
    };
    for end in [&member_end, &bridge_end] {
        let _ = socket2::SockRef::from(end).set_send_buffer_size(PAIR_BUFFER);
    }
    let member = serve(chat, Wire::Unix(member_end), info);
    let bridge = bridge(stream, bridge_end);
    tokio::pin!(member, bridge);
    tokio::select! {
        // The member is done: what it wrote last gets a bounded moment.
        _ = &mut member => { let _ = tokio::time::timeout(FLUSH_GRACE, bridge).await; }
        // The client is gone: the pair's end is closed, the member task
        // sees it and leaves.
        _ = &mut bridge => member.await,
    }
}

/// Copies plaintext between the TLS stream and the pair until the member
/// side closes (its last bytes delivered, then `close_notify`) or the
/// client's connection fails. When the client half-closes, the pair is
/// half-closed too, so the member task sees end of input as on TCP.
async fn bridge<S>(tls: S, pair: UnixStream)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (mut tls_in, mut tls_out) = tokio::io::split(tls);
    let (pair_in, mut pair_out) = pair.into_split();
    let up = async {
        // Input is lines under flood control: a small buffer is enough.
        let mut buf = vec![0u8; INPUT_BUFFER];
        loop {
            match tls_in.read(&mut buf).await {
                Ok(0) => {
                    let _ = pair_out.shutdown().await;
                    // Input is over; output goes on until the member closes.
                    return std::future::pending::<()>().await;
                }
                Ok(n) => {
                    if pair_out.write_all(&buf[..n]).await.is_err() {
                        // The member closed: `down` delivers its last bytes.
                        return std::future::pending::<()>().await;
                    }
                }
                Err(_) => return,
            }
        }
    };
    let down = async {
        loop {
            if pair_in.readable().await.is_err() {
                return;
            }
            // Allocated only while there is output, so an idle member holds
            // no output buffer; one TLS record's worth at a time.
            let mut buf = vec![0u8; BRIDGE_BUFFER];
            match pair_in.try_read(&mut buf) {
                Ok(0) => {
                    let _ = tls_out.shutdown().await;
                    return;
                }
                Ok(n) => {
                    if tls_out.write_all(&buf[..n]).await.is_err() || tls_out.flush().await.is_err() {
                        return;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(_) => {
                    let _ = tls_out.shutdown().await;
                    return;
                }
            }
        }
    };
    tokio::select! {
        _ = up => {}
        _ = down => {}
    }
}

//! The UDP side of connect/listen: one stdin read = one datagram.

use std::cell::Cell;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use sockit_net::udp::MAX_DATAGRAM;
use sockit_net::{announce, bind_udp};
use tokio::io::AsyncWriteExt;
use tokio::net::UdpSocket;
use tokio::time::Instant;

use super::pump::{idle, Outcome, Stdin, Transform};

/// After stdin ends, how long to wait for late answers when `-w` is not given
/// (UDP has no close to wait for).
const LINGER: Duration = Duration::from_secs(1);

/// `sockit connect --udp`.
pub async fn connect(addr: SocketAddr, transform: Transform, wait: Option<Duration>) -> anyhow::Result<Outcome> {
    let local: SocketAddr = if addr.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" }.parse()?;
    let socket = UdpSocket::bind(local).await.context("cannot open a UDP socket")?;
    socket.connect(addr).await.with_context(|| format!("cannot reach {addr}"))?;
    converse(&socket, Mode::Connected, transform, wait).await
}

/// `sockit listen --udp`.
pub async fn listen(addr: SocketAddr, transform: Transform, wait: Option<Duration>) -> anyhow::Result<Outcome> {
    let socket = bind_udp(addr, "--port")?;
    announce("udp", &socket.local_addr()?);
    converse(&socket, Mode::Listening, transform, wait).await
}

/// Which side of the conversation we are.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// `connect --udp`: one fixed peer; the end of stdin ends us (after a linger).
    Connected,
    /// `listen --udp`: the peer is the first to send; we run until stopped.
    Listening,
}

/// Datagrams to stdout, stdin to the peer.
async fn converse(socket: &UdpSocket, mode: Mode, mut t: Transform, wait: Option<Duration>) -> anyhow::Result<Outcome> {
    let end_after_stdin = mode == Mode::Connected;
    let mut stdin = Stdin::new();
    let mut stdout = tokio::io::stdout();
    let mut in_buf = vec![0u8; MAX_DATAGRAM];
    let mut out_buf = vec![0u8; MAX_DATAGRAM];
    let mut text = Vec::with_capacity(MAX_DATAGRAM);
    let mut peer: Option<SocketAddr> = None;
    let mut stdin_open = true;
    let last = Cell::new(Instant::now());
    let linger = wait.unwrap_or(LINGER);
    loop {
        let idle_limit = if stdin_open || !end_after_stdin { wait } else { Some(linger) };
        tokio::select! {
            r = socket.recv_from(&mut in_buf) => {
                let (n, from) = match r {
                    Ok(ok) => ok,
                    Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                        anyhow::bail!("nothing is listening there (the host answered \"port unreachable\")")
                    }
                    Err(e) => return Err(e.into()),
                };
                match peer {
                    // Stay with the first peer, as `nc -lu` does: a third
                    // party must not take over the reply stream by sending
                    // one datagram.
                    Some(first) if first != from => {
                        tracing::debug!(%from, peer = %first, "datagram from another address dropped");
                        continue;
                    }
                    Some(_) => {}
                    None => {
                        // From now on the kernel drops everyone else's datagrams.
                        socket.connect(from).await.with_context(|| format!("cannot answer {from}"))?;
                        tracing::info!(peer = %from, "first datagram; answering this peer only");
                        peer = Some(from);
                    }
                }
                text.clear();
                t.incoming(&in_buf[..n], false, &mut text);
                stdout.write_all(&text).await?;
                stdout.flush().await?;
                last.set(Instant::now());
            }
            r = stdin.read(&mut out_buf), if stdin_open => {
                let n = r?;
                if n == 0 {
                    stdin_open = false;
                    last.set(Instant::now());
                    continue;
                }
                text.clear();
                t.outgoing(&out_buf[..n], false, &mut text);
                for datagram in text.chunks(MAX_DATAGRAM) {
                    match (mode, peer) {
                        (Mode::Connected, _) => { socket.send(datagram).await?; }
                        (Mode::Listening, Some(to)) => { socket.send_to(datagram, to).await?; }
                        (Mode::Listening, None) => tracing::warn!("no peer yet: input dropped until someone sends a datagram"),
                    }
                }
                last.set(Instant::now());
            }
            _ = idle(idle_limit, &last) => {
                return Ok(if stdin_open || !end_after_stdin { Outcome::TimedOut } else { Outcome::Closed });
            }
        }
    }
}

//! The echo service (RFC 862): TCP sends every byte back as it arrives; UDP
//! answers each datagram with itself. `upper` answers in ASCII upper case,
//! the classic first tutorial server; bytes outside ASCII pass unchanged so
//! binary data and UTF-8 stay intact.
//!
//! [`echo_lines`] is the line-at-a-time variant (the tutorial "line server"):
//! it answers whole lines, bounded by a maximum length; an over-long line gets
//! an error line and the connection carries on.
//!
//! [`UdpEcho`] is the datagram side, with the guards every UDP service that
//! answers anything needs ([`crate::reflect`]).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::codec::{Line, LineCodec};
use crate::rate::RateLimit;
use crate::reflect::{DatagramGate, Refused};

/// First read buffer; grows while reads keep filling it.
const BUF_START: usize = 4 * 1024;
/// Largest read buffer one connection may grow to.
const BUF_MAX: usize = 256 * 1024;

/// How an echo connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EchoEnd {
    /// The peer half-closed; everything it sent was echoed.
    PeerClosed,
    /// Nothing arrived within the idle timeout.
    Idle,
    /// The server is shutting down.
    Shutdown,
}

/// Echoes `stream` until the peer closes, it idles out, or `stop` completes.
/// Returns how it ended and how many bytes were echoed.
///
/// The buffer starts small (4 KiB), so ten thousand idle connections cost
/// about 40 MiB, and doubles while reads fill it, up to 256 KiB, so a bulk
/// sender gets big writes and few system calls.
pub async fn echo_stream<S, F>(
    mut stream: S,
    upper: bool,
    idle: Option<Duration>,
    stop: F,
) -> std::io::Result<(EchoEnd, u64)>
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: std::future::Future<Output = ()>,
{
    tokio::pin!(stop);
    let mut buf: Vec<u8> = vec![0; BUF_START];
    let mut total = 0u64;
    loop {
        let n = match next_or_end(stream.read(&mut buf), idle, stop.as_mut()).await {
            Ok(r) => r?,
            Err(end) => return Ok((end, total)),
        };
        if n == 0 {
            stream.shutdown().await?;
            return Ok((EchoEnd::PeerClosed, total));
        }
        if upper {
            buf[..n].make_ascii_uppercase();
        }
        stream.write_all(&buf[..n]).await?;
        total += n as u64;
        if n == buf.len() && buf.len() < BUF_MAX {
            buf.resize(buf.len() * 2, 0);
        }
    }
}

/// Echoes whole lines of at most `max_line` bytes until the peer closes, it
/// idles out, or `stop` completes. An over-long line is answered with
/// `error: line longer than N bytes` and skipped; the connection stays.
pub async fn echo_lines<S, F>(
    stream: S,
    upper: bool,
    max_line: usize,
    idle: Option<Duration>,
    stop: F,
) -> std::io::Result<(EchoEnd, u64)>
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: std::future::Future<Output = ()>,
{
    use futures::{SinkExt, StreamExt};
    tokio::pin!(stop);
    let mut lines = tokio_util::codec::Framed::new(stream, LineCodec::new(max_line));
    let mut total = 0u64;
    loop {
        let line = match next_or_end(lines.next(), idle, stop.as_mut()).await {
            Ok(Some(line)) => line?,
            Ok(None) => {
                lines.get_mut().shutdown().await?;
                return Ok((EchoEnd::PeerClosed, total));
            }
            Err(end) => return Ok((end, total)),
        };
        match line {
            Line::Text(text) => {
                let mut text = text.to_vec();
                if upper {
                    text.make_ascii_uppercase();
                }
                total += text.len() as u64;
                lines.send(text).await?;
            }
            Line::TooLong => lines.send(format!("error: line longer than {max_line} bytes")).await?,
        }
    }
}

/// Awaits `next` unless the connection idles out first (`Err(Idle)`) or the
/// server stops (`Err(Shutdown)`).
async fn next_or_end<T, F>(
    next: impl std::future::Future<Output = T>,
    idle: Option<Duration>,
    stop: std::pin::Pin<&mut F>,
) -> Result<T, EchoEnd>
where
    F: std::future::Future<Output = ()>,
{
    let bounded = async {
        match idle {
            Some(d) => tokio::time::timeout(d, next).await.ok(),
            None => Some(next.await),
        }
    };
    tokio::select! {
        biased;
        _ = stop => Err(EchoEnd::Shutdown),
        r = bounded => r.ok_or(EchoEnd::Idle),
    }
}

/// The UDP answer to one datagram (no checks; see [`UdpEcho`]).
pub fn echo_datagram(input: &[u8], upper: bool, reply: &mut Vec<u8>) {
    reply.extend_from_slice(input);
    if upper {
        reply.make_ascii_uppercase();
    }
}

/// The UDP echo service on one socket: answers a datagram with itself unless
/// its source is a loop risk (our own port, a service port: two echo
/// servers would answer each other forever) or over the per-address rate
/// limit, which also ends a ping-pong between servers on arbitrary ports
/// after `burst` round trips. The answer is the request's size, so echo
/// never amplifies.
#[derive(Debug)]
pub struct UdpEcho {
    upper: bool,
    gate: DatagramGate,
}

impl UdpEcho {
    /// Echo for the socket bound at `local`; `limit: None` serves every
    /// address at full speed (load tests) but still refuses loop sources.
    pub fn new(local: SocketAddr, upper: bool, limit: Option<RateLimit>, max_clients: usize) -> UdpEcho {
        UdpEcho { upper, gate: DatagramGate::new(local, limit, max_clients) }
    }

    /// Answers `input` from `from` into `reply`, or says why not.
    pub fn answer(&mut self, input: &[u8], from: SocketAddr, now: Instant, reply: &mut Vec<u8>) -> Result<(), Refused> {
        self.gate.admit(from, now)?;
        echo_datagram(input, self.upper, reply);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn echoes_and_uppercases_until_half_close() {
        let (client, server) = tokio::io::duplex(64);
        let task = tokio::spawn(echo_stream(server, true, None, std::future::pending()));
        let (mut r, mut w) = tokio::io::split(client);
        w.write_all("héllo".as_bytes()).await.unwrap();
        w.shutdown().await.unwrap();
        let mut got = Vec::new();
        r.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, "HéLLO".as_bytes());
        assert_eq!(task.await.unwrap().unwrap(), (EchoEnd::PeerClosed, 6));
    }

    #[tokio::test]
    async fn line_mode_survives_an_overlong_line() {
        let (client, server) = tokio::io::duplex(256);
        tokio::spawn(echo_lines(server, false, 4, None, std::future::pending()));
        let (mut r, mut w) = tokio::io::split(client);
        w.write_all(b"abc\r\ntoo long line\nok\n").await.unwrap();
        w.shutdown().await.unwrap();
        let mut got = String::new();
        r.read_to_string(&mut got).await.unwrap();
        assert_eq!(got, "abc\nerror: line longer than 4 bytes\nok\n");
    }

    #[test]
    fn udp_echo_refuses_its_own_address_and_rate_limits() {
        let local: SocketAddr = "127.0.0.1:40007".parse().unwrap();
        let now = Instant::now();
        let mut echo = UdpEcho::new(local, true, Some(RateLimit { rate: 0.001, burst: 3 }), 16);
        let mut reply = Vec::new();
        // A spoofed datagram "from" the server itself: answering would loop.
        assert!(matches!(echo.answer(b"loop", local, now, &mut reply), Err(Refused::Loop(_))));
        assert!(reply.is_empty());
        let peer: SocketAddr = "127.0.0.1:50000".parse().unwrap();
        for _ in 0..3 {
            reply.clear();
            echo.answer(b"hi", peer, now, &mut reply).unwrap();
            assert_eq!(reply, b"HI");
        }
        reply.clear();
        assert_eq!(echo.answer(b"hi", peer, now, &mut reply), Err(Refused::RateLimited));
        assert!(reply.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn idle_timeout_ends_connection() {
        let (_client, server) = tokio::io::duplex(64);
        let end = echo_stream(server, false, Some(Duration::from_secs(5)), std::future::pending()).await.unwrap();
        assert_eq!(end, (EchoEnd::Idle, 0));
    }
}

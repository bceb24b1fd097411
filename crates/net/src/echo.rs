//! The echo service (RFC 862): TCP sends every byte back as it arrives; UDP
//! answers each datagram with itself. `upper` answers in ASCII upper case,
//! the classic first tutorial server; bytes outside ASCII pass unchanged so
//! binary data and UTF-8 stay intact.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

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
        let read = async {
            match idle {
                Some(d) => tokio::time::timeout(d, stream.read(&mut buf)).await.ok(),
                None => Some(stream.read(&mut buf).await),
            }
        };
        let n = tokio::select! {
            biased;
            _ = &mut stop => return Ok((EchoEnd::Shutdown, total)),
            r = read => match r {
                None => return Ok((EchoEnd::Idle, total)),
                Some(r) => r?,
            },
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

/// The UDP answer to one datagram.
pub fn echo_datagram(input: &[u8], upper: bool, reply: &mut Vec<u8>) {
    reply.extend_from_slice(input);
    if upper {
        reply.make_ascii_uppercase();
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

    #[tokio::test(start_paused = true)]
    async fn idle_timeout_ends_connection() {
        let (_client, server) = tokio::io::duplex(64);
        let end = echo_stream(server, false, Some(Duration::from_secs(5)), std::future::pending()).await.unwrap();
        assert_eq!(end, (EchoEnd::Idle, 0));
    }
}

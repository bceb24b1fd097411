//! Moving bytes between the terminal and a stream socket, both ways at once.

use std::cell::Cell;
use std::io::IsTerminal;
use std::time::Duration;

use encoding_rs::Encoding;
use sockit_net::encoding::Recoder;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;

/// Read size for both directions.
const CHUNK: usize = 64 * 1024;

/// How a conversation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The peer closed (after we finished sending, or before).
    Closed,
    /// `-w` passed with no traffic.
    TimedOut,
}

/// stdin that remembers it has ended, so `listen --keep` can serve later
/// peers without reading a closed stdin again.
pub struct Stdin {
    inner: tokio::io::Stdin,
    ended: bool,
}

impl Stdin {
    /// The process's stdin.
    pub fn new() -> Self {
        Stdin { inner: tokio::io::stdin(), ended: false }
    }

    /// Whether stdin is a terminal (a person typing) rather than a pipe or file.
    pub fn is_terminal(&self) -> bool {
        std::io::stdin().is_terminal()
    }

    /// Reads a chunk; 0 means stdin has ended (now or earlier).
    pub async fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.ended {
            return Ok(0);
        }
        let n = self.inner.read(buf).await?;
        self.ended = n == 0;
        Ok(n)
    }
}

/// What happens to text on its way out and in: line endings, encoding.
pub struct Transform {
    outgoing: Option<Recoder>,
    incoming: Option<Recoder>,
    crlf: bool,
    last_out: u8,
}

impl Transform {
    /// `wire`: the encoding on the socket (None: bytes pass unchanged).
    pub fn new(wire: Option<&'static Encoding>, crlf: bool) -> Self {
        Transform { outgoing: wire.map(Recoder::to_wire), incoming: wire.map(Recoder::from_wire), crlf, last_out: 0 }
    }

    /// Whether bytes pass unchanged both ways (no encoding, no CRLF).
    pub fn passes_through(&self) -> bool {
        self.outgoing.is_none() && self.incoming.is_none() && !self.crlf
    }

    /// Terminal → wire. `last` flushes a character cut at the end of input.
    pub fn outgoing(&mut self, input: &[u8], last: bool, out: &mut Vec<u8>) {
        let mut crlf_buf;
        let input = if self.crlf {
            crlf_buf = Vec::with_capacity(input.len() + 16);
            for &b in input {
                if b == b'\n' && self.last_out != b'\r' {
                    crlf_buf.push(b'\r');
                }
                crlf_buf.push(b);
                self.last_out = b;
            }
            &crlf_buf[..]
        } else {
            input
        };
        match &mut self.outgoing {
            Some(r) => r.push(input, last, out),
            None => out.extend_from_slice(input),
        }
    }

    /// Wire → terminal.
    pub fn incoming(&mut self, input: &[u8], last: bool, out: &mut Vec<u8>) {
        match &mut self.incoming {
            Some(r) => r.push(input, last, out),
            None => out.extend_from_slice(input),
        }
    }
}

/// Completes when `wait` has passed since the last activity; never without `wait`.
pub async fn idle(wait: Option<Duration>, last: &Cell<Instant>) {
    let Some(wait) = wait else {
        return std::future::pending().await;
    };
    loop {
        let due = last.get() + wait;
        if Instant::now() >= due {
            return;
        }
        tokio::time::sleep_until(due).await;
    }
}

/// Pumps stdin → `stream` and `stream` → stdout until the peer closes.
///
/// Once the peer has finished sending, piped stdin is still delivered (the
/// peer may only have half-closed) until stdin ends, `wait` passes, or
/// `give_way` completes (`listen --keep`: the next peer has arrived).
pub async fn run<S, G>(
    stream: S,
    stdin: &mut Stdin,
    transform: Transform,
    wait: Option<Duration>,
    give_way: G,
) -> anyhow::Result<Outcome>
where
    S: AsyncRead + AsyncWrite,
    G: std::future::Future<Output = ()>,
{
    let (mut sock_r, mut sock_w) = tokio::io::split(stream);
    let Transform { outgoing, incoming, crlf, last_out } = transform;
    let mut up = Transform { outgoing, incoming: None, crlf, last_out };
    let mut down = Transform { outgoing: None, incoming, crlf, last_out: 0 };
    let last = Cell::new(Instant::now());
    let stdin_is_terminal = stdin.is_terminal();

    let upload = async {
        let mut buf = vec![0u8; CHUNK];
        let mut out = Vec::with_capacity(CHUNK);
        loop {
            let n = stdin.read(&mut buf).await?;
            // Bytes that pass unchanged are written from the read buffer: no copy.
            let data = if up.passes_through() {
                &buf[..n]
            } else {
                out.clear();
                up.outgoing(&buf[..n], n == 0, &mut out);
                &out[..]
            };
            if !data.is_empty() {
                sock_w.write_all(data).await?;
            }
            if n == 0 {
                // Half-close: the peer sees our EOF and can answer, then close.
                sock_w.shutdown().await?;
                return std::io::Result::Ok(());
            }
            last.set(Instant::now());
        }
    };
    let download = async {
        let mut stdout = tokio::io::stdout();
        let mut buf = vec![0u8; CHUNK];
        let mut out = Vec::with_capacity(CHUNK);
        loop {
            let n = sock_r.read(&mut buf).await?;
            let data = if down.passes_through() {
                &buf[..n]
            } else {
                out.clear();
                down.incoming(&buf[..n], n == 0, &mut out);
                &out[..]
            };
            stdout.write_all(data).await?;
            stdout.flush().await?;
            if n == 0 {
                return std::io::Result::Ok(());
            }
            last.set(Instant::now());
        }
    };
    tokio::pin!(upload, download, give_way);
    let mut uploading = true;
    loop {
        tokio::select! {
            r = &mut download => {
                r?;
                // The peer has finished sending. Piped input is still ours to
                // deliver (the peer may only have half-closed, as `nc -N`
                // does); a person at a terminal expects the session to end.
                if uploading && !stdin_is_terminal {
                    tokio::select! {
                        r = &mut upload => if let Err(e) = r { tracing::debug!(error = %e, "sending stopped") },
                        _ = idle(wait, &last) => return Ok(Outcome::TimedOut),
                        _ = &mut give_way => tracing::info!("the next peer has arrived; this one had finished sending"),
                    }
                }
                return Ok(Outcome::Closed);
            }
            r = &mut upload, if uploading => {
                uploading = false;
                if let Err(e) = r {
                    // The peer stopped reading; what it sent us still counts.
                    tracing::debug!(error = %e, "sending stopped");
                }
            }
            _ = idle(wait, &last) => return Ok(Outcome::TimedOut),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crlf_is_added_once_across_chunks() {
        let mut t = Transform::new(None, true);
        let mut out = Vec::new();
        t.outgoing(b"a\nb\r", false, &mut out);
        t.outgoing(b"\nc\n", false, &mut out);
        assert_eq!(out, b"a\r\nb\r\nc\r\n");
    }

    #[test]
    fn gbk_both_ways() {
        let gbk = sockit_net::encoding::lookup("gbk").unwrap();
        let mut t = Transform::new(Some(gbk), false);
        let mut wire = Vec::new();
        t.outgoing("中文\n".as_bytes(), true, &mut wire);
        assert_eq!(wire, b"\xd6\xd0\xce\xc4\n");
        let mut back = Vec::new();
        t.incoming(&wire, true, &mut back);
        assert_eq!(back, "中文\n".as_bytes());
    }
}

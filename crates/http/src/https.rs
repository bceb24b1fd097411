//! The first moments of a connection on an HTTPS port, before HTTP: what the
//! client sent first is looked at without being read (`peek`), then
//!
//! - a TLS record (a ClientHello starts with the handshake type, 0x16) gets
//!   the handshake;
//! - a capital ASCII letter, which is how every HTTP method starts, is a
//!   plain HTTP request sent to the HTTPS port: it gets a short plain-text
//!   `400` that says to use https, as nginx answers, instead of a silent
//!   close the user cannot make sense of;
//! - anything else (garbage, an empty close) is closed.
//!
//! The caller bounds all of it, peek and handshake together, by the TLS
//! handshake timeout, so a client that sends nothing holds its connection
//! slot no longer than one that stalls in the handshake.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use sockit_net::tls::{ServerStream, ServerTls};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The TLS record type of a handshake message (RFC 8446 §5.1).
const HANDSHAKE_RECORD: u8 = 0x16;

/// After the plain-text answer, what the client still sends is read and
/// dropped for at most this long (and [`DRAIN_MAX`] bytes), so closing does
/// not reset the connection before the client has read the answer.
const DRAIN_FOR: Duration = Duration::from_secs(1);
const DRAIN_MAX: usize = 64 * 1024;

/// What a connection on the HTTPS port turned out to be.
pub enum Opened {
    /// The handshake is done; HTTP runs inside.
    Tls(Box<ServerStream<TcpStream>>),
    /// Plain HTTP: answer with [`refuse_plain_http`].
    PlainHttp(TcpStream),
    /// Neither (or the peer closed): drop it.
    Closed(&'static str),
}

/// Peeks at the first byte and, for TLS, runs the handshake. Unbounded in
/// time itself: the caller wraps it in the handshake timeout.
pub async fn open(stream: TcpStream, tls: &ServerTls) -> io::Result<Opened> {
    let mut first = [0u8; 1];
    if stream.peek(&mut first).await? == 0 {
        return Ok(Opened::Closed("closed before sending anything"));
    }
    Ok(match first[0] {
        HANDSHAKE_RECORD => Opened::Tls(Box::new(tls.accept(stream).await?)),
        b'A'..=b'Z' => Opened::PlainHttp(stream),
        _ => Opened::Closed("neither TLS nor HTTP"),
    })
}

/// Reads the plain request's head (at most `max_head` bytes, within
/// `within`), answers `400` naming the https URL, and closes.
pub async fn refuse_plain_http(mut stream: TcpStream, within: Duration, max_head: usize) -> io::Result<()> {
    let local = stream.local_addr()?;
    let mut head = Vec::with_capacity(1024);
    let _ = tokio::time::timeout(within, read_head(&mut stream, &mut head, max_head)).await;
    let body = format!("This port speaks HTTPS: use https://{}/\n", authority(&head, local));
    let answer = format!(
        "HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain; charset=utf-8\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    tokio::time::timeout(within, stream.write_all(answer.as_bytes())).await??;
    stream.shutdown().await?;
    let _ = tokio::time::timeout(DRAIN_FOR, drain(&mut stream)).await;
    Ok(())
}

/// Reads until the blank line that ends a request head, `max` bytes or EOF.
async fn read_head(stream: &mut TcpStream, head: &mut Vec<u8>, max: usize) -> io::Result<()> {
    let mut buf = [0u8; 4096];
    while head.len() < max && !ends_head(head) {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n.min(max - head.len())]);
    }
    Ok(())
}

fn ends_head(head: &[u8]) -> bool {
    head.windows(4).any(|w| w == b"\r\n\r\n") || head.windows(2).any(|w| w == b"\n\n")
}

async fn drain(stream: &mut TcpStream) {
    let mut buf = [0u8; 4096];
    let mut seen = 0;
    while seen < DRAIN_MAX {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => seen += n,
        }
    }
}

/// `HOST:PORT` for the https URL: the host the client asked for (its `Host`
/// header, when that is a plain host name or address), else our address;
/// always our port. The header is the peer's: anything but letters, digits,
/// `.`, `-` and a bracketed IPv6 address is not echoed back.
pub fn authority(head: &[u8], local: SocketAddr) -> String {
    let host = host_header(head).filter(|h| is_plain_host(h));
    match host {
        Some(h) => format!("{h}:{}", local.port()),
        None => local.to_string(),
    }
}

/// The host part of the `Host` header (its port removed).
fn host_header(head: &[u8]) -> Option<&str> {
    let text = std::str::from_utf8(head).ok()?;
    let value = text.lines().skip(1).find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.trim().eq_ignore_ascii_case("host").then(|| value.trim())
    })?;
    if let Some(rest) = value.strip_prefix('[') {
        let end = rest.find(']')?;
        return Some(&value[..end + 2]);
    }
    Some(value.split(':').next().unwrap_or(value))
}

fn is_plain_host(host: &str) -> bool {
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return inner.parse::<std::net::Ipv6Addr>().is_ok();
    }
    !host.is_empty() && host.len() <= 253 && host.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local() -> SocketAddr {
        "127.0.0.1:8443".parse().unwrap_or_else(|_| unreachable!())
    }

    #[test]
    fn the_url_names_the_asked_host_and_our_port() {
        let head = b"GET / HTTP/1.1\r\nHost: example.test:80\r\n\r\n";
        assert_eq!(authority(head, local()), "example.test:8443");
        let head = b"GET / HTTP/1.1\r\nhOsT:   [::1]:80\r\n\r\n";
        assert_eq!(authority(head, local()), "[::1]:8443");
        let head = b"GET / HTTP/1.0\r\n\r\n";
        assert_eq!(authority(head, local()), "127.0.0.1:8443");
    }

    #[test]
    fn a_host_header_with_odd_bytes_is_not_echoed() {
        for host in ["evil<script>", "a b", "x\x1b[2J", "[not-v6]", "", "é.test"] {
            let head = format!("GET / HTTP/1.1\r\nHost: {host}\r\n\r\n");
            assert_eq!(authority(head.as_bytes(), local()), "127.0.0.1:8443", "{host:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn authority_never_panics_and_only_echoes_plain_bytes(head in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let a = authority(&head, local());
            proptest::prop_assert!(a.bytes().all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b)), "{}", a);
            proptest::prop_assert!(a.ends_with(":8443"));
        }
    }
}

//! The HTTP/1.1 side of the web listener: read one request head, then serve
//! the chat page (`GET /`), hand a WebSocket upgrade (`GET /ws`) back to the
//! caller, or answer with a clear error status.
//!
//! Why by hand rather than hyper: the listener answers exactly one request
//! per connection (`Connection: close`) with one static page or a `101`, so
//! all it needs is a bounded read of the head, which `httparse` (the parser
//! hyper itself uses) does for us. Keeping the stream (TCP, or TLS under
//! `--tls`) in our hands keeps the
//! connection permit, the socket options and the member task in one place,
//! where hyper's upgrade would hand the socket to a detached task. The
//! handshake's accept key comes from tungstenite.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use sockit_net::Shutdown;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

/// Longest request head accepted, in bytes.
pub const MAX_HEAD: usize = 8 * 1024;
/// How long a client may take to send its request head.
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// How long writing a response may take.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// Headers looked at, at most.
const MAX_HEADERS: usize = 64;

/// The chat page: self-contained HTML and JS, no external assets.
pub const PAGE: &str = include_str!("page.html");

/// What the request head asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// The chat page (`head_only` for `HEAD /`).
    Page {
        /// Send headers only.
        head_only: bool,
    },
    /// A valid WebSocket upgrade with this `Sec-WebSocket-Key`.
    Upgrade {
        /// The client's key.
        key: String,
    },
    /// An error response: status line and a one-line explanation.
    Error {
        /// `"400 Bad Request"` and the like.
        status: &'static str,
        /// A line for a person.
        reason: &'static str,
    },
}

/// The names the web listener answers to, checked against `Host` before a
/// WebSocket upgrade. Without it a page on `evil.example` whose DNS name
/// is re-pointed at 127.0.0.1 (DNS rebinding) sends `Host` and `Origin`
/// both `evil.example:PORT`, which pass the same-origin check. As Vite's
/// `allowedHosts` and Jupyter's `allow_remote_access` do, only these pass:
/// IP literals (v4, `[v6]`), `localhost` and `*.localhost`, this machine's
/// host name (and `NAME.local`), and the `--web-host` names (`.example.com` also allows its
/// subdomains; `*` turns the check off, for a proxy that checks itself).
#[derive(Debug, Clone, Default)]
pub struct Hosts {
    names: Vec<String>,
    any: bool,
}

impl Hosts {
    /// The built-in names plus `extra` (the `--web-host` flags).
    pub fn new(extra: &[String]) -> Self {
        let mut names: Vec<String> = extra.iter().map(|n| n.trim().to_ascii_lowercase()).collect();
        let any = names.iter().any(|n| n == "*");
        if let Some(me) = machine_name() {
            // Also as mDNS announces it (`box.local`).
            names.push(format!("{me}.local"));
            names.push(me);
        }
        Hosts { names, any }
    }

    /// Whether a `Host` header value (name or address, optional port)
    /// names this listener.
    pub fn allows(&self, host: &str) -> bool {
        if self.any {
            return true;
        }
        let Some(name) = strip_port(host.trim()) else { return false };
        if name.starts_with('[') {
            return name
                .strip_prefix('[')
                .and_then(|n| n.strip_suffix(']'))
                .is_some_and(|n| n.parse::<Ipv6Addr>().is_ok());
        }
        if !name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_')) {
            // Not a host name at all (a second colon, spaces, …).
            return false;
        }
        if name.parse::<Ipv4Addr>().is_ok() {
            return true;
        }
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        name == "localhost"
            || name.ends_with(".localhost")
            || self.names.iter().any(|n| match n.strip_prefix('.') {
                Some(suffix) => name == suffix || name.ends_with(n.as_str()),
                None => name == *n,
            })
    }
}

/// `host[:port]` without the port; `None` if the port is not a number.
fn strip_port(host: &str) -> Option<&str> {
    let (name, port) = match host.rfind(':') {
        // A colon inside `[v6]` is not a port separator.
        Some(i) if !host[i..].contains(']') => (&host[..i], Some(&host[i + 1..])),
        _ => (host, None),
    };
    match port {
        Some(p) if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) => None,
        _ if name.is_empty() => None,
        _ => Some(name),
    }
}

/// This machine's host name (Linux keeps it in /proc; elsewhere the
/// `HOSTNAME` variable if set). Read, not resolved.
fn machine_name() -> Option<String> {
    let raw = std::fs::read_to_string("/proc/sys/kernel/hostname").ok().or_else(|| std::env::var("HOSTNAME").ok())?;
    let name = raw.trim().to_ascii_lowercase();
    (!name.is_empty()).then_some(name)
}

/// Parses a request head in `buf` with the built-in host names only; see
/// [`parse_for`].
pub fn parse(buf: &[u8]) -> Result<Option<(Route, usize)>, httparse::Error> {
    parse_for(buf, &Hosts::new(&[]))
}

/// Parses a request head in `buf`: `Ok(None)` while incomplete, otherwise
/// the route and the head's length (bytes after it belong to the WebSocket).
/// A WebSocket upgrade must name one of `hosts` in `Host`.
pub fn parse_for(buf: &[u8], hosts: &Hosts) -> Result<Option<(Route, usize)>, httparse::Error> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let len = match req.parse(buf)? {
        httparse::Status::Complete(n) => n,
        httparse::Status::Partial => return Ok(None),
    };
    let path = req.path.unwrap_or("/");
    let path = path.split('?').next().unwrap_or(path);
    let method = req.method.unwrap_or("");
    let header = |name: &str| {
        req.headers.iter().find(|h| h.name.eq_ignore_ascii_case(name)).and_then(|h| std::str::from_utf8(h.value).ok())
    };
    let has_token = |name: &str, token: &str| {
        header(name).is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    };
    let route = match (method, path) {
        ("GET" | "HEAD", "/" | "/index.html") => Route::Page { head_only: method == "HEAD" },
        ("GET", "/ws") => {
            let key = header("sec-websocket-key").map(str::trim).filter(|k| !k.is_empty());
            match key {
                Some(_) if header("host").is_some_and(|h| !hosts.allows(h)) => Route::Error {
                    status: "403 Forbidden",
                    reason: "unknown Host: this chat server answers to its IP addresses, localhost and its host name; \
                             start it with --web-host NAME to allow another name",
                },
                Some(_) if !same_origin(header("origin"), header("host")) => Route::Error {
                    status: "403 Forbidden",
                    reason: "cross-origin WebSocket refused: the page must come from this chat server",
                },
                Some(key) if has_token("upgrade", "websocket") && has_token("connection", "upgrade") => {
                    if header("sec-websocket-version").map(str::trim) == Some("13") {
                        Route::Upgrade { key: key.to_string() }
                    } else {
                        Route::Error { status: "426 Upgrade Required", reason: "WebSocket version 13 only" }
                    }
                }
                _ => Route::Error {
                    status: "400 Bad Request",
                    reason:
                        "/ws expects a WebSocket upgrade (Upgrade: websocket, Connection: Upgrade, Sec-WebSocket-Key)",
                },
            }
        }
        (_, "/" | "/index.html" | "/ws") => {
            Route::Error { status: "405 Method Not Allowed", reason: "only GET is served here" }
        }
        _ => Route::Error { status: "404 Not Found", reason: "the chat page is at / and its WebSocket at /ws" },
    };
    Ok(Some((route, len)))
}

/// Whether a WebSocket request may join: clients that are not browsers send
/// no `Origin`; a browser must be on a page served by this listener (its
/// `Origin` names the same host and port as `Host`). Without this check any
/// web site the user visits could open the local chat and talk as them.
fn same_origin(origin: Option<&str>, host: Option<&str>) -> bool {
    let Some(origin) = origin.map(str::trim) else { return true };
    let authority = origin.strip_prefix("http://").or_else(|| origin.strip_prefix("https://"));
    match (authority, host.map(str::trim)) {
        (Some(a), Some(h)) => a.trim_end_matches('/').eq_ignore_ascii_case(h),
        _ => false,
    }
}

/// Reads the request head and answers it. When the client asked for an
/// upgrade the `101` is sent and the bytes read past the head (already
/// WebSocket frames) are returned; `None` when the connection is done.
pub async fn accept<S>(stream: &mut S, shutdown: &Shutdown, hosts: &Hosts) -> Option<Vec<u8>>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut buf = Vec::with_capacity(1024);
    let read = async {
        loop {
            if let Some(done) = parse_for(&buf, hosts).transpose() {
                return Some(done);
            }
            if buf.len() >= MAX_HEAD {
                return Some(Ok((
                    Route::Error { status: "431 Request Header Fields Too Large", reason: "request head too large" },
                    buf.len(),
                )));
            }
            let mut chunk = [0u8; 2048];
            let want = chunk.len().min(MAX_HEAD - buf.len());
            match stream.read(&mut chunk[..want]).await {
                Ok(0) | Err(_) => return None,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    };
    let parsed = tokio::select! {
        _ = shutdown.triggered() => return None,
        r = tokio::time::timeout(HEAD_TIMEOUT, read) => r.ok().flatten()?,
    };
    let (route, len) = match parsed {
        Ok(ok) => ok,
        Err(_) => (Route::Error { status: "400 Bad Request", reason: "malformed HTTP request" }, buf.len()),
    };
    let response = match &route {
        Route::Upgrade { key } => format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
            derive_accept_key(key.as_bytes())
        )
        .into_bytes(),
        Route::Page { head_only } => {
            let mut r = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\
                 Cache-Control: no-cache\r\nX-Content-Type-Options: nosniff\r\n\
                 Content-Security-Policy: default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self' ws: wss:\r\n\
                 Connection: close\r\n\r\n",
                PAGE.len()
            )
            .into_bytes();
            if !head_only {
                r.extend_from_slice(PAGE.as_bytes());
            }
            r
        }
        Route::Error { status, reason } => {
            let extra = if status.starts_with("426") { "Sec-WebSocket-Version: 13\r\n" } else { "" };
            format!(
                "HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n{reason}\n",
                reason.len() + 1
            )
            .into_bytes()
        }
    };
    let wrote = tokio::time::timeout(WRITE_TIMEOUT, stream.write_all(&response)).await;
    match route {
        Route::Upgrade { .. } if matches!(wrote, Ok(Ok(()))) => Some(buf.split_off(len.min(buf.len()))),
        _ => {
            let _ = tokio::time::timeout(WRITE_TIMEOUT, stream.shutdown()).await;
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(head: &str) -> Route {
        parse(head.as_bytes()).unwrap().unwrap().0
    }

    #[test]
    fn routes() {
        assert_eq!(route("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), Route::Page { head_only: false });
        assert_eq!(route("HEAD /?a=b HTTP/1.1\r\n\r\n"), Route::Page { head_only: true });
        let up = "GET /ws HTTP/1.1\r\nUpgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\n\
                  Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
        assert_eq!(route(up), Route::Upgrade { key: "dGhlIHNhbXBsZSBub25jZQ==".into() });
        assert!(matches!(route("GET /ws HTTP/1.1\r\n\r\n"), Route::Error { status, .. } if status.starts_with("400")));
        assert!(matches!(route(&up.replace(": 13", ": 8")), Route::Error { status, .. } if status.starts_with("426")));
        assert!(matches!(route("GET /x HTTP/1.1\r\n\r\n"), Route::Error { status, .. } if status.starts_with("404")));
        assert!(matches!(route("POST / HTTP/1.1\r\n\r\n"), Route::Error { status, .. } if status.starts_with("405")));
    }

    #[test]
    fn partial_and_leftover() {
        assert_eq!(parse(b"GET / HTTP/1.1\r\nHo").unwrap(), None);
        let (_, len) = parse(b"GET / HTTP/1.1\r\n\r\nextra").unwrap().unwrap();
        assert_eq!(len, 18);
        assert!(parse(b"\x00\x01garbage\r\n\r\n").is_err());
    }

    #[test]
    fn cross_origin_upgrades_are_refused() {
        let up = "GET /ws HTTP/1.1\r\nHost: 127.0.0.1:9080\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                  Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
        let with = |origin: &str| route(&format!("{up}{origin}\r\n"));
        assert!(matches!(with(""), Route::Upgrade { .. }), "no Origin: not a browser");
        assert!(matches!(with("Origin: http://127.0.0.1:9080\r\n"), Route::Upgrade { .. }));
        for bad in ["Origin: http://evil.example\r\n", "Origin: null\r\n", "Origin: http://127.0.0.1:9081\r\n"] {
            assert!(matches!(with(bad), Route::Error { status: "403 Forbidden", .. }), "{bad}");
        }
    }

    #[test]
    fn hosts_are_checked_against_the_listeners_names() {
        let hosts = Hosts::new(&["chat.example.org".into(), ".lan.example".into()]);
        for ok in [
            "127.0.0.1:9080",
            "127.0.0.1",
            "10.1.2.3:80",
            "[::1]:9080",
            "[::1]",
            "localhost:9080",
            "LOCALHOST",
            "app.localhost:1",
            "chat.example.org:9080",
            "box.lan.example",
            "lan.example:9",
        ] {
            assert!(hosts.allows(ok), "{ok}");
        }
        for bad in [
            "evil.example:9080",
            "evil.example",
            "localhost.evil.example",
            "chat.example.org.evil.example",
            "127.0.0.1.nip.io:9080",
            "[::1",
            "::1",
            "localhost:x",
            ":9080",
            "",
            "xlan.example",
            ":.localhost:80",
            "a b.localhost",
        ] {
            assert!(!hosts.allows(bad), "{bad}");
        }
        assert!(Hosts::new(&["*".into()]).allows("evil.example:1"));
    }

    #[test]
    fn dns_rebinding_is_refused_even_with_a_matching_origin() {
        let up = "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                  Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
        let evil = format!("{up}Host: evil.example:9080\r\nOrigin: http://evil.example:9080\r\n\r\n");
        assert!(matches!(route(&evil), Route::Error { status: "403 Forbidden", reason } if reason.contains("Host")));
        let local = format!("{up}Host: localhost:9080\r\nOrigin: http://localhost:9080\r\n\r\n");
        assert!(matches!(route(&local), Route::Upgrade { .. }));
        let named = Hosts::new(&["evil.example".into()]);
        assert!(matches!(parse_for(evil.as_bytes(), &named).unwrap().unwrap().0, Route::Upgrade { .. }));
    }

    #[test]
    fn accept_key_is_rfc6455s_example() {
        assert_eq!(derive_accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    }
}

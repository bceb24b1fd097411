//! sockit-net: the framework every sockit service is built on — our `socketserver`.
//!
//! A service is a handler; this crate runs it. It binds listeners the way a
//! production server should (`SO_REUSEADDR`, IPv4 and IPv6, clear errors when a
//! port is taken), announces them in one fixed form scripts can read, runs a
//! handler per TCP/Unix connection or per UDP datagram on tokio, enforces
//! [`Limits`] (connections total and per IP, idle time, frame sizes), backs off
//! when `accept` fails (EMFILE must not spin), and stops gracefully through a
//! [`Shutdown`] handle.
//!
//! ```no_run
//! use sockit_net::{bind_tcp, Limits, Shutdown, StreamServer};
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! # async fn demo() -> Result<(), sockit_net::BindError> {
//! let shutdown = Shutdown::new();
//! let listener = bind_tcp("127.0.0.1:0".parse().unwrap(), "--port")?;
//! sockit_net::announce("tcp", &listener.local_addr().unwrap());
//! StreamServer::new(listener, Limits::default(), shutdown.clone())
//!     .run(|mut stream, _conn| async move {
//!         let mut buf = [0u8; 1024];
//!         while let Ok(n @ 1..) = stream.read(&mut buf).await {
//!             if stream.write_all(&buf[..n]).await.is_err() { break; }
//!         }
//!     })
//!     .await;
//! # Ok(()) }
//! ```
//!
//! Modules, one idea each:
//! - [`addr`]: bind addresses, `host:port` parsing, the `listening on` line.
//! - [`bind`]: opening TCP/UDP/Unix sockets with the right options and errors.
//! - [`limits`]: connection counting (total, per IP) and the other bounds.
//! - [`rate`]: message rates — token buckets, per member or per client address.
//! - [`reflect`]: what a UDP service may answer (no loops, no amplifying).
//! - [`shutdown`]: signal handling and draining with a deadline.
//! - [`server`]: the accept loop for streams; [`udp`]: the datagram loop.
//! - [`codec`]: framing (why: TCP is a byte stream) — bounded lines and frames.
//! - [`encoding`]: streaming transcoding between UTF-8 and legacy charsets.
//! - [`echo`]: the echo service (RFC 862), the reference handler.
//! - [`text`]: escaping peers' text before it reaches a terminal or a page.
//! - [`cookie`]: UDP return-routability cookies (a peer proves it receives at its address).
//! - [`tls`]: TLS for stream services — certificates, acceptor, connector.

pub mod addr;
pub mod bind;
pub mod codec;
pub mod cookie;
pub mod echo;
pub mod encoding;
pub mod limits;
pub mod rate;
pub mod reflect;
pub mod server;
pub mod shutdown;
pub mod text;
pub mod tls;
pub mod udp;

pub use addr::{announce, lan_addresses, parse_host_port, resolve_bind, AddrError};
pub use bind::{bind_tcp, bind_udp, bind_unix, BindError};
pub use limits::{ConnectionGate, Limits, Permit, Refusal};
pub use server::{Acceptor, ConnInfo, Peer, StreamServer};
pub use shutdown::Shutdown;
pub use udp::DatagramServer;

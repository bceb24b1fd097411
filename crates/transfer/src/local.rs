//! The sender's socket when the receiver is on the same host.
//!
//! Linux grows a TCP socket's send buffer toward its limit (4 MiB by
//! default) while the peer keeps up, which is right across a network: the
//! buffer has to cover the bandwidth-delay product. Over loopback there is
//! no link to keep full, and the big buffer costs CPU. Measured here
//! (2 cores, 1 GiB file, `nstat` and `/usr/bin/time`): with it, `sendfile`
//! queues data faster than the receiver drains it, loopback delivery runs
//! in the sender's context in segments half the size, the stream is
//! reordered between the two CPUs' backlogs (fast retransmits, SACK
//! recovery, zero-window adverts), and the two sides burn about twice the
//! CPU per byte; capped at 256 KiB, none of that happens and throughput
//! rises by a third. So the cap applies only when both ends are this host;
//! every other connection keeps the kernel's autotuning.

use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsFd;

/// Send buffer asked for towards a peer on this host (the kernel doubles
/// it for its own bookkeeping).
pub const LOCAL_SEND_BUFFER: usize = 256 << 10;

/// Whether a connection from `local` to `peer` stays on this host: a
/// loopback peer, or one of our own addresses (Linux routes that over
/// loopback too).
pub fn same_host(local: SocketAddr, peer: SocketAddr) -> bool {
    let canonical = |ip: IpAddr| ip.to_canonical();
    canonical(peer.ip()).is_loopback() || canonical(local.ip()) == canonical(peer.ip())
}

/// Caps the send buffer of `s` if it is a TCP connection to this host;
/// leaves anything else (a remote peer, a Unix socket) as it is. Best
/// effort: a refused setting only costs speed.
pub fn fit_send_buffer(s: &impl AsFd) {
    let sock = socket2::SockRef::from(s);
    let addr = |a: std::io::Result<socket2::SockAddr>| a.ok().and_then(|a| a.as_socket());
    if let (Some(local), Some(peer)) = (addr(sock.local_addr()), addr(sock.peer_addr())) {
        if same_host(local, peer) {
            let _ = sock.set_send_buffer_size(LOCAL_SEND_BUFFER);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::net::{TcpListener, TcpStream};

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn loopback_and_own_addresses_are_the_same_host() {
        assert!(same_host(addr("127.0.0.1:1"), addr("127.0.0.1:2")));
        assert!(same_host(addr("127.0.0.1:1"), addr("127.8.9.10:2")));
        assert!(same_host(addr("[::1]:1"), addr("[::1]:2")));
        assert!(same_host(addr("[::ffff:10.0.0.5]:1"), addr("10.0.0.5:2")));
        assert!(same_host(addr("192.168.1.4:1"), addr("192.168.1.4:2")));
    }

    #[test]
    fn other_hosts_are_not() {
        assert!(!same_host(addr("192.168.1.4:1"), addr("192.168.1.5:2")));
        assert!(!same_host(addr("[2001:db8::1]:1"), addr("[2001:db8::2]:2")));
        assert!(!same_host(addr("[::1]:1"), addr("[2001:db8::2]:2")));
    }

    #[test]
    fn a_loopback_connection_gets_the_small_buffer() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let s = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let before = socket2::SockRef::from(&s).send_buffer_size().unwrap();
        fit_send_buffer(&s);
        let after = socket2::SockRef::from(&s).send_buffer_size().unwrap();
        // Linux reports twice what was asked for.
        assert_eq!(after, 2 * LOCAL_SEND_BUFFER, "was {before}");
    }

    #[test]
    fn a_unix_socket_is_left_alone() {
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        let before = socket2::SockRef::from(&a).send_buffer_size().unwrap();
        fit_send_buffer(&a);
        assert_eq!(socket2::SockRef::from(&a).send_buffer_size().unwrap(), before);
    }
}

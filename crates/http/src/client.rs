//! Who the client is: the socket peer, or — when the peer is a trusted proxy
//! (`--trust-proxy CIDR`) — the address it reports in `Forwarded` (RFC 7239)
//! or `X-Forwarded-For`.
//!
//! The chain is read right to left and the first hop that is not itself a
//! trusted proxy is the client: entries further left were written by the
//! client and cannot be believed.

use std::net::{IpAddr, SocketAddr};

use http::HeaderMap;

use crate::config::{canonical, Cidr};

/// The client's address as far as the server can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Client {
    /// Its IP.
    pub ip: IpAddr,
    /// Its port, when known (a proxy may not say).
    pub port: Option<u16>,
}

/// Works out the client of a request that arrived from `peer`.
pub fn client(peer: SocketAddr, headers: &HeaderMap, trusted: &[Cidr]) -> Client {
    let direct = Client { ip: canonical(peer.ip()), port: Some(peer.port()) };
    let is_trusted = |ip: IpAddr| trusted.iter().any(|c| c.contains(ip));
    if trusted.is_empty() || !is_trusted(direct.ip) {
        return direct;
    }
    let mut hops: Vec<Client> = Vec::new();
    for v in headers.get_all(http::header::FORWARDED) {
        let Ok(v) = v.to_str() else { continue };
        for elem in v.split(',') {
            for pair in elem.split(';') {
                let Some((k, val)) = pair.trim().split_once('=') else { continue };
                if k.trim().eq_ignore_ascii_case("for") {
                    if let Some(c) = parse_node(val.trim().trim_matches('"')) {
                        hops.push(c);
                    }
                }
            }
        }
    }
    if hops.is_empty() {
        for v in headers.get_all("x-forwarded-for") {
            let Ok(v) = v.to_str() else { continue };
            hops.extend(v.split(',').filter_map(|h| parse_node(h.trim())));
        }
    }
    let mut chosen = None;
    for hop in hops.iter().rev() {
        chosen = Some(*hop);
        if !is_trusted(hop.ip) {
            break;
        }
    }
    chosen.unwrap_or(direct)
}

/// `1.2.3.4`, `1.2.3.4:5678`, `[::1]`, `[::1]:5678`, `::1`.
fn parse_node(s: &str) -> Option<Client> {
    if let Ok(a) = s.parse::<SocketAddr>() {
        return Some(Client { ip: canonical(a.ip()), port: Some(a.port()) });
    }
    let bare = s.trim_start_matches('[').trim_end_matches(']');
    bare.parse::<IpAddr>().ok().map(|ip| Client { ip: canonical(ip), port: None })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.append(*k, v.parse().unwrap());
        }
        m
    }

    #[test]
    fn untrusted_peer_is_the_client() {
        let peer: SocketAddr = "192.0.2.1:4000".parse().unwrap();
        let c = client(peer, &h(&[("x-forwarded-for", "6.6.6.6")]), &[]);
        assert_eq!(c, Client { ip: peer.ip(), port: Some(4000) });
        let trusted = ["10.0.0.0/8".parse().unwrap()];
        assert_eq!(client(peer, &h(&[("x-forwarded-for", "6.6.6.6")]), &trusted).ip, peer.ip());
    }

    #[test]
    fn trusted_proxy_chain_is_read_right_to_left() {
        let peer: SocketAddr = "10.0.0.2:4000".parse().unwrap();
        let trusted = ["10.0.0.0/8".parse().unwrap()];
        let c = client(peer, &h(&[("x-forwarded-for", "6.6.6.6, 203.0.113.9, 10.0.0.7")]), &trusted);
        assert_eq!(c, Client { ip: "203.0.113.9".parse().unwrap(), port: None });
        let c = client(peer, &h(&[("forwarded", "for=\"[2001:db8::1]:99\";proto=http")]), &trusted);
        assert_eq!(c, Client { ip: "2001:db8::1".parse().unwrap(), port: Some(99) });
        let c = client(peer, &h(&[("x-forwarded-for", "garbage")]), &trusted);
        assert_eq!(c.ip, peer.ip());
    }
}

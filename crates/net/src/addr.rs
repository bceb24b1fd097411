//! Addresses: what to bind, how to parse `host:port`, and how to announce a
//! listener.
//!
//! Every sockit server prints `listening on SCHEME://ADDR` on stderr as its
//! first lines, so scripts and tests can start it on port 0 and read the port
//! it really got. When it binds all interfaces it adds the machine's LAN
//! addresses, which is what a person wants to type on the other machine.

use std::io::Write;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};

/// A bind address or `host:port` that could not be understood.
#[derive(Debug, thiserror::Error)]
pub enum AddrError {
    /// The host part is neither an IP address nor a name that resolves.
    #[error("cannot resolve {0:?} — give an IP address such as 127.0.0.1, 0.0.0.0 or ::")]
    Unresolvable(String),
    /// The port part is not a number from 0 to 65535.
    #[error("bad port in {0:?} — expected HOST:PORT with PORT from 1 to 65535")]
    BadPort(String),
}

/// Turns `--bind ADDR` and `--port N` into a socket address.
///
/// `ADDR` may be an IPv4 or IPv6 literal (`::`, `[::1]`) or a host name.
pub fn resolve_bind(bind: &str, port: u16) -> Result<SocketAddr, AddrError> {
    let host = bind.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, port));
    }
    (host, port)
        .to_socket_addrs()
        .ok()
        .and_then(|mut it| it.next())
        .ok_or_else(|| AddrError::Unresolvable(bind.to_string()))
}

/// Splits `HOST[:PORT]` (also `[v6]:PORT`, `:PORT`, bare `PORT`) into host and
/// port, using `default_port` when none is given. An empty host means
/// `127.0.0.1`.
pub fn parse_host_port(input: &str, default_port: u16) -> Result<(String, u16), AddrError> {
    let s = input.trim();
    let bad = || AddrError::BadPort(input.to_string());
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or_else(bad)?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().map_err(|_| bad())?,
            None if after.is_empty() => default_port,
            None => return Err(bad()),
        };
        (host.to_string(), port)
    } else if s.matches(':').count() > 1 {
        // A bare IPv6 literal without brackets carries no port.
        (s.to_string(), default_port)
    } else if let Some((host, port)) = s.rsplit_once(':') {
        (host.to_string(), port.parse().map_err(|_| bad())?)
    } else if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        (String::new(), s.parse().map_err(|_| bad())?)
    } else {
        (s.to_string(), default_port)
    };
    let host = if host.is_empty() { "127.0.0.1".to_string() } else { host };
    Ok((host, port))
}

/// Resolves `HOST[:PORT]` to one socket address (the first the resolver gives).
pub fn resolve_peer(input: &str, default_port: u16) -> Result<SocketAddr, AddrError> {
    let (host, port) = parse_host_port(input, default_port)?;
    resolve_bind(&host, port)
}

/// The machine's non-loopback interface addresses, IPv4 first.
pub fn lan_addresses() -> Vec<IpAddr> {
    let mut ips: Vec<IpAddr> =
        if_addrs::get_if_addrs().unwrap_or_default().into_iter().filter(|i| !i.is_loopback()).map(|i| i.ip()).collect();
    ips.sort_by_key(|ip| (ip.is_ipv6(), *ip));
    ips.dedup();
    ips
}

/// The fixed `listening on …` line for a scheme (`tcp`, `udp`, `ws`, `http`)
/// and an address.
pub fn listening_line(scheme: &str, addr: &SocketAddr) -> String {
    format!("listening on {scheme}://{addr}")
}

/// Prints the `listening on` line on stderr and, when `addr` is a wildcard,
/// one `reachable at` line per LAN address.
pub fn announce(scheme: &str, addr: &SocketAddr) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{}", listening_line(scheme, addr));
    if addr.ip().is_unspecified() {
        for ip in lan_addresses() {
            if addr.is_ipv4() && ip.is_ipv6() {
                continue;
            }
            let _ = writeln!(err, "  reachable at {scheme}://{}", SocketAddr::new(ip, addr.port()));
        }
    }
}

/// Prints the `listening on unix://PATH` line on stderr.
pub fn announce_unix(path: &std::path::Path) {
    eprintln!("listening on unix://{}", path.display());
}

/// The address a client is counted under by per-client limits (rates,
/// connections per IP): IPv4 as is (IPv4-mapped IPv6 too), IPv6 by its /64,
/// since one host can hold a whole /64.
pub fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_port_forms() {
        let p = |s| parse_host_port(s, 5001).unwrap();
        assert_eq!(p("example:80"), ("example".into(), 80));
        assert_eq!(p("example"), ("example".into(), 5001));
        assert_eq!(p(":7"), ("127.0.0.1".into(), 7));
        assert_eq!(p("7"), ("127.0.0.1".into(), 7));
        assert_eq!(p("[::1]:9"), ("::1".into(), 9));
        assert_eq!(p("[::1]"), ("::1".into(), 5001));
        assert_eq!(p("::1"), ("::1".into(), 5001));
        assert!(parse_host_port("host:99999", 1).is_err());
        assert!(parse_host_port("[::1]x", 1).is_err());
    }

    #[test]
    fn bind_forms() {
        assert_eq!(resolve_bind("::", 1).unwrap().to_string(), "[::]:1");
        assert_eq!(resolve_bind("[::1]", 2).unwrap().to_string(), "[::1]:2");
        assert_eq!(resolve_bind("0.0.0.0", 3).unwrap().to_string(), "0.0.0.0:3");
    }

    #[test]
    fn line_form() {
        let a: SocketAddr = "127.0.0.1:43121".parse().unwrap();
        assert_eq!(listening_line("tcp", &a), "listening on tcp://127.0.0.1:43121");
    }
}

//! Bounds on connections: how many in total, how many from one IP, how long a
//! silent one may stay, and how large one frame may be.
//!
//! [`ConnectionGate`] counts live connections; a [`Permit`] holds one slot and
//! gives it back when dropped, so a handler that returns or panics can never
//! leak a slot.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::addr::client_key;

/// The bounds a server enforces. Every field has a documented default.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Live connections at once, all peers together (default 10,000).
    pub max_connections: usize,
    /// Live connections at once from one client (default 1,000): one IPv4
    /// address, or one IPv6 /64 (see [`crate::addr::client_key`]).
    pub max_per_ip: usize,
    /// Close a connection that sends nothing for this long (default: never).
    pub idle_timeout: Option<Duration>,
    /// Longest line or frame a service accepts, in bytes (default 64 KiB).
    pub max_frame: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_connections: 10_000, max_per_ip: 1_000, idle_timeout: None, max_frame: 64 * 1024 }
    }
}

/// Why a connection was turned away.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The server holds its maximum number of connections.
    #[error("server full: {max} connections is the limit, try again later")]
    Full {
        /// The configured maximum.
        max: usize,
    },
    /// This client (IPv4 address or IPv6 /64) holds its maximum number of
    /// connections.
    #[error("too many connections from {ip}: {max} is the limit per address")]
    PerIp {
        /// The peer's address.
        ip: IpAddr,
        /// The configured maximum.
        max: usize,
    },
}

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    /// Live connections per [`client_key`].
    per_ip: HashMap<IpAddr, usize>,
}

/// Counts live connections against [`Limits`]. Cheap to clone (shared).
#[derive(Debug, Clone)]
pub struct ConnectionGate {
    max_total: usize,
    max_per_ip: usize,
    counts: Arc<Mutex<Counts>>,
}

impl ConnectionGate {
    /// A gate enforcing the connection counts in `limits`.
    pub fn new(limits: &Limits) -> Self {
        ConnectionGate { max_total: limits.max_connections, max_per_ip: limits.max_per_ip, counts: Arc::default() }
    }

    /// Takes a slot for a connection from `ip` (`None` for Unix peers, which
    /// count only toward the total). IPv6 peers are counted per /64, since
    /// one host can hold a whole /64 and would otherwise get 2^64 quotas.
    pub fn try_acquire(&self, ip: Option<IpAddr>) -> Result<Permit, Refusal> {
        let mut c = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        if c.total >= self.max_total {
            return Err(Refusal::Full { max: self.max_total });
        }
        let key = ip.map(client_key);
        if let (Some(ip), Some(key)) = (ip, key) {
            let n = c.per_ip.entry(key).or_insert(0);
            if *n >= self.max_per_ip {
                return Err(Refusal::PerIp { ip, max: self.max_per_ip });
            }
            *n += 1;
        }
        c.total += 1;
        Ok(Permit { gate: self.clone(), key })
    }

    /// Connections currently holding a slot.
    pub fn live(&self) -> usize {
        self.counts.lock().unwrap_or_else(|p| p.into_inner()).total
    }
}

/// One connection's slot in a [`ConnectionGate`]; released on drop.
#[derive(Debug)]
pub struct Permit {
    gate: ConnectionGate,
    /// The client key the slot was counted under (not the exact address).
    key: Option<IpAddr>,
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut c = self.gate.counts.lock().unwrap_or_else(|p| p.into_inner());
        c.total -= 1;
        if let Some(key) = self.key {
            if let Some(n) = c.per_ip.get_mut(&key) {
                *n -= 1;
                if *n == 0 {
                    c.per_ip.remove(&key);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn total_and_per_ip_bounds_hold_and_release() {
        let gate = ConnectionGate::new(&Limits { max_connections: 3, max_per_ip: 2, ..Limits::default() });
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let b: IpAddr = "127.0.0.2".parse().unwrap();
        let p1 = gate.try_acquire(Some(a)).unwrap();
        let _p2 = gate.try_acquire(Some(a)).unwrap();
        assert_eq!(gate.try_acquire(Some(a)).unwrap_err(), Refusal::PerIp { ip: a, max: 2 });
        let _p3 = gate.try_acquire(Some(b)).unwrap();
        assert_eq!(gate.try_acquire(None).unwrap_err(), Refusal::Full { max: 3 });
        drop(p1);
        assert_eq!(gate.live(), 2);
        assert!(gate.try_acquire(Some(a)).is_ok());
    }

    #[test]
    fn ipv6_counts_per_64() {
        let gate = ConnectionGate::new(&Limits { max_per_ip: 2, ..Limits::default() });
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let _p1 = gate.try_acquire(Some(ip("2001:db8:1:2::1"))).unwrap();
        let p2 = gate.try_acquire(Some(ip("2001:db8:1:2:ffff:ffff:ffff:fffe"))).unwrap();
        let third = ip("2001:db8:1:2:abcd::9");
        assert_eq!(gate.try_acquire(Some(third)).unwrap_err(), Refusal::PerIp { ip: third, max: 2 });
        // Another /64 is another client; IPv4-mapped counts as the IPv4 address.
        let _p3 = gate.try_acquire(Some(ip("2001:db8:1:3::1"))).unwrap();
        let _p4 = gate.try_acquire(Some(ip("::ffff:192.0.2.7"))).unwrap();
        let _p5 = gate.try_acquire(Some(ip("192.0.2.7"))).unwrap();
        assert!(gate.try_acquire(Some(ip("192.0.2.7"))).is_err());
        // A slot taken under one address of the /64 is given back to the /64.
        drop(p2);
        assert!(gate.try_acquire(Some(third)).is_ok());
    }
}

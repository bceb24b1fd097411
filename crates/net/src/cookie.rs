//! Return-routability cookies for UDP services: proof that a peer receives
//! at the address it claims, without keeping any state for it.
//!
//! A UDP source address is a claim, not a fact. Before a service does
//! anything for an address that costs more than a small reply, it sends the
//! address a cookie and waits for the cookie to come back from that same
//! address. The cookie is a keyed BLAKE3 hash of (address, time bucket) under
//! a secret made at start-up, so a flood of spoofed sources creates no state
//! at all: checking a cookie is recomputing it.
//!
//! A cookie is valid for the bucket it was made in and the next one, so it
//! lives between one and two [`CookieJar::period`]s. It is 16 lowercase hex
//! digits (64 bits of the hash): an off-path attacker guessing cookies for a
//! spoofed address has one chance in 2^64 per try.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::rate::TokenBucket;

/// Hex digits in a cookie.
pub const COOKIE_LEN: usize = 16;

/// Makes and checks cookies under one secret.
#[derive(Clone)]
pub struct CookieJar {
    key: [u8; 32],
    period: Duration,
}

impl std::fmt::Debug for CookieJar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret.
        f.debug_struct("CookieJar").field("period", &self.period).finish_non_exhaustive()
    }
}

impl CookieJar {
    /// A jar with a fresh random secret; cookies live one to two `period`s.
    pub fn new(period: Duration) -> CookieJar {
        CookieJar::with_key(rand::random(), period)
    }

    /// A jar with a given secret (tests, or several processes sharing one).
    pub fn with_key(key: [u8; 32], period: Duration) -> CookieJar {
        CookieJar { key, period: period.max(Duration::from_secs(1)) }
    }

    /// How long one time bucket lasts.
    pub fn period(&self) -> Duration {
        self.period
    }

    fn bucket(&self, now: SystemTime) -> u64 {
        now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs() / self.period.as_secs().max(1)
    }

    fn make(&self, addr: SocketAddr, bucket: u64) -> String {
        let mut h = blake3::Hasher::new_keyed(&self.key);
        match addr.ip() {
            IpAddr::V4(v4) => h.update(&[4]).update(&v4.octets()),
            IpAddr::V6(v6) => h.update(&[6]).update(&v6.octets()),
        };
        h.update(&addr.port().to_be_bytes()).update(&bucket.to_be_bytes());
        let hash = h.finalize();
        hash.as_bytes()[..COOKIE_LEN / 2].iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The cookie for `addr`, now.
    pub fn issue(&self, addr: SocketAddr) -> String {
        self.issue_at(addr, SystemTime::now())
    }

    /// The cookie for `addr` at `now`.
    pub fn issue_at(&self, addr: SocketAddr, now: SystemTime) -> String {
        self.make(addr, self.bucket(now))
    }

    /// Whether `cookie` was issued to `addr` in this bucket or the previous one.
    pub fn verify(&self, addr: SocketAddr, cookie: &str) -> bool {
        self.verify_at(addr, cookie, SystemTime::now())
    }

    /// [`CookieJar::verify`] at `now`.
    pub fn verify_at(&self, addr: SocketAddr, cookie: &str, now: SystemTime) -> bool {
        if cookie.len() != COOKIE_LEN {
            return false;
        }
        let b = self.bucket(now);
        [b, b.saturating_sub(1)].iter().any(|&b| constant_time_eq(self.make(addr, b).as_bytes(), cookie.as_bytes()))
    }
}

/// Decides whether an unverified address may be sent a challenge: a burst
/// and then a steady rate per client (IPv6 per /64, see
/// [`crate::addr::client_key`]), and a rate for all clients together, so a
/// spoofed flood can make the service send at most that many small
/// challenges a second, and one victim address at most its own share.
///
/// The table of clients is bounded; when full it forgets the client it
/// learnt of first (eviction, never failing open). Resetting a victim's
/// bucket that way takes `max_clients` datagrams from other addresses, each
/// of which earned at most one challenge itself, so it amplifies nothing.
#[derive(Debug)]
pub struct ChallengeGate {
    burst: u32,
    rate: f64,
    clients: HashMap<IpAddr, TokenBucket>,
    order: VecDeque<IpAddr>,
    max_clients: usize,
    total: TokenBucket,
}

impl ChallengeGate {
    /// `burst` then `rate` per second per client; `total_rate` per second
    /// (burst of the same size) for everyone; at most `max_clients` tracked.
    pub fn new(burst: u32, rate: f64, total_rate: f64, max_clients: usize) -> ChallengeGate {
        ChallengeGate {
            burst,
            rate,
            clients: HashMap::new(),
            order: VecDeque::new(),
            max_clients: max_clients.max(1),
            total: TokenBucket::new(total_rate.max(1.0) as u32, total_rate.max(1.0)),
        }
    }

    /// Clients currently tracked.
    pub fn tracked(&self) -> usize {
        self.clients.len()
    }

    /// Whether `ip` may be sent a challenge at `now` (counts it if so).
    pub fn allow(&mut self, ip: IpAddr, now: Instant) -> bool {
        let key = crate::addr::client_key(ip);
        if !self.clients.contains_key(&key) {
            while self.clients.len() >= self.max_clients {
                match self.order.pop_front() {
                    Some(old) => {
                        self.clients.remove(&old);
                    }
                    None => break,
                }
            }
            self.clients.insert(key, TokenBucket::new_at(self.burst, self.rate, now));
            self.order.push_back(key);
        }
        let client_ok = self.clients.get_mut(&key).is_some_and(|b| b.take_at(now));
        client_ok && self.total.take_at(now)
    }
}

/// Compares without an early exit, so timing tells nothing about how much of
/// a guess was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn cookie_binds_address_port_and_time() {
        let jar = CookieJar::with_key([7; 32], Duration::from_secs(60));
        let t = UNIX_EPOCH + Duration::from_secs(6_000);
        let c = jar.issue_at(addr("127.0.0.1:5000"), t);
        assert_eq!(c.len(), COOKIE_LEN);
        assert!(c.bytes().all(|b| b.is_ascii_hexdigit()));
        assert!(jar.verify_at(addr("127.0.0.1:5000"), &c, t));
        assert!(jar.verify_at(addr("127.0.0.1:5000"), &c, t + Duration::from_secs(119)), "next bucket");
        assert!(!jar.verify_at(addr("127.0.0.1:5000"), &c, t + Duration::from_secs(120)), "expired");
        assert!(!jar.verify_at(addr("127.0.0.1:5001"), &c, t), "other port");
        assert!(!jar.verify_at(addr("127.0.0.2:5000"), &c, t), "other ip");
        assert!(!jar.verify_at(addr("[::1]:5000"), &c, t));
        assert!(!jar.verify_at(addr("127.0.0.1:5000"), &c[..15], t));
        let other = CookieJar::with_key([8; 32], Duration::from_secs(60));
        assert!(!other.verify_at(addr("127.0.0.1:5000"), &c, t), "other secret");
    }

    #[test]
    fn gate_limits_each_client_and_all_together() {
        let t0 = Instant::now();
        let mut g = ChallengeGate::new(2, 1.0, 5.0, 3);
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(g.allow(ip("10.0.0.1"), t0));
        assert!(g.allow(ip("10.0.0.1"), t0));
        assert!(!g.allow(ip("10.0.0.1"), t0), "burst used up");
        assert!(g.allow(ip("2001:db8::1"), t0));
        assert!(g.allow(ip("2001:db8::2"), t0));
        assert!(!g.allow(ip("2001:db8::3"), t0), "one /64 is one client");
        // Table bounded: new clients evict the oldest.
        for i in 0..50u32 {
            g.allow(IpAddr::V4((0x0a01_0000 + i).into()), t0 + Duration::from_secs(10));
        }
        assert_eq!(g.tracked(), 3);
        // The total budget holds however many clients there are.
        let later = t0 + Duration::from_secs(100);
        let sent = (0..1000u32).filter(|i| g.allow(IpAddr::V4((0x0b00_0000 + i).into()), later)).count();
        assert_eq!(sent, 5);
    }

    proptest::proptest! {
        #[test]
        fn garbage_never_verifies(s in "\\PC{0,40}", port in 1u16..) {
            let jar = CookieJar::with_key([1; 32], Duration::from_secs(60));
            let a = SocketAddr::from(([127, 0, 0, 1], port));
            proptest::prop_assume!(s != jar.issue(a));
            proptest::prop_assert!(!jar.verify(a, &s));
        }
    }
}

//! Message rates: a [`TokenBucket`] (burst, then a steady rate) and a
//! [`RateLimiter`] keeping one bucket per client address.
//!
//! Chat uses a bucket per member for flood control; the time services use the
//! per-address limiter against floods and amplification.
//!
//! ## Per-client limiter
//!
//! A client may send `burst` requests at once and then `rate` per second on
//! average (an NTP client polls every 64–1024 s and bursts 4–8 requests at
//! start-up with `iburst`, so the default of 8 and one every 2 s leaves real
//! clients alone). IPv6 clients are counted per /64, since one host can
//! hold a whole /64. Over the limit a client gets at most one "slow down"
//! answer per second (the caller sends a kiss-o'-death) and silence
//! otherwise, so the limiter never sends more than it receives.
//!
//! Memory is bounded: the table holds at most `max_clients` buckets. When it
//! is full, buckets that have refilled (idle clients, the same as new ones)
//! are swept, at most once a second; if it is still full, new clients are
//! served untracked — failing open keeps the service up for real clients
//! during a flood from many (probably spoofed) addresses.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// How often an over-limit client may be told to slow down.
const KOD_INTERVAL: Duration = Duration::from_secs(1);
/// Least time between two sweeps of a full table.
const SWEEP_INTERVAL: Duration = Duration::from_secs(1);

/// A token bucket: holds up to `burst` tokens, refilled at `rate` per second.
/// A rate of 0 turns flood control off.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    burst: f64,
    rate: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(burst: u32, rate: f64) -> Self {
        Self::new_at(burst, rate, Instant::now())
    }

    /// A full bucket, as of `now`.
    pub fn new_at(burst: u32, rate: f64, now: Instant) -> Self {
        let burst = f64::from(burst.max(1));
        TokenBucket { burst, rate, tokens: burst, last: now }
    }

    /// Whether the bucket will be full again at `now` (an idle client,
    /// indistinguishable from a new one).
    pub fn is_full_at(&self, now: Instant) -> bool {
        let dt = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens + dt * self.rate >= self.burst
    }

    /// Takes one token at `now`; false when the member must slow down.
    pub fn take_at(&mut self, now: Instant) -> bool {
        if self.rate <= 0.0 {
            return true;
        }
        let dt = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + dt * self.rate).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Takes one token now.
    pub fn take(&mut self) -> bool {
        self.take_at(Instant::now())
    }

    /// How long until the next token.
    pub fn wait(&self) -> Duration {
        if self.rate <= 0.0 || self.tokens >= 1.0 {
            return Duration::ZERO;
        }
        Duration::from_secs_f64((1.0 - self.tokens) / self.rate)
    }
}

/// A sustained rate and a burst.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Requests per second, on average.
    pub rate: f64,
    /// Requests allowed at once.
    pub burst: u32,
}

impl Default for RateLimit {
    fn default() -> Self {
        RateLimit { rate: 0.5, burst: 8 }
    }
}

/// What to do with one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Serve it.
    Allow,
    /// Over the limit: answer "slow down" (NTP: kiss-o'-death RATE).
    SlowDown,
    /// Over the limit and already told recently: drop silently.
    Drop,
}

#[derive(Debug, Clone)]
struct Bucket {
    tokens: TokenBucket,
    last_warned: Option<Instant>,
}

/// Token buckets per client; see the module docs.
#[derive(Debug)]
pub struct RateLimiter {
    limit: RateLimit,
    clients: HashMap<IpAddr, Bucket>,
    max_clients: usize,
    last_sweep: Option<Instant>,
}

impl RateLimiter {
    /// A limiter with `limit`, remembering at most `max_clients` clients.
    pub fn new(limit: RateLimit, max_clients: usize) -> RateLimiter {
        RateLimiter { limit, clients: HashMap::new(), max_clients: max_clients.max(1), last_sweep: None }
    }

    /// Clients currently tracked.
    pub fn tracked(&self) -> usize {
        self.clients.len()
    }

    /// Counts one request from `ip` at `now`.
    pub fn check(&mut self, ip: IpAddr, now: Instant) -> Decision {
        let key = crate::addr::client_key(ip);
        let limit = self.limit;
        if !self.clients.contains_key(&key) && self.clients.len() >= self.max_clients {
            self.sweep(now);
            if self.clients.len() >= self.max_clients {
                return Decision::Allow;
            }
        }
        let bucket = self
            .clients
            .entry(key)
            .or_insert_with(|| Bucket { tokens: TokenBucket::new_at(limit.burst, limit.rate, now), last_warned: None });
        if bucket.tokens.take_at(now) {
            return Decision::Allow;
        }
        match bucket.last_warned {
            Some(t) if now.saturating_duration_since(t) < KOD_INTERVAL => Decision::Drop,
            _ => {
                bucket.last_warned = Some(now);
                Decision::SlowDown
            }
        }
    }

    /// Forgets clients whose bucket has refilled.
    fn sweep(&mut self, now: Instant) {
        if self.last_sweep.is_some_and(|t| now.saturating_duration_since(t) < SWEEP_INTERVAL) {
            return;
        }
        self.last_sweep = Some(now);
        self.clients.retain(|_, b| !b.tokens.is_full_at(now));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn burst_then_slow_down_once_then_silence_then_refill() {
        let t0 = Instant::now();
        let mut l = RateLimiter::new(RateLimit { rate: 1.0, burst: 3 }, 10);
        for _ in 0..3 {
            assert_eq!(l.check(ip("10.0.0.1"), t0), Decision::Allow);
        }
        assert_eq!(l.check(ip("10.0.0.1"), t0), Decision::SlowDown);
        assert_eq!(l.check(ip("10.0.0.1"), t0), Decision::Drop);
        assert_eq!(l.check(ip("10.0.0.2"), t0), Decision::Allow, "other clients unaffected");
        let later = t0 + Duration::from_millis(1500);
        assert_eq!(l.check(ip("10.0.0.1"), later), Decision::Allow);
        assert_eq!(l.check(ip("10.0.0.1"), later), Decision::SlowDown);
    }

    #[test]
    fn ipv6_counts_per_64() {
        let t0 = Instant::now();
        let mut l = RateLimiter::new(RateLimit { rate: 0.1, burst: 1 }, 10);
        assert_eq!(l.check(ip("2001:db8::1"), t0), Decision::Allow);
        assert_eq!(l.check(ip("2001:db8::ffff:2"), t0), Decision::SlowDown);
        assert_eq!(l.check(ip("2001:db8:0:1::1"), t0), Decision::Allow);
        assert_eq!(l.check(ip("::ffff:10.0.0.9"), t0), Decision::Allow);
        assert_eq!(l.check(ip("10.0.0.9"), t0), Decision::SlowDown);
    }

    proptest::proptest! {
        /// However requests are spaced, one client never gets more than
        /// `burst + rate × elapsed` allowed, nor more than one warning a second.
        #[test]
        fn never_allows_more_than_burst_plus_rate(gaps_ms in proptest::collection::vec(0u64..700, 1..300),
                                                  burst in 1u32..10, rate in 0.1f64..20.0) {
            let t0 = Instant::now();
            let mut l = RateLimiter::new(RateLimit { rate, burst }, 16);
            let (mut now, mut allowed, mut warned) = (t0, 0u32, 0u32);
            for g in gaps_ms {
                now += Duration::from_millis(g);
                match l.check(ip("10.0.0.1"), now) {
                    Decision::Allow => allowed += 1,
                    Decision::SlowDown => warned += 1,
                    Decision::Drop => {}
                }
            }
            let secs = (now - t0).as_secs_f64();
            proptest::prop_assert!(f64::from(allowed) <= f64::from(burst) + rate * secs + 1e-9);
            proptest::prop_assert!(f64::from(warned) <= secs + 1.0);
        }
    }

    #[test]
    fn table_is_bounded_and_fails_open() {
        let t0 = Instant::now();
        let mut l = RateLimiter::new(RateLimit { rate: 0.001, burst: 1 }, 4);
        for i in 0..100u32 {
            let a = IpAddr::V4(i.into());
            assert_eq!(l.check(a, t0), Decision::Allow);
        }
        assert_eq!(l.tracked(), 4);
        // Idle clients are swept once they have refilled.
        let much_later = t0 + Duration::from_secs(10_000);
        assert_eq!(l.check(ip("192.0.2.1"), much_later), Decision::Allow);
        assert_eq!(l.tracked(), 1);
    }

    #[test]
    fn burst_then_rate() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new_at(3, 2.0, t0);
        assert!((0..3).all(|_| b.take_at(t0)));
        assert!(!b.take_at(t0));
        assert!(b.take_at(t0 + Duration::from_millis(500)));
        assert!(!b.take_at(t0 + Duration::from_millis(600)));
        let mut off = TokenBucket::new(1, 0.0);
        assert!((0..1000).all(|_| off.take_at(t0)));
    }

    proptest::proptest! {
        /// Over any window, no more than burst + rate × elapsed get through.
        #[test]
        fn never_exceeds_budget(burst in 1u32..50, rate in 0.5f64..100.0, gaps in proptest::collection::vec(0u64..50, 1..300)) {
            let t0 = Instant::now();
            let mut b = TokenBucket::new_at(burst, rate, t0);
            let mut now = t0;
            let mut passed = 0u32;
            for g in gaps {
                now += Duration::from_millis(g);
                passed += u32::from(b.take_at(now));
            }
            let budget = f64::from(burst) + rate * (now - t0).as_secs_f64();
            proptest::prop_assert!(f64::from(passed) <= budget + 1e-6);
        }
    }
}

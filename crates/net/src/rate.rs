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
//! Memory is bounded: the table holds at most `max_clients` buckets, and a
//! full table evicts — it never stops limiting (an untracked client would
//! be an unlimited one, and a flood of spoofed sources would switch the
//! limiter off for everyone; chrony's client log, likewise, drops old
//! records rather than stop limiting). The victim is chosen CLOCK-style: a
//! hand walks the table, looks at the next [`EVICTION_SAMPLE`] entries (in
//! the order they were filled, not chosen by address, so an attacker cannot
//! aim at one) and evicts the one that says least —
//! first a bucket that has refilled (an idle client, the same as a new one),
//! then one never told to slow down, with the most tokens left — and the
//! newcomer takes its slot. Each check is O(1), eviction O(sample); a client
//! that has been limited survives a flood of new addresses, since it loses
//! its slot only when every entry under the hand has been limited too (an
//! attacker must first get each of its sources limited, `burst + 1`
//! datagrams apiece, and even then frees a client for one burst only once
//! per `max_clients / EVICTION_SAMPLE` evictions).

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// How often an over-limit client may be told to slow down.
const KOD_INTERVAL: Duration = Duration::from_secs(1);
/// How many clients a limiter remembers by default (≈130 bytes each, so
/// about 8 MiB when full).
pub const DEFAULT_MAX_CLIENTS: usize = 65_536;

/// Entries a full table looks at to pick one to evict.
pub const EVICTION_SAMPLE: usize = 8;

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

    /// Tokens the bucket will hold at `now` (at most `burst`).
    pub fn tokens_at(&self, now: Instant) -> f64 {
        let dt = now.saturating_duration_since(self.last).as_secs_f64();
        (self.tokens + dt * self.rate).min(self.burst)
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

impl Bucket {
    /// How little this entry would be missed: the largest is evicted first.
    /// A refilled bucket carries no information; a client never limited
    /// carries less than one that was; among equals, more tokens less.
    fn eviction_rank(&self, now: Instant) -> (bool, bool, f64) {
        (self.tokens.is_full_at(now), self.last_warned.is_none(), self.tokens.tokens_at(now))
    }
}

/// One tracked client.
#[derive(Debug, Clone)]
struct Slot {
    key: IpAddr,
    bucket: Bucket,
}

/// Token buckets per client; see the module docs.
#[derive(Debug)]
pub struct RateLimiter {
    limit: RateLimit,
    /// The table: at most `max_clients` entries, never shrinks.
    slots: Vec<Slot>,
    /// Client key to its index in `slots`.
    index: HashMap<IpAddr, usize>,
    max_clients: usize,
    /// Where the next eviction starts looking.
    hand: usize,
    evicted: u64,
}

impl RateLimiter {
    /// A limiter with `limit`, remembering at most `max_clients` clients.
    pub fn new(limit: RateLimit, max_clients: usize) -> RateLimiter {
        RateLimiter {
            limit,
            slots: Vec::new(),
            index: HashMap::new(),
            max_clients: max_clients.max(1),
            hand: 0,
            evicted: 0,
        }
    }

    /// Clients currently tracked (never more than `max_clients`).
    pub fn tracked(&self) -> usize {
        self.slots.len()
    }

    /// How many clients a full table has evicted so far.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// Counts one request from `ip` at `now`. Every client is counted: a
    /// new one on a full table takes an evicted client's slot.
    pub fn check(&mut self, ip: IpAddr, now: Instant) -> Decision {
        let key = crate::addr::client_key(ip);
        let i = match self.index.get(&key) {
            Some(&i) => i,
            None => self.admit(key, now),
        };
        let bucket = &mut self.slots[i].bucket;
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

    /// Gives `key` a fresh bucket, in a new slot or an evicted one's.
    fn admit(&mut self, key: IpAddr, now: Instant) -> usize {
        let bucket = Bucket { tokens: TokenBucket::new_at(self.limit.burst, self.limit.rate, now), last_warned: None };
        let i = if self.slots.len() < self.max_clients {
            self.slots.push(Slot { key, bucket });
            self.slots.len() - 1
        } else {
            let i = self.victim(now);
            self.index.remove(&self.slots[i].key);
            self.slots[i] = Slot { key, bucket };
            self.evicted += 1;
            i
        };
        self.index.insert(key, i);
        i
    }

    /// The slot to evict: the least informative of the next
    /// [`EVICTION_SAMPLE`] under the hand, which then moves past them.
    fn victim(&mut self, now: Instant) -> usize {
        let n = self.slots.len();
        let sample = EVICTION_SAMPLE.min(n);
        let mut best = self.hand % n;
        let mut best_rank = self.slots[best].bucket.eviction_rank(now);
        for k in 1..sample {
            let i = (self.hand + k) % n;
            let rank = self.slots[i].bucket.eviction_rank(now);
            if (rank.0, rank.1).cmp(&(best_rank.0, best_rank.1)).then(rank.2.total_cmp(&best_rank.2)).is_gt() {
                best = i;
                best_rank = rank;
            }
        }
        self.hand = (self.hand + sample) % n;
        best
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
    fn a_full_table_evicts_and_keeps_limiting_new_clients() {
        let t0 = Instant::now();
        let mut l = RateLimiter::new(RateLimit { rate: 0.001, burst: 2 }, 4);
        for i in 0..100u32 {
            assert_eq!(l.check(IpAddr::V4(i.into()), t0), Decision::Allow);
            assert!(l.tracked() <= 4);
        }
        assert_eq!(l.tracked(), 4);
        assert_eq!(l.evicted(), 96);
        // A newcomer to the full table is tracked, so it is limited.
        let new = ip("192.0.2.1");
        assert_eq!(l.check(new, t0), Decision::Allow);
        assert_eq!(l.check(new, t0), Decision::Allow);
        assert_eq!(l.check(new, t0), Decision::SlowDown);
        assert_eq!(l.check(new, t0), Decision::Drop);
    }

    #[test]
    fn idle_clients_go_before_limited_ones() {
        let t0 = Instant::now();
        let mut l = RateLimiter::new(RateLimit { rate: 1.0, burst: 1 }, 3);
        let abuser = ip("10.9.9.9");
        assert_eq!(l.check(abuser, t0), Decision::Allow);
        assert_eq!(l.check(abuser, t0), Decision::SlowDown);
        assert_eq!(l.check(ip("10.0.0.1"), t0), Decision::Allow);
        assert_eq!(l.check(ip("10.0.0.2"), t0), Decision::Allow);
        // Full: 10 newcomers, each evicting someone, never the limited client.
        let t1 = t0 + Duration::from_millis(100);
        for i in 0..10u32 {
            assert_eq!(l.check(IpAddr::V4((0x0a01_0000 + i).into()), t1), Decision::Allow);
        }
        assert_eq!(l.check(abuser, t1), Decision::Drop, "still tracked, still limited");
    }

    proptest::proptest! {
        /// A flood of new addresses through a full table never frees a client
        /// that has been limited: it still gets no more than burst + rate ×
        /// elapsed; a newcomer is limited like anyone; and the table never
        /// grows past its bound.
        #[test]
        fn a_flood_of_new_addresses_does_not_free_a_limited_client(
            flood_per_request in proptest::collection::vec(0u32..100, 1..100),
            gaps_ms in proptest::collection::vec(0u64..100, 100),
            burst in 1u32..8, rate in 0.1f64..10.0, max in 2usize..64,
        ) {
            let t0 = Instant::now();
            let mut l = RateLimiter::new(RateLimit { rate, burst }, max);
            let abuser = ip("198.51.100.7");
            let (mut now, mut allowed, mut next_ip) = (t0, 0u32, 0x0a00_0000u32);
            // Its burst, and one more: it has been told to slow down.
            for _ in 0..=burst {
                allowed += u32::from(l.check(abuser, now) == Decision::Allow);
            }
            for (flood, gap) in flood_per_request.iter().zip(&gaps_ms) {
                for _ in 0..*flood {
                    l.check(IpAddr::V4(next_ip.into()), now);
                    next_ip += 1;
                    proptest::prop_assert!(l.tracked() <= max);
                }
                now += Duration::from_millis(*gap);
                allowed += u32::from(l.check(abuser, now) == Decision::Allow);
            }
            let budget = f64::from(burst) + rate * (now - t0).as_secs_f64();
            proptest::prop_assert!(f64::from(allowed) <= budget + 1e-9, "{allowed} allowed, budget {budget}");
            // A newcomer to the (full) table is limited too, never waved through.
            let newcomer = ip("203.0.113.9");
            let passed = (0..=burst).filter(|_| l.check(newcomer, now) == Decision::Allow).count();
            proptest::prop_assert_eq!(passed, burst as usize);
            proptest::prop_assert!(l.tracked() <= max);
        }
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

//! Flood control: a token bucket per member (burst, then a steady rate).

use std::time::{Duration, Instant};

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
        let burst = f64::from(burst.max(1));
        TokenBucket { burst, rate, tokens: burst, last: Instant::now() }
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn burst_then_rate() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(3, 2.0);
        b.last = t0;
        assert!((0..3).all(|_| b.take_at(t0)));
        assert!(!b.take_at(t0));
        assert!(b.take_at(t0 + Duration::from_millis(500)));
        assert!(!b.take_at(t0 + Duration::from_millis(600)));
        let mut off = TokenBucket::new(1, 0.0);
        assert!((0..1000).all(|_| off.take_at(t0)));
    }

    proptest! {
        /// Over any window, no more than burst + rate × elapsed get through.
        #[test]
        fn never_exceeds_budget(burst in 1u32..50, rate in 0.5f64..100.0, gaps in proptest::collection::vec(0u64..50, 1..300)) {
            let t0 = Instant::now();
            let mut b = TokenBucket::new(burst, rate);
            b.last = t0;
            let mut now = t0;
            let mut passed = 0u32;
            for g in gaps {
                now += Duration::from_millis(g);
                passed += u32::from(b.take_at(now));
            }
            let budget = f64::from(burst) + rate * (now - t0).as_secs_f64();
            prop_assert!(f64::from(passed) <= budget + 1e-6);
        }
    }
}

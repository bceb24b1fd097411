//! Latency percentiles for the load generators (hdrhistogram: constant memory
//! however many samples, and mergeable across tasks).

use std::time::Duration;

use hdrhistogram::Histogram;

/// Round-trip times in microseconds, 1 µs to 60 s at 3 significant digits.
#[derive(Clone)]
pub struct Latency(Histogram<u64>);

impl Default for Latency {
    fn default() -> Self {
        Latency(Histogram::new_with_bounds(1, 60_000_000, 3).expect("constant bounds are valid"))
    }
}

impl Latency {
    /// Records one sample.
    pub fn record(&mut self, d: Duration) {
        let us = (d.as_micros() as u64).clamp(1, 60_000_000);
        let _ = self.0.record(us);
    }

    /// Adds another histogram's samples.
    pub fn merge(&mut self, other: &Latency) {
        let _ = self.0.add(&other.0);
    }

    /// Number of samples.
    pub fn count(&self) -> u64 {
        self.0.len()
    }

    /// The `q` quantile (0.0–1.0) in microseconds.
    pub fn quantile_us(&self, q: f64) -> u64 {
        self.0.value_at_quantile(q)
    }

    /// `p50_us=… p90_us=… p99_us=… p999_us=… max_us=…`.
    pub fn summary(&self) -> String {
        format!(
            "p50_us={} p90_us={} p99_us={} p999_us={} max_us={}",
            self.quantile_us(0.5),
            self.quantile_us(0.9),
            self.quantile_us(0.99),
            self.quantile_us(0.999),
            self.0.max()
        )
    }
}

//! NTP timestamps and the 32-bit seconds count RFC 868 shares with them.
//!
//! Both count seconds since 1900-01-01 00:00 UTC in 32 bits, which wrap on
//! 2036-02-07 06:28:16 UTC ("era 1" starts at 0 again). Encoding simply keeps
//! the low 32 bits, which is what RFC 5905 prescribes and what clients
//! expect. Decoding picks the era that puts the result nearest to a time the
//! reader already trusts roughly (its own clock), so a count read in 2040 is
//! 2040, not 1904; this works while the clocks differ by less than 68 years.

use std::time::{Duration, SystemTime};

/// Seconds from 1900-01-01 (NTP and RFC 868 epoch) to 1970-01-01 (Unix).
pub const UNIX_OFFSET: i64 = 2_208_988_800;
/// Seconds in one 32-bit era (136 years).
const ERA: i64 = 1 << 32;

/// A 64-bit NTP timestamp: seconds since 1900 (mod 2³²) and a binary fraction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct NtpTimestamp {
    /// Seconds since 1900-01-01, modulo 2³².
    pub seconds: u32,
    /// Fraction of a second in units of 2⁻³² s.
    pub fraction: u32,
}

impl NtpTimestamp {
    /// The NTP timestamp of a Unix time given as seconds and nanoseconds.
    pub fn from_unix(seconds: i64, nanos: u32) -> NtpTimestamp {
        // Rounded to nearest, so a time survives the trip to NTP and back.
        let fraction = (((u64::from(nanos.min(999_999_999)) << 32) + 500_000_000) / 1_000_000_000) as u32;
        NtpTimestamp { seconds: (seconds + UNIX_OFFSET).rem_euclid(ERA) as u32, fraction }
    }

    /// The NTP timestamp of a system time.
    pub fn from_system(t: SystemTime) -> NtpTimestamp {
        match t.duration_since(SystemTime::UNIX_EPOCH) {
            Ok(d) => NtpTimestamp::from_unix(d.as_secs() as i64, d.subsec_nanos()),
            Err(e) => {
                // Before 1970: step back whole seconds, then forward the nanos.
                let d = e.duration();
                let (s, n) = (d.as_secs() as i64, d.subsec_nanos());
                if n == 0 {
                    NtpTimestamp::from_unix(-s, 0)
                } else {
                    NtpTimestamp::from_unix(-s - 1, 1_000_000_000 - n)
                }
            }
        }
    }

    /// Reads 8 big-endian bytes.
    pub fn from_bytes(b: [u8; 8]) -> NtpTimestamp {
        NtpTimestamp {
            seconds: u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
            fraction: u32::from_be_bytes([b[4], b[5], b[6], b[7]]),
        }
    }

    /// The 8 big-endian bytes on the wire.
    pub fn to_bytes(self) -> [u8; 8] {
        let mut b = [0u8; 8];
        b[..4].copy_from_slice(&self.seconds.to_be_bytes());
        b[4..].copy_from_slice(&self.fraction.to_be_bytes());
        b
    }

    /// Whether this is the all-zero "unknown" timestamp.
    pub fn is_zero(self) -> bool {
        self.seconds == 0 && self.fraction == 0
    }

    /// Unix time in nanoseconds, in the era nearest to `near` (see the module
    /// docs).
    pub fn to_unix_nanos(self, near: SystemTime) -> i128 {
        let secs = unix_seconds(self.seconds, unix_of(near));
        let nanos = (u64::from(self.fraction) * 1_000_000_000 + (1 << 31)) >> 32;
        i128::from(secs) * 1_000_000_000 + i128::from(nanos)
    }
}

/// Unix seconds of a 32-bit count of seconds since 1900, in the era nearest
/// to `near_unix`.
pub fn unix_seconds(count: u32, near_unix: i64) -> i64 {
    let era0 = i64::from(count) - UNIX_OFFSET;
    let eras = (near_unix - era0 + ERA / 2).div_euclid(ERA);
    era0 + eras * ERA
}

/// Unix seconds of a system time (negative before 1970).
pub fn unix_of(t: SystemTime) -> i64 {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs_f64().ceil() as i64),
    }
}

/// Unix nanoseconds of a system time.
pub fn unix_nanos(t: SystemTime) -> i128 {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => d.as_nanos() as i128,
        Err(e) => -(e.duration().as_nanos() as i128),
    }
}

/// The system time of a Unix time in nanoseconds.
pub fn system_time(unix_nanos: i128) -> SystemTime {
    let magnitude = Duration::from_nanos(unix_nanos.unsigned_abs().min(u128::from(u64::MAX)) as u64);
    if unix_nanos >= 0 {
        SystemTime::UNIX_EPOCH + magnitude
    } else {
        SystemTime::UNIX_EPOCH - magnitude
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_values() {
        assert_eq!(NtpTimestamp::from_unix(0, 0).seconds, 2_208_988_800);
        assert_eq!(NtpTimestamp::from_unix(0, 500_000_000).fraction, 1 << 31);
        // The wrap: 2036-02-07 06:28:16 UTC is era 1, second 0.
        assert_eq!(NtpTimestamp::from_unix(2_085_978_496, 0).seconds, 0);
        assert_eq!(NtpTimestamp::from_unix(2_085_978_495, 0).seconds, u32::MAX);
    }

    #[test]
    fn decoding_picks_the_nearest_era() {
        let in_2040 = 2_208_988_800; // 2040-01-01 Unix seconds
        let count = NtpTimestamp::from_unix(in_2040, 0).seconds;
        assert_eq!(unix_seconds(count, in_2040 + 5), in_2040);
        assert_eq!(unix_seconds(count, 1_763_770_806), in_2040); // read in 2025: still 2040
        assert_eq!(unix_seconds(3_972_759_606, 1_763_770_806), 1_763_770_806);
    }

    proptest! {
        #[test]
        fn round_trips_near_the_reader(unix in -2_000_000_000i64..6_000_000_000, nanos in 0u32..1_000_000_000,
                                       skew in -1_000_000_000i64..1_000_000_000) {
            let ts = NtpTimestamp::from_unix(unix, nanos);
            prop_assert_eq!(NtpTimestamp::from_bytes(ts.to_bytes()), ts);
            prop_assert_eq!(unix_seconds(ts.seconds, unix + skew), unix);
            let back = ts.to_unix_nanos(system_time(i128::from(unix + skew) * 1_000_000_000));
            let want = i128::from(unix) * 1_000_000_000 + i128::from(nanos);
            prop_assert_eq!(back, want);
        }
    }
}

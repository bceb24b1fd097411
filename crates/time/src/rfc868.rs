//! The time protocol (RFC 868): the time as a 32-bit big-endian count of
//! seconds since 1900-01-01 00:00 UTC.
//!
//! TCP: the server sends the 4 bytes on connect and closes. UDP: any
//! datagram (RFC 868 says an empty one) gets a 4-byte datagram back.
//!
//! The count overflows on 2036-02-07 06:28:16 UTC. sockit then sends the low
//! 32 bits (the count restarts at 0), as RFC 5905 does for NTP's era 1; the
//! alternative, stopping at `u32::MAX`, would freeze the clock. A client that
//! reads the count in the era nearest its own clock (as `sockit time query`
//! and [`to_unix`] do) gets the right date on both sides of the wrap.

use std::time::SystemTime;

use crate::timestamp::{self, NtpTimestamp};

/// The 4 bytes that tell the time `now`.
pub fn encode(now: SystemTime) -> [u8; 4] {
    NtpTimestamp::from_system(now).seconds.to_be_bytes()
}

/// Unix seconds from a 4-byte answer, in the era nearest to `near` (the
/// reader's own clock). `None` unless exactly 4 bytes.
pub fn to_unix(answer: &[u8], near: SystemTime) -> Option<i64> {
    let bytes: [u8; 4] = answer.try_into().ok()?;
    Some(timestamp::unix_seconds(u32::from_be_bytes(bytes), timestamp::unix_of(near)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn encodes_seconds_since_1900_and_wraps_in_2036() {
        let at = |s: u64| SystemTime::UNIX_EPOCH + Duration::from_secs(s);
        assert_eq!(encode(at(0)), 2_208_988_800u32.to_be_bytes());
        assert_eq!(encode(at(2_085_978_495)), [0xff; 4]);
        assert_eq!(encode(at(2_085_978_496)), [0; 4]);
        assert_eq!(to_unix(&encode(at(2_085_978_500)), at(2_085_978_400)), Some(2_085_978_500));
        assert_eq!(to_unix(&[0, 0, 0], at(0)), None);
    }
}

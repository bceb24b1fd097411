//! The NTP packet header (RFC 5905 §7.3), as SNTP (RFC 4330) uses it.
//!
//! ```text
//!  0                   1                   2                   3
//!  |LI | VN  |Mode |    Stratum    |     Poll      |   Precision   |
//!  |                          Root Delay                           |
//!  |                       Root Dispersion                         |
//!  |                          Reference ID                         |
//!  |                   Reference Timestamp (64)                    |
//!  |                   Origin Timestamp (64)                       |
//!  |                   Receive Timestamp (64)                      |
//!  |                   Transmit Timestamp (64)                     |
//!  [extension fields, key id, MAC]
//! ```
//!
//! Only the 48-byte header is read; extension fields and a MAC after it are
//! ignored (sockit does not authenticate, and replies without a MAC, which
//! RFC 5905 clients accept from an unauthenticated server).

use crate::timestamp::NtpTimestamp;

/// Bytes in an NTP header (and in every reply sockit sends).
pub const HEADER_LEN: usize = 48;

/// Association modes (RFC 5905 §7.3).
pub mod mode {
    /// Symmetric active.
    pub const SYMMETRIC_ACTIVE: u8 = 1;
    /// A client request.
    pub const CLIENT: u8 = 3;
    /// A server reply.
    pub const SERVER: u8 = 4;
    /// Broadcast.
    pub const BROADCAST: u8 = 5;
}

/// Leap indicator: no warning.
pub const LEAP_NONE: u8 = 0;
/// Leap indicator: clock unsynchronised (alarm).
pub const LEAP_UNSYNCHRONISED: u8 = 3;

/// Why a datagram is not a usable NTP header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PacketError {
    /// Shorter than [`HEADER_LEN`].
    #[error("{0} bytes is shorter than an NTP header ({HEADER_LEN})")]
    Short(usize),
    /// Version 0 or above 4.
    #[error("NTP version {0} is not one sockit speaks (1-4)")]
    Version(u8),
}

/// A decoded NTP header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Packet {
    /// Leap indicator (2 bits).
    pub leap: u8,
    /// Version number (3 bits).
    pub version: u8,
    /// Mode (3 bits).
    pub mode: u8,
    /// Stratum: 0 = unspecified / kiss-o'-death, 1 = primary, 2–15 secondary, 16 unsynchronised.
    pub stratum: u8,
    /// Poll interval, log2 seconds.
    pub poll: i8,
    /// Clock precision, log2 seconds.
    pub precision: i8,
    /// Round-trip delay to the reference clock, NTP short format (16.16 s).
    pub root_delay: u32,
    /// Dispersion to the reference clock, NTP short format (16.16 s).
    pub root_dispersion: u32,
    /// Reference ID: 4 ASCII characters at stratum 0–1 (the kiss code at 0),
    /// an IPv4 address or hash above.
    pub reference_id: [u8; 4],
    /// When the clock was last set or corrected.
    pub reference: NtpTimestamp,
    /// The client's transmit time, echoed back (T1).
    pub origin: NtpTimestamp,
    /// When the request arrived at the server (T2).
    pub receive: NtpTimestamp,
    /// When the reply left the server, or the request left the client (T3).
    pub transmit: NtpTimestamp,
}

impl Packet {
    /// Decodes the 48-byte header at the start of `data`; whatever follows
    /// (extension fields, MAC) is ignored.
    pub fn parse(data: &[u8]) -> Result<Packet, PacketError> {
        let Some(h) = data.first_chunk::<HEADER_LEN>() else {
            return Err(PacketError::Short(data.len()));
        };
        let version = (h[0] >> 3) & 0b111;
        if !(1..=4).contains(&version) {
            return Err(PacketError::Version(version));
        }
        let word = |i: usize| u32::from_be_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
        let stamp = |i: usize| {
            NtpTimestamp::from_bytes([h[i], h[i + 1], h[i + 2], h[i + 3], h[i + 4], h[i + 5], h[i + 6], h[i + 7]])
        };
        Ok(Packet {
            leap: h[0] >> 6,
            version,
            mode: h[0] & 0b111,
            stratum: h[1],
            poll: h[2] as i8,
            precision: h[3] as i8,
            root_delay: word(4),
            root_dispersion: word(8),
            reference_id: [h[12], h[13], h[14], h[15]],
            reference: stamp(16),
            origin: stamp(24),
            receive: stamp(32),
            transmit: stamp(40),
        })
    }

    /// The 48 bytes on the wire.
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        b[0] = (self.leap & 0b11) << 6 | (self.version & 0b111) << 3 | (self.mode & 0b111);
        b[1] = self.stratum;
        b[2] = self.poll as u8;
        b[3] = self.precision as u8;
        b[4..8].copy_from_slice(&self.root_delay.to_be_bytes());
        b[8..12].copy_from_slice(&self.root_dispersion.to_be_bytes());
        b[12..16].copy_from_slice(&self.reference_id);
        b[16..24].copy_from_slice(&self.reference.to_bytes());
        b[24..32].copy_from_slice(&self.origin.to_bytes());
        b[32..40].copy_from_slice(&self.receive.to_bytes());
        b[40..48].copy_from_slice(&self.transmit.to_bytes());
        b
    }

    /// Whether this is a kiss-o'-death packet (stratum 0), and its code.
    pub fn kiss_code(&self) -> Option<[u8; 4]> {
        (self.stratum == 0 && self.mode == mode::SERVER).then_some(self.reference_id)
    }
}

/// Seconds in NTP short format (16.16 fixed point), saturating.
pub fn short_format(seconds: f64) -> u32 {
    (seconds.max(0.0) * 65_536.0).min(f64::from(u32::MAX)) as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_header_and_ignores_extensions() {
        let mut req = [0u8; 68];
        req[0] = 0b00_100_011; // LI 0, VN 4, mode 3
        req[40..48].copy_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]);
        let p = Packet::parse(&req).unwrap();
        assert_eq!((p.version, p.mode), (4, mode::CLIENT));
        assert_eq!(p.transmit, NtpTimestamp { seconds: 0x0102_0304, fraction: 0x0506_0708 });
        assert_eq!(Packet::parse(&req[..47]), Err(PacketError::Short(47)));
        req[0] = 0b00_000_011;
        assert_eq!(Packet::parse(&req), Err(PacketError::Version(0)));
    }

    proptest! {
        #[test]
        fn any_bytes_parse_without_panic_and_reencode(data in proptest::collection::vec(any::<u8>(), 0..120)) {
            if let Ok(p) = Packet::parse(&data) {
                prop_assert_eq!(&p.encode()[..], &data[..HEADER_LEN]);
            }
        }
    }
}

//! The client side: building an SNTP request and judging the reply
//! (RFC 4330 §5), as `sockit time query` and `sockit bench sntp` do.

use std::time::SystemTime;

use crate::sntp::packet::{mode, LEAP_UNSYNCHRONISED};
use crate::sntp::{Packet, PacketError};
use crate::timestamp::{self, NtpTimestamp};

/// A client request (version 4, mode 3) carrying `transmit` as its transmit
/// timestamp; the server echoes it as the reply's origin.
pub fn sntp_request(transmit: NtpTimestamp) -> [u8; 48] {
    Packet { version: 4, mode: mode::CLIENT, transmit, ..Packet::default() }.encode()
}

/// Why a reply is not a usable time sample.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplyError {
    /// Not an NTP header.
    #[error("malformed reply: {0}")]
    Malformed(#[from] PacketError),
    /// Not mode 4.
    #[error("reply is mode {0}, not a server reply (4)")]
    NotServer(u8),
    /// The origin timestamp is not what we sent: stale or forged.
    #[error("reply does not answer our request (origin timestamp mismatch)")]
    Mismatch,
    /// A kiss-o'-death; the code says why (`RATE`: slow down, `DENY`…).
    #[error("server sent kiss-o'-death {}", String::from_utf8_lossy(.0))]
    Kiss([u8; 4]),
    /// Leap indicator 3 or stratum 16: the server's clock is not set.
    #[error("server says its clock is unsynchronised")]
    Unsynchronised,
    /// Receive or transmit timestamp is zero.
    #[error("reply has a zero timestamp")]
    ZeroTimestamp,
}

/// One measurement against a server.
#[derive(Debug, Clone, PartialEq)]
pub struct SntpSample {
    /// The server's clock when it sent the reply (T3).
    pub server_time: SystemTime,
    /// How far the server's clock is ahead of ours, seconds.
    pub offset: f64,
    /// Round-trip network delay, seconds (time in the server excluded).
    pub delay: f64,
    /// The whole reply header.
    pub packet: Packet,
}

/// Judges a reply to a request sent with transmit timestamp `sent` at `t1`
/// and received at `t4` (both on our clock).
pub fn sntp_sample(reply: &[u8], sent: NtpTimestamp, t1: SystemTime, t4: SystemTime) -> Result<SntpSample, ReplyError> {
    let p = Packet::parse(reply)?;
    if p.mode != mode::SERVER {
        return Err(ReplyError::NotServer(p.mode));
    }
    if p.origin != sent {
        return Err(ReplyError::Mismatch);
    }
    if let Some(code) = p.kiss_code() {
        return Err(ReplyError::Kiss(code));
    }
    if p.leap == LEAP_UNSYNCHRONISED || p.stratum >= 16 {
        return Err(ReplyError::Unsynchronised);
    }
    if p.receive.is_zero() || p.transmit.is_zero() {
        return Err(ReplyError::ZeroTimestamp);
    }
    let (n1, n4) = (timestamp::unix_nanos(t1), timestamp::unix_nanos(t4));
    let n2 = p.receive.to_unix_nanos(t1);
    let n3 = p.transmit.to_unix_nanos(t1);
    let offset = ((n2 - n1) + (n3 - n4)) as f64 / 2e9;
    let delay = ((n4 - n1) - (n3 - n2)) as f64 / 1e9;
    Ok(SntpSample { server_time: timestamp::system_time(n3), offset, delay, packet: p })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    use crate::sntp::{Responder, SntpConfig};

    #[test]
    fn offset_and_delay_from_a_skewed_server() {
        let t1 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_763_770_806);
        let sent = NtpTimestamp::from_system(t1);
        // Server 2 s ahead; 10 ms each way; 1 ms inside the server.
        let t2 = t1 + Duration::from_millis(2010);
        let t3 = t2 + Duration::from_millis(1);
        let t4 = t1 + Duration::from_millis(21);
        let r = Responder::new(SntpConfig::default());
        let mut reply = Vec::new();
        r.answer(&sntp_request(sent), "127.0.0.1".parse().unwrap(), t2, Instant::now(), &mut reply, || t3);
        let s = sntp_sample(&reply, sent, t1, t4).unwrap();
        assert!((s.offset - 2.0).abs() < 1e-6, "{}", s.offset);
        assert!((s.delay - 0.020).abs() < 1e-6, "{}", s.delay);
        assert_eq!(s.server_time, t3);
        let other = NtpTimestamp { seconds: 1, fraction: 1 };
        assert_eq!(sntp_sample(&reply, other, t1, t4), Err(ReplyError::Mismatch));
    }
}

//! SNTP server side (RFC 4330, on RFC 5905's packet format).
//!
//! [`Responder::answer`] turns one request datagram into one reply:
//! - requests shorter than 48 bytes, of version 0 or 5–7, or of any mode but
//!   client (3) are dropped without a word (RFC 4330 §8: a server must not
//!   answer what it cannot parse, and answering server-mode packets would
//!   let two servers ping-pong forever);
//! - longer requests are answered from their 48-byte header (extension
//!   fields and MACs are ignored; the reply carries none);
//! - the reply is 48 bytes: the configured leap indicator (0: the host clock
//!   is taken to be synchronised, e.g. by chrony or systemd-timesyncd — the
//!   default — or 3 with `--unsynchronised`), the client's version, mode 4,
//!   the configured stratum (default 2: one step from a real reference, since
//!   the host clock is itself an NTP client), the request's poll, origin =
//!   the request's transmit timestamp, receive = when the datagram was read,
//!   transmit = read from the clock as the very last step before the bytes
//!   go out;
//! - a client over its rate limit gets a kiss-o'-death: LI 3, stratum 0,
//!   reference ID `RATE`, every timestamp equal to its own transmit time (so
//!   it carries no time), at most once a second; beyond that, silence.

pub mod packet;

use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Instant, SystemTime};

pub use packet::{Packet, PacketError, HEADER_LEN};

use crate::timestamp::NtpTimestamp;
use sockit_net::rate::{Decision, RateLimit, RateLimiter};

/// How many clients the rate limiter remembers; a full table evicts (see
/// [`sockit_net::rate`]).
pub const MAX_TRACKED_CLIENTS: usize = sockit_net::rate::DEFAULT_MAX_CLIENTS;

/// What the server says about itself in every reply.
#[derive(Debug, Clone, PartialEq)]
pub struct SntpConfig {
    /// Stratum, 1–15 (default 2).
    pub stratum: u8,
    /// Reference ID: 4 ASCII bytes at stratum 1, an IPv4 address above
    /// (default `LOCL`, "local clock").
    pub reference_id: [u8; 4],
    /// Leap indicator: [`packet::LEAP_NONE`] or [`packet::LEAP_UNSYNCHRONISED`].
    pub leap: u8,
    /// log2 of the clock's precision in seconds (default -20, about 1 µs).
    pub precision: i8,
    /// Root delay in seconds (default 0: the local clock is the reference).
    pub root_delay: f64,
    /// Root dispersion in seconds (default 10 ms: a host clock kept by NTP).
    pub root_dispersion: f64,
    /// Per-client limit; `None` serves everyone as fast as they ask.
    pub rate_limit: Option<RateLimit>,
}

impl Default for SntpConfig {
    fn default() -> Self {
        SntpConfig {
            stratum: 2,
            reference_id: *b"LOCL",
            leap: packet::LEAP_NONE,
            precision: -20,
            root_delay: 0.0,
            root_dispersion: 0.010,
            rate_limit: Some(RateLimit::default()),
        }
    }
}

/// What became of one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A time reply was written.
    Replied,
    /// A kiss-o'-death RATE was written.
    KissOfDeath,
    /// Nothing was written (the reason is for logs).
    Dropped(&'static str),
}

/// Answers SNTP requests; owns the rate limiter's state.
///
/// Shareable between tasks that serve one socket (`&self`); the limiter,
/// the only mutable state, sits behind a mutex held for one table lookup.
#[derive(Debug)]
pub struct Responder {
    config: SntpConfig,
    limiter: Option<Mutex<RateLimiter>>,
}

impl Responder {
    /// A responder with `config`.
    pub fn new(config: SntpConfig) -> Responder {
        let limiter = config.rate_limit.map(|l| Mutex::new(RateLimiter::new(l, MAX_TRACKED_CLIENTS)));
        Responder { config, limiter }
    }

    /// Answers `request` from `from`, which arrived at `received` (`now` on
    /// the monotonic clock, for the limiter). The reply goes into `reply`;
    /// `clock` is read last, for the transmit timestamp.
    pub fn answer(
        &self,
        request: &[u8],
        from: IpAddr,
        received: SystemTime,
        now: Instant,
        reply: &mut Vec<u8>,
        clock: impl FnOnce() -> SystemTime,
    ) -> Outcome {
        let req = match Packet::parse(request) {
            Ok(p) => p,
            Err(PacketError::Short(_)) => return Outcome::Dropped("shorter than an NTP header"),
            Err(PacketError::Version(_)) => return Outcome::Dropped("unknown NTP version"),
        };
        if req.mode != packet::mode::CLIENT {
            return Outcome::Dropped("not a client request");
        }
        let decision = match &self.limiter {
            // A poisoned lock only means another task panicked mid-update;
            // the buckets are still usable numbers.
            Some(l) => l.lock().unwrap_or_else(PoisonError::into_inner).check(from, now),
            None => Decision::Allow,
        };
        match decision {
            Decision::Allow => {}
            Decision::Drop => return Outcome::Dropped("rate limited"),
            Decision::SlowDown => {
                let kod = Packet {
                    leap: packet::LEAP_UNSYNCHRONISED,
                    version: req.version,
                    mode: packet::mode::SERVER,
                    stratum: 0,
                    poll: req.poll,
                    precision: self.config.precision,
                    reference_id: *b"RATE",
                    reference: req.transmit,
                    origin: req.transmit,
                    receive: req.transmit,
                    transmit: req.transmit,
                    ..Packet::default()
                };
                reply.extend_from_slice(&kod.encode());
                return Outcome::KissOfDeath;
            }
        }
        let receive = NtpTimestamp::from_system(received);
        let mut out = Packet {
            leap: self.config.leap,
            version: req.version,
            mode: packet::mode::SERVER,
            stratum: self.config.stratum,
            poll: req.poll,
            precision: self.config.precision,
            root_delay: packet::short_format(self.config.root_delay),
            root_dispersion: packet::short_format(self.config.root_dispersion),
            reference_id: self.config.reference_id,
            // The host clock is disciplined continuously; say it was last
            // checked at the start of this second (never after `receive`).
            reference: NtpTimestamp { fraction: 0, ..receive },
            origin: req.transmit,
            receive,
            transmit: NtpTimestamp::default(),
        }
        .encode();
        out[40..48].copy_from_slice(&NtpTimestamp::from_system(clock()).to_bytes());
        reply.extend_from_slice(&out);
        Outcome::Replied
    }
}

#[cfg(test)]
mod tests;

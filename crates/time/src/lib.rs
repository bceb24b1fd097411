//! sockit-time: the time services — strftime over UDP, daytime (RFC 867),
//! time (RFC 868) and an SNTP server (RFC 4330) — as pure functions of a
//! request and the clock, so the CLI only wires sockets to them.
//!
//! Modules, one idea each:
//! - [`moment`]: local civil time at an instant (time zone from `TZ` or
//!   `/etc/localtime`, via jiff).
//! - [`strftime`]: validating and rendering Python/glibc strftime formats,
//!   and the strftime datagram service.
//! - [`daytime`]: RFC 867's one line.
//! - [`rfc868`]: RFC 868's 32-bit seconds since 1900, across the 2036 wrap.
//! - [`timestamp`]: NTP timestamps and era arithmetic.
//! - [`sntp`]: the NTP header, the SNTP responder.
//! - [`client`]: the client side of each protocol (what `sockit time query`
//!   and the load generator send and how they read the answer).

pub mod client;
pub mod daytime;
pub mod moment;
pub mod rfc868;
pub mod sntp;
pub mod strftime;
pub mod timestamp;

pub use moment::Moment;
pub use strftime::{Format, FormatError};

//! Any bytes as a strftime format: validation never panics, a valid format
//! renders without panicking at any instant in any of a few zones, the
//! output stays within its bound, and the datagram service always answers,
//! within the unverified-peer reply cap.
#![no_main]

use std::time::{Duration, SystemTime};

use libfuzzer_sys::fuzz_target;
use sockit_time::strftime::{answer, Format, MAX_FORMAT, MAX_WIDTH};
use sockit_time::Moment;

fuzz_target!(|data: &[u8]| {
    let (when, format) = match data.split_first_chunk::<8>() {
        Some((w, rest)) => (u64::from_le_bytes(*w) % 10_000_000_000, rest),
        None => (0, data),
    };
    let instant = SystemTime::UNIX_EPOCH + Duration::from_secs(when);
    let zone = match when % 3 {
        0 => jiff::tz::TimeZone::UTC,
        1 => jiff::tz::TimeZone::posix("EST5EDT,M3.2.0,M11.1.0").expect("valid rule"),
        _ => jiff::tz::TimeZone::fixed(jiff::tz::offset(-9)),
    };
    let moment = Moment::at(instant, &zone);
    if let Ok(f) = Format::parse_bytes(format) {
        let out = f.format(&moment);
        assert!(out.len() <= MAX_FORMAT * MAX_WIDTH);
    }
    let mut reply = Vec::new();
    answer(format, &moment, &mut reply);
    assert!(!reply.is_empty());
    assert!(reply.len() <= sockit_net::reflect::reply_cap(format.len()), "answer over the cap");
});

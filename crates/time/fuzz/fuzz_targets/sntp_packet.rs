//! Any datagram through the SNTP parser and responder: no panic; a reply is
//! exactly 48 bytes and only ever answers a client-mode request; whatever
//! parses re-encodes to the same header.
#![no_main]

use std::time::{Instant, SystemTime};

use libfuzzer_sys::fuzz_target;
use sockit_time::client::sntp_sample;
use sockit_time::sntp::{Outcome, Packet, Responder, SntpConfig, HEADER_LEN};
use sockit_time::timestamp::NtpTimestamp;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = Packet::parse(data) {
        assert_eq!(&p.encode()[..], &data[..HEADER_LEN]);
    }
    let responder = Responder::new(SntpConfig::default());
    let mut reply = Vec::new();
    let from = "192.0.2.1".parse().expect("literal address");
    match responder.answer(data, from, SystemTime::now(), Instant::now(), &mut reply, SystemTime::now) {
        Outcome::Dropped(_) => assert!(reply.is_empty()),
        Outcome::Replied | Outcome::KissOfDeath => {
            assert_eq!(reply.len(), HEADER_LEN);
            assert_eq!(data[0] & 7, 3);
        }
    }
    // The client side judges arbitrary replies without panicking too.
    let now = SystemTime::now();
    let _ = sntp_sample(data, NtpTimestamp::default(), now, now);
});

use std::net::IpAddr;
use std::time::{Duration, Instant, SystemTime};

use proptest::prelude::*;

use super::packet::{mode, LEAP_NONE, LEAP_UNSYNCHRONISED};
use super::*;

fn request(version: u8, mode: u8, transmit: NtpTimestamp) -> Vec<u8> {
    Packet { version, mode, poll: 6, transmit, ..Packet::default() }.encode().to_vec()
}

fn client() -> IpAddr {
    "192.0.2.7".parse().unwrap()
}

#[test]
fn reply_follows_rfc_4330() {
    let r = Responder::new(SntpConfig::default());
    let t1 = NtpTimestamp { seconds: 0xdead_beef, fraction: 0x1234_5678 };
    let received = SystemTime::UNIX_EPOCH + Duration::new(1_763_770_806, 250_000_000);
    let sent = received + Duration::from_micros(30);
    let mut reply = Vec::new();
    let outcome = r.answer(&request(3, mode::CLIENT, t1), client(), received, Instant::now(), &mut reply, || sent);
    assert_eq!(outcome, Outcome::Replied);
    assert_eq!(reply.len(), HEADER_LEN);
    let p = Packet::parse(&reply).unwrap();
    assert_eq!((p.leap, p.version, p.mode, p.stratum, p.poll), (LEAP_NONE, 3, mode::SERVER, 2, 6));
    assert_eq!(&p.reference_id, b"LOCL");
    assert_eq!(p.origin, t1);
    assert_eq!(p.receive, NtpTimestamp::from_system(received));
    assert_eq!(p.transmit, NtpTimestamp::from_system(sent));
    assert!(p.reference.seconds <= p.receive.seconds && !p.reference.is_zero());
    assert_eq!(p.root_dispersion, 655); // 10 ms in 16.16
}

#[test]
fn drops_malformed_and_non_client_packets() {
    let r = Responder::new(SntpConfig::default());
    let t = NtpTimestamp { seconds: 1, fraction: 2 };
    let now = SystemTime::now();
    for (req, why) in [
        (vec![0x23], "shorter"),
        (vec![0u8; 47], "shorter"),
        (request(0, mode::CLIENT, t), "version"),
        (request(5, mode::CLIENT, t), "version"),
        (request(4, mode::SERVER, t), "client"),
        (request(4, mode::SYMMETRIC_ACTIVE, t), "client"),
        (request(4, mode::BROADCAST, t), "client"),
    ] {
        let mut reply = Vec::new();
        match r.answer(&req, client(), now, Instant::now(), &mut reply, SystemTime::now) {
            Outcome::Dropped(reason) => assert!(reason.contains(why), "{reason} vs {why}"),
            other => panic!("{req:?} got {other:?}"),
        }
        assert!(reply.is_empty());
    }
    // 2000 bytes: a header followed by extension fields is still answered.
    let mut long = request(4, mode::CLIENT, t);
    long.resize(2000, 0xab);
    let mut reply = Vec::new();
    assert_eq!(r.answer(&long, client(), now, Instant::now(), &mut reply, SystemTime::now), Outcome::Replied);
    assert_eq!(reply.len(), HEADER_LEN);
}

#[test]
fn rate_limited_client_gets_kiss_of_death_rate() {
    let config = SntpConfig { rate_limit: Some(RateLimit { rate: 0.5, burst: 2 }), ..SntpConfig::default() };
    let r = Responder::new(config);
    let now = Instant::now();
    let t = NtpTimestamp { seconds: 77, fraction: 88 };
    let ask = |from: IpAddr| {
        let mut reply = Vec::new();
        let o = r.answer(&request(4, mode::CLIENT, t), from, SystemTime::now(), now, &mut reply, SystemTime::now);
        (o, reply)
    };
    assert_eq!(ask(client()).0, Outcome::Replied);
    assert_eq!(ask(client()).0, Outcome::Replied);
    let (o, reply) = ask(client());
    assert_eq!(o, Outcome::KissOfDeath);
    let kod = Packet::parse(&reply).unwrap();
    assert_eq!(kod.kiss_code(), Some(*b"RATE"));
    assert_eq!((kod.leap, kod.stratum, kod.origin, kod.transmit), (LEAP_UNSYNCHRONISED, 0, t, t));
    assert_eq!(ask(client()), (Outcome::Dropped("rate limited"), Vec::new()));
    assert_eq!(ask("192.0.2.8".parse().unwrap()).0, Outcome::Replied);
}

#[test]
fn unlimited_when_configured() {
    let r = Responder::new(SntpConfig { rate_limit: None, ..SntpConfig::default() });
    let req = request(4, mode::CLIENT, NtpTimestamp::default());
    for _ in 0..1000 {
        let mut reply = Vec::new();
        let o = r.answer(&req, client(), SystemTime::now(), Instant::now(), &mut reply, SystemTime::now);
        assert_eq!(o, Outcome::Replied);
    }
}

proptest! {
    #[test]
    fn any_datagram_is_answered_with_48_bytes_or_nothing(data in proptest::collection::vec(any::<u8>(), 0..200)) {
        let r = Responder::new(SntpConfig::default());
        let mut reply = Vec::new();
        let o = r.answer(&data, client(), SystemTime::now(), Instant::now(), &mut reply, SystemTime::now);
        match o {
            Outcome::Dropped(_) => prop_assert!(reply.is_empty()),
            _ => {
                prop_assert_eq!(reply.len(), HEADER_LEN);
                prop_assert_eq!(data[0] & 7, mode::CLIENT);
            }
        }
    }
}

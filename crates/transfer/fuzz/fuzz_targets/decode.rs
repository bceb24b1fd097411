//! Arbitrary bytes through every decoder of the transfer protocol: frames,
//! the hello, the manifest (with its safety checks), the resume offer and
//! the resume claims and the fixed-layout frames. Never a panic; every
//! accepted manifest path is relative, free of `..` and of characters that
//! disguise a name; an accepted claims payload has one claim per file.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sockit_transfer::frame::{self, Kind};
use sockit_transfer::handshake::Hello;
use sockit_transfer::manifest::{Caps, Manifest, ResumeOffer};

fuzz_target!(|data: &[u8]| {
    let caps = Caps { max_size: u64::MAX, max_files: 10_000 };
    let _ = Hello::decode(data);
    if let Ok((m, _)) = Manifest::decode(data, caps) {
        for e in &m.entries {
            assert!(!e.path.starts_with('/'));
            assert!(e.path.split('/').all(|c| c != ".." && c != "." && !c.is_empty()));
            assert!(!e.path.chars().any(sockit_net::text::is_unsafe));
        }
        let _ = ResumeOffer::decode(data, &m);
        if let Ok(claims) = sockit_transfer::claim::decode(data, &m) {
            assert_eq!(claims.iter().flatten().count(), m.file_count());
        }
    }
    let mut r = data;
    while let Ok((kind, payload)) = frame::read_frame(&mut r, "fuzzing") {
        assert!(payload.len() <= kind.max_len() as usize);
        match kind {
            Kind::FileStart => drop(frame::decode_start(&payload)),
            Kind::FileEnd => drop(frame::decode_digest(&payload)),
            Kind::Skip => drop(frame::decode_skip(&payload)),
            Kind::Manifest => drop(Manifest::decode(&payload, caps)),
            _ => {}
        }
    }
});

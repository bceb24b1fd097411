//! Arbitrary bytes as a cluster envelope from Redis (a room channel
//! message): parsing never panics, and any envelope that parses writes a
//! line that parses back to the same event.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sockit_chat::cluster::envelope::Envelope;

fuzz_target!(|data: &[u8]| {
    if let Ok(env) = Envelope::parse(data) {
        let line = env.line();
        let back = Envelope::parse(line.as_bytes()).expect("our own envelope parses");
        assert_eq!(back.offset, env.offset);
        assert_eq!(back.epoch, env.epoch);
        assert_eq!(back.node, env.node);
        assert_eq!(back.member, env.member);
        assert_eq!(back.event.text, env.event.text);
        let _ = back.event.to_text_line();
    }
});

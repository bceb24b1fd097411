//! Arbitrary bytes as what other nodes put in Redis for this one: a node
//! channel payload (a private message [`Letter`], or anything else, which
//! is ignored) and a member-set entry ([`Entry`]). Decoding never panics;
//! what decodes encodes back to itself, and an entry's rooms split into
//! flags and names without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sockit_chat::cluster::direct::Letter;
use sockit_chat::cluster::presence::Entry;

fuzz_target!(|data: &[u8]| {
    if let Some(letter) = Letter::decode(data) {
        let again = serde_json::to_vec(&letter).unwrap_or_default();
        assert_eq!(Letter::decode(&again), Some(letter));
    }
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Some(entry) = Entry::decode(text) {
        for seat in entry.seats() {
            assert!(!(seat.op && seat.voice));
        }
        assert_eq!(Entry::decode(&entry.encode()), Some(entry));
    }
});

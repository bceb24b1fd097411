//! Arbitrary header values through the Range, Accept-Encoding, conditional
//! (If-None-Match, If-Match, If-(Un)Modified-Since)
//! and template parsers: never a panic, ranges always inside the file.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sockit_http::negotiate::{accepted, none_match, not_modified_since, strong_match, unmodified_since};
use sockit_http::range::{parse, RangeAsk};
use sockit_http::template::{render, Vars};

fuzz_target!(|data: &[u8]| {
    let Some((&len_byte, rest)) = data.split_first() else { return };
    let len = u64::from(len_byte) * 37;
    let vars = Vars { client_ip: "1.2.3.4", client_port: "5", path: "/<p>", date: "d", server: "s" };
    let _ = render(rest, &vars);
    let Ok(text) = std::str::from_utf8(rest) else { return };
    if let RangeAsk::Part { start, end } = parse(text, len) {
        assert!(start < end && end <= len, "{text:?} → {start}..{end} of {len}");
    }
    let _ = accepted(text);
    let _ = none_match(text, "\"abc\"");
    let _ = not_modified_since(text, std::time::SystemTime::UNIX_EPOCH);
    let _ = unmodified_since(text, std::time::SystemTime::UNIX_EPOCH);
    // A strong match never holds for a weak tag.
    assert!(!strong_match(text, "W/\"abc\"") || text.split(',').any(|t| t.trim() == "*"));
    let _ = strong_match(text, "\"abc\"");
});

//! Arbitrary bytes as a `/mode` request and as ban masks: parsing mode
//! changes, writing them back, completing and matching masks must never
//! panic; what parses writes back to something that parses to the same
//! changes (keys aside, which are not shown); a completed mask has the
//! `nick!user@host` shape and matches what it was completed from.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sockit_chat::hub::{mask_matches, normalize_mask, parse_modes, render_changes, Mode};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut words = text.split_whitespace();
    let flags = words.next().unwrap_or("");
    let args: Vec<&str> = words.collect();
    if let Ok(changes) = parse_modes(flags, &args) {
        let shown = render_changes(&changes);
        let mut parts = shown.split(' ');
        let letters = parts.next().unwrap_or("");
        let rest: Vec<&str> = parts.collect();
        let keyed = changes.iter().any(|c| c.mode == Mode::Key && c.arg.is_some());
        if !keyed && !letters.is_empty() {
            assert_eq!(parse_modes(letters, &rest).ok(), Some(changes));
        }
    }
    if let Some(mask) = normalize_mask(text) {
        assert!(mask.contains('!') && mask.contains('@'), "{mask}");
        if !text.contains(['*', '?', '!', '@']) {
            assert!(mask_matches(&mask, &format!("{text}!u@h")), "{mask}");
        }
    }
    let mid = (0..=text.len() / 2).rev().find(|&i| text.is_char_boundary(i)).unwrap_or(0);
    let (p, t) = text.split_at(mid);
    let _ = mask_matches(p, t);
});

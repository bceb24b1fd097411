//! Arbitrary bytes as a member's input stream: line framing, UTF-8 check,
//! command parsing, name validation and control-character escaping must
//! never panic, and nothing they let through carries a control character.
//! Names: an accepted nick or room has no unsafe character, is one script
//! and has no right-to-left letter; room normalisation is idempotent; the
//! look-alike skeleton is total. UDP: a datagram's lines and its
//! `#join#COOKIE#` token parse without panicking, and a challenge's token
//! parses back to its cookie.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use sockit_chat::command::{parse, Command, Input};
use sockit_chat::text::{normalize_room, skeleton, validate_nick};
use sockit_chat::transport::udp::{challenge_text, join_cookie, lines as datagram_lines};
use sockit_net::codec::{Line, LineCodec};
use sockit_net::text::{escape_untrusted, is_unsafe};
use tokio_util::codec::Decoder;

fn no_controls(s: &str) -> bool {
    !s.chars().any(is_unsafe)
}

fn check_name(n: &str) {
    if let Ok(n) = validate_nick(n) {
        assert!(no_controls(n) && !n.contains(' ') && !n.contains(':'));
        assert!(n.chars().all(|c| !matches!(
            unicode_bidi::bidi_class(c),
            unicode_bidi::BidiClass::R | unicode_bidi::BidiClass::AL
        )));
        assert!(!skeleton(n).is_empty());
    }
    if let Ok(room) = normalize_room(n) {
        assert!(no_controls(&room) && !room.is_empty() && !room.contains('/'));
        assert_eq!(normalize_room(&room).as_deref(), Ok(room.as_str()), "not idempotent");
    }
    let _ = skeleton(n);
}

fuzz_target!(|data: &[u8]| {
    // The same bytes as a UDP datagram: its lines and a join token.
    for line in datagram_lines(data) {
        if let Some(cookie) = join_cookie(line) {
            let challenge = challenge_text(cookie);
            let token = &challenge[challenge.find("#join#").unwrap_or(0)..];
            let token = token.split(' ').next().unwrap_or("");
            if !cookie.contains([' ', '#']) && cookie.trim() == cookie {
                assert_eq!(join_cookie(token.as_bytes()), Some(cookie));
            }
        }
    }
    let mut codec = LineCodec::new(512);
    let mut buf = BytesMut::from(data);
    let mut lines = Vec::new();
    while let Ok(Some(l)) = codec.decode(&mut buf) {
        lines.push(l);
    }
    if let Some(l) = codec.take_partial(&mut buf) {
        lines.push(l);
    }
    for line in lines {
        let Line::Text(bytes) = line else { continue };
        let Ok(text) = std::str::from_utf8(&bytes) else { continue };
        check_name(text);
        match parse(text) {
            Ok(Input::Say(t)) => assert!(no_controls(&escape_untrusted(t))),
            Ok(Input::Command(Command::Nick(n))) => check_name(n),
            Ok(Input::Command(Command::Join { room, key })) => {
                check_name(room);
                assert!(key.is_none_or(|k| !k.is_empty() && !k.contains(char::is_whitespace)));
            }
            Ok(_) => {}
            Err(e) => assert!(no_controls(&e.to_string())),
        }
    }
});

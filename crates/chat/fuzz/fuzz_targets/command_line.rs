//! Arbitrary bytes as a member's input stream: line framing, UTF-8 check,
//! command parsing, name validation and control-character escaping must
//! never panic, and nothing they let through carries a control character.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use sockit_chat::command::{parse, Command, Input};
use sockit_chat::text::{normalize_room, validate_nick};
use sockit_net::codec::{Line, LineCodec};
use sockit_net::text::{escape_untrusted, is_unsafe};
use tokio_util::codec::Decoder;

fn no_controls(s: &str) -> bool {
    !s.chars().any(is_unsafe)
}

fuzz_target!(|data: &[u8]| {
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
        match parse(text) {
            Ok(Input::Say(t)) => assert!(no_controls(&escape_untrusted(t))),
            Ok(Input::Command(Command::Nick(n))) => {
                if validate_nick(n).is_ok() {
                    assert!(no_controls(n) && !n.contains(' ') && !n.contains(':'));
                }
            }
            Ok(Input::Command(Command::Join(r))) => {
                if let Ok(room) = normalize_room(r) {
                    assert!(no_controls(&room) && !room.is_empty() && !room.contains('/'));
                }
            }
            Ok(_) => {}
            Err(e) => assert!(no_controls(&e.to_string())),
        }
    }
});

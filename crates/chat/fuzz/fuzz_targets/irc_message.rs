//! Arbitrary bytes as an IRC client's line: parsing must never panic, and
//! whatever parses writes back to a line that parses to the same message
//! (or is refused as too long / unwritable, never panics). The same bytes
//! as a nick: the IRC-safe form is IRC-safe and maps back; as CAP
//! parameters: the negotiation never panics and never offers a name it
//! does not know.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sockit_chat::transport::irc::caps::{Cap, CapState};
use sockit_chat::transport::irc::message::{parse, Origin, WriteError};
use sockit_chat::transport::irc::nick::{from_irc, is_irc_safe, to_irc};

fuzz_target!(|data: &[u8]| {
    for origin in [Origin::Client, Origin::Server] {
        if let Ok(m) = parse(data, origin) {
            match m.to_line() {
                Ok(line) => {
                    let back = parse(&line, Origin::Server).expect("a written line parses");
                    assert_eq!(back, m);
                }
                // A parsed 15th parameter may hold spaces and so gain a `:`;
                // middle parameters cannot be unwritable once parsed.
                Err(WriteError::TooLong) => {}
                Err(e) => panic!("parsed but not writable: {e}"),
            }
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let irc = to_irc(text);
        assert!(is_irc_safe(&irc));
        assert_eq!(from_irc(&irc), text);
        let params: Vec<&str> = text.splitn(3, ' ').collect();
        let mut caps = CapState::new();
        for r in caps.handle(&params, "*", false) {
            if r.command == "CAP" && matches!(r.params.get(1).map(String::as_str), Some("LS" | "LIST")) {
                let list = r.params.last().map_or("", String::as_str);
                assert!(list.split(' ').filter(|s| !s.is_empty()).all(|n| Cap::from_name(n).is_some()));
            }
        }
    }
});

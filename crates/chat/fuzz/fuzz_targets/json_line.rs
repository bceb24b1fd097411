//! Arbitrary bytes as a JSON-mode line and as a server event: decoding never
//! panics, and any event that decodes renders to one line in both formats.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sockit_chat::{ClientLine, Event};

fuzz_target!(|data: &[u8]| {
    if let Ok(l) = serde_json::from_slice::<ClientLine>(data) {
        let _ = sockit_chat::command::parse(&l.text);
    }
    if let Ok(ev) = serde_json::from_slice::<Event>(data) {
        let json = ev.to_json_line();
        assert_eq!(json.iter().filter(|&&b| b == b'\n').count(), 1);
        let back: Event = serde_json::from_slice(&json).expect("our own JSON parses");
        assert_eq!(back.text, ev.text);
        let _ = ev.to_text_line();
    }
});

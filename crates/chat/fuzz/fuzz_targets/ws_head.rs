//! Arbitrary bytes as the web listener's request head: never a panic; a
//! complete head always maps to one route and never claims more bytes than
//! it was given.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sockit_chat::transport::ws::http::{parse, Route};

fuzz_target!(|data: &[u8]| {
    if let Ok(Some((route, len))) = parse(data) {
        assert!(len <= data.len());
        if let Route::Upgrade { key } = route {
            assert!(!key.is_empty());
        }
    }
});
